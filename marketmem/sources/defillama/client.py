"""The DefiLlama HTTP client: one method per endpoint, each returning wire Structs.

Requests go through ``marketmem.httpclient`` (retries, Retry-After, PayloadError naming the
field). The policy inputs (/protocols, /v2/chains, /stablecoins, /stablecoinchains) go
through a ``ResponseCache`` shared by the channels of one process, so three channels starting
together fetch the multi-MB protocols list once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import trio

from marketmem.httpclient import RetryPolicy, decode, request
from marketmem.sources.defillama.wire import (
    Bridges,
    BridgeVolumePoint,
    Chain,
    Overview,
    Protocol,
    StablecoinChain,
    StablecoinChartPoint,
    Stablecoins,
    TvlPoint,
)

T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy()
# Pro URLs carry the API key and the shared client logs URLs when it retries: bridges get one
# attempt (a failure is noted and the next run tries again).
BRIDGES_RETRY = RetryPolicy(attempts=1)

# Without these the overviews carry their whole daily history.
EXCLUDE_CHARTS = {"excludeTotalDataChart": "true", "excludeTotalDataChartBreakdown": "true"}


class ResponseCache:
    """Decoded responses kept ``ttl_s`` seconds of trio time; one fetch at a time per key.

    Only successes are kept: a failed fetch is tried again by the next caller.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, trio.Lock] = {}
        self.fetches = 0

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(key, trio.Lock())
        async with lock:
            entry = self._entries.get(key)
            now = trio.current_time()
            if entry is not None and now - entry[0] < self.ttl_s:
                value: T = entry[1]
                return value
            self.fetches += 1
            value = await fetch()
            if self.ttl_s > 0:
                self._entries[key] = (trio.current_time(), value)
            return value


def path_segment(name: str) -> str:
    """A chain name as one URL path segment ("Hyperliquid L1" -> "Hyperliquid%20L1")."""
    return quote(name, safe="")


class DefillamaClient:
    """Typed access to the DefiLlama endpoints marketmem uses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        stablecoins_url: str,
        bridges_url: str | None = None,
        cache: ResponseCache | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.stablecoins_url = stablecoins_url.rstrip("/")
        self.bridges_url = bridges_url.rstrip("/") if bridges_url else None
        self.cache = cache or ResponseCache(0)
        self.retry = retry

    async def _get(
        self,
        url: str,
        type: type[T],
        what: str,
        params: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> T:
        resp = await request(self.http, "GET", url, params=params, policy=retry or self.retry)
        return decode(resp.content, type, what)

    async def _cached(
        self, url: str, type: type[T], what: str, params: dict[str, str] | None = None
    ) -> T:
        key = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        return await self.cache.get(key, lambda: self._get(url, type, what, params))

    # --- TVL ------------------------------------------------------------------------------

    async def protocols(self) -> list[Protocol]:
        return await self._cached(f"{self.api_url}/protocols", list[Protocol], "/protocols")

    async def chains(self) -> list[Chain]:
        return await self._cached(f"{self.api_url}/v2/chains", list[Chain], "/v2/chains")

    async def chain_tvl_history(self, chain: str) -> list[TvlPoint]:
        path = f"/v2/historicalChainTvl/{path_segment(chain)}"
        return await self._get(f"{self.api_url}{path}", list[TvlPoint], path)

    # --- stablecoins ----------------------------------------------------------------------

    async def stablecoins(self) -> Stablecoins:
        return await self._cached(
            f"{self.stablecoins_url}/stablecoins",
            Stablecoins,
            "/stablecoins",
            {"includePrices": "true"},
        )

    async def stablecoin_chains(self) -> list[StablecoinChain]:
        return await self._cached(
            f"{self.stablecoins_url}/stablecoinchains", list[StablecoinChain], "/stablecoinchains"
        )

    async def stablecoin_chart(self, chain: str) -> list[StablecoinChartPoint]:
        path = f"/stablecoincharts/{path_segment(chain)}"
        return await self._get(f"{self.stablecoins_url}{path}", list[StablecoinChartPoint], path)

    # --- fee and DEX overviews ------------------------------------------------------------

    async def overview(
        self, kind: str, *, data_type: str | None = None, chain: str | None = None
    ) -> Overview:
        """``/overview/{kind}[/{chain}]`` (kind "fees" or "dexs") without the charts."""
        path = f"/overview/{kind}" + (f"/{path_segment(chain)}" if chain else "")
        params = dict(EXCLUDE_CHARTS)
        if data_type:
            params["dataType"] = data_type
        what = path + (f"?dataType={data_type}" if data_type else "")
        return await self._get(f"{self.api_url}{path}", Overview, what, params)

    # --- bridges (Pro) --------------------------------------------------------------------

    def _bridges_base(self) -> str:
        if self.bridges_url is None:
            raise RuntimeError("bridges are not configured (no API key)")
        return self.bridges_url

    async def bridges(self) -> Bridges:
        url = f"{self._bridges_base()}/bridges"
        return await self._get(url, Bridges, "/bridges", {"includeChains": "true"}, BRIDGES_RETRY)

    async def bridge_volume(self, chain: str) -> list[BridgeVolumePoint]:
        path = f"/bridgevolume/{path_segment(chain)}"
        url = f"{self._bridges_base()}{path}"
        return await self._get(url, list[BridgeVolumePoint], path, retry=BRIDGES_RETRY)
