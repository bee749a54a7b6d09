"""live=true: the same list query asked of the vendor, answered in the stored shape.

The stream's live translator (declared on its Serving) turns the Criteria into the
vendor's search; every raw record it returns is validated with the stream's raw model and
mapped with its mapper, exactly as a sync would store it, then filtered again with the
store's semantics (vendors match some operators loosely). The vendor's cursor travels
inside our own opaque cursor, bound to the query it came from: a store cursor, or one of
another query, is refused (400 invalid_cursor).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.errors import BadRequest, UpstreamError
from shared.serving.queries import matches
from shared.store.queries import InvalidCursor, decode_cursor, encode_cursor
from shared.vendors.connector import Criteria, Stream

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient

LIVE_CURSOR_VERSION = 1


class LiveNotSupported(BadRequest):
    default_code = "live_not_supported"
    default_message = "This stream cannot be asked of the vendor live."


def signature(vendor: str, stream: str, c: Criteria) -> str:
    shape = {
        "s": f"{vendor}/{stream}",
        "e": c.equals,
        "p": c.prefixes,
        "r": {k: [str(v) for v in pair] for k, pair in c.ranges.items()},
        "o": [c.sort.name, c.direction],
        "n": c.limit,
    }
    payload = json.dumps(shape, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def wrap(sig: str, after: str | int | None) -> str | None:
    if after is None or after == "":
        return None
    return encode_cursor({"v": LIVE_CURSOR_VERSION, "live": sig, "after": after})


def unwrap(sig: str, token: str | None) -> Any:
    if not token:
        return None
    payload = decode_cursor(token)
    if payload.get("v") != LIVE_CURSOR_VERSION or payload.get("live") != sig:
        raise InvalidCursor("The cursor belongs to another query (live flag, sort or filters changed).")
    after = payload.get("after")
    if not isinstance(after, (str, int)) or isinstance(after, bool) or after == "" or len(str(after)) > 1024:
        raise InvalidCursor()
    return after


def mapped(stream: Stream[Any], raw: Any, title: str) -> dict[str, Any]:
    """A raw vendor record as the document a sync would store (without `_sync`)."""
    if not isinstance(raw, dict):
        raise UpstreamError(f"{title} sent a record we cannot read.", code="vendor_invalid_record")
    try:
        doc = stream.mapper(stream.raw_model.model_validate(raw))
    except ValidationError as exc:
        raise UpstreamError(
            f"{title} sent a record we cannot read.",
            code="vendor_invalid_record",
            details={"errors": exc.error_count()},
        ) from None
    if stream.keep_raw:
        doc = {**doc, "raw": raw}
    return {**doc, "id": doc.get("id") or stream.record_key(raw), "deleted": False}


def live_page(
    client: VendorClient, vendor: str, title: str, stream: Stream[Any], c: Criteria, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """(mapped documents, next cursor) of one live page."""
    serving = stream.serving
    if serving is None or serving.live is None:
        raise LiveNotSupported(details={"stream": stream.name})
    sig = signature(vendor, stream.name, c)
    answer = serving.live(client, c, unwrap(sig, cursor))
    docs = [doc for doc in (mapped(stream, raw, title) for raw in answer.records) if matches(serving, c, doc)]
    return docs, wrap(sig, answer.after)
