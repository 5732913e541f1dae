"""The Dask executor: task functions run on the workers of a ``distributed`` cluster.

:class:`DaskExecutor` takes a ``distributed.Client`` (a synchronous one: the default,
made outside the event loop) or a scheduler address (then it makes its own client and
closes it with itself). ``distributed`` is an optional extra, imported only when an
executor is made: ``pip install 'inproc-orchestrator[dask]'``.

Each :meth:`~DaskExecutor.submit` is one Dask task with a fresh key (``pure=False`` in
Dask's words): two submissions of the same function and arguments are two runs, so a
retry never gets a result Dask kept from a failed attempt.

Nothing waits in a thread and nothing polls: the client's own done callback (run in
Dask's callback thread when the task finishes, errs or is cancelled) fetches the outcome
and settles the :class:`~orchestrator.executors.RemoteCall`, whose awaiter is woken
across threads. A Dask worker that dies with the task on it: the scheduler reschedules
the task on another worker up to ``distributed.scheduler.allowed-failures`` times, and
then gives up with ``KilledWorker``, which settles the call with
:class:`~orchestrator.executors.ExecutorLost`. Set ``allowed-failures`` to 0 on the
scheduler to have a worker's death end the run *Crashed* at once, its retry left to the
task's own retry policy (the tests and ``examples/scale_out.py`` do); with Dask's default
(3) Dask runs the same attempt again on another worker, unseen by the orchestrator.

A submitted call is never dropped by :meth:`RemoteCall.cancel`: Dask cannot say whether
a task has started on a worker, and dropping a started one would hide when it really
ends (a timed-out run's retry waits for that). The call runs to its end and its done
callbacks tell when.
"""

from __future__ import annotations

import functools
import importlib
import pickle
import threading
import traceback
import uuid
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, final

from .._core._checks import wrong_type, wrong_value
from ._base import Executor, ExecutorLost, RemoteCall, remote_traceback

if TYPE_CHECKING:
    import distributed

__all__ = ["DaskExecutor"]

T = TypeVar("T")
P = ParamSpec("P")

#: What to install when ``distributed`` is missing.
INSTALL: Final = "pip install 'inproc-orchestrator[dask]'"


def _distributed() -> ModuleType:
    """The ``distributed`` package, or an ImportError saying how to install it."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(
            f"DaskExecutor needs the 'distributed' package (Dask's cluster): {INSTALL}"
        ) from exc


def _name_of(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name else type(fn).__name__


@final
class DaskExecutor(Executor):
    """Runs task functions on a Dask cluster through a ``distributed.Client``.

    Args:
        client_or_address: a synchronous ``distributed.Client`` (the caller keeps owning
            it: :meth:`close` leaves it open), or a scheduler address such as
            ``"tcp://10.0.0.5:8786"`` (a client is made now, connecting at once, and
            closed by :meth:`close`).

    Raises:
        ImportError: ``distributed`` is not installed (the message says how to).
        InvalidArgument: ``client_or_address`` is neither, an empty address, or an
            asynchronous or closed client.
        OSError: the scheduler at the address could not be reached.
    """

    __slots__ = (
        "_address",
        "_client",
        "_closed",
        "_killed_worker",
        "_lock",
        "_owns_client",
        "_pending",
    )

    def __init__(self, client_or_address: distributed.Client | str) -> None:
        dask = _distributed()
        if isinstance(client_or_address, str):
            if not client_or_address:
                raise wrong_value("client_or_address", client_or_address, _EXPECTED)
            client = dask.Client(client_or_address, set_as_default=False)
            owns = True
        elif isinstance(client_or_address, dask.Client):
            client = client_or_address
            owns = False
            if client.asynchronous:
                raise wrong_value(
                    "client_or_address",
                    client,
                    "a synchronous Client (asynchronous=False, the default: make it outside "
                    "the event loop) or a scheduler address",
                )
            if client.status in ("closing", "closed"):
                raise wrong_value("client_or_address", client, "an open Client")
        else:
            raise wrong_type("client_or_address", client_or_address, _EXPECTED)
        self._client: distributed.Client = client
        self._address: str = str(getattr(client.scheduler, "address", None) or "?")
        self._owns_client = owns
        self._killed_worker: type[BaseException] = dask.KilledWorker
        self._lock = threading.Lock()
        self._closed = False
        # The calls in flight, with their Dask futures: settled lost on close.
        self._pending: dict[RemoteCall[Any], distributed.Future[Any]] = {}

    @property
    def client(self) -> distributed.Client:
        """The ``distributed.Client`` the calls go through."""
        return self._client

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> RemoteCall[T]:
        """Start ``fn(*args, **kwargs)`` on a Dask worker; return its call at once.

        ``fn`` and the arguments are pickled (with Dask's cloudpickle): a module-level
        function or a :class:`~orchestrator.Task` ships by reference, so the workers must
        be able to import its module. Thread-safe.

        Raises:
            ExecutorLost: the executor is closed.
            pickle.PicklingError: ``fn`` or an argument cannot be pickled (named).
        """
        name = _name_of(fn)
        # Keywords go in a partial: a parameter called key, pure or workers would
        # otherwise be taken by client.submit itself. A fresh key makes each call distinct.
        target: Callable[..., T] = functools.partial(fn, **kwargs) if kwargs else fn
        key = f"{name}-{uuid.uuid4().hex}"
        with self._lock:
            if self._closed:
                raise ExecutorLost("this DaskExecutor is closed: it runs no more calls")
        client = self._client
        try:
            future: distributed.Future[T] = client.submit(target, *args, key=key, pure=False)
        except Exception as exc:
            if client.status in ("closing", "closed"):
                raise ExecutorLost(f"the Dask client is closed: {exc}") from exc
            raise _shipping_error(fn, args, kwargs, exc) from exc
        call: RemoteCall[T] = RemoteCall(_keep_running, name=name)
        with self._lock:
            self._pending[call] = future
        call.add_done_callback(self._forget)
        future.add_done_callback(functools.partial(self._settle, call))
        return call

    def _forget(self, call: RemoteCall[Any]) -> None:
        with self._lock:
            self._pending.pop(call, None)

    def _settle(self, call: RemoteCall[T], future: distributed.Future[T]) -> None:
        """Settle ``call`` from its finished Dask ``future`` (in Dask's callback thread)."""
        status = future.status
        try:
            if status == "finished":
                call.set_result(future.result())
                return
            if status != "error":  # cancelled (the client closed), or its data lost
                call.set_lost(f"Dask reported the call {status}")
                return
            error = future.exception()
            if isinstance(error, self._killed_worker):
                call.set_lost(f"the Dask worker running the call died: {error}")
                return
            call.set_exception(error, _traceback_text(error, future))
        except BaseException as exc:  # fetching the outcome failed
            if self._client.status in ("closing", "closed"):
                call.set_lost(f"the Dask client closed before the outcome came back: {exc!r}")
            else:
                call.set_exception(exc)

    def close(self) -> None:
        """Stop taking calls; close the client if this executor made it. Idempotent.

        Calls still in flight end with :class:`~orchestrator.executors.ExecutorLost`; a
        client given by the caller is left open, and those calls' Dask futures released.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending, self._pending = dict(self._pending), {}
        for call in pending:
            call.set_lost("the DaskExecutor was closed")
        if self._owns_client:
            self._client.close()
        elif pending:
            self._client.cancel(list(pending.values()))

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<DaskExecutor {self._address}{state}>"


_EXPECTED: Final = "a distributed.Client or a scheduler address"


def _keep_running() -> bool:
    """A Dask call is never dropped once submitted (see the module docstring)."""
    return False


def _traceback_text(error: BaseException, future: distributed.Future[Any]) -> str:
    """The text of the traceback where ``error`` was raised: its own, or Dask's."""
    text = remote_traceback(error)
    if text:
        return text
    tb = future.traceback()
    if not isinstance(tb, TracebackType):
        return ""
    lines = traceback.format_exception(type(error), error, tb)
    return "".join(lines)


def _shipping_error(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception
) -> Exception:
    """The error of a submission Dask refused: name what cannot be pickled, if that's it."""
    cloudpickle = importlib.import_module("cloudpickle")
    things: list[tuple[str, object]] = [(f"function {_name_of(fn)!r}", fn)]
    things += [(f"argument {index}", value) for index, value in enumerate(args)]
    things += [(f"argument {name!r}", value) for name, value in kwargs.items()]
    for what, value in things:
        try:
            cloudpickle.dumps(value)
        except Exception as why:
            return pickle.PicklingError(
                f"{what} of the call to {_name_of(fn)!r} cannot be pickled to ship it to "
                f"Dask: {type(why).__name__}: {why}"
            )
    return exc
