"""Request bodies decoded into msgspec Structs, with errors that name the offending field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from marketmem.http.errors import ApiError, invalid_parameter

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024
# Deeper than any body the API takes (two levels); past it a body is refused before the
# recursive steps below ever see it.
MAX_BODY_DEPTH = 32

_AT_RE = re.compile(r" - at `\$([^`]*)`$")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `([^`]*)`")


def body_error(exc: msgspec.ValidationError) -> ApiError:
    """A 422 naming the field: ``include[0]: Invalid enum value 'x'``, ``foo: unknown field``."""
    message = str(exc)
    match = _AT_RE.search(message)
    path = match.group(1).lstrip(".") if match else ""
    what = message[: match.start()] if match else message
    unknown = _UNKNOWN_RE.match(what)
    if unknown:
        field = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        return invalid_parameter(field[:80], "unknown field")
    return invalid_parameter(path or "body", what.replace("`", ""))


def nesting_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded JSON value (0 for a scalar)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest


def integral_floats_as_ints(value: Any) -> Any:
    """JSON does not tell 21 from 21.0 (JSON Schema calls both integers); msgspec does."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_floats_as_ints(v) for k, v in value.items()}
    return value


def decode_body(data: bytes, type_: type[T]) -> T:
    """``type_()`` for an empty body, else the decoded Struct; raises a 422 ``ApiError``."""
    if not data.strip():
        return msgspec.convert({}, type_)
    too_deep = invalid_parameter("body", f"JSON nested deeper than {MAX_BODY_DEPTH} levels")
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise invalid_parameter("body", f"not valid JSON ({exc})") from None
    except RecursionError:
        # msgspec stops at Python's recursion limit (what is left of it on this stack).
        raise too_deep from None
    if nesting_depth(raw) > MAX_BODY_DEPTH:
        raise too_deep
    try:
        return msgspec.convert(integral_floats_as_ints(raw), type_)
    except msgspec.ValidationError as exc:
        raise body_error(exc) from None
