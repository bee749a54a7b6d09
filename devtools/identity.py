"""A local stand-in for Google's token issuers, so every signature is really verified.

It holds one RSA key, serves its certificate in the formats Google serves (the Firebase
securetoken x509 set and the OAuth2 v1 certs), and mints RS256 tokens: Firebase ID tokens
for people and Google OIDC tokens for machines (the Cloud Tasks emulator asks it for those).

A sign-in (POST /mint/id-token) also answers a refresh token, which POST /v1/token
exchanges for a fresh ID token the way Firebase's securetoken.googleapis.com does, so
devtools.token refreshes locally and in production with the same request. Browsers may
call those two endpoints only from the origins it is told (the local console).

    python -m devtools.identity --port 9010 --project tributary-local
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

FIREBASE_ISSUER_PREFIX = "https://securetoken.google.com/"
GOOGLE_ISSUER = "https://accounts.google.com"


def _new_key_and_cert(common_name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class LocalIdentity:
    """A key pair plus token minting with Google's claim layout."""

    project_id: str
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.key_pem, self.cert_pem = _new_key_and_cert("tributary-local-identity")
        self.signer = crypt.RSASigner.from_string(self.key_pem, key_id=self.kid)

    def certs(self) -> dict[str, str]:
        return {self.kid: self.cert_pem}

    def sign(self, claims: dict[str, Any], *, signer: crypt.Signer | None = None) -> str:
        return jwt.encode(signer or self.signer, claims).decode()

    def id_token_claims(
        self,
        email: str,
        *,
        role: str | None = "member",
        email_verified: bool = True,
        uid: str | None = None,
        lifetime_s: int = 3600,
        **overrides: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": FIREBASE_ISSUER_PREFIX + self.project_id,
            "aud": self.project_id,
            "auth_time": now,
            "user_id": uid or email,
            "sub": uid or email,
            "iat": now,
            "exp": now + lifetime_s,
            "email": email,
            "email_verified": email_verified,
            "firebase": {"identities": {"google.com": [uid or email], "email": [email]}, "sign_in_provider": "google.com"},
        }
        if role:
            claims["role"] = role
        claims.update(overrides)
        return claims

    def id_token(self, email: str, **kwargs: Any) -> str:
        return self.sign(self.id_token_claims(email, **kwargs))

    def oidc_claims(self, audience: str, email: str, *, lifetime_s: int = 3600, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": GOOGLE_ISSUER,
            "aud": audience,
            "azp": email,
            "sub": str(abs(hash(email)) % 10**21),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + lifetime_s,
        }
        claims.update(overrides)
        return claims

    def oidc_token(self, audience: str, email: str, **kwargs: Any) -> str:
        return self.sign(self.oidc_claims(audience, email, **kwargs))


class IdentityServer:
    """Serves the certificate sets and a mint endpoint on loopback (never deploy this)."""

    def __init__(
        self, identity: LocalIdentity, host: str = "127.0.0.1", port: int = 0, cors_origins: tuple[str, ...] = ()
    ) -> None:
        self.identity = identity
        self.cors_origins = {o.lower() for o in cors_origins}
        #: refresh token -> (email, role), like Firebase's: valid until the identity stops
        self._refresh: dict[str, tuple[str, str]] = {}
        self._server = make_server(host, port, self._app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def firebase_certs_url(self) -> str:
        return f"{self.base_url}/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    @property
    def oidc_certs_url(self) -> str:
        return f"{self.base_url}/oauth2/v1/certs"

    @property
    def mint_oidc_url(self) -> str:
        return f"{self.base_url}/mint/oidc"

    def sign_in(self, email: str, role: str, lifetime_s: int = 3600) -> dict[str, Any]:
        """An ID token and a refresh token, as Firebase answers a sign-in."""
        refresh_token = secrets.token_urlsafe(32)
        self._refresh[refresh_token] = (email, role)
        token = self.identity.id_token(email, role=role, lifetime_s=lifetime_s)
        return {"token": token, "id_token": token, "refresh_token": refresh_token, "expires_in": str(lifetime_s)}

    def _refreshed(self, request: Request) -> Response:
        """securetoken's POST /v1/token: grant_type=refresh_token (form or JSON body)."""
        body = request.get_json(silent=True) if request.is_json else request.form
        body = body or {}
        found = self._refresh.get(str(body.get("refresh_token", "")))
        if body.get("grant_type") != "refresh_token" or found is None:
            return Response('{"error": {"code": 400, "message": "INVALID_REFRESH_TOKEN"}}', 400,
                            mimetype="application/json")
        email, role = found
        token = self.identity.id_token(email, role=role)
        answer = {"id_token": token, "access_token": token, "refresh_token": body["refresh_token"],
                  "expires_in": "3600", "token_type": "Bearer", "user_id": email,
                  "project_id": self.identity.project_id}
        return Response(json.dumps(answer), mimetype="application/json")

    def _with_cors(self, request: Request, response: Response) -> Response:
        origin = (request.headers.get("Origin") or "").lower()
        if origin and origin in self.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers["Access-Control-Allow-Methods"] = "POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.vary.add("Origin")
        return response

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "OPTIONS" and request.path in ("/mint/id-token", "/v1/token"):
            response = self._with_cors(request, Response(status=204))
            return response(environ, start_response)
        if request.method == "GET" and request.path in (
            "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
            "/oauth2/v1/certs",
        ):
            response = Response(json.dumps(self.identity.certs()), mimetype="application/json")
            response.headers["Cache-Control"] = "public, max-age=300"
        elif request.method == "POST" and request.path == "/mint/oidc":
            body = request.get_json(silent=True) or {}
            if not body.get("audience") or not body.get("email"):
                response = Response('{"error": "audience and email are required"}', 400, mimetype="application/json")
            else:
                token = self.identity.oidc_token(body["audience"], body["email"])
                response = Response(json.dumps({"token": token}), mimetype="application/json")
        elif request.method == "POST" and request.path == "/mint/id-token":
            body = request.get_json(silent=True) or {}
            if not body.get("email"):
                response = Response('{"error": "email is required"}', 400, mimetype="application/json")
            else:
                signed_in = self.sign_in(str(body["email"]), str(body.get("role", "member")))
                response = Response(json.dumps(signed_in), mimetype="application/json")
        elif request.method == "POST" and request.path == "/v1/token":
            response = self._refreshed(request)
        else:
            response = Response('{"error": "not found"}', 404, mimetype="application/json")
        return self._with_cors(request, response)(environ, start_response)

    def start(self) -> IdentityServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9010)
    parser.add_argument("--project", default="tributary-local")
    args = parser.parse_args()
    server = IdentityServer(LocalIdentity(args.project), args.host, args.port)
    print(f"identity ready on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
