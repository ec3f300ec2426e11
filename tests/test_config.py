"""Config decoding: defaults, every kind of bad config, environment overrides, CLI exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmem import cli
from marketmem.config import DEFAULT_CONFIG, ConfigError, with_database
from marketmem.plugins import load_config, parse_config


def test_default_file_lists_every_design_channel() -> None:
    cfg = load_config(str(DEFAULT_CONFIG))
    names = {(s, c) for s, c, _ in cfg.channels()}
    assert ("hyperliquid", "registry") in names
    assert ("hyperliquid", "maintenance") in names
    assert ("polymarket", "recently_closed") in names
    assert ("defillama", "economic_throughput") in names
    assert len(names) == 16
    assert cfg.http.bind == "127.0.0.1:8080"


def test_channel_defaults_and_overrides() -> None:
    cfg = parse_config("[hyperliquid.channels]\nregistry = { enabled = true, cadence_s = 10 }\n")
    assert cfg.channel("hyperliquid", "registry").enabled is True
    assert cfg.channel("hyperliquid", "registry").cadence_s == 10
    assert cfg.channel("hyperliquid", "candles").cadence_s == 60
    assert cfg.channel("polymarket", "later_markets").cadence_s == 1800
    with pytest.raises(KeyError, match="unknown channel"):
        cfg.channel("hyperliquid", "nope")


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[nosuch]\nx = 1\n", "nosuch", "unknown key"),
        ("[hyperliquid.channels.nope]\nenabled = true\n", "hyperliquid.channels.nope", "unknown"),
        ("[storage]\npaht = 'x'\n", "storage.paht", "unknown key"),
        ("[hyperliquid]\ncoins = 'BTC'\n", "hyperliquid.coins", "Expected `array`"),
        ("[storage]\nbusy_timeout_ms = 'x'\n", "storage.busy_timeout_ms", "Expected `int`"),
        (
            "[hyperliquid.channels.registry]\ncadence_s = 0\n",
            "hyperliquid.channels.registry.cadence_s",
            "> 0",
        ),
        (
            "[defillama.channels]\ncapital_base = { cadence_s = -5 }\n",
            "defillama.channels.capital_base.cadence_s",
            "> 0",
        ),
        ("[http]\nbind = 'localhost'\n", "http.bind", "HOST:PORT"),
    ],
)
def test_bad_config_names_file_key_and_expectation(text: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source_path="conf/x.toml")
    message = str(info.value)
    assert message.startswith("conf/x.toml: ")
    assert key in message
    assert expected in message
    assert "\n" not in message


def test_invalid_toml() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[storage\n", source_path="x.toml")


def test_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[storage]\npath = "a.db"\n')
    monkeypatch.setenv("MARKETMEM_CONFIG", str(conf))
    assert load_config().storage.path == "a.db"
    monkeypatch.setenv("MARKETMEM_DB", str(tmp_path / "b.db"))
    cfg = load_config()
    assert cfg.db_path() == tmp_path / "b.db"
    # --config wins over MARKETMEM_CONFIG.
    other = tmp_path / "d.toml"
    other.write_text("[http]\nbind = '0.0.0.0:9'\n")
    assert load_config(str(other)).http.bind == "0.0.0.0:9"


def test_cli_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text("[hyperliquid.channels.candles]\ncadence_s = 0\n")
    code = cli.main(["--config", str(conf), "status"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert str(conf) in err and "hyperliquid.channels.candles.cadence_s" in err
    assert "Traceback" not in err


def test_cli_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "none.toml"), "cadence"]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_enabling_a_channel_without_cadence_keeps_its_own_default() -> None:
    cfg = parse_config(
        "[hyperliquid.channels]\nmaintenance = { enabled = true }\n"
        "[polymarket.channels.later_markets]\nenabled = true\n"
    )
    assert cfg.channel("hyperliquid", "maintenance").cadence_s == 60
    assert cfg.hyperliquid.channels.maintenance.enabled is True
    assert cfg.channel("polymarket", "later_markets").cadence_s == 1800
    assert all(ch.cadence_s > 0 for _, _, ch in cfg.channels())


def test_a_storage_url_must_be_postgresql() -> None:
    with pytest.raises(
        ConfigError, match=r"storage.url: expected a postgresql:// URL, got 'mysql'"
    ):
        parse_config('[storage]\nurl = "mysql://x@y/z"\n', source_path="t.toml")


def test_marketmem_db_selects_the_engine_by_its_form() -> None:
    cfg = parse_config("", source_path="t.toml")
    pg = with_database(cfg, "postgresql://u:p@127.0.0.1:5432/m")
    assert pg.database() == "postgresql://u:p@127.0.0.1:5432/m"
    back = with_database(pg, "/tmp/x.db")
    assert back.database() == Path("/tmp/x.db") and back.storage.url == ""


def test_a_bad_coin_shard_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"hyperliquid: shard: expected 1 <= i <= n in i/n"):
        parse_config('[hyperliquid]\nshard = "3/2"\n', source_path="t.toml")
    with pytest.raises(ConfigError, match=r'shard: expected "i/n"'):
        parse_config('[hyperliquid]\nshard = "half"\n', source_path="t.toml")
