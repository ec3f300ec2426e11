"""Logs: one line per event with source/channel/run_id, JSON lines, level filter, tracebacks."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.logs import (
    NOISY_LOGGERS,
    ContextLogger,
    JsonFormatter,
    TextFormatter,
    context,
    setup_logging,
)

log = logging.getLogger("marketmem.test")

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG)\s+\S+ (\[[^\]]*\] )?.*$"
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in noisy.items():
            logging.getLogger(name).setLevel(lvl)
        logging.captureWarnings(False)


def lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line]


def json_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in lines(err)]


def test_text_line_carries_source_channel_and_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    log.info("run %s ok", "r-1", extra=context("hyperliquid", "candles", "r-1"))
    log.info("no context here")
    first, second = lines(capsys.readouterr().err)
    assert TEXT_LINE.match(first) and TEXT_LINE.match(second)
    assert " INFO    marketmem.test [source=hyperliquid channel=candles run_id=r-1] run r-1 ok" in (
        first
    )
    assert "[" not in second


def test_json_lines_parse_and_carry_the_context(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    log.warning(
        "commit failed", extra=context("polymarket", "discovery", "r-2", rows=0, path=Path("/x"))
    )
    log.info("plain")
    first, second = json_lines(capsys.readouterr().err)
    assert first["level"] == "warning" and first["logger"] == "marketmem.test"
    assert first["msg"] == "commit failed"
    assert (first["source"], first["channel"], first["run_id"]) == (
        "polymarket",
        "discovery",
        "r-2",
    )
    assert first["rows"] == 0  # falsy values are kept
    assert first["path"] == "/x"  # values JSON cannot hold are logged as text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert set(second) == {"ts", "level", "logger", "msg"}


def test_logger_adapter_context_reaches_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    # marketmem.runs gives every run a LoggerAdapter built from context().
    setup_logging("INFO", "json")
    logging.LoggerAdapter(log, context("defillama", "capital_base", "r-3")).info("x")
    (obj,) = json_lines(capsys.readouterr().err)
    assert (obj["source"], obj["channel"], obj["run_id"]) == ("defillama", "capital_base", "r-3")


def test_an_extra_named_like_a_base_key_does_not_replace_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json")
    log.info("x", extra={"level": "fake", "ts": "fake"})
    (obj,) = json_lines(capsys.readouterr().err)
    assert obj["level"] == "info" and obj["ts"] != "fake"


def test_level_filter(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("WARNING", "json")
    log.info("hidden")
    log.warning("shown")
    log.error("shown too")
    assert [o["msg"] for o in json_lines(capsys.readouterr().err)] == ["shown", "shown too"]

    setup_logging("DEBUG", "json")
    log.debug("debug shown")
    logging.getLogger("httpx").info("library chatter stays out")
    assert [o["msg"] for o in json_lines(capsys.readouterr().err)] == ["debug shown"]


def test_exception_is_included_and_json_stays_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("job failed", extra=context("hyperliquid", "mids"))
    err = capsys.readouterr().err
    assert len(lines(err)) == 1
    (obj,) = json_lines(err)
    assert obj["level"] == "error" and obj["msg"] == "job failed"
    assert "Traceback" in obj["exc"] and "ValueError: boom" in obj["exc"]
    assert obj["source"] == "hyperliquid"


def test_text_exception_follows_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    try:
        raise RuntimeError("kaput")
    except RuntimeError:
        log.error("failed", exc_info=True, extra=context(run_id="r-9"))
    out = lines(capsys.readouterr().err)
    assert out[0].endswith("[run_id=r-9] failed")
    assert out[1].startswith("Traceback") and out[-1] == "RuntimeError: kaput"


def test_text_message_line_breaks_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    log.info("body:\n{bad json}\r\n", extra=context("polymarket", channel="two words"))
    (line,) = lines(capsys.readouterr().err)
    assert line.endswith("body:\\n{bad json}\\r\\n")
    assert 'channel="two words"' in line


def test_stack_info_is_included() -> None:
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "m", (), None, sinfo="Stack:x")
    assert json.loads(JsonFormatter().format(record))["stack"] == "Stack:x"
    assert TextFormatter().format(record).endswith("\nStack:x")


def test_warnings_become_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    (obj,) = json_lines(capsys.readouterr().err)
    assert obj["logger"] == "py.warnings" and "deprecated thing" in obj["msg"]


def test_cli_flags_select_format_and_level(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\npath = "{tmp_path / "m.db"}"\n')
    args = ["--config", str(conf), "--log-format", "json", "--log-level", "ERROR", "cadence"]
    assert cli.main(args) == 0
    root = logging.getLogger()
    assert isinstance(root.handlers[0].formatter, JsonFormatter)
    assert root.level == logging.ERROR


def test_context_logger_merges_call_site_extras(caplog: pytest.LogCaptureFixture) -> None:
    adapter = ContextLogger(logging.getLogger("marketmem.test"), context("s", "c", "r1"))
    with caplog.at_level(logging.INFO, logger="marketmem.test"):
        adapter.info("hello", extra={"coin": "BTC"})
    record = caplog.records[-1]
    assert (record.source, record.channel, record.run_id, record.coin) == ("s", "c", "r1", "BTC")
