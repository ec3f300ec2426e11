"""Size of the latest-data answer in the demo: compact (default) and verbose, by part.

    .venv/bin/python -m bench.latest_size [--duration 120] [--symbol BTC] [--seed 7]

Runs ``bin/marketmem demo`` in process on a simulated clock (trio's MockClock: the demo's
first ``--duration`` seconds take a few seconds), in a temporary folder, then asks the demo's
API for one symbol's latest data both ways and prints the bytes of each answer and of each of
its parts. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import trio
from trio.testing import MockClock

from marketmem.clock import TrioWallClock
from marketmem.demo import DEMO_CLONE, DEMO_SEED, DemoAccess, run_demo
from marketmem.executors import inline_executor
from marketmem.plugins import parse_config

T0_MS = 1_795_564_800_000  # 2026-11-25T00:00:00Z


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def measure(db: Path, *, duration_s: float, symbol: str, seed: int) -> dict[str, Any]:
    config = parse_config(f'[storage]\npath = "{db}"\n', source_path="bench.toml")
    clock = trio.lowlevel.current_clock()
    assert isinstance(clock, MockClock)
    answers: dict[str, httpx.Response] = {}
    async with trio.open_nursery() as nursery:
        access: DemoAccess = await nursery.start(
            lambda task_status: run_demo(
                config,
                clock=TrioWallClock(T0_MS),
                executor=inline_executor,
                duration_s=duration_s + 60,
                handle_signals=False,
                seed=seed,
                out=io.StringIO(),
                task_status=task_status,
            )
        )
        await trio.sleep(duration_s)
        # While the API's reader threads work, trio looks idle: hold the clock for the requests.
        clock.autojump_threshold = 0.5
        url = (
            f"http://127.0.0.1:{access.port}/api/v1/clones/{DEMO_CLONE}/assets/{symbol}/latest-data"
        )
        auth = {"Authorization": f"Bearer {access.token.token}"}
        async with httpx.AsyncClient() as client:
            for form, params in (("compact", {}), ("verbose", {"verbose": "1"})):
                answers[form] = await client.post(url, params=params, headers=auth)
        clock.autojump_threshold = 0.0
        nursery.cancel_scope.cancel()
    out: dict[str, Any] = {}
    for form, r in answers.items():
        r.raise_for_status()
        body = r.json()
        out[form] = {
            "bytes": len(r.content),
            "parts": {k: size(v) for k, v in body.items()},
            "features": {k: size(v) for k, v in (body.get("features") or {}).items()},
            "markets": {k: len(v) for k, v in (body.get("polymarket") or {}).items()},
            "subjects": len(body.get("defillama") or []),
            "missing": body["missing"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="simulated seconds")
    parser.add_argument("--symbol", default="BTC")
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="marketmem-bench-") as tmp:
        result = trio.run(
            lambda: measure(
                Path(tmp) / "demo.db",
                duration_s=args.duration,
                symbol=args.symbol,
                seed=args.seed,
            ),
            clock=MockClock(autojump_threshold=0),
        )
    for form, r in result.items():
        print(f"{args.symbol} latest-data, {form}: {r['bytes']} bytes")
        print("  parts:    " + ", ".join(f"{k} {v}" for k, v in r["parts"].items()))
        print("  features: " + ", ".join(f"{k} {v}" for k, v in r["features"].items()))
        print(f"  markets {r['markets']}, subjects {r['subjects']}, missing {r['missing']}")


if __name__ == "__main__":
    main()
