// An OAuth connection's install (Connect) and re-install (Reconnect, after the vendor revoked
// the grant): oauth-start gives the vendor's consent page, opened in another window; the vendor
// sends that window to oauth-callback, which stores the tokens and sets the status. This page
// cannot see that window, so it polls the connection until its status changed.

import { toast } from "./ui.js";

const POLL_MS = 2000;

/** Start the install and follow it; `done(fresh)` once the status changed. Answers a function
 * that stops following (the page's stop, on navigation). */
export async function connectOAuth(ctx, connection, done, tries = 150) {
  const { authorize_url } = await ctx.api.post("/oauth-start", { connection_id: connection.id });
  window.open(authorize_url, "_blank", "noopener");
  toast("Finish in the vendor's window; this page follows.");
  let stopped = false;
  let timer = null;
  const check = async () => {
    if (stopped || tries-- <= 0) return;
    const fresh = await ctx.api.get(`/connections/${encodeURIComponent(connection.id)}`);
    if (fresh.status !== connection.status) {
      toast(`${fresh.name} is ${fresh.status.replace(/_/g, " ")}.`);
      done(fresh);
      return;
    }
    timer = setTimeout(check, POLL_MS);
  };
  timer = setTimeout(check, POLL_MS);
  return () => { stopped = true; clearTimeout(timer); };
}
