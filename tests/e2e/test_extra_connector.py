"""A connector that exists only inside the tests (tests/fixtures/vendors/acme) gets the
whole platform with no edit outside its folder: named in TRIBUTARY_EXTRA_CONNECTORS, it
has records (store and live), proxy and actions endpoints, views none, Firestore rules and
indexes, a queue, manifest entries and typed OpenAPI operations; its connections are
planned by the one scheduler tick on the connector's default schedule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.identity import IdentityServer
from tests.conftest import PROJECT, REGION, REPO, base_env
from tests.e2e.serving_world import create_connection, seed
from tests.fixtures.vendors.acme import sandbox as acme_sandbox

EXTRA = {"TRIBUTARY_EXTRA_CONNECTORS": "tests.fixtures.vendors", "TRIBUTARY_ENV": "test"}
CONN = "acme-team"
ADMIN = "ada@example.com"


def generate(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **EXTRA, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_rules_indexes_queue_schedule_and_manifest(tmp_path: Path) -> None:
    report = generate(
        "devtools.firestore_config",
        "--rules",
        str(tmp_path / "rules"),
        "--indexes",
        str(tmp_path / "indexes"),
    ).stdout
    assert "acme/widgets" in report
    rules = (tmp_path / "rules").read_text()
    assert "'acme': ['contacts', 'widgets']" in rules
    indexes = json.loads((tmp_path / "indexes").read_text())
    widget_indexes = [i for i in indexes["indexes"] if i["collectionGroup"] == "widgets"]
    assert {"fieldPath": "color", "order": "ASCENDING"} in widget_indexes[0]["fields"] and len(widget_indexes) == 5
    overrides = {(o["collectionGroup"], o["fieldPath"]): o for o in indexes["fieldOverrides"]}
    assert overrides[("widgets", "_expires_at")]["ttl"] is True and overrides[("widgets", "specs")]["indexes"] == []

    generate("devtools.deploy_manifest", "--out", str(tmp_path / "manifest.json"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["queues"]["sync-acme"]["target"] == "sync-worker"
    assert manifest["queues"]["sync-acme"]["max_concurrent_dispatches"] == 4
    # schedules are data on connections (the connector's is their default): one scheduler tick plans them all
    assert sorted(job["function"] for job in manifest["schedules"].values()) == ["credits-reset", "sync-scheduler"]
    assert {"records", "proxy", "actions"} <= set(manifest["functions"])


def test_openapi_types_its_streams_and_actions() -> None:
    code = (
        "import json; from devtools.openapi import render; from openapi_spec_validator import validate; "
        "d = json.loads(render()); validate(d); print(json.dumps(d))"
    )
    env = {**os.environ, **EXTRA, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    paths = document["paths"]
    widgets = paths["/records/{connection_id}/widgets"]["get"]
    assert {"color", "name", "made_from", "made_to"} <= {p["name"] for p in widgets["parameters"]}
    assert paths["/actions/{connection_id}/rename-widget"]["post"]["requestBody"]
    # two vendors serve "contacts": one path, the page discriminated by vendor
    contacts = document["components"]["schemas"]["ContactsPage"]
    assert contacts["discriminator"]["propertyName"] == "vendor"
    assert {"AcmeContactsPage", "IntercomContactsPage"} <= {s["$ref"].rsplit("/", 1)[1] for s in contacts["oneOf"]}


@pytest.fixture(scope="module")
def acme(log_dir: Path, identity: IdentityServer, firestore_host: str) -> Iterator[dict[str, Any]]:
    """The Acme sandbox, a connection to it, and a functions server that knows Acme."""
    from google.cloud import firestore

    from devtools.processes import ManagedProcess, free_port

    vendor = acme_sandbox.AcmeSandbox().start()
    db = firestore.Client(project=PROJECT)
    create_connection(db, CONN, "acme", base_url=vendor.url, credentials={"api_key": acme_sandbox.KEY})
    os.environ.update(EXTRA)
    try:
        from shared.sync import registry

        registry._found.cache_clear()
        seed(db, CONN, "acme", "widgets", list(acme_sandbox.widgets().values()))
    finally:
        for name in EXTRA:
            os.environ.pop(name, None)
        registry._found.cache_clear()
    port = free_port()
    base = f"http://127.0.0.1:{port}/{PROJECT}/{REGION}"
    env = {
        **os.environ,
        **base_env(base, identity),
        **EXTRA,
        "PYTHONPATH": str(REPO),
        "FIRESTORE_EMULATOR_HOST": firestore_host,
    }
    proc = ManagedProcess(
        "functions-acme",
        [sys.executable, "-m", "devtools.functions_server", "--port", str(port)],
        port=port,
        env=env,
        log_dir=log_dir,
        cwd=REPO,
    ).start()
    token = identity.identity.id_token(ADMIN, role="admin")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        yield {"api": api, "vendor": vendor, "db": db}
    proc.stop()
    vendor.stop()


def test_records_live_proxy_and_actions(acme: dict[str, Any]) -> None:
    api, vendor = acme["api"], acme["vendor"]
    red = api.get(f"/records/{CONN}/widgets", params={"color": "red"})
    assert red.status_code == 200, red.text
    assert [w["id"] for w in red.json()["items"]] == ["w9", "w6", "w3"] and red.json()["vendor"] == "acme"
    assert "name_lower" not in red.json()["items"][0]
    assert (
        api.get(
            f"/records/{CONN}/widgets",
            params={"color": "red"},
            headers={"If-None-Match": red.headers["ETag"]},
        ).status_code
        == 304
    )
    made = api.get(
        f"/records/{CONN}/widgets",
        params={"color": "blue", "made_from": "2025-12-04", "made_to": "2025-12-07"},
    )
    assert [w["id"] for w in made.json()["items"]] == ["w5"]
    assert (
        api.get(f"/records/{CONN}/widgets", params={"made_from": "2025-12-04"}).json()["error"]["code"]
        == "unsupported_query"
    )
    live = api.get(f"/records/{CONN}/widgets", params={"live": "true", "name": "widget 0", "color": "green"})
    assert [w["id"] for w in live.json()["items"]] == ["w7", "w4", "w1"]

    one = api.get(f"/proxy/{CONN}/widgets/w2")
    assert one.status_code == 200 and one.json()["name"] == "Widget 02"
    assert one.json()["echo"] == "key=[redacted]" and acme_sandbox.KEY not in one.text
    assert api.get(f"/proxy/{CONN}/widgets/search").json()["error"]["code"] == "path_not_allowed"

    etag = api.get(f"/records/{CONN}/widgets/w2").headers["ETag"]
    renamed = api.post(
        f"/actions/{CONN}/rename-widget", headers={"If-Match": etag}, json={"key": "w2", "name": "Sprocket"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Sprocket" and vendor.widgets["w2"]["name"] == "Sprocket"
    assert (
        api.get(f"/records/{CONN}/widgets", params={"name": "sprock", "sort": "name"}).json()["items"][0]["id"] == "w2"
    )
    assert (
        api.post(
            f"/actions/{CONN}/rename-widget", headers={"If-Match": etag}, json={"key": "w2", "name": "Cog"}
        ).json()["error"]["code"]
        == "version_conflict"
    )
