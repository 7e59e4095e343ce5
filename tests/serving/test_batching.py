"""Dynamic batching: requests queued while the model is busy are answered in one call, each with its own answer;
a lone request is answered at once; a failing call fails its requests (none hangs) and the next ones still run."""

import asyncio
import threading

import pytest

from specweave_ml.serving.batching import MicroBatcher


async def _until(condition):
    while not condition():
        await asyncio.sleep(0.001)


def test_requests_that_arrive_while_the_model_is_busy_share_one_call_and_keep_their_own_answers():
    calls, gate = [], threading.Event()

    def answer(items):
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(10)  # the model is busy with the first request
        return [x * 10 for x in items]

    async def main():
        batcher = MicroBatcher(answer, max_batch=8)
        first = asyncio.create_task(batcher(1))
        await _until(lambda: calls)
        rest = [asyncio.create_task(batcher(i)) for i in range(2, 12)]
        await _until(lambda: batcher.queue.qsize() == 10)
        gate.set()
        return await asyncio.gather(first, *rest), batcher.batches

    results, batches = asyncio.run(main())
    assert results == [i * 10 for i in range(1, 12)]
    assert calls == [[1], list(range(2, 10)), [10, 11]]  # at most max_batch a call, in arrival order
    assert batches == [1, 8, 2]


def test_a_lone_request_is_answered_without_waiting_for_company():
    async def main():
        batcher = MicroBatcher(lambda items: [x + 1 for x in items], max_batch=32)
        return await batcher(41), await batcher(1), batcher.batches

    first, second, batches = asyncio.run(main())
    assert (first, second, batches) == (42, 2, [1, 1])


def test_a_failing_call_fails_each_of_its_requests_and_the_next_requests_still_run():
    def answer(items):
        if "bad" in items:
            raise ValueError("the model failed")
        return [s.upper() for s in items]

    async def main():
        batcher = MicroBatcher(answer, max_batch=4)
        with pytest.raises(ValueError, match="the model failed"):
            await batcher("bad")
        return await batcher("fine")

    assert asyncio.run(main()) == "FINE"
