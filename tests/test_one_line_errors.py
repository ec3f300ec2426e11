"""Issue 18, "one line, never a traceback": every case below ends with a non-zero exit and
exactly one stderr line naming the cause (``marketmem: ...``), never a traceback.

Each case runs ``cli.main`` in-process (as the user's command would), except where only a
separate process can make the condition (noted in the test).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.plugins import parse_config
from tests.configs import channels_off

ROOT = Path(__file__).resolve().parent.parent


def one_line(code: int, err: str, expected_code: int) -> str:
    """Assert the exit code and a single stderr line without a traceback; return the line."""
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("marketmem: ")
    return lines[0]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(args)
    return code, capsys.readouterr().err


# --- the config file ---------------------------------------------------------------------


def test_a_config_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "latin1.toml"
    conf.write_bytes('[service]\nname = "Zürich"\n'.encode("latin-1"))
    line = one_line(*run_cli(["--config", str(conf), "status"], capsys), 2)
    assert line == (
        f"marketmem: bad config: {conf}: not UTF-8 text (byte 0xfc at offset 19); "
        "TOML files are UTF-8"
    )


def test_relative_config_and_database_paths_are_the_current_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "here.toml").write_text("[http]\nenabled = false\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKETMEM_DB", "rel/m.db")
    code, _ = run_cli(["--config", "here.toml", "tokens", "create", "--user", "u"], capsys)
    assert code == 0
    assert (tmp_path / "rel" / "m.db").is_file()
    assert not (ROOT / "rel").exists()


def test_bin_marketmem_runs_in_the_callers_directory(tmp_path: Path) -> None:
    """bin/marketmem used to cd into the repository, so a relative --config was the repo's."""
    (tmp_path / "mine.toml").write_text("[hyperliquid.channels]\nregistry = { enabled = false }\n")
    done = subprocess.run(
        [str(ROOT / "bin" / "marketmem"), "--config", "mine.toml", "cadence"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    registry = next(line for line in done.stdout.splitlines() if "hyperliquid/registry" in line)
    assert registry.split()[1] == "no"


# --- channels ----------------------------------------------------------------------------


def test_a_config_that_lists_no_channel_runs_every_one_at_its_cadence() -> None:
    """The README: every key is optional, the default applies; a channel's is on."""
    cfg = parse_config("[hyperliquid.channels]\ncandles = { cadence_s = 30 }\n")
    enabled = {(s, c): ch.cadence_s for s, c, ch in cfg.enabled_channels()}
    assert len(enabled) == len(cfg.channels()) == 16
    assert enabled["hyperliquid", "candles"] == 30
    assert enabled["polymarket", "later_markets"] == 1800
    off = parse_config("[defillama.channels]\ncapital_flows = { enabled = false }\n")
    assert [f"{s}/{c}" for s, c, ch in off.channels() if not ch.enabled] == [
        "defillama/capital_flows"
    ]


def test_run_with_no_channel_enabled_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "off.toml"
    conf.write_text(channels_off(f'[storage]\npath = "{tmp_path / "m.db"}"\n'))
    line = one_line(*run_cli(["--config", str(conf), "run", "--duration", "1"], capsys), 1)
    assert line == (
        f"marketmem: cannot start: no channel is enabled: {conf} turns every one off "
        "(enabled = false)"
    )
    assert not (tmp_path / "m.db").exists()
