"""Loading the subjects file (config/defillama_subjects.toml) into ``LinkOverrides``."""

from __future__ import annotations

from pathlib import Path

import msgspec

from marketmem.config import ROOT, ConfigError
from marketmem.sources.defillama.subjects import NO_OVERRIDES, LinkOverrides


def resolve(path: str) -> Path | None:
    """The subjects file's path (relative paths are from the repository root); "" = none."""
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def load_overrides(path: str) -> LinkOverrides:
    """Read and validate the subjects file; a bad or missing file raises ConfigError."""
    p = resolve(path)
    if p is None:
        return NO_OVERRIDES
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read subjects file: {exc.strerror or exc}") from None
    try:
        return msgspec.toml.decode(data, type=LinkOverrides)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{p}: {_bad_entry(data) or exc}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None


def _bad_entry(data: bytes) -> str | None:
    """Name the first bad entry (msgspec's path stops at ``chains[...]``)."""
    raw = msgspec.toml.decode(data)
    expected = {
        "symbol_aliases": str,
        "gecko_ids": str,
        "chains": list,
        "protocols": list,
        "stablecoins": list,
    }
    for section, kind in expected.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            return f"{section}: expected a table"
        for key, value in table.items():
            ok = (
                isinstance(value, str)
                if kind is str
                else (isinstance(value, list) and all(isinstance(v, str) for v in value))
            )
            if not ok:
                what = "an asset symbol" if kind is str else "a list of asset symbols"
                return f"{section}.{key}: expected {what}, got {value!r}"
    return None
