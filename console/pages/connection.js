// One connection: its status and cursors, Sync now with live progress (polls
// /sync-runs/{id} until the run ends), run history with per-stream counts and errors,
// the dead letters (records that could not be stored, with why), its health (circuit
// breaker, last error) and the vendor's API allowance where the vendor reports one.

import { h, mount, badge, when, whenExact, relative, ago, num, action, toast, fill } from "../ui.js";
import { connectOAuth } from "../oauth.js";

const POLL_MS = 1500;
const COUNTS = ["fetched", "written", "unchanged", "failed"];

export async function render(ctx, [id]) {
  let stopped = false;
  let timer = null;
  let stopFollow = null;
  const q = { connection_id: id };
  let [c, { connections: [status] }, { connectors }] = await Promise.all([
    ctx.api.get(`/connections/${encodeURIComponent(id)}`), ctx.api.get("/sync-status", q), ctx.api.get("/connectors"),
  ]);
  const connector = connectors.find((x) => x.vendor === c.vendor) || { title: c.vendor, streams: [], auth: {} };
  const manage = ctx.canManage(c);
  const progress = h("div", { class: "card", id: "progress", hidden: true });
  const runs = h("div", { class: "card", id: "runs" }, h("h2", {}, "Run history"), h("p", { class: "muted" }, "Loading…"));
  const dead = h("div", { class: "card", id: "dead-letters" }, h("h2", {}, "Dead letters"), h("p", { class: "muted" }, "Loading…"));
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

  async function follow(runId) {
    progress.hidden = false;
    const tick = async () => {
      if (stopped) return;
      let run;
      try { run = await ctx.api.get(`/sync-runs/${encodeURIComponent(runId)}`, q); } catch (err) {
        fill(progress, h("p", { class: "error" }, err.message)); return;
      }
      fill(progress, ...runProgress(run));
      if (["succeeded", "partial", "failed"].includes(run.status)) {
        toast(`Sync ${run.status}: ${num(run.counts.fetched)} fetched, ${num(run.counts.written)} written.`);
        // the run moved the health fields and the vendor's allowance: show them as they are now
        const [{ connections: [fresh] }, connection] = await Promise.all([
          ctx.api.get("/sync-status", q), ctx.api.get(`/connections/${encodeURIComponent(id)}`)]);
        c = connection;
        fill(info, infoCard(fresh));
        fill(streamsCard, streamsTable(fresh));
        await Promise.all([loadRuns(), loadDead()]);
        return;
      }
      timer = setTimeout(tick, POLL_MS);
    };
    await tick();
  }

  async function syncNow(mode) {
    const started = await ctx.api.post("/sync-now", { connection_id: id, mode });
    if (started.run_id) follow(started.run_id);
  }

  async function loadRuns() {
    const { runs: list } = await ctx.api.get("/sync-runs", { ...q, limit: 20 });
    fill(runs, h("h2", {}, "Run history"), list.length ? runTable(list) : h("p", { class: "muted" }, "No run yet."));
  }

  async function loadDead() {
    const { dead_letters: letters } = await ctx.api.get("/dead-letters", { ...q, limit: 50 });
    fill(dead, 
      h("div", { class: "spread" }, h("h2", {}, `Dead letters (${letters.length}${letters.length === 50 ? "+" : ""})`),
        manage && letters.length ? action("Retry them", async () => {
          const r = await ctx.api.post("/dead-letters/redrive", q);
          toast(`${r.stored} stored, ${r.still_failing} still failing.`);
          loadDead();
        }, { class: "admin-action" }) : null),
      letters.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["When", "Stream", "Why", "Record"].map((t) => h("th", {}, t)))),
        h("tbody", {}, letters.map((d) => h("tr", {},
          h("td", {}, when(d.at)), h("td", {}, d.stream), h("td", { class: "wrap" }, d.reason),
          h("td", { class: "wrap" }, h("details", {}, h("summary", {}, "raw JSON"), h("pre", { class: "json" }, pretty(d.raw))))))))
        : h("p", { class: "muted" }, "None: every record fetched was stored."));
  }

  const actions = manage ? [
    c.status !== "disabled" && action("Sync now", () => syncNow("auto"), { class: "primary admin-action", id: "sync-now" }),
    c.status !== "disabled" && action("Full sync", () => syncNow("full"), { class: "admin-action", id: "sync-full" }),
    connector.auth.oauth && ["pending", "needs_reauth"].includes(c.status) && action(
      c.status === "needs_reauth" ? "Reconnect" : "Connect", async () => {
        if (stopFollow) stopFollow();
        stopFollow = await connectOAuth(ctx, c, reload);
      }, { class: `admin-action${c.status === "needs_reauth" ? " primary" : ""}`, id: "oauth-connect" }),
    c.status === "disabled"
      ? action("Resume", async () => { await ctx.api.post(`/connections/${c.id}/resume`); reload(); }, { class: "admin-action", id: "resume" })
      : action("Pause", async () => { await ctx.api.post(`/connections/${c.id}/pause`); reload(); }, { class: "admin-action", id: "pause" }),
    action("Delete", async () => {
      if (!confirm(`Delete ${c.name} and all its synced data? This cannot be undone.`)) return;
      await ctx.api.del(`/connections/${c.id}`);
      toast(`${c.name} deleted.`);
      location.hash = "#/";
    }, { class: "danger admin-action", id: "delete" }),
  ] : [h("span", { class: "muted small", id: "read-only" }, "Read-only: an admin manages this connection.")];

  const infoCard = (st) => h("div", { class: "kv" },
    h("div", {}, "Vendor"), h("div", {}, connector.title),
    h("div", {}, "Id"), h("div", {}, h("code", {}, c.id)),
    h("div", {}, "Owner"), h("div", {}, c.owner.kind === "org" ? "organization" : c.owner.email),
    h("div", {}, "API"), h("div", {}, c.config.base_url || "—"),
    h("div", {}, "Schedule"), h("div", {}, c.schedule ? `${c.schedule.cron} (${c.schedule.time_zone})` : "the connector's default"),
    h("div", {}, "Next run"), h("div", {}, when(c.next_run_at)),
    h("div", {}, "Last success"), h("div", { id: "last-success" }, when(st.last_success_at)),
    h("div", {}, "Circuit breaker"), h("div", { id: "breaker" }, breakerText(st.breaker)),
    c.last_error ? [h("div", {}, "Last error"), h("div", { class: "error wrap" }, `${c.last_error.message} (${c.last_error.code}) at ${when(c.last_error.at)}`)] : null,
    c.vendor_allowance ? [h("div", {}, "API allowance"), allowance(c.vendor_allowance)] : null);
  const streamsTable = (st) => [h("h2", {}, "Streams"), h("table", {},
    h("thead", {}, h("tr", {}, ["Stream", "Synced up to", "Age", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, (connector.streams.length ? connector.streams.map((s) => s.name) : Object.keys(st.cursors || {})).map((name) => {
      const cur = (st.cursors || {})[name] || {};
      return h("tr", { dataset: { stream: name } }, h("td", {}, name), h("td", {}, when(cur.hwm)), h("td", {}, ago(cur.age_s)),
        h("td", {}, h("a", { href: `#/records/${encodeURIComponent(c.id)}/${encodeURIComponent(name)}` }, "browse")));
    })))];
  const info = h("div", { class: "card", id: "info" }, infoCard(status));
  const streamsCard = h("div", { class: "card", id: "streams" }, streamsTable(status));
  mount(
    h("p", { class: "muted small" }, h("a", { href: "#/" }, "Connections"), " / ", c.name),
    h("div", { class: "spread" }, h("h1", {}, c.name, " ", badge(c.status)), h("div", { class: "row" }, actions)),
    h("div", { class: "split" }, info, streamsCard),
    progress, runs, dead,
  );
  loadRuns();
  loadDead();
  if (status.running_run_id) follow(status.running_run_id);
  return () => { stopped = true; clearTimeout(timer); if (stopFollow) stopFollow(); };
}

/** The breaker in a sentence: closed (with failures counted so far), open until, probing. */
export function breakerText(b) {
  if (!b) return h("span", {}, badge("closed"));
  const failures = b.failures ? h("span", { class: "muted small" }, ` ${b.failures} consecutive failure${b.failures === 1 ? "" : "s"}`) : null;
  if (b.state === "open") {
    return h("span", {}, badge("open"), ` cool-down until ${whenExact(b.until)} `,
      h("span", { class: "muted small" }, `(${relative(b.until)})`), failures);
  }
  if (b.state === "half_open") return h("span", {}, badge("half_open"), " one probe is trying the vendor", failures);
  return h("span", {}, badge("closed"), failures);
}

/** The vendor's allowance for this account (Salesforce: the org's daily API requests, shared
 * with every other tool of the org), as its last answer reported it. */
function allowance(a) {
  const used = a.limit ? Math.round((100 * (a.limit - a.remaining)) / a.limit) : 0;
  return h("div", { id: "allowance" },
    h("div", { class: "row" }, h("div", { class: `progress${used >= 90 ? " bad" : ""}` }, h("div", { style: `width: ${used}%` })),
      h("span", {}, h("b", { id: "allowance-remaining" }, num(a.remaining)), " of ", h("span", { id: "allowance-limit" }, num(a.limit)),
        " requests left")),
    h("div", { class: "muted small" }, `${used}% used · reported ${when(a.at)} (${relative(a.at)})`));
}

function runProgress(run) {
  const share = run.chains_total ? Math.round((100 * run.chains_closed) / run.chains_total) : 0;
  const done = ["succeeded", "partial", "failed"].includes(run.status);
  return [
    h("div", { class: "spread" }, h("h2", {}, done ? "Last sync" : "Syncing…"), h("span", { id: "progress-status" }, badge(run.status))),
    h("div", { class: "row" }, h("div", { class: "progress" }, h("div", { style: `width: ${done ? 100 : share}%` })),
      h("span", { class: "muted small" }, `${run.chains_closed}/${run.chains_total} chains`),
      COUNTS.map((k) => h("span", { class: "small" }, `${k} `, h("b", { dataset: { count: k } }, num(run.counts[k]))))),
    streamTable(run),
    errors(run),
  ];
}

function streamTable(run) {
  const entries = Object.entries(run.streams || {});
  if (!entries.length) return null;
  return h("table", { class: "streams" },
    h("thead", {}, h("tr", {}, h("th", {}, "Stream"), h("th", {}, "Mode"), h("th", {}, "Status"), h("th", { class: "num" }, "Pages"),
      COUNTS.map((k) => h("th", { class: "num" }, k)))),
    h("tbody", {}, entries.map(([name, s]) => h("tr", { dataset: { stream: name } },
      h("td", {}, name), h("td", {}, s.mode), h("td", {}, badge(s.status)), h("td", { class: "num" }, num(s.pages)),
      COUNTS.map((k) => h("td", { class: "num" }, num(s.counts[k])))))));
}

function errors(run) {
  if (!run.errors || !run.errors.length) return null;
  return h("div", {}, h("h2", {}, "Errors"), h("ul", {}, run.errors.map((e) =>
    h("li", { class: "error" }, `${e.stream}: ${e.message} (${e.code}) at ${when(e.at)}`))));
}

function runTable(list) {
  const body = h("tbody");
  for (const run of list) {
    const detail = h("tr", { hidden: true }, h("td", { colspan: 9, class: "wrap" }, streamTable(run), errors(run)));
    body.append(h("tr", { class: "clickable", dataset: { run: run.run_id }, onclick: () => { detail.hidden = !detail.hidden; } },
      h("td", {}, when(run.created_at)), h("td", {}, run.trigger), h("td", {}, badge(run.status)),
      h("td", { class: "num" }, run.duration_s === null || run.duration_s === undefined ? "—" : `${run.duration_s.toFixed(1)} s`),
      COUNTS.map((k) => h("td", { class: "num" }, num(run.counts[k]))),
      h("td", { class: "num" }, run.errors.length ? h("span", { class: "error" }, String(run.errors.length)) : "0")), detail);
  }
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Started", "Trigger", "Status"].map((t) => h("th", {}, t)), h("th", { class: "num" }, "Took"),
      COUNTS.map((k) => h("th", { class: "num" }, k)), h("th", { class: "num" }, "Errors"))),
    body);
}

function pretty(raw) {
  try { return JSON.stringify(JSON.parse(raw), null, 2); } catch { return raw; }
}
