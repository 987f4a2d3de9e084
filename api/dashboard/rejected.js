// Rejected messages (拒收消息): what the collector and the gateway refused, by meter and reason, with the
// raw payload (SZY 206 frames in hex); an operator replays them once the registry is fixed (the same
// replay as `intake rejected replay`), and sees what it stored.
// Loaded before app.js, whose helpers (h, t, api, card, fill, table, when, guarded, canAct) it uses.
"use strict";

function rejectedPage() {
  const summary = card("rejected-summary", t("rejected_summary"), true);
  const list = card("rejected-list", t("rejected_list"), true);
  view.replaceChildren(summary, list);
  const filter = { meter_id: "", reason: "" };
  const reload = () => { guarded(summary, (s) => rejectedSummary(s, filter, reload)); guarded(list, (s) => rejectedList(s, filter)); };
  reload();
}

function replayButton(label, body, section, reload, id) {
  return h("button", { type: "button", class: "replay", id, onclick: async () => {
    const outcome = section.querySelector(".replay-outcome");
    try {
      const done = await api("/api/v1/rejected/replay", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const still = Object.entries(done.still_refused).map(([why, n]) => `${n} × ${why}`).join("; ");
      state.replayed = `${t("replayed_messages")} ${done.messages} · ${t("rows_resolved")} ${done.rows_resolved} · ` +
        `${t("readings_stored")} ${done.stored} · ${t("already_stored")} ${done.duplicates} · ${t("still_refused")} ${done.rows_still_refused}` +
        (still ? ` (${still})` : "") + (done.more ? ` · ${t("replay_more")}` : "");
      reload();
    } catch (e) { if (outcome) outcome.textContent = e.message; }
  } }, label);
}

async function rejectedSummary(section, filter, reload) {
  const page = await api("/api/v1/rejected/summary?limit=200");
  const rows = page.items.map((r) => h("tr", { class: "rejected-group", "data-meter": r.meter_id || "", "data-reason": r.reason },
    h("td", {}, r.meter_id ? h("a", { href: `#/meter/${encodeURIComponent(r.meter_id)}` }, r.meter_id) : "—"),
    h("td", {}, r.reason), h("td", { class: "num" }, r.rejected), h("td", { class: "num waiting" }, r.waiting),
    h("td", {}, when(r.last_received_at)),
    h("td", {}, h("button", { type: "button", class: "show", onclick: () => {
      filter.meter_id = r.meter_id || ""; filter.reason = r.reason;
      guarded(document.getElementById("rejected-list"), (s) => rejectedList(s, filter));
    } }, t("show")), " ", canAct() && r.waiting > 0 && r.meter_id ? replayButton(t("replay"), { meter_id: r.meter_id, reason: r.reason }, section, reload) : "")));
  const outcome = h("p", { class: "replay-outcome", role: "status" }, state.replayed || "");
  state.replayed = "";
  const waiting = page.items.reduce((n, r) => n + r.waiting, 0);
  const all = canAct() && waiting > 0 ? h("p", {}, replayButton(t("replay_all"), {}, section, reload, "replay-all")) : null;
  fill(section, rows.length
    ? h("div", { class: "scroll" }, table([t("meter"), t("reason"), t("rejected_count"), t("waiting"), t("last_received"), ""], rows, [2, 3]))
    : h("p", { class: "muted" }, t("none")), all, outcome);
}

async function rejectedList(section, filter) {
  const query = new URLSearchParams({ limit: "50" });
  if (filter.meter_id) query.set("meter_id", filter.meter_id);
  if (filter.reason) query.set("reason", filter.reason);
  const page = await api(`/api/v1/rejected?${query}`);
  const shown = (p) => (p.length > 160 ? `${p.slice(0, 160)}…` : p);
  const rows = page.items.map((r) => h("tr", { class: "rejected", "data-id": r.id },
    h("td", {}, when(r.received_at)), h("td", {}, r.source), h("td", {}, r.meter_id || "—"), h("td", {}, r.reason),
    h("td", {}, r.message), h("td", {}, h("code", { class: `payload ${r.payload_encoding}`, title: r.payload }, shown(r.payload))),
    h("td", { class: "replayed" }, r.replayed_at ? `${when(r.replayed_at)} ${r.replay_result}` : "—")));
  const heading = filter.meter_id || filter.reason ? h("p", { class: "muted" }, [filter.meter_id, filter.reason].filter(Boolean).join(" · ")) : null;
  fill(section, heading, rows.length
    ? h("div", { class: "scroll" }, table([t("received_at"), t("source"), t("meter"), t("reason"), t("message"), t("payload"), t("replayed")], rows))
    : h("p", { class: "muted" }, t("none")));
}
