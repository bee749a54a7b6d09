"""The deploy manifest: what infra/terraform deploys, generated from the code.

    python -m devtools.deploy_manifest            write infra/terraform/manifest.json
    python -m devtools.deploy_manifest --check    exit 1 when the committed manifest is stale

Terraform reads the file with jsondecode(file(...)); nothing about a function, a queue or a
schedule is written twice. Sources:

    functions  every functions/<dir>/main.py Endpoint (its Deployment and invoker, and
               `interactive`: every route is for signed-in people, who wait on its answer;
               Terraform keeps var.interactive_min_instances of those warm)
    queues     shared.sync.queues.queue_specs(connector) for every registered connector,
               shared.webhooks.queues.queue_spec(connector) for those that declare webhooks, and
               shared.serving.outbox_api.queue_spec(connector) for those that declare creates
    schedules  one tick of the sync-scheduler function, and a job per function whose
               Deployment declares a schedule (each connection's own schedule is
               data on the connection, read by the tick)
    secrets    function secrets + connector secrets + ALWAYS_SECRETS
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "infra" / "terraform" / "manifest.json"

ENTRY_POINT = "handle"
SCHEDULER_FUNCTION = "sync-scheduler"
WORKER_FUNCTION = "sync-worker"
#: secrets the platform needs whatever the connectors (values are set by the operator)
ALWAYS_SECRETS = ("token-encryption-key",)
INVOKERS = ("public", "scheduler", "tasks")

QUEUE_FIELDS = (
    "max_dispatches_per_second",
    "max_concurrent_dispatches",
    "max_burst_size",
    "max_attempts",
    "min_backoff_seconds",
    "max_backoff_seconds",
    "max_doublings",
    "max_retry_duration_seconds",
)


#: secrets mounted under another name than their id's: the credentials keyring is what
#: shared.config.Settings reads as CREDENTIALS_KEYS (shared/crypto.py)
SECRET_ENV_OVERRIDES = {"token-encryption-key": "CREDENTIALS_KEYS"}


def secret_env_name(secret_id: str) -> str:
    """The env var a secret is mounted as: intercom-access-token -> INTERCOM_ACCESS_TOKEN
    (what the connector's settings model reads), token-encryption-key -> CREDENTIALS_KEYS.
    Terraform reads the mapping from the manifest's secret_env."""
    return SECRET_ENV_OVERRIDES.get(secret_id, secret_id.upper().replace("-", "_"))


def _functions(functions_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    from devtools import functions_catalog
    from shared.api import Users

    if functions_dir is not None:
        # a copy of the tree (tests): load its functions/ instead of the repo's
        original = functions_catalog.FUNCTIONS_DIR
        functions_catalog.FUNCTIONS_DIR = functions_dir
        try:
            endpoints = functions_catalog.load_endpoints()
            dirs = {functions_catalog.deployed_name(d): d for d in functions_catalog.function_dirs()}
        finally:
            functions_catalog.FUNCTIONS_DIR = original
        root = functions_dir.parent
    else:
        endpoints = functions_catalog.load_endpoints()
        dirs = {functions_catalog.deployed_name(d): d for d in functions_catalog.function_dirs()}
        root = REPO

    out: dict[str, dict[str, Any]] = {}
    for name in sorted(endpoints):
        endpoint = endpoints[name]
        if endpoint.name != name:
            raise SystemExit(f"functions/{dirs[name].name}: Endpoint is named {endpoint.name!r}, expected {name!r}")
        invoker = endpoint.invoker
        if invoker not in INVOKERS:
            raise SystemExit(f"{name}: unknown invoker {invoker!r}")
        d = endpoint.deployment
        out[name] = {
            "source_dir": dirs[name].relative_to(root).as_posix(),
            "entry_point": ENTRY_POINT,
            "memory": d.memory,
            "timeout_s": int(d.timeout_s),
            "max_instances": int(d.max_instances),
            "concurrency": int(d.concurrency),
            "invoker": invoker,
            "interactive": bool(endpoint.routes) and all(isinstance(r.auth, Users) for r in endpoint.routes),
            "secrets": sorted(set(d.secrets)),
            **({"schedule": d.schedule} if d.schedule else {}),
        }
    return out


def _connectors() -> list[Any]:
    """The registered connectors, or [] while the sync engine is not importable."""
    try:
        from shared.sync.registry import all_connectors
    except ImportError as exc:
        print(f"deploy_manifest: no connectors ({exc}); the manifest has no queues or schedules", file=sys.stderr)
        return []
    return sorted(all_connectors(), key=lambda c: c.vendor)


def _queues(connectors: list[Any]) -> dict[str, dict[str, Any]]:
    if not connectors:
        return {}
    try:
        from shared.sync.queues import queue_specs
    except ImportError as exc:
        print(f"deploy_manifest: no queue specs ({exc}); the manifest has no queues", file=sys.stderr)
        return {}
    queues: dict[str, dict[str, Any]] = {}
    for connector in connectors:
        for spec in queue_specs(connector):  # its own, and its child streams' where it has one
            data = spec.model_dump() if hasattr(spec, "model_dump") else dict(vars(spec))
            # None ("no limit", e.g. max_retry_duration_seconds) is written as 0, which is how the
            # Cloud Tasks API and Terraform spell "unset / unlimited" (shared.tasks does the same).
            queue = {key: 0 if data[key] is None else data[key] for key in QUEUE_FIELDS}
            queue["vendor"] = connector.vendor
            queue["target"] = WORKER_FUNCTION
            queues[str(data["name"])] = queue
    queues.update(_webhook_queues(connectors))
    queues.update(_outbox_queues(connectors))
    return queues


def _worker_queues(connectors: list[Any], spec: Any, target: str) -> dict[str, dict[str, Any]]:
    """One queue per connector, from `spec(connector)`, dispatching to `target`."""
    queues: dict[str, dict[str, Any]] = {}
    for connector in connectors:
        data = spec(connector).model_dump()
        queue = {key: 0 if data[key] is None else data[key] for key in QUEUE_FIELDS}
        queue["vendor"] = connector.vendor
        queue["target"] = target
        queues[str(data["name"])] = queue
    return queues


def _outbox_queues(connectors: list[Any]) -> dict[str, dict[str, Any]]:
    """One queue per vendor that declares creates, dispatching to outbox-worker."""
    from shared.serving.outbox_api import WORKER_FUNCTION, outbox_connectors, queue_spec

    return _worker_queues(outbox_connectors(connectors), queue_spec, WORKER_FUNCTION)


def _webhook_queues(connectors: list[Any]) -> dict[str, dict[str, Any]]:
    """One queue per vendor that declares webhooks, dispatching to webhook-worker."""
    from shared.webhooks.queues import WORKER_FUNCTION, queue_spec, webhook_connectors

    return _worker_queues(webhook_connectors(connectors), queue_spec, WORKER_FUNCTION)


def _schedules(functions: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sync tick, and a job for every function whose Deployment declares a schedule."""
    jobs = {name: {"cron": fn["schedule"], "time_zone": "Etc/UTC", "function": name, "body": {}}
            for name, fn in functions.items() if fn.get("schedule")}
    if SCHEDULER_FUNCTION not in functions:
        return jobs
    from shared.sync.scheduler import TICK_CRON

    return {"sync-tick": {"cron": TICK_CRON, "time_zone": "Etc/UTC", "function": SCHEDULER_FUNCTION, "body": {}}, **jobs}


def build(functions_dir: Path | None = None) -> dict[str, Any]:
    """The manifest as a dict (deterministic: sorted keys, no timestamps)."""
    functions = _functions(functions_dir)
    connectors = _connectors()
    secrets = set(ALWAYS_SECRETS)
    for fn in functions.values():
        secrets.update(fn["secrets"])
    return {
        "_generated_by": "python -m devtools.deploy_manifest (do not edit by hand)",
        "functions": functions,
        "queues": _queues(connectors),
        "schedules": _schedules(functions),
        "secrets": sorted(secrets),
        "secret_env": {s: secret_env_name(s) for s in sorted(secrets)},
    }


_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")


def function_problems(manifest: dict[str, Any], functions_dir: Path | None = None) -> list[str]:
    """What is wrong between functions/ on disk and the manifest Terraform deploys from
    (without importing any function: cheap, and it works on a broken tree too)."""
    functions_dir = functions_dir or REPO / "functions"
    on_disk = {
        d.name.replace("_", "-"): d for d in sorted(functions_dir.iterdir()) if (d / "main.py").is_file()
    }
    declared: dict[str, Any] = manifest.get("functions", {})
    problems: list[str] = []
    for name in sorted(set(on_disk) - set(declared)):
        problems.append(
            f"functions/{on_disk[name].name}/main.py is not in the manifest, so Terraform would not deploy "
            f"{name}: run `python -m devtools.deploy_manifest` and commit infra/terraform/manifest.json"
        )
    for name in sorted(set(declared) - set(on_disk)):
        problems.append(f"manifest function {name} has no functions/<dir>/main.py: regenerate the manifest")
    for name in sorted(set(on_disk)):
        if not _FUNCTION_NAME.match(name):
            problems.append(f"functions/{on_disk[name].name}: {name!r} is not a valid Cloud Functions name")
        fn = declared.get(name)
        if fn is None:
            continue
        if fn.get("source_dir") != f"functions/{on_disk[name].name}":
            problems.append(f"{name}: manifest source_dir {fn.get('source_dir')!r} != functions/{on_disk[name].name}")
        if fn.get("invoker") not in INVOKERS:
            problems.append(f"{name}: invoker {fn.get('invoker')!r} is not one of {INVOKERS}")
        if not re.search(rf"^{ENTRY_POINT}\s*=", (on_disk[name] / "main.py").read_text(), re.M):
            problems.append(f"functions/{on_disk[name].name}/main.py defines no module-level `{ENTRY_POINT}`")
    for job, schedule in sorted(manifest.get("schedules", {}).items()):
        if schedule.get("function") not in declared:
            problems.append(f"schedule {job} targets {schedule.get('function')!r}, which is not a function")
    for queue, spec in sorted(manifest.get("queues", {}).items()):
        if spec.get("target") not in declared:
            problems.append(f"queue {queue} dispatches to {spec.get('target')!r}, which is not a function")
    secrets = set(manifest.get("secrets", ()))
    for name, fn in sorted(declared.items()):
        for secret in fn.get("secrets", ()):
            if secret not in secrets:
                problems.append(f"{name} mounts secret {secret!r}, which the manifest does not create")
    return problems


def render(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.deploy_manifest", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed manifest is stale")
    parser.add_argument("--out", type=Path, default=MANIFEST)
    parser.add_argument("--functions-dir", type=Path, default=None, help=argparse.SUPPRESS)  # tests
    args = parser.parse_args(argv)

    text = render(build(args.functions_dir))
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        problems = function_problems(json.loads(current) if current else {}, args.functions_dir)
        for problem in problems:
            print(f"deploy_manifest: {problem}", file=sys.stderr)
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), "committed", "generated", lineterm="", n=1
            )
            print("\n".join(diff))
            print(f"{args.out} is stale: run `python -m devtools.deploy_manifest` and commit it", file=sys.stderr)
            return 1
        if problems:
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
