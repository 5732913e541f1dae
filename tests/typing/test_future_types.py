"""TaskRunFuture[R] carries the task's return type; async tasks unwrap to their awaited type.

mypy --strict checks this file (``tests/test_typing.py`` runs it); pytest runs it too, so
every call is real: runs are created and completed by hand, no worker needed.
"""

from __future__ import annotations

from typing import assert_type

from orchestrator import Completed, Orchestrator, State, TaskRunFuture, VirtualClock, task


@task
def add(x: int, y: int) -> int:
    return x + y


@task
async def fetch(url: str) -> bytes:
    return url.encode()


def complete(orch: Orchestrator, future: TaskRunFuture[object], value: object) -> None:
    orch.set_task_run_state(future.task_run_id, Completed(value))


def test_submissions_carry_the_return_type() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    with orch:
        delayed = add.delay(1, 2)
        applied = add.apply_async((1, 2))
        fetched = fetch.delay("u")
        fetched_later = fetch.apply_async(["u"], scheduled_time=orch.clock.now())
    submitted = orch.submit(add, 1, 2)
    scheduled = orch.schedule(orch.clock.now(), fetch, "u")
    assert_type(delayed, TaskRunFuture[int])
    assert_type(applied, TaskRunFuture[int])
    assert_type(fetched, TaskRunFuture[bytes])
    assert_type(fetched_later, TaskRunFuture[bytes])
    assert_type(submitted, TaskRunFuture[int])
    assert_type(scheduled, TaskRunFuture[bytes])
    for future in (delayed, applied, submitted):
        complete(orch, future, 3)
    for other in (fetched, fetched_later, scheduled):
        complete(orch, other, b"u")
    assert assert_type(delayed.result(), int) == 3
    assert assert_type(fetched.result(timeout=1), bytes) == b"u"
    assert assert_type(submitted.result(raise_on_failure=False), int | Exception) == 3
    assert_type(submitted.wait(), State)


async def test_async_submissions_and_waits_carry_the_return_type() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=2)
    async with orch:
        added = await add.adelay(1, 2)
        fetched = await fetch.adelay("u")
        submitted = await orch.asubmit(fetch, "u")
        scheduled = await orch.aschedule(orch.clock.now(), add, 1, 2)
    assert_type(added, TaskRunFuture[int])
    assert_type(fetched, TaskRunFuture[bytes])
    assert_type(submitted, TaskRunFuture[bytes])
    assert_type(scheduled, TaskRunFuture[int])
    complete(orch, added, 3)
    complete(orch, fetched, b"u")
    assert assert_type(await added.result_async(), int) == 3
    assert assert_type(await fetched.aresult(), bytes) == b"u"
    assert assert_type(await fetched.result_async(None, False), bytes | Exception) == b"u"
    assert_type(await added.wait_async(), State)
