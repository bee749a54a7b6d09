"""The OpenAPI document: current with the code, valid 3.1, and covering every function."""

from __future__ import annotations

import json

from devtools.functions_catalog import deployed_name, function_dirs
from devtools.openapi import render
from shared.api.openapi import DOCUMENT_PATH


def test_committed_document_is_current() -> None:
    assert DOCUMENT_PATH.read_text() == render(), "run: python -m devtools.openapi"


def test_every_http_function_appears() -> None:
    paths = json.loads(render())["paths"]
    for directory in function_dirs():
        name = deployed_name(directory)
        assert any(p == f"/{name}" or p.startswith(f"/{name}/") for p in paths), name


def test_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    document = json.loads(render())
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_errors_and_security_are_described() -> None:
    paths = json.loads(render())["paths"]
    me = paths["/me"]["get"]
    assert me["security"] == [{"firebaseIdToken": []}]
    assert {"401", "403"} <= set(me["responses"])
    assert me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"
    worker = paths["/sync-worker"]["post"]
    assert worker["security"] == [{"googleOidc": []}] and "requestBody" in worker
    assert paths["/health"]["get"]["security"] == []


def test_two_response_models_with_one_name_are_refused() -> None:
    """A $ref names a schema by class name: two classes of one name would leave it dangling
    (HubSpot's three association streams once shared one served model)."""
    import pytest
    from pydantic import BaseModel

    from shared.api import PUBLIC, Call, Endpoint
    from shared.api.openapi import build_document

    def twin(field: str) -> type[BaseModel]:
        return type("Twin", (BaseModel,), {"__annotations__": {field: str}})

    first, second = Endpoint("first", summary="one"), Endpoint("second", summary="two")
    for endpoint, model in ((first, twin("a")), (second, twin("b"))):

        @endpoint.route("GET", "/", auth=PUBLIC, response=model)
        def get(call: Call) -> BaseModel:
            raise NotImplementedError

    with pytest.raises(ValueError, match="two models are named Twin"):
        build_document([first, second])


def test_streams_sharing_a_served_model_get_distinct_schemas() -> None:
    from shared.serving.catalog import record_model

    names = {record_model("hubspot", s).__name__ for s in ("contact_companies", "deal_contacts", "deal_companies")}
    assert len(names) == 3
