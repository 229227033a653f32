"""kit/turn_batch.py: what the requests of one event-loop turn ask is answered by one call."""

from __future__ import annotations

import asyncio

import pytest

from licenseserver.kit.turn_batch import TurnBatch


class Recorder:
    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        self.calls: list[list[int]] = []
        self.fail = fail
        self.delay = delay

    async def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database away")
        return [item * 10 for item in items]


def test_the_requests_of_one_turn_share_one_call_and_each_gets_its_own_answer() -> None:
    run = Recorder()

    async def scenario() -> list[int]:
        batch = TurnBatch(run)
        return await asyncio.gather(*(batch.ask(n) for n in range(25)))

    assert asyncio.run(scenario()) == [n * 10 for n in range(25)]
    assert run.calls == [list(range(25))]


def test_a_request_of_a_later_turn_goes_in_a_later_call_without_waiting_for_more() -> None:
    run = Recorder(delay=0.05)

    async def scenario() -> tuple[int, int]:
        batch = TurnBatch(run)
        first = asyncio.ensure_future(batch.ask(1))
        await asyncio.sleep(0.01)  # the first batch has left and is being answered
        second = await batch.ask(2)
        return await first, second

    assert asyncio.run(scenario()) == (10, 20)
    assert run.calls == [[1], [2]]


def test_a_full_batch_leaves_at_once() -> None:
    run = Recorder()

    async def scenario() -> list[int]:
        batch = TurnBatch(run, max_items=10)
        return await asyncio.gather(*(batch.ask(n) for n in range(25)))

    assert asyncio.run(scenario()) == [n * 10 for n in range(25)]
    assert [len(call) for call in run.calls] == [10, 10, 5]


def test_a_failed_call_fails_every_request_of_its_batch_and_the_next_batch_works() -> None:
    run = Recorder(fail=True)

    async def scenario() -> list[BaseException | int]:
        batch = TurnBatch(run)
        failed = await asyncio.gather(*(batch.ask(n) for n in range(3)), return_exceptions=True)
        run.fail = False
        return [*failed, await batch.ask(7)]

    outcome = asyncio.run(scenario())
    assert all(isinstance(result, ConnectionError) for result in outcome[:3])
    assert outcome[3] == 70


def test_a_cancelled_request_does_not_disturb_the_others() -> None:
    run = Recorder(delay=0.05)

    async def scenario() -> list[int]:
        batch = TurnBatch(run)
        asks = [asyncio.ensure_future(batch.ask(n)) for n in range(4)]
        await asyncio.sleep(0.01)
        asks[1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await asks[1]
        return [await asks[0], await asks[2], await asks[3]]

    assert asyncio.run(scenario()) == [0, 20, 30]


def test_an_answer_list_of_the_wrong_length_fails_the_batch() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    async def scenario() -> list[BaseException | int]:
        batch = TurnBatch(short)
        return await asyncio.gather(batch.ask(1), batch.ask(2), return_exceptions=True)

    assert all(isinstance(result, RuntimeError) for result in asyncio.run(scenario()))


def test_with_one_batch_in_flight_the_later_turns_wait_and_leave_together() -> None:
    run = Recorder(delay=0.05)

    async def scenario() -> list[int]:
        batch = TurnBatch(run, max_in_flight=1)
        first = asyncio.ensure_future(batch.ask(1))
        await asyncio.sleep(0.01)  # the first batch is being answered
        later = [asyncio.ensure_future(batch.ask(n)) for n in (2, 3)]
        await asyncio.sleep(0.01)  # a later turn
        later.append(asyncio.ensure_future(batch.ask(4)))
        return [await first, *[await ask for ask in later]]

    assert asyncio.run(scenario()) == [10, 20, 30, 40]
    assert run.calls == [[1], [2, 3, 4]]


def test_a_full_batch_leaves_even_with_the_batches_in_flight_at_their_bound() -> None:
    run = Recorder(delay=0.05)

    async def scenario() -> list[int]:
        batch = TurnBatch(run, max_items=3, max_in_flight=1)
        first = asyncio.ensure_future(batch.ask(0))
        await asyncio.sleep(0.01)
        rest = await asyncio.gather(*(batch.ask(n) for n in range(1, 5)))
        return [await first, *rest]

    assert asyncio.run(scenario()) == [0, 10, 20, 30, 40]
    assert run.calls == [[0], [1, 2, 3], [4]]


def test_a_failed_batch_in_flight_still_sends_the_one_waiting_behind_it() -> None:
    calls: list[list[int]] = []

    async def first_call_fails(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0.05)
        if len(calls) == 1:
            raise ConnectionError("database away")
        return [item * 10 for item in items]

    async def scenario() -> tuple[BaseException | int, int]:
        batch = TurnBatch(first_call_fails, max_in_flight=1)
        first = asyncio.ensure_future(batch.ask(1))
        await asyncio.sleep(0.01)
        second = await batch.ask(2)
        return (await asyncio.gather(first, return_exceptions=True))[0], second

    failed, second = asyncio.run(scenario())
    assert isinstance(failed, ConnectionError)
    assert second == 20
    assert calls == [[1], [2]]
