"""Pipedrive payloads -> stored documents; `refine_*` name custom fields (by the stored
field definitions) and compute the warmness priority (by the connection's settings).

Ids stay Pipedrive's integers under `pipedrive_id`, `owner_id`, `org_id`...; the document
key is the id as a string. Times become UTC datetimes; searchable text gets a lower copy.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from shared.vendors.connector import MapContext
from shared.vendors.pipedrive import warmness
from shared.vendors.pipedrive.raw import RawActivity, RawDeal, RawField, RawOrganization, RawPerson


def ts(value: str | None) -> datetime | None:
    """RFC 3339, v1's 'YYYY-MM-DD HH:MM:SS' (UTC) or a plain date -> a UTC datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text if "T" in text or ":" in text else f"{text}T00:00:00")
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _primary(values: list[Any]) -> str | None:
    chosen = next((v for v in values if v.primary and v.value), None) or next((v for v in values if v.value), None)
    return chosen.value if chosen else None


def _latest(*values: datetime | None) -> datetime | None:
    found = [v for v in values if v is not None]
    return max(found) if found else None


def person(raw: RawPerson) -> dict[str, Any]:
    email = _primary(raw.emails)
    return {
        "id": str(raw.id),
        "pipedrive_id": raw.id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "email": email,
        "email_lower": _lower(email),
        "emails": [e.value for e in raw.emails if e.value],
        "phone": _primary(raw.phones),
        "owner_id": raw.owner_id,
        "org_id": raw.org_id,
        "label_ids": raw.label_ids,
        "created_at": ts(raw.add_time),
        "updated_at": ts(raw.update_time),
        "last_contacted_at": _latest(ts(raw.last_incoming_mail_time), ts(raw.last_outgoing_mail_time)),
        "last_activity_at": ts(raw.last_activity_date),
        "custom_fields": raw.custom_fields,
    }


def organization(raw: RawOrganization) -> dict[str, Any]:
    return {
        "id": str(raw.id),
        "pipedrive_id": raw.id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "owner_id": raw.owner_id,
        "address": (raw.address or {}).get("value") if isinstance(raw.address, dict) else None,
        "created_at": ts(raw.add_time),
        "updated_at": ts(raw.update_time),
        "custom_fields": raw.custom_fields,
    }


def deal(raw: RawDeal) -> dict[str, Any]:
    return {
        "id": str(raw.id),
        "pipedrive_id": raw.id,
        "title": raw.title,
        "title_lower": _lower(raw.title),
        "value": raw.value,
        "currency": raw.currency,
        "status": raw.status,
        "owner_id": raw.owner_id,
        "person_id": raw.person_id,
        "org_id": raw.org_id,
        "stage_id": raw.stage_id,
        "pipeline_id": raw.pipeline_id,
        "created_at": ts(raw.add_time),
        "updated_at": ts(raw.update_time),
        "custom_fields": raw.custom_fields,
    }


def activity(raw: RawActivity) -> dict[str, Any]:
    person_id = raw.person_id
    if person_id is None and raw.participants:
        person_id = next((p.person_id for p in raw.participants if p.primary), raw.participants[0].person_id)
    from shared.vendors.pipedrive.activities import activity_key

    return {
        "id": activity_key(raw.model_dump()),
        "pipedrive_id": raw.id,
        # pending / skipped: logged here, not (yet) in Pipedrive; in_pipedrive: Pipedrive has it
        "push_state": (raw.model_extra or {}).get("push_state") if raw.id is None else "in_pipedrive",
        "subject": raw.subject,
        "type": raw.type,
        "owner_id": raw.owner_id,
        "person_id": str(person_id) if person_id is not None else None,
        "org_id": raw.org_id,
        "deal_id": raw.deal_id,
        "due_date": raw.due_date,
        "done": raw.done,
        "note": raw.note,
        "created_at": ts(raw.add_time),
        "updated_at": ts(raw.update_time),
        "source": "pipedrive",
    }


def field(raw: RawField) -> dict[str, Any]:
    return {
        "id": raw.key,
        "field_id": raw.id,
        "key": raw.key,
        "name": raw.name,
        "field_type": raw.field_type,
        "options": {str(o.id): o.label for o in raw.options or []},
        "custom": raw.edit_flag,
    }


def named_custom_fields(values: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{40-char key: value} -> {field name: value}; enum/set option ids become their labels.
    A key with no known definition keeps its key (a field created since the last sync)."""
    named: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            named[key] = value
            continue
        options = definition.get("options") or {}
        if options and isinstance(value, (int, str)) and str(value) in options:
            value = options[str(value)]
        elif options and isinstance(value, list):
            value = [options.get(str(v), v) for v in value]
        named[str(definition.get("name") or key)] = value
    return named


def _refine_custom(doc: dict[str, Any], context: MapContext, fields_stream: str) -> dict[str, Any]:
    return {**doc, "custom_fields": named_custom_fields(doc.get("custom_fields") or {}, context.lookups.get(fields_stream, {}))}


def refine_person(doc: dict[str, Any], context: MapContext) -> dict[str, Any]:
    """Custom fields by name, then warmness: priority, campaign flag, the half-life used."""
    doc = _refine_custom(doc, context, "person_fields")
    config = warmness.WarmnessConfig.model_validate(context.config.get("warmness") or {})
    campaign = doc["custom_fields"].get(config.campaign_field)
    return {
        **doc,
        "priority_at": warmness.priority_at(doc.get("last_contacted_at"), doc.get("last_activity_at"), config),
        "warmness_half_life_days": config.half_life_days,
        "added_to_campaign": campaign not in (None, "", False, 0, [], "No", "no", "false"),
    }


def refine_organization(doc: dict[str, Any], context: MapContext) -> dict[str, Any]:
    return _refine_custom(doc, context, "organization_fields")


def refine_deal(doc: dict[str, Any], context: MapContext) -> dict[str, Any]:
    return _refine_custom(doc, context, "deal_fields")
