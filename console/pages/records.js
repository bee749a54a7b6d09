// Records: browse a connection's stream through the records API. The filters, sorts and
// their values are read from the API's own OpenAPI document (GET /openapi), so a new
// stream or filter appears here without a console change.

import { h, mount, when, action, errorText, fill } from "../ui.js";

const SKIP = new Set(["connection_id", "cursor", "live"]);
const PREFERRED = ["name", "email", "role", "title", "state", "type", "updated_at", "created_at"];
let openapi = null;

async function spec(ctx) {
  if (!openapi) {
    const response = await fetch(`${ctx.config.functionsBase}/openapi`);
    openapi = response.ok ? await response.json() : { paths: {} };
  }
  return openapi;
}

function parametersOf(doc, stream) {
  const op = (doc.paths[`/records/{connection_id}/${stream}`] || {}).get;
  if (!op) return null;
  return (op.parameters || []).filter((p) => p.in === "query" && !SKIP.has(p.name));
}

function schemaOf(param) {
  const s = param.schema || {};
  const options = s.anyOf ? s.anyOf.filter((x) => x.type !== "null") : [s];
  return { enum: options.flatMap((x) => x.enum || []), format: options.map((x) => x.format).find(Boolean),
    type: options.map((x) => x.type).find(Boolean), default: s.default };
}

function input(param) {
  const s = schemaOf(param);
  const attrs = { name: param.name, id: `filter-${param.name}`, title: param.description || param.name };
  if (s.type === "boolean") return h("input", { ...attrs, type: "checkbox", checked: s.default === true });
  if (s.enum.length) {
    const blank = s.default === null || s.default === undefined;
    return h("select", attrs, blank ? h("option", { value: "" }, "any") : null,
      s.enum.map((v) => h("option", { value: v, selected: v === s.default }, v)));
  }
  if (s.format === "date" || s.format === "date-time") return h("input", { ...attrs, type: "date" });
  if (s.type === "integer") return h("input", { ...attrs, type: "number", value: s.default ?? "", min: 1, max: 200, style: "width: 90px" });
  return h("input", { ...attrs, type: "search", placeholder: param.description || "" });
}

function columns(items) {
  const keys = new Set();
  for (const item of items.slice(0, 20)) {
    for (const [k, v] of Object.entries(item)) if (v === null || typeof v !== "object") keys.add(k);
  }
  const picked = PREFERRED.filter((k) => keys.has(k));
  for (const k of keys) {
    if (picked.length < 5 && !["id", "deleted"].includes(k) && !k.startsWith("_") && !picked.includes(k)) picked.push(k);
  }
  return ["id", ...picked.slice(0, 5)];
}

function cell(value, key) {
  if (value === null || value === undefined) return "—";
  if (key.endsWith("_at") && (typeof value === "string" || typeof value === "number")) {
    return when(typeof value === "number" ? value * 1000 : value);
  }
  return String(value);
}

export async function render(ctx, [connectionId, stream, key]) {
  const [{ connections }, { connectors }, doc] = await Promise.all([
    ctx.api.get("/connections"), ctx.api.get("/connectors"), spec(ctx),
  ]);
  if (!connections.length) {
    mount(h("h1", {}, "Records"), h("div", { class: "card muted" }, "No connection yet."));
    return;
  }
  const connection = connections.find((c) => c.id === connectionId) || connections[0];
  const connector = connectors.find((c) => c.vendor === connection.vendor) || { streams: [] };
  const streams = connector.streams.filter((s) => s.served && parametersOf(doc, s.name));
  const current = streams.find((s) => s.name === stream) || streams[0];
  const base = `#/records/${encodeURIComponent(connection.id)}`;

  const picker = h("select", { id: "records-connection", onchange: (e) => { location.hash = `#/records/${encodeURIComponent(e.target.value)}`; } },
    connections.map((c) => h("option", { value: c.id, selected: c.id === connection.id }, c.name)));
  const head = h("div", { class: "spread" }, h("h1", {}, "Records"), h("label", {}, "Connection", picker));
  if (!current) {
    mount(head, h("div", { class: "card muted", id: "records-unavailable" },
      "This deployment serves no records for this connection's streams yet (no /records/... path in its OpenAPI document)."));
    return;
  }

  const params = parametersOf(doc, current.name);
  const controls = params.map((p) => [p.name, input(p)]);
  const table = h("div", { id: "records-table" });
  const detail = h("div", { class: "card", id: "record-detail" }, h("p", { class: "muted" }, "Pick a record to see its JSON."));
  const pager = h("div", { class: "row", id: "records-pager" });
  const cursors = [null];
  let page = 0;

  function query() {
    const q = {};
    for (const [name, el] of controls) {
      if (el.type === "checkbox") { if (el.checked) q[name] = "true"; } else if (el.value !== "") q[name] = el.value;
    }
    if (cursors[page]) q.cursor = cursors[page];
    return q;
  }

  async function showRecord(id) {
    fill(detail, h("p", { class: "muted" }, "Loading…"));
    try {
      const record = await ctx.api.get(`/records/${encodeURIComponent(connection.id)}/${encodeURIComponent(current.name)}/${encodeURIComponent(id)}`);
      history.replaceState(null, "", `${base}/${encodeURIComponent(current.name)}/${encodeURIComponent(id)}`);
      fill(detail, h("div", { class: "spread" }, h("h2", {}, `${current.name} ${id}`)),
        h("pre", { class: "json", id: "record-json" }, JSON.stringify(record, null, 2)));
    } catch (err) {
      fill(detail, h("p", { class: "error" }, errorText(err)));
    }
  }

  async function load() {
    fill(table, h("p", { class: "muted" }, "Loading…"));
    let answer;
    try {
      answer = await ctx.api.get(`/records/${encodeURIComponent(connection.id)}/${encodeURIComponent(current.name)}`, query());
    } catch (err) {
      fill(table, h("p", { class: "error", id: "records-error" }, errorText(err)));
      fill(pager, );
      return;
    }
    const items = answer.items || [];
    cursors[page + 1] = answer.next_cursor;
    const cols = columns(items);
    fill(table, items.length ? h("table", { id: "records" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))),
      h("tbody", {}, items.map((item) => h("tr", { class: "clickable", dataset: { key: item.id },
        onclick: (e) => { for (const r of table.querySelectorAll("tr.selected")) r.classList.remove("selected"); e.currentTarget.classList.add("selected"); showRecord(item.id); } },
      cols.map((c) => h("td", {}, cell(item[c], c)))))))
      : h("p", { class: "muted", id: "records-empty" }, "No record matches."));
    fill(pager, 
      h("button", { id: "records-prev", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "Previous"),
      h("span", { class: "muted", id: "records-page" }, `page ${page + 1} · ${items.length} records`),
      h("button", { id: "records-next", disabled: !answer.next_cursor, onclick: () => { page += 1; load(); } }, "Next"));
  }

  const apply = () => { cursors.length = 1; page = 0; load(); };
  for (const [, el] of controls) el.addEventListener("change", apply);
  mount(
    head,
    h("div", { class: "tabs", id: "records-streams" }, streams.map((s) =>
      h("a", { href: `${base}/${encodeURIComponent(s.name)}`, class: s.name === current.name ? "active" : "", dataset: { stream: s.name } }, s.name))),
    h("div", { class: "card" }, h("div", { class: "form", id: "records-filters" },
      controls.map(([name, el]) => h("label", {}, name.replace(/_/g, " "), el)),
      h("div", {}, action("Apply", async () => apply(), { class: "primary", id: "records-apply" })))),
    h("div", { class: "split" }, h("div", { class: "card" }, table, pager), detail),
  );
  await load();
  if (key) await showRecord(key);
}
