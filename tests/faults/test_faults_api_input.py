"""Bad HTTP input against the API, in-process, on a database the real channels filled.

- Schemathesis generates requests from ``/openapi.json`` for every operation: valid ones
  (``positive``) and invalid ones (``negative``: wrong types, out-of-range numbers, unknown
  enum values, bad bodies), with a valid bearer token, and valid ones without any token. Every
  answer must be free of 5xx, documented (status code, content type, headers), conform to its
  response schema, reject invalid input with a 4xx, and without a token be a 401.
- A plain test: every operation the document marks ``bearer`` answers 401 with
  ``WWW-Authenticate: Bearer`` to no token, a malformed header, a malformed token, a
  well-formed unknown one and a revoked one (saying which), and answers the owner's valid
  token.

Schemathesis's own ASGI transport runs the app on an asyncio event loop, which a trio-only
app cannot use; the requests it generates are sent here through ``httpx.ASGITransport`` on a
trio event loop in an anyio blocking portal, and validated with schemathesis's checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
import schemathesis.checks as st_checks
import trio
import trio.testing
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from starlette.applications import Starlette

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token
from marketmem.http.openapi import RouteSpec
from marketmem.http.schemas import ErrorBody
from marketmem.plugins import parse_config
from tests.configs import channels_off
from tests.faults.faults_helpers import ApiWorld, populate

BASE = "http://testserver"
MAX_EXAMPLES = 25
# The route table, read at collection (the app builds it without touching a database).
ROUTES: list[RouteSpec] = create_app(parse_config(""), FixedClock(0)).state.api.specs
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]
MODE_CHECKS = {
    "positive": [*CHECKS, st_checks.positive_data_acceptance],
    "negative": [*CHECKS, st_checks.negative_data_rejection],
    "no_token": CHECKS,
}


# Operations whose schema-valid input may still be refused with a 422, for what no schema can
# say; positive cases there are held to every check but acceptance.
REFUSES_VALID = {
    "candleHistory": "a symbol that is not listed, a reversed or too wide range, another's cursor"
}
# Path parameters that name something the populated world has: alice's clone, a listed
# symbol, a channel.
EXISTING = {"clone_id": "c1", "symbol": "BTC", "source": "hyperliquid", "channel": "candles"}


def has_input(spec: RouteSpec) -> bool:
    return bool(spec.params or spec.body or spec.path_params)


def is_stream(spec: RouteSpec) -> bool:
    """An event stream (``/api/v1/stream``): a valid request never ends, and its symbols must
    be listed coins, which no schema can say; tests/http/test_stream.py covers its answers."""
    return spec.media_type == "text/event-stream"


CASES = [
    pytest.param(spec, mode, id=f"{spec.operation_id}-{mode}")
    for spec in ROUTES
    for mode in ("positive", "negative", "no_token")
    if (mode != "negative" or has_input(spec))
    and (mode != "no_token" or spec.auth != "public")
    and (mode != "positive" or not is_stream(spec))
]


@dataclass
class InProcessApi:
    """The app on a trio event loop in a blocking portal, for synchronous callers."""

    app: Starlette
    portal: BlockingPortal

    async def _send(self, kwargs: dict[str, Any]) -> httpx.Response:
        kw = dict(kwargs)
        kw.pop("cookies", None)  # the API reads no cookie
        if "data" in kw:  # requests' raw body
            kw["content"] = kw.pop("data")
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.request(**kw)

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        return self.portal.call(self._send, kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ApiWorld:
    path: Path = tmp_path_factory.mktemp("api") / "api.db"

    def make_config(toml: str = "") -> Config:
        text = channels_off(f'[storage]\npath = "{path}"\n' + toml)
        return parse_config(text, source_path="test.toml")

    world = trio.run(populate, make_config, clock=trio.testing.MockClock(autojump_threshold=0))
    assert set(world.runs.values()) == {"ok"}, world.runs
    return world


@pytest.fixture(scope="module")
def api(world: ApiWorld) -> Iterator[InProcessApi]:
    app = create_app(world.config, FixedClock(world.now_ms))
    with start_blocking_portal(backend="trio") as portal:
        yield InProcessApi(app, portal)


@pytest.fixture(scope="module")
def schema(api: InProcessApi) -> Any:
    document = api.send({"method": "GET", "url": f"{BASE}/openapi.json"})
    assert document.status_code == 200
    return schemathesis.openapi.from_dict(document.json())


@pytest.mark.parametrize(("spec", "mode"), CASES)
def test_generated_requests_get_no_5xx_and_documented_answers(
    api: InProcessApi, world: ApiWorld, schema: Any, spec: RouteSpec, mode: str
) -> None:
    operation = schema[spec.path][spec.method]
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    headers = {} if mode == "no_token" else world.auth(world.alice)
    checks = MODE_CHECKS[mode]
    if mode == "positive" and spec.operation_id in REFUSES_VALID:
        checks = CHECKS
    statuses: list[int] = []
    owned: list[int] = []  # answers to requests aimed at alice's own clone

    def check(case: Any, checks: list[Any], into: list[int]) -> None:
        kwargs = case.as_transport_kwargs(base_url=BASE, headers=headers)
        response = api.send(kwargs)
        into.append(response.status_code)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as exc:
            raise AssertionError(str(exc)) from None
        if mode == "no_token":
            assert response.status_code == 401, response.text

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=generation))
    def generated(case: Any) -> None:
        check(case, checks, statuses)
        if spec.path_params and mode != "no_token":
            # Random path parameters name nothing (404 before the body is read) and no listed
            # symbol: send the same query and body again to what exists (alice's own clone,
            # BTC, a channel), so they are validated too. The swap may make a negative case
            # valid: only the mode-neutral checks apply.
            case.path_parameters = {name: EXISTING[name] for name, _ in spec.path_params}
            check(case, CHECKS if mode == "negative" else checks, owned)

    generated()
    assert statuses, "no request was generated"
    reached = owned if spec.path_params else statuses
    if mode == "negative":
        # Invalid input reached validation and was refused with a named error. (Which
        # negative answers must be 4xx is schemathesis's negative_data_rejection: mutations
        # of the Authorization header are undone here by the valid token, and it knows.)
        assert 422 in reached, reached
    if mode == "positive" and spec.api:
        assert 200 in reached, reached


BEARER = [spec for spec in ROUTES if spec.auth != "public"]


def request_of(spec: RouteSpec) -> tuple[str, str, dict[str, Any]]:
    path = spec.path
    for name, value in EXISTING.items():
        path = path.replace("{" + name + "}", value)
    if is_stream(spec):
        path += "?kinds=health"
    return spec.method, path, {"json": {}} if spec.body is not None else {}


async def test_every_bearer_route_refuses_missing_wrong_and_revoked_tokens(
    world: ApiWorld,
) -> None:
    app = create_app(world.config, FixedClock(world.now_ms))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        document = (await client.get("/openapi.json")).json()
        secured = {
            (method.upper(), path)
            for path, item in document["paths"].items()
            for method, op in item.items()
            if op.get("security")
        }
        # The document and the route table agree on which routes need a token.
        assert secured == {(s.method, s.path) for s in BEARER} and len(secured) >= 5
        # What is refused, and how the message begins: an absent header is missing, one that
        # is not "Bearer <token>" is malformed, a well-formed token that is not valid is not.
        refused: dict[str, tuple[dict[str, str], str]] = {
            "no token": ({}, "missing bearer token"),
            "not a bearer token": ({"Authorization": f"Basic {world.alice}"}, "malformed"),
            "no token after Bearer": ({"Authorization": "Bearer"}, "malformed"),
            "token then more": ({"Authorization": f"Bearer {world.alice} extra"}, "malformed"),
            "malformed token": ({"Authorization": "Bearer not-a-token"}, "invalid"),
            "unknown token": (world.auth(issue_token().token), "invalid"),
            "wrong secret": (
                world.auth(world.alice[:-3] + ("xyz" if world.alice[-3:] != "xyz" else "abc")),
                "invalid",
            ),
            "revoked token": (world.auth(world.revoked), "invalid"),
        }
        for spec in BEARER:
            method, path, body = request_of(spec)
            for what, (headers, message) in refused.items():
                r = await client.request(method, path, headers=headers, **body)
                assert r.status_code == 401, (path, what, r.status_code, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer"), (path, what)
                error = msgspec.json.decode(r.content, type=ErrorBody).error
                assert error.code == "unauthorized", (path, what)
                assert error.message.startswith(message), (path, what, error.message)
            # The same request with the owner's valid token is answered (an app built without
            # a live stream answers the stream 503, past the token check).
            ok = await client.request(method, path, headers=world.auth(world.alice), **body)
            assert ok.status_code == (503 if is_stream(spec) else 200), (path, ok.text)
