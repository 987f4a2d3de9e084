// Review up the hierarchy (逐级审核上报): the caller's own submissions with a button to submit the year's
// reports, and the queue of the divisions below waiting for review, with what a resubmission changed.
// Loaded before app.js, whose helpers (h, t, api, card, fill, table, pill, when, guarded, canAct) it uses.
"use strict";

function reviewPage() {
  const year = new Date().getFullYear();
  const mine = card("my-submissions", `${t("my_submissions")} ${year}`, true);
  const queue = card("review-queue", t("review_queue"), true);
  view.replaceChildren(mine, queue);
  guarded(mine, (s) => mySubmissions(s, queue, year));
  guarded(queue, reviewQueue);
}

async function mySubmissions(section, queue, year) {
  if (!state.me.division_code) return fill(section, h("p", { class: "muted" }, t("no_division")));
  const page = await api(`/api/v1/submissions?year=${year}&kind=annual&limit=100`);
  const own = page.items.filter((s) => s.division_code === state.me.division_code);
  const details = await Promise.all(own.map((s) => api(`/api/v1/submissions/${s.id}`)));
  const rows = details.map((s) => {
    const last = s.events[s.events.length - 1];
    return h("tr", { class: "submission", "data-state": s.state, "data-version": s.version },
      h("td", {}, `v${s.version}`), h("td", {}, pill(s.state)), h("td", {}, when(s.submitted_at)),
      h("td", {}, s.submitted_by), h("td", { class: "note" }, last.action === "submitted" ? "" : `${last.actor}: ${last.note || ""}`));
  });
  const live = own.some((s) => s.state !== "returned");
  const error = h("p", { class: "error", role: "alert" });
  const submit = canAct() && !live ? h("button", { id: "submit-year", type: "button", onclick: async () => {
    try {
      await api("/api/v1/submissions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ year }) });
      guarded(section, (s) => mySubmissions(s, queue, year));
    } catch (e) { error.textContent = e.message; }
  } }, t("submit_year")) : null;
  fill(section, rows.length ? table([t("version"), t("state"), t("submitted_at"), t("submitted_by"), t("review_note")], rows) : h("p", { class: "muted" }, t("none")), submit, error);
}

async function reviewQueue(section) {
  const page = await api("/api/v1/submissions?state=submitted&limit=100");
  const below = page.items.filter((s) => s.division_code !== state.me.division_code);
  if (!below.length) return fill(section, h("p", { class: "muted" }, t("none")));
  const blocks = await Promise.all(below.map(async (s) => {
    const changes = s.version > 1 ? await api(`/api/v1/submissions/${s.id}/changes`) : [];
    // a progress report carries the county's own words: the reviewer reads them here
    const words = s.kind === "progress" ? (await api(`/api/v1/submissions/${s.id}`)).reports.progress_notes.rows : [];
    const notes = words.length ? h("dl", { class: "progress-notes" }, ...words.flatMap(([label, text]) => [h("dt", {}, label), h("dd", {}, text || "—")])) : null;
    const reason = h("input", { class: "return-reason", placeholder: t("return_reason") });
    const error = h("p", { class: "error", role: "alert" });
    const act = (verb, body) => async () => {
      try {
        await api(`/api/v1/submissions/${s.id}/${verb}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body()) });
        guarded(section, reviewQueue);
      } catch (e) { error.textContent = e.message; }
    };
    const diff = changes.length ? table([t("report"), t("record"), t("change"), t("new_value")], changes.map((c) =>
      h("tr", { class: "row-change", "data-report": c.report }, h("td", {}, t(`report_${c.report}`)), h("td", {}, c.key), h("td", {}, t(`change_${c.change}`)),
        h("td", {}, (c.after || c.before || []).filter((v) => v).slice(3, 8).join(" · "))))) : null;
    return h("div", { class: "review", "data-division": s.division_code, "data-version": s.version },
      h("h3", {}, `${s.division_name} · ${s.kind === "progress" ? `${t("progress_report")} ${s.month.slice(0, 7)}` : s.year} · v${s.version}`),
      h("p", { class: "muted" }, `${t("submitted_at")} ${when(s.submitted_at)} · ${s.submitted_by}`),
      s.version > 1 ? h("p", {}, `${t("changes_since")}: ${changes.length}`) : null, diff, notes,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "accept", onclick: act("accept", () => ({})) }, t("accept")),
        reason, h("button", { type: "button", class: "return", onclick: act("return", () => ({ reason: reason.value })) }, t("return"))),
      error);
  }));
  fill(section, ...blocks);
}
