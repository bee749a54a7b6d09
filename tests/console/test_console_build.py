"""The console as Firebase Hosting serves it: built from console/ with Firebase's SDK from
the npm registry (pinned, lock file), bundled into one module; config checked; loaded in a
real browser, it offers Google sign-in and loads nothing from a CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devtools.console_build import BuildError, build, check_config
from devtools.console_server import ConsoleServer

pytestmark = pytest.mark.e2e
CONFIG = {
    "functionsBase": "https://europe-west1-acme-tributary.cloudfunctions.net",
    "allowedDomains": ["acme.example"],
    "firebase": {"apiKey": "AIzaFakeKeyForTheBuildTest000000000000", "authDomain": "acme-tributary.firebaseapp.com",
                 "projectId": "acme-tributary"},
}
CDN = re.compile(r"(gstatic\.com|unpkg\.com|jsdelivr|cdnjs|esm\.sh|skypack)", re.I)


def test_the_config_must_be_a_production_one() -> None:
    assert check_config(dict(CONFIG))["mode"] == "firebase"
    with pytest.raises(BuildError, match="firebase.apiKey"):
        check_config({**CONFIG, "firebase": {"authDomain": "x", "projectId": "y"}})
    with pytest.raises(BuildError, match="Firebase only"):
        check_config({**CONFIG, "mode": "local"})
    with pytest.raises(BuildError, match="Firebase only"):
        check_config({**CONFIG, "identityUrl": "http://127.0.0.1:9010"})
    with pytest.raises(BuildError, match="https"):
        check_config({**CONFIG, "functionsBase": "http://example.com"})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(dict(CONFIG), tmp_path_factory.mktemp("hosting") / "console")


def test_the_build_vendors_firebase_and_nothing_comes_from_a_cdn(built: Path) -> None:
    served = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "auth.js", "style.css", "pages/records.js", "vendor/firebase.js",
            "config.json"} <= served
    assert not served & {"package.json", "package-lock.json", "firebase-entry.js"}
    assert not any(p.startswith("node_modules") for p in served)
    vendor = (built / "vendor" / "firebase.js").read_text()
    for name in ("initializeApp", "getAuth", "GoogleAuthProvider", "signInWithPopup", "onAuthStateChanged"):
        assert re.search(rf"as {name}\b", vendor), f"vendor/firebase.js does not export {name}"
    assert json.loads((built / "config.json").read_text())["mode"] == "firebase"
    for path in built.rglob("*"):
        if path.suffix in (".js", ".html", ".css"):
            text = path.read_text()
            assert not CDN.search(text), f"{path.name} names a CDN"
            assert not re.search(r"""(import\s*\(?\s*|from\s+|src=)["']https?:""", text), f"{path.name} loads remote code"


def test_the_built_console_offers_google_sign_in(built: Path, browser: Any, screenshots: Path) -> None:
    config = json.loads((built / "config.json").read_text())
    server = ConsoleServer(config, root=built).start()
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or ""))
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("#signin-google", timeout=30_000)
        assert "acme.example" in page.inner_text("main")
        assert page.locator("#signin-local, #signin-email").count() == 0, "no local sign-in in production"
        page.screenshot(path=str(screenshots / "00-production-sign-in.png"))
    finally:
        context.close()
        server.stop()
    assert not errors, errors
    assert hosts == {"127.0.0.1"}, f"loading the console reached {hosts}"
