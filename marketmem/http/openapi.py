"""``/openapi.json`` (OpenAPI 3.1) generated from the route table and the response Structs.

Each ``RouteSpec`` names its query parameters (the same ``Param``s that validate requests), its
request and response Structs and who may call it; response schemas come from
``msgspec.json.schema_components``, so the document cannot drift from what is encoded. Every
JSON route answers a Struct, this document included (``OpenApiDocument``: its operations and
schemas are OpenAPI objects, open by nature). ``tests/http/openapi.snapshot.json`` holds the
document: any change of the API shows as a diff there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from msgspec import Struct

from marketmem.http.schemas import ErrorBody
from marketmem.query import Param

Auth = Literal["public", "bearer", "owner"]

_REF = "#/components/schemas/{name}"


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    operation_id: str
    summary: str
    auth: Auth
    params: tuple[Param, ...] = ()
    body: type[msgspec.Struct] | None = None
    response: type[msgspec.Struct] | None = None
    # For non-JSON responses (HTML, Prometheus text, the OpenAPI document itself).
    media_type: str = "application/json"
    path_params: tuple[tuple[str, str], ...] = ()
    # An API route reads the database (503 when it cannot) and refuses unknown query
    # parameters (422); documents and pages do neither.
    api: bool = True
    # When a path names something that may not exist (404): what the 404 says.
    not_found: str = ""
    # Further error answers of this route: (status, description).
    errors: tuple[tuple[int, str], ...] = ()


class ApiInfo(Struct, kw_only=True):
    title: str
    version: str
    description: str


class OpenApiComponents(Struct, kw_only=True):
    """JSON Schemas of the bodies by name, and how to authenticate."""

    schemas: dict[str, dict[str, Any]]
    securitySchemes: dict[str, dict[str, str]]


class OpenApiDocument(Struct, kw_only=True):
    """An OpenAPI 3.1 document: operations by path and method, and the schemas they name."""

    openapi: str
    info: ApiInfo
    paths: dict[str, dict[str, dict[str, Any]]]
    components: OpenApiComponents


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(name="ErrorBody")}}},
    }


def _operation(spec: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": spec.operation_id, "summary": spec.summary}
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        }
        for name, description in spec.path_params
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.description,
            "schema": p.schema(),
        }
        for p in spec.params
    ]
    if parameters:
        op["parameters"] = parameters
    if spec.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(name=spec.body.__name__)}}
            },
        }
    if spec.response is not None:
        ok: dict[str, Any] = {"schema": {"$ref": _REF.format(name=spec.response.__name__)}}
    elif spec.media_type == "application/json":
        raise ValueError(f"{spec.operation_id}: a JSON route declares its response Struct")
    else:
        ok = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {spec.media_type: ok}}}
    if spec.api:
        responses["422"] = _error(
            "a path or query parameter, or a body field, is invalid (it is named)"
        )
        responses["503"] = _error("the database or this part of marketmem is not available")
    if spec.auth != "public":
        op["security"] = [{"bearer": []}]
        responses["401"] = _error(
            "missing or malformed Authorization header, or an invalid or revoked token"
        )
    if spec.auth == "owner":
        responses["403"] = _error("the clone belongs to another user")
        responses["404"] = _error("unknown clone, or a symbol the clone does not trade")
    if spec.not_found:
        responses["404"] = _error(spec.not_found)
    for status, description in spec.errors:
        responses[str(status)] = _error(description)
    # Every route reads a body to its end before it runs (one that takes none ignores it).
    responses["408"] = _error("the request body did not arrive in time")
    responses["413"] = _error("request body too large")
    op["responses"] = responses
    return op


def build_openapi(specs: Sequence[RouteSpec], *, version: str) -> OpenApiDocument:
    structs: list[type[msgspec.Struct]] = [ErrorBody]
    for spec in specs:
        for t in (spec.body, spec.response):
            if t is not None and t not in structs:
                structs.append(t)
    _, components = msgspec.json.schema_components(structs, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return OpenApiDocument(
        openapi="3.1.0",
        info=ApiInfo(
            title="marketmem",
            version=version,
            description="Market memory: Hyperliquid, Polymarket and DefiLlama, read-only.",
        ),
        paths=paths,
        components=OpenApiComponents(
            schemas=components,
            securitySchemes={"bearer": {"type": "http", "scheme": "bearer"}},
        ),
    )
