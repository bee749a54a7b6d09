"""Fixtures of the static deploy checks: parsed Terraform, the manifest, built bundles and
one clean virtualenv with the runtime requirements (built once per session, or reused from
build/test-venvs when its requirements and Python have not changed)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.bundles import PYTHON_CANDIDATES

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "infra" / "terraform"
MANIFEST = TF_DIR / "manifest.json"
RUNTIME_REQUIREMENTS = REPO / "requirements" / "runtime.txt"
CHECKOV_VENV = REPO / ".venv-checkov"

# Cloud Functions runs python312; use it for the bundle venv when this machine has it.
BUNDLE_PYTHON_CANDIDATES = PYTHON_CANDIDATES


def tf_files() -> list[Path]:
    return sorted(TF_DIR.glob("*.tf"))


@pytest.fixture(scope="session")
def terraform() -> dict[str, dict[str, Any]]:
    """{file name: python-hcl2's parse of it}."""
    hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev requirement (requirements/dev.txt)")
    parsed = {}
    for path in tf_files():
        with path.open() as handle:
            parsed[path.name] = hcl2.load(handle)
    return parsed


def _blocks(terraform: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [block for doc in terraform.values() for block in doc.get(kind, [])]


@pytest.fixture(scope="session")
def resources(terraform: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{"type.name": body}."""
    out: dict[str, dict[str, Any]] = {}
    for block in _blocks(terraform, "resource"):
        for rtype, named in block.items():
            for name, body in named.items():
                out[f"{rtype}.{name}"] = body
    return out


@pytest.fixture(scope="session")
def tf_locals(terraform: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in _blocks(terraform, "locals"):
        out.update(block)
    return out


@pytest.fixture(scope="session")
def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{deployed name: zip} for every function, built by devtools.bundles into a tmp dir."""
    from devtools import bundles as bundle_tool

    out = tmp_path_factory.mktemp("bundles")
    return {b.name: b.path for b in bundle_tool.build_all(out)}


def _bundle_python() -> str:
    for candidate in BUNDLE_PYTHON_CANDIDATES:
        if not candidate:
            continue
        exe = shutil.which(candidate) or candidate
        try:
            subprocess.run([exe, "-c", "import venv"], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return exe
    return sys.executable


@pytest.fixture(scope="session")
def runtime_venv() -> Path:
    """A virtualenv without system site-packages holding exactly requirements/runtime.txt.

    Kept in build/test-venvs/<python>-<sha of the requirements>, so a second run costs
    nothing; TRIBUTARY_FRESH_VENV=1 rebuilds it."""
    python = _bundle_python()
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    key = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes() + version.encode() + b"pyc:unchecked-hash").hexdigest()[:12]
    target = REPO / "build" / "test-venvs" / f"runtime-py{version}-{key}"
    stamp = target / ".tributary-installed"
    if stamp.exists() and not os.environ.get("TRIBUTARY_FRESH_VENV"):
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", "--clear", str(target)], check=True)  # system_site_packages off
    bin_python = target / "bin" / "python"
    pip = [str(bin_python), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    result = subprocess.run(
        [*pip, "install", "--no-compile", "-r", str(RUNTIME_REQUIREMENTS)], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        pytest.fail(f"could not install requirements/runtime.txt into a clean venv:\n{result.stderr[-4000:]}")
    # as Google's Python buildpack leaves the dependencies: unchecked-hash .pyc (bench.cold_start
    # serves the bundles from this venv, and would otherwise compile every dependency per start)
    site = subprocess.run(
        [str(bin_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(
        [str(bin_python), "-m", "compileall", "-qq", "--invalidation-mode", "unchecked-hash", site],
        capture_output=True, timeout=900,
    )
    check = subprocess.run([*pip, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail(f"pip check failed in the runtime venv:\n{check.stdout}{check.stderr}")
    stamp.write_text(json.dumps({"python": python, "version": version}))
    return target


def clean_env() -> dict[str, str]:
    """The environment without anything that would put the repository on sys.path."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE")) and k not in {"__PYVENV_LAUNCHER__"}
    }

