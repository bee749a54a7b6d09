"""`make dev` as a newcomer meets it: a busy port is named within seconds, the data of a
sync is still there after a restart, the token command works against the running stack,
and a missing prerequisite is a sentence, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.e2e.local_stack import LocalStack, tiny

pytestmark = pytest.mark.e2e


def test_make_dev_on_a_busy_port_fails_fast_naming_it(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", stack.ports["functions"]))
        holder.listen()
        args = " ".join(stack.argv()[3:])  # the flags after `python -m devtools.stack`
        started = time.monotonic()
        # the Makefile's own command line; STAMP= skips the virtualenv step (this one is installed)
        result = subprocess.run(["make", "-s", "dev", "STAMP=", f"PY={sys.executable}", f"ARGS={args}"],
                                cwd=REPO, env=stack.env(), capture_output=True, text=True, timeout=60, check=False)
        elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 5, f"took {elapsed:.1f}s"
    port = stack.ports["functions"]
    assert f"port {port} (the functions): in use" in result.stderr
    assert f"--functions-port {port + 10}" in result.stderr and "--port-offset" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "logs").exists(), "nothing may start before the ports are checked"
    print(f"make dev on a busy port failed in {elapsed:.2f}s")


def test_the_data_of_a_sync_survives_a_restart(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "data")
    first = stack.run(*tiny(), "--exit-after-sync")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "an empty Firestore" in first.stdout and "succeeded" in first.stdout
    assert "failed=0" in first.stdout and "partial" not in first.stdout
    assert (tmp_path / "data" / "firestore-data" / "firestore_export").is_dir()
    epoch_line = next(line for line in first.stdout.splitlines() if "history ends" in line)

    info = stack.start(*tiny(), "--no-sync")
    try:
        assert "the data of the last run" in stack.output()
        kept = next(line for line in stack.output().splitlines() if "history ends" in line)
        assert epoch_line.split("history ends")[1][:17] == kept.split("history ends")[1][:17]
        assert "kept with the data" in kept
        intercom = info["connections"]["intercom"]
        with stack.api(info, stack.token()) as api:
            for connection_id in info["connections"].values():
                runs = api.get("/sync-runs", params={"connection_id": connection_id}).json()["runs"]
                assert [r["status"] for r in runs] == ["succeeded"], "the first run's record is still there"
            contacts = api.get(f"/records/{intercom}/contacts", params={"limit": 5})
            assert contacts.status_code == 200 and len(contacts.json()["items"]) == 5
            listed = api.get("/connections").json()["connections"]
            assert len(listed) == len(info["connections"]), "the connections are reused, not made again"
        # the logs start fresh; the last run's are kept aside
        assert (tmp_path / "data" / "logs" / "previous" / "functions.log").exists()
    finally:
        assert stack.stop() == 0, stack.output()
    assert "Firestore data saved" in stack.output()
    assert not (tmp_path / "data" / "stack.json").exists()


def test_the_token_command_signs_in_and_refreshes(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "data")
    info = stack.start(*tiny(), "--no-connection")
    try:
        assert "none made (--no-connection)" in stack.output()
        assert info["connections"] == {}
        member = stack.token("member@example.com", "member")
        with stack.api(info, member) as api:
            assert api.get("/me").json() == {"uid": "member@example.com", "email": "member@example.com",
                                             "role": "member"}
        # the production path (a refresh token exchanged at securetoken's /v1/token), against
        # the local identity, which answers that request the way Firebase does
        env = stack.env()
        minted = subprocess.run([sys.executable, "-m", "devtools.token", "--email", "admin@example.com",
                                 "--role", "admin", "--show-refresh-token"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True)
        refresh_token = minted.stderr.split("refresh token: ")[1].strip()
        token_file = tmp_path / "refresh-token"
        token_file.write_text(refresh_token + "\n")
        refreshed = subprocess.run([sys.executable, "-m", "devtools.token", "--refresh-token-file", str(token_file),
                                    "--securetoken-url", info["identity"]],
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert refreshed.returncode == 0, refreshed.stderr
        with stack.api(info, refreshed.stdout.strip()) as api:
            assert api.get("/me").json()["role"] == "admin"
        token_file.write_text("not-a-refresh-token")
        refused = subprocess.run([sys.executable, "-m", "devtools.token", "--refresh-token-file", str(token_file),
                                  "--securetoken-url", info["identity"]],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2 and "INVALID_REFRESH_TOKEN" in refused.stderr
        assert "Traceback" not in refused.stderr
        # the console is served, with its local config
        config = httpx.get(f"{info['console']}/config.json").json()
        assert config["mode"] == "local" and config["functionsBase"] == info["functions"]
        # the deploy guide's smoke check passes against the local stack too
        smoked = subprocess.run([sys.executable, "-m", "devtools.smoke", "--base", info["functions"],
                                 "--console", info["console"], "--token", refreshed.stdout.strip()],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert smoked.returncode == 0, smoked.stdout + smoked.stderr
        assert "smoke check: all 9 ok" in smoked.stdout and "signed in as admin@example.com (admin)" in smoked.stdout
    finally:
        assert stack.stop() == 0, stack.output()
    gone = subprocess.run([sys.executable, "-m", "devtools.token", "--email", "a@example.com"],
                          cwd=REPO, env=stack.env(), capture_output=True, text=True, timeout=60, check=False)
    assert gone.returncode == 2 and "make dev" in gone.stderr and "Traceback" not in gone.stderr


def test_missing_prerequisites_are_named_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from devtools import emulators, stack

    # stack.main marks its own process local; the test process must stay as it was
    monkeypatch.setenv("TRIBUTARY_ENV", os.environ.get("TRIBUTARY_ENV", "test"))
    real_which = emulators.shutil.which
    monkeypatch.setattr(emulators.shutil, "which", lambda name: None if name == "java" else real_which(name))
    monkeypatch.setattr(emulators, "EMULATOR_SCRIPT_CANDIDATES", emulators.EMULATOR_SCRIPT_CANDIDATES)
    ports = LocalStack(tmp_path).argv()[5:]
    assert stack.main(["--data-dir", str(tmp_path), *ports]) == 2
    err = capsys.readouterr().err
    assert "Java is missing" in err and "default-jre-headless" in err
    assert "emulator package is missing" not in err, "the package is there: only Java is named"

    monkeypatch.setattr(emulators.shutil, "which", lambda name: "/usr/bin/java" if name == "java" else None)
    monkeypatch.setattr(emulators, "EMULATOR_SCRIPT_CANDIDATES", (tmp_path / "absent",))
    assert stack.main(["--data-dir", str(tmp_path), *ports]) == 2
    err = capsys.readouterr().err
    assert "emulator package is missing (Java is there)" in err and "google-cloud-cli-firestore-emulator" in err
    assert "Java is missing" not in err
    assert not (tmp_path / "logs").exists()


def test_check_prereqs_script_names_each_missing_piece(tmp_path: Path) -> None:
    """The Makefile's first step, before any virtualenv: PATH without java names Java."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run([str(bin_dir / "python3"), "scripts/check_prereqs.py"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Java is needed" in result.stderr and "Traceback" not in result.stderr


def test_a_real_intercom_account_replaces_the_sandbox_and_says_so(tmp_path: Path) -> None:
    """--no-sync: the connection is made (creating one sends nothing to the vendor), the
    sandbox is not started, and the stack says plainly which Intercom it uses."""
    stack = LocalStack(tmp_path / "data")
    stack.extra_env["INTERCOM_BASE_URL"] = "https://api.eu.intercom.io"
    info = stack.start(*tiny(), "--real", "intercom=a-real-looking-token", "--no-sync")
    try:
        out = stack.output()
        assert "intercom         a REAL intercom account at https://api.eu.intercom.io" in out
        assert not (tmp_path / "data" / "logs" / "intercom-sandbox.log").exists()
        with stack.api(info, stack.token()) as api:
            connection = api.get(f"/connections/{info['connections']['intercom']}").json()
        assert connection["name"] == "Intercom" and connection["config"]["base_url"] == "https://api.eu.intercom.io"
        assert connection["has_credentials"] is True
        config = httpx.get(f"{info['console']}/config.json").json()
        assert "intercom" not in config["sandboxes"], "no Intercom sandbox to offer in the add form"
    finally:
        assert stack.stop() == 0, stack.output()


def test_a_run_whose_deferred_chunks_were_lost_is_recovered_by_the_stacks_scheduler(tmp_path: Path) -> None:
    """make dev ticks sync-scheduler like Cloud Scheduler, so its run doctor looks after runs
    in flight: the sandbox fails until the breaker opens and every chunk is deferred, the
    deferred tasks are lost (the queue purged), the sandbox recovers; the tick resumes the
    stalled chains from their checkpoints and the run succeeds. Without a tick it stayed
    `running` for good."""
    from shared.sync.queues import queue_name
    from shared.tasks import tasks_client

    breaker = {"BREAKER_THRESHOLD": "3", "BREAKER_COOLDOWN_S": "2", "BREAKER_MAX_COOLDOWN_S": "4"}
    stack = LocalStack(tmp_path / "data", extra_env={**breaker, "SYNC_STALL_AFTER_S": "5"}, tick_every=5)
    info = stack.start(*tiny(), "--no-sync")
    sandbox = f"http://127.0.0.1:{stack.ports['intercom']}"
    try:
        assert "sync-scheduler every 5s" in stack.output()
        intercom = info["connections"]["intercom"]
        httpx.post(f"{sandbox}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
        with stack.api(info, stack.token()) as api:

            def status() -> dict[str, Any]:
                return dict(api.get("/sync-status", params={"connection_id": intercom}).json()["connections"][0])

            # the new connection is due at once: a tick may start its run before Sync Now does
            run_id, deadline = None, time.monotonic() + 60
            while run_id is None:
                assert time.monotonic() < deadline, "no run started"
                started = api.post("/sync-now", json={"connection_id": intercom, "mode": "full"})
                run_id = started.json()["run_id"] if started.status_code == 202 else status()["running_run_id"]

            deadline = time.monotonic() + 120
            while status()["breaker"]["state"] == "closed":
                assert time.monotonic() < deadline, status()
                time.sleep(0.5)
            client = tasks_client(f"127.0.0.1:{stack.ports['tasks']}")
            client.purge_queue(name=client.queue_path("tributary-local", "europe-west1", queue_name("intercom")))
            httpx.post(f"{sandbox}/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0}
                       ).raise_for_status()
            deadline = time.monotonic() + 180
            run = api.get(f"/sync-runs/{run_id}", params={"connection_id": intercom}).json()
            while run["status"] == "running":
                assert time.monotonic() < deadline, run
                time.sleep(1)
                run = api.get(f"/sync-runs/{run_id}", params={"connection_id": intercom}).json()
            assert run["status"] == "succeeded", run
            assert status()["breaker"]["state"] == "closed"
        assert "scheduler tick: {'recovered'" in stack.output()
    finally:
        assert stack.stop() == 0, stack.output()

