"""The official Firestore emulator (Debian's google-cloud-cli-firestore-emulator)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from devtools.processes import ManagedProcess

EMULATOR_SCRIPT_CANDIDATES = (
    Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator"),
    Path("/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator"),
)
INSTALL_HINT = (
    "The Firestore emulator is missing. Install it with:\n"
    "  apt-get install google-cloud-cli-firestore-emulator   (needs Google's Cloud SDK apt source)\n"
    "It needs Java 11+ (apt-get install default-jre-headless)."
)


class EmulatorMissing(RuntimeError):
    pass


def firestore_command(host: str, port: int, rules: Path | None = None) -> list[str]:
    """Run the emulator's own launcher directly: same program as `gcloud emulators
    firestore start`, without gcloud's 5-10 s of start-up."""
    if not shutil.which("java"):
        raise EmulatorMissing(INSTALL_HINT)
    for script in EMULATOR_SCRIPT_CANDIDATES:
        if script.exists():
            argv = [str(script), "start", f"--host={host}", f"--port={port}"]
            if rules:
                argv.append(f"--rules={rules}")
            return argv
    if shutil.which("gcloud"):
        return ["gcloud", "emulators", "firestore", "start", f"--host-port={host}:{port}"]
    raise EmulatorMissing(INSTALL_HINT)


def firestore_emulator(port: int, log_dir: Path, rules: Path | None = None) -> ManagedProcess:
    return ManagedProcess(
        "firestore", firestore_command("127.0.0.1", port, rules), port=port, log_dir=log_dir, ready_timeout_s=60
    )


def clear_firestore(host: str, project_id: str) -> None:
    """Delete every document (the emulator's own reset endpoint)."""
    url = f"http://{host}/emulator/v1/projects/{project_id}/databases/(default)/documents"
    httpx.delete(url, timeout=10).raise_for_status()
