"""The dashboard in headless Chromium against the real demo (local venues, every channel, the
writer and its telemetry), on the wall clock: every chart draws data, the page updates itself
without a reload, and a screenshot of it is saved in test-artifacts/."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import trio
from cdp import open_page

from marketmem.config import Config
from marketmem.demo import DEMO_CADENCES, DEMO_COINS, DemoAccess, run_demo
from tests.conftest import save_artifact

REFRESH_S = 1
# Demo start, the first 15-second stream windows, a few refreshes; about 20 s in all.
WAIT_S = 45

STATE = """(() => {
  const root = document.getElementById("charts");
  if (!root) return null;  // still loading
  const panels = root.querySelector(".panels");
  return {
    generated: panels ? panels.dataset.generatedAtMs : null,
    live: panels ? panels.dataset.live : null,
    refreshes: Number(root.dataset.refreshes || 0),
    marker: window.__sameDocument || null,
    problem: document.getElementById("problem").textContent,
    charts: Object.fromEntries(Array.from(root.querySelectorAll("svg.chart"), (svg) =>
      [svg.dataset.chart, [Number(svg.dataset.marks), svg.querySelectorAll(".mark").length]])),
  };
})()"""


def expected_charts() -> set[str]:
    coins = {f"price-{kind}-{coin}" for coin in DEMO_COINS for kind in ("1h", "1m")}
    channels = {f"{kind}-{s}-{c}" for s, c in DEMO_CADENCES for kind in ("runs", "rows")}
    return coins | channels | {"price-age", "writer-latency", "writer-queue", "bus-drops"}


def undrawn(state: dict[str, Any]) -> list[str]:
    charts = state["charts"]
    return sorted(
        name for name in expected_charts() if name not in charts or min(charts[name]) == 0
    )


async def test_the_dashboard_draws_every_chart_of_the_demo_and_updates_in_place(
    chromium: str, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(f"[http]\ndashboard_refresh_s = {REFRESH_S}\n")
    with trio.fail_after(WAIT_S + 30):
        async with trio.open_nursery() as nursery:
            demo = partial(run_demo, config, handle_signals=False, out=io.StringIO())
            access: DemoAccess = await nursery.start(demo)
            url = f"{access.base_url}/dashboard"
            async with open_page(chromium, url, tmp_path / "profile") as page:
                # The first charts are in: mark this document, remember when they were drawn.
                state = await wait_for(page, lambda s: s["refreshes"] >= 1, "first charts")
                await page.evaluate("window.__sameDocument = 'yes'")
                first = state["generated"]
                state = await wait_for(page, lambda s: not undrawn(s), "every chart drawn")
                state = await wait_for(
                    page, lambda s: s["generated"] != first, "an update without reload"
                )
                shot = await page.screenshot()
            nursery.cancel_scope.cancel()
    assert state["marker"] == "yes", "the page was reloaded"
    assert state["live"] == "true" and state["problem"] == ""
    assert int(state["generated"]) > int(first)
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    path = save_artifact("dashboard.png", shot)
    print(f"screenshot: {path}")


async def wait_for(page: Any, done: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    try:
        with trio.fail_after(WAIT_S):
            while True:
                state = await page.evaluate(STATE) or {}
                if state and done(state):
                    return state
                await trio.sleep(0.25)
    except trio.TooSlowError:
        left = undrawn(state) if state.get("charts") else "no charts"
        raise AssertionError(
            f"no {what} within {WAIT_S} s; undrawn: {left}; {json.dumps(state)[:2000]}"
        ) from None
