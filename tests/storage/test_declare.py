"""Declarations: columns derived from a row struct, and tables that cannot be refused."""

from __future__ import annotations

from typing import Any

import pytest

from marketmem.events import Row
from marketmem.storage.declare import (
    BOOL,
    INT,
    JSON,
    REAL,
    TEXT,
    Column,
    Index,
    Search,
    Table,
    row_columns,
)


class Reading(Row):
    station: str
    at_ms: int
    height_m: float
    high_tide: bool
    note: str | None
    tags: list[str]
    extra: dict[str, int] | None


class Odd(Row):
    station: str
    when: bytes


def test_columns_follow_the_fields_and_their_annotations() -> None:
    assert row_columns(Reading) == (
        Column("station", TEXT),
        Column("at_ms", INT),
        Column("height_m", REAL),
        Column("high_tide", BOOL),
        Column("note", TEXT, nullable=True),
        Column("tags", JSON),
        Column("extra", JSON, nullable=True),
    )


def test_an_override_replaces_a_column_or_only_its_type() -> None:
    station = Column("station", TEXT, case_insensitive=True)
    columns = row_columns(Reading, station=station, note=JSON)
    assert columns[0] is station
    assert columns[4] == Column("note", JSON, nullable=True)
    with pytest.raises(ValueError, match="no field"):
        row_columns(Reading, stations=TEXT)
    with pytest.raises(ValueError, match="override names"):
        row_columns(Reading, station=Column("place", TEXT))


def test_a_field_without_a_column_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"Odd\.when"):
        row_columns(Odd)
    assert row_columns(Odd, when=TEXT)[1] == Column("when", TEXT)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"primary_key": ("station", "nowhere")}, "has no column nowhere"),
        ({"indexes": (Index("by_x", ("x",)),)}, "has no column x"),
        ({"indexes": (Index("i", ("at_ms",)), Index("i", ("station",)))}, "an index twice"),
        ({"search": Search(("at_ms",)), "clustered": False}, "cannot search at_ms"),
        ({"search": Search(("station",))}, "cannot be clustered"),
        ({}, "cannot be clustered"),
        ({"primary_key": ("station",), "partition_by_day": "when"}, "no such column"),
        ({"primary_key": ("station",), "partition_by_day": "at_ms"}, "not in the primary key"),
        (
            {"primary_key": ("station", "height_m"), "partition_by_day": "height_m"},
            "by height_m: not INT",
        ),
    ],
)
def test_a_table_that_cannot_be_is_refused(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Table("readings", row_columns(Reading), **kwargs)


def test_a_column_refuses_values_of_another_type() -> None:
    with pytest.raises(ValueError, match="not INT"):
        Column("n", INT, default=True)
    with pytest.raises(ValueError, match="not TEXT"):
        Column("status", TEXT, allowed=("ok", 1))
    with pytest.raises(ValueError, match="case-insensitive"):
        Column("n", INT, case_insensitive=True)
    assert Column("x", REAL, default=0).default == 0


def test_a_table_partitioned_by_day_keeps_every_key_with_its_day() -> None:
    columns = row_columns(Reading)
    table = Table("readings", columns, primary_key=("station", "at_ms"), partition_by_day="at_ms")
    assert table.partition_by_day == "at_ms"
    unique = (*columns[:4], Column("note", TEXT, unique=True), *columns[5:])
    with pytest.raises(ValueError, match="with note unique alone"):
        Table("readings", unique, primary_key=("station", "at_ms"), partition_by_day="at_ms")
