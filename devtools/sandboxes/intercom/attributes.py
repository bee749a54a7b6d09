"""The workspace's data attributes: what GET /data_attributes lists and what a write may set.

Intercom only stores custom attributes that were defined beforehand (in the UI or with POST
/data_attributes), each with a data type; a write naming an undefined one, nesting an object,
or sending the wrong type is refused with 400 and an error.list. The contract documents no
error example for PUT /contacts/{id}, so the codes follow what Intercom answers elsewhere:
`parameter_not_found` "Custom attribute 'x' does not exist" for an undefined attribute,
`parameter_invalid` for a bad value, and `bad_request` "bad 'x' parameter" (the example on
POST /companies) for an unknown top-level key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MODELS = ("contact", "company", "conversation")
CREATED_AT = 1_700_000_000  # custom attributes were defined long before the generated history
ADMIN_ID = "991200000"


@dataclass(frozen=True)
class DataAttribute:
    model: str
    name: str
    data_type: str  # string | integer | float | boolean | date
    label: str
    description: str
    custom: bool = False
    api_writable: bool = False
    id: int | None = None

    @property
    def full_name(self) -> str:
        return f"custom_attributes.{self.name}" if self.custom else self.name


def _std(model: str, name: str, data_type: str, label: str, writable: bool = False) -> DataAttribute:
    return DataAttribute(model, name, data_type, label, f"The {label.lower()} of the {model}", api_writable=writable)


def _custom(model: str, n: int, name: str, data_type: str, label: str) -> DataAttribute:
    return DataAttribute(model, name, data_type, label, f"{label} (custom)", custom=True, api_writable=True,
                         id=12_870 + n)


ATTRIBUTES: tuple[DataAttribute, ...] = (
    _std("contact", "id", "string", "ID"), _std("contact", "role", "string", "Role", True),
    _std("contact", "external_id", "string", "User ID", True), _std("contact", "email", "string", "Email", True),
    _std("contact", "name", "string", "Name", True), _std("contact", "phone", "string", "Phone", True),
    _std("contact", "owner_id", "integer", "Owner", True),
    _std("contact", "created_at", "date", "Created at"), _std("contact", "updated_at", "date", "Updated at"),
    _std("contact", "signed_up_at", "date", "Signed up", True), _std("contact", "last_seen_at", "date", "Last seen", True),
    _std("contact", "last_replied_at", "date", "Last replied"),
    _std("contact", "unsubscribed_from_emails", "boolean", "Unsubscribed from emails", True),
    _std("contact", "browser", "string", "Browser"), _std("contact", "os", "string", "OS"),
    _custom("contact", 1, "training_topic", "string", "Training topic"),
    _custom("contact", 2, "plan_tier", "string", "Plan tier"),
    _custom("contact", 3, "seats", "integer", "Seats"),
    _custom("contact", 4, "nps", "integer", "NPS"),
    _custom("contact", 5, "mrr", "float", "MRR"),
    _custom("contact", 6, "beta_tester", "boolean", "Beta tester"),
    _custom("contact", 7, "renewal_at", "date", "Renewal date"),
    _std("company", "id", "string", "ID"), _std("company", "company_id", "string", "Company ID"),
    _std("company", "name", "string", "Company name", True),
    _std("company", "created_at", "date", "Created at"), _std("company", "updated_at", "date", "Updated at"),
    _std("company", "last_request_at", "date", "Company last seen"),
    _std("company", "remote_created_at", "date", "Company created at", True),
    _std("company", "user_count", "integer", "People"), _std("company", "session_count", "integer", "Web sessions"),
    _std("company", "monthly_spend", "float", "Monthly spend", True), _std("company", "size", "integer", "Size", True),
    _std("company", "industry", "string", "Industry", True), _std("company", "website", "string", "Website", True),
    _custom("company", 11, "segment", "string", "Segment"),
    _custom("company", 12, "account_manager", "string", "Account manager"),
    _std("conversation", "id", "string", "ID"), _std("conversation", "created_at", "date", "Created at"),
    _std("conversation", "updated_at", "date", "Updated at"), _std("conversation", "state", "string", "State"),
    _std("conversation", "priority", "string", "Priority", True),
    _custom("conversation", 21, "training_topic", "string", "Training topic"),
)


def for_model(model: str | None) -> list[DataAttribute]:
    return [a for a in ATTRIBUTES if model is None or a.model == model]


def custom(model: str) -> dict[str, DataAttribute]:
    return {a.name: a for a in ATTRIBUTES if a.model == model and a.custom}


def render(a: DataAttribute) -> dict[str, Any]:
    """A data_attribute object (components/schemas/data_attribute); CDAs carry id and authorship."""
    out: dict[str, Any] = {"type": "data_attribute"}
    if a.custom:
        out["id"] = a.id
    out.update(name=a.name, full_name=a.full_name, label=a.label, description=a.description, data_type=a.data_type,
               api_writable=a.api_writable, ui_writable=a.custom, messenger_writable=False, custom=a.custom,
               archived=False, model=a.model)
    if a.custom:
        out.update(admin_id=ADMIN_ID, created_at=CREATED_AT, updated_at=CREATED_AT)
    return out


class WriteRefused(ValueError):
    """A write Intercom refuses: HTTP 400 with `code` and the message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _is_iso_date(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _type_ok(data_type: str, value: Any) -> bool:
    if data_type == "string":
        return isinstance(value, str)
    if data_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if data_type == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if data_type == "boolean":
        return isinstance(value, bool)
    if data_type == "date":  # a unix timestamp or an ISO-8601 string
        return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and _is_iso_date(value))
    return False


def check_custom(model: str, values: Any) -> None:
    """Refuse what Intercom refuses in a write's custom_attributes (None clears an attribute)."""
    if values is None:
        return
    if not isinstance(values, dict):
        raise WriteRefused("parameter_invalid", "custom_attributes must be an object")
    defined = custom(model)
    for name, value in values.items():
        attribute = defined.get(name)
        if attribute is None:
            raise WriteRefused("parameter_not_found", f"Custom attribute '{name}' does not exist")
        if isinstance(value, (dict, list)):
            raise WriteRefused("parameter_invalid",
                                  f"Custom attribute '{name}' cannot be a nested object or array")
        if value is not None and not _type_ok(attribute.data_type, value):
            raise WriteRefused("parameter_invalid",
                                  f"Custom attribute '{name}' must be of type {attribute.data_type}")
