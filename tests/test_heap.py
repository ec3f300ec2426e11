"""settle_heap: the start-up heap moved out of the collector's way, once per process."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from marketmem import heap


@pytest.fixture
def unsettled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(heap, "_settled", False)
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def test_the_first_call_freezes_what_is_alive_and_spaces_out_full_collections(
    unsettled: None,
) -> None:
    young, middle, _ = gc.get_threshold()
    kept = [[i] for i in range(1_000)]  # alive, tracked
    frozen = heap.settle_heap()
    assert frozen == gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (young, middle, heap.FULL_EVERY)
    # Frozen: in no generation that a collection walks.
    walked = {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}
    assert not walked & {id(x) for x in kept}
    # Later calls (an API restarted within the process) leave the first freeze as it is.
    assert heap.settle_heap() == 0
    assert gc.get_freeze_count() == frozen


def test_garbage_made_before_is_collected_not_frozen(unsettled: None) -> None:
    class Cycle:
        pass

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    gone = weakref.ref(a)
    del a, b
    heap.settle_heap()
    assert gone() is None
