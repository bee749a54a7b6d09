"""What a person needs to know to make a connection, per connector: the credentials its
auth wants, its config fields, who owns it, its streams. The console builds its "add a
connection" form from this, so a new connector gets a form without console changes.

Only declarations are described (field names, never values); the connectors of
TRIBUTARY_EXTRA_CONNECTORS appear outside production only, as the registry admits them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.vendors.connector import Connector


class AuthInfo(BaseModel):
    kind: str = Field(description="bearer, api_key, basic or oauth2")
    fields: list[str] = Field(description="Credential fields a connection must be given (OAuth: the app's)")
    oauth: bool = Field(description="true: after creating it, connect through oauth-start")


class ConfigField(BaseModel):
    name: str
    required: bool
    default: Any = None
    description: str | None = None


class StreamInfo(BaseModel):
    name: str
    parent: str | None = None
    served: bool = Field(description="Readable through the records API")


class ScheduleInfo(BaseModel):
    cron: str
    time_zone: str


class ConnectorInfo(BaseModel):
    vendor: str
    title: str
    docs_url: str
    ownership: Literal["org", "user"]
    auth: AuthInfo
    config: list[ConfigField]
    base_urls: list[str] = Field(description="Base URLs a connection may use (loopback too, outside production)")
    streams: list[StreamInfo]
    schedule: ScheduleInfo


class ConnectorList(BaseModel):
    connectors: list[ConnectorInfo]


def describe(connector: Connector) -> ConnectorInfo:
    schema: dict[str, Any] = connector.config_model.model_json_schema()
    required = set(schema.get("required", []))
    config = [
        ConfigField(name=name, required=name in required, default=prop.get("default"),
                    description=prop.get("description"))
        for name, prop in schema.get("properties", {}).items()
    ]
    return ConnectorInfo(
        vendor=connector.vendor,
        title=connector.title,
        docs_url=connector.docs_url,
        ownership=connector.ownership,
        auth=AuthInfo(kind=connector.auth.kind, fields=list(connector.auth.required_fields),
                      oauth=connector.auth.kind == "oauth2"),
        config=config,
        base_urls=list(connector.base_urls),
        # a stream is served once the records API declares it (getattr: not every stream does)
        streams=[StreamInfo(name=s.name, parent=s.parent, served=getattr(s, "serving", True) is not None)
                 for s in connector.streams if s.tombstones is None],
        schedule=ScheduleInfo(cron=connector.schedule.cron, time_zone=connector.schedule.time_zone),
    )


def available() -> list[ConnectorInfo]:
    """Every registered connector (with TRIBUTARY_EXTRA_CONNECTORS' outside production: the
    registry refuses that variable in production)."""
    from shared.sync.registry import all_connectors

    return [describe(connector) for connector in all_connectors()]
