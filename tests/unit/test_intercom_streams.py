"""Intercom's added streams and fields, without servers: keys, mappers, the raw payload."""

from __future__ import annotations

from typing import Any

from shared.sync.ingest import prepare
from shared.vendors.intercom import connector as intercom
from shared.vendors.intercom import mappers
from shared.vendors.intercom.raw import RawConversation


def test_every_intercom_stream_keeps_the_whole_payload() -> None:
    assert all(stream.keep_raw for stream in intercom.CONNECTOR.streams)
    contact = {"type": "contact", "id": "c1", "role": "user", "created_at": 1, "updated_at": 2,
               "browser": "firefox", "utm_source": None}
    [item] = prepare(intercom.CONTACTS, [contact]).items
    assert item.content is not None and item.content["raw"] == contact


def test_data_attributes_are_keyed_by_model_and_full_name_ids_or_not() -> None:
    standard = {"type": "data_attribute", "model": "contact", "name": "email", "full_name": "email",
                "data_type": "string"}
    custom = {"type": "data_attribute", "id": 12871, "model": "contact", "name": "plan_tier",
              "full_name": "custom_attributes.plan_tier", "data_type": "string", "custom": True}
    company_name = {**standard, "model": "company", "name": "name", "full_name": "name"}
    prepared = prepare(intercom.DATA_ATTRIBUTES, [standard, custom, company_name, {"model": "contact"}])
    assert [i.key for i in prepared.items] == ["contact:email", "contact:custom_attributes.plan_tier", "company:name"]
    assert len(prepared.rejected) == 1  # no name: no key, dead-lettered rather than dropped
    assert prepared.items[1].content is not None and prepared.items[1].content["attribute_id"] == "12871"
    assert all(i.content is not None and i.content["id"] == i.key for i in prepared.items)


def test_conversation_parts_are_keyed_under_their_conversation() -> None:
    part = {"type": "conversation_part", "id": "7001", "part_type": "comment", "body": "<p>Hi</p>",
            "created_at": 10, "updated_at": 11, "author": {"type": "admin", "id": 42, "name": "Ada"}}
    [item] = prepare(intercom.CONVERSATION_PARTS, [part], parent_id="7").items
    assert item.key == "7:7001" and item.version == 11
    assert item.content is not None
    assert item.content["parent_id"] == "7" and item.content["author_id"] == "42" and "id" not in item.content


def test_conversations_map_the_fields_the_peers_sync() -> None:
    raw: dict[str, Any] = {
        "type": "conversation", "id": "9", "created_at": 100, "updated_at": 200, "state": "closed",
        "source": {"type": "email", "id": "400", "delivered_as": "customer_initiated", "subject": "Help",
                   "url": None, "author": {"type": "user", "id": "c1"}},
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": 5}]},
        "conversation_rating": {"rating": 4, "remark": "ok", "created_at": 300,
                                "contact": {"type": "contact", "id": "c1"}, "teammate": {"type": "admin", "id": "5"}},
        "sla_applied": {"type": "conversation_sla_summary", "sla_name": "Gold", "sla_status": "hit"},
        "statistics": {"time_to_assignment": 3, "count_reopens": 1, "count_conversation_parts": 6,
                       "last_closed_by_id": 5, "median_time_to_reply": 40},
        "ai_agent_participated": False,
    }
    doc = mappers.conversation(RawConversation.model_validate(raw))
    assert doc["source_author_id"] == "c1" and doc["source_delivered_as"] == "customer_initiated"
    assert doc["teammate_ids"] == ["5"] and doc["rating"] == 4 and doc["rating_teammate_id"] == "5"
    assert doc["sla_name"] == "Gold" and doc["sla_status"] == "hit"
    assert doc["last_closed_by_id"] == "5" and doc["count_conversation_parts"] == 6
    assert doc["median_time_to_reply_s"] == 40 and doc["time_to_assignment_s"] == 3


def test_a_change_intercom_refuses_reads_its_error_list() -> None:
    from shared.vendors.intercom.actions import intercom_reasons

    body = ('{"type":"error.list","request_id":"r1","errors":[{"code":"parameter_not_found",'
            '"message":"Custom attribute \'x\' does not exist"}]}')
    assert intercom_reasons(body) == [{"code": "parameter_not_found", "message": "Custom attribute 'x' does not exist"}]
    assert intercom_reasons('{"errors": [{"code": "parameter_inv')[0]["code"] == "unknown"  # cut short
    assert intercom_reasons("") == []
