"""Typed readers of the request headers the functions rely on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shared.errors import InvalidHeader

if TYPE_CHECKING:
    from flask import Request

RETRY_COUNT_HEADER = "X-CloudTasks-TaskRetryCount"
_COUNT = re.compile(r"[0-9]{1,9}")


def cloud_tasks_retry_count(request: Request) -> int:
    """How many times Cloud Tasks has retried this task: 0 when the header is absent.

    Cloud Tasks always sends a small non-negative integer. Anything else (negative, '1e3',
    5,000 digits) did not come from Cloud Tasks, and guessing a number would make the
    worker misjudge its last attempt, so it is a 400 rather than a 500 from int().
    """
    value = request.headers.get(RETRY_COUNT_HEADER)
    if value is None or value.strip() == "":
        return 0
    if not _COUNT.fullmatch(value.strip()):
        raise InvalidHeader(
            f"{RETRY_COUNT_HEADER} must be a non-negative integer.", details={"header": RETRY_COUNT_HEADER}
        )
    return int(value)
