"""Print an ID token for scripts and curl, without the console.

    Locally (the stack from `make dev` is running):
        python -m devtools.token --email admin@example.com --role admin

    In production (a person signed in once in the console and copied their refresh token
    from its "Me" page; the web API key is in the console's config.json and in
    `terraform output console_config`):
        python -m devtools.token --api-key AIza... --refresh-token-file ~/.config/tributary/refresh-token

Only the token goes to stdout, so `TOKEN=$(python -m devtools.token ...)` works; anything
wrong is one line on stderr and exit status 2. Locally the token is minted by the local
identity (the functions verify its signature like Google's); in production it comes from
Firebase's securetoken endpoint, exactly what the Firebase SDK does when a token expires,
so it carries the user's real claims (role included) and nothing is trusted that the
server does not check. For machines, which are not people, see docs/deploy.md
("Tokens for scripts"): `gcloud auth print-identity-token` for the scheduler's account.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

from devtools.local_data import LocalData, default_root

SECURETOKEN_URL = "https://securetoken.googleapis.com"


class TokenError(RuntimeError):
    """Why no token could be had, as one sentence for stderr."""


def local_identity_url(explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    stack = LocalData(default_root()).read_stack()
    if not stack or "identity" not in stack:
        raise TokenError(f"No local stack is running (no {default_root() / 'stack.json'}): start it with `make dev`, "
                         "or pass --identity-url.")
    return str(stack["identity"]).rstrip("/")


def mint_local(identity_url: str, email: str, role: str) -> dict[str, str]:
    """A sign-in against the local identity: an ID token and its refresh token."""
    try:
        response = httpx.post(f"{identity_url}/mint/id-token", json={"email": email, "role": role}, timeout=10)
    except httpx.HTTPError as exc:
        raise TokenError(f"The local identity at {identity_url} did not answer ({exc}); is `make dev` running?") from None
    if response.status_code != 200:
        raise TokenError(f"The local identity refused: {response.status_code} {response.text[:200]}")
    return dict(response.json())


def refresh(securetoken_url: str, api_key: str, refresh_token: str) -> dict[str, str]:
    """Firebase's token refresh (the REST call the Firebase SDK makes): a fresh ID token."""
    try:
        response = httpx.post(
            f"{securetoken_url.rstrip('/')}/v1/token",
            params={"key": api_key},
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            timeout=20,
        )
    except httpx.HTTPError as exc:
        raise TokenError(f"{securetoken_url} did not answer ({exc}).") from None
    if response.status_code != 200:
        try:
            reason = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            reason = response.text[:200]
        raise TokenError(f"The refresh was refused ({response.status_code} {reason}): sign in to the console "
                         "again and copy a new refresh token.")
    return dict(response.json())


def read_refresh_token(args: argparse.Namespace) -> str | None:
    if args.refresh_token_file:
        try:
            return Path(args.refresh_token_file).expanduser().read_text().strip()
        except OSError as exc:
            raise TokenError(f"Cannot read {args.refresh_token_file}: {exc.strerror}.") from None
    return args.refresh_token or os.environ.get("TRIBUTARY_REFRESH_TOKEN") or None


def token(args: argparse.Namespace) -> str:
    if not args.email:
        refresh_token = read_refresh_token(args)
        if not refresh_token:
            raise TokenError("Pass --email (local stack) or a refresh token (--refresh-token-file, production).")
        if not args.api_key and not args.securetoken_url:
            raise TokenError("--api-key is needed with a refresh token (the console's config.json has it).")
        return refresh(args.securetoken_url or SECURETOKEN_URL, args.api_key or "local", refresh_token)["id_token"]
    minted = mint_local(local_identity_url(args.identity_url), args.email, args.role)
    if args.show_refresh_token:
        print(f"refresh token: {minted['refresh_token']}", file=sys.stderr)
    return minted["token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.token", description="Print an ID token for scripts.")
    local = parser.add_argument_group("local stack")
    local.add_argument("--email", help="who to sign in as (an allowed domain: example.com locally)")
    local.add_argument("--role", default="member", choices=("member", "admin"))
    local.add_argument("--identity-url", help="the local identity (default: the running stack's, from .local/stack.json)")
    local.add_argument("--show-refresh-token", action="store_true", help="also print a refresh token (to stderr)")
    prod = parser.add_argument_group("production (Firebase Authentication)")
    prod.add_argument("--api-key", default=os.environ.get("TRIBUTARY_FIREBASE_API_KEY"),
                      help="the Firebase web API key (default: $TRIBUTARY_FIREBASE_API_KEY)")
    prod.add_argument("--refresh-token-file", help="a file holding the refresh token copied from the console")
    prod.add_argument("--refresh-token", help="the refresh token itself (prefer the file: argv is visible to ps)")
    prod.add_argument("--securetoken-url", help=f"where to refresh (default {SECURETOKEN_URL}; the local identity's URL locally)")
    args = parser.parse_args(argv)
    try:
        print(token(args))
    except TokenError as exc:
        print(f"devtools.token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
