"""Issue 18, "logs that help": an expected network failure is one WARNING line with its cause
and no traceback (tracebacks are for bugs); a failed run is logged once; when no venue
answers at start one line suggests the offline demo."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Callable

import httpx
import pytest
import trio
import trio.testing

from marketmem.config import Config
from marketmem.httpclient import RetryPolicy, TransportFailed, request
from marketmem.offline import FirstRound, unreachable
from marketmem.runs import RunContext, execute_run
from marketmem.runtime import ActorSpec, Runtime
from marketmem.supervisor import run_service, supervise
from tests.conftest import T0_MS


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def warnings_and_up(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_run_failing_on_an_unreachable_venue_is_one_warning_line(
    runtime: Runtime, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{closed_port()}/info"

    async def job(ctx: RunContext) -> None:
        async with httpx.AsyncClient() as client:
            await request(client, "POST", url, policy=RetryPolicy(attempts=3, initial_s=0.1))

    result = await execute_run(runtime, "hyperliquid", "registry", job)
    assert result.status == "failed"
    (line,) = warnings_and_up(caplog)
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.name == "marketmem.runs"
    message = line.getMessage()
    assert message.startswith("run failed: 0 row(s) (TransportFailed: gave up after 3 attempt(s)")
    assert f"connection error on POST {url}" in message or "timeout" in message
    # The retries before it are the client at work: INFO, one per retry.
    retries = [r for r in caplog.records if r.name == "marketmem.httpclient"]
    assert [r.levelno for r in retries] == [logging.INFO, logging.INFO]
    # The run itself is logged once.
    assert [r.name for r in caplog.records if "run failed" in r.getMessage()] == ["marketmem.runs"]


async def test_a_bug_in_a_job_is_one_error_line_with_its_traceback(
    runtime: Runtime, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def job(ctx: RunContext) -> None:
        raise KeyError("universe")

    await execute_run(runtime, "hyperliquid", "registry", job)
    runs = [r for r in caplog.records if r.name == "marketmem.runs"]
    assert len(runs) == 1
    (line,) = runs
    assert line.levelno == logging.ERROR and line.exc_info is not None
    assert line.getMessage() == "run failed: 0 row(s) (KeyError: 'universe')"


async def test_an_ok_run_is_one_info_line(
    runtime: Runtime, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def job(ctx: RunContext) -> None:
        pass

    await execute_run(runtime, "s", "c", job)
    runs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "marketmem.runs"]
    assert runs == [(logging.INFO, "run ok: 0 row(s)")]


async def test_an_actor_crashing_on_the_outside_world_warns_without_traceback(
    runtime: Runtime, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    crashes = [TransportFailed("gave up after 4 attempt(s): timeout"), RuntimeError("bug")]

    async def run(**_: object) -> None:
        raise crashes.pop(0)

    spec = ActorSpec(name="hl.stream", run=run, source="hyperliquid", channel="candles")
    with trio.move_on_after(10):
        await supervise(runtime, spec, initial_backoff_s=1, rng=random.Random(1))
    lines = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert [(r.levelno, r.exc_info is None) for r in lines[:2]] == [
        (logging.WARNING, True),
        (logging.ERROR, False),
    ]


# --- no venue answers --------------------------------------------------------------------


def offline_config(make_config: Callable[..., Config], *, http_attempts: int = 1) -> Config:
    """Every venue on a closed port of 127.0.0.1; one channel of each venue source, and the
    maintenance channel (no venue: it must not count)."""
    hl, ws, gamma, llama = (closed_port() for _ in range(4))
    return make_config(
        f'[hyperliquid]\ninfo_url = "http://127.0.0.1:{hl}"\nws_url = "ws://127.0.0.1:{ws}/ws"\n'
        f"info_attempts = {http_attempts}\n"
        "[hyperliquid.channels]\nregistry = { enabled = true }\ncandles = { enabled = true }\n"
        "maintenance = { enabled = true }\n"
        f'[polymarket]\ngamma_url = "http://127.0.0.1:{gamma}"\nhttp_attempts = {http_attempts}\n'
        "[polymarket.channels]\ndiscovery = { enabled = true }\n"
        f'[defillama]\napi_url = "http://127.0.0.1:{llama}"\n'
        f'stablecoins_url = "http://127.0.0.1:{llama}"\nhttp_attempts = {http_attempts}\n'
        "[defillama.channels]\ncapital_base = { enabled = true }\n"
    )


async def test_when_no_venue_answers_one_line_suggests_the_demo(
    make_config: Callable[..., Config],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from marketmem.clock import TrioWallClock
    from marketmem.executors import inline_executor

    caplog.set_level(logging.INFO)
    config = offline_config(make_config, http_attempts=2)
    await run_service(
        config,
        clock=TrioWallClock(T0_MS),
        executor=inline_executor,
        duration_s=120,
        handle_signals=False,
        http=False,
    )
    hints = [r for r in caplog.records if "no venue answered" in r.getMessage()]
    assert len(hints) == 1
    (hint,) = hints
    message = hint.getMessage()
    assert hint.levelno == logging.WARNING and hint.exc_info is None
    assert message.startswith("no venue answered (hyperliquid: ")
    assert "; polymarket: " in message and "; defillama: " in message
    assert message.endswith("); offline? try bin/marketmem demo")
    # No traceback anywhere: every failure here is the outside world's.
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_one_venue_that_answers_means_online(make_config: Callable[..., Config]) -> None:
    config = offline_config(make_config)
    first = FirstRound(config, [(s, c) for s, c, _ in config.enabled_channels()])
    refused = TransportFailed("gave up", unreachable=True, cause="connection refused")
    first.report("hyperliquid", "registry", refused)
    first.report("hyperliquid", "maintenance", None)  # not a venue's channel: ignored
    assert not first.done
    first.report("polymarket", "discovery", refused)
    # DefiLlama answered, with an error of its own: it is there.
    first.report("defillama", "capital_base", TransportFailed("HTTP 500", unreachable=False))
    assert first.done


def test_what_counts_as_no_answer() -> None:
    assert unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert unreachable(socket.gaierror(-2, "Name or service not known"))
    assert unreachable(httpx.ConnectTimeout("timed out"))
    wrapped = OSError("all attempts to connect to 127.0.0.1:1 failed")
    wrapped.__cause__ = ExceptionGroup("x", [ConnectionRefusedError(111, "refused")])
    assert unreachable(wrapped)
    assert not unreachable(TransportFailed("gave up after 4 attempt(s): HTTP 503"))
    assert not unreachable(ValueError("payload"))
