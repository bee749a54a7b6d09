"""The whole system on this machine: `make dev`.

Starts the Firestore emulator (with the data the last run left), the local identity, the
Cloud Tasks emulator, every registered sandbox vendor (devtools/sandboxes/registry.py) or,
for a vendor given a real account, nothing but a connection to it, every function
(functions-framework) and the web console; creates the queues from the connectors'
declared limits, makes one connection per vendor through the connections API, runs a first
sync of each you can watch, prints the URLs (the console's first), saves the Firestore data
and stops every process it started on Ctrl-C.

Everything that can be checked before starting is checked first (ports, Java, the emulator
package), so a newcomer gets one sentence naming what is wrong, not a traceback.

Nothing here names a vendor: size flags (--contacts, ...) come from the sandboxes'
declarations, and a sandbox a test declares joins through TRIBUTARY_EXTRA_SANDBOXES (its
connector through TRIBUTARY_EXTRA_CONNECTORS).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools import ports as portconf
from devtools.console_server import ConsoleServer, local_config
from devtools.emulators import EmulatorMissing, export_firestore, firestore_emulator, missing_prerequisites
from devtools.identity import IdentityServer, LocalIdentity
from devtools.local_data import EXPORT_NAME, LocalData, default_root
from devtools.processes import ManagedProcess, stop_all
from devtools.sandboxes.kit.descriptor import Launch, SandboxDescriptor
from devtools.sandboxes.registry import all_sandboxes
from devtools.scheduler import DEFAULT_EVERY_S, LocalScheduler

REPO = Path(__file__).resolve().parent.parent
PROJECT = "tributary-local"
REGION = "europe-west1"
ALLOWED_DOMAIN = "example.com"
ADMIN_EMAIL = f"admin@{ALLOWED_DOMAIN}"
#: what sandboxes sign their webhooks with when the vendor chooses the secret (Intercom: the
#: app's client secret)
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
#: the kit sender's signer for each verifier kind (shared.vendors.webhooks)
SIGNERS = {"hmac": "hmac-sha1", "hubspot-v3": "hubspot-v3", "basic": "basic"}
#: the local stack's credentials KEK: fixed so stored credentials survive restarts (never a real key)
DEV_CREDENTIALS_KEYS = "dev-1:E00qXjrv9L2myt0pjfyHLkTnoImAUe04gEEsE297yLI"


@dataclass(frozen=True)
class Target:
    """Where one vendor's connection points: its sandbox, started here, or a real account."""

    sandbox: SandboxDescriptor
    base_url: str
    token: str
    real: bool

    @property
    def vendor(self) -> str:
        return self.sandbox.vendor

    @property
    def connection_name(self) -> str:
        return self.sandbox.vendor.replace("_", " ").title() if self.real else self.sandbox.name

    def connection_body(self) -> dict[str, Any]:
        return self.sandbox.connection(self.base_url, self.token, self.connection_name)

    def describe(self) -> str:
        if self.real:
            return f"a REAL {self.vendor} account at {self.base_url}"
        env = self.vendor.upper()
        return f"the {self.sandbox.name} at {self.base_url} (token {self.token}; a real account: {env}_ACCESS_TOKEN=...)"


def real_accounts(args: argparse.Namespace, sandboxes: list[SandboxDescriptor]) -> dict[str, tuple[str, str]]:
    """vendor -> (token, base URL) of the vendors given a real account: `--real VENDOR=TOKEN`
    (and `--real-url VENDOR=URL`), or <VENDOR>_ACCESS_TOKEN (and <VENDOR>_BASE_URL) in the
    environment. The URL defaults to the connector's first declared base URL."""
    from shared.sync.registry import connector

    tokens = {v: os.environ[f"{v.upper()}_ACCESS_TOKEN"] for v in (s.vendor for s in sandboxes)
              if os.environ.get(f"{v.upper()}_ACCESS_TOKEN")}
    urls = {v: os.environ[f"{v.upper()}_BASE_URL"] for v in (s.vendor for s in sandboxes)
            if os.environ.get(f"{v.upper()}_BASE_URL")}
    for given, into in ((args.real, tokens), (args.real_url, urls)):
        for item in given:
            vendor, sep, value = item.partition("=")
            if not sep or not value:
                raise ValueError(f"{item!r}: expected VENDOR=VALUE")
            into[vendor] = value
    known = {s.vendor for s in sandboxes}
    unknown = set(tokens) - known
    if unknown:
        raise ValueError(f"no vendor {sorted(unknown)}; known: {sorted(known)}")
    found = {}
    for vendor, token in tokens.items():
        url = urls.get(vendor) or (connector(vendor).base_urls or ("",))[0]
        found[vendor] = (token, url.rstrip("/"))
    return found


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


def create_queues(env: dict[str, str], sandbox_rpm: float, sandbox_vendors: set[str]) -> list[str]:
    """The same numbers Terraform uses, with the sandboxes' budget in place of the vendors'
    (a vendor given a real account keeps its own)."""
    from shared.sync.queues import queue_specs
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in all_connectors():
        try:
            specs = queue_specs(connector, requests_per_minute=sandbox_rpm if connector.vendor in sandbox_vendors else None)
        except ValueError as exc:  # a test's demo vendor whose name is no queue id: it cannot sync, nothing else
            print(f"no queue for {connector.vendor}: {exc}", file=sys.stderr)
            continue
        for spec in specs:
            ensure_queue(client, PROJECT, REGION, spec)
            names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s, {spec.max_concurrent_dispatches} concurrent)")
    names += create_webhook_queues(env)
    names += create_outbox_queues(env)
    return names


def create_outbox_queues(env: dict[str, str]) -> list[str]:
    from shared.serving.outbox_api import outbox_connectors, queue_spec
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in outbox_connectors(all_connectors()):
        spec = queue_spec(connector)
        ensure_queue(client, PROJECT, REGION, spec)
        names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s)")
    return names


def create_webhook_queues(env: dict[str, str]) -> list[str]:
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client
    from shared.webhooks.queues import queue_spec, webhook_connectors

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in webhook_connectors(all_connectors()):
        spec = queue_spec(connector)
        ensure_queue(client, PROJECT, REGION, spec)
        names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s)")
    return names


def hook_webhooks(functions_base: str, token: str, connection_id: str, sandbox_base: str) -> str | None:
    """A sandbox's changes reach its connection as signed webhooks: the connection gets its
    secret, the sandbox's sender its URL. None when the vendor or its sandbox has no webhooks."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        setup = api.get(f"/webhooks/{connection_id}/setup")
        if setup.status_code == 404:
            return None
        setup.raise_for_status()
        info = setup.json()
        if info["secret_chosen_by"] == "vendor" and len(info["secret_fields"]) == 1:
            api.put(f"/webhooks/{connection_id}/secret", json={"secret": SANDBOX_CLIENT_SECRET}).raise_for_status()
            settings = {"secret": SANDBOX_CLIENT_SECRET}
        else:
            saved = api.put(f"/webhooks/{connection_id}/secret", json={"generate": True})
            saved.raise_for_status()
            values = saved.json()["generated"]
            settings = {"username": values.get("webhook_username"), "password": values.get("webhook_password"),
                        "secret": next(iter(values.values()))}
    hooked = httpx.post(f"{sandbox_base}/_sandbox/webhooks", timeout=30,
                        json={"url": info["url"], "signer": SIGNERS[info["verifier"]], **settings})
    return str(info["url"]) if hooked.status_code == 200 else None


def start_sandbox(target: Target, port: int, args: argparse.Namespace, env: dict[str, str], log_dir: Path,
                  epoch: int) -> ManagedProcess:
    """`target`'s sandbox on `port`, sized by the flags given (its own defaults otherwise)."""
    sandbox = target.sandbox
    given = {name: getattr(args, name) for name in sandbox.sizes if getattr(args, name) is not None}
    launch = Launch(port=port, size={**sandbox.sizes, **given}, rate_limit=args.rate_limit, epoch=epoch)
    return ManagedProcess(
        f"{sandbox.vendor}-sandbox", sandbox.argv(launch), port=port, env=env, log_dir=log_dir,
        cwd=REPO, ready_timeout_s=sandbox.ready_timeout_s,
    ).start()


def ensure_connection(functions_base: str, token: str, target: Target) -> str:
    """The vendor's connection, made through the connections API like any other. One kept
    from an earlier run (same name) is reused, its URL and credentials brought up to date."""
    headers = {"Authorization": f"Bearer {token}"}
    body = target.connection_body()
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        listed = api.get("/connections", params={"vendor": target.vendor})
        listed.raise_for_status()
        for connection in listed.json()["connections"]:
            if connection["name"] == target.connection_name and connection["status"] != "deleting":
                update = {"config": body["config"], "credentials": body["credentials"]}
                api.patch(f"/connections/{connection['id']}", json=update).raise_for_status()
                return str(connection["id"])
        created = api.post("/connections", json=body)
        created.raise_for_status()
        return str(created.json()["id"])


def ensure_connections(functions_base: str, token: str, targets: list[Target]) -> dict[str, str]:
    """vendor -> connection id; a sandbox whose vendor the functions do not know (a test
    sandbox without its connector) is reported and left unconnected, not fatal."""
    connections = {}
    for target in targets:
        try:
            connections[target.vendor] = ensure_connection(functions_base, token, target)
        except httpx.HTTPStatusError as exc:
            print(f"no connection for {target.vendor}: {exc.response.status_code} {exc.response.text}",
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


def report_tick(answer: dict[str, Any]) -> None:
    """One line for a tick that did something (started runs, recovered runs, or failed)."""
    done = {k: v for k, v in answer.items() if v and k in ("started", "recovered", "errors", "error")}
    if done:
        print(f"  scheduler tick: {done}", flush=True)


def save_firestore(data: LocalData, host: str) -> None:
    """Export to a staging directory, then swap it in: a cut-short export loses nothing."""
    t0 = time.monotonic()
    staged = Path(tempfile.mkdtemp(prefix="firestore-data.", dir=data.root))
    try:
        export_firestore(host, PROJECT, staged, EXPORT_NAME)
        data.replace_export(staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    print(f"Firestore data saved to {data.firestore_dir} ({time.monotonic() - t0:.1f}s)", flush=True)


def parse_args(argv: Sequence[str] | None, sandboxes: list[SandboxDescriptor],
               known_ports: dict[str, tuple[int, str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make dev ARGS=...", description="Run Tributary locally on emulators and sandbox vendors.")
    parser.add_argument("--clean", action="store_true",
                        help="start from an empty Firestore and new sandboxes (forgets .local/firestore-data)")
    parser.add_argument("--no-sync", action="store_true", help="start everything but do not run a first sync")
    parser.add_argument("--no-connection", action="store_true",
                        help="make no connection (add them in the console); implies --no-sync")
    parser.add_argument("--exit-after-sync", action="store_true", help="stop the stack once the first sync ends")
    parser.add_argument("--tick-every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
                        help="call sync-scheduler this often, as Cloud Scheduler does (plans due connections, "
                             f"recovers stalled runs; default {DEFAULT_EVERY_S:.0f}, 0: never)")
    parser.add_argument("--data-dir", type=Path, default=default_root(),
                        help="where the data, logs and stack.json live (default .local, or $TRIBUTARY_LOCAL_DIR)")
    group = parser.add_argument_group("sandboxes")
    sizes: dict[str, list[str]] = {}
    for sandbox in sandboxes:
        for name, default in sandbox.sizes.items():
            sizes.setdefault(name, []).append(f"{sandbox.vendor} {default}")
    for name, defaults in sorted(sizes.items()):
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None,
                           help=f"sandbox size (default: {', '.join(defaults)})")
    group.add_argument("--rate-limit", type=int, default=1_000, help="every sandbox's requests per minute")
    group.add_argument("--only", action="append", default=[], metavar="VENDOR",
                       help="start and connect only these vendors (repeatable; default: every registered one)")
    real = parser.add_argument_group("real accounts instead of sandboxes")
    real.add_argument("--real", action="append", default=[], metavar="VENDOR=TOKEN",
                      help="use a real account of VENDOR (its sandbox is not started); or set <VENDOR>_ACCESS_TOKEN")
    real.add_argument("--real-url", action="append", default=[], metavar="VENDOR=URL",
                      help="its API host (default: the connector's first; or <VENDOR>_BASE_URL)")
    portconf.add_arguments(parser, known_ports)
    return parser.parse_args(argv)


def preflight(ports: portconf.Ports, names: list[str]) -> str | None:
    """Everything that can fail before a process starts, as one message (None: all good)."""
    busy = portconf.busy_ports(ports, names)
    if busy:
        return portconf.busy_message(busy, ports.known)
    problems = missing_prerequisites()
    if problems:
        return "Cannot start:\n" + "\n".join(f"  - {p.replace(chr(10), chr(10) + '    ')}" for p in problems)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["TRIBUTARY_ENV"] = "local"  # this process reads the registry too (demo connectors are local-only)
    sandboxes = all_sandboxes()
    known = portconf.with_sandboxes([(s.vendor, s.default_port, s.name) for s in sandboxes])
    args = parse_args(argv, sandboxes, known)
    if args.only:
        unknown = set(args.only) - {s.vendor for s in sandboxes}
        if unknown:
            print(f"Cannot start: --only {sorted(unknown)}: no such sandbox; known: {[s.vendor for s in sandboxes]}",
                  file=sys.stderr)
            return 2
        sandboxes = [s for s in sandboxes if s.vendor in args.only]
        known = {k: v for k, v in known.items() if k in portconf.DEFAULTS or k in args.only}
    try:
        ports = portconf.Ports.resolve(args, known)
        accounts = real_accounts(args, sandboxes)
    except ValueError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    targets = [
        Target(s, accounts[s.vendor][1], accounts[s.vendor][0], real=True) if s.vendor in accounts
        else Target(s, f"http://127.0.0.1:{ports[s.vendor]}", s.token, real=False)
        for s in sandboxes
    ]
    needed = [name for name in known if name not in accounts]
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
    scheduler: LocalScheduler | None = None
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
        epoch, reused = data.sandbox_epoch(reuse=kept)
        for target in targets:
            if not target.real:
                started.append(start_sandbox(target, ports[target.vendor], args, env, data.logs, epoch))
        started.append(
            ManagedProcess(
                "functions", [py, "-m", "devtools.functions_server", "--port", str(ports["functions"])],
                port=ports["functions"], env=env, log_dir=data.logs, cwd=REPO,
            ).start()
        )
        offered = {t.vendor: {"base_url": t.base_url, "credentials": t.sandbox.credentials(t.token), "name": t.sandbox.name,
                              "config": t.sandbox.connection(t.base_url, t.token)["config"]}
                   for t in targets if not t.real}
        console = ConsoleServer(
            local_config(functions_base, identity.base_url, [ALLOWED_DOMAIN], offered),
            port=ports["console"], connect=[f"http://127.0.0.1:{ports['functions']}", identity.base_url],
        ).start()
        queues = create_queues(env, args.rate_limit, {t.vendor for t in targets if not t.real})
        token = identity.identity.id_token(ADMIN_EMAIL, role="admin", lifetime_s=3600)
        connections = {} if args.no_connection else ensure_connections(functions_base, token, targets)
        hooks = {t.vendor: hook_webhooks(functions_base, token, connections[t.vendor], t.base_url)
                 for t in targets if t.vendor in connections and not t.real}
        if args.tick_every > 0:
            scheduler = LocalScheduler(functions_base, identity.identity, env["SCHEDULER_SERVICE_ACCOUNT"],
                                       args.tick_every, report=report_tick).start()
        first = next(iter(connections.values()), "")
        data.write_stack({"console": console_url, "functions": functions_base, "identity": identity.base_url,
                          "project": PROJECT, "connections": connections, "connection_id": first,
                          "pid": os.getpid()})
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))
        lines = [
            "", "Tributary is running locally. Open the console:", "", f"  {console_url}", "",
            f"  (sign in as {ADMIN_EMAIL} or member@{ALLOWED_DOMAIN}; the local identity mints the tokens)", "",
        ]
        for target in targets:
            lines.append(f"  {target.vendor:16} {target.describe()}"
                         + (f", connection {connections[target.vendor]}" if target.vendor in connections else ""))
        if any(not t.real for t in targets):
            lines.append(f"  sandbox data     history ends {when}"
                         + (" (kept with the data; --clean starts at now)" if reused else ""))
        if args.no_connection:
            lines.append("  connections      none made (--no-connection): add them in the console")
        lines += [f"  webhooks         {vendor}: {url} (POST /_sandbox/mutate sends signed changes)"
                  for vendor, url in hooks.items() if url]
        lines += [
            f"  functions        {functions_base}/<name>   (e.g. /health, /openapi, /sync-status)",
            f"  Firestore        {firestore_host} (emulator; data kept in {data.firestore_dir}, --clean forgets it)",
            f"  Cloud Tasks      127.0.0.1:{ports['tasks']} (gRPC), status page http://127.0.0.1:{ports['tasks-http']}/",
            f"  queues           {', '.join(queues)}",
            f"  identity         {identity.base_url} (POST /mint/id-token {{\"email\": ..., \"role\": ...}})",
            f"  scheduler        sync-scheduler every {args.tick_every:.0f}s, as Cloud Scheduler (--tick-every)"
            if scheduler else "  scheduler        off (--tick-every 0): nothing plans due connections or recovers stalled runs",
            f"  logs             {data.logs} (this run; the last run's in logs/previous)", "",
            f"A token for curl (or: python -m devtools.token --email {ADMIN_EMAIL} --role admin):",
            f"  export TOKEN={token}",
            f"  curl -H \"Authorization: Bearer $TOKEN\" {functions_base}/sync-status",
        ]
        if first:
            lines += [
                f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/sync-runs?connection_id={first}'",
                f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/records/{first}/contacts?limit=5'",
            ]
        print("\n".join([*lines, ""]), flush=True)
        if connections and not args.no_sync:
            watch_syncs(functions_base, token, connections)
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
    except (RuntimeError, TimeoutError, OSError, ValueError, httpx.HTTPError) as exc:
        print(f"Cannot start: {exc}\nThe logs are in {data.logs}.", file=sys.stderr)
        return 1
    finally:
        if firestore is not None and firestore.alive():
            try:
                save_firestore(data, firestore_host)
            except (httpx.HTTPError, OSError, KeyboardInterrupt) as exc:
                print(f"Firestore data NOT saved ({exc!r}); the previous save is kept.", file=sys.stderr)
        data.forget_stack()
        if scheduler:
            scheduler.stop()
        if console:
            console.stop()
        stop_all(started)
        identity.stop()


if __name__ == "__main__":
    raise SystemExit(main())
