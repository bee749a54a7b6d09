"""The queues `make dev` creates and names."""

from __future__ import annotations

from typing import Any

import pytest


def test_every_queue_created_is_named_children_queues_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A vendor with a children's queue (Pylon) has two sync queues; the list `make dev`
    prints named only the last one of each vendor."""
    import shared.tasks
    from devtools import stack

    created: list[str] = []
    monkeypatch.setattr(shared.tasks, "tasks_client", lambda host: object())
    monkeypatch.setattr(shared.tasks, "ensure_queue", lambda client, project, region, spec: created.append(spec.name))
    monkeypatch.setattr(stack, "create_webhook_queues", lambda env: [])
    monkeypatch.setattr(stack, "create_outbox_queues", lambda env: [])
    names: list[Any] = stack.create_queues({"CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:1"}, 600, set())
    assert "sync-pylon" in created and "sync-pylon-children" in created
    assert [name.split(" ")[0] for name in names] == created
