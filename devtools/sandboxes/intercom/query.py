"""Intercom's search query language, compiled to predicates over sandbox records.

A query is a single filter {field, operator, value} or a group {operator: AND|OR, value:
[...]} nested at most two levels below the top, at most 15 filters per group, as the
2.14 description of POST /contacts/search and /conversations/search says. Compiling once
per request keeps a full scan of 100k contacts in the tens of milliseconds.

Intercom's rules apply by default (the 2.14 description, "Searching for Timestamp Fields"
and "Accepted Operators"):
- contact Date fields (timestamps and date custom attributes) are truncated to the UTC day:
  `=` matches the day, `>` starts at the next day, `<` ends before the day; `!=`, `>=`,
  `<=`, `IN` and `NIN` on them are refused with 400;
- contact `tag_id` takes `=` and `!=` only;
- conversation `>` and `<` include the boundary ("Greater (or equal) than");
- a value must have the field's type; numbers may come as JSON floats or numeric strings,
  as tap-intercom and Airbyte send them.
Lenient mode (SandboxConfig.lenient_search) is the opt-out: exact seconds, every operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devtools.sandboxes.intercom import attributes
from devtools.sandboxes.intercom.records import Contact, Conversation

Predicate = Callable[[Any], bool]
FIELD_OPS = ("=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$")
ORDERED_OPS = ("<", "<=", ">", ">=")
TEXT_OPS = ("~", "!~", "^", "$")
MAX_DEPTH = 3
MAX_GROUP = 15
DAY = 86_400


class QueryError(ValueError):
    """The query is malformed or refused; the app answers 400 with `code` and this message."""

    def __init__(self, message: str, code: str = "parameter_invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Field:
    kind: str  # string | integer | float | date | boolean | list | any
    get: Callable[[Any], Any]


def _contact_fields() -> dict[str, Field]:
    s, d = "string", "date"
    out = {
        "id": Field(s, lambda c: c.id), "role": Field(s, lambda c: c.role), "name": Field(s, lambda c: c.name),
        "email": Field(s, lambda c: c.email), "email_domain": Field(s, lambda c: c.email.rsplit("@", 1)[-1]),
        "phone": Field(s, lambda c: c.phone), "external_id": Field(s, lambda c: c.external_id),
        "owner_id": Field("integer", lambda c: c.owner_id),
        "created_at": Field(d, lambda c: c.created_at), "updated_at": Field(d, lambda c: c.updated_at),
        "signed_up_at": Field(d, lambda c: c.signed_up_at), "last_seen_at": Field(d, lambda c: c.last_seen_at),
        "last_replied_at": Field(d, lambda c: c.last_replied_at),
        "last_contacted_at": Field(d, lambda c: None), "last_email_opened_at": Field(d, lambda c: None),
        "last_email_clicked_at": Field(d, lambda c: None),
        "browser": Field(s, lambda c: c.browser), "os": Field(s, lambda c: c.os),
        "location.country": Field(s, lambda c: c.location[0]), "location.region": Field(s, lambda c: c.location[1]),
        "location.city": Field(s, lambda c: c.location[2]),
        "unsubscribed_from_emails": Field("boolean", lambda c: c.unsubscribed_from_emails),
        "tag_id": Field("list", lambda c: c.tag_ids), "company_id": Field("list", lambda c: c.company_ids),
    }
    return out


def _stat(name: str) -> Callable[[Conversation], Any]:
    return lambda v: v.statistics.get(name)


def _conversation_fields() -> dict[str, Field]:
    s, d, i = "string", "date", "integer"
    out = {
        "id": Field(s, lambda v: v.id), "created_at": Field(d, lambda v: v.created_at),
        "updated_at": Field(d, lambda v: v.updated_at), "state": Field(s, lambda v: v.state),
        "open": Field("boolean", lambda v: v.state != "closed"), "read": Field("boolean", lambda v: v.read),
        "priority": Field(s, lambda v: v.priority), "title": Field(s, lambda v: v.title),
        "admin_assignee_id": Field(i, lambda v: v.admin_assignee_id),
        "team_assignee_id": Field(i, lambda v: v.team_assignee_id),
        "waiting_since": Field(d, lambda v: v.waiting_since), "snoozed_until": Field(d, lambda v: v.snoozed_until),
        "source.type": Field(s, lambda v: v.source_type), "source.delivered_as": Field(s, lambda v: v.delivered_as),
        "source.subject": Field(s, lambda v: v.subject), "source.body": Field(s, lambda v: v.body),
        "source.author.id": Field(s, lambda v: v.author_id), "source.author.type": Field(s, lambda v: v.author_type),
        "contact_ids": Field("list", lambda v: v.contact_ids), "tag_ids": Field("list", lambda v: v.tag_ids),
        "teammate_ids": Field("list", lambda v: v.teammate_ids),
    }
    for name in ("first_contact_reply_at", "first_admin_reply_at", "first_assignment_at", "first_close_at",
                 "last_assignment_at", "last_assignment_admin_reply_at", "last_contact_reply_at",
                 "last_admin_reply_at", "last_close_at"):
        out[f"statistics.{name}"] = Field(d, _stat(name))
    for name in ("time_to_assignment", "time_to_admin_reply", "time_to_first_close", "time_to_last_close",
                 "median_time_to_reply", "count_reopens", "count_assignments", "count_conversation_parts"):
        out[f"statistics.{name}"] = Field(i, _stat(name))
    out["statistics.last_closed_by_id"] = Field(s, _stat("last_closed_by_id"))
    return out


FIELDS: dict[str, dict[str, Field]] = {"contacts": _contact_fields(), "conversations": _conversation_fields()}


CUSTOM_KINDS = {"string": "string", "integer": "integer", "float": "float", "boolean": "boolean", "date": "date"}


def field_for(kind: str, name: str, lenient: bool = False) -> Field:
    """The accessor for `name`; custom_attributes.<name> must be a defined attribute
    (any name, untyped, when lenient)."""
    table = FIELDS[kind]
    if name in table:
        return table[name]
    prefix = "custom_attributes."
    if name.startswith(prefix) and len(name) > len(prefix):
        key = name[len(prefix):]
        defined = attributes.custom("contact" if kind == "contacts" else "conversation").get(key)
        if defined is None and not lenient:
            raise QueryError(f"{name} is not a searchable field for {kind}: no such custom attribute")
        field_kind = CUSTOM_KINDS[defined.data_type] if defined is not None and not lenient else "any"
        return Field(field_kind, lambda r: r.custom_attributes.get(key))
    raise QueryError(f"{name} is not a searchable field for {kind}")


def _number(value: Any, name: str, integral: bool) -> int | float:
    """An int (or float) from an int, a float or a numeric string; never from a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise QueryError(f"value for {name} must be a number")
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise QueryError(f"value {value!r} for {name} is not a number") from exc
    if isinstance(number, float) and (not integral or not number.is_integer()):
        return number  # compared as is: 1700000000.5 is past 1700000000
    return int(number)


def _coerce(field: Field, value: Any, name: str) -> Any:
    if field.kind in ("integer", "date"):
        return _number(value, name, integral=True)
    if field.kind == "float":
        return _number(value, name, integral=False)
    if field.kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise QueryError(f"value for {name} must be a boolean")
    if isinstance(value, (dict, list)) or field.kind == "string" and not isinstance(value, str):
        raise QueryError(f"value for {name} must be a string")
    return value


def _compare(op: str, get: Callable[[Any], Any], value: Any) -> Predicate:
    if op == "=":
        return lambda r: get(r) == value
    if op == "!=":
        return lambda r: get(r) != value
    if op in ("IN", "NIN"):
        members = set(value)
        return (lambda r: get(r) in members) if op == "IN" else (lambda r: get(r) not in members)
    if op in ORDERED_OPS:
        test = {"<": lambda a: a < value, "<=": lambda a: a <= value,
                ">": lambda a: a > value, ">=": lambda a: a >= value}[op]
        return lambda r: (a := get(r)) is not None and not isinstance(a, str) and test(a)
    needle = str(value).lower()
    text = {"~": lambda a: needle in a, "!~": lambda a: needle not in a,
            "^": lambda a: a.startswith(needle), "$": lambda a: a.endswith(needle)}[op]
    if op == "!~":
        return lambda r: (a := get(r)) is None or text(str(a).lower())
    return lambda r: (a := get(r)) is not None and text(str(a).lower())


CONTACT_DATE_OPS = ("=", ">", "<")
TAG_OPS = ("=", "!=")


def _check_operator(kind: str, field: Field, name: str, op: str) -> None:
    """Refuse, as Intercom does, operators a field's type does not take."""
    if op in TEXT_OPS and field.kind not in ("string", "any"):
        raise QueryError(f"operator {op} only applies to string fields, not {name}")
    if op in ORDERED_OPS and field.kind not in ("integer", "float", "date", "any"):
        raise QueryError(f"operator {op} only applies to integer and date fields, not {name}")
    if kind != "contacts":
        return
    if field.kind == "date" and op not in CONTACT_DATE_OPS:
        raise QueryError(f"operator '{op}' is not supported on the Date field {name}; "
                         f"Date fields take {', '.join(CONTACT_DATE_OPS)}")
    if name == "tag_id" and op not in TAG_OPS:
        raise QueryError(f"operator '{op}' is not supported on tag_id; it takes = and !=")


def _single(kind: str, node: dict[str, Any], lenient: bool) -> Predicate:
    name, op, value = node.get("field"), node.get("operator"), node.get("value")
    if not isinstance(name, str) or op not in FIELD_OPS:
        raise QueryError(f"invalid filter {node!r}: needs a field and one of {', '.join(FIELD_OPS)}")
    field = field_for(kind, name, lenient)
    if not lenient:
        _check_operator(kind, field, name, op)
    elif op in TEXT_OPS and field.kind not in ("string", "any") or op in ORDERED_OPS and field.kind in (
            "string", "boolean", "list"):
        raise QueryError(f"operator {op} does not apply to {name}")
    if op in ("IN", "NIN"):
        if not isinstance(value, list):
            raise QueryError(f"{op} needs an array value")
        value = [_coerce(field, v, name) for v in value]
    else:
        value = _coerce(field, value, name)
    get = field.get
    if field.kind == "list":
        if op not in ("=", "!=", "IN", "NIN"):
            raise QueryError(f"operator {op} does not apply to {name}")
        wanted = set(value) if isinstance(value, list) else {value}
        def hit(r: Any) -> bool:
            return not wanted.isdisjoint(get(r))

        return hit if op in ("=", "IN") else (lambda r: not hit(r))
    if not lenient and kind == "contacts" and field.kind == "date" and not isinstance(value, list):
        # Matched by UTC calendar day: `>` starts at the next day, `<` ends before the day.
        value = value // DAY * DAY
        get = _by_day(field.get)
    elif not lenient and kind == "conversations" and op in ("<", ">") and field.kind in ("integer", "date"):
        op += "="  # "Greater (or equal) than", "Lower (or equal) than"
    return _compare(op, get, value)


def _by_day(get: Callable[[Any], Any]) -> Callable[[Any], int | None]:
    return lambda r: None if (a := get(r)) is None else _as_day(a)


def _as_day(value: Any) -> int | None:
    """A stored date (unix seconds, or an ISO string in a date custom attribute) as its UTC day."""
    if isinstance(value, str):
        try:
            value = int(datetime.fromisoformat(value).timestamp())
        except ValueError:
            return None
    return int(value) // DAY * DAY


def compile_query(kind: str, node: Any, lenient: bool = False, depth: int = 1) -> Predicate:
    """A predicate for `node`, or QueryError saying what Intercom would reject."""
    if not isinstance(node, dict):
        raise QueryError("query must be an object")
    if node.get("operator") in ("AND", "OR"):
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise QueryError("AND/OR needs a non-empty array of filters")
        if len(children) > MAX_GROUP:
            raise QueryError(f"a group holds at most {MAX_GROUP} filters")
        if depth >= MAX_DEPTH and any(isinstance(c, dict) and c.get("operator") in ("AND", "OR") for c in children):
            raise QueryError("queries nest at most 2 levels of AND/OR")
        preds = [compile_query(kind, c, lenient, depth + 1) for c in children]
        if node["operator"] == "AND":
            return lambda r: all(p(r) for p in preds)
        return lambda r: any(p(r) for p in preds)
    return _single(kind, node, lenient)


def sort_key(kind: str, field_name: str) -> Callable[[Any], tuple[Any, ...]]:
    """Total order: sort field (missing values first) then id, so pages are stable."""
    get = field_for(kind, field_name, lenient=True).get
    if kind == "conversations":
        return lambda r: ((v := get(r)) is not None, v if v is not None else 0, int(r.id))
    return lambda r: ((v := get(r)) is not None, v if v is not None else 0, r.id)


RecordT = Contact | Conversation
