"""Query parameters and request bodies: validation errors name the parameter (pure)."""

from __future__ import annotations

import pytest

from marketmem.http.body import MAX_BODY_DEPTH, decode_body, nesting_depth
from marketmem.http.errors import ApiError
from marketmem.http.schemas import LatestDataRequest
from marketmem.query import MAX_OFFSET, OFFSET, InvalidParameter, Param, limit_param, parse_query

SPECS = (
    Param("q", "string", "text", max_length=10),
    Param("flag", "boolean", "a flag", default=False),
    Param("status", "string", "status", choices=("open", "closed"), default="open"),
    limit_param(20, 100),
    OFFSET,
)


def refused(items: list[tuple[str, str]]) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        parse_query(SPECS, items)
    return info.value


def test_defaults_when_absent() -> None:
    assert parse_query(SPECS, []) == {
        "q": None,
        "flag": False,
        "status": "open",
        "limit": 20,
        "offset": 0,
    }


def test_values_are_converted() -> None:
    got = parse_query(
        SPECS,
        [("q", "btc"), ("flag", "TRUE"), ("status", "closed"), ("limit", "5"), ("offset", "7")],
    )
    assert got == {"q": "btc", "flag": True, "status": "closed", "limit": 5, "offset": 7}
    assert parse_query(SPECS, [("flag", "0")])["flag"] is False


def test_limit_above_cap_is_capped_not_refused() -> None:
    assert parse_query(SPECS, [("limit", "100000")])["limit"] == 100
    assert parse_query(SPECS, [("limit", "9" * 40)])["limit"] == 100


def test_offset_up_to_its_maximum_is_served_past_it_refused() -> None:
    # A capped offset would answer with other rows than the ones asked for.
    assert parse_query(SPECS, [("offset", str(MAX_OFFSET))])["offset"] == MAX_OFFSET
    for raw in (str(MAX_OFFSET + 1), "99999999", "9" * 1000):
        message = str(refused([("offset", raw)]))
        assert message.startswith(f"offset: must be at most {MAX_OFFSET}, got "), message
        assert len(message) < 100


@pytest.mark.parametrize(
    ("items", "named"),
    [
        ([("limit", "0")], "limit"),
        ([("limit", "-3")], "limit"),
        ([("limit", "abc")], "limit"),
        ([("limit", "--5")], "limit"),
        ([("limit", "1.5")], "limit"),
        ([("limit", "²")], "limit"),
        ([("limit", "9" * 1001)], "limit"),
        ([("offset", "-1")], "offset"),
        ([("flag", "maybe")], "flag"),
        ([("status", "pending")], "status"),
        ([("q", "x" * 11)], "q"),
        ([("nope", "1")], "nope"),
        ([("limit", "1"), ("limit", "2")], "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    items: list[tuple[str, str]], named: str
) -> None:
    assert str(refused(items)).startswith(f"{named}: ")


def test_schema_of_a_param_documents_its_bounds() -> None:
    assert limit_param(20, 100).schema() == {"type": "integer", "minimum": 1, "default": 20}
    assert SPECS[2].schema() == {"type": "string", "enum": ["open", "closed"], "default": "open"}
    assert OFFSET.schema() == {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}
    assert f"at most {MAX_OFFSET}" in OFFSET.description and "422" in OFFSET.description


def test_empty_body_means_every_part() -> None:
    assert decode_body(b"", LatestDataRequest) == LatestDataRequest()
    assert decode_body(b"  \n", LatestDataRequest) == LatestDataRequest()
    assert decode_body(b"{}", LatestDataRequest).include is None


def test_integral_floats_count_as_integers() -> None:
    assert decode_body(b'{"max_markets": 3.0}', LatestDataRequest).max_markets == 3
    with pytest.raises(ApiError):
        decode_body(b'{"max_markets": 3.5}', LatestDataRequest)


def test_body_narrows_parts() -> None:
    got = decode_body(
        b'{"include": ["candle_1m", "features"], "max_markets": 3}', LatestDataRequest
    )
    assert got.include == ["candle_1m", "features"]
    assert got.max_markets == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"includes": []}', "includes: unknown field"),
        (b'{"include": ["prices"]}', "include[0]: "),
        (b'{"include": "candle_1m"}', "include: Expected array"),
        (b'{"max_markets": 0}', "max_markets: Expected int >= 1"),
        (b'{"max_markets": "3"}', "max_markets: Expected int, got str"),
        (b"[]", "body: Expected object"),
        (b"{nope", "body: not valid JSON"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_body(body, LatestDataRequest)
    assert info.value.status == 422
    assert info.value.message.startswith(message)


def test_nesting_depth_counts_arrays_and_objects() -> None:
    assert nesting_depth(1) == 0
    assert nesting_depth([]) == 1
    assert nesting_depth({"a": [1, {"b": []}], "c": 2}) == 4


@pytest.mark.parametrize("depth", [MAX_BODY_DEPTH + 1, 500, 10_000, 60_000])
def test_json_nested_too_deep_is_a_422_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(ApiError) as info:
        decode_body(b"[" * depth + b"]" * depth, LatestDataRequest)
    assert info.value.status == 422
    assert info.value.message == f"body: JSON nested deeper than {MAX_BODY_DEPTH} levels"


def test_json_at_the_depth_limit_is_validated_as_usual() -> None:
    depth = MAX_BODY_DEPTH - 1
    body = b'{"include":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ApiError) as info:
        decode_body(body, LatestDataRequest)
    assert info.value.message.startswith("include[0]: Expected str"), info.value.message
