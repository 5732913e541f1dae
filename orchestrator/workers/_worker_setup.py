"""Checking a task worker's arguments, and reaching its event loop from anywhere."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from .._core._errors import ArgumentTypeError, ArgumentValueError
from .._core._tasks import Task
from .._core._wakeup import current_async_library

__all__ = ["Post", "check_executor", "check_tasks", "loop_poster"]

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


def check_executor(executor: object) -> None:
    """Refuse an ``executor`` that is neither None nor has ``submit`` and ``close``.

    Raises:
        ArgumentTypeError: not None, and not an :class:`orchestrator.executors.Executor`.
    """
    if executor is None:
        return
    if not callable(getattr(executor, "submit", None)) or not callable(
        getattr(executor, "close", None)
    ):
        raise ArgumentTypeError(
            f"executor must be None or an orchestrator.executors.Executor (with submit and "
            f"close), such as ProcessPoolExecutor(), got {executor!r}"
        )
