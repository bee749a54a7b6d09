"""Intercom's search rules are the sandbox's default (API 2.14, POST /contacts/search and
/conversations/search): contact dates compare by UTC day and refuse !=, >=, <=, IN, NIN;
tag_id takes = and != only; conversation > and < include the boundary; values may be JSON
floats or numeric strings (tap-intercom, Airbyte). --lenient-search is the explicit opt-out."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.sandboxes.intercom.__main__ import config_from_args, parse_args
from devtools.sandboxes.intercom.config import SandboxConfig, config_from_env
from tests.devtools.intercom_inprocess import Sandbox, error_of

DAY = 86_400


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture(scope="module")
def contacts(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.search("contacts", {"field": "role", "operator": "IN", "value": ["user", "lead"]})


@pytest.fixture(scope="module")
def conversations(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.search("conversations", {"field": "state", "operator": "IN", "value": ["open", "closed", "snoozed"]})


def test_intercoms_rules_are_the_default_and_lenient_is_an_explicit_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SandboxConfig().lenient_search is False
    base = config_from_env()
    assert config_from_args(parse_args([], base), base).lenient_search is False
    assert config_from_args(parse_args(["--lenient-search"], base), base).lenient_search is True
    monkeypatch.setenv("INTERCOM_SANDBOX_LENIENT_SEARCH", "1")
    assert config_from_env().lenient_search is True


@pytest.mark.parametrize("operator", ["!=", ">=", "<=", "IN", "NIN"])
@pytest.mark.parametrize("field", ["updated_at", "created_at", "last_seen_at", "custom_attributes.renewal_at"])
def test_contact_date_fields_refuse_operators_intercom_refuses(sandbox: Sandbox, field: str, operator: str) -> None:
    value: Any = [1_767_000_000] if operator in ("IN", "NIN") else 1_767_000_000
    nested = {"operator": "AND", "value": [{"field": "role", "operator": "=", "value": "user"},
                                           {"field": field, "operator": operator, "value": value}]}
    for query in ({"field": field, "operator": operator, "value": value}, nested):
        refused = sandbox.post("/contacts/search", {"query": query})
        assert refused.status_code == 400
        error = error_of(refused)
        assert error["code"] == "parameter_invalid" and operator in error["message"] and field in error["message"]


def test_contact_tag_id_takes_only_equals_and_not_equals(sandbox: Sandbox) -> None:
    assert sandbox.post("/contacts/search", {"query": {"field": "tag_id", "operator": "=", "value": "7000000"}}
                        ).status_code == 200
    assert sandbox.post("/contacts/search", {"query": {"field": "tag_id", "operator": "!=", "value": "7000000"}}
                        ).status_code == 200
    for operator in ("IN", "NIN"):
        refused = sandbox.post("/contacts/search", {"query": {"field": "tag_id", "operator": operator,
                                                              "value": ["7000000"]}})
        assert refused.status_code == 400 and error_of(refused)["code"] == "parameter_invalid"


def test_contact_dates_compare_by_utc_day(sandbox: Sandbox, contacts: list[dict[str, Any]]) -> None:
    # From the middle of the data set, an update followed by a later one on the same UTC day
    # (the one `>` must skip).
    times = sorted(c["updated_at"] for c in contacts)[len(contacts) // 2:]
    mark = next(t for t, later in zip(times, times[1:], strict=False) if t < later and t // DAY == later // DAY)
    day = mark // DAY * DAY
    noon_of_mark = day + DAY // 2  # any second of the day names the same day
    for operator, expected in (("=", {c["id"] for c in contacts if day <= c["updated_at"] < day + DAY}),
                               (">", {c["id"] for c in contacts if c["updated_at"] >= day + DAY}),
                               ("<", {c["id"] for c in contacts if c["updated_at"] < day})):
        for value in (mark, noon_of_mark):
            query = {"field": "updated_at", "operator": operator, "value": value}
            assert {c["id"] for c in sandbox.search("contacts", query)} == expected, (operator, value)
    same_day_later = [c for c in contacts if day <= c["updated_at"] < day + DAY and c["updated_at"] > mark]
    assert same_day_later, "the data set should hold a later update of the same day"
    found = {c["id"] for c in sandbox.search("contacts", {"field": "updated_at", "operator": ">", "value": mark})}
    assert not found & {c["id"] for c in same_day_later}  # `>` skips the rest of the day


def test_conversation_greater_and_lower_include_the_boundary(sandbox: Sandbox,
                                                             conversations: list[dict[str, Any]]) -> None:
    mark = sorted(v["updated_at"] for v in conversations)[len(conversations) // 2]
    above = {v["id"] for v in sandbox.search("conversations", {"field": "updated_at", "operator": ">", "value": mark})}
    below = {v["id"] for v in sandbox.search("conversations", {"field": "updated_at", "operator": "<", "value": mark})}
    assert above == {v["id"] for v in conversations if v["updated_at"] >= mark}
    assert below == {v["id"] for v in conversations if v["updated_at"] <= mark}
    for operator in ("!=", ">=", "<=", "IN"):  # not refused on conversations
        value: Any = [mark] if operator == "IN" else mark
        query = {"field": "updated_at", "operator": operator, "value": value}
        assert sandbox.post("/conversations/search", {"query": query}).status_code == 200, operator


def test_float_and_string_timestamps_are_accepted(sandbox: Sandbox, conversations: list[dict[str, Any]]) -> None:
    """tap-intercom and Airbyte send timestamps as JSON floats; Intercom's own example uses a string."""
    mark = sorted(v["updated_at"] for v in conversations)[len(conversations) // 3]
    expected = {v["id"] for v in conversations if v["updated_at"] >= mark}
    for value in (mark, float(mark), str(mark), f"{mark}.0"):
        query = {"field": "updated_at", "operator": ">", "value": value}
        assert {v["id"] for v in sandbox.search("conversations", query)} == expected, value
    fractional = {"field": "updated_at", "operator": ">", "value": mark + 0.5}
    assert {v["id"] for v in sandbox.search("conversations", fractional)} == expected - {
        v["id"] for v in conversations if v["updated_at"] == mark}
    as_float = sandbox.search("contacts", {"field": "updated_at", "operator": ">", "value": 1_760_000_000.25})
    assert as_float == sandbox.search("contacts", {"field": "updated_at", "operator": ">", "value": 1_760_000_000})


@pytest.mark.parametrize("query", [
    {"field": "updated_at", "operator": ">", "value": "foobar"},
    {"field": "updated_at", "operator": ">", "value": True},
    {"field": "role", "operator": "=", "value": 5},
    {"field": "role", "operator": ">", "value": "user"},
    {"field": "custom_attributes.shoe_size", "operator": "=", "value": 4},
    {"field": "custom_attributes.seats", "operator": "=", "value": "many"},
])
def test_values_must_match_the_field_type(sandbox: Sandbox, query: dict[str, Any]) -> None:
    refused = sandbox.post("/contacts/search", {"query": query})
    assert refused.status_code == 400 and error_of(refused)["code"] == "parameter_invalid"


def test_lenient_search_compares_exact_seconds_and_takes_every_operator() -> None:
    lenient = Sandbox(lenient_search=True)
    contacts = lenient.search("contacts", {"field": "role", "operator": "IN", "value": ["user", "lead"]})
    mark = sorted(c["updated_at"] for c in contacts)[len(contacts) // 2]
    for operator, test in ((">", lambda t: t > mark), (">=", lambda t: t >= mark), ("!=", lambda t: t != mark)):
        query = {"field": "updated_at", "operator": operator, "value": mark}
        assert {c["id"] for c in lenient.search("contacts", query)} == {
            c["id"] for c in contacts if test(c["updated_at"])}
    conversations = lenient.search("conversations", {"field": "updated_at", "operator": ">", "value": mark})
    assert all(v["updated_at"] > mark for v in conversations)
