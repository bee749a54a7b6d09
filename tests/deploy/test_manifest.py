"""The deploy manifest is current, and functions/ and the manifest (so Terraform) agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools import deploy_manifest
from tests.deploy.conftest import MANIFEST, REPO

EXTRA_FUNCTION = '''
from shared.api import Endpoint, Public

endpoint = Endpoint("extra-thing", summary="A function nobody put in the manifest")


@endpoint.route("GET", "/", auth=Public())
def hello(call):
    return {"ok": True}


handle = endpoint.entry_point()
'''


def _run_check(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.deploy_manifest", "--check", *extra],
        cwd=REPO,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_committed_manifest_is_current() -> None:
    result = _run_check()
    assert result.returncode == 0, (
        "infra/terraform/manifest.json is stale: run `python -m devtools.deploy_manifest` and commit it\n"
        + result.stdout
        + result.stderr
    )


def test_functions_on_disk_match_the_manifest(manifest: dict[str, Any]) -> None:
    assert deploy_manifest.function_problems(manifest) == []


@pytest.fixture
def functions_copy(tmp_path: Path) -> Path:
    target = tmp_path / "functions"
    shutil.copytree(REPO / "functions", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def test_check_flags_a_function_missing_from_the_manifest(functions_copy: Path, manifest: dict[str, Any]) -> None:
    (functions_copy / "extra_thing").mkdir()
    (functions_copy / "extra_thing" / "main.py").write_text(EXTRA_FUNCTION)

    problems = deploy_manifest.function_problems(manifest, functions_copy)
    assert len(problems) == 1 and "functions/extra_thing/main.py is not in the manifest" in problems[0]

    # and the CLI check fails on it (the generated manifest would differ, too)
    result = _run_check("--functions-dir", str(functions_copy))
    assert result.returncode == 1
    assert "extra_thing" in result.stderr and '"extra-thing"' in result.stdout


def test_check_flags_a_manifest_function_without_code(functions_copy: Path, manifest: dict[str, Any]) -> None:
    shutil.rmtree(functions_copy / "health")
    problems = deploy_manifest.function_problems(manifest, functions_copy)
    assert problems == ["manifest function health has no functions/<dir>/main.py: regenerate the manifest"]


def test_check_flags_dangling_schedules_queues_and_secrets(manifest: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["schedules"]["sync-nowhere"] = {"cron": "0 0 * * *", "time_zone": "Etc/UTC", "function": "nope", "body": {}}
    broken["queues"]["sync-nowhere"] = {"target": "nope"}
    broken["functions"]["health"]["secrets"] = ["not-created"]
    problems = "\n".join(deploy_manifest.function_problems(broken))
    assert "schedule sync-nowhere targets 'nope'" in problems
    assert "queue sync-nowhere dispatches to 'nope'" in problems
    assert "health mounts secret 'not-created'" in problems


def test_manifest_shape(manifest: dict[str, Any]) -> None:
    from devtools.functions_catalog import load_endpoints
    from shared.api import Users

    endpoints = load_endpoints()
    assert set(manifest["functions"]) == set(endpoints)
    for name, fn in manifest["functions"].items():
        d = endpoints[name].deployment
        assert fn == {
            "source_dir": fn["source_dir"],
            "entry_point": "handle",
            "memory": d.memory,
            "timeout_s": d.timeout_s,
            "max_instances": d.max_instances,
            "concurrency": d.concurrency,
            "invoker": endpoints[name].invoker,
            "interactive": all(isinstance(r.auth, Users) for r in endpoints[name].routes),
            "secrets": sorted(d.secrets),
            **({"schedule": d.schedule} if d.schedule else {}),
        }
        assert fn["invoker"] in ("public", "scheduler", "tasks")
    # the machine-only functions are what the sync engine expects
    assert manifest["functions"]["sync-scheduler"]["invoker"] == "scheduler"
    assert manifest["functions"]["sync-worker"]["invoker"] == "tasks"


def test_queues_come_from_the_connectors_and_one_tick_schedules_every_connection(manifest: dict[str, Any]) -> None:
    from shared.sync.queues import queue_specs
    from shared.sync.registry import all_connectors
    from shared.sync.scheduler import TICK_CRON

    connectors = all_connectors()
    assert connectors, "no connectors registered"
    for connector in connectors:
        for spec in queue_specs(connector):
            queue = manifest["queues"][spec.name]
            for field in deploy_manifest.QUEUE_FIELDS:
                expected = getattr(spec, field)
                assert queue[field] == (0 if expected is None else expected), (spec.name, field)
            assert queue["target"] == "sync-worker"
    # child streams have dispatches of their own where the store's bookings pace the vendor
    assert "sync-pylon-children" in manifest["queues"] and "sync-intercom-children" not in manifest["queues"]
    # schedules are data on connections: one job, not one per vendor; plus the jobs that
    # functions declare (the daily credits reset), each called by the scheduler's account
    assert manifest["schedules"] == {
        "sync-tick": {"cron": TICK_CRON, "time_zone": "Etc/UTC", "function": "sync-scheduler", "body": {}},
        "credits-reset": {"cron": "15 0 * * *", "time_zone": "Etc/UTC", "function": "credits-reset", "body": {}},
    }
    assert manifest["functions"]["credits-reset"]["invoker"] == "scheduler"
    expected_secrets = {"token-encryption-key"}
    for fn in manifest["functions"].values():
        expected_secrets.update(fn["secrets"])
    assert set(manifest["secrets"]) == expected_secrets
    assert set(manifest["secret_env"]) == expected_secrets


def test_no_vendor_credential_is_a_deployed_secret(manifest: dict[str, Any]) -> None:
    """Per-tenant credentials live encrypted on connection records, never in the
    functions' environment."""
    from shared.sync.registry import vendors

    for secret in manifest["secrets"]:
        assert not any(secret.startswith(f"{vendor}-") for vendor in vendors()), secret


def test_the_worker_can_take_every_queue_at_full_concurrency(manifest: dict[str, Any]) -> None:
    """Cloud Run refuses requests beyond max instances x concurrency, and every refusal
    spends one of the task's retry attempts: the worker must cover the sum of the queues'
    concurrent dispatches."""
    targets = {q["target"] for q in manifest["queues"].values()}
    assert targets == {"sync-worker", "webhook-worker", "outbox-worker"}
    for target in targets:
        worker = manifest["functions"][target]
        assert worker["invoker"] == "tasks"
        dispatches = sum(q["max_concurrent_dispatches"] for q in manifest["queues"].values() if q["target"] == target)
        assert worker["max_instances"] * worker["concurrency"] >= dispatches, target


def test_vendors_with_webhooks_get_a_webhook_queue(manifest: dict[str, Any]) -> None:
    from shared.sync.registry import all_connectors
    from shared.webhooks.queues import queue_spec, webhook_connectors

    connectors = webhook_connectors(all_connectors())
    assert {"intercom", "hubspot"} <= {c.vendor for c in connectors}
    for connector in connectors:
        spec = queue_spec(connector)
        queue = manifest["queues"][spec.name]
        assert queue["target"] == "webhook-worker" and queue["vendor"] == connector.vendor
        assert queue["max_attempts"] == spec.max_attempts
    assert manifest["functions"]["webhooks"]["invoker"] == "public"
    assert manifest["functions"]["webhook-worker"]["invoker"] == "tasks"


def test_manifest_is_deterministic() -> None:
    first = deploy_manifest.render(deploy_manifest.build())
    assert first == deploy_manifest.render(deploy_manifest.build())
    assert first == MANIFEST.read_text()


def test_credentials_keyring_is_mounted_where_credentials_are_used(manifest: dict[str, Any]) -> None:
    """The KEK secret reaches the functions that read or write credentials, under the name
    shared.config.Settings reads (CREDENTIALS_KEYS), and no others."""
    from shared.config import Settings
    from shared.crypto import KEK_ENV, KEK_SECRET

    assert manifest["secret_env"][KEK_SECRET] == KEK_ENV == Settings.model_fields["credentials_keys"].validation_alias
    mounting = {name for name, fn in manifest["functions"].items() if KEK_SECRET in fn["secrets"]}
    assert {"connections", "oauth-start", "oauth-callback", "credentials-rotate"} <= mounting
    assert not mounting & {"health", "openapi", "me"}
    # the oauth callback is public (browsers arrive without a token); the rest need a sign-in
    assert manifest["functions"]["oauth-callback"]["invoker"] == "public"
