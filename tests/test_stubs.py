"""Task stubs: the per-orchestrator stand-in table, stub_task's behaviours, records and undo.

The first part calls the seam the way a worker does (``stand_in`` for the run, then the
worker's own :class:`~orchestrator.workers._calls.Caller`), so it checks the stubs
alone. The second part runs stubbed tasks through real TaskWorkers and drains.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

from orchestrator import InvalidArgument, Orchestrator, TaskRun, VirtualClock, task
from orchestrator.testing import (
    DrainStalled,
    StubCall,
    StubExhausted,
    TaskStub,
    assert_state_times,
    make_task_run,
    run_until_idle,
    run_until_idle_sync,
    stub_task,
    undo_stubs,
)
from orchestrator.workers import TaskWorker
from orchestrator.workers._calls import Caller

START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def make() -> Orchestrator:
    return Orchestrator(VirtualClock(START), seed=0)


class RealFunctionCalled(Exception):
    """Raised by a task's real function where a test expects its stub to run instead."""


@task(timeout_seconds=30)
def charge(customer: str, cents: int = 100, *extra: str, **labels: str) -> str:
    raise RealFunctionCalled(f"charge({customer!r}, {cents!r})")


@task
async def fetch() -> str:
    raise RealFunctionCalled("fetch()")


def bound(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """A call of ``charge`` as a worker gets it: bound, with the defaults filled in."""
    return charge.bind_parameters(*args, **kwargs)


def running_run(orchestrator: Orchestrator, key: str = charge.task_key) -> TaskRun:
    """A RUNNING run of ``key``, as a worker holds it just before calling the function."""
    return make_task_run(orchestrator, "RUNNING", task_key=key)


async def call_as_worker(
    orchestrator: Orchestrator, served: Any, run: TaskRun, parameters: dict[str, Any]
) -> Any:
    """Call what a worker would call for ``run``: the stand-in, through the worker's Caller."""
    caller = Caller(orchestrator.clock, orchestrator.activity, 10)
    return await caller.call(orchestrator.task_overrides.stand_in(served, run), parameters)


# -- the seam --------------------------------------------------------------------------------


def test_an_orchestrator_without_stubs_calls_the_task_itself() -> None:
    orchestrator = make()
    assert orchestrator.task_overrides.stand_in(charge, running_run(orchestrator)) is charge
    assert len(orchestrator.task_overrides) == 0  # no stand-in was installed


def test_a_stub_answers_for_its_key_on_its_orchestrator_only() -> None:
    stubbed, other = make(), make()
    stub_task(stubbed, charge, returns="stubbed")
    run = running_run(stubbed)
    chosen = stubbed.task_overrides.stand_in(charge, run)
    assert chosen is not charge
    assert (chosen.task_key, chosen.name, chosen.timeout_seconds) == (charge.task_key, "charge", 30)
    assert chosen.signature == charge.signature
    assert stubbed.task_overrides.stand_in(fetch, running_run(stubbed, fetch.task_key)) is fetch
    assert other.task_overrides.stand_in(charge, running_run(other)) is charge
    assert len(other.task_overrides) == 0


def test_the_table_refuses_a_second_stand_in_for_a_key_and_removes_only_its_own() -> None:
    table = make().task_overrides

    def first(served: Any, run: TaskRun) -> Any:
        return served  # pragma: no cover - never called

    def second(served: Any, run: TaskRun) -> Any:
        return served  # pragma: no cover - never called

    table.install("k", first)
    with pytest.raises(InvalidArgument, match="task key 'k' is stubbed on this orchestrator"):
        table.install("k", second)
    assert (table.remove("k", second), table.get("k")) == (False, first)
    assert (table.remove("k", first), table.get("k"), len(table)) == (True, None, 0)
    table.install("k", second)
    assert repr(table) == "<TaskOverrides keys=['k']>"
    assert table.clear() == (second,)


# -- behaviours ------------------------------------------------------------------------------


async def test_a_script_is_raised_or_returned_call_by_call_and_each_call_is_recorded() -> None:
    orchestrator = make()
    boom = ValueError("boom")
    stub = stub_task(orchestrator, charge, outcomes=[boom, KeyError, 42, None])
    run = running_run(orchestrator)
    with pytest.raises(ValueError, match="boom") as first:
        await call_as_worker(orchestrator, charge, run, bound("ada", 5))
    assert first.value is boom
    orchestrator.clock.advance(60)  # type: ignore[attr-defined]
    with pytest.raises(KeyError) as second:
        await call_as_worker(orchestrator, charge, run, bound("bob"))
    assert second.value.args == ()  # a class is raised as a fresh instance
    assert await call_as_worker(orchestrator, charge, run, bound("eve")) == 42
    assert await call_as_worker(orchestrator, charge, run, bound("eve")) is None
    assert stub.calls == (
        StubCall(parameters=bound("ada", 5), run_id=run.id, attempt=1, time=at(0)),
        StubCall(parameters=bound("bob"), run_id=run.id, attempt=1, time=at(60)),
        StubCall(parameters=bound("eve"), run_id=run.id, attempt=1, time=at(60)),
        StubCall(parameters=bound("eve"), run_id=run.id, attempt=1, time=at(60)),
    )
    assert stub.calls[0].parameters == {"customer": "ada", "cents": 5, "extra": (), "labels": {}}
    assert stub.call_count == 4


async def test_a_call_past_the_end_of_the_script_raises_stub_exhausted() -> None:
    orchestrator = make()
    stub = stub_task(orchestrator, fetch.task_key, outcomes=["only"])
    run = running_run(orchestrator, fetch.task_key)
    assert await call_as_worker(orchestrator, fetch, run, {}) == "only"
    with pytest.raises(StubExhausted) as caught:
        await call_as_worker(orchestrator, fetch, run, {})
    assert str(caught.value) == (
        f"the stub of task key {fetch.task_key!r} was called 2 times, but its script has 1 "
        f"outcome (call 2 executed task run {run.id}, attempt 1); add outcomes, or use "
        "returns=/raises= for every call"
    )
    assert isinstance(caught.value, AssertionError)
    assert stub.call_count == 2


A_VALUE = ValueError("a value")


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, None), ({"returns": "receipt"}, "receipt"), ({"returns": A_VALUE}, A_VALUE)],
    ids=["nothing-returns-none", "returns", "returns-an-exception-object"],
)
async def test_returns_answers_every_call(options: dict[str, Any], expected: object) -> None:
    orchestrator = make()
    stub = stub_task(orchestrator, charge, **options)
    run = running_run(orchestrator)
    values = [await call_as_worker(orchestrator, charge, run, bound("ada")) for _ in "abc"]
    assert values == [expected] * 3
    assert stub.call_count == 3


async def test_raises_answers_every_call_with_the_object_or_a_fresh_instance() -> None:
    orchestrator = make()
    error = RuntimeError("down")
    with stub_task(orchestrator, charge, raises=error):
        run = running_run(orchestrator)
        for _ in range(2):
            with pytest.raises(RuntimeError) as caught:
                await call_as_worker(orchestrator, charge, run, bound("ada"))
            assert caught.value is error
    with stub_task(orchestrator, charge, raises=TimeoutError):
        raised = []
        for _ in range(2):
            with pytest.raises(TimeoutError) as caught_class:
                await call_as_worker(orchestrator, charge, run, bound("ada"))
            raised.append(caught_class.value)
        assert raised[0] is not raised[1]


async def test_fn_replaces_the_function_with_the_tasks_arguments_sync_in_a_thread() -> None:
    orchestrator = make()
    seen: list[tuple[tuple[Any, ...], dict[str, Any], bool]] = []
    loop_thread = threading.get_ident()

    def fake(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs, threading.get_ident() == loop_thread))
        return "faked"

    stub = stub_task(orchestrator, charge, fn=fake)
    run = running_run(orchestrator)
    parameters = {"customer": "ada", "cents": 7, "extra": ("x",), "labels": {"k": "v"}}
    assert await call_as_worker(orchestrator, charge, run, parameters) == "faked"
    assert seen == [(("ada", 7, "x"), {"k": "v"}, False)]
    assert stub.calls[0].parameters == parameters
    assert orchestrator.task_overrides.stand_in(charge, run).is_async is False


async def test_an_async_fn_stands_in_for_a_sync_task_and_runs_in_the_loop() -> None:
    orchestrator = make()
    loop_thread = threading.get_ident()

    async def fake(customer: str, cents: int = 0, *extra: str, **labels: str) -> str:
        await orchestrator.clock.sleep(0)
        return f"{customer}:{cents}:{threading.get_ident() == loop_thread}"

    stub_task(orchestrator, charge, fn=fake)
    run = running_run(orchestrator)
    assert orchestrator.task_overrides.stand_in(charge, run).is_async is True
    assert await call_as_worker(orchestrator, charge, run, bound("ada")) == "ada:100:True"


async def test_a_scripted_stub_of_a_sync_task_is_called_in_the_loop() -> None:
    orchestrator = make()
    stub_task(orchestrator, charge, returns=1)
    assert orchestrator.task_overrides.stand_in(charge, running_run(orchestrator)).is_async is True


async def test_calls_from_many_threads_are_all_recorded() -> None:
    orchestrator = make()
    stub = stub_task(orchestrator, charge, fn=lambda customer, cents=0, *e, **k: customer)
    run = running_run(orchestrator)
    values = []

    async def one(n: int) -> None:
        values.append(await call_as_worker(orchestrator, charge, run, bound(str(n))))

    async with anyio.create_task_group() as group:
        for n in range(50):
            group.start_soon(one, n)
    assert sorted(values) == sorted(str(n) for n in range(50))
    assert sorted(call.parameters["customer"] for call in stub.calls) == sorted(values)


# -- undoing ---------------------------------------------------------------------------------


def test_undo_gives_the_key_back_and_is_idempotent() -> None:
    orchestrator = make()
    run = running_run(orchestrator)
    with stub_task(orchestrator, charge, returns=1) as stub:
        assert (stub.active, repr(stub)) == (
            True,
            f"<TaskStub {charge.task_key!r} returns=1 calls=0 active>",
        )
    assert (stub.active, orchestrator.task_overrides.stand_in(charge, run)) == (False, charge)
    stub.undo()  # again: nothing happens
    again = stub_task(orchestrator, charge, raises=KeyError)  # the key is free again
    assert repr(again) == f"<TaskStub {charge.task_key!r} raises=<class 'KeyError'> calls=0 active>"
    assert (stub.active, again.active) == (False, True)
    assert again.orchestrator is orchestrator


def test_undo_stubs_undoes_every_stub_of_one_orchestrator() -> None:
    orchestrator, other = make(), make()
    assert undo_stubs(orchestrator) == 0
    first = stub_task(orchestrator, charge, outcomes=[1, 2])
    second = stub_task(orchestrator, fetch, fn=lambda: "x")
    kept = stub_task(other, charge, returns=3)
    assert repr(first).endswith("outcomes=2 calls=0 active>")
    assert repr(second).startswith(f"<TaskStub {fetch.task_key!r} fn=")
    assert undo_stubs(orchestrator) == 2
    assert (first.active, second.active, kept.active) == (False, False, True)


def test_a_key_takes_one_stub_at_a_time() -> None:
    orchestrator = make()
    first = stub_task(orchestrator, charge, returns=1)
    with pytest.raises(InvalidArgument, match="is stubbed on this orchestrator already"):
        stub_task(orchestrator, charge.task_key, returns=2)
    assert first.active


BAD_STUBS: list[tuple[Callable[[Orchestrator], object], str]] = [
    (lambda o: stub_task(object(), charge), "stub_task needs an Orchestrator"),  # type: ignore[arg-type]
    (lambda o: stub_task(o, ""), "stubs a Task or a non-empty task key, got ''"),
    (lambda o: stub_task(o, charge.fn), "stubs a Task or a non-empty task key"),  # type: ignore[arg-type]
    (
        lambda o: stub_task(o, charge, returns=1, raises=KeyError),
        "give stub_task one of returns=, raises=, outcomes= or fn=, got returns and raises",
    ),
    (
        lambda o: stub_task(o, charge, outcomes=[1], fn=print),
        "got outcomes and fn",
    ),
    (
        lambda o: stub_task(o, charge, raises="boom"),  # type: ignore[arg-type]
        "raises= takes an exception or an exception class",
    ),
    (
        lambda o: stub_task(o, charge, raises=KeyboardInterrupt),  # type: ignore[arg-type]
        "raises= takes an exception",
    ),
    (lambda o: stub_task(o, charge, outcomes="abc"), "outcomes= takes a list of values"),
    (lambda o: stub_task(o, charge, outcomes=3), "outcomes= takes a list of values"),  # type: ignore[arg-type]
    (lambda o: stub_task(o, charge, outcomes=[]), "outcomes= is empty"),
    (
        lambda o: stub_task(o, charge, outcomes=[1, SystemExit()]),
        "the outcome SystemExit\\(\\) is a BaseException but not an Exception",
    ),
    (lambda o: stub_task(o, charge, outcomes=[GeneratorExit]), "is a BaseException but not"),
    (lambda o: stub_task(o, charge, fn="print"), "fn= takes a function, got 'print'"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("make_stub", "message"), BAD_STUBS, ids=[m for _, m in BAD_STUBS])
def test_bad_stubs_are_refused_and_change_nothing(
    make_stub: Callable[[Orchestrator], object], message: str
) -> None:
    orchestrator = make()
    with pytest.raises(InvalidArgument, match=message):
        make_stub(orchestrator)
    assert len(orchestrator.task_overrides) == 0


def test_a_class_or_none_in_a_script_is_returned() -> None:
    stub = stub_task(make(), charge, outcomes=[int, None])
    assert isinstance(stub, TaskStub)


# -- through task workers --------------------------------------------------------------------


RETRIED = task(retries=2, retry_delay_seconds=60)(charge.fn)


async def test_fail_fail_succeed_with_two_retries_completes_after_three_calls() -> None:
    orchestrator = make()
    boom = ValueError("boom")
    stub = stub_task(orchestrator, RETRIED, outcomes=[boom, boom, "receipt"])
    async with TaskWorker(RETRIED, orchestrator=orchestrator):
        future = orchestrator.submit(RETRIED, "ada", 500)
        await run_until_idle(orchestrator)
    assert future.result() == "receipt"
    assert [(call.attempt, call.time) for call in stub.calls] == [
        (1, at(0)),
        (2, at(60)),
        (3, at(120)),
    ]
    assert {call.run_id for call in stub.calls} == {future.task_run_id}
    assert stub.calls[0].parameters == {"customer": "ada", "cents": 500, "extra": (), "labels": {}}
    assert_state_times(
        orchestrator,
        future,
        [
            ("Scheduled", 0), ("Pending", 0), ("Running", 0), ("AwaitingRetry", 0),
            ("Pending", 60), ("Retrying", 60), ("AwaitingRetry", 60),
            ("Pending", 120), ("Retrying", 120), ("Completed", 120),
        ],
    )  # fmt: skip


async def test_without_retries_the_drain_raises_the_scripted_exception() -> None:
    orchestrator = make()
    boom = ValueError("boom")
    stub = stub_task(orchestrator, charge, outcomes=[boom])
    future = orchestrator.submit(charge, "ada")
    async with TaskWorker(charge, orchestrator=orchestrator):
        with pytest.raises(ValueError, match="boom") as caught:
            await run_until_idle(orchestrator)
    assert caught.value is boom
    assert str(future.task_run_id) in caught.value.__notes__[0]
    assert stub.call_count == 1
    assert future.state.name == "Failed"


def test_an_exhausted_script_fails_the_sync_drain() -> None:
    orchestrator = make()
    stub = stub_task(orchestrator, RETRIED, outcomes=[ValueError("once")])
    orchestrator.submit(RETRIED, "ada")
    # Call 2 raised StubExhausted, which was retried like any error; call 3 failed the run.
    with pytest.raises(StubExhausted, match="called 3 times, but its script has 1 outcome"):
        run_until_idle_sync(orchestrator, RETRIED)
    assert [call.attempt for call in stub.calls] == [1, 2, 3]
    assert orchestrator.clock.now() == at(120)


async def test_two_orchestrators_in_one_loop_do_not_share_stubs() -> None:
    stubbed, plain = make(), make()

    @task
    def where(name: str) -> str:
        if name == "stubbed":
            raise RealFunctionCalled("where('stubbed')")
        return f"real {name}"

    stub = stub_task(stubbed, where, returns="stub")
    async with (
        TaskWorker(where, orchestrator=stubbed),
        TaskWorker(where, orchestrator=plain),
    ):
        mine = stubbed.submit(where, "stubbed")
        theirs = plain.submit(where, "plain")
        await run_until_idle(stubbed)
        await run_until_idle(plain)
    assert (mine.result(), theirs.result()) == ("stub", "real plain")
    assert [call.run_id for call in stub.calls] == [mine.task_run_id]


async def test_a_stub_that_never_returns_trips_the_hang_guard() -> None:
    orchestrator = make()
    started = anyio.Event()

    async def never(*args: Any, **kwargs: Any) -> None:
        started.set()
        await anyio.sleep_forever()

    @task  # no timeout: nothing ends the call
    def stuck(customer: str) -> None:
        raise RealFunctionCalled(f"stuck({customer!r})")

    stub_task(orchestrator, stuck, fn=never)
    future = orchestrator.submit(stuck, "ada")
    with pytest.raises(DrainStalled, match="nothing is executing and nothing is due") as caught:
        async with TaskWorker(stuck, orchestrator=orchestrator):
            await run_until_idle(orchestrator)
    assert started.is_set()
    assert [(w.run_id, w.state_name) for w in caught.value.waiting] == [
        (future.task_run_id, "Running")
    ]
    assert future.state.name == "Crashed"  # the drain's error cancelled the worker


async def test_a_stub_undone_mid_test_gives_later_runs_the_real_function() -> None:
    orchestrator = make()

    @task
    async def greet(name: str) -> str:
        return f"hello {name}"

    async with TaskWorker(greet, orchestrator=orchestrator):
        with stub_task(orchestrator, greet, returns="stubbed"):
            first = orchestrator.submit(greet, "ada")
            await run_until_idle(orchestrator)
        second = orchestrator.submit(greet, "bob")
        await run_until_idle(orchestrator)
    values: list[object] = [first.result(), second.result()]
    if values[0] != "stubbed":
        raise RealFunctionCalled(values[0])
    assert values == ["stubbed", "hello bob"]
