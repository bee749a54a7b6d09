"""Every request configures logging: only a change of level may touch the loggers (#16:
setLevel clears every logger's cache under the logging lock, on every sync task)."""

from __future__ import annotations

import logging

import pytest

from shared import logging as tlog


def test_configure_sets_levels_once_and_again_only_when_they_change(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    calls: list[object] = []
    real = logging.Logger.setLevel
    monkeypatch.setattr(logging.Logger, "setLevel", lambda self, level: calls.append(level) or real(self, level))
    tlog.configure("INFO")
    assert root.level == logging.INFO and logging.getLogger("httpx").level == logging.WARNING
    calls.clear()
    for _ in range(3):
        tlog.configure("INFO")
    assert calls == []
    tlog.configure("DEBUG")
    assert calls == ["DEBUG"] and root.level == logging.DEBUG
