// Connections: the list with status and last run, actions for those who may manage each,
// and the form that adds one (credential fields come from the connector's declaration).

import { h, mount, badge, when, action, toast, fill } from "../ui.js";

export async function render(ctx) {
  const [{ connections }, { connections: statuses }, { connectors }] = await Promise.all([
    ctx.api.get("/connections"), ctx.api.get("/sync-status"), ctx.api.get("/connectors"),
  ]);
  const status = Object.fromEntries(statuses.map((s) => [s.connection_id, s]));
  const titles = Object.fromEntries(connectors.map((c) => [c.vendor, c.title]));
  const addable = connectors.filter((c) => ctx.isAdmin || c.ownership === "user");
  const refresh = () => render(ctx);

  const rows = connections.map((c) => {
    const s = status[c.id] || {};
    const run = s.last_run;
    const manage = ctx.canManage(c);
    return h("tr", { dataset: { connection: c.id } },
      h("td", {}, h("a", { href: `#/connections/${encodeURIComponent(c.id)}` }, c.name),
        h("div", { class: "muted small" }, c.id)),
      h("td", {}, titles[c.vendor] || c.vendor),
      h("td", {}, c.owner.kind === "org" ? "organization" : c.owner.email || "personal"),
      h("td", {}, badge(c.status)),
      h("td", {}, s.running_run_id ? badge("running") : run ? [badge(run.status), " ", h("span", { class: "muted small" }, when(run.finished_at || run.created_at))] : h("span", { class: "muted" }, "never")),
      h("td", { class: "row" },
        h("a", { class: "button", href: `#/records/${encodeURIComponent(c.id)}` }, "Records"),
        manage && c.status !== "disabled" && action("Sync now", async () => {
          await ctx.api.post("/sync-now", { connection_id: c.id });
          location.hash = `#/connections/${encodeURIComponent(c.id)}`;
        }, { class: "admin-action", dataset: { action: "sync" } }),
        manage && (c.status === "disabled"
          ? action("Resume", async () => { await ctx.api.post(`/connections/${c.id}/resume`); refresh(); },
            { class: "admin-action", dataset: { action: "resume" } })
          : action("Pause", async () => { await ctx.api.post(`/connections/${c.id}/pause`); refresh(); },
            { class: "admin-action", dataset: { action: "pause" } })),
        manage && action("Delete", async () => {
          if (!confirm(`Delete ${c.name} and all its synced data? This cannot be undone.`)) return;
          await ctx.api.del(`/connections/${c.id}`);
          toast(`${c.name} deleted.`);
          refresh();
        }, { class: "danger admin-action", dataset: { action: "delete" } }),
      ));
  });

  const form = addForm(ctx, addable);
  form.hidden = connections.length > 0;
  mount(
    h("div", { class: "spread" }, h("h1", {}, "Connections"),
      addable.length ? h("button", { class: "primary", id: "add-connection",
        onclick: () => { form.hidden = !form.hidden; } }, "Add a connection") : null),
    form,
    h("div", { class: "card" }, connections.length
      ? h("table", { id: "connections" },
        h("thead", {}, h("tr", {}, ["Name", "Vendor", "Owner", "Status", "Last run", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows))
      : h("p", { class: "muted", id: "no-connections" }, ctx.isAdmin
        ? "No connection yet: add one to start syncing."
        : "No connection yet. An admin adds the organization's connections.")),
  );
}

function addForm(ctx, connectors) {
  if (!connectors.length) return h("div");
  const sandboxesOffered = ctx.config.sandboxes || {};
  // a vendor with a local sandbox first: on the local stack, the one that works right away
  const preferred = (connectors.find((c) => sandboxesOffered[c.vendor]) || connectors[0]).vendor;
  const vendor = h("select", { id: "add-vendor" }, connectors.map((c) =>
    h("option", { value: c.vendor, selected: c.vendor === preferred }, c.title)));
  const fields = h("div", { class: "form" });
  const streams = h("div", { class: "row checks", id: "add-streams" });
  const sandboxes = ctx.config.sandboxes || {};
  const inputs = {};

  function build() {
    const c = connectors.find((x) => x.vendor === vendor.value);
    const baseUrl = c.config.find((f) => f.name === "base_url");
    inputs.name = h("input", { id: "add-name", value: c.title, required: true });
    inputs.base_url = h("input", { id: "add-base-url", list: "add-base-urls", value: (baseUrl && baseUrl.default) || c.base_urls[0] || "" });
    // the connector's other config (Salesforce's login_url...): text fields only; others keep their defaults
    inputs.config = Object.fromEntries(c.config
      .filter((f) => f.name !== "base_url" && (f.default === null || f.default === undefined || typeof f.default === "string"))
      .map((f) => [f.name, h("input", { id: `add-config-${f.name}`, value: f.default || "", required: f.required, title: f.description || "" })]));
    inputs.credentials = Object.fromEntries(c.auth.fields.map((f) => [f,
      h("input", { id: `add-cred-${f}`, type: "password", autocomplete: "off", placeholder: f })]));
    const sandbox = sandboxes[c.vendor];
    fill(fields, 
      h("label", {}, "Name", inputs.name),
      h("label", {}, "API base URL", inputs.base_url,
        h("datalist", { id: "add-base-urls" }, [...c.base_urls, ...(sandbox ? [sandbox.base_url] : [])].map((u) => h("option", { value: u })))),
      Object.entries(inputs.config).map(([f, input]) => h("label", {}, f.replace(/_/g, " "), input)),
      Object.entries(inputs.credentials).map(([f, input]) => h("label", {}, c.auth.oauth ? `OAuth app ${f}` : f, input)),
      sandbox ? h("div", {}, h("button", { type: "button", id: "use-sandbox", onclick: () => {
        inputs.base_url.value = sandbox.base_url;
        inputs.name.value = sandbox.name || `Sandbox ${c.title}`;
        for (const [f, v] of Object.entries(sandbox.credentials)) if (inputs.credentials[f]) inputs.credentials[f].value = v;
        for (const [f, v] of Object.entries(sandbox.config || {})) if (inputs.config[f]) inputs.config[f].value = v;
      } }, "Use the local sandbox")) : null,
    );
    fill(streams, h("span", { class: "muted" }, "Streams:"), c.streams.map((s) =>
      h("label", { class: "row" }, h("input", { type: "checkbox", checked: true, value: s.name, dataset: { stream: s.name } }), s.name)));
    hint.textContent = c.auth.oauth
      ? "After saving, Connect (on its page) opens the vendor's consent page in a new window."
      : `${c.ownership === "user" ? "A personal connection (yours only)." : "An organization connection."} Credentials are stored encrypted and never shown again.`;
  }

  async function save() {
    const c = connectors.find((x) => x.vendor === vendor.value);
    const chosen = [...streams.querySelectorAll("input[type=checkbox]")].filter((b) => b.checked).map((b) => b.value);
    const credentials = Object.fromEntries(Object.entries(inputs.credentials).map(([f, i]) => [f, i.value]));
    const body = {
      vendor: c.vendor, name: inputs.name.value.trim(), owner: c.ownership,
      config: { base_url: inputs.base_url.value.trim(), ...Object.fromEntries(Object.entries(inputs.config)
        .filter(([, i]) => i.value.trim() !== "").map(([f, i]) => [f, i.value.trim()])) }, credentials,
    };
    if (chosen.length !== c.streams.length) body.selection = { streams: chosen };
    const created = await ctx.api.post("/connections", body);
    toast(c.auth.oauth ? `${created.name} added: Connect it to the vendor.` : `${created.name} added.`);
    location.hash = `#/connections/${encodeURIComponent(created.id)}`;
  }

  const hint = h("p", { class: "muted small" });
  vendor.addEventListener("change", build);
  const form = h("form", { class: "card", id: "add-form", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, "Add a connection"),
    h("div", { class: "form" }, h("label", {}, "Vendor", vendor)),
    fields, streams, hint,
    h("div", { class: "row" }, action("Save", save, { class: "primary", id: "add-save" })));
  build();
  return form;
}
