"""Coin shards: ``shard = "i/n"`` splits the tracked coins over n instances.

A coin belongs to shard ``crc32(coin) % n + 1``: the same on every machine and every run
(Python's ``hash`` of a string is salted per process, so it cannot be used), and each coin
falls in exactly one shard. ``"1/1"`` (the default) owns every coin.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` with 1 <= i <= n; a ``ValueError`` saying what was expected otherwise."""
        match = _SHARD_RE.match(text)
        if match is None:
            raise ValueError(f'expected "i/n" (e.g. "1/2"), got {text!r}')
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"expected 1 <= i <= n in i/n, got {text!r}")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, coin: str) -> bool:
        return zlib.crc32(coin.encode()) % self.count + 1 == self.index

    def select(self, coins: Iterable[str]) -> list[str]:
        """The coins of this shard, in their order."""
        return [c for c in coins if self.owns(c)]


WHOLE = Shard(1, 1)
