"""Fail early, with the fix, when the machine lacks what the stack and tests need."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

problems = []
if sys.version_info < (3, 11):  # noqa: UP036 (runs on whatever python3 a newcomer has, to say so)
    problems.append(f"Python 3.11+ is needed (this is {sys.version.split()[0]}).")
if not shutil.which("java"):
    problems.append("Java is needed by the Firestore emulator: apt-get install default-jre-headless")
emulator = Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator")
if not emulator.exists() and not shutil.which("gcloud"):
    problems.append(
        "The Firestore emulator is missing: apt-get install google-cloud-cli-firestore-emulator "
        "(from Google's Cloud SDK apt source)."
    )
if problems:
    print("Cannot continue:\n  - " + "\n  - ".join(problems), file=sys.stderr)
    sys.exit(2)
