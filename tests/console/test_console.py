"""A person's way in, in a real browser, on the stack `make dev` runs: sign in locally as an
admin, add the sandbox Intercom, sync it and watch it finish, browse its records, read
/me; then as a member, who sees no admin action (and whose attempt the server refuses).
Every page's screenshot goes to build/screenshots/ for a reviewer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer
from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.registry import all_sandboxes
from tests.conftest import TEST_EXTRA_CONNECTORS
from tests.e2e.local_stack import LocalStack, tiny

pytestmark = pytest.mark.e2e
#: the other sandboxes tiny, Intercom's big enough for pages and a visible progress (the last flag wins)
SIZE = [*tiny(), "--contacts", "400", "--companies", "60", "--admins", "8", "--conversations", "300",
        "--rate-limit", "300", "--only", "salesforce", "--sf-contacts", "10", "--opportunities", "5"]
#: a breaker that opens after 3 failed chunks and cools down for seconds (production: 5, 30 s to 5 min)
BREAKER_ENV = {"BREAKER_THRESHOLD": "3", "BREAKER_COOLDOWN_S": "2", "BREAKER_MAX_COOLDOWN_S": "4"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack with the tests' demo connectors too (a per-user OAuth vendor), and an OAuth
    server standing in for that vendor's consent page and token endpoint."""
    local = LocalStack(tmp_path_factory.mktemp("console-stack"),
                       extra_env={"TRIBUTARY_EXTRA_CONNECTORS": TEST_EXTRA_CONNECTORS, **BREAKER_ENV})
    oauth = OAuthServer([OAuthClient("notes-client", "notes-secret", (f"{local.functions_url}/oauth-callback",))])
    with BackgroundWSGI(oauth.wsgi_app()) as vendor:
        info = local.start(*SIZE, "--no-connection")
        sandboxes = {s.vendor: f"http://127.0.0.1:{local.ports[s.vendor]}" for s in all_sandboxes()}
        yield {**info, "oauth_vendor": vendor.base_url, "sandboxes": sandboxes, "local": local}
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


# -- health, events, credits, a vendor's allowance (after the tests above: their connections) --


def api(stack: dict[str, Any], role: str = "admin") -> httpx.Client:
    local: LocalStack = stack["local"]
    return local.api(stack, local.token(f"{role}@example.com", role))


def wait_until(probe: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not within {timeout_s} s")


def run_ended(client: httpx.Client, connection_id: str, run_id: str) -> dict[str, Any] | None:
    run = client.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id}).json()
    return run if run["status"] in ("succeeded", "partial", "failed") else None


def test_health_events_and_a_salesforce_allowance(stack: dict[str, Any], browser: Any, screenshots: Path) -> None:
    """Salesforce connected through its OAuth consent in the browser and synced: its page shows
    the org's API allowance. The sandbox Intercom failing: its connection turns degraded with
    the breaker open, on Health. The Salesforce grant revoked: needs_reauth, and Reconnect on
    Health brings it back. Events lists all that newest first, the folded repeats shown."""
    visit = Visit(browser, stack["console"], screenshots)
    page = visit.page
    visit.sign_in("admin@example.com", "admin")
    page.wait_for_selector("#connections tr[data-connection]")
    intercom_id = page.get_attribute("#connections tr[data-connection]", "data-connection")

    # Salesforce: the add form fills the sandbox (its login URL too), Connect opens the consent
    page.click("#add-connection")
    page.select_option("#add-vendor", "salesforce")
    page.click("#use-sandbox")
    assert page.input_value("#add-config-login_url") == stack["sandboxes"]["salesforce"]
    page.click("#add-save")
    page.wait_for_selector("h1 [data-status=pending]")
    with visit.context.expect_page() as consent:
        page.click("#oauth-connect")
    consent.value.wait_for_load_state()
    consent.value.close()
    page.wait_for_selector("h1 [data-status=connected]", timeout=30_000)
    salesforce_id = page.url.rsplit("/", 1)[-1]
    assert page.locator("#allowance").count() == 0, "no allowance before the org reported one"
    page.click("#sync-now")
    page.wait_for_selector("#progress-status [data-status=succeeded]", timeout=120_000)
    page.wait_for_selector("#allowance")  # the page shows what the run's answers reported
    assert page.inner_text("#allowance-limit") == "100,000"
    remaining = int(page.inner_text("#allowance-remaining").replace(",", ""))
    assert 0 < remaining < 100_000, "the sync's own calls are counted by the org"
    visit.shot("14-salesforce-allowance")

    with api(stack) as admin:
        # Intercom fails: every call a 503; an incremental sync's chains trip the breaker (3 failed chunks)
        httpx.post(f"{stack['sandboxes']['intercom']}/_sandbox/faults",
                   json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
        run_id = admin.post("/sync-now", json={"connection_id": intercom_id, "mode": "auto"}).json()["run_id"]

        def folded() -> bool:  # re-opened after a failed probe: one event, its repeats counted
            events = admin.get("/sync-events", params={"connection_id": intercom_id}).json()["events"]
            return any(e["kind"] == "breaker_opened" and e["repeats"] >= 1 for e in events)

        wait_until(folded, 120, "the breaker re-opened")
        page.goto(f"{stack['console']}/#/health")
        row = f"#health tr[data-connection='{intercom_id}']"
        page.wait_for_selector(f"{row}[data-status=degraded]")
        assert page.get_attribute(row, "data-breaker") in ("open", "half_open")
        assert "503" in page.inner_text(f"{row} .health-breaker") or "vendor" in page.inner_text(f"{row} .health-breaker")
        assert page.locator(f"{row} [data-action=reconnect]").count() == 0, "degraded is not a reauth"
        assert page.inner_text(f"{row} .health-success") != "—", "its last success is kept"
        assert page.get_attribute(f"#health tr[data-connection='{salesforce_id}']", "data-status") == "connected"
        visit.shot("15-health-degraded")

        # the vendor recovers: a probe closes the breaker, the connection is connected again
        httpx.post(f"{stack['sandboxes']['intercom']}/_sandbox/faults",
                   json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0}).raise_for_status()

        def recovered() -> bool:
            status = admin.get("/sync-status", params={"connection_id": intercom_id}).json()["connections"][0]
            return bool(status["status"] == "connected" and status["breaker"]["state"] == "closed")

        wait_until(recovered, 120, "the breaker closed")

        # Salesforce's grant revoked (an admin uninstalled the app): the next run ends needs_reauth
        sf = stack["sandboxes"]["salesforce"]
        httpx.post(f"{sf}/_sandbox/oauth", json={"revoke_all": True}).raise_for_status()
        run_id = admin.post("/sync-now", json={"connection_id": salesforce_id}).json()["run_id"]
        wait_until(lambda: run_ended(admin, salesforce_id, run_id), 120, "the salesforce run ended")

    page.goto(f"{stack['console']}/#/health")
    row = f"#health tr[data-connection='{salesforce_id}']"
    page.wait_for_selector(f"{row}[data-status=needs_reauth]")
    assert page.get_attribute(f"#health tr[data-connection='{intercom_id}']", "data-status") == "connected"
    assert page.inner_text(f"{row} .health-error") != "none"
    assert page.inner_text(f"{row} .health-next") == "not scheduled"
    assert page.inner_text("#health-summary [data-summary=needs_reauth] b") == "1"
    visit.shot("16-health-needs-reauth")
    with visit.context.expect_page() as consent:
        page.click(f"{row} [data-action=reconnect]")
    consent.value.wait_for_load_state()
    consent.value.close()
    page.wait_for_selector(f"{row}[data-status=connected]", timeout=30_000)

    # Events: newest first, both connections, the breaker's re-openings folded into one event
    page.goto(f"{stack['console']}/#/events")
    page.wait_for_selector("#events-table tr[data-event]")
    kinds = page.locator("#events-table tr[data-event]").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    connections = page.locator("#events-table tr[data-event]").evaluate_all("rows => rows.map(r => r.dataset.connection)")
    failed = [i for i, (k, c) in enumerate(zip(kinds, connections, strict=True)) if c == salesforce_id and k in ("run_failed", "run_partial")]
    assert failed and failed[0] < kinds.index("breaker_closed"), (kinds, connections)  # the revoked run is newer
    assert "breaker_opened" in kinds and "breaker_closed" in kinds and "run_succeeded" in kinds, kinds
    assert kinds.index("breaker_closed") < kinds.index("breaker_opened"), "newest first"
    opened = page.locator("#events-table tr[data-kind=breaker_opened] .event-repeats").first.inner_text()
    assert "more" in opened, opened
    visit.shot("17-events")
    page.select_option("#events-connection", salesforce_id)
    page.wait_for_selector(f"#events-table tr[data-event]:not([data-connection='{salesforce_id}'])", state="detached")
    assert page.locator("#events-table tr[data-event]").count() > 0
    assert visit.errors == [], visit.errors
    visit.close()


def test_credits_grant_then_spend_and_a_member_reads_only(stack: dict[str, Any], browser: Any, screenshots: Path) -> None:
    visit = Visit(browser, stack["console"], screenshots)
    page = visit.page
    visit.sign_in("admin@example.com", "admin")
    page.wait_for_selector("#connections tr[data-connection]")  # the first page's render is done
    page.goto(stack["console"] + "/#/credits")
    page.wait_for_selector("#credits-total")
    assert page.inner_text("#credits-total") == "0"
    page.fill("#plan-included", "1000")
    page.fill("#plan-billing-day", "1")
    page.click("#plan-save")
    page.wait_for_selector("#credits-included:text-is('1,000')")
    page.select_option("#grant-kind", "purchase")
    page.fill("#grant-amount", "250")
    page.fill("#grant-reason", "invoice 42")
    page.click("#grant-save")
    page.wait_for_selector("#credits-total:text-is('1,250')")
    assert page.inner_text("#credits-purchased") == "250"
    assert page.inner_text("#credits-next-reset") != "—"

    # a feature spends (the API, as a member's tool would): included credits go first
    with api(stack, "member") as member:
        spent = member.post("/credits/spend", json={"amount": 1100, "reason": "AI summary"},
                            headers={"Idempotency-Key": "console-test-spend-1"})
        assert spent.status_code == 200, spent.text
    page.reload()
    page.wait_for_selector("#credits-total:text-is('150')")
    assert (page.inner_text("#credits-included"), page.inner_text("#credits-purchased")) == ("0", "150")
    top = "#ledger-table tbody tr:first-child"
    assert page.get_attribute(top, "data-kind") == "spend"
    assert page.inner_text(f"{top} td:nth-child(3)") == "−1,000" and page.inner_text(f"{top} td:nth-child(4)") == "−100"
    assert page.inner_text(f"{top} .ledger-after") == "150"
    kinds = page.locator("#ledger-table tr[data-entry]").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["spend", "purchase", "plan"], kinds
    visit.shot("18-credits-admin")
    assert visit.errors == [], visit.errors
    visit.close()

    visit = Visit(browser, stack["console"], screenshots)
    page = visit.page
    visit.sign_in("member@example.com", "member")
    page.wait_for_selector("#connections tr[data-connection]")
    page.goto(stack["console"] + "/#/credits")
    page.wait_for_selector("#credits-read-only")
    assert page.inner_text("#credits-total") == "150"
    assert page.locator("#grant-form, #plan-form, .admin-action").count() == 0
    page.goto(stack["console"] + "/#/health")
    page.wait_for_selector("#health tr[data-connection]")
    assert page.locator("[data-action=reconnect], .admin-action").count() == 0
    visit.shot("19-credits-member")
    with api(stack, "member") as member:
        refused = member.post("/credits/grant", json={"kind": "purchase", "amount": 5})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "role_required")
    assert visit.errors == [], visit.errors
    visit.close()
