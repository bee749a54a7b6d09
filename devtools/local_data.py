"""What the local stack keeps between runs, all under .local/:

    firestore-data/firestore_export/   the emulator's last export (imported at the next start)
    sandbox.json                       the sandbox's epoch, kept with the data it belongs to
    stack.json                         where the running stack listens (devtools.token reads it)
    logs/<process>.log                 this run's logs; logs/previous/ holds the last run's

Why the epoch is kept: the sandbox generates its history ending at its epoch. A new epoch
on every start would shift every record's updated_at, so the next incremental sync would
rewrite everything it had. So a fresh start (or --clean) takes "now", and a start on kept
data reuses the epoch of that data.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPORT_NAME = "firestore_export"
REPO = Path(__file__).resolve().parent.parent


def default_root() -> Path:
    """.local/ of the checkout, or TRIBUTARY_LOCAL_DIR (tests run stacks in temporary ones)."""
    return Path(os.environ.get("TRIBUTARY_LOCAL_DIR") or REPO / ".local")


@dataclass(frozen=True)
class LocalData:
    root: Path

    @property
    def firestore_dir(self) -> Path:
        return self.root / "firestore-data"

    @property
    def import_file(self) -> Path:
        return self.firestore_dir / EXPORT_NAME / f"{EXPORT_NAME}.overall_export_metadata"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def sandbox_file(self) -> Path:
        return self.root / "sandbox.json"

    @property
    def stack_file(self) -> Path:
        return self.root / "stack.json"

    def has_firestore_data(self) -> bool:
        return self.import_file.exists()

    def clean(self) -> None:
        """--clean: forget the Firestore data and the sandbox epoch (logs are rotated anyway)."""
        shutil.rmtree(self.firestore_dir, ignore_errors=True)
        self.sandbox_file.unlink(missing_ok=True)

    def rotate_logs(self) -> None:
        """Each run starts with empty logs; the previous run's move to logs/previous/."""
        previous = self.logs / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        if self.logs.exists():
            old = [p for p in self.logs.iterdir() if p.is_file()]
            if old:
                previous.mkdir(parents=True)
                for path in old:
                    path.rename(previous / path.name)
        self.logs.mkdir(parents=True, exist_ok=True)

    def sandbox_epoch(self, *, reuse: bool, now: float | None = None) -> tuple[int, bool]:
        """(epoch, kept): the stored epoch when `reuse` and one exists, else now (stored)."""
        if reuse and self.sandbox_file.exists():
            try:
                return int(json.loads(self.sandbox_file.read_text())["epoch"]), True
            except (ValueError, KeyError, TypeError):
                pass
        epoch = int(now if now is not None else time.time())
        self.root.mkdir(parents=True, exist_ok=True)
        self.sandbox_file.write_text(json.dumps({"epoch": epoch}) + "\n")
        return epoch, False

    def replace_export(self, staged: Path) -> None:
        """Swap a finished export in for the previous one, so an export cut short (Ctrl-C
        twice, a crash) never leaves a half-written directory where the data was."""
        old = self.firestore_dir.with_name(self.firestore_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.firestore_dir.exists():
            self.firestore_dir.rename(old)
        staged.rename(self.firestore_dir)
        shutil.rmtree(old, ignore_errors=True)

    def write_stack(self, info: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.stack_file.write_text(json.dumps(info, indent=2) + "\n")

    def read_stack(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.stack_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def forget_stack(self) -> None:
        self.stack_file.unlink(missing_ok=True)
