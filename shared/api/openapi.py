"""OpenAPI 3.1 for the HTTP API, built from the endpoints' routes and pydantic models.

The document is generated at build time (devtools.openapi) into openapi.json beside this
module, so the function that serves it loads no other function's code at cold start.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import __version__
from shared.api.endpoint import Endpoint, Route

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")

_STATUS_TEXT = {
    400: "Malformed JSON or a validation error (details lists pydantic's field errors)",
    401: "Missing, malformed, invalid or expired bearer token",
    403: "Wrong domain, unverified email, missing role or caller not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not JSON",
    422: "The vendor refused the change (vendor_refused_change, with its reason) or the Idempotency-Key was used "
    "with another request (idempotency_key_reused)",
    428: "A precondition (If-Match) is required",
    429: "Rate limited",
    500: "Internal error (no internals are revealed)",
    502: "A vendor failed after retries",
    503: "A dependency is unavailable",
}


@dataclass(frozen=True)
class Variant:
    """One concrete operation a generic route serves, documented on its own path (the
    records function's route /{connection_id}/{stream} is one Variant per vendor stream),
    so the document stays typed per vendor and stream while one function serves them all."""

    #: the path after the function's name, e.g. "/{connection_id}/contacts"
    path: str
    #: operationId suffix (unique within the route)
    name: str
    summary: str
    description: str = ""
    #: query models whose fields are the parameters (several: merged by name)
    query: tuple[type[BaseModel], ...] = ()
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    #: request headers the operation reads: name -> description
    headers: dict[str, str] = field(default_factory=dict)
    #: statuses answered without the error body (304): status -> description
    bare: dict[int, str] = field(default_factory=dict)
    errors: tuple[int, ...] = ()


H = TypeVar("H")


def documented(variants: Callable[[], list[Variant]] | str) -> Callable[[H], H]:
    """Document a generic route as the Variants `variants()` lists (called at build time).

    `variants` may be named "module:function" instead: the variants come from every
    connector's declarations, which a cold instance answering a request has no use for, so
    the function imports them only when the document is built."""

    def mark(handler: H) -> H:
        setattr(handler, "openapi_variants", variants)  # noqa: B010 - H is any handler type
        return handler

    return mark


def _variants(route: Route) -> list[Variant] | None:
    factory = getattr(route.handler, "openapi_variants", None)
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
    return factory() if factory is not None else None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def _models(endpoints: list[Endpoint]) -> list[type[BaseModel]]:
    """Every model the document names. Bodies and responses are referenced by their class name,
    so two different ones with one name would leave a reference pointing at neither: refused."""
    seen: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody}
    for endpoint in endpoints:
        for route in endpoint.routes:
            queries: list[type[BaseModel] | None] = [route.query]
            referenced: list[type[BaseModel] | None] = [route.body, route.response]
            for variant in _variants(route) or []:
                queries += variant.query
                referenced += [variant.body, variant.response]
            for model in queries:
                if model is not None:
                    seen.setdefault(model.__name__, model)
            for model in referenced:
                if model is not None and seen.setdefault(model.__name__, model) is not model:
                    raise ValueError(f"two models are named {model.__name__}: a $ref would be ambiguous")
    return list(seen.values())


def _variant_operation(endpoint: Endpoint, route: Route, variant: Variant) -> dict[str, Any]:
    op = _operation(endpoint, route)
    op["operationId"] = f"{endpoint.name}.{route.handler.__name__}.{variant.name}"
    op["summary"] = variant.summary
    if variant.description:
        op["description"] = variant.description
    if variant.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=variant.body.__name__)}}},
        }
        error = {"description": _STATUS_TEXT[415], "content": op["responses"]["400"]["content"]}
        op["responses"].setdefault("415", error)
    ok = op["responses"][str(route.status)]
    ok.pop("content", None)
    if variant.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=variant.response.__name__)}}}
    for status in variant.errors:
        op["responses"].setdefault(str(status), {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
        })
    for status, text in variant.bare.items():
        op["responses"][str(status)] = {"description": text}
    op["responses"] = dict(sorted(op["responses"].items()))
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(variant.path)
    ]
    seen: set[str] = set()
    for model in variant.query:
        schema = model.model_json_schema(ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            if name in seen:
                continue
            seen.add(name)
            params.append({
                "name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop,
                **({"description": prop["description"]} if "description" in prop else {}),
            })
    for name, text in variant.headers.items():
        params.append({"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": text})
    op["parameters"] = params
    return op


def _parameters(route: Route, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": route.adapter(name).json_schema()}
        for name in route.pattern.groupindex
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    return params


def _operation(endpoint: Endpoint, route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{endpoint.name}.{route.handler.__name__}",
        "summary": route.summary or endpoint.summary,
        "tags": list(endpoint.tags) or [endpoint.name],
        "parameters": [],
        "responses": {},
    }
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=route.body.__name__)}}},
        }
    ok: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=route.response.__name__)}}}
    op["responses"][str(route.status)] = ok
    statuses = set(route.errors) | {400, 404, 405, 413, 500}
    if route.auth.openapi_scheme:
        op["security"] = [{route.auth.openapi_scheme: []}]
        statuses |= {401, 403}
    else:
        op["security"] = []
    if route.body is not None:
        statuses.add(415)
    for status in sorted(statuses):
        op["responses"][str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
        }
    return op


def build_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    _, top = models_json_schema([(m, "validation") for m in _models(endpoints)], ref_template=REF)
    paths: dict[str, Any] = {}
    for endpoint in sorted(endpoints, key=lambda e: e.name):
        for route in endpoint.routes:
            variants = _variants(route)
            if variants is not None:
                for variant in variants:
                    item = paths.setdefault(f"/{endpoint.name}{variant.path}", {})
                    item[route.method.lower()] = _variant_operation(endpoint, route, variant)
                continue
            suffix = route.path.rstrip("/")
            path = f"/{endpoint.name}{suffix}"
            item = paths.setdefault(path, {})
            op = _operation(endpoint, route)
            op["parameters"] = _parameters(route, top.get("$defs", {}))
            item[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tributary API",
            "version": __version__,
            "description": "Each top-level path segment is one Cloud Function (its URL). "
            "Errors share one body: {error: {code, message, details, request_id}}.",
        },
        "servers": [{"url": "{functionsBaseUrl}", "variables": {"functionsBaseUrl": {"default": "http://127.0.0.1:5001/tributary-local/europe-west1"}}}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "firebaseIdToken": {"type": "http", "scheme": "bearer", "bearerFormat": "Firebase ID token (JWT)"},
                "googleOidc": {"type": "http", "scheme": "bearer", "bearerFormat": "Google-signed OIDC token"},
            },
        },
    }


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
    return document
