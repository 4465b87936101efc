"""Lanes: worker threads fed by a bounded queue, each thread with its own Assistant.

llama.cpp must never see two threads at once, and a SQLite connection belongs to the thread
that opened it, so every piece of work that touches an Assistant runs on a thread of its
lane that owns that Assistant. The event loop only counts what is waiting, to refuse work
(503) rather than queue without bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Consumer", "Lane", "LaneFull", "Streamed"]

T = TypeVar("T")


class LaneFull(Exception):
    """The lane already holds as many requests as it may; the client should retry later."""


@dataclass(frozen=True)
class Streamed:
    """One item a streamed job hands to the event loop: ``kind`` is "piece", "status",
    "done" (``value`` is the job's result) or "error" (``value`` is the exception)."""

    kind: str
    value: Any


class Lane:
    """``threads`` worker threads with a bounded queue in front of them.

    ``limit`` counts requests running or waiting. A request's slot is given back when its
    work has finished on the thread, not when its client leaves: a client that gives up does
    not let a new request jump a queue the thread has not yet worked through. A request still
    waiting when its client leaves is dropped without running.
    """

    def __init__(self, name: str, limit: int, threads: int = 1) -> None:
        if limit < 1:
            raise ValueError(f"lane {name!r} needs a limit of at least 1, not {limit}")
        self.name = name
        self.limit = limit
        self.threads = threads
        self.pending = 0
        self.served = 0
        self.refused = 0
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"ragkit-{name}")

    def _take(self) -> None:
        if self.pending >= self.limit:
            self.refused += 1
            raise LaneFull(self.name)
        self.pending += 1

    def _submit(self, fn: Callable[[], T]) -> Future[T]:
        loop = asyncio.get_running_loop()
        self._take()
        future = self._pool.submit(fn)

        def release(_done: Future[T]) -> None:
            loop.call_soon_threadsafe(self._release)

        future.add_done_callback(release)
        return future

    def _release(self) -> None:
        self.pending -= 1
        self.served += 1

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the lane's thread; raises :class:`LaneFull` at once when full."""
        return await asyncio.wrap_future(self._submit(fn))

    def stream(
        self, job: Callable[[Callable[[Streamed], None], Callable[[], bool]], Any]
    ) -> Consumer:
        """Run ``job(emit, stopped)`` on the lane's thread; iterate the returned
        :class:`Consumer` for what it emits, then its result (a "done" item).

        ``job`` must check ``stopped()`` between pieces: when the consumer is closed (its
        client disconnected), ``stopped()`` turns true, the job returns, and the thread is
        free for the next request. Raises :class:`LaneFull` at once when the lane is full.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Streamed] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Streamed) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                if not stop.is_set():
                    emit(Streamed("done", job(emit, stop.is_set)))
            except BaseException as exc:  # the consumer reports it; the thread lives on
                emit(Streamed("error", exc))
            finally:
                emit(Streamed("end", None))

        return Consumer(queue, stop, self._submit(work))

    def close(self) -> None:
        """Stop taking work; waits for the running requests to finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class Consumer:
    """The async side of a streamed job: iterate for its items; closing it stops the job."""

    def __init__(
        self, queue: asyncio.Queue[Streamed], stop: threading.Event, future: Future[None]
    ) -> None:
        self._queue = queue
        self._stop = stop
        self._future = future

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Streamed:
        item = await self._queue.get()
        if item.kind == "end":
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """The client is gone: stop the job between two pieces, or before it starts."""
        self._stop.set()
        self._future.cancel()
