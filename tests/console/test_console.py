"""A person's way in, in a real browser, on the stack `make dev` runs: sign in locally as an
admin, add the sandbox Intercom, sync it and watch it finish, browse its records, read
/me; then as a member, who sees no admin action (and whose attempt the server refuses).
Every page's screenshot goes to build/screenshots/ for a reviewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer
from devtools.sandboxes.kit.server import BackgroundWSGI
from tests.conftest import TEST_EXTRA_CONNECTORS
from tests.e2e.local_stack import LocalStack, tiny

pytestmark = pytest.mark.e2e
#: the other sandboxes tiny, Intercom's big enough for pages and a visible progress (the last flag wins)
SIZE = [*tiny(), "--contacts", "400", "--companies", "60", "--admins", "8", "--conversations", "300",
        "--rate-limit", "300"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack with the tests' demo connectors too (a per-user OAuth vendor), and an OAuth
    server standing in for that vendor's consent page and token endpoint."""
    local = LocalStack(tmp_path_factory.mktemp("console-stack"),
                       extra_env={"TRIBUTARY_EXTRA_CONNECTORS": TEST_EXTRA_CONNECTORS})
    oauth = OAuthServer([OAuthClient("notes-client", "notes-secret", (f"{local.functions_url}/oauth-callback",))])
    with BackgroundWSGI(oauth.wsgi_app()) as vendor:
        info = local.start(*SIZE, "--no-connection")
        yield {**info, "oauth_vendor": vendor.base_url}
        assert local.stop() == 0, local.output()


class Visit:
    """One browser page that records every request, error and screenshot."""

    def __init__(self, browser: Any, console: str, shots: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.console = console
        self.shots = shots
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.hosts.add(urlsplit(r.url).hostname or r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("dialog", lambda d: d.accept())

    def shot(self, name: str, full: bool = True) -> None:
        self.page.wait_for_timeout(300)  # let the toast and layout settle
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full)

    def sign_in(self, email: str, role: str) -> None:
        self.page.goto(self.console + "/")
        self.page.wait_for_selector("#signin-local")
        self.page.fill("#signin-email", email)
        self.page.select_option("#signin-role", role)
        self.page.click("#signin-local")
        self.page.wait_for_selector(f"#who-role:text-is('{role}')")

    def close(self) -> None:
        self.context.close()


def test_admin_signs_in_adds_syncs_and_browses(stack: dict[str, Any], browser: Any, screenshots: Path) -> None:
    visit = Visit(browser, stack["console"], screenshots)
    page = visit.page
    page.goto(stack["console"] + "/")
    page.wait_for_selector("#signin-local")
    visit.shot("01-sign-in")
    visit.sign_in("admin@example.com", "admin")

    # connections: none yet, the add form is open; fill it from the local sandbox
    page.wait_for_selector("#no-connections")
    assert page.input_value("#add-vendor") == "intercom", "the vendor with a local sandbox comes first"
    page.click("#use-sandbox")
    assert page.input_value("#add-base-url").startswith("http://127.0.0.1:")
    assert page.input_value("#add-cred-access_token") == "sandbox-token"
    visit.shot("02-add-connection")
    page.click("#add-save")

    # the connection's page: sync now, watch the live progress until it ends
    page.wait_for_selector("#sync-now")
    page.click("#sync-now")
    page.wait_for_selector("#progress:not([hidden])")
    page.wait_for_selector("#progress-status [data-status=running], #progress-status [data-status=succeeded]")
    visit.shot("03-sync-progress")
    page.wait_for_selector("#progress-status [data-status=succeeded]", timeout=120_000)
    page.wait_for_selector("#runs tr[data-run]")
    def fetched(stream: str) -> int:  # the progress table's fetched column for one stream
        return int(page.inner_text(f"#progress tr[data-stream={stream}] td:nth-child(5)").replace(",", ""))

    assert (fetched("contacts"), fetched("companies"), fetched("admins"), fetched("conversations")) == (400, 60, 8, 300)
    per_stream = page.locator("#progress table.streams tbody td:nth-child(5)").all_inner_texts()
    assert int(page.inner_text("#progress [data-count=fetched]").replace(",", "")) == sum(
        int(n.replace(",", "")) for n in per_stream), "the run's count is its streams' sum"
    assert page.inner_text("#progress [data-count=failed]") == "0"
    page.wait_for_function("document.querySelector('#last-success').innerText !== '—'")
    page.click("#runs tr[data-run]")  # per-stream counts of that run
    page.wait_for_selector("#runs table.streams tr[data-stream=contacts]")
    visit.shot("04-connection-synced")

    page.goto(stack["console"] + "/#/")
    page.wait_for_selector("#connections tr[data-connection] [data-status=succeeded]")
    visit.shot("05-connections")

    # records: a stream, a filter, a page, one record's JSON
    connection_id = page.get_attribute("#connections tr[data-connection]", "data-connection")
    page.goto(f"{stack['console']}/#/records/{connection_id}/contacts")
    page.wait_for_selector("#records tbody tr")
    page.select_option("#filter-role", "lead")
    page.fill("#filter-limit", "10")
    page.click("#records-apply")
    page.wait_for_selector("#records-page:text('page 1 · 10 records')")
    roles = page.locator("#records tbody tr td:nth-child(4)").all_inner_texts()
    assert roles and set(roles) == {"lead"}, roles
    page.click("#records-next")
    page.wait_for_selector("#records-page:text('page 2')")
    page.click("#records tbody tr:first-child")
    page.wait_for_selector("#record-json")
    assert '"role": "lead"' in page.inner_text("#record-json")
    visit.shot("06-records")
    page.click("#records-streams [data-stream=conversations]")
    page.wait_for_selector("#filter-state")
    page.wait_for_selector("#records tbody tr")
    visit.shot("07-records-conversations")

    page.goto(stack["console"] + "/#/me")
    page.wait_for_selector("#me-email")
    assert page.inner_text("#me-role") == "admin"
    assert "python -m devtools.token --email admin@example.com --role admin" in page.inner_text("#token-command")
    visit.shot("08-me")

    assert not visit.errors, visit.errors
    assert visit.hosts == {"127.0.0.1"}, f"the console reached beyond the local stack: {visit.hosts}"
    visit.close()


def test_a_member_sees_no_admin_action(stack: dict[str, Any], browser: Any, screenshots: Path) -> None:
    visit = Visit(browser, stack["console"], screenshots)
    page = visit.page
    visit.sign_in("member@example.com", "member")
    page.wait_for_selector("#connections tr[data-connection]")
    assert page.locator(".admin-action").count() == 0
    # the add form offers a member only per-user vendors (the demo ones here), never Intercom
    vendors = page.locator("#add-vendor option").evaluate_all("options => options.map(o => o.value)")
    assert "intercom" not in vendors and "demo_notes" in vendors
    visit.shot("09-member-connections")

    connection_id = page.get_attribute("#connections tr[data-connection]", "data-connection")
    page.goto(f"{stack['console']}/#/connections/{connection_id}")
    page.wait_for_selector("#read-only")
    page.wait_for_selector("#runs tr[data-run]")
    assert page.locator("#sync-now, #pause, #delete, .admin-action").count() == 0
    visit.shot("10-member-connection")

    # hidden is not the protection: the server refuses a member's sync of an org connection
    answer = page.evaluate("""async ([base, id]) => {
        const session = JSON.parse(sessionStorage.getItem("tributary.session"));
        const r = await fetch(base + "/sync-now", {method: "POST", headers: {
            "Authorization": "Bearer " + session.token, "Content-Type": "application/json"},
            body: JSON.stringify({connection_id: id})});
        return [r.status, (await r.json()).error.code];
    }""", [stack["functions"], connection_id])
    assert answer == [403, "role_required"]
    page.goto(stack["console"] + "/#/me")
    page.wait_for_selector("#me-role:text-is('member')")
    visit.shot("11-member-me")

    # a member may connect their own account of a per-user vendor: OAuth, in another window
    page.goto(stack["console"] + "/#/")
    page.click("#add-connection")
    page.select_option("#add-vendor", "demo_notes")
    page.fill("#add-name", "My notes")
    page.fill("#add-base-url", stack["oauth_vendor"])
    page.fill("#add-cred-client_id", "notes-client")
    page.fill("#add-cred-client_secret", "notes-secret")
    visit.shot("12-member-add-oauth")
    page.click("#add-save")
    page.wait_for_selector("h1 [data-status=pending]")
    with visit.context.expect_page() as consent:
        page.click("#oauth-connect")
    consent.value.wait_for_load_state()
    assert '"status": "connected"' in consent.value.content().replace('":"', '": "')  # oauth-callback's answer
    consent.value.close()
    page.wait_for_selector("h1 [data-status=connected]", timeout=30_000)
    assert page.locator("#sync-now").count() == 1, "its owner manages a personal connection"
    visit.shot("13-member-oauth-connected")
    assert not [e for e in visit.errors if "403" not in e], visit.errors
    visit.close()
