// The sign-in page: Google (production) or a test user and role (the local stack).

import { h, mount, errorText } from "../ui.js";

export function render({ config, auth }, problem) {
  const error = h("p", { class: "error", id: "signin-error" }, problem || "");
  const done = () => { location.hash = "#/"; location.reload(); };
  const attempt = (run) => async () => {
    error.textContent = "";
    try { await run(); done(); } catch (err) { error.textContent = errorText(err); }
  };
  let body;
  if (config.mode === "local") {
    const email = h("input", { id: "signin-email", type: "email", value: config.testUsers[0].email, required: true });
    const role = h("select", { id: "signin-role" }, h("option", { value: "admin" }, "admin"),
      h("option", { value: "member" }, "member"));
    const pick = h("select", {
      id: "signin-user",
      onchange: (e) => { const u = config.testUsers[e.target.value]; email.value = u.email; role.value = u.role; },
    }, config.testUsers.map((u, i) => h("option", { value: i }, `${u.email} (${u.role})`)));
    body = [
      h("p", { class: "muted" }, "Local stack: pick a test user and role. The local identity mints a real signed ID ",
        "token; the functions check it exactly as they check Google's."),
      h("div", { class: "form" },
        h("label", {}, "Test user", pick), h("label", {}, "Email", email), h("label", {}, "Role", role)),
      h("p", {}, h("button", { class: "primary", id: "signin-local",
        onclick: attempt(() => auth.signIn(email.value.trim(), role.value)) }, "Sign in")),
    ];
  } else {
    body = [
      h("p", { class: "muted" }, `Sign in with your Google account of ${config.allowedDomains.join(", ")}.`),
      h("p", {}, h("button", { class: "primary", id: "signin-google", onclick: attempt(() => auth.signIn()) },
        "Sign in with Google")),
    ];
  }
  mount(h("div", { class: "card signin" }, h("h1", {}, "Sign in to Tributary"), body, error));
}
