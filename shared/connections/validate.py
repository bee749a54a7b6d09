"""What a connection must satisfy before it is stored, checked against its connector.

Every refusal is a 400 with a stable code, and never echoes a credential value:

    invalid_config            the config does not fit connector.config_model / base_urls
    credentials_incomplete    a field the auth strategy needs is missing or empty
    unknown_stream            the selection names a stream the connector does not declare
    ownership_not_supported   a personal connection of an org connector, or the reverse
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from shared.connections.models import StreamSelection
    from shared.vendors.connector import Connector


def config(connector: Connector, raw: Mapping[str, Any], *, environment: str) -> dict[str, Any]:
    """The config as the connector's model dumps it (defaults filled in, URL normalised)."""
    from shared.vendors.connector import InvalidConfig

    try:
        validated = connector.validate_config(dict(raw), environment=environment)
    except InvalidConfig as exc:
        raise ValidationFailed(
            f"The config does not fit {connector.vendor}: {exc}", code="invalid_config"
        ) from None
    return validated.model_dump(mode="json")


def credentials(connector: Connector, creds: Mapping[str, Any]) -> dict[str, Any]:
    missing = [f for f in connector.auth.required_fields if creds.get(f) in (None, "")]
    if missing:
        raise ValidationFailed(
            f"{connector.vendor} needs these credential fields: {', '.join(missing)}.",
            code="credentials_incomplete",
            details={"missing": missing, "required": list(connector.auth.required_fields)},
        )
    return dict(creds)


def selection(connector: Connector, chosen: StreamSelection) -> StreamSelection:
    declared = [s.name for s in connector.streams]
    named = list(chosen.streams or []) + list(chosen.fields)
    unknown = sorted({name for name in named if name not in declared})
    if unknown:
        raise ValidationFailed(
            f"{connector.vendor} has no stream {', '.join(unknown)}.",
            code="unknown_stream",
            details={"unknown": unknown, "streams": declared},
        )
    if chosen.streams is not None and not chosen.streams:
        raise ValidationFailed("Select at least one stream (or omit streams for all).", code="unknown_stream")
    return chosen


def ownership(connector: Connector, owner_kind: str) -> None:
    if owner_kind != connector.ownership:
        what = (
            "per person (owner: user)" if connector.ownership == "user" else "organization-wide (owner: org)"
        )
        raise ValidationFailed(
            f"{connector.vendor} connections are {what}.",
            code="ownership_not_supported",
            details={"ownership": connector.ownership},
        )
