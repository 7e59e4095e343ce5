"""Dynamic batching: requests that arrive while the model is busy are answered together, in one call.

A sentence encoder pays a fixed cost per call (all-MiniLM-L6-v2 on 2 cores: 16 ms for one text, 7 ms a text in a
batch of 100), so one call per request caps a server at about 60 requests/s. ``MicroBatcher`` queues each
request's item; a single worker takes everything queued (up to ``max_batch``), runs the model once on it in the
thread pool and hands every request its own answer. Nothing waits for a batch to fill: an idle server answers a
lone request at once, and batches grow only while the model is busy (as TorchServe's and Triton's dynamic batchers
do with a zero delay).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


class MicroBatcher:
    def __init__(self, answer: Callable[[list], list], max_batch: int):
        self.answer, self.max_batch = answer, max(1, int(max_batch))
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.queue: Optional[asyncio.Queue] = None
        self.batches: list[int] = []  # the size of every batch run (what /metrics and the tests read)

    async def __call__(self, item) -> Any:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # first request on this event loop: its own queue and worker
            self.loop, self.queue = loop, asyncio.Queue()
            loop.create_task(self._work(self.queue))
        done = loop.create_future()
        await self.queue.put((item, done))
        return await done

    async def _work(self, queue: asyncio.Queue) -> None:
        from starlette.concurrency import run_in_threadpool

        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            self.batches.append(len(batch))
            try:
                answers = await run_in_threadpool(self.answer, [item for item, _ in batch])
            except Exception as err:  # every request of the batch gets the error (the app answers 500), none hangs
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            for (_, done), out in zip(batch, answers):
                if not done.done():
                    done.set_result(out)
