"""HTTP faults on each of the three HTTP sources, under the scheduler on MockClock.

One matrix: source (Hyperliquid info, Polymarket Gamma, DefiLlama) x fault (429 with
Retry-After, 500, timeout, connection refused, malformed JSON, truncated body, a missing
required field, an unknown extra field). In every case three channels run together under the
``Scheduler``, one per source, each against its local venue: the faulted one every
``FAULTED_CADENCE_S``, the two others every ``OTHERS_CADENCE_S``. The test proves:

- the faulted channel's first run is failed with a clear error (the unknown field: ok), after
  exactly the configured attempts as the venue counted them (payload errors: one, no retry);
  429 waits what Retry-After asked, a timeout waits the configured timeout per attempt;
- its next scheduled run, with the fault gone after fewer than the allowed attempts, is ok:
  retries succeed within the budget (connection refused stays refused and stays failed);
- the other two channels' runs are all ok and start exactly on their ticks meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.httpclient import PayloadError, RetryPolicy, decode
from marketmem.pipeline import open_pipeline
from marketmem.runtime import ChannelSpec
from marketmem.scheduler import Scheduler
from marketmem.source import open_sources
from tests.faults.faults_helpers import Venues, db_rows, open_venues

FAULTED_CADENCE_S = 200
OTHERS_CADENCE_S = 60
HORIZON_S = 350
# Long enough that the other channels' ticks fall inside the faulted run.
RETRY_AFTER_S = 40
TIMEOUT_S = 30
# Each source's configured tries per request (`info_attempts`, `http_attempts`), all
# different from the code default so the test shows the configuration is what counts.
HL_ATTEMPTS = 3
PM_ATTEMPTS = 3
DL_ATTEMPTS = 3
assert RetryPolicy().attempts not in (HL_ATTEMPTS, PM_ATTEMPTS, DL_ATTEMPTS)
MINUTE_TICKS = list(range(0, HORIZON_S, OTHERS_CADENCE_S))

RETRIED = ("429", "500", "timeout")
PAYLOAD = ("malformed", "truncated", "missing_field")
KINDS = (*RETRIED, "refused", *PAYLOAD, "unknown_field")


@dataclass(frozen=True)
class Target:
    """How one source's channel is faulted and what its venue saw."""

    source: str
    channel: str
    attempts: int
    # How the run's error names the request, and the field ``missing_field`` removes.
    names: str
    required_field: str

    def inject(self, v: Venues, kind: str, times: int) -> None:
        if self.source == "hyperliquid":
            hl_kind = {"timeout": "hang", "unknown_field": "extra_field"}.get(kind, kind)
            retry_after = str(RETRY_AFTER_S) if kind == "429" else None
            v.hl.faults.info_fail(hl_kind, times, request_type="meta", retry_after=retry_after)
        elif self.source == "polymarket":
            pm_kind = "hang" if kind == "timeout" else kind
            v.pm.faults.add(pm_kind, times, arg=RETRY_AFTER_S if kind == "429" else None)
        else:
            dl_kind = "hang" if kind == "timeout" else kind
            v.llama.venue.faults.add("/v2/chains", dl_kind, times, retry_after=RETRY_AFTER_S)

    def seen(self, v: Venues) -> int:
        """Requests of the faulted kind the venue received (retries included)."""
        if self.source == "hyperliquid":
            return v.hl.stats.info_requests["meta"]
        if self.source == "polymarket":
            # The open-events listing (its first page comes first in a discovery run).
            return sum(
                1
                for path, params in v.pm.requests
                if path == "/events/keyset" and ("closed", "false") in params
            )
        return v.llama.venue.hits("/v2/chains")


TARGETS = {
    "hyperliquid": Target("hyperliquid", "registry", HL_ATTEMPTS, "info meta", "universe"),
    "polymarket": Target("polymarket", "discovery", PM_ATTEMPTS, "GET /events/keyset page 1", "id"),
    "defillama": Target("defillama", "capital_base", DL_ATTEMPTS, "/v2/chains", "name"),
}


def channels_toml(faulted: Target) -> str:
    lines = []
    for target in TARGETS.values():
        cadence = FAULTED_CADENCE_S if target is faulted else OTHERS_CADENCE_S
        lines.append(f"[{target.source}.channels]")
        lines.append(f"{target.channel} = {{ enabled = true, cadence_s = {cadence} }}")
    return "\n".join(lines) + "\n"


def scheduled(rt_specs: list[Any]) -> list[ChannelSpec]:
    wanted = {(t.source, t.channel) for t in TARGETS.values()}
    found = [s for s in rt_specs if isinstance(s, ChannelSpec) and (s.source, s.channel) in wanted]
    assert len(found) == 3
    return found


def times_for(kind: str, attempts: int) -> int:
    """Faults to queue: all of the first run's attempts, then all but the last of the second's
    (retried kinds); one for payload kinds (never retried)."""
    return attempts + attempts - 1 if kind in RETRIED else 1


def expected_error(kind: str, target: Target) -> list[str]:
    gave_up = f"TransportFailed: gave up after {target.attempts} attempt(s)"
    return {
        "429": [gave_up, "HTTP 429"],
        "500": [gave_up, "HTTP 500"],
        "timeout": [gave_up, "timeout (ReadTimeout)"],
        "refused": [gave_up, "connection error", "ConnectError"],
        "malformed": ["PayloadError", target.names, "malformed JSON"],
        "truncated": ["PayloadError", target.names, "malformed JSON"],
        "missing_field": [
            "PayloadError",
            target.names,
            f"missing required field `{target.required_field}`",
        ],
    }[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("source", list(TARGETS))
async def test_http_fault_fails_only_its_channel(
    source: str, kind: str, make_config: Callable[..., Config], autojump_clock: object
) -> None:
    target = TARGETS[source]
    async with open_venues(make_config) as v:
        config = v.config(
            channels_toml(target),
            hyperliquid=f"info_attempts = {HL_ATTEMPTS}\ninfo_timeout_s = {TIMEOUT_S}",
            polymarket=f"timeout_s = {TIMEOUT_S}\nhttp_attempts = {PM_ATTEMPTS}",
            dead=source if kind == "refused" else None,
            timeout_s=TIMEOUT_S,
            http_attempts=DL_ATTEMPTS,
        )
        assert config.hyperliquid.info_attempts == HL_ATTEMPTS
        assert config.polymarket.timeout_s == TIMEOUT_S
        if kind != "refused":
            target.inject(v, kind, times_for(kind, target.attempts))
        seen_after_first = -1
        async with open_pipeline(config, clock=v.clock, executor=inline_executor) as rt:
            start_ms = v.clock.now_ms()

            async def watch() -> None:
                nonlocal seen_after_first
                await trio.sleep(FAULTED_CADENCE_S - 1)
                seen_after_first = target.seen(v)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                with trio.move_on_after(HORIZON_S):
                    async with open_sources(rt) as built:
                        await Scheduler(rt, scheduled(list(built))).run()
                nursery.cancel_scope.cancel()
        runs = db_rows(config, "SELECT * FROM ingestion_runs ORDER BY started_at_ms, source")

    mine = [r for r in runs if r["source"] == source]
    others = [r for r in runs if r["source"] != source]
    # The faulted channel kept its own schedule: runs at 0 and FAULTED_CADENCE_S.
    assert [r["started_at_ms"] - start_ms for r in mine] == [0, FAULTED_CADENCE_S * 1000]
    first, second = mine
    assert first["channel"] == target.channel
    if kind == "unknown_field":
        assert first["status"] == "ok", first["error"]
        assert first["rows_written"] > 0
    else:
        assert first["status"] == "failed"
        for part in expected_error(kind, target):
            assert part in first["error"], (part, first["error"])
    duration_s = (first["finished_at_ms"] - first["started_at_ms"]) / 1000
    if kind == "429":
        assert duration_s >= (target.attempts - 1) * RETRY_AFTER_S  # Retry-After honoured
    if kind == "timeout":
        assert duration_s >= target.attempts * TIMEOUT_S

    # Attempts the venue saw: the configured count when retried, one for a bad payload.
    per_run = target.attempts if kind in RETRIED else 1
    if kind == "refused":
        assert target.seen(v) == 0
    else:
        assert seen_after_first == per_run
        assert target.seen(v) == 2 * per_run
    # The next run, with the fault gone in time, is ok (a closed port stays closed).
    if kind == "refused":
        assert second["status"] == "failed" and "connection error" in second["error"]
    else:
        assert second["status"] == "ok", second["error"]

    # Every other channel kept its schedule, every run ok, while the fault played out.
    for other in (t for t in TARGETS.values() if t is not target):
        theirs = [r for r in others if r["source"] == other.source]
        assert [r["started_at_ms"] - start_ms for r in theirs] == [t * 1000 for t in MINUTE_TICKS]
        assert all(r["status"] == "ok" and r["channel"] == other.channel for r in theirs), theirs
    if kind in ("429", "timeout"):
        during = [
            r
            for r in others
            if first["started_at_ms"] < r["started_at_ms"] < first["finished_at_ms"]
        ]
        assert len(during) >= 2, "no other run started while the faulted run was retrying"


def test_a_body_that_is_not_json_is_called_malformed_even_where_a_list_was_expected() -> None:
    """msgspec stops at the first type mismatch (``{`` where ``[`` was expected) before the
    syntax error; the error must still say the body is not JSON (an error page)."""
    with pytest.raises(PayloadError, match=r"/v2/chains: malformed JSON .*'\{\"error\": internal"):
        decode(b'{"error": internal, <html>', list[int], "/v2/chains")
    with pytest.raises(PayloadError, match=r"unexpected payload: Expected `array`, got `object`"):
        decode(b'{"error": "internal"}', list[int], "/v2/chains")
