// Health: every connection the signed-in person may see, in one table: its status
// (connected, degraded while the circuit breaker is open, needs_reauth when the vendor refused
// its credentials...), the breaker and its cool-down's end, last success, last error and the
// next scheduled run (GET /sync-status). A needs_reauth OAuth connection gets Reconnect (for
// who may manage it). The table refreshes itself while the page is open.

import { h, mount, badge, when, relative, action, fill } from "../ui.js";
import { connectOAuth } from "../oauth.js";
import { breakerText } from "./connection.js";

const REFRESH_MS = 10000;
// worst first: what needs a person comes to the top
const ORDER = ["needs_reauth", "degraded", "pending", "disabled", "connected", "deleting"];

export async function render(ctx) {
  let stopped = false;
  let timer = null;
  let stopFollow = null;
  const table = h("div", { class: "card", id: "health" }, h("p", { class: "muted" }, "Loading…"));
  const summary = h("div", { class: "row", id: "health-summary" });

  async function load() {
    const [{ connections: statuses }, { connections }, { connectors }] = await Promise.all([
      ctx.api.get("/sync-status"), ctx.api.get("/connections"), ctx.api.get("/connectors"),
    ]);
    if (stopped) return;
    const byId = Object.fromEntries(connections.map((c) => [c.id, c]));
    const vendors = Object.fromEntries(connectors.map((c) => [c.vendor, c]));
    const rank = (s) => { const i = ORDER.indexOf(s.status); return i < 0 ? ORDER.length : i; };
    statuses.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
    const counts = {};
    for (const s of statuses) counts[s.status] = (counts[s.status] || 0) + 1;
    fill(summary, Object.entries(counts).sort(([a], [b]) => ORDER.indexOf(a) - ORDER.indexOf(b)).map(([status, n]) =>
      h("span", { dataset: { summary: status } }, badge(status), " ", h("b", {}, String(n)))));
    fill(table, statuses.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Connection", "Status", "Circuit breaker", "Last success", "Last error", "Next run", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, statuses.map((s) => row(s, byId[s.connection_id], vendors[s.vendor]))))
      : h("p", { class: "muted" }, "No connection yet."));
  }

  function row(s, c, connector) {
    const title = connector ? connector.title : s.vendor;
    const error = s.last_error;
    const reconnect = c && connector && connector.auth.oauth && s.status === "needs_reauth" && ctx.canManage(c);
    return h("tr", { dataset: { connection: s.connection_id, status: s.status, breaker: s.breaker.state } },
      h("td", {}, h("a", { href: `#/connections/${encodeURIComponent(s.connection_id)}` }, s.name),
        h("div", { class: "muted small" }, title)),
      h("td", { class: "health-status" }, badge(s.running_run_id ? "running" : s.status),
        s.running_run_id ? h("div", { class: "muted small" }, s.status.replace(/_/g, " ")) : null),
      h("td", { class: "wrap health-breaker" }, breakerText(s.breaker),
        s.breaker.last_failure && s.breaker.state !== "closed" ? h("div", { class: "muted small" }, s.breaker.last_failure) : null),
      h("td", { class: "health-success" }, when(s.last_success_at),
        s.last_success_at ? h("div", { class: "muted small" }, relative(s.last_success_at)) : null),
      h("td", { class: "wrap health-error" }, error
        ? [h("span", { class: "error" }, error.message), h("div", { class: "muted small" }, `${error.code} · ${when(error.at)}`)]
        : h("span", { class: "muted" }, "none")),
      h("td", { class: "health-next" }, s.next_run_at ? [when(s.next_run_at), h("div", { class: "muted small" }, relative(s.next_run_at))]
        : h("span", { class: "muted" }, ["needs_reauth", "disabled", "pending"].includes(s.status) ? "not scheduled" : "—")),
      h("td", {}, reconnect ? action("Reconnect", async () => {
        if (stopFollow) stopFollow();
        stopFollow = await connectOAuth(ctx, c, () => load());
      }, { class: "primary admin-action", dataset: { action: "reconnect" } }) : null));
  }

  const tick = async () => {
    if (stopped) return;
    try { await load(); } finally { if (!stopped) timer = setTimeout(tick, REFRESH_MS); }
  };
  mount(
    h("div", { class: "spread" }, h("h1", {}, "Health"), summary),
    h("p", { class: "muted small" }, "A connection is degraded while its circuit breaker is open (the vendor kept failing: ",
      "syncs wait out the cool-down instead of spending the budget); needs reauth when the vendor refused its credentials."),
    table,
  );
  await load();
  timer = setTimeout(tick, REFRESH_MS);
  return () => { stopped = true; clearTimeout(timer); if (stopFollow) stopFollow(); };
}
