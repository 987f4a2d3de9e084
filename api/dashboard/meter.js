// A meter's page: its status, charts, the corrections of its days, calibrations and status changes.
// Loaded before app.js, whose helpers (h, t, api, card, fill, table, pill, guarded) it uses when called.
"use strict";

async function meterPage(meterId) {
  const info = card("meter-info", `${t("meter_page")} ${meterId}`, true);
  const flow = card("flow-chart", t("flow_chart")), volume = card("volume-chart", t("volume_chart"));
  const history = card("history", t("history"));
  const calibrations = card("meter-calibrations", t("calibration_records"));
  const corrections = card("meter-corrections", t("corrections"), true);
  const reporting = card("meter-days", t("reporting"));
  const changes = card("meter-changes", t("registry_changes"));
  const manual = card("meter-manual", t("manual_readings"), true);
  view.replaceChildren(info, flow, volume, manual, reporting, corrections, calibrations, history, changes);
  const id = encodeURIComponent(meterId);
  guarded(info, async (s) => {
    const meter = await api(`/api/v1/meters/${id}`);
    const status = (await api(`/api/v1/meters/status?meter_id=${id}`)).items[0];
    const kv = h("dl", { class: "kv" },
      h("dt", {}, t("intake")), h("dd", {}, status ? `${status.intake_name} (${meter.intake_code})` : meter.intake_code),
      h("dt", {}, t("county")), h("dd", {}, meter.county || "—"),
      h("dt", {}, t("status")), h("dd", { id: "meter-status" }, status ? pill(status.status) : "—",
        status && status.status_since ? ` ${when(status.status_since)}` : ""),
      h("dt", {}, t("last_reading")), h("dd", {}, status ? `${when(status.last_reading_ts)} · ${status.last_total_m3 ?? "—"} m³` : "—"));
    fill(s, kv, h("p", {}, h("a", { href: "#/" }, t("back"))));
  });
  guarded(flow, async (s) => {
    const last = ((await api(`/api/v1/meters/status?meter_id=${id}`)).items[0] || {}).last_reading_ts;
    const end = last ? new Date(new Date(last).getTime() + 1000) : new Date();
    const start = new Date(end.getTime() - 7 * 86400e3);
    const buckets = await api(`/api/v1/meters/${id}/readings?from=${start.toISOString()}&to=${end.toISOString()}&bucket=1h`);
    fill(s, h("div", { class: "chart" }, lineChart(buckets.map((b) => ({ t: new Date(b.bucket), v: b.mean_flow_m3h })), t("m3h"))));
  });
  guarded(volume, async (s) => {
    const days = await api(`/api/v1/meters/${id}/daily-volumes`);
    // what reports count (a correction's volume; none for an invalid or implausible day), in grey
    // where the day is not a metered one
    fill(s, h("div", { class: "chart" }, barChart(days.map((d) => ({ label: d.day, v: Number(d.reported_m3), muted: d.method !== "metered" })), t("m3"))));
  });
  guarded(corrections, (s) => correctionsCard(s, id));
  guarded(manual, (s) => manualCard(s, id));
  guarded(reporting, async (s) => {
    const days = await api(`/api/v1/meters/${id}/days?days=7`);
    const share = (v) => (v === null ? "—" : `${Math.round(v * 1000) / 10}%`);
    const rows = days.map((d) => h("tr", { "data-day": d.day }, h("td", {}, d.day + (d.partial ? " *" : "")),
      h("td", { class: "num online-share" }, share(d.online_share)), h("td", { class: "num" }, share(d.completeness))));
    const unwatched = days.some((d) => d.online_share === null);
    fill(s, table([t("day"), t("online_share"), t("completeness")], rows, [1, 2]),
      h("p", { class: "muted" }, [unwatched ? t("not_watched") : "", days.some((d) => d.partial) ? ` ${t("partial_day")}` : ""].join("")));
  });
  const loadCalibrations = async (s) => {
    const page = await api(`/api/v1/meters/${id}/calibrations?limit=20`);
    const rows = page.items.map((c) => h("tr", {}, h("td", {}, c.calibrated_on),
      h("td", {}, pill(c.result === "pass" ? "online" : "offline", t(`result_${c.result}`))), h("td", {}, c.certificate_no || "—")));
    const list = rows.length ? table([t("calibrated_on"), t("result"), t("certificate")], rows) : h("p", { class: "muted" }, t("none"));
    if (!canAct()) return fill(s, list);
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { id: "calibration-form", onsubmit: async (event) => {
      event.preventDefault();
      const body = { calibrated_on: form.elements.calibrated_on.value, result: form.elements.result.value,
        certificate_no: form.elements.certificate_no.value || null };
      try {
        await api(`/api/v1/meters/${id}/calibrations`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        loadCalibrations(s);
      } catch (e) { error.textContent = e.message; }
    } },
      h("label", { for: "calibrated_on" }, t("calibrated_on")), h("input", { id: "calibrated_on", name: "calibrated_on", type: "date", required: true }),
      h("label", { for: "result" }, t("result")),
      h("select", { id: "result", name: "result" }, h("option", { value: "pass" }, t("result_pass")), h("option", { value: "fail" }, t("result_fail"))),
      h("label", { for: "certificate_no" }, t("certificate")), h("input", { id: "certificate_no", name: "certificate_no" }),
      h("button", { type: "submit" }, t("record_calibration")), error);
    fill(s, list, form);
  };
  guarded(calibrations, loadCalibrations);
  guarded(history, async (s) => {
    const page = await api(`/api/v1/meters/${id}/status/history?limit=20`);
    fill(s, table([t("at"), t("status"), t("reason")], page.items.map((c) => h("tr", {}, h("td", {}, when(c.at)), h("td", {}, pill(c.status)), h("td", {}, c.reason)))));
  });
  // the registry's audit trail of the meter and its intake: who changed which field, from what to what
  guarded(changes, async (s) => {
    const meter = await api(`/api/v1/meters/${id}`);
    const [own, intake] = await Promise.all([api(`/api/v1/meters/${id}/changes?limit=50`),
      api(`/api/v1/intakes/${encodeURIComponent(meter.intake_code)}/changes?limit=50`)]);
    const all = [...own.items.map((c) => ({ ...c, what: meterId })), ...intake.items.map((c) => ({ ...c, what: meter.intake_code }))]
      .sort((a, b) => (a.at < b.at ? 1 : -1));
    const shown = (v) => (v === null ? "—" : v.length > 40 ? `${v.slice(0, 40)}…` : v);
    const rows = all.map((c) => h("tr", { class: "change" }, h("td", {}, when(c.at)), h("td", {}, c.actor), h("td", {}, c.what),
      h("td", {}, c.field), h("td", {}, shown(c.old_value)), h("td", {}, shown(c.new_value))));
    fill(s, rows.length ? table([t("at"), t("actor"), t("record"), t("field"), t("old_value"), t("new_value")], rows) : h("p", { class: "muted" }, t("none")));
  });
}


// Corrections: every role may correct (auditors and operators both review volumes); each one is kept
// with who, when, the volume before and after; revoking one puts the register's volume back.
async function correctionsCard(section, id) {
  const [page, days] = await Promise.all([
    api(`/api/v1/meters/${id}/corrections?limit=50`), api(`/api/v1/meters/${id}/daily-volumes`)]);
  const error = h("p", { class: "error", role: "alert" });
  const reload = () => guarded(section, (s) => correctionsCard(s, id));
  const rows = page.items.map((c) => h("tr", { "data-correction": c.id, class: c.revoked_at ? "revoked" : null },
    h("td", {}, c.day), h("td", {}, t(`correction_${c.kind}`)), h("td", { class: "num" }, c.volume_m3 ?? "—"),
    h("td", { class: "num" }, c.previous_m3 ?? "—"), h("td", {}, c.reason), h("td", {}, c.evidence || "—"),
    h("td", {}, `${c.created_by} ${when(c.created_at)}`),
    h("td", {}, c.revoked_at ? `${t("revoked")}: ${c.revoke_reason}` : h("button", { type: "button", class: "revoke", onclick: async () => {
      const reason = prompt(t("revoke_reason"));
      if (!reason) return;
      try {
        await api(`/api/v1/corrections/${c.id}/revoke`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }) });
        reload();
      } catch (e) { error.textContent = e.message; }
    } }, t("revoke")))));
  const list = rows.length
    ? h("div", { class: "scroll" }, table([t("day"), t("kind"), t("corrected_m3"), t("previous_m3"), t("reason"), t("evidence"), t("by"), t("state")], rows))
    : h("p", { class: "muted" }, t("none"));
  const shown = days.filter((d) => d.correction_id).map((d) => `${d.day}: ${t(`method_${d.method}`)} ${d.reported_m3} m³ (${t("register")} ${d.volume_m3} m³)`);
  const form = h("form", { id: "correction-form", onsubmit: async (event) => {
    event.preventDefault();
    const kind = form.elements.kind.value;
    const body = { day: form.elements.day.value, kind, reason: form.elements.reason.value,
      evidence: form.elements.evidence.value || null, volume_m3: kind === "volume" ? form.elements.volume_m3.value : null };
    try {
      await api(`/api/v1/meters/${id}/corrections`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      reload();
    } catch (e) { error.textContent = e.message; }
  } },
    h("label", { for: "correction-day" }, t("day")), h("input", { id: "correction-day", name: "day", type: "date", required: true }),
    h("label", { for: "correction-kind" }, t("kind")),
    h("select", { id: "correction-kind", name: "kind" }, h("option", { value: "volume" }, t("correction_volume")), h("option", { value: "invalid" }, t("correction_invalid"))),
    h("label", { for: "correction-volume" }, t("corrected_m3")), h("input", { id: "correction-volume", name: "volume_m3", type: "number", min: "0", step: "0.001" }),
    h("label", { for: "correction-reason" }, t("reason")), h("input", { id: "correction-reason", name: "reason", required: true }),
    h("label", { for: "correction-evidence" }, t("evidence")), h("input", { id: "correction-evidence", name: "evidence" }),
    h("button", { type: "submit" }, t("record_correction")), error);
  fill(section, shown.length ? h("p", { class: "corrected-days" }, shown.join(" · ")) : null, list, form);
}


// Manual readings (人工抄表): what an inspector copied from the meter's display, each with the volume of
// its local day as reports count it; an operator enters one here, or uploads a batch (CSV or XLSX).
async function manualCard(section, id) {
  const page = await api(`/api/v1/meters/${id}/manual-readings?limit=50`);
  const dayList = page.items.map((r) => r.day).sort();  // local days, in the service's time zone
  const days = dayList.length
    ? await api(`/api/v1/meters/${id}/daily-volumes?from=${dayList[0]}&to=${dayList[dayList.length - 1]}`) : [];
  const volumeOf = Object.fromEntries(days.map((d) => [d.day, d.reported_m3]));
  const reload = () => guarded(section, (s) => manualCard(s, id));
  const rows = page.items.map((r) => h("tr", { "data-ts": r.ts }, h("td", {}, when(r.ts)), h("td", { class: "num" }, r.total_m3),
    h("td", { class: "num day-volume" }, volumeOf[r.day] ?? "—"), h("td", {}, r.read_by), h("td", {}, r.photo_ref || "—"),
    h("td", {}, `${r.entered_by} ${when(r.entered_at)}`)));
  const list = rows.length
    ? h("div", { class: "scroll" }, table([t("read_at"), t("totalizer_m3"), t("day_volume"), t("read_by"), t("photo_ref"), t("entered_by")], rows))
    : h("p", { class: "muted" }, t("none"));
  if (!canAct()) return fill(section, list);
  const error = h("p", { class: "error", role: "alert" });
  const outcome = h("div", { class: "manual-outcome" });
  const form = h("form", { id: "manual-form", onsubmit: async (event) => {
    event.preventDefault();
    const body = { read_at: form.elements.read_at.value, totalizer_m3: form.elements.totalizer_m3.value,
      read_by: form.elements.read_by.value || null, photo_ref: form.elements.photo_ref.value || null };
    try {
      await api(`/api/v1/meters/${id}/manual-readings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      reload();
    } catch (e) { error.textContent = e.message; }
  } },
    h("label", { for: "manual-read-at" }, t("read_at")), h("input", { id: "manual-read-at", name: "read_at", type: "datetime-local", required: true }),
    h("label", { for: "manual-total" }, t("totalizer_m3")), h("input", { id: "manual-total", name: "totalizer_m3", type: "number", min: "0", step: "any", required: true }),
    h("label", { for: "manual-read-by" }, t("read_by")), h("input", { id: "manual-read-by", name: "read_by" }),
    h("label", { for: "manual-photo" }, t("photo_ref")), h("input", { id: "manual-photo", name: "photo_ref" }),
    h("button", { type: "submit" }, t("record_manual")), error);
  const upload = h("p", {}, t("manual_batch"), " ", h("a", { href: "#", onclick: async (event) => {
    event.preventDefault();
    const token = sessionStorage.getItem("intake.token");
    const response = await fetch("/api/v1/manual-readings/template", { headers: { Authorization: `Bearer ${token}` } });
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "manual-readings-template.csv" });
    link.click();
  } }, t("download_template")), " ",
  h("input", { type: "file", id: "manual-file", accept: ".csv,.xlsx", onchange: async (event) => {
    error.textContent = "";
    const file = event.target.files[0];
    const media = file.name.toLowerCase().endsWith(".xlsx") ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv";
    try {
      const done = await api("/api/v1/manual-readings", { method: "POST", headers: { "Content-Type": media }, body: await file.arrayBuffer() });
      const refused = done.refused.map((r) => h("tr", {}, h("td", { class: "num" }, r.row), h("td", {}, r.meter_id || "—"), h("td", {}, r.reason), h("td", {}, r.message)));
      outcome.replaceChildren(h("p", { class: "batch-summary" }, `${t("stored")} ${done.stored} · ${t("already_stored")} ${done.already_stored} · ${t("refused")} ${done.refused.length}`),
        refused.length ? table([t("row"), t("meter"), t("reason"), t("message")], refused) : "");
      if (done.stored) await reloadKeeping(section, id, outcome);
    } catch (e) { error.textContent = e.message; }
  } }));
  fill(section, list, form, upload, outcome);
}

// After a batch: the list again, with the batch's outcome still shown under it.
async function reloadKeeping(section, id, outcome) {
  await guarded(section, (s) => manualCard(s, id));
  section.appendChild(outcome);
}
