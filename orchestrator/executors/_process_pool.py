"""A process pool on this machine (stdlib ``concurrent.futures``), for CPU-bound sync tasks.

Each :meth:`ProcessPoolExecutor.submit` is one work item of a
:class:`concurrent.futures.ProcessPoolExecutor`, whose processes are started with the
``spawn`` (default) or ``forkserver`` method: never ``fork``, which copies this
process's threads and locks half-held. The pool is made at the first submission.

When a pool process dies (killed, out of memory, a crash in C code) the stdlib marks
the whole pool *broken* and ends every call it still holds with
:class:`~concurrent.futures.process.BrokenProcessPool`; here each of those calls ends
with :class:`~orchestrator.executors.ExecutorLost`, and the next submission goes to a
fresh pool. Nothing is stranded: every call is settled once, by its future's callback,
from the pool's own thread.

Those callbacks take none of this executor's locks: from Python 3.12 the stdlib runs
them while its manager thread holds the pool's shutdown lock, so a callback waiting on
a lock held by a submission that is shutting the broken pool down would deadlock both.
A broken pool is found when the stdlib refuses a submission to it, and shut down in a
thread of its own (never on the caller's, which may be an event loop).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import ProcessPoolExecutor as _StdlibPool
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final, Literal, ParamSpec, TypeVar, final

from .._core._check_basics import wrong_type, wrong_value
from .._core._checks import check_optional_count
from ._base import Executor, ExecutorLost, RemoteCall, remote_traceback

__all__ = ["ProcessPoolExecutor"]

T = TypeVar("T")
P = ParamSpec("P")

_CONTEXTS: Final = ("spawn", "forkserver")


def _settle(call: RemoteCall[Any], future: Future[Any]) -> None:
    """Settle ``call`` from its finished stdlib ``future`` (runs in the pool's thread)."""
    try:
        exc = future.exception()
    except CancelledError:
        call.set_lost("the call was cancelled before it ran")
        return
    if exc is None:
        call.set_result(future.result())
    elif isinstance(exc, BrokenProcessPool):
        call.set_lost(f"a process of the pool died while the call was in it ({exc})")
    else:
        # The stdlib chains the remote traceback's text as the cause.
        cause = exc.__cause__
        text = remote_traceback(exc) or getattr(cause, "tb", "")
        call.set_exception(exc, text if isinstance(text, str) else "")


@final
class ProcessPoolExecutor(Executor):
    """Runs functions in a pool of processes on this machine; replaced when it breaks.

    Args:
        max_workers: the most processes at once (None: the number of CPUs).
        context: how processes start: ``"spawn"`` (a fresh interpreter, the default) or
            ``"forkserver"`` (forked from a clean server process; not on Windows).

    Raises:
        InvalidArgument: ``max_workers`` not None or an integer >= 1, or ``context``
            not one of the two methods.
    """

    __slots__ = ("_closed", "_context", "_lock", "_max_workers", "_pool", "_pools", "_retiring")

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        context: Literal["spawn", "forkserver"] = "spawn",
    ) -> None:
        max_workers = check_optional_count(max_workers, "max_workers", minimum=1)
        if not isinstance(context, str):
            raise wrong_type("context", context, "'spawn' or 'forkserver'")
        if context not in _CONTEXTS:
            raise wrong_value("context", context, "'spawn' or 'forkserver'")
        if context not in multiprocessing.get_all_start_methods():
            raise wrong_value("context", context, "a start method this platform has")
        self._max_workers = max_workers
        self._context = context
        self._lock = threading.Lock()
        self._pool: _StdlibPool | None = None
        self._retiring: list[threading.Thread] = []
        self._closed = False
        self._pools = 0

    @property
    def max_workers(self) -> int:
        """The most processes at once."""
        return self._max_workers or os.cpu_count() or 1

    @property
    def pools_started(self) -> int:
        """How many pools were started so far (a broken pool is replaced by a new one)."""
        return self._pools

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> RemoteCall[T]:
        """Start ``fn(*args, **kwargs)`` in a pool process; return its call at once.

        ``fn`` must be importable by reference (a module-level function, or a task);
        it and its arguments are pickled in a thread of the pool, so a pickling error
        ends the call (its ``result()`` raises it) and the pool keeps serving.

        Raises:
            ExecutorLost: the executor is closed.
        """
        with self._lock:
            if self._closed:
                raise ExecutorLost("the process pool executor is closed")
            pool = self._pool or self._new_pool()
            try:
                future = pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:  # a process died: retire the pool, submit to a new one
                self._retire(pool)
                future = self._new_pool().submit(fn, *args, **kwargs)
        call: RemoteCall[T] = RemoteCall(future.cancel, name=getattr(fn, "__name__", ""))
        future.add_done_callback(functools.partial(_settle, call))
        return call

    def _new_pool(self) -> _StdlibPool:
        """Start a pool with all its processes and make it the one to submit to (locked)."""
        pool = _StdlibPool(
            max_workers=self._max_workers,
            mp_context=multiprocessing.get_context(self._context),
        )
        # Start every process now, with one no-op call each. The stdlib starts spawned
        # processes on demand, and its manager thread waits on the processes it knew
        # when it began to wait: a process started meanwhile that dies is only noticed
        # at the next result (seconds later, or never), so the calls it broke would hang
        # until then. Once a result comes back every process is known.
        for _ in range(self.max_workers):
            pool.submit(int)
        self._pool = pool
        self._pools += 1
        return pool

    def _retire(self, pool: _StdlibPool) -> None:
        """Shut a broken ``pool`` down in a thread of its own (under the lock).

        The stdlib's manager thread is still ending the pool's calls and reaping its
        processes, under the pool's shutdown lock; waiting for that here would hold up
        the caller, which may be an event loop.
        """
        self._retiring = [thread for thread in self._retiring if thread.is_alive()]
        retire = threading.Thread(
            target=pool.shutdown,
            kwargs={"wait": True, "cancel_futures": True},
            name="orchestrator-retire-pool",
            daemon=True,
        )
        retire.start()
        self._retiring.append(retire)

    def close(self) -> None:
        """Stop the pool: queued calls end lost, running ones finish first; idempotent."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            retiring, self._retiring = self._retiring, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for thread in retiring:
            thread.join()

    def __repr__(self) -> str:
        return f"ProcessPoolExecutor(max_workers={self.max_workers}, context={self._context!r})"
