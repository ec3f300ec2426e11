"""How CPython's cyclic collector treats a long-running process: ``settle_heap()``.

A started service holds 100,000 to 200,000 container objects made while importing and
starting (modules, functions, the MCP SDK's pydantic models, the HTTP app). They live until
exit, yet every full (generation 2) collection walks them all with the GIL held: 60 to 170 ms
measured in ``bench.stream_fanout``, about every 3 s, during which no trio task runs, so each
one shows in the tails of ingestion (frame-to-commit) and of the live stream. Once a service
has started, ``settle_heap`` collects once and moves what is alive to the permanent
generation (``gc.freeze``): later collections walk only what was made since. It also makes
full collections rarer (``FULL_EVERY``): the young generations, which find nearly all of the
cyclic garbage (trio's cancelled scopes and tracebacks), keep their default thresholds.
Reference counting frees objects as before; only cyclic garbage waits longer for its
collection.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# Collections of generation 1 between two full ones (CPython's default: 10).
FULL_EVERY = 100

_settled = False


def settle_heap() -> int:
    """Collect, freeze every object alive and space out full collections: the first call in
    a process (a service restarting its API within the process keeps the first freeze).
    Returns how many objects this call froze (0 after the first)."""
    global _settled
    if _settled:
        return 0
    _settled = True
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
    count = gc.get_freeze_count()
    log.debug("heap: %d start-up objects frozen; full collections every %d", count, FULL_EVERY)
    return count
