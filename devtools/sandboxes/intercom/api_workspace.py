"""Handlers for what other Intercom clients read besides records: tags, teams, segments and
data attributes (shapes: tag_list, team_list, segment_list, data_attribute_list)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom import attributes, workspace
from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.responses import ApiError


def list_tags(store: Store, request: Request) -> dict[str, Any]:
    return workspace.tag_list()


def list_teams(store: Store, request: Request) -> dict[str, Any]:
    return workspace.team_list(store.admin_list())


def list_segments(store: Store, request: Request) -> dict[str, Any]:
    include = request.args.get("include_count", "false").lower()
    if include not in ("true", "false"):
        raise ApiError(400, "parameter_invalid", "include_count must be true or false")
    return workspace.segment_list(list(store.contacts.values()), store.clock.now(), include == "true")


def list_data_attributes(store: Store, request: Request) -> dict[str, Any]:
    """GET /data_attributes[?model=contact|company|conversation]: every model without ?model."""
    model = request.args.get("model") or None
    if model is not None and model not in attributes.MODELS:
        raise ApiError(400, "parameter_invalid", f"model must be one of {', '.join(attributes.MODELS)}")
    return {"type": "list", "data": [attributes.render(a) for a in attributes.for_model(model)]}


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/tags", list_tags),
    ("GET", "/teams", list_teams),
    ("GET", "/segments", list_segments),
    ("GET", "/data_attributes", list_data_attributes),
)
