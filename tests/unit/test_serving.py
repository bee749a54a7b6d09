"""The serving layer without servers: generated query models, criteria, combinations,
ETags, the proxy's allow-list and redaction, live cursors, the registry's extra packages."""

from __future__ import annotations

import pytest

from shared.errors import BadRequest, Forbidden, PreconditionRequired
from shared.serving import catalog, etags, live, proxy, queries
from shared.store.queries import InvalidCursor
from shared.sync.registry import connector

INTERCOM = connector("intercom")


def serving(stream: str):  # type: ignore[no-untyped-def]
    served = INTERCOM.stream(stream).serving
    assert served is not None
    return served


def test_query_models_follow_the_declaration() -> None:
    model = catalog.query_model("intercom", "contacts")
    assert model.__name__ == "IntercomContactsQuery"
    assert {"email", "name", "role", "sort", "order", "limit", "cursor", "live", "include_deleted", "include_raw"} == set(
        model.model_fields
    )
    q = model.model_validate({"email": "  Ada@Example.COM ", "limit": "5"})
    assert (q.sort, q.order, q.limit) == ("updated_at", "desc", 5)
    c = queries.criteria(serving("contacts"), q)
    assert c.equals == {"email": "ada@example.com"} and c.sort.field == "updated_at"
    for bad in ({"colour": "red"}, {"limit": 201}, {"role": "admin"}, {"sort": "email"}):
        with pytest.raises(ValueError):
            model.model_validate(bad)
    conv = catalog.query_model("intercom", "conversations")
    with pytest.raises(ValueError):
        conv.model_validate({"created_from": "2025-12-12", "created_to": "2025-12-10"})
    c = queries.criteria(serving("conversations"), conv.model_validate({"created_to": "2025-12-10"}))
    low, high = c.ranges["created"]
    assert low is None and high is not None and high.isoformat() == "2025-12-11T00:00:00+00:00"


def test_only_declared_combinations_are_served() -> None:
    model = catalog.query_model("intercom", "contacts")
    ok = queries.criteria(
        serving("contacts"), model.model_validate({"role": "lead", "name": "ad", "sort": "created_at"})
    )
    assert queries.served_combination(serving("contacts"), ok).filters == ("role", "name")
    spec = queries.page_query(serving("contacts"), ok)
    assert spec.equals == (("role", "lead"),) and spec.ranges == (
        ("name_lower", ">=", "ad"),
        ("name_lower", "<", "ad\uf8ff"),
    )
    refused = queries.criteria(serving("contacts"), model.model_validate({"email": "a@b.c", "sort": "name"}))
    with pytest.raises(queries.UnsupportedQuery) as caught:
        queries.served_combination(serving("contacts"), refused)
    assert caught.value.status == 400 and caught.value.details["filters"] == ["email"]


def test_etags() -> None:
    assert etags.none_match('W/"abc", "def"', '"abc"') and etags.none_match("*", '"x"')
    assert not etags.none_match('"abd"', '"abc"') and not etags.none_match(None, '"abc"')
    assert etags.parse_if_match(' "abc" ') == "abc" and etags.parse_if_match(None) is None
    with pytest.raises(PreconditionRequired):
        etags.parse_if_match("*")
    for bad in ('W/"abc"', '"a", "b"', '""'):
        with pytest.raises(BadRequest):
            etags.parse_if_match(bad)
    base = {
        "uid": "u1",
        "role": "member",
        "connection_id": "c",
        "stream": "contacts",
        "params": [("a", "1")],
        "marker": "m",
    }
    tag = etags.list_etag(**base)  # type: ignore[arg-type]
    for change in (
        {"uid": "u2"},
        {"role": "admin"},
        {"params": [("a", "2")]},
        {"marker": "m2"},
        {"stream": "admins"},
    ):
        assert etags.list_etag(**{**base, **change}) != tag  # type: ignore[arg-type]
    assert etags.list_etag(**{**base, "params": [("a", "1")]}) == tag  # type: ignore[arg-type]


def test_proxy_allow_list_and_redaction() -> None:
    assert proxy.allowed(INTERCOM, "contacts/abc_1-2") == "/contacts/abc_1-2"
    assert proxy.allowed(INTERCOM, "/admins/") == "/admins"
    for path in (
        "contacts",
        "contacts/search",
        "contacts/a/b",
        "contacts/..",
        "",
        None,
        "me",
        "contacts/a%2Fb",
    ):
        with pytest.raises(Forbidden):
            proxy.allowed(INTERCOM, path)
    body = {"a": "token-12345678", "b": ["x token-12345678 y"], "token-12345678": 1}
    assert proxy.redact(body, ["token-12345678"]) == {
        "a": "[redacted]",
        "b": ["x [redacted] y"],
        "[redacted]": 1,
    }
    assert proxy.redact({"a": "b"}, ["token-12345678"]) == {"a": "b"}
    assert proxy.query_params([("x", "1"), ("x", "2"), ("y", "3")]) == {"x": ["1", "2"], "y": ["3"]}
    with pytest.raises(Forbidden):
        proxy.query_params([("x", str(n)) for n in range(21)])


def test_live_cursors_are_bound_to_their_query() -> None:
    model = catalog.query_model("intercom", "contacts")
    c = queries.criteria(serving("contacts"), model.model_validate({"role": "user"}))
    other = queries.criteria(serving("contacts"), model.model_validate({"role": "lead"}))
    sig = live.signature("intercom", "contacts", c)
    token = live.wrap(sig, "abc")
    assert token and live.unwrap(sig, token) == "abc" and live.wrap(sig, None) is None
    with pytest.raises(InvalidCursor):
        live.unwrap(live.signature("intercom", "contacts", other), token)


def test_extra_connector_packages_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.sync import registry

    monkeypatch.setenv("TRIBUTARY_EXTRA_CONNECTORS", "tests.fixtures.vendors")
    monkeypatch.setenv("TRIBUTARY_ENV", "production")
    registry._found.cache_clear()
    try:
        with pytest.raises(registry.ExtraConnectorsRefused):
            registry.vendors()
        monkeypatch.setenv("TRIBUTARY_ENV", "test")
        registry._found.cache_clear()
        assert "acme" in registry.vendors() and "intercom" in registry.vendors()  # built-ins stay
        assert registry.connector("acme").title == "Acme"
    finally:
        monkeypatch.delenv("TRIBUTARY_EXTRA_CONNECTORS")
        registry._found.cache_clear()
    assert "acme" not in registry.vendors() and "intercom" in registry.vendors()


class _Ref:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def update(self, data: object) -> None:
        self.calls.append(("update", data))

    def delete(self) -> None:
        self.calls.append(("delete", None))


def test_an_idempotency_key_keeps_a_failure_only_once_the_vendor_may_have_acted() -> None:
    from shared.serving.actions import Attempt, settle_failure
    from shared.serving.idempotency import Claimed
    from shared.vendors.errors import VendorUnavailable

    before, after = Attempt(), Attempt()
    after.acted = True
    released, kept = _Ref(), _Ref()
    settle_failure(Claimed(released), VendorUnavailable(), before, "r1")  # type: ignore[arg-type]
    settle_failure(Claimed(kept), VendorUnavailable(), after, "r2")  # type: ignore[arg-type]
    assert released.calls == [("delete", None)]
    ((kind, data),) = kept.calls
    assert kind == "update" and data["state"] == "done" and data["response"]["status"] == 503  # type: ignore[index]
    assert '"vendor_unavailable"' in data["response"]["body"]  # type: ignore[index]
