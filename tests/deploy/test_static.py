"""Static checks are part of the test command: ruff everywhere, mypy strict on shared/
(the library every function deploys with)."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "shared", "functions", "devtools", "tests", "bench", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_strict_and_clean_on_shared() -> None:
    result = _run("mypy", "shared")
    assert result.returncode == 0, result.stdout + result.stderr


def test_entry_points_stay_thin() -> None:
    """functions/ parse, authorize, call shared/ and shape the answer: 40 lines at most."""
    long = {p.parent.name: n for p in (REPO / "functions").glob("*/main.py") if (n := len(p.read_text().splitlines())) > 40}
    assert long == {}
