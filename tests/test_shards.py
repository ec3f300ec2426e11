"""Coin shards: every coin in exactly one shard, the same on every machine."""

from __future__ import annotations

import pytest

from marketmem.shards import WHOLE, Shard

COINS = [f"C{i}" for i in range(500)] + ["BTC", "ETH", "SOL", "HYPE", "kPEPE", "@107"]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_coin_falls_in_exactly_one_shard(count: int) -> None:
    shards = [Shard(i, count) for i in range(1, count + 1)]
    for coin in COINS:
        assert sum(s.owns(coin) for s in shards) == 1, coin
    sizes = [len(s.select(COINS)) for s in shards]
    assert sum(sizes) == len(COINS)
    # Balanced enough that no shard is empty or takes nearly everything.
    assert min(sizes) > len(COINS) / count / 2


def test_the_split_is_fixed_not_per_process() -> None:
    # crc32, not the salted str hash: these hold on every machine and in every process, and
    # must not change between releases (instances of two releases would split differently).
    assert Shard(1, 2).select(["BTC", "ETH", "SOL", "HYPE"]) == ["BTC", "SOL", "HYPE"]
    assert Shard(2, 2).select(["BTC", "ETH", "SOL", "HYPE"]) == ["ETH"]


def test_the_whole_shard_owns_everything_in_order() -> None:
    assert WHOLE.select(COINS) == COINS and str(WHOLE) == "1/1"


@pytest.mark.parametrize(
    ("text", "shard"), [("1/2", Shard(1, 2)), (" 3 / 3 ", Shard(3, 3)), ("1/1", WHOLE)]
)
def test_parse(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0/2", "1 <= i <= n"),
        ("3/2", "1 <= i <= n"),
        ("1/0", "1 <= i <= n"),
        ("half", 'expected "i/n"'),
        ("1/2/3", 'expected "i/n"'),
        ("", 'expected "i/n"'),
    ],
)
def test_bad_shards_say_what_was_expected(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Shard.parse(text)
