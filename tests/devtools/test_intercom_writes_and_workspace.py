"""PUT /contacts/{id} refuses what Intercom refuses (undefined custom attributes, nested
objects, wrong types, unknown parameters) and leaves the contact untouched; the workspace
endpoints other clients read (data attributes, tags, teams, segments) agree with the data."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.sandboxes.intercom.records import TAGS
from tests.devtools.intercom_inprocess import Sandbox, error_of


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture()
def contact(sandbox: Sandbox) -> dict[str, Any]:
    body = sandbox.get("/contacts", per_page=5).json
    assert body is not None
    return dict(body["data"][3])


@pytest.mark.parametrize("change, code, message", [
    ({"custom_attributes": {"tier": "gold"}}, "parameter_not_found", "Custom attribute 'tier' does not exist"),
    ({"custom_attributes": {"seats": {"value": 3}}}, "parameter_invalid",
     "Custom attribute 'seats' cannot be a nested object or array"),
    ({"custom_attributes": {"training_topic": ["api", "sso"]}}, "parameter_invalid",
     "Custom attribute 'training_topic' cannot be a nested object or array"),
    ({"custom_attributes": {"seats": "12"}}, "parameter_invalid", "Custom attribute 'seats' must be of type integer"),
    ({"custom_attributes": {"seats": 12.5}}, "parameter_invalid", "Custom attribute 'seats' must be of type integer"),
    ({"custom_attributes": {"nps": True}}, "parameter_invalid", "Custom attribute 'nps' must be of type integer"),
    ({"custom_attributes": {"beta_tester": "yes"}}, "parameter_invalid",
     "Custom attribute 'beta_tester' must be of type boolean"),
    ({"custom_attributes": {"renewal_at": "next tuesday"}}, "parameter_invalid",
     "Custom attribute 'renewal_at' must be of type date"),
    ({"custom_attributes": {"training_topic": 7}}, "parameter_invalid",
     "Custom attribute 'training_topic' must be of type string"),
    ({"custom_attributes": "api"}, "parameter_invalid", "custom_attributes has the wrong type"),
    ({"shoe_size": 4}, "bad_request", "bad 'shoe_size' parameter"),
    ({"email": 5}, "parameter_invalid", "email has the wrong type"),
    ({"role": "admin"}, "parameter_invalid", "role must be user or lead"),
])
def test_refused_writes_answer_400_and_change_nothing(sandbox: Sandbox, contact: dict[str, Any],
                                                      change: dict[str, Any], code: str, message: str) -> None:
    refused = sandbox.put(f"/contacts/{contact['id']}", {"name": "Changed", **change})
    assert refused.status_code == 400
    assert error_of(refused) == {"code": code, "message": message}
    assert sandbox.get(f"/contacts/{contact['id']}").json == contact


def test_defined_attributes_of_the_right_type_are_written(sandbox: Sandbox, contact: dict[str, Any]) -> None:
    values = {"training_topic": "sso", "plan_tier": "pro", "seats": 12, "nps": 9, "mrr": 99.5, "beta_tester": True,
              "renewal_at": "2026-03-01T00:00:00Z"}
    done = sandbox.put(f"/contacts/{contact['id']}", {"custom_attributes": values})
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.json
    assert body is not None and body["updated_at"] > contact["updated_at"]
    assert {k: body["custom_attributes"][k] for k in values} == values
    cleared = sandbox.put(f"/contacts/{contact['id']}", {"custom_attributes": {"seats": None, "mrr": 10}}).json
    assert cleared is not None and cleared["custom_attributes"]["seats"] is None


def test_data_attributes_list_what_writes_accept(sandbox: Sandbox) -> None:
    everything = sandbox.get("/data_attributes").json
    assert everything is not None and everything["type"] == "list"
    models = {a["model"] for a in everything["data"]}
    assert models == {"contact", "company", "conversation"}
    for model in models:
        one = sandbox.get("/data_attributes", model=model).json
        assert one is not None and {a["model"] for a in one["data"]} == {model}
    custom = [a for a in everything["data"] if a["model"] == "contact" and a["custom"]]
    assert all(a["full_name"] == f"custom_attributes.{a['name']}" and a["api_writable"] and a["id"] for a in custom)
    sample = {"string": "x", "integer": 1, "float": 1.5, "boolean": False, "date": 1_767_000_000}
    contact_id = (sandbox.get("/contacts", per_page=1).json or {})["data"][0]["id"]
    for attribute in custom:
        written = sandbox.put(f"/contacts/{contact_id}",
                              {"custom_attributes": {attribute["name"]: sample[attribute["data_type"]]}})
        assert written.status_code == 200, attribute
    generated = {k for c in sandbox.app.store.data.contacts for k in c.custom_attributes}
    assert generated <= {a["name"] for a in custom}
    refused = sandbox.get("/data_attributes", model="ticket")
    assert refused.status_code == 400 and error_of(refused)["code"] == "parameter_invalid"


def test_tags_teams_and_segments(sandbox: Sandbox) -> None:
    tags = sandbox.get("/tags").json
    assert tags == {"type": "list", "data": [{"type": "tag", "id": i, "name": n} for i, n in TAGS]}
    admins = (sandbox.get("/admins").json or {})["admins"]
    teams = sandbox.get("/teams").json
    assert teams is not None and teams["type"] == "team.list"
    for team in teams["teams"]:
        assert team["type"] == "team" and team["name"]
        assert sorted(team["admin_ids"]) == sorted(int(a["id"]) for a in admins if int(team["id"]) in a["team_ids"])
    plain = sandbox.get("/segments").json
    counted = sandbox.get("/segments", include_count="true").json
    assert plain is not None and counted is not None and plain["type"] == "segment.list"
    assert all("count" not in s for s in plain["segments"])
    by_name = {s["name"]: s["count"] for s in counted["segments"]}
    contacts = sandbox.app.store.data.contacts
    assert by_name["All users"] == sum(1 for c in contacts if c.role == "user")
    assert by_name["All leads"] == sum(1 for c in contacts if c.role == "lead")
    assert by_name["Active"] + by_name["Slipping away"] <= by_name["All users"]
