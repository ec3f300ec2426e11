"""The Gamma client against the local venue: keyset paging, filters, faults, rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from pm_helpers import open_venue

from marketmem.clock import TrioWallClock
from marketmem.httpclient import HttpStatusError, PayloadError, RetryPolicy, TransportFailed
from marketmem.sources.polymarket.client import Filters, GammaClient, Limiters, PagingError
from marketmem.sources.polymarket.ratelimit import SlidingWindowLimiter
from marketmem.venues.polymarket import Simulator
from tests.conftest import FIXTURES, T0_MS

OPEN = Filters(active=True, closed=False, archived=False)
FAST = RetryPolicy(attempts=3, initial_s=0.5, max_s=2.0)


@pytest.fixture
async def sim() -> Simulator:
    return Simulator(TrioWallClock(T0_MS), filler_events=250, catalog=True)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[GammaClient]:
    async with open_venue(sim) as url, httpx.AsyncClient(timeout=5) as http:
        yield GammaClient(http=http, base_url=url, limiters=Limiters.per_10s(400, 240), policy=FAST)


def keyset_requests(sim: Simulator, path: str) -> list[dict[str, list[str]]]:
    out = []
    for p, params in sim.requests:
        if p == path:
            d: dict[str, list[str]] = {}
            for k, v in params:
                d.setdefault(k, []).append(v)
            out.append(d)
    return out


async def test_pages_to_the_last_page_resending_every_filter(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    pages: list[int] = []
    client.progress = lambda route, n, objects: pages.append(objects)
    filters = Filters(active=True, closed=False, archived=False, extra=(("tag_slug", "sports"),))
    events = await client.list_events(filters)
    expected = sim.list_events(filters.params(), default_closed=True)
    assert len(expected) == 251  # 250 filler events and one sports false friend
    assert [e.id for e in events] == [e["id"] for e in expected]
    reqs = keyset_requests(sim, "/events/keyset")
    assert len(reqs) == 3 and pages == [100, 200, 251]
    assert "after_cursor" not in reqs[0]
    for r in reqs:
        assert r["active"] == ["true"] and r["closed"] == ["false"] and r["archived"] == ["false"]
        assert r["tag_slug"] == ["sports"] and "cursor" not in r and "offset" not in r
    assert reqs[1]["after_cursor"] != reqs[2]["after_cursor"]


async def test_clamped_page_size_still_pages_on_cursor(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    client.page_size = 500  # the server clamps to 100 without an error
    events = await client.list_events(OPEN)
    assert len(events) == len(sim.list_events(OPEN.params(), default_closed=True))
    assert len(keyset_requests(sim, "/events/keyset")) == 3


async def test_markets_and_the_empty_envelope(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    m = sim.events[0].markets[0]
    got = await client.list_markets(
        Filters(active=True, closed=False, archived=False, extra=(("id", m.id),))
    )
    assert (
        [x.id for x in got] == [m.id] and got[0].events and got[0].events[0].id == sim.events[0].id
    )
    assert (
        await client.list_markets(
            Filters(active=True, closed=False, archived=False, extra=(("id", "0"),))
        )
        == []
    )


async def test_markets_by_id_asks_for_open_and_closed(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    closed = next(m for ev in sim.events for m in ev.markets if m.is_closed(T0_MS))
    open_ = sim.events[0].markets[0]
    got = await client.markets_by_id([closed.id, open_.id, "999"])
    assert {m.id for m in got} == {closed.id, open_.id}
    assert {r["closed"][0] for r in keyset_requests(sim, "/markets/keyset")} == {"true", "false"}


async def test_stuck_cursor_and_page_cap_fail(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    sim.ignore_after_cursor = True
    with pytest.raises(PagingError, match="cursor repeated"):
        await client.list_events(OPEN)
    sim.ignore_after_cursor = False
    client.max_pages = 2
    with pytest.raises(PagingError, match="more than 2 pages"):
        await client.list_events(OPEN)


async def test_429_honours_retry_after(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    sim.faults.add("429", 2, arg=7)
    t0 = trio.current_time()
    got = await client.list_markets(OPEN)
    assert got and trio.current_time() - t0 >= 14


async def test_5xx_and_timeouts_back_off_then_give_up(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    sim.faults.add("500")
    sim.faults.add("hang", arg=60)
    assert await client.list_markets(OPEN)
    sim.faults.add("500", 3)
    with pytest.raises(TransportFailed, match="HTTP 500"):
        await client.list_markets(OPEN)


@pytest.mark.parametrize("kind", ["malformed", "truncated", "missing_field"])
async def test_bad_bodies_are_payload_errors(
    kind: str, sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    sim.faults.add(kind)
    with pytest.raises(PayloadError, match=r"GET /events/keyset page 1"):
        await client.list_events(OPEN)


async def test_unknown_fields_are_ignored(
    sim: Simulator, client: GammaClient, autojump_clock: object
) -> None:
    sim.faults.add("unknown_field", 3)
    assert len(await client.list_events(OPEN)) == len(
        sim.list_events(OPEN.params(), default_closed=True)
    )


async def test_venue_quirks(sim: Simulator, autojump_clock: object) -> None:
    async with open_venue(sim) as url, httpx.AsyncClient(base_url=url) as http:
        deep = await http.get("/markets", params={"offset": 2100, "limit": 100})
        assert deep.status_code == 422 and b"offset too large" in deep.content
        if (FIXTURES / "polymarket" / "gamma_error_422_offset_too_large.json").exists():
            recorded = (
                FIXTURES / "polymarket" / "gamma_error_422_offset_too_large.json"
            ).read_bytes()
            assert deep.content == recorded
        events = (await http.get("/events", params={"limit": 500})).json()
        assert events and all(e["closed"] for e in events)  # omitted closed means closed=true
        markets = (await http.get("/markets", params={"limit": 500})).json()
        assert len(markets) == 100 and not any(m["closed"] for m in markets)
        first = (await http.get("/events/keyset", params={"closed": "false"})).json()
        again = (
            await http.get(
                "/events/keyset", params={"closed": "false", "cursor": first["next_cursor"]}
            )
        ).json()
        assert again["events"] == first["events"]  # `cursor=` is ignored: page 1 again
        wrong = await http.get(
            "/events/keyset", params={"closed": "true", "after_cursor": first["next_cursor"]}
        )
        assert wrong.status_code == 422  # the cursor belongs to its query
        assert (await http.get("/markets/keyset", params={"offset": 10})).status_code == 422
        single = (await http.get(f"/markets/{sim.events[0].markets[0].id}")).json()
        assert isinstance(single["outcomes"], str) and single["outcomes"].startswith('["')
        assert (await http.get("/markets/1")).status_code == 404


async def test_http_errors_other_than_429_fail_at_once(
    client: GammaClient, autojump_clock: object
) -> None:
    client.base_url += "/nope"
    with pytest.raises(HttpStatusError, match="404"):
        await client.list_events(OPEN)


async def test_sliding_window_limiter(autojump_clock: object) -> None:
    limiter = SlidingWindowLimiter(3, 10.0)
    times: list[float] = []
    for _ in range(7):
        await limiter.acquire()
        times.append(trio.current_time() - times[0] if times else 0.0)
    assert times == [0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 20.0]
    assert limiter.waited == 2  # the 4th and the 7th
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, 10)
