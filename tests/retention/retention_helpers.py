"""Retention test helpers: a migrated database driven through the real write functions, on a
SQLite file or a PostgreSQL database (``Store`` takes either location)."""

from __future__ import annotations

from typing import Any

import trio

from marketmem.clock import MINUTE_MS
from marketmem.events import Candle, CandleBatch, Event
from marketmem.plugins import SOURCES
from marketmem.retention.actor import PassReport, PassSettings, maintenance_pass
from marketmem.retention.policy import RetentionPolicy
from marketmem.storage import engine, schema

# 2026-11-25T00:00:00Z: an hour boundary.
H0 = 1_795_564_800_000


def minute(
    coin: str,
    open_time_ms: int,
    *,
    o: float = 1.0,
    h: float = 2.0,
    lo: float = 0.5,
    c: float = 1.5,
    v: float = 1.0,
    n: int = 1,
    updated_at_ms: int = 0,
) -> Candle:
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=open_time_ms,
        close_time_ms=open_time_ms + MINUTE_MS - 1,
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        trades=n,
        closed=True,
        updated_at_ms=updated_at_ms,
    )


class Store:
    """A database written only through the storage writer's write functions, one
    transaction per event as the writer does it, without the bus (fast enough for
    property tests)."""

    def __init__(self, path: engine.Location) -> None:
        self.path = path
        self.dialect = "postgresql" if engine.is_postgres(path) else "sqlite"
        self.conn = engine.open_writer(path)
        schema.migrate(self.conn, SOURCES)
        self.writers = schema.writers(SOURCES)
        self.after_writes = schema.after_writes(SOURCES)
        self.sent: list[Event] = []  # the commands of every pass, in order

    def apply(self, event: Event) -> dict[str, int]:
        with self.conn:
            result: dict[str, int] = self.writers[type(event)](self.conn, event)
            for after in self.after_writes.get(type(event), ()):
                after(self.conn, [event])
        return result

    def write_minutes(self, rows: list[Candle]) -> None:
        self.apply(CandleBatch(rows=rows))

    def run_pass(
        self,
        now_ms: int,
        policy: RetentionPolicy | None = None,
        settings: PassSettings | None = None,
    ) -> PassReport:
        async def send(event: Event) -> dict[str, int]:
            await trio.lowlevel.checkpoint()
            self.sent.append(event)
            return self.apply(event)

        report: PassReport = trio.run(
            maintenance_pass,
            send,
            self.conn,
            policy or RetentionPolicy(),
            settings or PassSettings(),
            now_ms,
        )
        return report

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, params)]

    def minutes(self) -> set[tuple[str, int]]:
        return set(
            self.rows("SELECT coin, open_time_ms FROM hyperliquid_candles WHERE interval = '1m'")
        )

    def hours(self) -> dict[tuple[str, int], tuple[Any, ...]]:
        return {
            (r[0], r[1]): r
            for r in self.rows("SELECT * FROM hyperliquid_candles_1h ORDER BY coin, open_time_ms")
        }

    def pending(self) -> set[tuple[int, str]]:
        return set(self.rows("SELECT hour_ms, coin FROM hyperliquid_rollup_pending"))

    def close(self) -> None:
        self.conn.close()


def ro(path: engine.Location) -> engine.Connection:
    return engine.open_ro(path)
