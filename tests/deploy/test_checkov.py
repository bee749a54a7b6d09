"""checkov on infra/terraform: no failed check; every skip carries its reason in the .tf.

checkov lives in its own virtualenv (its pins conflict with ours):
    python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30
(`make static` does this). Without that venv this test is skipped, saying so."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import CHECKOV_VENV, REPO, TF_DIR

INSTALL = "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30"


def checkov_bin() -> Path | None:
    configured = os.environ.get("CHECKOV_BIN")
    candidate = Path(configured) if configured else CHECKOV_VENV / "bin" / "checkov"
    return candidate if candidate.is_file() else None


@pytest.mark.skipif(checkov_bin() is None, reason=f"checkov venv missing ({CHECKOV_VENV}); create it: {INSTALL}")
def test_checkov_passes() -> None:
    binary = checkov_bin()
    assert binary is not None
    started = time.monotonic()
    result = subprocess.run(
        [
            str(binary),
            "--directory", str(TF_DIR),
            "--framework", "terraform",
            "--skip-download",  # no Prisma Cloud calls: offline, and the same result everywhere
            "--output", "json",
            "--compact",
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    elapsed = time.monotonic() - started
    assert result.stdout.strip(), f"checkov printed nothing (rc={result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    assert not failed, "checkov failures:\n" + "\n".join(
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']}:{c['file_line_range']})" for c in failed
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) >= 20, f"{check['check_id']} on {check['resource']} is skipped without a reason"
    assert any(s.get("passed", 0) > 0 for s in summary), summary
    print(f"checkov: {summary} in {elapsed:.1f}s")  # shown with -s / in -rA
