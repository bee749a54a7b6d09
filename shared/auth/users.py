"""People: a Firebase ID token, verified by firebase-admin, from an allowed Google domain."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.api.policies import ROLE_RANK, Principal
from shared.errors import Forbidden, Misconfigured, ServiceUnavailable, Unauthenticated

if TYPE_CHECKING:
    from firebase_admin import App

    from shared.config import Settings


#: firebase-admin skips the signature check entirely when this is set (it reads it per call)
AUTH_EMULATOR_VARIABLE = "FIREBASE_AUTH_EMULATOR_HOST"


def refuse_auth_emulator() -> None:
    """Refuse to verify while the emulator switch is on: checked before every verification,
    because firebase-admin reads the variable on every verification too (setting it after
    the first request would otherwise turn signature checks off from then on)."""
    if os.environ.get(AUTH_EMULATOR_VARIABLE):
        raise Misconfigured(
            "Token verification is disabled by the environment; refusing to authenticate.",
            code="auth_emulator_enabled",
        )


def role_of(claims: dict[str, Any]) -> str:
    """The `role` custom claim: absent or unknown is member; anything but a string is 403
    (a claim set by hand to a list or a map must not become a role, nor a 500)."""
    role = claims.get("role")
    if role is None:
        return "member"
    if not isinstance(role, str):
        raise Forbidden("Your account's role claim is not valid.")
    return role if role in ROLE_RANK else "member"


@lru_cache(maxsize=4)
def _firebase_app(project_id: str, certs_url: str | None) -> App:
    """One firebase-admin app per (project, certificate set), created on first use."""
    import firebase_admin
    from firebase_admin import credentials
    from google.auth.credentials import AnonymousCredentials

    class VerifyOnlyCredential(credentials.Base):  # type: ignore[misc]
        """Verifying ID tokens needs no credential; this keeps firebase-admin from loading ADC."""

        def get_credential(self) -> Any:
            return AnonymousCredentials()

    name = f"tributary-{project_id}-{certs_url or 'google'}"
    try:
        app = firebase_admin.get_app(name)
    except ValueError:
        app = firebase_admin.initialize_app(
            credential=VerifyOnlyCredential(), options={"projectId": project_id}, name=name
        )
    if certs_url:
        from firebase_admin import auth

        # firebase-admin 7 has no public option for the certificate URL; the local stack
        # and tests serve their own set so that signatures are really verified.
        auth._get_client(app)._token_verifier.id_token_verifier.cert_url = certs_url
    return app


def verify_user(token: str, settings: Settings, *, minimum_role: str) -> Principal:
    """Verify the ID token, then domain, email_verified and role, in that order."""
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from firebase_admin import auth, exceptions

    refuse_auth_emulator()
    app = _firebase_app(settings.project_id, settings.firebase_certs_url)
    try:
        claims = auth.verify_id_token(token, app=app, clock_skew_seconds=5)
    except auth.ExpiredIdTokenError:
        raise Unauthenticated("The ID token has expired.", code="token_expired") from None
    except auth.CertificateFetchError as exc:
        raise ServiceUnavailable("Could not fetch the token certificates.", code="certs_unavailable") from exc
    except (auth.InvalidIdTokenError, ValueError, exceptions.FirebaseError):
        raise Unauthenticated("The ID token is not valid.", code="token_invalid") from None
    refuse_auth_emulator()  # set while verifying: that verification may have skipped the signature

    email = str(claims.get("email") or "").lower()
    domain = email.rpartition("@")[2] if "@" in email else ""
    if domain not in settings.allowed_domains:
        raise Forbidden("Your account's domain may not use Tributary.", code="domain_not_allowed")
    if claims.get("email_verified") is not True:
        raise Forbidden("Your email address is not verified.", code="email_not_verified")
    role = role_of(claims)
    if ROLE_RANK[role] < ROLE_RANK[minimum_role]:
        raise Forbidden(f"This needs the {minimum_role} role.", code="role_required")
    return Principal(kind="user", subject=str(claims["uid"]), email=email, role=role, claims=claims)
