"""A smoke check of a deployment, right after `terraform apply` (or of the local stack).

    python -m devtools.smoke --base "$(terraform -chdir=infra/terraform output -raw functions_base_url)" \\
        --console "$(terraform -chdir=infra/terraform output -raw console_url)" [--token "$ID_TOKEN"]

Checks, each printed as ok or FAILED with the reason: health (Firestore answers), the
OpenAPI document, that a protected function refuses a call without a token (401) and one
with a forged token, that the console's origin passes CORS, that the console is served with
a Firebase config, and, with --token, that /me, /connections and /sync-status answer for
that user. Exit status 1 when anything failed. Reads only; changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx

FORGED = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImZvcmdlZCJ9.eyJlbWFpbCI6Im1hbGxvcnlAZXhhbXBsZS5jb20iLCJlbWFpbF92ZXJpZmllZ"
          "CI6dHJ1ZSwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJl")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _expect(response: httpx.Response, status: int, code: str | None = None) -> str | None:
    """None when the answer is what a healthy deployment gives, else why not."""
    if response.status_code != status:
        return f"answered {response.status_code}: {response.text[:200]}"
    if code is not None:
        try:
            found = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return f"no error body: {response.text[:200]}"
        if found != code:
            return f"error code {found}, expected {code}"
    return None


def run_checks(base: str, console: str | None, token: str | None, http: httpx.Client) -> list[Check]:
    base = base.rstrip("/")
    checks: list[Check] = []

    def check(name: str, probe: Callable[[], str | None]) -> None:
        try:
            problem = probe()
        except httpx.HTTPError as exc:
            problem = f"no answer ({exc.__class__.__name__}: {exc})"
        checks.append(Check(name, problem is None, problem or "ok"))

    def health() -> str | None:
        response = http.get(f"{base}/health")
        return _expect(response, 200) or (None if response.json().get("firestore") == "ok" else response.text)

    check("health: the functions run and Firestore answers", health)
    check("openapi: the API document is served", lambda: _expect(http.get(f"{base}/openapi"), 200))
    check("auth: no token is refused (401)", lambda: _expect(http.get(f"{base}/connections"), 401))
    check("auth: a forged token is refused (401)",
          lambda: _expect(http.get(f"{base}/me", headers={"Authorization": f"Bearer {FORGED}"}), 401))
    if console:
        origin = console.rstrip("/")

        def cors() -> str | None:
            response = http.options(f"{base}/connections", headers={
                "Origin": origin, "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization"})
            problem = _expect(response, 204)
            if problem:
                return f"{problem} (is {origin} in CORS_ALLOWED_ORIGINS?)"
            return None

        def served() -> str | None:
            page = http.get(f"{origin}/")
            config = http.get(f"{origin}/config.json")
            if page.status_code != 200 or "app.js" not in page.text:
                return f"{origin}/ answered {page.status_code}; deploy it: firebase deploy --only hosting"
            mode = config.json().get("mode") if config.status_code == 200 else None
            if mode not in ("firebase", "local"):
                return f"{origin}/config.json is missing or wrong ({config.status_code})"
            return None

        check("cors: the console's origin may call the API", cors)
        check("console: served, with its config", served)
    if token:
        auth = {"Authorization": f"Bearer {token}"}

        def me() -> str | None:
            response = http.get(f"{base}/me", headers=auth)
            problem = _expect(response, 200)
            if problem:
                return problem
            who = response.json()
            print(f"  signed in as {who['email']} ({who['role']})")
            return None

        check("me: the token is accepted", me)
        check("connections: listed", lambda: _expect(http.get(f"{base}/connections", headers=auth), 200))
        check("sync-status: answered", lambda: _expect(http.get(f"{base}/sync-status", headers=auth), 200))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="FUNCTIONS_BASE_URL (terraform output functions_base_url)")
    parser.add_argument("--console", help="the console's URL (terraform output console_url)")
    parser.add_argument("--token", help="an ID token (python -m devtools.token ...) for the signed-in checks")
    args = parser.parse_args(argv)
    with httpx.Client(timeout=60, follow_redirects=True) as http:
        checks = run_checks(args.base, args.console, args.token, http)
    for item in checks:
        print(f"{'ok    ' if item.ok else 'FAILED'}  {item.name}" + ("" if item.ok else f": {item.detail}"))
    failed = [c for c in checks if not c.ok]
    print(f"smoke check: {len(checks) - len(failed)} ok, {len(failed)} FAILED" if failed else f"smoke check: all {len(checks)} ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
