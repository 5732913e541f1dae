"""The executor seam on its own: RemoteCall settles once, from any thread; tasks pickle by name."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

import anyio
import pytest

from orchestrator import task
from orchestrator.executors import ExecutorLost, RemoteCall, remote_traceback
from orchestrator.executors._shipping import pack_call, run_shipped, unpack_result


@task
def double(x: int) -> int:
    return 2 * x


@task
async def double_async(x: int) -> int:
    return 2 * x


@task
def raising(x: int) -> int:
    raise LookupError(f"nothing at {x}")


async def test_a_call_settled_from_another_thread_wakes_its_awaiter() -> None:
    call: RemoteCall[int] = RemoteCall(name="double")
    seen: list[bool] = []
    call.add_done_callback(lambda done: seen.append(done.done()))
    thread = threading.Thread(target=call.set_result, args=(42,))
    with anyio.fail_after(5):
        thread.start()
        assert await call.result() == 42
    thread.join()
    assert seen == [True]
    assert not call.set_exception(ValueError("late"))  # settled once
    assert await call.result() == 42
    assert repr(call) == "<RemoteCall double finished>"


async def test_an_exception_carries_its_remote_traceback() -> None:
    call: RemoteCall[int] = RemoteCall()
    call.set_exception(ValueError("bad"), "Traceback ...\nValueError: bad\n")
    with pytest.raises(ValueError, match="bad") as caught:
        await call.result()
    assert remote_traceback(caught.value) == "Traceback ...\nValueError: bad\n"
    assert remote_traceback(ValueError("local")) == ""


async def test_cancel_drops_a_call_that_has_not_started() -> None:
    dropped: RemoteCall[int] = RemoteCall(lambda: True)
    assert dropped.cancel()
    with pytest.raises(ExecutorLost, match="cancelled before it ran"):
        await dropped.result()
    running: RemoteCall[int] = RemoteCall(lambda: False)
    assert not running.cancel()
    assert not running.done()
    running.set_lost("the worker died")
    with pytest.raises(ExecutorLost, match="the worker died"):
        await running.result()
    assert not running.cancel()  # settled: nothing to cancel


async def test_a_failing_callback_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call: RemoteCall[int] = RemoteCall()
    seen: list[int] = []

    def fails(_: Any) -> None:
        raise RuntimeError("callback bug")

    call.add_done_callback(fails)
    call.add_done_callback(lambda _: seen.append(1))
    call.set_result(1)
    call.add_done_callback(lambda _: seen.append(2))  # already settled: called at once
    assert seen == [1, 2]
    assert "a RemoteCall callback failed" in caplog.text
    assert await call.result() == 1


def test_a_task_pickles_by_reference() -> None:
    assert pickle.loads(pickle.dumps(double)) is double
    assert copy.deepcopy(double) is double
    assert copy.copy(double) is double
    # A copy with other options loads back as the task its function is kept under.
    assert pickle.loads(pickle.dumps(double.with_options(retries=3))) is double


def test_a_task_no_module_name_reaches_refuses_to_pickle() -> None:
    @task
    def local() -> None:
        pass

    with pytest.raises(pickle.PicklingError, match="is a lambda or is defined inside a function"):
        pickle.dumps(local)
    with pytest.raises(pickle.PicklingError, match="is a lambda"):
        pickle.dumps(task(lambda: None))
    renamed = task(name="renamed")(double.fn)
    assert pickle.loads(pickle.dumps(renamed)) is double  # same function: loads as the task


def test_a_shipped_call_runs_sync_and_async_functions_and_sends_the_value_back() -> None:
    assert unpack_result(run_shipped(pack_call(double, {"x": 4}))) == 8
    assert unpack_result(run_shipped(pack_call(double_async, {"x": 5}))) == 10


def test_a_shipped_call_raises_with_the_traceback_where_it_ran() -> None:
    with pytest.raises(LookupError, match="nothing at 3") as caught:
        run_shipped(pack_call(raising, {"x": 3}))
    text = remote_traceback(caught.value)
    assert 'raise LookupError(f"nothing at {x}")' in text
    # The text travels with the exception.
    assert remote_traceback(pickle.loads(pickle.dumps(caught.value))) == text


def test_what_cannot_be_pickled_is_named() -> None:
    with pytest.raises(pickle.PicklingError, match="parameter 'x' of task 'double' cannot be"):
        pack_call(double, {"x": threading.Lock()})

    @task
    def local() -> None:
        pass

    with pytest.raises(pickle.PicklingError, match="task 'local' cannot be shipped"):
        pack_call(local, {})
