// The console's shell: load config.json, sign in, ask the server who we are (/me), then
// route #/... to a page. Each page is a module exporting render(ctx, params).

import { createApi } from "./api.js";
import { createAuth } from "./auth.js";
import { h, mount, toast, errorText, fill } from "./ui.js";
import * as connections from "./pages/connections.js";
import * as connection from "./pages/connection.js";
import * as records from "./pages/records.js";
import * as health from "./pages/health.js";
import * as events from "./pages/events.js";
import * as credits from "./pages/credits.js";
import * as me from "./pages/me.js";
import * as signin from "./pages/signin.js";

const routes = [
  [/^#?\/?$/, connections, "connections"],
  [/^#\/connections\/([^/?]+)$/, connection, "connections"],
  [/^#\/records(?:\/([^/?]+))?(?:\/([^/?]+))?(?:\/([^/?]+))?$/, records, "records"],
  [/^#\/health$/, health, "health"],
  [/^#\/events(?:\/([^/?]+))?$/, events, "events"],
  [/^#\/credits$/, credits, "credits"],
  [/^#\/me$/, me, "me"],
];

let stopPage = null;

async function route(ctx) {
  if (stopPage) { stopPage(); stopPage = null; }
  const hash = location.hash || "#/";
  for (const [pattern, page, nav] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("active", link.dataset.nav === nav);
    try {
      stopPage = (await page.render(ctx, match.slice(1).map((p) => p && decodeURIComponent(p)))) || null;
    } catch (err) {
      mount(h("div", { class: "card error" }, errorText(err)));
    }
    return;
  }
  mount(h("div", { class: "card" }, "No such page. ", h("a", { href: "#/" }, "Connections")));
}

function header(ctx) {
  const who = document.getElementById("who");
  fill(who, 
    h("span", { id: "who-email" }, ctx.me.email),
    h("span", { class: `badge ${ctx.me.role === "admin" ? "admin" : ""}`, id: "who-role" }, ctx.me.role),
    h("button", { onclick: async () => { await ctx.auth.signOut(); location.hash = "#/"; location.reload(); } },
      "Sign out"),
  );
  document.getElementById("nav").hidden = false;
}

async function main() {
  const config = await (await fetch("./config.json", { cache: "no-store" })).json();
  if (config.environment && config.environment !== "production") {
    const env = document.getElementById("env");
    env.textContent = config.mode === "local"
      ? "local stack: sign-in is the local identity's test users; data is the emulator's."
      : `${config.environment}: not the production deployment.`;
    env.hidden = false;
  }
  const auth = createAuth(config);
  await auth.ready();
  const api = createApi(config.functionsBase, () => auth.token());
  if (!auth.user) {
    signin.render({ config, auth });
    return;
  }
  let who;
  try {
    who = await api.get("/me");
  } catch (err) {
    await auth.signOut();
    signin.render({ config, auth }, errorText(err));
    return;
  }
  const ctx = {
    config, auth, api, me: who,
    isAdmin: who.role === "admin",
    // who may change a connection: admins, and the owner of a personal one (the server decides anyway)
    canManage: (c) => who.role === "admin" || (c.owner.kind === "user" && c.owner.uid === who.uid),
  };
  header(ctx);
  window.addEventListener("hashchange", () => route(ctx));
  await route(ctx);
}

main().catch((err) => { mount(h("div", { class: "card error" }, `The console could not start: ${errorText(err)}`)); toast(errorText(err), true); });
