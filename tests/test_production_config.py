"""config/production.toml and deploy/: every channel on, real endpoints, consistent examples."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.config import Config
from marketmem.pipeline import WRITER_DRAIN_TIMEOUT_S
from marketmem.plugins import load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ROOT / "config" / "production.toml"
UNIT = ROOT / "deploy" / "marketmem.service"
LITESTREAM = ROOT / "deploy" / "litestream.yml"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.delenv("MARKETMEM_DB", raising=False)
    return load_config(str(PRODUCTION))


def test_parses_and_enables_every_channel(production: Config) -> None:
    assert production.channels()  # every source/channel known to the config
    assert [f"{s}/{c}" for s, c, ch in production.channels() if not ch.enabled] == []


def test_lists_every_channel_explicitly() -> None:
    # A channel added later is listed here too (it would run at its default, unseen here).
    raw = tomllib.loads(PRODUCTION.read_text())
    listed = {(s, c) for s in raw if "channels" in raw[s] for c in raw[s]["channels"]}
    assert listed == {(s, c) for s, c, _ in parse_config("").channels()}


def test_cadences_are_those_of_the_design(production: Config) -> None:
    defaults = parse_config("")
    for source, channel, ch in production.channels():
        assert ch.cadence_s == defaults.channel(source, channel).cadence_s, (source, channel)


def test_endpoints_are_the_real_ones(production: Config) -> None:
    defaults = parse_config("")
    urls = {
        f"{section}.{key}": getattr(getattr(production, section), key)
        for section in ("hyperliquid", "polymarket", "defillama")
        for key in getattr(production, section).__struct_fields__
        if key.endswith("_url")
    }
    assert len(urls) >= 6
    for key, url in urls.items():
        assert re.match(r"(https|wss)://[a-z.-]+\.(xyz|com|fi)(/|$)", url), (key, url)
        section, field = key.split(".")
        assert url == getattr(getattr(defaults, section), field), key


def test_storage_and_http(production: Config) -> None:
    assert production.db_path() == Path("/var/lib/marketmem/marketmem.db")
    assert production.storage.busy_timeout_ms >= 5000  # what Litestream asks for
    assert production.http.enabled and production.http.bind.startswith("127.0.0.1:")


def unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_runs_the_service_with_json_logs() -> None:
    unit = unit_settings()
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[0].endswith("/bin/marketmem")
    args = cli.build_parser().parse_args(argv[1:])  # global options before the subcommand
    assert (args.command, args.log_format) == ("run", "json")
    assert unit["Environment"] == ["MARKETMEM_CONFIG=/etc/marketmem/production.toml"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2"]
    stop_s = float(unit["TimeoutStopSec"][0].removesuffix("s"))
    assert stop_s > WRITER_DRAIN_TIMEOUT_S  # SIGKILL never cuts the final commit short
    assert unit["StateDirectory"] == ["marketmem"]
    assert unit["ProtectSystem"] == ["strict"] and unit["NoNewPrivileges"] == ["yes"]


def test_litestream_replicates_the_production_database(production: Config) -> None:
    text = LITESTREAM.read_text()
    assert re.search(rf"^\s*- path: {re.escape(str(production.db_path()))}\s", text, re.M)
    busy = re.search(r"^\s*busy-timeout: (\d+)s", text, re.M)
    assert busy and int(busy.group(1)) * 1000 == production.storage.busy_timeout_ms
