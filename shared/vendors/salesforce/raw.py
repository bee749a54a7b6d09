"""Salesforce SOQL records as the REST API returns them: `attributes {type, url}` plus the
selected fields by API name (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html).
Only what the mappers read is typed; every other field, custom `__c` ones included, is kept
(extra="allow")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RawAttributes(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str | None = None
    url: str | None = None


class RawRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    Id: str
    SystemModstamp: str
    attributes: RawAttributes | None = None
    Name: str | None = None
    CreatedDate: str | None = None
    LastModifiedDate: str | None = None
    OwnerId: str | None = None
    IsDeleted: bool | None = None


class RawAccount(RawRecord):
    Industry: str | None = None
    Type: str | None = None


class RawContact(RawRecord):
    AccountId: str | None = None
    Email: str | None = None
    FirstName: str | None = None
    LastName: str | None = None


class RawOpportunity(RawRecord):
    AccountId: str | None = None
    StageName: str | None = None
    Amount: float | None = None
    CloseDate: str | None = None
    IsClosed: bool | None = None
    IsWon: bool | None = None


class RawDeleted(BaseModel):
    """A row of a queryAll listing of deleted records: the id and when it was deleted."""

    model_config = ConfigDict(extra="allow")

    Id: str
    SystemModstamp: str
