"""Defaults live in the config Structs only: the shipped config file and the README's tables
say the same values (a value written in two places drifts; these tests catch the drift)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from marketmem.plugins import parse_config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "config" / "marketmem.toml"
README = ROOT / "README.md"


def defaults() -> dict[str, Any]:
    """Every setting of the built-in config with its default, by dotted key."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, msgspec.Struct):
            for name in value.__struct_fields__:
                walk(f"{prefix}{name}.", getattr(value, name))
        else:
            out[prefix.rstrip(".")] = value

    walk("", parse_config(""))
    # Every channel is on by default, as the file shows (README: a key left out keeps it).
    del out["source_path"]
    return out


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def test_the_shipped_config_file_lists_every_setting_at_its_default() -> None:
    known = defaults()
    written = flatten(tomllib.loads(DEFAULT_FILE.read_text()))
    assert sorted(set(known) - set(written)) == [], "settings the file does not show"
    assert sorted(set(written) - set(known)) == [], "keys the file shows that do not exist"
    wrong = {k: (written[k], known[k]) for k in known if not same(written[k], known[k])}
    assert wrong == {}, "file value != default"


def readme_rows() -> list[tuple[str, str]]:
    """(dotted key, written default) from the README's configuration tables: the core table
    (``[section] key``) and the tables headed ``Config `[section]```."""
    rows: list[tuple[str, str]] = []
    section: str | None = None
    for line in README.read_text().splitlines():
        heading = re.match(r"^(?:Config|\*\*Config) `\[([a-z_.]+)\]`", line)
        if heading:
            section = heading.group(1)
            continue
        if line.startswith("#"):
            section = None
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        core = re.fullmatch(r"`\[([a-z_.]+)\] ([a-z_0-9]+)`", cells[0])
        if core:
            rows.append((f"{core.group(1)}.{core.group(2)}", cells[1]))
        elif section is not None:
            keys = re.findall(r"`([a-z_0-9]+)`", cells[0])
            values = [v.strip() for v in cells[1].split(" / ")]
            if len(keys) == len(values):
                rows += [(f"{section}.{k}", v) for k, v in zip(keys, values, strict=True)]
    return rows


def written_value(text: str) -> Any:
    text = text.strip("`")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def test_the_readme_tables_give_the_defaults() -> None:
    known = defaults()
    rows = readme_rows()
    assert len(rows) >= 20, "the README's config tables were not found"
    unknown = [k for k, _ in rows if k not in known]
    assert unknown == []
    wrong = {k: (v, known[k]) for k, v in rows if not same(written_value(v), known[k])}
    assert wrong == {}, "README default != default"


@pytest.mark.parametrize("value", ["0.005", "`data/marketmem.db`", "[1e4, 1e5]", "true"])
def test_written_values_are_read_as_toml(value: str) -> None:
    assert written_value(value) is not None
