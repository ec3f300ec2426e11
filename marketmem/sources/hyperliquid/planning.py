"""Which coins the stream subscribes, and on which socket (pure, no I/O).

``select_coins`` checks the configured coins against the live ``meta`` universe: an unknown
name is refused before anything is sent (the venue drops the whole socket on one), a delisted
one is skipped, and ``["*"]`` means every listed perp. ``plan_connections`` spreads the
subscriptions over as few sockets as the per-socket cap allows; ``replan_connections`` places
a new selection with the least change to the sockets running, so only the sockets whose
subscriptions changed reconnect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from marketmem.shards import WHOLE, Shard
from marketmem.sources.hyperliquid import wire


@dataclass(frozen=True)
class CoinSelection:
    coins: list[str]  # listed perps to stream, in config (or universe) order
    refused: list[str]  # names not in the universe: never subscribed
    delisted: list[str]  # in the universe but delisted: skipped
    over_cap: list[str]  # beyond the subscription cap
    perps: list[str]  # every listed perp (mids filter)


def select_coins(
    configured: list[str], meta: wire.Meta, *, max_coins: int, shard: Shard = WHOLE
) -> CoinSelection:
    """Configured coins checked against the live universe (``["*"]``: every listed perp);
    of them, those of this instance's ``shard``."""
    listed = [a.name for a in meta.universe if not a.is_delisted]
    delisted_names = {a.name for a in meta.universe if a.is_delisted}
    wanted = listed if configured == ["*"] else list(dict.fromkeys(configured))
    wanted = shard.select(wanted)
    known = set(listed)
    coins = [c for c in wanted if c in known]
    refused = [c for c in wanted if c not in known and c not in delisted_names]
    delisted = [c for c in wanted if c in delisted_names]
    over = coins[max_coins:] if max_coins >= 0 else []
    return CoinSelection(coins[: max(0, max_coins)], refused, delisted, over, listed)


def subscriptions(coins: list[str], *, mids: bool, interval: str) -> list[wire.Subscription]:
    """``allMids`` (when wanted) first, then one ``candle`` subscription per coin."""
    subs: list[wire.Subscription] = []
    if mids:
        subs.append(wire.all_mids_subscription())
    subs.extend(wire.candle_subscription(c, interval) for c in coins)
    return subs


def plan_connections(
    subs: list[wire.Subscription], *, per_connection: int, max_connections: int
) -> list[list[wire.Subscription]]:
    """Spread subscriptions round-robin over as few sockets as the per-socket cap allows."""
    if not subs:
        return []
    n = min(max_connections, max(1, math.ceil(len(subs) / per_connection)))
    return [subs[i::n] for i in range(n)]


def replan_connections(
    current: list[list[wire.Subscription]],
    subs: list[wire.Subscription],
    *,
    per_connection: int,
    max_connections: int,
) -> list[list[wire.Subscription]]:
    """``subs`` placed with the least change to ``current``: kept subscriptions stay on their
    socket, dropped ones leave it (a socket may end up empty: closed), new ones go to the
    emptiest socket with room, then to new sockets up to ``max_connections``."""
    wanted = {s.key() for s in subs}
    out = [[s for s in conn if s.key() in wanted] for conn in current]
    placed = {s.key() for conn in out for s in conn}
    for sub in subs:
        if sub.key() in placed:
            continue
        room = [conn for conn in out if len(conn) < per_connection]
        if room:
            min(room, key=len).append(sub)
        elif len(out) < max_connections:
            out.append([sub])
        else:
            continue  # over the cap (select_coins already keeps within it)
        placed.add(sub.key())
    return out


def candle_coins(subs: list[wire.Subscription]) -> list[str]:
    """The coins whose candles ``subs`` carry."""
    return [s.coin for s in subs if s.type == "candle" and s.coin]


def channels_of(subs: list[wire.Subscription]) -> list[str]:
    """The channels (``candles``, ``mids``) fed by ``subs``."""
    out = []
    if any(s.type == "candle" for s in subs):
        out.append("candles")
    if any(s.type == "allMids" for s in subs):
        out.append("mids")
    return out
