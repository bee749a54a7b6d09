// The signed-in user as the server sees them (/me), and how to get a token for scripts.

import { h, mount, action, toast } from "../ui.js";

async function copy(text, what) {
  await navigator.clipboard.writeText(text);
  toast(`${what} copied.`);
}

export async function render(ctx) {
  const me = await ctx.api.get("/me");
  const local = ctx.config.mode === "local";
  const command = local
    ? `python -m devtools.token --email ${me.email} --role ${me.role}`
    : `python -m devtools.token --api-key ${ctx.config.firebase.apiKey} --refresh-token-file ~/.config/tributary/refresh-token`;
  mount(
    h("h1", {}, "Me"),
    h("div", { class: "card" }, h("div", { class: "kv", id: "me" },
      h("div", {}, "Email"), h("div", { id: "me-email" }, me.email),
      h("div", {}, "Role"), h("div", { id: "me-role" }, me.role),
      h("div", {}, "User id"), h("div", {}, h("code", {}, me.uid)),
      h("div", {}, "Can"), h("div", {}, me.role === "admin"
        ? "see and manage every connection, start syncs, add organization connections"
        : "see the organization's connections and records, and manage your personal connections"))),
    h("div", { class: "card" }, h("h2", {}, "Tokens for scripts"),
      h("p", { class: "muted" }, "Every API call carries an ID token (1 hour). Copy one for curl, or let a script get fresh ones:"),
      h("div", { class: "row" },
        action("Copy ID token", async () => copy(await ctx.auth.token(), "ID token"), { id: "copy-id-token" }),
        !local ? action("Copy refresh token", async () => copy(ctx.auth.refreshToken(), "Refresh token"), { id: "copy-refresh-token" }) : null),
      h("p", {}, h("code", { id: "token-command" }, command)),
      h("p", { class: "muted small" }, local
        ? "Locally the token command asks the running stack's identity, like this console does."
        : "Save the refresh token in that file (chmod 600): it lasts until you sign out everywhere or an admin disables you; treat it like a password.")),
  );
}
