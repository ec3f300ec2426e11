"""From Gamma wire objects to bus rows, and how a closed market resolved (pure functions).

A market that cannot be read (a broken string-encoded list, a bad date) is reported as a
``Skipped`` with the reason; the caller notes it on the run and keeps the others. A number
Gamma left out is None in the row (NULL in the table), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from marketmem.events import (
    PolymarketAssetLink,
    PolymarketAssetTerm,
    PolymarketContextMarket,
    PolymarketEventRow,
    PolymarketMarketRow,
)
from marketmem.sources.polymarket.matching import MarketText, Terms, match_market
from marketmem.sources.polymarket.wire import (
    FieldError,
    GammaEvent,
    GammaMarket,
    decimal,
    first_number,
    number,
    str_list,
    tag_labels,
    tag_names,
    timestamp_ms,
)

ONE = Decimal(1)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Skipped:
    kind: str  # "event" | "market"
    id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id} skipped: {self.reason}"


def resolution(closed: bool, prices: list[str] | None) -> tuple[str, int | None]:
    """(resolution, winning outcome index) of a market.

    ``open`` while not closed; once closed: ``resolved`` when exactly one price is 1 and the
    rest 0 (the winner is its index), ``void`` when every price is 0, ``fractional`` for any
    other settlement, ``pending`` when there are no prices. Never guessed into a winner.
    """
    if not closed:
        return "open", None
    if not prices:
        return "pending", None
    values = [Decimal(p) for p in prices]
    ones = [i for i, v in enumerate(values) if v == ONE]
    if len(ones) == 1 and all(v == ZERO for i, v in enumerate(values) if i != ones[0]):
        return "resolved", ones[0]
    if all(v == ZERO for v in values):
        return "void", None
    return "fractional", None


def _prices(raw: list[str] | None, field: str) -> list[str] | None:
    if raw is None:
        return None
    out = []
    for i, p in enumerate(raw):
        d = decimal(p, f"{field}[{i}]")
        if d is None:
            raise FieldError(f"{field}[{i}]: empty price")
        out.append(p)
    return out


def market_row(
    m: GammaMarket, now_ms: int, *, event: GammaEvent | None = None
) -> PolymarketMarketRow:
    """A market row; ``event`` is the enclosing event when the market came nested in one."""
    outcomes = str_list(m.outcomes, "outcomes") or []
    prices = _prices(str_list(m.outcome_prices, "outcomePrices"), "outcomePrices")
    if prices is not None and outcomes and len(prices) != len(outcomes):
        raise FieldError(f"outcomePrices: {len(prices)} prices for {len(outcomes)} outcomes")
    ref = m.events[0] if m.events else None
    event_id = event.id if event is not None else (ref.id if ref is not None else None)
    title = (event.title if event is not None else (ref.title if ref is not None else None)) or ""
    tags = tag_names(m.tags)
    for t in tag_names(event.tags if event is not None else (ref.tags if ref else None)):
        if t not in tags:
            tags.append(t)
    closed = bool(m.closed)
    res, winner = resolution(closed, prices)
    return PolymarketMarketRow(
        market_id=m.id,
        condition_id=m.condition_id or "",
        event_id=event_id,
        event_title=title,
        slug=m.slug or "",
        question=m.question or "",
        outcomes=outcomes,
        outcome_prices=prices,
        clob_token_ids=str_list(m.clob_token_ids, "clobTokenIds") or [],
        # The decimal strings are exact; volumeNum / liquidityNum can be rounded (a recorded
        # legacy market: volume "46944.579746", volumeNum 46944.58).
        volume=first_number((m.volume, "volume"), (m.volume_num, "volumeNum")),
        volume_24h=number(m.volume24hr, "volume24hr"),
        liquidity=first_number((m.liquidity, "liquidity"), (m.liquidity_num, "liquidityNum")),
        best_bid=number(m.best_bid, "bestBid"),
        best_ask=number(m.best_ask, "bestAsk"),
        last_trade_price=number(m.last_trade_price, "lastTradePrice"),
        start_ms=timestamp_ms(m.start_date, "startDate"),
        end_ms=timestamp_ms(m.end_date, "endDate"),
        closed_time_ms=timestamp_ms(m.closed_time, "closedTime"),
        active=bool(m.active),
        closed=closed,
        archived=bool(m.archived),
        resolution=res,
        resolved_outcome=winner,
        tags=tags,
        updated_at_ms=timestamp_ms(m.updated_at, "updatedAt"),
        fetched_at_ms=now_ms,
    )


def event_row(e: GammaEvent, now_ms: int) -> PolymarketEventRow:
    return PolymarketEventRow(
        event_id=e.id,
        slug=e.slug or "",
        title=e.title or "",
        start_ms=timestamp_ms(e.start_date, "startDate"),
        end_ms=timestamp_ms(e.end_date, "endDate"),
        closed_time_ms=timestamp_ms(e.closed_time, "closedTime"),
        active=bool(e.active),
        closed=bool(e.closed),
        archived=bool(e.archived),
        volume=number(e.volume, "volume"),
        volume_24h=number(e.volume24hr, "volume24hr"),
        liquidity=number(e.liquidity, "liquidity"),
        tags=tag_names(e.tags),
        updated_at_ms=timestamp_ms(e.updated_at, "updatedAt"),
        fetched_at_ms=now_ms,
    )


@dataclass
class Converted:
    events: list[PolymarketEventRow]
    markets: list[PolymarketMarketRow]
    links: list[PolymarketAssetLink]
    skipped: list[Skipped]


def market_text(m: GammaMarket, row: PolymarketMarketRow, event: GammaEvent | None) -> MarketText:
    slugs = [row.slug]
    if event is not None and event.slug:
        slugs.append(event.slug)
    labels = tag_labels(m.tags) + tag_labels(event.tags if event is not None else None)
    return MarketText(
        question=row.question,
        title=row.event_title,
        slugs=tuple(s for s in slugs if s),
        tags=tuple(dict.fromkeys([*row.tags, *labels])),
    )


def convert_events(events: list[GammaEvent], terms: Terms, now_ms: int) -> Converted:
    """Rows and asset links for events with their nested markets (first copy of an id wins)."""
    out = Converted([], [], [], [])
    seen_events: set[str] = set()
    seen_markets: set[str] = set()
    for e in events:
        if e.id in seen_events:
            continue
        seen_events.add(e.id)
        try:
            out.events.append(event_row(e, now_ms))
        except FieldError as exc:
            out.skipped.append(Skipped("event", e.id, str(exc)))
            continue
        for m in e.markets or []:
            if m.id in seen_markets:
                continue
            seen_markets.add(m.id)
            try:
                row = market_row(m, now_ms, event=e)
            except FieldError as exc:
                out.skipped.append(Skipped("market", m.id, str(exc)))
                continue
            out.markets.append(row)
            for match in match_market(terms, market_text(m, row, e)):
                out.links.append(
                    PolymarketAssetLink(
                        market_id=row.market_id,
                        asset=match.asset,
                        term=match.term,
                        field=match.field,
                        score=match.score,
                        linked_at_ms=now_ms,
                    )
                )
    return out


def asset_terms(terms: Terms) -> list[PolymarketAssetTerm]:
    """Every term of every asset, as stored for search."""
    return [
        PolymarketAssetTerm(term=term, asset=a.asset, ambiguous=term in a.ambiguous)
        for a in terms.assets
        for term, _ in a.terms
    ]


def context_row(m: PolymarketMarketRow, now_ms: int) -> PolymarketContextMarket:
    return PolymarketContextMarket(
        market_id=m.market_id,
        question=m.question,
        slug=m.slug,
        outcomes=m.outcomes,
        outcome_prices=m.outcome_prices,
        best_bid=m.best_bid,
        best_ask=m.best_ask,
        last_trade_price=m.last_trade_price,
        volume=m.volume,
        volume_24h=m.volume_24h,
        liquidity=m.liquidity,
        end_ms=m.end_ms,
        closed_time_ms=m.closed_time_ms,
        resolution=m.resolution,
        resolved_outcome=m.resolved_outcome,
        refreshed_at_ms=now_ms,
    )
