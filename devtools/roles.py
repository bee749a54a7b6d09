"""Give a person a role (the `role` custom claim the functions read), in a real project.

    python -m devtools.roles --project acme-tributary alice@acme.example admin
    python -m devtools.roles --project acme-tributary alice@acme.example member
    python -m devtools.roles --project acme-tributary --list

Uses application-default credentials (`gcloud auth application-default login`) of someone
allowed to manage Firebase Authentication users (roles/firebaseauth.admin, or Owner). The
person must have signed in once, so that their user exists. The new role is in their next
ID token: the console picks it up at the next sign-in (or within the hour, when the token
is refreshed). Locally there is nothing to grant: pick the role when signing in.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

ROLES = ("member", "admin")


def set_role(auth: Any, email: str, role: str) -> dict[str, Any]:
    """Merge the role into the user's existing custom claims (others are kept)."""
    user = auth.get_user_by_email(email)
    claims = {**(user.custom_claims or {}), "role": role}
    auth.set_custom_user_claims(user.uid, claims)
    return dict(auth.get_user(user.uid).custom_claims or {})


def list_roles(auth: Any) -> list[tuple[str, str]]:
    found = []
    for user in auth.list_users().iterate_all():
        found.append((user.email or user.uid, (user.custom_claims or {}).get("role", "member")))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.roles", description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True, help="the Google Cloud / Firebase project id")
    parser.add_argument("--list", action="store_true", help="list every user and their role")
    parser.add_argument("email", nargs="?")
    parser.add_argument("role", nargs="?", choices=ROLES)
    args = parser.parse_args(argv)
    if not args.list and not (args.email and args.role):
        parser.error("give an email and a role, or --list")

    import firebase_admin
    from firebase_admin import auth

    try:
        firebase_admin.initialize_app(options={"projectId": args.project})
        if args.list:
            for email, role in list_roles(auth):
                print(f"{role:7} {email}")
        else:
            claims = set_role(auth, args.email, args.role)
            print(f"{args.email} is now {claims['role']} (effective at their next sign-in or token refresh)")
    except auth.UserNotFoundError:
        print(f"roles: no user {args.email}: they must sign in to the console once first.", file=sys.stderr)
        return 2
    except (ValueError, firebase_admin.exceptions.FirebaseError) as exc:
        print(f"roles: {exc}\n(application-default credentials of someone who manages Firebase Auth users? "
              "gcloud auth application-default login)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
