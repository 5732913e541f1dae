"""Shipping a task call to an executor and its result back, with errors that say what failed.

A task worker hands an executor one module-level function, :func:`run_shipped`, with
one argument: the bytes of ``(task, parameters)``, pickled here by :func:`pack_call`.
Pickling here, not in the executor's own machinery, means that a task or an argument
that cannot ship fails at once, in this process, with a message naming the task and
the parameter; the executor only moves bytes. On the other side :func:`run_shipped`
unpickles them (importing the task's module), calls the function (an async one under
:func:`asyncio.run`), and pickles the value itself, so an unpicklable result is a clear
error of that run too; :func:`unpack_result` reads it back here.

An exception the function raises goes back through the executor as itself, carrying
the text of its traceback where it was raised (see
:func:`~orchestrator.executors.remote_traceback`).
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ._base import attach_remote_traceback

if TYPE_CHECKING:
    from .._core._tasks import Task

__all__ = ["pack_call", "run_shipped", "unpack_result"]

_PROTOCOL: Final = pickle.HIGHEST_PROTOCOL


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def pack_call(task: Task[..., Any], parameters: Mapping[str, Any]) -> bytes:
    """Pickle ``task`` (by reference) and its ``parameters`` (by value) for an executor.

    Raises:
        pickle.PicklingError: the task or a parameter cannot be pickled; the message
            names which.
    """
    try:
        return pickle.dumps((task, dict(parameters)), protocol=_PROTOCOL)
    except Exception as exc:
        reason = exc
    try:  # which one? (only on failure: the common path pickles once)
        pickle.dumps(task, protocol=_PROTOCOL)
    except Exception as exc:
        raise pickle.PicklingError(
            f"task {task.name!r} cannot be shipped to the executor: {_why(exc)}"
        ) from exc
    for name, value in parameters.items():
        try:
            pickle.dumps(value, protocol=_PROTOCOL)
        except Exception as exc:
            raise pickle.PicklingError(
                f"parameter {name!r} of task {task.name!r} cannot be pickled to ship it to "
                f"the executor: {_why(exc)}"
            ) from exc
    raise pickle.PicklingError(
        f"the parameters of task {task.name!r} cannot be pickled to ship them to the "
        f"executor: {_why(reason)}"
    ) from reason


def run_shipped(payload: bytes) -> bytes:
    """Run a packed task call where the executor runs it; return the pickled value.

    Raises:
        pickle.PicklingError: the value cannot be pickled to send it back.
        Exception: whatever the function raised, with its traceback's text attached.
    """
    task, parameters = pickle.loads(payload)
    try:
        value = task.call_with_parameters(parameters)
        if inspect.iscoroutine(value):
            value = asyncio.run(value)
    except BaseException as exc:
        attach_remote_traceback(exc, traceback.format_exc())
        raise
    try:
        return pickle.dumps(value, protocol=_PROTOCOL)
    except Exception as exc:
        raise pickle.PicklingError(
            f"the result of task {task.name!r} cannot be pickled to send it back from the "
            f"executor: {type(value).__name__} value: {_why(exc)}"
        ) from None


def unpack_result(packed: bytes) -> Any:
    """The value :func:`run_shipped` returned, unpickled."""
    return pickle.loads(packed)
