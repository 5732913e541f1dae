"""Checking a task worker's arguments, and reaching its event loop from anywhere."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from .._core._errors import ArgumentTypeError, ArgumentValueError
from .._core._tasks import Task
from .._core._wakeup import current_async_library

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..executors import Executor

    #: What a worker's ``executor`` option takes: one executor for every task, or
    #: executors by task (or task key), the tasks left out running in this process.
    ExecutorOption: TypeAlias = (
        Executor | Mapping[Task[..., Any], Executor] | Mapping[str, Executor]
    )

__all__ = ["ExecutorOption", "Post", "check_executor", "check_tasks", "loop_poster"]

#: Runs a callback in the worker's event loop, soon; safe from any thread and from a
#: signal handler.
Post = Callable[[Callable[[], None]], None]


def loop_poster() -> Post:
    """Return a signal-safe, thread-safe way to run a callback in the current event loop."""
    if current_async_library() == "trio":
        import trio  # loaded only when it is the running backend

        token = trio.lowlevel.current_trio_token()

        def post_trio(callback: Callable[[], None]) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # the loop is gone
                token.run_sync_soon(callback)

        return post_trio
    loop = asyncio.get_running_loop()

    def post_asyncio(callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(callback)

    return post_asyncio


def check_tasks(tasks: tuple[object, ...]) -> dict[str, Task[..., Any]]:
    """Return the tasks by key; refuse non-tasks, no tasks, and two tasks with one key.

    Raises:
        ArgumentTypeError: an argument is not a Task (also a TypeError).
        ArgumentValueError: no tasks, or two different tasks share a key.
    """
    by_key: dict[str, Task[..., Any]] = {}
    for task in tasks:
        if type(task) is not Task:
            raise ArgumentTypeError(
                f"TaskWorker serves tasks made with @task, got {task!r}; decorate the "
                "function with @task first"
            )
        other = by_key.get(task.task_key)
        if other is not None and other is not task:
            raise ArgumentValueError(
                f"{other!r} and {task!r} share the task key {task.task_key!r}; serve one of "
                "them (runs are found by key), or give one another task_key"
            )
        by_key[task.task_key] = task
    if not by_key:
        raise ArgumentValueError("a TaskWorker needs at least one task to serve")
    return by_key


def _is_executor(value: object) -> bool:
    return callable(getattr(value, "submit", None)) and callable(getattr(value, "close", None))


def check_executor(
    executor: object, tasks: Mapping[str, Task[..., Any]]
) -> tuple[Executor | None, dict[str, Executor]]:
    """Return the default executor and the executors per task key of a worker's ``executor``.

    ``executor`` is None, an executor, or a mapping from served tasks (or their keys) to
    executors: the tasks it names run there, the others in this process.

    Raises:
        ArgumentTypeError: not None, an executor or such a mapping.
        ArgumentValueError: the mapping names a task the worker does not serve.
    """
    if executor is None:
        return None, {}
    if _is_executor(executor):
        return cast("Executor", executor), {}
    if not isinstance(executor, Mapping):
        raise ArgumentTypeError(
            "executor must be None, an orchestrator.executors.Executor (with submit and "
            "close) such as ProcessPoolExecutor(), or a mapping from tasks to executors, "
            f"got {executor!r}"
        )
    by_key: dict[str, Executor] = {}
    for named, value in executor.items():
        key = named.task_key if isinstance(named, Task) else named
        if not isinstance(key, str):
            raise ArgumentTypeError(f"executor's keys must be tasks or task keys, got {named!r}")
        if key not in tasks or (isinstance(named, Task) and tasks[key] is not named):
            raise ArgumentValueError(
                f"executor names {named!r}, which this worker does not serve (it serves "
                f"{', '.join(sorted(tasks))})"
            )
        if not _is_executor(value):
            raise ArgumentTypeError(
                f"executor[{key!r}] must be an orchestrator.executors.Executor (with submit "
                f"and close), got {value!r}"
            )
        by_key[key] = value
    return None, by_key
