"""Serve the web console locally: the files of console/ as they are (no build step) and
the /config.json that tells the console where the functions are and how to sign in.

Production serves the built console (devtools/console_build.py) from Firebase Hosting
with a config.json for Firebase Authentication; this server exists only in the local
stack and tests. The console calls the functions cross-origin here exactly as it does in
production (its own origin is in the functions' CORS_ALLOWED_ORIGINS).
"""

from __future__ import annotations

import json
import mimetypes
import threading
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

REPO = Path(__file__).resolve().parent.parent
CONSOLE_DIR = REPO / "console"
#: what the local console may reach besides itself (the CSP's connect-src is built from it)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def csp(connect: list[str]) -> str:
    """Nothing but this origin for code and styles; API calls only to the named origins."""
    sources = " ".join(["'self'", *connect])
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {sources}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class ConsoleServer:
    def __init__(self, config: dict[str, Any], *, root: Path = CONSOLE_DIR, host: str = "127.0.0.1",
                 port: int = 0, connect: list[str] | None = None) -> None:
        self.root = root
        self.config = config
        self.connect = connect or []
        self._server = make_server(host, port, self._app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def _file(self, path: str) -> Response:
        if path in ("", "/"):
            path = "index.html"
        full = safe_join(str(self.root), path.lstrip("/"))
        if full is None or not Path(full).is_file() or "node_modules" in Path(full).parts:
            return Response('{"error": "not found"}', 404, mimetype="application/json")
        mimetype = "text/javascript" if full.endswith(".js") else mimetypes.guess_type(full)[0]
        return Response(Path(full).read_bytes(), mimetype=mimetype or "application/octet-stream")

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            response = Response('{"error": "method not allowed"}', 405, mimetype="application/json")
        elif request.path == "/config.json":
            response = Response(json.dumps(self.config), mimetype="application/json")
        else:
            response = self._file(request.path)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = csp(self.connect)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def local_config(functions_base: str, identity_url: str, allowed_domains: list[str],
                 sandboxes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The console's config in local mode: sign-in goes to the local identity, which
    mints real RS256 ID tokens the functions verify like Google's (no check is skipped).
    `sandboxes` (vendor -> base_url, credentials and config) lets the add form fill them in."""
    domain = allowed_domains[0]
    return {
        "sandboxes": sandboxes or {},
        "mode": "local",
        "environment": "local",
        "functionsBase": functions_base,
        "identityUrl": identity_url,
        "allowedDomains": allowed_domains,
        "testUsers": [
            {"email": f"admin@{domain}", "role": "admin"},
            {"email": f"member@{domain}", "role": "member"},
        ],
    }
