"""The whole system on this machine: `make dev`.

Starts the Firestore emulator, the local identity, the Cloud Tasks emulator, the sandbox
Intercom and every function (functions-framework), creates the queues from the
connectors' declared limits, runs a first sync you can watch, prints the URLs, and stops
every process it started on Ctrl-C.
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

REPO = Path(__file__).resolve().parent.parent
PROJECT = "tributary-local"
REGION = "europe-west1"
SANDBOX_TOKEN = "sandbox-token"
#: what the sandbox Intercom signs its webhooks with (Intercom: the app's client secret)
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
ADMIN_EMAIL = "admin@example.com"
#: the local stack's credentials KEK: fixed so stored credentials survive restarts (never a real key)
DEV_CREDENTIALS_KEYS = "dev-1:E00qXjrv9L2myt0pjfyHLkTnoImAUe04gEEsE297yLI"
PORTS = {"firestore": 8080, "functions": 5001, "identity": 9010, "tasks": 8123, "tasks_http": 8124, "intercom": 9101}


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


def create_queues(env: dict[str, str], sandbox_rpm: float) -> list[str]:
    """The same numbers Terraform uses, with the sandbox's budget in place of Intercom's."""
    from shared.sync.queues import queue_spec
    from shared.sync.registry import all_connectors
    from shared.tasks import ensure_queue, tasks_client

    client = tasks_client(env["CLOUD_TASKS_EMULATOR_HOST"])
    names = []
    for connector in all_connectors():
        spec = queue_spec(connector, requests_per_minute=sandbox_rpm if connector.vendor == "intercom" else None)
        ensure_queue(client, PROJECT, REGION, spec)
        names.append(f"{spec.name} ({spec.max_dispatches_per_second}/s, {spec.max_concurrent_dispatches} concurrent)")
    names += create_webhook_queues(env)
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


def hook_webhooks(functions_base: str, token: str, connection_id: str, intercom_url: str) -> str:
    """The sandbox's changes (POST /_sandbox/mutate) reach the connection as signed webhooks:
    the connection gets the sandbox app's client secret, the sandbox gets the URL."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        api.put(f"/webhooks/{connection_id}/secret", json={"secret": SANDBOX_CLIENT_SECRET}).raise_for_status()
        url = str(api.get(f"/webhooks/{connection_id}/setup").json()["url"])
    httpx.post(f"{intercom_url}/_sandbox/webhooks", timeout=30,
               json={"url": url, "signer": "hmac-sha1", "secret": SANDBOX_CLIENT_SECRET}).raise_for_status()
    return url


def ensure_connection(functions_base: str, token: str, intercom_url: str) -> str:
    """The sandbox's Intercom connection, made through the connections API like any other
    (reused when one for the sandbox already exists)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=functions_base, headers=headers, timeout=30) as api:
        listed = api.get("/connections", params={"vendor": "intercom"})
        listed.raise_for_status()
        for connection in listed.json()["connections"]:
            if connection["config"].get("base_url") == intercom_url:
                return str(connection["id"])
        created = api.post("/connections", json={
            "vendor": "intercom", "name": "Sandbox Intercom", "owner": "org",
            "config": {"base_url": intercom_url}, "credentials": {"access_token": SANDBOX_TOKEN}})
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


def main() -> int:
    parser = argparse.ArgumentParser(description="Run Tributary locally on emulators and sandbox vendors.")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--rate-limit", type=int, default=1_000, help="sandbox Intercom requests per minute")
    parser.add_argument("--no-sync", action="store_true", help="start everything but do not run a first sync")
    parser.add_argument("--exit-after-sync", action="store_true", help="stop the stack once the first sync ends")
    args = parser.parse_args()

    log_dir = REPO / ".local" / "logs"
    py = sys.executable
    functions_base = f"http://127.0.0.1:{PORTS['functions']}/{PROJECT}/{REGION}"
    intercom_url = f"http://127.0.0.1:{PORTS['intercom']}"
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
        started.append(
            ManagedProcess(
                "intercom-sandbox",
                [py, "-m", "devtools.sandboxes.intercom", "--port", str(PORTS["intercom"]),
                 "--contacts", str(args.contacts), "--companies", str(args.companies),
                 "--conversations", str(args.conversations), "--rate-limit", str(args.rate_limit)],
                port=PORTS["intercom"], env=env, log_dir=log_dir, cwd=REPO, ready_timeout_s=120,
            ).start()
        )
        started.append(
            ManagedProcess(
                "functions", [py, "-m", "devtools.functions_server", "--port", str(PORTS["functions"])],
                port=PORTS["functions"], env=env, log_dir=log_dir, cwd=REPO,
            ).start()
        )
        queues = create_queues(env, args.rate_limit)
        token = identity.identity.id_token(ADMIN_EMAIL, role="admin", lifetime_s=3600)
        connection_id = ensure_connection(functions_base, token, intercom_url)
        webhooks_url = hook_webhooks(functions_base, token, connection_id, intercom_url)
        print(
            "\nTributary is running locally:\n"
            f"  functions        {functions_base}/<name>   (e.g. /health, /openapi, /sync-status)\n"
            f"  Firestore        127.0.0.1:{PORTS['firestore']} (emulator)\n"
            f"  Cloud Tasks      127.0.0.1:{PORTS['tasks']} (gRPC), status page http://127.0.0.1:{PORTS['tasks_http']}/\n"
            f"  queues           {', '.join(queues)}\n"
            f"  sandbox Intercom {intercom_url} (token {SANDBOX_TOKEN}; /_sandbox/stats)\n"
            f"  connection       {connection_id} (the sandbox Intercom, made through /connections)\n"
            f"  webhooks         {webhooks_url} (the sandbox sends its changes, signed;\n"
            f"                   try: curl -X POST {intercom_url}/_sandbox/mutate -d '{{\"contacts_updated\": 5}}')\n"
            f"  identity         {identity.base_url} (POST /mint/id-token {{\"email\": ..., \"role\": ...}})\n"
            f"  logs             {log_dir}\n\n"
            f"An admin token ({ADMIN_EMAIL}, 1 h):\n  export TOKEN={token}\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" {functions_base}/sync-status\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" '{functions_base}/sync-runs?connection_id={connection_id}'\n",
            flush=True,
        )
        if not args.no_sync:
            watch_sync(functions_base, token, connection_id)
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
