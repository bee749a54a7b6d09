"""The SOQL subset the connector sends, parsed strictly (anything else is MALFORMED_QUERY,
an unknown field INVALID_FIELD, as Salesforce answers them):

    SELECT f1, f2, ... FROM Object
      [WHERE cond [AND cond]...]      cond: IsDeleted = true|false | SystemModstamp >|>=|<|<= literal
      [ORDER BY f1 [ASC|DESC] [, f2 ...]]
      [LIMIT n]

dateTime literals are unquoted ISO 8601 (2026-01-01T00:00:00Z, or with +hh:mm / .000).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from devtools.sandboxes.kit.responses import ApiError

_QUERY = re.compile(
    r"SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(r"(?P<field>\w+)\s*(?P<op>=|>=|<=|>|<)\s*(?P<value>\S+)")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Query:
    fields: list[str]
    sobject: str
    where: list[tuple[str, str, Any]]
    order: list[tuple[str, bool]]
    limit: int | None


def _malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def sf_datetime(text: str) -> float:
    """A SOQL dateTime literal, or a stored Salesforce dateTime, as unix seconds."""
    value = text.replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _malformed(f"value of filter criterion is not of type dateTime: {text}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def parse(text: str, known: Callable[[str, str], bool]) -> Query:
    match = _QUERY.match(text.strip())
    if match is None:
        raise _malformed("unexpected token: the query is not SELECT ... FROM ...")
    sobject = match.group("object")
    fields = [f.strip() for f in match.group("fields").split(",")]
    for name in fields:
        if not known(sobject, name):
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
    where: list[tuple[str, str, Any]] = []
    for part in re.split(r"\s+AND\s+", match.group("where") or "", flags=re.IGNORECASE) if match.group("where") else []:
        cond = _COND.fullmatch(part.strip())
        if cond is None:
            raise _malformed(f"unexpected token: {part.strip()}")
        field, op, raw = cond.group("field"), cond.group("op"), cond.group("value")
        if field.lower() == "isdeleted" and op == "=" and raw.lower() in ("true", "false"):
            where.append(("IsDeleted", op, raw.lower() == "true"))
        elif field == "SystemModstamp":
            where.append(("SystemModstamp", op, sf_datetime(raw)))
        else:
            raise _malformed(f"the sandbox filters on IsDeleted and SystemModstamp only: {part.strip()}")
    order: list[tuple[str, bool]] = []
    for part in (match.group("order") or "").split(",") if match.group("order") else []:
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise _malformed(f"unexpected token in ORDER BY: {part.strip()}")
        if not known(sobject, words[0]):
            raise ApiError(400, "INVALID_FIELD", f"No such column '{words[0]}' on entity '{sobject}'.")
        order.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
    limit = int(match.group("limit")) if match.group("limit") else None
    return Query(fields, sobject, where, order, limit)


def matches(query: Query, record: dict[str, Any]) -> bool:
    for field, op, value in query.where:
        have = sf_datetime(record[field]) if field == "SystemModstamp" else record.get(field)
        if not _OPS[op](have, value):
            return False
    return True


def sort_key(query: Query) -> Callable[[dict[str, Any]], Any]:
    def key(record: dict[str, Any]) -> Any:
        return tuple(_ordered(record.get(f), desc) for f, desc in query.order)

    return key


def _ordered(value: Any, desc: bool) -> Any:
    if desc and isinstance(value, (int, float)):
        return -value
    if desc and isinstance(value, str):
        return tuple(-ord(c) for c in value)
    return (value is None, value if value is not None else "")
