"""The whole system on this machine: `make dev`.

Starts the Firestore emulator (with the data the last run left), the local identity, the
Cloud Tasks emulator, the sandbox Intercom (or points at a real Intercom account), every
function (functions-framework) and the web console, creates the queues from the
connectors' declared limits, runs a sync you can watch, prints the URLs (the console's
first), saves the Firestore data and stops every process it started on Ctrl-C.

Everything that can be checked before starting is checked first (ports, Java, the
emulator package), so a newcomer gets one sentence naming what is wrong, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools import ports as portconf
from devtools.console_server import ConsoleServer, local_config
from devtools.emulators import EmulatorMissing, export_firestore, firestore_emulator, missing_prerequisites
from devtools.identity import IdentityServer, LocalIdentity
from devtools.local_data import EXPORT_NAME, LocalData, default_root
from devtools.processes import ManagedProcess, stop_all

REPO = Path(__file__).resolve().parent.parent
PROJECT = "tributary-local"
REGION = "europe-west1"
ALLOWED_DOMAIN = "example.com"
SANDBOX_TOKEN = "sandbox-token"
ADMIN_EMAIL = f"admin@{ALLOWED_DOMAIN}"
#: the local stack's credentials KEK: fixed so stored credentials survive restarts (never a real key)
DEV_CREDENTIALS_KEYS = "dev-1:E00qXjrv9L2myt0pjfyHLkTnoImAUe04gEEsE297yLI"
REAL_INTERCOM_URL = "https://api.intercom.io"


@dataclass(frozen=True)
class IntercomTarget:
    """Which Intercom the stack syncs: the sandbox it starts, or a real account."""

    base_url: str
    token: str
    real: bool

    @property
    def connection_name(self) -> str:
        return "Intercom" if self.real else "Sandbox Intercom"

    def describe(self) -> str:
        if self.real:
            return f"a REAL Intercom account at {self.base_url} (token from --intercom-token / INTERCOM_ACCESS_TOKEN)"
        return f"the sandbox Intercom at {self.base_url} (generated data; a real account: INTERCOM_ACCESS_TOKEN=...)"


def function_env(identity: IdentityServer, functions_base: str, ports: portconf.Ports) -> dict[str, str]:
    console = ports["console"]
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FUNCTION_REGION": REGION,
        "TRIBUTARY_ENV": "local",
        "ALLOWED_DOMAINS": ALLOWED_DOMAIN,
        "FUNCTIONS_BASE_URL": functions_base,
        "CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{console},http://localhost:{console}",
        "FIREBASE_CERTS_URL": identity.firebase_certs_url,
        "GOOGLE_OIDC_CERTS_URL": identity.oidc_certs_url,
        "SCHEDULER_SERVICE_ACCOUNT": f"scheduler@{PROJECT}.iam.gserviceaccount.com",
        "TASKS_SERVICE_ACCOUNT": f"tasks-invoker@{PROJECT}.iam.gserviceaccount.com",
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{ports['firestore']}",
        "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{ports['tasks']}",
        "CREDENTIALS_KEYS": DEV_CREDENTIALS_KEYS,
    }


def create_queues(env: dict[str, str], sandbox_rpm: float | None) -> list[str]:
    """The same numbers Terraform uses, with the sandbox's budget in place of Intercom's
    (None: the vendor's own, for a real account)."""
    from shared.sync.queues import queue_spec
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in all_connectors():
        spec = queue_spec(connector, requests_per_minute=sandbox_rpm if connector.vendor == "intercom" else None)
        ensure_queue(client, PROJECT, REGION, spec)
        names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s, {spec.max_concurrent_dispatches} concurrent)")
    return names


def ensure_connection(functions_base: str, token: str, target: IntercomTarget) -> str:
    """The Intercom connection, made through the connections API like any other. One kept
    from an earlier run (same name) is reused, its URL and token brought up to date."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"config": {"base_url": target.base_url}, "credentials": {"access_token": target.token}}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        listed = api.get("/connections", params={"vendor": "intercom"})
        listed.raise_for_status()
        for connection in listed.json()["connections"]:
            if connection["name"] == target.connection_name and connection["status"] != "deleting":
                api.patch(f"/connections/{connection['id']}", json=body).raise_for_status()
                return str(connection["id"])
        created = api.post("/connections", json={"vendor": "intercom", "name": target.connection_name,
                                                  "owner": "org", **body})
        created.raise_for_status()
        return str(created.json()["id"])


def watch_sync(functions_base: str, token: str, connection_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        started = api.post("/sync-now", json={"connection_id": connection_id})
        if started.status_code != 202:
            print(f"sync-now answered {started.status_code}: {started.text}")
            return
        run_id = started.json()["run_id"]
        print(f"\nsync {run_id} started; following it (Ctrl-C stops the stack)")
        t0 = time.monotonic()
        while True:
            run = api.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id}).json()
            counts = run.get("counts", {})
            print(
                f"  {time.monotonic() - t0:6.1f}s  {run.get('status'):9}  fetched={counts.get('fetched')} "
                f"written={counts.get('written')} unchanged={counts.get('unchanged')} failed={counts.get('failed')}",
                flush=True,
            )
            if run.get("status") in ("succeeded", "partial", "failed"):
                for name, stream in run.get("streams", {}).items():
                    print(f"    {name:14} {stream['status']:9} pages={stream['pages']} {stream['counts']}")
                return
            time.sleep(2)


def save_firestore(data: LocalData, host: str) -> None:
    """Export to a staging directory, then swap it in: a cut-short export loses nothing."""
    t0 = time.monotonic()
    staged = Path(tempfile.mkdtemp(prefix="firestore-data.", dir=data.root))
    try:
        export_firestore(host, PROJECT, staged, EXPORT_NAME)
        data.replace_export(staged)
    except BaseException:
        import shutil

        shutil.rmtree(staged, ignore_errors=True)
        raise
    print(f"Firestore data saved to {data.firestore_dir} ({time.monotonic() - t0:.1f}s)", flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make dev ARGS=...", description="Run Tributary locally on emulators and sandbox vendors.")
    parser.add_argument("--clean", action="store_true",
                        help="start from an empty Firestore and a new sandbox (forgets .local/firestore-data)")
    parser.add_argument("--no-sync", action="store_true", help="start everything but do not run a first sync")
    parser.add_argument("--no-connection", action="store_true",
                        help="do not make the Intercom connection (add one in the console); implies --no-sync")
    parser.add_argument("--data-dir", type=Path, default=default_root(),
                        help="where the data, logs and stack.json live (default .local, or $TRIBUTARY_LOCAL_DIR)")
    parser.add_argument("--exit-after-sync", action="store_true", help="stop the stack once the first sync ends")
    sandbox = parser.add_argument_group("sandbox Intercom")
    sandbox.add_argument("--contacts", type=int, default=10_000)
    sandbox.add_argument("--companies", type=int, default=2_000)
    sandbox.add_argument("--admins", type=int, default=50)
    sandbox.add_argument("--conversations", type=int, default=20_000)
    sandbox.add_argument("--rate-limit", type=int, default=1_000, help="sandbox Intercom requests per minute")
    real = parser.add_argument_group("a real Intercom account instead of the sandbox")
    real.add_argument("--intercom-token", default=os.environ.get("INTERCOM_ACCESS_TOKEN", ""),
                      help="an Intercom access token (default: $INTERCOM_ACCESS_TOKEN); set, the sandbox is not started")
    real.add_argument("--intercom-url", default=os.environ.get("INTERCOM_BASE_URL", REAL_INTERCOM_URL),
                      help=f"the workspace's API host (default: $INTERCOM_BASE_URL or {REAL_INTERCOM_URL})")
    portconf.add_arguments(parser)
    return parser.parse_args(argv)


def preflight(ports: portconf.Ports, names: list[str]) -> str | None:
    """Everything that can fail before a process starts, as one message (None: all good)."""
    busy = portconf.busy_ports(ports, names)
    if busy:
        return portconf.busy_message(busy)
    problems = missing_prerequisites()
    if problems:
        return "Cannot start:\n" + "\n".join(f"  - {p.replace(chr(10), chr(10) + '    ')}" for p in problems)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ports = portconf.Ports.resolve(args)
    except ValueError as exc:
        print(f"Cannot start: a port setting is not a number ({exc}).", file=sys.stderr)
        return 2
    target = (IntercomTarget(args.intercom_url.rstrip("/"), args.intercom_token, real=True) if args.intercom_token
              else IntercomTarget(f"http://127.0.0.1:{ports['intercom']}", SANDBOX_TOKEN, real=False))
    needed = [n for n in portconf.DEFAULTS if not (n == "intercom" and target.real)]
    problem = preflight(ports, needed)
    if problem:
        print(problem, file=sys.stderr)
        return 2

    data = LocalData(args.data_dir.resolve())
    if args.clean:
        data.clean()
    data.rotate_logs()
    kept = data.has_firestore_data()
    console_url = f"http://127.0.0.1:{ports['console']}"
    print(f"Tributary console: {console_url}   (starting; "
          f"{'the data of the last run' if kept else 'an empty Firestore'})", flush=True)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines from the in-process servers
    py = sys.executable
    functions_base = f"http://127.0.0.1:{ports['functions']}/{PROJECT}/{REGION}"
    firestore_host = f"127.0.0.1:{ports['firestore']}"
    started: list[ManagedProcess] = []
    console_origins = (console_url, f"http://localhost:{ports['console']}")
    identity = IdentityServer(LocalIdentity(PROJECT), port=ports["identity"], cors_origins=console_origins).start()
    console: ConsoleServer | None = None
    firestore: ManagedProcess | None = None
    # Ctrl-C, kill and a closed terminal all stop the stack, even when started from a
    # shell that made background jobs ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        firestore = firestore_emulator(ports["firestore"], data.logs, import_data=data.import_file if kept else None)
        started.append(firestore.start())
        env = function_env(identity, functions_base, ports)
        started.append(
            ManagedProcess(
                "cloudtasks",
                [py, "-m", "devtools.cloudtasks_emulator", "--port", str(ports["tasks"]),
                 "--http-port", str(ports["tasks-http"]), "--oidc-mint-url", identity.mint_oidc_url],
                port=ports["tasks"], env=env, log_dir=data.logs, cwd=REPO,
            ).start()
        )
        epoch_note = ""
        if not target.real:
            epoch, reused = data.sandbox_epoch(reuse=kept)
            epoch_note = (f"history ends {time.strftime('%Y-%m-%d %H:%M', time.localtime(epoch))}"
                          f"{' (kept with the data; --clean starts at now)' if reused else ''}")
            started.append(
                ManagedProcess(
                    "intercom-sandbox",
                    [py, "-m", "devtools.sandboxes.intercom", "--port", str(ports["intercom"]),
                     "--contacts", str(args.contacts), "--companies", str(args.companies),
                     "--admins", str(args.admins), "--conversations", str(args.conversations),
                     "--rate-limit", str(args.rate_limit), "--epoch", str(epoch)],
                    port=ports["intercom"], env=env, log_dir=data.logs, cwd=REPO, ready_timeout_s=120,
                ).start()
            )
        started.append(
            ManagedProcess(
                "functions", [py, "-m", "devtools.functions_server", "--port", str(ports["functions"])],
                port=ports["functions"], env=env, log_dir=data.logs, cwd=REPO,
            ).start()
        )
        sandboxes = {} if target.real else {
            "intercom": {"base_url": target.base_url, "credentials": {"access_token": SANDBOX_TOKEN}}}
        console = ConsoleServer(
            local_config(functions_base, identity.base_url, [ALLOWED_DOMAIN], sandboxes),
            port=ports["console"], connect=[f"http://127.0.0.1:{ports['functions']}", identity.base_url],
        ).start()
        queues = create_queues(env, None if target.real else args.rate_limit)
        token = identity.identity.id_token(ADMIN_EMAIL, role="admin", lifetime_s=3600)
        connection_id = "" if args.no_connection else ensure_connection(functions_base, token, target)
        data.write_stack({"console": console_url, "functions": functions_base, "identity": identity.base_url,
                          "project": PROJECT, "connection_id": connection_id, "pid": os.getpid()})
        lines = [
            "", "Tributary is running locally. Open the console:", "", f"  {console_url}", "",
            f"  (sign in as {ADMIN_EMAIL} or member@{ALLOWED_DOMAIN}; the local identity mints the tokens)", "",
            f"  vendor           {target.describe()}",
        ]
        if epoch_note:
            lines.append(f"  sandbox          {epoch_note}; /_sandbox/stats")
        lines.append(f"  connection       {connection_id} ({target.connection_name}, made through /connections)"
                     if connection_id else "  connection       none made (--no-connection): add one in the console")
        lines += [
            f"  functions        {functions_base}/<name>   (e.g. /health, /openapi, /sync-status)",
            f"  Firestore        {firestore_host} (emulator; data kept in {data.firestore_dir}, --clean forgets it)",
            f"  Cloud Tasks      127.0.0.1:{ports['tasks']} (gRPC), status page http://127.0.0.1:{ports['tasks-http']}/",
            f"  queues           {', '.join(queues)}",
            f"  identity         {identity.base_url} (POST /mint/id-token {{\"email\": ..., \"role\": ...}})",
            f"  logs             {data.logs} (this run; the last run's in logs/previous)", "",
            f"A token for curl (or: python -m devtools.token --email {ADMIN_EMAIL} --role admin):",
            f"  export TOKEN={token}",
            f"  curl -H \"Authorization: Bearer $TOKEN\" {functions_base}/sync-status",
        ]
        if connection_id:
            lines += [
                f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/sync-runs?connection_id={connection_id}'",
                f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/records/{connection_id}/contacts?limit=5'",
            ]
        lines.append("")
        print("\n".join(lines), flush=True)
        if connection_id and not args.no_sync:
            watch_sync(functions_base, token, connection_id)
            if not args.exit_after_sync:  # saved now, so a crash later does not lose the sync
                save_firestore(data, firestore_host)
        if args.exit_after_sync:
            return 0
        print(f"\nConsole: {console_url}   Press Ctrl-C to stop everything (the data is saved).", flush=True)
        while all(p.alive() for p in started):
            time.sleep(1)
        dead = [p for p in started if not p.alive()]
        for proc in dead:
            print(f"{proc.name} stopped unexpectedly; its log ({proc.log_path}):\n{proc.tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    except EmulatorMissing as exc:
        print(f"Cannot start:\n{exc}", file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, OSError, httpx.HTTPError) as exc:
        print(f"Cannot start: {exc}\nThe logs are in {data.logs}.", file=sys.stderr)
        return 1
    finally:
        if firestore is not None and firestore.alive():
            try:
                save_firestore(data, firestore_host)
            except (httpx.HTTPError, OSError, KeyboardInterrupt) as exc:
                print(f"Firestore data NOT saved ({exc!r}); the previous save is kept.", file=sys.stderr)
        data.forget_stack()
        if console:
            console.stop()
        stop_all(started)
        identity.stop()


if __name__ == "__main__":
    raise SystemExit(main())
