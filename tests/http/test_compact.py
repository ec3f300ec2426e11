"""http.compact: the derived answer types and the compact form (pure)."""

from __future__ import annotations

import msgspec
import pytest
from msgspec import UNSET, UnsetType

from marketmem.http.compact import answer_type, compact, to_answer


class Plain(msgspec.Struct):
    """No null anywhere."""

    a: int
    b: list[str]


class Leaf(msgspec.Struct, frozen=True):
    """A leaf."""

    x: float | None
    y: int = 0


class Tree(msgspec.Struct, kw_only=True):
    """The root."""

    name: str
    leaf: Leaf | None
    leaves: list[Leaf]
    by_key: dict[str, Leaf]
    maybe: int | None = None
    absent: str | UnsetType | None = UNSET
    plain: Plain | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    nullable_values: dict[str, int | None] = msgspec.field(default_factory=dict)


def fields(tp: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.name: f for f in msgspec.structs.fields(tp)}


def test_a_struct_with_nothing_nullable_is_used_as_it_is() -> None:
    assert answer_type(Plain, "Wire") is Plain


def test_every_nullable_field_becomes_optional_at_any_depth() -> None:
    tree = answer_type(Tree, "Wire")
    assert tree.__name__ == "WireTree" and tree.__doc__ == Tree.__doc__
    assert tree.__struct_fields__ == Tree.__struct_fields__  # same fields, same order
    f = fields(tree)
    assert f["name"].required and f["leaves"].required and f["by_key"].required
    for name in ("leaf", "maybe", "absent", "plain"):
        assert f[name].default is UNSET, name  # a default None becomes UNSET too
    assert f["tags"].default_factory is list
    leaf = answer_type(Leaf, "Wire")
    assert leaf.__name__ == "WireLeaf" and fields(leaf)["x"].default is UNSET
    assert fields(leaf)["y"].default == 0
    # Derived once: the same type wherever it occurs.
    assert answer_type(Leaf, "Wire") is leaf
    schema = msgspec.json.schema(tree)
    defs = schema["$defs"]
    assert defs["WireTree"]["required"] == ["name", "leaves", "by_key"]
    assert defs["WireTree"]["properties"]["leaves"]["items"] == {"$ref": "#/$defs/WireLeaf"}
    assert "Plain" in defs and "WirePlain" not in defs


def test_a_name_that_has_the_prefix_keeps_it() -> None:
    class WireThing(msgspec.Struct):
        v: int | None

    assert answer_type(WireThing, "Wire").__name__ == "WireThing"


def tree() -> Tree:
    return Tree(
        name="t",
        leaf=Leaf(None, 1),
        leaves=[Leaf(1.5), Leaf(None)],
        by_key={"k": Leaf(None)},
        maybe=None,
        nullable_values={"n": None, "v": 2},
    )


def test_compact_leaves_out_null_fields_but_not_null_values() -> None:
    wire = answer_type(Tree, "Wire")
    full = to_answer(tree(), wire)
    verbose = msgspec.json.decode(msgspec.json.encode(full))
    assert verbose["leaf"] == {"x": None, "y": 1} and verbose["maybe"] is None
    assert "absent" not in verbose  # UNSET stays absent in both forms
    small = msgspec.json.decode(msgspec.json.encode(compact(full)))
    assert small == {
        "name": "t",
        "leaf": {"y": 1},
        "leaves": [{"x": 1.5, "y": 0}, {"y": 0}],
        "by_key": {"k": {"y": 0}},
        "tags": [],
        "nullable_values": {"n": None, "v": 2},  # a map's values are data
    }
    # Both forms are values of the derived type.
    assert msgspec.json.decode(msgspec.json.encode(compact(full)), type=wire) == compact(full)


def test_compact_returns_what_has_no_null_as_it_is() -> None:
    wire = answer_type(Tree, "Wire")
    clean = to_answer(Tree(name="t", leaf=Leaf(1.0), leaves=[Leaf(2.0)], by_key={}, maybe=1), wire)
    clean = msgspec.structs.replace(clean, plain=Plain(1, []), absent="a")
    assert compact(clean) is clean
    items = [1, "a", None]
    assert compact(items) is items


def test_to_answer_checks_the_value_against_the_answer_type() -> None:
    wire = answer_type(Tree, "Wire")
    with pytest.raises(msgspec.ValidationError):
        to_answer(Plain(1, []), wire)  # no name, no leaves
