// The operators' dashboard: one page, hash routes (#/, #/map, #/findings, #/meter/ID), data from
// /api/v1 with the bearer token kept in this tab's sessionStorage.
"use strict";

const state = { lang: localStorage.getItem("intake.lang") || "zh", me: null };
const view = document.getElementById("view");
const loginForm = document.getElementById("login");

function t(key, vars) {
  let text = (LABELS[state.lang] && LABELS[state.lang][key]) || LABELS.zh[key] || key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
}

function applyLabels(root) {
  for (const node of (root || document).querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.getElementById("lang").textContent = state.lang === "zh" ? "English" : "中文";
}

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options) {
  const token = sessionStorage.getItem("intake.token");
  const response = await fetch(path, { ...options, headers: { ...(options && options.headers), Authorization: `Bearer ${token}` } });
  if (response.status === 401) { logout(); throw new ApiError(401, t("bad_token")); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, (body && body.detail) || response.statusText);
  return body;
}

function logout() {
  sessionStorage.removeItem("intake.token");
  state.me = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  view.replaceChildren(loginForm);
}

async function login(token) {
  sessionStorage.setItem("intake.token", token);
  try {
    state.me = await api("/api/v1/me");
  } catch (error) {
    sessionStorage.removeItem("intake.token");
    throw error;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  const division = state.me.division_name || t("all_divisions");
  document.getElementById("who").textContent = `${state.me.name} · ${state.me.role} · ${division}`;
  route();
}

const canAct = () => state.me && (state.me.role === "operator" || state.me.role === "admin");
const pill = (code, label) => h("span", { class: `pill ${code}` }, label || t(code));

function card(id, title, wide) {
  return h("section", { class: `card${wide ? " wide" : ""}`, id }, h("h2", {}, title), h("p", { class: "muted" }, t("loading")));
}

function fill(section, ...content) {
  section.replaceChildren(section.firstChild, ...content.filter((c) => c !== null && c !== undefined));
  for (const tbl of section.querySelectorAll("table")) tbl.before(csvButton(tbl, section.id));
}

// Every table exports what it shows as CSV. Text a spreadsheet would run as a formula is guarded
// with an apostrophe, as the service's own exports do (infra/cells.py).
function csvCell(text) {
  const runs = /^[=+@\t\r]/.test(text) || (text.startsWith("-") && Number.isNaN(Number(text)));
  const value = runs ? `'${text}` : text;
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function tableCsv(tbl) {
  const lines = [...tbl.querySelectorAll("tr")].map((tr) =>
    [...tr.querySelectorAll("th, td")].map((cell) => csvCell(cell.textContent.trim())).join(","));
  return "\ufeff" + lines.join("\r\n") + "\r\n";  // a BOM: Excel in China then reads it as UTF-8
}

function csvButton(tbl, name) {
  return h("button", { type: "button", class: "csv-export", onclick: () => {
    const link = h("a", { href: URL.createObjectURL(new Blob([tableCsv(tbl)], { type: "text/csv" })),
      download: `${name || "table"}-${new Date().toISOString().slice(0, 10)}.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  } }, t("export_csv"));
}

function table(headers, rows, numeric) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x, i) => h("th", { class: numeric && numeric.includes(i) ? "num" : null }, x)))),
    h("tbody", {}, rows));
}

// ---- overview -------------------------------------------------------------------------------

async function fleetCard(section) {
  const counties = await api("/api/v1/fleet/summary");
  const totals = { online: 0, offline: 0, never_reported: 0, total: 0 };
  const rows = counties.map((c) => {
    for (const k of Object.keys(totals)) totals[k] += c[k];
    return h("tr", { "data-county": c.county }, h("td", {}, c.county),
      ...["online", "offline", "never_reported", "total"].map((k) => h("td", { class: "num", "data-status": k }, c[k])));
  });
  const foot = h("tfoot", {}, h("tr", { id: "fleet-totals" }, h("td", {}, t("total")),
    ...Object.entries(totals).map(([k, v]) => h("td", { class: "num", "data-total": k }, v))));
  const tbl = table([t("county"), t("online"), t("offline"), t("never_reported"), t("total")], rows, [1, 2, 3, 4]);
  tbl.append(foot);
  fill(section, tbl);
}

async function offlineCard(section) {
  const page = await api("/api/v1/meters/status?status=offline&limit=50");
  if (!page.items.length) return fill(section, h("p", { class: "muted" }, t("none")));
  const rows = page.items.map((m) => h("tr", {},
    h("td", {}, h("a", { href: `#/meter/${encodeURIComponent(m.meter_id)}`, class: "meter-link" }, m.meter_id)),
    h("td", {}, m.intake_name), h("td", {}, m.county),
    h("td", { class: "since" }, when(m.status_since)), h("td", {}, when(m.last_reading_ts))));
  fill(section, h("div", { class: "scroll" }, table([t("meter"), t("intake"), t("county"), t("offline_since"), t("last_reading")], rows)),
    page.total > page.items.length ? h("p", { class: "muted" }, t("more", { n: page.total - page.items.length })) : null);
}

async function calibrationsCard(section) {
  const page = await api("/api/v1/calibrations/due?limit=100");
  if (!page.items.length) return fill(section, h("p", { class: "muted" }, t("none")));
  const rows = page.items.map((c) => h("tr", {},
    h("td", {}, h("a", { href: `#/meter/${encodeURIComponent(c.meter_id)}` }, c.meter_id)), h("td", {}, c.county),
    h("td", {}, c.last_calibrated || "—"), h("td", {}, c.due),
    h("td", {}, c.overdue ? pill("overdue") : pill("due", t("due_soon")))));
  fill(section, h("div", { class: "scroll" }, table([t("meter"), t("county"), t("last_calibrated"), t("due"), t("status")], rows)));
}

async function permitsCard(section) {
  const page = await api("/api/v1/compliance?limit=1000");
  const flagged = page.items.filter((p) => ["over_permit", "projected_over", "warning"].includes(p.status));
  if (!flagged.length) return fill(section, h("p", { class: "muted" }, t("none")));
  const rank = { over_permit: 0, projected_over: 1, warning: 2 };
  flagged.sort((a, b) => rank[a.status] - rank[b.status]);
  const rows = flagged.map((p) => h("tr", {}, h("td", {}, p.permit_no), h("td", {}, p.intakes.join("、")),
    h("td", { class: "num" }, p.used), h("td", { class: "num" }, p.projected_share), h("td", {}, pill(p.status))));
  fill(section, h("div", { class: "scroll" }, table([t("permit"), t("intake"), t("used"), t("projected"), t("status")], rows, [2, 3])));
}

function findingRow(f, reload) {
  const actions = [];
  if (canAct() && f.state === "open") actions.push(h("button", { class: "act rectify", type: "button", onclick: () => rectify(f, reload) }, t("rectify")));
  if (canAct() && f.state === "rectifying") actions.push(h("button", { class: "act close", type: "button", onclick: () => closeFinding(f, reload) }, t("close")));
  return h("tr", { "data-finding": f.id, "data-state": f.state },
    h("td", {}, f.id), h("td", {}, f.intake_name), h("td", {}, t(`problem_${f.problem}`)),
    h("td", {}, f.description), h("td", { class: "nowrap" }, f.first_detected), h("td", { class: "state" }, pill(f.state)), h("td", {}, actions));
}

async function findingsCard(section, limit, scroll = true, filter = "open=true") {
  const reload = () => findingsCard(section, limit, scroll, filter);
  const page = await api(`/api/v1/findings?${filter}&limit=${limit}`);
  if (!page.items.length) return fill(section, h("p", { class: "muted" }, t("none")));
  const headers = ["#", t("intake"), t("problem"), t("description"), t("detected"), t("state"), canAct() ? t("actions") : t("read_only")];
  fill(section, h("div", { class: scroll ? "scroll" : null }, table(headers, page.items.map((f) => findingRow(f, reload)))),
    page.total > page.items.length ? h("p", { class: "muted" }, t("more", { n: page.total - page.items.length })) : null);
}

function rectify(finding, done) {
  const dialog = document.getElementById("rectify-dialog");
  const error = document.getElementById("rectify-error");
  error.textContent = "";
  document.getElementById("rectify-ok").onclick = async (event) => {
    event.preventDefault();
    const body = { measure: document.getElementById("measure").value, responsible: document.getElementById("responsible").value,
      deadline: document.getElementById("deadline").value };
    try {
      await api(`/api/v1/findings/${finding.id}/rectify`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      dialog.close();
      done();
    } catch (e) { error.textContent = e.message; }
  };
  dialog.showModal();
}

function closeFinding(finding, done) {
  const dialog = document.getElementById("close-dialog");
  const error = document.getElementById("close-error");
  error.textContent = "";
  document.getElementById("close-ok").onclick = async (event) => {
    event.preventDefault();
    try {
      await api(`/api/v1/findings/${finding.id}/close`, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ note: document.getElementById("note").value }) });
      dialog.close();
      done();
    } catch (e) { error.textContent = e.message; }
  };
  dialog.showModal();
}

async function mapCard(section) {
  const [collection, outlines] = await Promise.all([api("/api/v1/map.geojson"),
    api("/api/v1/map/outlines.geojson").catch(() => ({ type: "FeatureCollection", features: [] }))]);
  const counts = {};
  for (const f of collection.features) counts[f.properties.status] = (counts[f.properties.status] || 0) + 1;
  const legend = h("p", { class: "legend" }, Object.entries(STATUS_COLOURS).map(([k, colour]) =>
    h("span", { "data-status": k }, h("i", { style: `background:${colour}` }), `${t(k)} ${counts[k] || 0}`)));
  const map = intakeMap(collection.features, outlines, (meter) => { location.hash = `#/meter/${encodeURIComponent(meter)}`; });
  fill(section, legend, map, h("p", { class: "hint" }, t(outlines.features.length ? "map_note" : "map_note_no_outlines")));
}

function guarded(section, work) {
  return work(section).catch((e) => fill(section, h("p", { class: "error" }, e.message)));
}

// A registry with no intake yet: what to do first, instead of empty cards.
async function firstRun(shown) {
  const found = await api("/api/v1/intakes?limit=1");
  if (found.total > 0 || state.routed !== shown) return false;
  const steps = h("ol", {},
    h("li", {}, t("first_template"), " ", h("a", { href: "#", id: "download-template", onclick: async (event) => {
      event.preventDefault();
      const response = await fetch("/api/v1/registry/template", { headers: { Authorization: `Bearer ${sessionStorage.getItem("intake.token")}` } });
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "registry-template.xlsx" });
      link.click();
      URL.revokeObjectURL(link.href);
    } }, t("download_template"))),
    h("li", {}, t("first_fill")),
    h("li", {}, t("first_import")));
  const error = h("p", { class: "error", role: "alert" });
  const upload = state.me.role === "admin" ? h("p", {}, h("input", { type: "file", id: "import-file", accept: ".xlsx", onchange: async (event) => {
    error.textContent = "";
    try {
      const body = await event.target.files[0].arrayBuffer();
      await api("/api/v1/registry/import", { method: "POST", headers: { "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }, body });
      route();
    } catch (e) { error.textContent = e.message; }
  } })) : h("p", { class: "muted" }, t("first_ask_admin"));
  view.replaceChildren(h("section", { class: "card wide", id: "first-run" }, h("h2", {}, t("first_title")), h("p", {}, t("first_empty")), steps, upload, error));
  return true;
}

async function overview() {
  const shown = state.routed;
  const empty = await firstRun(shown).catch(() => false);
  if (empty || state.routed !== shown) return;  // the first-run page, or the user went elsewhere meanwhile
  const cards = {
    fleet: card("fleet", t("fleet")), offline: card("offline", t("offline_meters")),
    map: card("map", t("map_title"), true), permits: card("permits", t("permits")),
    calibrations: card("calibrations", t("calibrations")), findings: card("findings", t("findings"), true),
  };
  view.replaceChildren(cards.fleet, cards.offline, cards.map, cards.permits, cards.calibrations, cards.findings);
  guarded(cards.fleet, fleetCard); guarded(cards.offline, offlineCard); guarded(cards.map, mapCard);
  guarded(cards.permits, permitsCard); guarded(cards.calibrations, calibrationsCard);
  guarded(cards.findings, (s) => findingsCard(s, 50));
}

function mapPage() {
  const section = card("map", t("map_title"), true);
  view.replaceChildren(section);
  guarded(section, mapCard);
}

function findingsPage() {
  const section = card("findings", t("all_findings"), true);
  const filters = { open: "open=true", rectifying: "state=rectifying", closed: "state=closed" };
  const choose = h("select", { id: "finding-filter", onchange: () => guarded(section, (s) => findingsCard(s, 1000, false, filters[choose.value])) },
    Object.keys(filters).map((k) => h("option", { value: k }, k === "open" ? `${t("open")} / ${t("rectifying")}` : t(k))));
  view.replaceChildren(h("section", { class: "card wide" }, h("h2", {}, t("exports")), exportLinks(), choose), section);
  guarded(section, (s) => findingsCard(s, 1000, false));
}

// The forms' reports as files: fetched with the token, then handed to the browser as a download.
function exportLinks() {
  const reports = { registration: "取水口基础信息登记表", summary: "取水口核查登记汇总表", ledger: "取水口整改提升情况表", compliance: "取水许可执行情况" };
  return h("p", { class: "exports" }, Object.entries(reports).map(([kind, title]) => h("span", {}, `${title}: `,
    ["xlsx", "csv"].map((fmt) => h("a", { href: "#", class: `export-${kind}-${fmt}`, onclick: async (event) => {
      event.preventDefault();
      const token = sessionStorage.getItem("intake.token");
      const response = await fetch(`/api/v1/exports/${kind}?format=${fmt}`, { headers: { Authorization: `Bearer ${token}` } });
      if (!response.ok) return alert((await response.json()).detail);
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${kind}.${fmt}` });
      link.click();
      URL.revokeObjectURL(link.href);
    } }, fmt.toUpperCase(), " ")), " · ")));
}

// ---- routing --------------------------------------------------------------------------------

function route() {
  if (!state.me) return logout();
  state.routed = (state.routed || 0) + 1;  // a page that awaits before drawing draws only if still routed to
  const hash = location.hash || "#/";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === hash);
  if (hash.startsWith("#/meter/")) return meterPage(decodeURIComponent(hash.slice(8)));
  if (hash === "#/map") return mapPage();
  if (hash === "#/findings") return findingsPage();
  if (hash === "#/review") return reviewPage();
  if (hash === "#/rejected") return rejectedPage();
  return overview();
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  try { await login(document.getElementById("token").value.trim()); } catch (e) { error.textContent = e.message; }
});
document.getElementById("logout").addEventListener("click", logout);
document.getElementById("lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("intake.lang", state.lang);
  applyLabels();
  if (state.me) route();
});
window.addEventListener("hashchange", route);
applyLabels();
if (sessionStorage.getItem("intake.token")) login(sessionStorage.getItem("intake.token")).catch(logout);
