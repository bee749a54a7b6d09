"""Request bodies: read at most the limit, parse strict JSON, leave nothing for others to read.

Reading. A Content-Length above the limit is refused before a byte is read. A body
without one (chunked) is read in slices until it ends or passes the limit, so at most
limit + 1 bytes are ever read, whatever the client streams.

Nobody else reads. functions-framework reads the whole body after every response
(`read_request`, an after_request hook, so that a connection can be reused). For a body we
refused, or never wanted, that would read everything the client sends: 200 MiB in memory
for a 413. So the body's fate is settled here: what we read is what `get_data()` returns,
and what we did not read is never read in this process (gunicorn discards the rest of the
stream in small slices before the next request on the connection; werkzeug's development
server closes every connection).

Parsing. RFC 8259 JSON only, and bounded: no NaN/Infinity, no number that does not fit a
double, no integer outside 64 bits (Firestore's integers; and past 4,300 digits Python's
int-str conversion limit raises a ValueError, not a JSONDecodeError), no
duplicate keys (parsers disagree on which one wins), no lone surrogates (they cannot be
stored or sent on as UTF-8), and at most MAX_JSON_DEPTH levels of nesting (deeper input
makes the C scanner raise RecursionError, and Firestore stores at most 20 levels anyway).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from shared.errors import MalformedJson, PayloadTooLarge

if TYPE_CHECKING:
    from flask import Request

MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SLICE = 64 * 1024


def _settle(request: Request, data: bytes) -> None:
    """Make `data` what the rest of this process sees as the body (werkzeug caches
    get_data() in `_cached_data` and returns the cache instead of reading the stream)."""
    request._cached_data = data


def refuse_declared_length(request: Request, limit: int) -> None:
    """413 on a Content-Length above `limit`, before anything is read."""
    declared = request.content_length
    if declared is not None and declared > limit:
        _settle(request, b"")
        raise PayloadTooLarge(details={"max_bytes": limit})


def read_body(request: Request, limit: int) -> bytes:
    """The body, having read at most limit + 1 bytes; 413 when it is longer than `limit`."""
    refuse_declared_length(request, limit)
    cached = getattr(request, "_cached_data", None)
    if cached is not None:
        return bytes(cached)
    stream = request.stream
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        part = stream.read(min(_SLICE, limit + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    if total > limit:
        _settle(request, b"")
        raise PayloadTooLarge(details={"max_bytes": limit})
    data = b"".join(parts)
    _settle(request, data)
    return data


def leave_unread(request: Request) -> None:
    """Called once the answer is decided: whatever was not read stays unread (see above)."""
    if getattr(request, "_cached_data", None) is None:
        _settle(request, b"")


# -- strict JSON ------------------------------------------------------------------------------


class _Refused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_constants(name: str) -> Any:
    raise _Refused("non_finite_number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("non_finite_number")
    return value


def _int64(text: str) -> int:
    if len(text) > 20:  # before int(): past 4,300 digits that raises, and it is slow well before
        raise _Refused("number_too_large")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Refused("number_too_large")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("duplicate_key")
    return result


def _check_shape(data: Any) -> None:
    """Depth and text of the parsed document, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused("invalid_unicode") from None
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _Refused("too_deep")
            children = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def parse_json(raw: bytes) -> Any:
    """The document in `raw` (empty: null), or 400 malformed_json with a reason in details."""
    try:
        data = json.loads(
            raw or b"null",
            parse_constant=_no_constants,
            parse_float=_finite,
            parse_int=_int64,
            object_pairs_hook=_unique,
        )
        _check_shape(data)
    except _Refused as exc:
        raise MalformedJson(details={"reason": exc.reason}) from None
    except RecursionError:
        raise MalformedJson(details={"reason": "too_deep"}) from None
    except UnicodeDecodeError:
        raise MalformedJson(details={"reason": "invalid_unicode"}) from None
    except json.JSONDecodeError:
        raise MalformedJson(details={"reason": "syntax"}) from None
    except ValueError:  # JSONDecodeError's siblings: nothing else in json raises one
        raise MalformedJson(details={"reason": "syntax"}) from None
    return data
