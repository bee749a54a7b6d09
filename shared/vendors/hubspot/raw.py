"""HubSpot's CRM v3 payloads (https://developers.hubspot.com/docs/api/crm/understanding-the-crm).

Every object has the same shape: `id`, `properties` (name -> string value or null, only
the properties asked for), `createdAt`, `updatedAt`, `archived`, and with `associations=`
on a listing, `associations: {<type>: {results: [{id, type}]}}`. extra="allow": nothing
HubSpot adds is lost.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RawAssociationRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: str | None = None


class RawAssociationList(BaseModel):
    model_config = ConfigDict(extra="allow")

    results: list[RawAssociationRef] = Field(default_factory=list)


class RawObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    createdAt: str | None = None
    updatedAt: str
    archived: bool = False
    archivedAt: str | None = None
    associations: dict[str, RawAssociationList] | None = None


class RawAssociationTarget(BaseModel):
    """One `to` of a v4 association read: the associated record and its labels."""

    model_config = ConfigDict(extra="allow")

    toObjectId: str | int
    associationTypes: list[dict[str, Any]] = Field(default_factory=list)
