"""The form an answer with a compact variant is sent in: ``answer_type`` and ``compact``.

``answer_type(model, prefix)`` derives from a response Struct the type it is sent as: the same
fields in the same order, each field that may be null also allowed to be absent (``UNSET``,
its default), recursively through the Structs it holds (in lists, dicts, tuples and unions).
A derived Struct is named ``prefix + name`` (a name already starting with ``prefix`` is
kept), so it never collides in ``/openapi.json`` with the Struct it comes from, which other
routes may answer whole; a Struct with nothing nullable anywhere inside is used as it is.

An answer is converted into its derived type (``to_answer``), which checks it against what
``/openapi.json`` says; ``compact`` then leaves out every null field of every Struct in it.
Both forms are values of the derived type, so the document describes both.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import UNSET, UnsetType

_derived: dict[tuple[type, str], type[msgspec.Struct]] = {}


def answer_type(model: type[msgspec.Struct], prefix: str) -> type[msgspec.Struct]:
    """``model`` with every nullable field (at any depth) optional; see the module docstring."""
    derived = _derive(model, prefix)
    assert isinstance(derived, type) and issubclass(derived, msgspec.Struct)
    return derived


def _admits_none(tp: Any) -> bool:
    if tp is None or tp is type(None):
        return True
    if get_origin(tp) is Annotated:
        return _admits_none(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return any(_admits_none(a) for a in get_args(tp))
    return False


def _derive(tp: Any, prefix: str) -> Any:
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _struct(tp, prefix)
    origin = get_origin(tp)
    if origin is None:
        return tp
    args = get_args(tp)
    if origin is Annotated:
        return Annotated[(_derive(args[0], prefix), *tp.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_derive(a, prefix) for a in args)]  # noqa: UP007
    if origin in (list, dict, tuple, set, frozenset):
        new = tuple(a if a is Ellipsis else _derive(a, prefix) for a in args)
        return tp if new == args else origin[new]
    return tp


def _struct(model: type[msgspec.Struct], prefix: str) -> type[msgspec.Struct]:
    key = (model, prefix)
    if key in _derived:
        return _derived[key]
    hints = get_type_hints(model, include_extras=True)
    fields: list[tuple[str, Any, Any]] = []
    changed = False
    for info in msgspec.structs.fields(model):
        tp = _derive(hints[info.name], prefix)
        default: Any = info.default
        if info.default_factory is not msgspec.NODEFAULT:
            default = msgspec.field(default_factory=info.default_factory)
        if _admits_none(tp) and info.default is not UNSET:
            tp, default = Union[tp, UnsetType], UNSET  # noqa: UP007
        changed = changed or tp != hints[info.name]
        fields.append((info.name, tp, default))
    if not changed:
        _derived[key] = model
        return model
    name = model.__name__ if model.__name__.startswith(prefix) else prefix + model.__name__
    derived = msgspec.defstruct(
        name,
        [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in fields],
        kw_only=True,
        module=model.__module__,
    )
    derived.__doc__ = model.__doc__
    _derived[key] = derived
    return derived


def to_answer(value: msgspec.Struct, answer: type[msgspec.Struct]) -> msgspec.Struct:
    """``value`` (a Struct of the model ``answer`` was derived from) as an ``answer``."""
    return msgspec.convert(msgspec.to_builtins(value), answer)


_optional: dict[type, frozenset[str]] = {}


def _optional_fields(tp: type[msgspec.Struct]) -> frozenset[str]:
    names = _optional.get(tp)
    if names is None:
        names = frozenset(f.name for f in msgspec.structs.fields(tp) if f.default is UNSET)
        _optional[tp] = names
    return names


def compact(value: Any) -> Any:
    """``value`` with every null field of every Struct in it left out (set to ``UNSET``);
    values of dicts and items of lists stay, null or not (they are data, not fields)."""
    if isinstance(value, msgspec.Struct):
        optional = _optional_fields(type(value))
        changes: dict[str, Any] = {}
        for name in value.__struct_fields__:
            item = getattr(value, name)
            if item is None:
                if name in optional:
                    changes[name] = UNSET
            elif isinstance(item, (msgspec.Struct, list, dict)):
                new = compact(item)
                if new is not item:
                    changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(value, list):
        items = [compact(v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = {k: compact(v) for k, v in value.items()}
        return pairs if any(pairs[k] is not v for k, v in value.items()) else value
    return value
