"""The sliding-window budget on its own (MockClock): windows, in-flight charges, fairness."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from marketmem.budget import WeightBudget, spend


async def test_spends_within_capacity_do_not_wait_and_the_next_waits_for_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(3, window_s=60.0)
    for _ in range(3):
        await spend(budget)
    assert trio.current_time() == 0 and budget.used() == 3
    await trio.sleep(10)
    await spend(budget)  # waits until the first charge leaves its window
    assert trio.current_time() == 60
    stats = budget.statistics()
    assert (stats.charges, stats.total_weight, stats.waits) == (4, 4, 1)
    assert stats.waited_s == 50


async def test_in_flight_charges_count_until_settled_then_for_one_window_from_settling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(10, window_s=60.0)
    charge = await budget.acquire(8)  # an upper bound, held while the request is in flight
    assert budget.used() == 8 and budget.statistics().in_flight == 1
    await trio.sleep(100)
    assert budget.used() == 8  # in flight: it never leaves a window
    budget.settle(charge, 2)  # the real weight, counted from now
    budget.settle(charge, 5)  # settling twice changes nothing
    assert budget.used() == 2 and budget.statistics().total_weight == 2
    await trio.sleep(59.9)
    assert budget.used() == 2
    await trio.sleep(0.1)
    assert budget.used() == 0


async def test_a_settled_charge_wakes_a_waiter_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(5, window_s=60.0)
    held = await budget.acquire(5)
    got_at: list[float] = []

    async def waiter() -> None:
        await budget.acquire(3)
        got_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(7)
        assert got_at == []
        budget.settle(held, 1)  # room for 3 now: the waiter needs not wait for the window
    assert got_at == [7]


async def test_waiters_are_served_in_order_a_large_one_is_not_overtaken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(4, window_s=60.0)
    await spend(budget, 3)
    order: list[tuple[str, float]] = []

    async def take(name: str, weight: int) -> None:
        await spend(budget, weight)
        order.append((name, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, "large", 4)
        await trio.sleep(1)
        nursery.start_soon(take, "small", 1)  # would fit now, but the large one came first
    # The large one got its turn when the first charge left; the small one waits behind it.
    assert order == [("large", 60), ("small", 120)]


async def test_a_weight_above_capacity_is_capped_to_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = WeightBudget(2, window_s=1.0)
    await spend(budget, 50)
    assert budget.used() == 2
    await spend(budget, 50)
    assert trio.current_time() == 1


def test_a_budget_needs_a_capacity() -> None:
    with pytest.raises(ValueError, match="capacity of at least 1"):
        WeightBudget(0)
