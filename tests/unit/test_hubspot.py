"""HubSpot's declarations and sandbox without servers: pacing from its rate-limit headers,
the v4 associations batch read (requests and answers per parent), and what the sandbox
answers (headers per endpoint, the batch read's limits and 207)."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from devtools.sandboxes.hubspot.app import create_app
from devtools.sandboxes.hubspot.records import Sizes
from shared.vendors.connector import Slice
from shared.vendors.hubspot.connector import BATCH_READ_MAX, CONNECTOR, DEAL_CONTACTS, split_associations
from shared.vendors.ratelimit import pacing_delay_s, read_state

TOKEN = {"Authorization": "Bearer hubspot-sandbox-token"}


def test_the_window_headers_pace_the_worker_before_hubspot_refuses() -> None:
    # HubSpot sends no reset time, only the rolling window's length: that must still pace
    # (with reset=None the delay was always 0, so the headers paced nothing)
    rate = CONNECTOR.rate_limit
    low = read_state({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "4",
                      "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, rate.headers)
    assert low.reset_in_s == 10.0
    assert pacing_delay_s(low, rate) == 2.0
    spent = read_state({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0",
                        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, rate.headers)
    assert pacing_delay_s(spent, rate) == 10.0
    plenty = read_state({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "80",
                         "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, rate.headers)
    assert pacing_delay_s(plenty, rate) == 0.0
    assert pacing_delay_s(read_state({}, rate.headers), rate) == 0.0  # a search answer: no headers


def test_a_batch_read_asks_for_every_owed_parent_with_its_own_cursor() -> None:
    assert DEAL_CONTACTS.batch is not None and DEAL_CONTACTS.child_batch <= BATCH_READ_MAX
    request = DEAL_CONTACTS.batch.build(Slice(), {"11": None, "12": "MC0xLTI%3D"})
    assert (request.method, request.path) == ("POST", "/crm/v4/associations/deals/contacts/batch/read")
    assert request.json_body == {"inputs": [{"id": "11"}, {"id": "12", "after": "MC0xLTI%3D"}]}


def test_a_batch_answer_is_split_per_parent_and_none_found_is_an_empty_set() -> None:
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": [
            {"from": {"id": "11"}, "to": [{"toObjectId": 7, "associationTypes": []}],
             "paging": {"next": {"after": "7", "link": None}}},
            {"from": {"id": "12"}, "to": [{"toObjectId": 8, "associationTypes": []}]},
        ],
        "numErrors": 2,
        "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
             "context": {"fromObjectId": ["13"]}},
            {"status": "error", "category": "RATE_LIMITS", "context": {"fromObjectId": ["14"]}},
        ],
    }
    split = split_associations(answer)
    assert split["11"] == ([{"toObjectId": 7, "associationTypes": []}], "7")
    assert split["12"][1] is None and split["13"] == ([], None)
    assert "14" not in split  # another error: that parent was not read, nothing is inferred


def test_the_sandbox_answers_hubspots_headers_per_endpoint() -> None:
    client = Client(create_app(Sizes(contacts=3, companies=2, deals=1)))
    listing = client.get("/crm/v3/objects/contacts?limit=2", headers=TOKEN)
    assert listing.status_code == 200
    assert listing.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Max" in listing.headers and "X-HubSpot-RateLimit-Remaining" in listing.headers
    assert "X-HubSpot-RateLimit-Daily" not in listing.headers  # OAuth calls have no daily headers
    search = client.post("/crm/v3/objects/contacts/search", json={"limit": 2}, headers=TOKEN)
    assert search.status_code == 200
    assert not [h for h in search.headers.keys() if h.lower().startswith("x-hubspot-ratelimit")]


def test_the_sandbox_batch_read_pages_per_input_and_caps_inputs() -> None:
    app = create_app(Sizes(contacts=3, companies=3, deals=0))
    store = app.store
    store.association_page = 2  # type: ignore[attr-defined]
    first, second, third = sorted(store.objects["contacts"])
    for company in store.objects["companies"]:
        store.link("contacts", first, "companies", company)
    for company in list(store.links[("contacts", third)]["companies"]):
        store.unlink("contacts", third, "companies", company)
    client = Client(app)
    path = "/crm/v4/associations/contacts/companies/batch/read"
    answer = client.post(path, json={"inputs": [{"id": first}, {"id": second}, {"id": third}]}, headers=TOKEN)
    assert answer.status_code == 207
    body = answer.get_json()
    by_parent = split_associations(body)
    assert len(by_parent[first][0]) == 2 and by_parent[first][1] is not None
    assert by_parent[third] == ([], None)
    rest = client.post(path, json={"inputs": [{"id": first, "after": by_parent[first][1]}]}, headers=TOKEN)
    assert rest.status_code == 200
    assert len(split_associations(rest.get_json())[first][0]) == len(store.links[("contacts", first)]["companies"]) - 2
    too_many = client.post(path, json={"inputs": [{"id": str(n)} for n in range(BATCH_READ_MAX + 1)]}, headers=TOKEN)
    assert too_many.status_code == 400


def test_an_association_change_re_reads_the_objects_associations() -> None:
    assert CONNECTOR.webhooks is not None
    event = {"eventId": 9, "subscriptionId": 2, "portalId": 62515, "appId": 54321, "occurredAt": 1713533523000,
             "subscriptionType": "deal.associationChange", "attemptNumber": 0, "changeSource": "CRM",
             "associationType": "DEAL_TO_CONTACT", "fromObjectId": 501, "toObjectId": 77, "associationRemoved": True,
             "isPrimaryAssociation": False}
    (one,) = CONNECTOR.webhooks.events([event])
    assert (one.action, one.stream, one.record_id) == ("children", "deals", "501")
    assert {s.name for s in CONNECTOR.children("deals")} == {"deal_contacts", "deal_companies"}
    assert "contact.associationChange" in CONNECTOR.webhooks.subscribed_topics
    assert "company.associationChange" not in CONNECTOR.webhooks.subscribed_topics
