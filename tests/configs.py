"""Test configs start with every channel off: ``channels_off(text)``.

The service's default turns every channel on (the README: a key left out keeps its default),
so a config file that names one channel still runs all the others. A test exercises only the
channels it enables: ``channels_off`` writes ``enabled = false`` for every channel whose entry
the text does not give an ``enabled`` of its own (``make_config`` applies it; tests that write
config files call it themselves).
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from marketmem.plugins import SOURCES
from marketmem.source import Source

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def channels_off(text: str, sources: tuple[Source, ...] = SOURCES) -> str:
    """``text`` with ``enabled = false`` for every channel it does not enable or disable.

    Text that is not TOML is returned unchanged (the test is about the error it gives).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text
    for src in sources:
        for ch in src.channels:
            section = data.setdefault(ch.source, {})
            chans = section.setdefault("channels", {}) if isinstance(section, dict) else None
            entry = chans.setdefault(ch.name, {}) if isinstance(chans, dict) else None
            if isinstance(entry, dict):
                entry.setdefault("enabled", False)
    return dump_toml(data)


def dump_toml(data: dict[str, Any]) -> str:
    """A TOML document of ``data`` (tables, arrays, strings, numbers, booleans)."""
    lines: list[str] = []
    _table(lines, (), data)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    subtables = {k: v for k, v in table.items() if isinstance(v, dict) and not _inline(path, k)}
    values = {k: v for k, v in table.items() if k not in subtables}
    if path and (values or not subtables):
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in values.items())
    for key, sub in subtables.items():
        _table(lines, (*path, key), sub)


def _inline(path: tuple[str, ...], key: str) -> bool:
    # A channel's settings read best as one line: ``registry = { enabled = false }``.
    return len(path) == 2 and path[1] == "channels"


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")
