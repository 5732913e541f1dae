"""State hooks of tasks and flows: which run, when, with what, and what a failing hook does."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from orchestrator import (
    Cancelled,
    InvalidArgument,
    Orchestrator,
    State,
    VirtualClock,
    flow,
    get_run_context,
    task,
)
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker

Seen = list[tuple[str, ...]]


def recorder(seen: Seen, label: str = "") -> Any:
    """A hook recording (label, owner name, run name, state name, the context's run id)."""

    def hook(owner: Any, run: Any, state: State) -> None:
        context: Any = get_run_context()
        run_id = getattr(context, "task_run_id", None) or context.flow_run_id
        assert run_id == run.id  # the hook runs in its run's context
        seen.append((label, owner.name, state.name))

    return hook


def async_recorder(seen: Seen, label: str) -> Any:
    async def hook(owner: Any, run: Any, state: State) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append((label, owner.name, state.name))

    return hook


# -- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["on_completion", "on_failure", "on_running"])
@pytest.mark.parametrize("bad", [print, "hook", {"a": print}, 3])
def test_a_task_hook_option_must_be_a_list_of_functions(option: str, bad: object) -> None:
    with pytest.raises(TypeError, match=option) as caught:
        task(**{option: bad})(lambda: None)  # type: ignore[call-overload]
    assert isinstance(caught.value, InvalidArgument)


@pytest.mark.parametrize(
    "option", ["on_completion", "on_failure", "on_cancellation", "on_crashed", "on_running"]
)
def test_a_flow_hook_option_must_be_a_list_of_functions(option: str) -> None:
    with pytest.raises(TypeError, match=f"{option}=\\[hook\\]"):
        flow(**{option: print})(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=f"every hook in {option}"):
        flow(**{option: [print, "not callable"]})(lambda: None)  # type: ignore[call-overload]


def test_tuples_are_lists_and_with_options_keeps_or_replaces_hooks() -> None:
    seen: Seen = []
    first = recorder(seen, "first")
    made = task(on_completion=(first,))(lambda: 1)
    assert made.on_completion_hooks == (first,)
    assert made.with_options(name="other").on_completion_hooks == (first,)
    assert made.with_options(on_completion=None).on_completion_hooks == ()


def test_the_decorator_forms_add_hooks_in_order() -> None:
    seen: Seen = []

    @task
    def one() -> int:
        return 1

    @one.on_completion
    def first(owner: Any, run: Any, state: State) -> None:
        seen.append(("first",))

    @one.on_completion
    def second(owner: Any, run: Any, state: State) -> None:
        seen.append(("second",))

    with Orchestrator(VirtualClock()):
        assert one() == 1
    assert seen == [("first",), ("second",)]
    assert one.with_options(name="copy").on_completion_hooks == (first, second)
    with pytest.raises(TypeError, match="on_failure"):
        one.on_failure("not a function")  # type: ignore[type-var]


# -- inline task runs ---------------------------------------------------------------------------
def test_an_inline_task_calls_running_then_completion_hooks_with_its_records() -> None:
    seen: Seen = []
    runs: list[Any] = []

    def keep_run(owner: Any, run: Any, state: State) -> None:
        runs.append((owner, run.id, run.state.name, state.timestamp))

    @task(on_running=[recorder(seen, "running")], on_completion=[recorder(seen, "done"), keep_run])
    def add(x: int, y: int) -> int:
        return x + y

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator:
        assert add(1, 2) == 3
    (run,) = orchestrator.read_task_runs()
    assert seen == [("running", "add", "Running"), ("done", "add", "Completed")]
    # The hook gets the task, the committed run record and the committed state.
    assert run.state is not None
    assert runs == [(add, run.id, "Completed", run.state.timestamp)]


def test_failure_hooks_run_once_after_the_last_retry_and_running_hooks_each_attempt() -> None:
    seen: Seen = []

    @task(
        retries=2,
        retry_delay_seconds=5,
        on_running=[recorder(seen, "running")],
        on_failure=[recorder(seen, "failed")],
        on_completion=[recorder(seen, "done")],
    )
    def broken() -> None:
        raise ValueError("nope")

    with Orchestrator(VirtualClock(), autojump=True):
        state = broken(return_state=True)
    assert state.name == "Failed"
    assert seen == [
        ("running", "broken", "Running"),
        ("running", "broken", "Retrying"),
        ("running", "broken", "Retrying"),
        ("failed", "broken", "Failed"),
    ]


def test_a_cache_hit_calls_the_completion_hooks_with_the_cached_state() -> None:
    seen: Seen = []

    @task(cache_key_fn=lambda parameters: "k", on_completion=[recorder(seen, "done")])
    def cached() -> int:
        return 7

    with Orchestrator(VirtualClock()):
        assert cached() == 7
        assert cached() == 7
    assert seen == [("done", "cached", "Completed"), ("done", "cached", "Cached")]


def test_a_raising_hook_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    seen: Seen = []

    def broken_hook(owner: Any, run: Any, state: State) -> None:
        raise RuntimeError("hook broke")

    @task(on_completion=[broken_hook, recorder(seen, "after")])
    def fine() -> str:
        return "ok"

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator, caplog.at_level(logging.ERROR, logger="orchestrator.runs"):
        assert fine() == "ok"
    (run,) = orchestrator.read_task_runs()
    assert run.state is not None
    assert run.state.name == "Completed"
    assert seen == [("after", "fine", "Completed")]  # the next hook still ran
    (record,) = [r for r in caplog.records if r.name == "orchestrator.runs"]
    assert "on_completion hook" in record.getMessage()
    assert "broken_hook" in record.getMessage()
    assert getattr(record, "task_run_id", None) == run.id  # the record names its run
    # The line is kept on the run, with its traceback.
    (line,) = orchestrator.read_logs(task_run_id=run.id)
    assert line.level_name == "ERROR"
    assert "broken_hook" in line.message
    assert "RuntimeError: hook broke" in line.message
    assert record.exc_info is not None
    assert "hook broke" in str(record.exc_info[1])


def test_an_async_hook_of_a_sync_task_is_awaited() -> None:
    seen: Seen = []

    @task(on_completion=[async_recorder(seen, "async")])
    def sync_task() -> int:
        return 1

    with Orchestrator(VirtualClock()):
        sync_task()
    assert seen == [("async", "sync_task", "Completed")]


async def test_an_async_task_awaits_its_async_hooks() -> None:
    seen: Seen = []

    @task(on_running=[async_recorder(seen, "running")], on_failure=[async_recorder(seen, "x")])
    async def failing() -> None:
        raise KeyError("k")

    async with Orchestrator(VirtualClock()):
        state = await failing(return_state=True)
    assert state.name == "Failed"
    assert seen == [("running", "failing", "Running"), ("x", "failing", "Failed")]


# -- inside flows -------------------------------------------------------------------------------
def test_submitted_tasks_finish_their_hooks_before_the_flow_ends() -> None:
    seen: Seen = []

    @task(on_completion=[recorder(seen, "task")])
    def double(x: int) -> int:
        return 2 * x

    @flow(on_completion=[recorder(seen, "flow")], on_running=[recorder(seen, "flow-running")])
    def pipeline() -> list[int]:
        return [future.result() for future in double.map([1, 2, 3])]

    with Orchestrator(VirtualClock()):
        assert pipeline() == [2, 4, 6]
    assert seen[0] == ("flow-running", "pipeline", "Running")
    assert sorted(seen[1:4]) == [("task", "double", "Completed")] * 3
    assert seen[4] == ("flow", "pipeline", "Completed")


def test_flow_failure_hooks_run_after_the_last_retry() -> None:
    seen: Seen = []

    @flow(
        retries=1,
        on_running=[recorder(seen, "running")],
        on_failure=[recorder(seen, "failed")],
    )
    def broken() -> None:
        raise ValueError("x")

    with Orchestrator(VirtualClock(), autojump=True):
        assert broken(return_state=True).name == "Failed"
    assert seen == [
        ("running", "broken", "Running"),
        ("running", "broken", "Retrying"),
        ("failed", "broken", "Failed"),
    ]


def test_a_flow_returning_a_cancelled_state_calls_its_cancellation_hooks() -> None:
    seen: Seen = []

    @flow(on_cancellation=[recorder(seen, "cancelled")], on_failure=[recorder(seen, "failed")])
    def gives_up() -> State:
        return Cancelled(message="not today")

    with Orchestrator(VirtualClock()):
        assert gives_up(return_state=True).name == "Cancelled"
    assert seen == [("cancelled", "gives_up", "Cancelled")]


class Interrupted(BaseException):
    """Torn down from outside: the flow run crashes."""


def test_a_crashed_flow_calls_its_crash_hooks_and_the_interrupt_goes_on() -> None:
    seen: Seen = []

    @flow(on_crashed=[recorder(seen, "crashed")])
    def torn() -> None:
        raise Interrupted

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator, pytest.raises(Interrupted):
        torn()
    assert seen == [("crashed", "torn", "Crashed")]
    (run,) = orchestrator.read_flow_runs()
    assert run.state is not None
    assert run.state.name == "Crashed"


async def test_an_async_flow_awaits_its_hooks_and_a_raising_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: Seen = []

    async def broken(owner: Any, run: Any, state: State) -> None:
        raise RuntimeError("flow hook broke")

    @flow(on_completion=[broken, async_recorder(seen, "done")])
    async def pipeline() -> int:
        return 5

    async with Orchestrator(VirtualClock()):
        with caplog.at_level(logging.ERROR, logger="orchestrator.runs"):
            assert await pipeline() == 5
    assert seen == [("done", "pipeline", "Completed")]
    assert any("flow hook broke" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# -- background runs ----------------------------------------------------------------------------
async def test_a_background_run_calls_its_hooks_on_the_worker() -> None:
    seen: Seen = []

    @task(
        retries=1,
        on_running=[recorder(seen, "running")],
        on_completion=[recorder(seen, "done"), async_recorder(seen, "async")],
        on_failure=[recorder(seen, "failed")],
    )
    def flaky(fail: bool) -> str:
        if fail and get_run_context().task_run.run_count == 1:  # type: ignore[union-attr]
            raise ConnectionError("first try")
        return "ok"

    orchestrator = Orchestrator(VirtualClock())
    async with orchestrator, TaskWorker(flaky, orchestrator=orchestrator):
        future = flaky.delay(True)
        await run_until_idle(orchestrator)
    assert future.result() == "ok"
    assert seen == [
        ("running", "flaky", "Running"),
        ("running", "flaky", "Retrying"),
        ("done", "flaky", "Completed"),
        ("async", "flaky", "Completed"),
    ]


async def test_a_background_cache_hit_calls_the_completion_hooks() -> None:
    seen: Seen = []

    @task(cache_key_fn=lambda parameters: "same", on_completion=[recorder(seen, "done")])
    def cached() -> int:
        return 3

    orchestrator = Orchestrator(VirtualClock())
    async with orchestrator, TaskWorker(cached, orchestrator=orchestrator):
        cached.delay()
        await run_until_idle(orchestrator)
        cached.delay()
        await run_until_idle(orchestrator)
    assert seen == [("done", "cached", "Completed"), ("done", "cached", "Cached")]
