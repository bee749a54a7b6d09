"""Constrained types for values a request carries into Firestore.

A value that becomes a Firestore document id is checked here, at the edge, because
Firestore refuses bad ids with an InvalidArgument that would otherwise surface as a 500
deep inside a handler: '.' and '..' (path navigation), '__.*__' (reserved), a '/' (another
path segment), more than 1,500 bytes, or text that is not valid UTF-8. Control characters
are legal in Firestore but never in an id of ours, and only ever arrive as an attack.

    class RunPath(BaseModel):
        run_id: DocId
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

#: Firestore's limit on a document id, in UTF-8 bytes
MAX_DOC_ID_BYTES = 1500
_RESERVED = re.compile(r"__.*__", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def doc_id_problem(value: str) -> str | None:
    """Why `value` cannot be a Firestore document id, or None when it can."""
    if not value:
        return "must not be empty"
    if value in (".", ".."):
        return "must not be '.' or '..'"
    if "/" in value:
        return "must not contain '/'"
    if _RESERVED.fullmatch(value):
        return "must not look like '__name__' (reserved by Firestore)"
    if _CONTROL.search(value):
        return "must not contain control characters"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be valid UTF-8"
    if size > MAX_DOC_ID_BYTES:
        return f"must be at most {MAX_DOC_ID_BYTES} bytes"
    return None


def _check_doc_id(value: str) -> str:
    problem = doc_id_problem(value)
    if problem is not None:
        raise ValueError(f"not a valid id: {problem}")
    return value


#: A string that is safe to use as a Firestore document id (see the module docstring).
DocId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_DOC_ID_BYTES), AfterValidator(_check_doc_id)
]
