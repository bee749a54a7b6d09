// Events: what happened to the syncs, newest first (GET /sync-events?order=desc): runs that
// ended (with their counts, or why they failed) and circuit breakers that opened or closed.
// A connection that keeps failing is one event with its repeats (the server folds them), not
// a page of copies. Older pages follow the server's cursor; one connection can be picked.

import { h, mount, when, num, keysetPager } from "../ui.js";

const PAGE = 25;
const TITLES = {
  run_succeeded: "Run succeeded", run_partial: "Run partly failed", run_failed: "Run failed",
  breaker_opened: "Breaker opened", breaker_closed: "Breaker closed",
};

export async function render(ctx, [connectionId]) {
  const { connections } = await ctx.api.get("/connections");
  const names = Object.fromEntries(connections.map((c) => [c.id, c.name]));
  const pick = h("select", { id: "events-connection" },
    h("option", { value: "" }, "every connection"),
    connections.map((c) => h("option", { value: c.id, selected: c.id === connectionId }, c.name)));

  const pager = keysetPager("events", async (cursor) => {
    const answer = await ctx.api.get("/sync-events", { order: "desc", limit: PAGE, cursor, connection_id: pick.value });
    return { content: table(answer.events, names), next: answer.more ? answer.next_cursor : null };
  }, { prev: "Newer", next: "Older" });
  pick.addEventListener("change", () => {
    history.replaceState(null, "", pick.value ? `#/events/${encodeURIComponent(pick.value)}` : "#/events");
    pager.reload();
  });
  mount(
    h("div", { class: "spread" }, h("h1", {}, "Events"),
      h("div", { class: "row" }, h("label", { class: "inline" }, "Connection", pick))),
    h("div", { class: "card" }, pager.el),
  );
  await pager.reload();
}

function table(events, names) {
  if (!events.length) return h("p", { class: "muted", id: "events-empty" }, "No event yet: they appear when a run ends or a breaker opens.");
  return h("table", { id: "events-table" },
    h("thead", {}, h("tr", {}, ["When", "Connection", "What", "Details", "Repeats"].map((t) => h("th", {}, t)))),
    h("tbody", {}, events.map((e) => h("tr", { dataset: { event: e.id, kind: e.kind, connection: e.connection_id } },
      h("td", {}, when(e.at)),
      h("td", {}, h("a", { href: `#/connections/${encodeURIComponent(e.connection_id)}` }, e.name || names[e.connection_id] || e.connection_id),
        h("div", { class: "muted small" }, e.vendor || "")),
      h("td", {}, h("span", { class: `badge ${e.kind}`, dataset: { status: e.kind } }, TITLES[e.kind] || e.kind)),
      h("td", { class: "wrap" }, details(e)),
      h("td", { class: "event-repeats" }, e.repeats
        ? [h("b", {}, `${e.repeats} more`), h("div", { class: "muted small" }, `last ${when(e.last_at)}`)]
        : h("span", { class: "muted" }, "once"))))));
}

function details(e) {
  const parts = [];
  if (e.reason) parts.push(h("div", { class: "error" }, `${e.reason.message} (${e.reason.code})`));
  if (e.counts) {
    parts.push(h("div", { class: "small" }, ["fetched", "written", "unchanged", "failed"].map((k) =>
      h("span", { class: "count" }, `${k} `, h("b", {}, num(e.counts[k]))))));
  }
  if (e.detail && e.detail.cooldown_until) parts.push(h("div", { class: "muted small" }, `cool-down until ${when(e.detail.cooldown_until)}`));
  if (e.run_id) parts.push(h("div", { class: "muted small" }, `run ${e.run_id}`));
  return parts.length ? parts : h("span", { class: "muted" }, "—");
}
