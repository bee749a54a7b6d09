// Sign-in. Production: Google through Firebase Authentication (the SDK is vendored into
// ./vendor/firebase.js at build time and loaded only in this mode). Local: the local
// identity of `make dev` mints real RS256 ID tokens for a test user and role; that path
// exists only when config.json says mode "local", which only the local stack serves, and
// the functions verify every token's signature, issuer, audience and domain either way.

const STORE = "tributary.session";
const EARLY_S = 120; // refresh this long before the ID token expires

function decode(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
}

function allowed(email, domains) {
  const domain = String(email || "").split("@").pop().toLowerCase();
  return domains.map((d) => d.toLowerCase()).includes(domain);
}

class LocalAuth {
  constructor(config) {
    this.config = config;
    this.session = JSON.parse(sessionStorage.getItem(STORE) || "null");
  }
  get mode() { return "local"; }
  get user() { return this.session && { email: this.session.email }; }
  async ready() { return this.user; }

  async signIn(email, role) {
    const response = await fetch(`${this.config.identityUrl}/mint/id-token`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email, role }),
    });
    if (!response.ok) throw new Error(`The local identity refused: ${response.status}`);
    this.keep(email, await response.json());
  }

  keep(email, answer) {
    const token = answer.id_token || answer.token;
    this.session = { email, token, refreshToken: answer.refresh_token, exp: decode(token).exp };
    sessionStorage.setItem(STORE, JSON.stringify(this.session));
  }

  async token() {
    if (!this.session) throw new Error("Not signed in.");
    if (this.session.exp - EARLY_S < Date.now() / 1000) {
      // the same refresh request Firebase's SDK sends to securetoken.googleapis.com
      const response = await fetch(`${this.config.identityUrl}/v1/token`, {
        method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: this.session.refreshToken }),
      });
      if (!response.ok) { this.signOut(); throw new Error("Your session ended; sign in again."); }
      this.keep(this.session.email, await response.json());
    }
    return this.session.token;
  }

  refreshToken() { return this.session && this.session.refreshToken; }

  async signOut() {
    this.session = null;
    sessionStorage.removeItem(STORE);
  }
}

class FirebaseAuth {
  constructor(config) { this.config = config; }
  get mode() { return "firebase"; }

  async ready() {
    const sdk = await import("./vendor/firebase.js");
    this.sdk = sdk;
    const app = sdk.initializeApp(this.config.firebase);
    this.auth = sdk.getAuth(app);
    await new Promise((resolve) => {
      const stop = sdk.onAuthStateChanged(this.auth, () => { stop(); resolve(); });
    });
    return this.user;
  }

  get user() {
    const current = this.auth && this.auth.currentUser;
    return current && { email: current.email, verified: current.emailVerified };
  }

  async signIn() {
    const provider = new this.sdk.GoogleAuthProvider();
    // hd narrows Google's account chooser to the workspace; the server decides anyway
    provider.setCustomParameters({ hd: this.config.allowedDomains[0], prompt: "select_account" });
    const result = await this.sdk.signInWithPopup(this.auth, provider);
    const { email, emailVerified } = result.user;
    if (!allowed(email, this.config.allowedDomains) || !emailVerified) {
      await this.signOut();
      throw new Error(`${email} may not sign in here: use an account of ${this.config.allowedDomains.join(", ")}.`);
    }
  }

  async token() {
    if (!this.auth.currentUser) throw new Error("Not signed in.");
    return this.auth.currentUser.getIdToken();
  }

  refreshToken() { return this.auth.currentUser && this.auth.currentUser.refreshToken; }

  async signOut() { await this.sdk.signOut(this.auth); }
}

export function createAuth(config) {
  return config.mode === "local" ? new LocalAuth(config) : new FirebaseAuth(config);
}
