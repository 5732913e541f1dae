"""Queue benchmarks: wake-up latency of a waiting MultiQueue.get(), put and get_nowait costs.

Run with ``python bench/bench_queues.py``. Prints ``name: value unit`` lines; every figure
is a median, and each comes with a baseline measured in the same run:

* wake-up latency: a getter waits on an empty queue, another task (or thread) puts one
  run; the time from just before the put until the getter holds the run. Beside it, the
  same hand-off through a raw ``asyncio.Queue`` (and a trio memory channel on trio).
* put and get_nowait with 10k queued entries, beside ``heapq`` on plain tuples.
"""

from __future__ import annotations

import asyncio
import heapq
import statistics
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import trio
import trio.testing

from orchestrator import State, StateDetails, StateType, SystemClock, TaskRun
from orchestrator._queues._registry import MultiQueue, TaskQueues

ROUNDS = 3000
ENTRIES = 10_000
REPEAT = 7


def make_world() -> tuple[TaskQueues, Callable[[], TaskRun]]:
    """A registry on the system clock and a factory of due, queueable runs."""
    clock = SystemClock()
    runs: dict[uuid.UUID, TaskRun] = {}
    queues = TaskQueues(clock, lookup=runs.get, default_scheduled_size=ENTRIES * 2)

    def make_run() -> TaskRun:
        now = clock.now()
        run = TaskRun(
            id=uuid.uuid4(),
            name="bench",
            task_key="bench",
            dynamic_key=str(len(runs)),
            state=State(
                type=StateType.SCHEDULED,
                timestamp=now,
                id=uuid.uuid4(),
                details=StateDetails(deferred=True),
            ),
            created=now,
            updated=now,
        )
        runs[run.id] = run
        return run

    return queues, make_run


# -- wake-up latency ------------------------------------------------------------------------


async def handoff_asyncio(put: Callable[[], None], get: Callable[[], Awaitable[object]]) -> float:
    """Median us from ``put()`` to a waiting ``await get()`` returning, on asyncio."""
    samples: list[int] = []
    started = [0]
    handed = asyncio.Event()

    async def getter() -> None:
        for _ in range(ROUNDS):
            await get()
            samples.append(time.perf_counter_ns() - started[0])
            handed.set()

    task = asyncio.ensure_future(getter())
    await asyncio.sleep(0)  # the getter parks on the empty queue
    for _ in range(ROUNDS):
        started[0] = time.perf_counter_ns()
        put()
        await handed.wait()  # the getter ran, and is parked again on its next get
        handed.clear()
    await task
    return statistics.median(samples) / 1000


async def handoff_trio(put: Callable[[], None], get: Callable[[], Awaitable[object]]) -> float:
    """Median us from ``put()`` to a waiting ``await get()`` returning, on trio."""
    samples: list[int] = []
    started = [0]
    handed = [trio.Event()]

    async def getter() -> None:
        for _ in range(ROUNDS):
            await get()
            samples.append(time.perf_counter_ns() - started[0])
            handed[0].set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(getter)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(ROUNDS):
            started[0] = time.perf_counter_ns()
            put()
            await handed[0].wait()
            handed[0] = trio.Event()
    return statistics.median(samples) / 1000


async def handoff_from_thread(
    put: Callable[[], None], get: Callable[[], Awaitable[object]], waiting: Callable[[], bool]
) -> float:
    """Median us from ``put()`` in another thread to a waiting ``await get()``, on asyncio."""
    samples: list[int] = []
    started = [0]
    ready = threading.Event()
    stop = threading.Event()

    def putter() -> None:
        while True:
            ready.wait()
            ready.clear()
            if stop.is_set():
                return
            while not waiting():
                time.sleep(50e-6)  # bench only: let the loop park the getter
            started[0] = time.perf_counter_ns()
            put()

    thread = threading.Thread(target=putter)
    thread.start()
    ready.set()
    for _ in range(ROUNDS):
        await get()
        samples.append(time.perf_counter_ns() - started[0])
        ready.set()
    stop.set()
    ready.set()
    thread.join()
    return statistics.median(samples) / 1000


def bench_wakeup() -> None:
    queues, make_run = make_world()
    run = make_run()
    multi = MultiQueue(["bench"], queues=queues)
    signal = queues.for_key("bench")._ready

    def put() -> None:
        queues.put(run, retry=False)

    ours = asyncio.run(handoff_asyncio(put, multi.get))

    async def raw() -> float:
        queue: asyncio.Queue[TaskRun] = asyncio.Queue()
        return await handoff_asyncio(lambda: queue.put_nowait(run), queue.get)

    baseline = asyncio.run(raw())
    print(f"multiqueue_wakeup_asyncio: {ours:.1f} us")
    print(f"asyncio_queue_wakeup: {baseline:.1f} us")
    print(f"multiqueue_wakeup_ratio: {ours / baseline:.2f} x")

    ours_trio = trio.run(handoff_trio, put, multi.get)

    async def raw_trio() -> float:
        send, receive = trio.open_memory_channel[TaskRun](float("inf"))
        return await handoff_trio(lambda: send.send_nowait(run), receive.receive)

    baseline_trio = trio.run(raw_trio)
    print(f"multiqueue_wakeup_trio: {ours_trio:.1f} us")
    print(f"trio_memory_channel_wakeup: {baseline_trio:.1f} us")
    print(f"multiqueue_wakeup_trio_ratio: {ours_trio / baseline_trio:.2f} x")

    threaded = asyncio.run(handoff_from_thread(put, multi.get, lambda: signal.waiting > 0))

    async def raw_threaded() -> float:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[TaskRun] = asyncio.Queue()

        def put_threadsafe() -> None:
            loop.call_soon_threadsafe(queue.put_nowait, run)

        return await handoff_from_thread(
            put_threadsafe,
            queue.get,
            lambda: bool(queue._getters),  # type: ignore[attr-defined]
        )

    baseline_threaded = asyncio.run(raw_threaded())
    print(f"multiqueue_wakeup_from_thread_asyncio: {threaded:.1f} us")
    print(f"asyncio_queue_call_soon_threadsafe_wakeup: {baseline_threaded:.1f} us")


# -- put and get_nowait throughput ---------------------------------------------------------------


def bench_throughput() -> None:
    queues, make_run = make_world()
    runs = [make_run() for _ in range(ENTRIES)]
    multi = MultiQueue(["bench"], queues=queues)
    put = queues.put
    get = multi.get_nowait
    put_samples: list[float] = []
    get_samples: list[float] = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for run in runs:
            put(run, retry=False)
        put_samples.append((time.perf_counter() - start) / ENTRIES * 1e6)
        start = time.perf_counter()
        for _ in range(ENTRIES):
            get()
        get_samples.append((time.perf_counter() - start) / ENTRIES * 1e6)
    assert len(queues) == 0

    heap: list[tuple[float, int, object]] = []
    heap_samples: list[float] = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for index, run in enumerate(runs):
            heapq.heappush(heap, (0.0, index, run))
        for _ in range(ENTRIES):
            heapq.heappop(heap)
        heap_samples.append((time.perf_counter() - start) / ENTRIES * 1e6)
    print(f"put_10k: {statistics.median(put_samples):.2f} us per put")
    print(f"get_nowait_10k: {statistics.median(get_samples):.2f} us per delivery")
    print(f"get_nowait_10k_throughput: {1e6 / statistics.median(get_samples):.0f} runs/s")
    print(f"heapq_push_pop_baseline: {statistics.median(heap_samples):.2f} us per item")


def main() -> None:
    bench_wakeup()
    bench_throughput()


if __name__ == "__main__":
    main()
