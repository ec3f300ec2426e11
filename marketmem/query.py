"""Query parameters as data: each read route declares its ``Param``s once, and the same
declaration validates requests (pure ``parse_query``) and describes them in ``/openapi.json``.

Sources declare the parameters of their read routes with it, so it belongs to no web
framework: a refused value raises ``InvalidParameter``, which the HTTP layer answers with 422.

Unknown or repeated parameters are refused, integers below their minimum or above their maximum
are refused, integers above their cap are capped (a large ``limit`` is not an error, it is just
not honoured; a large ``offset`` would be answered with other rows than asked for, so it is
refused).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal


class InvalidParameter(ValueError):
    """A query parameter (or body field) that cannot be used; the message names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def invalid_parameter(name: str, message: str) -> InvalidParameter:
    return InvalidParameter(name, message)


Kind = Literal["string", "integer", "boolean"]

_INT_RE = re.compile(r"[+-]?[0-9]{1,1000}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    cap: int | None = None
    max_length: int = 200

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.kind == "string" and not self.choices:
            out["maxLength"] = self.max_length
        if self.default is not None:
            out["default"] = self.default
        return out


def _parse_one(p: Param, raw: str) -> Any:
    if p.kind == "integer":
        text = raw.strip()
        if not _INT_RE.fullmatch(text):
            raise invalid_parameter(p.name, f"expected an integer, got {raw[:40]!r}")
        value = int(text)
        if p.minimum is not None and value < p.minimum:
            raise invalid_parameter(p.name, f"must be at least {p.minimum}, got {value}")
        if p.maximum is not None and value > p.maximum:
            raise invalid_parameter(p.name, f"must be at most {p.maximum}, got {text[:40]}")
        if p.cap is not None and value > p.cap:
            value = p.cap
        return value
    if p.kind == "boolean":
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise invalid_parameter(p.name, f"expected true or false, got {raw[:40]!r}")
    if len(raw) > p.max_length:
        raise invalid_parameter(p.name, f"longer than {p.max_length} characters")
    if p.choices and raw not in p.choices:
        raise invalid_parameter(p.name, f"expected one of {', '.join(p.choices)}, got {raw[:40]!r}")
    return raw


def parse_query(specs: Sequence[Param], items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Validated values by parameter name (defaults filled in); raises ``InvalidParameter``."""
    by_name = {p.name: p for p in specs}
    seen: set[str] = set()
    out: dict[str, Any] = {p.name: p.default for p in specs}
    for name, raw in items:
        p = by_name.get(name)
        if p is None:
            known = ", ".join(by_name) or "none"
            raise invalid_parameter(name[:40], f"unknown parameter (known: {known})")
        if name in seen:
            raise invalid_parameter(name, "given more than once")
        seen.add(name)
        out[name] = _parse_one(p, raw)
    return out


def limit_param(default: int, cap: int) -> Param:
    return Param(
        "limit",
        "integer",
        f"results to return (at most {cap}; larger values are capped)",
        default=default,
        minimum=1,
        cap=cap,
    )


MAX_OFFSET = 10_000

OFFSET = Param(
    "offset",
    "integer",
    f"results to skip (at most {MAX_OFFSET}; a larger offset is refused with 422: narrow the "
    "search with q or the filters instead)",
    default=0,
    minimum=0,
    maximum=MAX_OFFSET,
)


def has_search_text(q: str | None) -> bool:
    """Whether ``q`` can match anything: absent (no filter) or with a letter or digit. A ``q``
    made only of punctuation matches nothing; it is not an error."""
    return q is None or not q.strip() or any(ch.isalnum() for ch in q)


def search_text_param() -> Param:
    return Param("q", "string", "search text (matched against names and descriptions)")
