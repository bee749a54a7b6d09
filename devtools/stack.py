"""The whole system on this machine: `make dev`.

Starts the Firestore emulator, the local identity, the Cloud Tasks emulator, every
registered sandbox vendor (devtools/sandboxes/registry.py, each on its declared port) and
every function (functions-framework), creates the queues from the connectors' declared
limits, makes one connection per sandbox through the connections API, runs a first sync of
each you can watch, prints the URLs, and stops every process it started on Ctrl-C.

Nothing here names a vendor: size flags (--contacts, ...) come from the sandboxes'
declarations, and a sandbox a test declares joins through TRIBUTARY_EXTRA_SANDBOXES (its
connector through TRIBUTARY_EXTRA_CONNECTORS).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from devtools.emulators import EmulatorMissing, firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import ManagedProcess, stop_all
from devtools.sandboxes.kit.descriptor import Launch, SandboxDescriptor
from devtools.sandboxes.registry import all_sandboxes

REPO = Path(__file__).resolve().parent.parent
PROJECT = "tributary-local"
REGION = "europe-west1"
ADMIN_EMAIL = "admin@example.com"
#: the local stack's credentials KEK: fixed so stored credentials survive restarts (never a real key)
DEV_CREDENTIALS_KEYS = "dev-1:E00qXjrv9L2myt0pjfyHLkTnoImAUe04gEEsE297yLI"
#: the stack's own ports; each sandbox listens on its descriptor's default_port
PORTS = {"firestore": 8080, "functions": 5001, "identity": 9010, "tasks": 8123, "tasks_http": 8124}


def function_env(identity: IdentityServer, functions_base: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FUNCTION_REGION": REGION,
        "TRIBUTARY_ENV": "local",
        "ALLOWED_DOMAINS": "example.com",
        "FUNCTIONS_BASE_URL": functions_base,
        "FIREBASE_CERTS_URL": identity.firebase_certs_url,
        "GOOGLE_OIDC_CERTS_URL": identity.oidc_certs_url,
        "SCHEDULER_SERVICE_ACCOUNT": f"scheduler@{PROJECT}.iam.gserviceaccount.com",
        "TASKS_SERVICE_ACCOUNT": f"tasks-invoker@{PROJECT}.iam.gserviceaccount.com",
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{PORTS['firestore']}",
        "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{PORTS['tasks']}",
        "CREDENTIALS_KEYS": DEV_CREDENTIALS_KEYS,
    }


def create_queues(env: dict[str, str], sandbox_rpm: float, sandbox_vendors: set[str]) -> list[str]:
    """The same numbers Terraform uses, with the sandboxes' budget in place of the vendors'."""
    from shared.sync.queues import queue_spec
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in all_connectors():
        spec = queue_spec(connector, requests_per_minute=sandbox_rpm if connector.vendor in sandbox_vendors else None)
        ensure_queue(client, PROJECT, REGION, spec)
        names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s, {spec.max_concurrent_dispatches} concurrent)")
    return names


def sandbox_url(sandbox: SandboxDescriptor) -> str:
    return f"http://127.0.0.1:{sandbox.default_port}"


def start_sandbox(sandbox: SandboxDescriptor, args: argparse.Namespace, env: dict[str, str],
                  log_dir: Path) -> ManagedProcess:
    """`sandbox` on its port, sized by the flags given (its own defaults otherwise)."""
    given = {name: getattr(args, name) for name in sandbox.sizes if getattr(args, name) is not None}
    launch = Launch(port=sandbox.default_port, size={**sandbox.sizes, **given}, rate_limit=args.rate_limit)
    return ManagedProcess(
        f"{sandbox.vendor}-sandbox", sandbox.argv(launch), port=sandbox.default_port, env=env, log_dir=log_dir,
        cwd=REPO, ready_timeout_s=sandbox.ready_timeout_s,
    ).start()


def ensure_connection(functions_base: str, token: str, sandbox: SandboxDescriptor) -> str:
    """The sandbox's connection, made through the connections API like any other (reused
    when one for the sandbox already exists)."""
    url = sandbox_url(sandbox)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        listed = api.get("/connections", params={"vendor": sandbox.vendor})
        listed.raise_for_status()
        for connection in listed.json()["connections"]:
            if connection["config"].get("base_url") == url:
                return str(connection["id"])
        created = api.post("/connections", json=sandbox.connection(url))
        created.raise_for_status()
        return str(created.json()["id"])


def ensure_connections(functions_base: str, token: str, sandboxes: list[SandboxDescriptor]) -> dict[str, str]:
    """vendor -> connection id; a sandbox whose vendor the functions do not know (a test
    sandbox without its connector) is reported and left unconnected, not fatal."""
    connections = {}
    for sandbox in sandboxes:
        try:
            connections[sandbox.vendor] = ensure_connection(functions_base, token, sandbox)
        except httpx.HTTPStatusError as exc:
            print(f"no connection for the {sandbox.vendor} sandbox: {exc.response.status_code} {exc.response.text}",
                  file=sys.stderr)
    return connections


def watch_syncs(functions_base: str, token: str, connections: dict[str, str]) -> None:
    """Start a sync of every connection and follow them until each ends."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        runs: dict[str, tuple[str, str]] = {}
        for vendor, connection_id in connections.items():
            started = api.post("/sync-now", json={"connection_id": connection_id})
            if started.status_code != 202:
                print(f"sync-now for {vendor} answered {started.status_code}: {started.text}")
                continue
            runs[vendor] = (connection_id, started.json()["run_id"])
            print(f"\nsync {runs[vendor][1]} of {vendor} started; following it (Ctrl-C stops the stack)")
        t0 = time.monotonic()
        while runs:
            for vendor, (connection_id, run_id) in list(runs.items()):
                run = api.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id}).json()
                counts = run.get("counts", {})
                print(
                    f"  {time.monotonic() - t0:6.1f}s  {vendor:10} {run.get('status'):9}  fetched={counts.get('fetched')} "
                    f"written={counts.get('written')} unchanged={counts.get('unchanged')} failed={counts.get('failed')}",
                    flush=True,
                )
                if run.get("status") in ("succeeded", "partial", "failed"):
                    for name, stream in run.get("streams", {}).items():
                        print(f"    {name:14} {stream['status']:9} pages={stream['pages']} {stream['counts']}")
                    del runs[vendor]
            if runs:
                time.sleep(2)


def parse_args(sandboxes: list[SandboxDescriptor]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run Tributary locally on emulators and sandbox vendors.")
    sizes: dict[str, list[str]] = {}
    for sandbox in sandboxes:
        for name, default in sandbox.sizes.items():
            sizes.setdefault(name, []).append(f"{sandbox.vendor} {default}")
    for name, defaults in sorted(sizes.items()):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None,
                            help=f"sandbox size (default: {', '.join(defaults)})")
    parser.add_argument("--rate-limit", type=int, default=1_000, help="every sandbox's requests per minute")
    parser.add_argument("--no-sync", action="store_true", help="start everything but do not run a first sync")
    parser.add_argument("--exit-after-sync", action="store_true", help="stop the stack once the first sync ends")
    return parser.parse_args()


def main() -> int:
    sandboxes = all_sandboxes()
    args = parse_args(sandboxes)

    log_dir = REPO / ".local" / "logs"
    py = sys.executable
    functions_base = f"http://127.0.0.1:{PORTS['functions']}/{PROJECT}/{REGION}"
    started: list[ManagedProcess] = []
    identity = IdentityServer(LocalIdentity(PROJECT), port=PORTS["identity"]).start()
    # Ctrl-C, kill and a closed terminal all stop the stack, even when started from a
    # shell that made background jobs ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        try:
            started.append(firestore_emulator(PORTS["firestore"], log_dir).start())
        except EmulatorMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        env = function_env(identity, functions_base)
        started.append(
            ManagedProcess(
                "cloudtasks",
                [py, "-m", "devtools.cloudtasks_emulator", "--port", str(PORTS["tasks"]),
                 "--http-port", str(PORTS["tasks_http"]), "--oidc-mint-url", identity.mint_oidc_url],
                port=PORTS["tasks"], env=env, log_dir=log_dir, cwd=REPO,
            ).start()
        )
        for sandbox in sandboxes:
            started.append(start_sandbox(sandbox, args, env, log_dir))
        started.append(
            ManagedProcess(
                "functions", [py, "-m", "devtools.functions_server", "--port", str(PORTS["functions"])],
                port=PORTS["functions"], env=env, log_dir=log_dir, cwd=REPO,
            ).start()
        )
        queues = create_queues(env, args.rate_limit, {s.vendor for s in sandboxes})
        token = identity.identity.id_token(ADMIN_EMAIL, role="admin", lifetime_s=3600)
        connections = ensure_connections(functions_base, token, sandboxes)
        sandbox_lines = "".join(
            f"  {s.name:16} {sandbox_url(s)} (token {s.token}; /_sandbox/stats)"
            f"{', connection ' + connections[s.vendor] if s.vendor in connections else ''}\n"
            for s in sandboxes
        )
        first = next(iter(connections.values()), "<connection id>")
        print(
            "\nTributary is running locally:\n"
            f"  functions        {functions_base}/<name>   (e.g. /health, /openapi, /sync-status)\n"
            f"  Firestore        127.0.0.1:{PORTS['firestore']} (emulator)\n"
            f"  Cloud Tasks      127.0.0.1:{PORTS['tasks']} (gRPC), status page http://127.0.0.1:{PORTS['tasks_http']}/\n"
            f"  queues           {', '.join(queues)}\n"
            f"{sandbox_lines}"
            f"  connections      one per sandbox, made through /connections\n"
            f"  identity         {identity.base_url} (POST /mint/id-token {{\"email\": ..., \"role\": ...}})\n"
            f"  logs             {log_dir}\n\n"
            f"An admin token ({ADMIN_EMAIL}, 1 h):\n  export TOKEN={token}\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" {functions_base}/sync-status\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/sync-runs?connection_id={first}'\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/records/{first}/contacts?limit=5'\n",
            flush=True,
        )
        if not args.no_sync:
            watch_syncs(functions_base, token, connections)
        if args.exit_after_sync:
            return 0
        print("\nPress Ctrl-C to stop everything.", flush=True)
        while all(p.alive() for p in started):
            time.sleep(1)
        dead = [p for p in started if not p.alive()]
        for proc in dead:
            print(f"{proc.name} stopped unexpectedly; its log:\n{proc.tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stop_all(started)
        identity.stop()


if __name__ == "__main__":
    raise SystemExit(main())
