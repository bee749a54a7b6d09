"""A local stand-in for Google's token issuers, so every signature is really verified.

It holds one RSA key, serves its certificate in the formats Google serves (the Firebase
securetoken x509 set and the OAuth2 v1 certs), and mints RS256 tokens: Firebase ID tokens
for people and Google OIDC tokens for machines (the Cloud Tasks emulator asks it for those).

    python -m devtools.identity --port 9010 --project tributary-local
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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

    def __init__(self, identity: LocalIdentity, host: str = "127.0.0.1", port: int = 0) -> None:
        self.identity = identity
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

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
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
                token = self.identity.id_token(body["email"], role=body.get("role", "member"))
                response = Response(json.dumps({"token": token}), mimetype="application/json")
        else:
            response = Response('{"error": "not found"}', 404, mimetype="application/json")
        return response(environ, start_response)

    def start(self) -> IdentityServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()


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
