"""Deterministic task ids: the same logical task always gets the same id, so a replayed
enqueue is refused by Cloud Tasks (ALREADY_EXISTS) instead of running twice."""

from __future__ import annotations

import hashlib
import json
import re

MAX_TASK_ID = 500
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
_VALID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_PART_CHARS = 48
_READABLE_CHARS = 400


def task_id_for(*parts: str) -> str:
    """A valid task id for these parts: a digest of all of them, then a readable tail.

    The digest comes first because Cloud Tasks serves well-distributed names better than
    sequential ones, and it covers the exact parts (so ("a-b", "c") and ("a", "b-c") differ
    although their readable tails match). Long or odd parts only shorten the readable tail.
    """
    if not parts:
        raise ValueError("task_id_for needs at least one part")
    if not all(isinstance(p, str) for p in parts):
        raise TypeError("task id parts must be strings")
    digest = hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:32]
    readable = "-".join(_INVALID.sub("_", p)[:_PART_CHARS] for p in parts)[:_READABLE_CHARS]
    return f"{digest}-{readable}" if readable else digest


def is_valid_task_id(task_id: str) -> bool:
    return bool(_VALID.match(task_id))
