"""Platform functions over the wire."""

from __future__ import annotations

import httpx

from shared import __version__
from shared.api.openapi import load_document


def test_health_reports_firestore_and_version(api: httpx.Client) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "firestore": "ok"}


def test_openapi_is_served(api: httpx.Client) -> None:
    response = api.get("/openapi")
    assert response.status_code == 200
    assert response.json() == load_document()


def test_unknown_function_and_route(api: httpx.Client) -> None:
    assert api.get("/no-such-function").status_code == 404
    response = api.get("/health/extra")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = api.post("/health", json={})
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
