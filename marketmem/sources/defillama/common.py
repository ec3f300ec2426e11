"""What the three DefiLlama channel jobs share: settings, the client, the policy, problems.

Each channel fetches its own policy inputs (through the process-wide response cache), so any
channel runs alone and in any order. Within a run, an endpoint that fails is recorded and the
run goes on with the others; what could be computed is published, then the run fails naming
every endpoint that did not answer (``PartsFailed``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx

from marketmem.clock import HOUR_MS
from marketmem.config import ConfigError
from marketmem.events import DefillamaAssetLink, DefillamaSubject, DefillamaSubjectBatch
from marketmem.httpclient import RetryPolicy, SourceError, TransportFailed
from marketmem.runs import RunContext
from marketmem.runtime import Runtime
from marketmem.sources.defillama import subjects as subj
from marketmem.sources.defillama.client import DefillamaClient, ResponseCache
from marketmem.sources.defillama.config import SECTION, DefillamaConfig
from marketmem.sources.defillama.overrides import load_overrides
from marketmem.sources.defillama.subjects import LinkOverrides, Subject
from marketmem.sources.defillama.wire import PeggedAsset, Protocol
from marketmem.sources.hyperliquid.config import SECTION as HYPERLIQUID

T = TypeVar("T")

SOURCE = "defillama"
# `run --local`: at most this many subjects of each kind from the top lists.
LOCAL_TOP = 5


class PartsFailed(SourceError):
    """Some endpoints of a run failed; the rest of the run was published.

    ``unreachable``: none of them got an answer at all (the API is down, or we are offline).
    """

    def __init__(self, message: str, *, unreachable: bool = False, cause: str = "") -> None:
        super().__init__(message)
        self.unreachable = unreachable
        # The first part's failure, in short.
        self.cause = cause or message


class SubjectsFileError(SourceError):
    """The subjects file cannot be used (the message names the file and the key)."""


def hour_bucket(ms: int) -> int:
    return ms - ms % HOUR_MS


@dataclass
class DefillamaSource:
    """The source's settings and shared state, built once per Runtime."""

    rt: Runtime
    cache: ResponseCache

    @property
    def cfg(self) -> DefillamaConfig:
        return SECTION.of(self.rt.config)

    def api_key(self) -> str:
        return self.cfg.api_key or os.environ.get("DEFILLAMA_API_KEY", "")

    def bridges_url(self) -> str | None:
        """The bridges base URL with the key filled in; None (bridges off) without a key."""
        key = self.api_key()
        return self.cfg.bridges_url.replace("{api_key}", key) if key else None

    def redact(self, text: str) -> str:
        """``text`` without the API key (it sits in Pro URLs)."""
        key = self.api_key()
        return text.replace(key, "***") if key else text

    def tracked_assets(self) -> list[str]:
        if self.cfg.tracked_assets:
            return list(self.cfg.tracked_assets)
        return [c for c in HYPERLIQUID.of(self.rt.config).coins if c != "*"]

    def top(self, n: int) -> int:
        return min(n, LOCAL_TOP) if self.rt.local else n

    def overrides(self) -> LinkOverrides:
        """The subjects file, read at every run so edits apply without a restart."""
        try:
            return load_overrides(self.cfg.subjects_file)
        except ConfigError as exc:
            raise SubjectsFileError(str(exc)) from None

    @asynccontextmanager
    async def client(self) -> AsyncIterator[DefillamaClient]:
        async with httpx.AsyncClient(
            timeout=self.cfg.timeout_s, headers={"user-agent": "marketmem"}
        ) as http:
            yield DefillamaClient(
                http,
                api_url=self.cfg.api_url,
                stablecoins_url=self.cfg.stablecoins_url,
                bridges_url=self.bridges_url(),
                cache=self.cache,
                retry=RetryPolicy(attempts=self.cfg.http_attempts),
            )


class Problems:
    """Endpoint failures of one run, reported together when the run ends."""

    def __init__(self, ctx: RunContext, source: DefillamaSource) -> None:
        self.ctx = ctx
        self.source = source
        self.errors: list[str] = []
        # Set after retries were exhausted: the API is down; skip the remaining per-subject
        # requests of this run instead of waiting out each one's retries.
        self.unreachable = False
        # An endpoint answered (even with an error status or a bad payload).
        self.answered = False
        self.first_cause = ""

    async def attempt(self, what: str, fn: Callable[..., Awaitable[T]], *args: object) -> T | None:
        try:
            result = await fn(*args)
        except SourceError as exc:
            message = self.source.redact(f"{what}: {type(exc).__name__}: {exc}")
            self.errors.append(message)
            # INFO: the run fails with every part's error in its one WARNING line.
            self.ctx.log.info("%s", message)
            if isinstance(exc, TransportFailed):
                self.unreachable = True
            if not self.first_cause:
                self.first_cause = self.source.redact(f"{what}: {getattr(exc, 'cause', exc)}")
            if getattr(exc, "unreachable", False) is not True:
                self.answered = True
            return None
        self.answered = True
        return result

    def skipped(self, what: str, count: int) -> None:
        if count:
            self.errors.append(f"{what}: {count} skipped (API unreachable)")

    def raise_if_any(self) -> None:
        if self.errors:
            raise PartsFailed(
                "; ".join(self.errors), unreachable=not self.answered, cause=self.first_cause
            )


# --- policy inputs -------------------------------------------------------------------------


async def kept_chains(
    client: DefillamaClient, src: DefillamaSource, links: LinkOverrides, problems: Problems
) -> list[Subject] | None:
    chains = await problems.attempt("/v2/chains", client.chains)
    if chains is None:
        return None
    candidates = [subj.chain_subject(c, links) for c in chains]
    return subj.select(candidates, src.top(src.cfg.top_chains), src.tracked_assets())


async def kept_protocols(
    client: DefillamaClient, src: DefillamaSource, links: LinkOverrides, problems: Problems
) -> list[tuple[Subject, Protocol]] | None:
    protocols = await problems.attempt("/protocols", client.protocols)
    if protocols is None:
        return None
    wire = {p.slug: p for p in reversed(protocols)}  # the first row of a slug wins
    candidates = [subj.protocol_subject(p, links) for p in protocols]
    kept = subj.select(candidates, src.top(src.cfg.top_protocols), src.tracked_assets())
    return [(s, wire[s.subject_id]) for s in kept]


async def kept_stablecoins(
    client: DefillamaClient, src: DefillamaSource, links: LinkOverrides, problems: Problems
) -> list[tuple[Subject, PeggedAsset]] | None:
    payload = await problems.attempt("/stablecoins", client.stablecoins)
    if payload is None:
        return None
    wire = {a.id: a for a in reversed(payload.pegged_assets)}
    candidates = [subj.stablecoin_subject(a, links) for a in payload.pegged_assets]
    kept = subj.select(candidates, src.top(src.cfg.top_stablecoins), src.tracked_assets())
    return [(s, wire[s.subject_id]) for s in kept]


def subject_batch(subjects: list[Subject], now_ms: int) -> DefillamaSubjectBatch:
    rows = [
        DefillamaSubject(
            kind=s.kind,
            subject_id=s.subject_id,
            name=s.name,
            slug=s.slug,
            symbol=s.symbol,
            gecko_id=s.gecko_id,
            category=s.category,
            updated_at_ms=now_ms,
        )
        for s in subjects
    ]
    links = [
        DefillamaAssetLink(kind=s.kind, subject_id=s.subject_id, asset=asset, origin=origin)
        for s in subjects
        for asset, origin in s.links
    ]
    return DefillamaSubjectBatch(rows=rows, links=links)


async def publish_subjects(ctx: RunContext, subjects: list[Subject], now_ms: int) -> None:
    if subjects:
        batch = subject_batch(subjects, now_ms)
        await ctx.publish(batch)
