"""The admin API's OpenAPI 3.1 document, generated from its pydantic models.

The models are the one definition of every body: their JSON Schemas become the document's
components, so the document cannot drift from what the routes accept and answer. Only the
table of paths below is written by hand.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from connector.admin.link_models import LINK_MODELS, LINK_PATHS
from connector.admin.models import (
    Check,
    CheckList,
    CheckRequest,
    EventPage,
    Problem,
    RecipientsRequest,
    Registered,
    StoredEvent,
    WaitRequest,
)
from connector.admin.report_models import REPORT_MODELS, REPORT_PATHS

_REF = "#/components/schemas/{model}"
_MODELS: list[type[BaseModel]] = [
    Check,
    CheckList,
    CheckRequest,
    EventPage,
    Problem,
    RecipientsRequest,
    Registered,
    StoredEvent,
    WaitRequest,
    *LINK_MODELS,
]
# (method, path, summary, request model, {status: response model}, query parameters)
_PATHS: list[
    tuple[str, str, str, type[BaseModel] | None, dict[int, type[BaseModel]], list[str]]
] = [
    (
        "post",
        "/checks",
        "Register a check for a send",
        CheckRequest,
        {200: Check, 201: Check, 422: Problem},
        [],
    ),
    (
        "get",
        "/checks",
        "List checks (optionally for one send)",
        None,
        {200: CheckList, 404: Problem},
        ["campaign_id", "message_id", "status", "limit"],
    ),
    ("get", "/checks/{check_id}", "Read a check", None, {200: Check, 404: Problem}, []),
    (
        "delete",
        "/checks/{check_id}",
        "Cancel a pending check",
        None,
        {200: Check, 404: Problem, 409: Problem},
        [],
    ),
    (
        "post",
        "/recipients",
        "Register recipients of a send (counted as delivered)",
        RecipientsRequest,
        {201: Registered, 422: Problem},
        [],
    ),
    (
        "post",
        "/waits",
        "Start a wait for a click",
        WaitRequest,
        {200: Check, 201: Check, 422: Problem},
        [],
    ),
    (
        "get",
        "/events",
        "Stored events, newest first, with verdicts and decisions",
        None,
        {200: EventPage},
        ["type", "source", "before", "limit"],
    ),
    ("get", "/events/{event_id}", "One stored event", None, {200: StoredEvent, 404: Problem}, []),
    *LINK_PATHS,
]


@cache
def openapi_document() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "validation") for model in _MODELS + REPORT_MODELS], ref_template=_REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request, responses, query in _PATHS + REPORT_PATHS:
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"bearer": []}],
            "responses": {
                str(status): {"description": model.__name__, "content": _json(model)}
                for status, model in responses.items()
            }
            | {"401": {"description": "Problem", "content": _json(Problem)}},
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in query
            ]
            + [
                {
                    "name": part.strip("{}"),
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
                for part in path.split("/")
                if part.startswith("{")
            ],
        }
        if request is not None:
            operation["requestBody"] = {"required": True, "content": _json(request)}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Click Connector admin API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}
