"""Request and response models of customers and contacts.

Requests are strict (the Endpoint refuses unknown fields) and sized: every string has a
maximum, lists have a maximum length, so no request can grow a document towards
Firestore's 1 MiB limit. Emails are checked here rather than with a dependency: one '@',
a local part of at most 64 characters without spaces or control characters, a domain of
dot-separated labels (letters, digits, hyphens; IDNA-encodable) with a top-level label
that is not all digits, 254 characters in all (RFC 5321). They are stored lower-cased,
which is what makes "the same email" findable by an equality filter.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.api.types import DocId

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or value.count("@") != 1:
        raise ValueError("not an email address (one '@', at most 254 characters)")
    local, domain = value.split("@")
    if not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("not an email address (the part before '@' is not valid)")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not an email address (the domain is not valid)") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("not an email address (the domain is not valid)")
    return f"{local}@{domain}".lower()


def _domain(value: str) -> str:
    value = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("not a domain name (e.g. example.com)")
    return value


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Domain = Annotated[str, StringConstraints(max_length=260), AfterValidator(_domain)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+() .\-x]*$")]
Notes = Annotated[str, StringConstraints(max_length=5000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
CustomerStatus = Literal["prospect", "active", "churned"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- customers ---------------------------------------------------------------------------------


class CustomerFields(_Strict):
    name: Name
    domain: Domain | None = None
    status: CustomerStatus = "prospect"
    owner_email: Email | None = Field(None, description="The team member who owns the account")
    phone: Phone | None = None
    notes: Notes | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class CustomerPatch(_Strict):
    """Only the fields sent change; null clears an optional field."""

    name: Name | None = None
    domain: Domain | None = None
    status: CustomerStatus | None = None
    owner_email: Email | None = None
    phone: Phone | None = None
    notes: Notes | None = None
    tags: list[Tag] | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> CustomerPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for required in ("name", "status"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be cleared")
        return self


# -- contacts ----------------------------------------------------------------------------------


class ContactFields(_Strict):
    first_name: Short | None = None
    last_name: Short | None = None
    email: Email | None = None
    phone: Phone | None = None
    title: Short | None = None
    customer_id: DocId | None = Field(None, max_length=64, description="The customer this contact works for")
    notes: Notes | None = None

    @model_validator(mode="after")
    def _named(self) -> ContactFields:
        if not (self.first_name or self.last_name or self.email):
            raise ValueError("a contact needs a name or an email")
        return self


class ContactPatch(_Strict):
    first_name: Short | None = None
    last_name: Short | None = None
    email: Email | None = None
    phone: Phone | None = None
    title: Short | None = None
    customer_id: DocId | None = Field(None, max_length=64)
    notes: Notes | None = None

    @model_validator(mode="after")
    def _something(self) -> ContactPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


# -- what is answered ----------------------------------------------------------------------------


class Meta(BaseModel):
    """What every owned record carries besides its fields."""

    model_config = ConfigDict(extra="ignore")

    id: str
    version: int = Field(description="Increases by one on every change; the ETag is its quoted form")
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    restore_until: datetime | None = Field(None, description="A deleted record can be restored until then")


class Customer(Meta):
    name: str
    domain: str | None = None
    status: CustomerStatus
    owner_email: str | None = None
    phone: str | None = None
    notes: str | None = None
    tags: list[str] = Field(default_factory=list)


class LeadRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connection_id: str
    key: str


class Contact(Meta):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    customer_id: str | None = None
    notes: str | None = None
    lead: LeadRef | None = Field(None, description="The lead this contact was converted from")


class ListQuery(_Strict):
    """Filters and sort of a list, or changes_since (then only what changed, deletions too)."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=2048)
    sort: str | None = Field(None, max_length=40)
    order: Literal["asc", "desc"] = "desc"
    include_deleted: bool = False
    changes_since: str | None = Field(
        None, max_length=512, description="A sync_token from an earlier answer: only what changed after it"
    )
    # filters (each kind accepts its own; the others are a 400)
    name: str | None = Field(None, min_length=1, max_length=100, description="Name prefix, any case")
    status: CustomerStatus | None = None
    owner_email: Email | None = None
    customer_id: DocId | None = Field(None, max_length=64)


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(None, description="The next page (same query) or null")
    sync_token: str = Field(description="Send as changes_since to get only what changes after this answer")


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    by: str
    by_email: str
    action: Literal["create", "update", "delete", "restore", "convert"]
    version: int
    changes: dict[str, Any] = Field(default_factory=dict, description="field -> {before, after}")


class AuditPage(BaseModel):
    items: list[AuditEntry]
