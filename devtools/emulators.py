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
JAVA_HINT = (
    "Java is missing: the Firestore emulator is a Java program (Java 11+).\n"
    "  apt-get install default-jre-headless"
)
PACKAGE_HINT = (
    "The Firestore emulator package is missing (Java is there).\n"
    "  apt-get install google-cloud-cli-firestore-emulator   (from Google's Cloud SDK apt source:\n"
    "  https://cloud.google.com/sdk/docs/install#deb)"
)


class EmulatorMissing(RuntimeError):
    """What is missing and the command that installs it (printed as is, never a traceback)."""


def missing_prerequisites() -> list[str]:
    """Each missing piece named on its own: Java and the emulator package are separate installs."""
    problems = []
    if not shutil.which("java"):
        problems.append(JAVA_HINT)
    if not emulator_script() and not shutil.which("gcloud"):
        problems.append(PACKAGE_HINT)
    return problems


def emulator_script() -> Path | None:
    return next((script for script in EMULATOR_SCRIPT_CANDIDATES if script.exists()), None)


def firestore_command(
    host: str, port: int, rules: Path | None = None, import_data: Path | None = None
) -> list[str]:
    """Run the emulator's own launcher directly: same program as `gcloud emulators
    firestore start`, without gcloud's 5-10 s of start-up. `import_data` is an export's
    .overall_export_metadata file (export_firestore writes one) loaded at start."""
    problems = missing_prerequisites()
    if problems:
        raise EmulatorMissing("\n".join(problems))
    script = emulator_script()
    if script:
        argv = [str(script), "start", f"--host={host}", f"--port={port}"]
    else:
        argv = ["gcloud", "emulators", "firestore", "start", f"--host-port={host}:{port}"]
    if rules:
        argv.append(f"--rules={rules}")
    if import_data:
        argv.append(f"--import-data={import_data}")
    return argv


def firestore_emulator(
    port: int, log_dir: Path, rules: Path | None = None, import_data: Path | None = None
) -> ManagedProcess:
    return ManagedProcess(
        "firestore",
        firestore_command("127.0.0.1", port, rules, import_data),
        port=port,
        log_dir=log_dir,
        ready_timeout_s=120 if import_data else 60,
    )


def export_firestore(host: str, project_id: str, directory: Path, name: str = "firestore_export") -> Path:
    """Write every document to `directory`/`name` (the emulator's own export, the format
    --import-data reads) and answer the metadata file to import from."""
    directory.mkdir(parents=True, exist_ok=True)
    response = httpx.post(
        f"http://{host}/emulator/v1/projects/{project_id}:export",
        json={"database": f"projects/{project_id}/databases/(default)", "export_directory": str(directory),
              "export_name": name},
        timeout=300,
    )
    response.raise_for_status()
    return directory / name / f"{name}.overall_export_metadata"


def clear_firestore(host: str, project_id: str) -> None:
    """Delete every document (the emulator's own reset endpoint)."""
    url = f"http://{host}/emulator/v1/projects/{project_id}/databases/(default)/documents"
    httpx.delete(url, timeout=10).raise_for_status()
