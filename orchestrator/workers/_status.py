"""A task worker's status: a frozen record, and a tiny HTTP server that serves it as JSON.

``GET /status`` answers 200 with :meth:`TaskWorkerStatus.to_dict` as JSON; any other
path is 404 and any other method 405. The server runs in the worker's task group
(asyncio and trio alike), one request per connection, with the timeouts, the cap on
connections and the standard library's parsing of :mod:`orchestrator.workers._http`.
It binds 127.0.0.1 only: the status is for this machine.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final, final

import attrs

from .._core._checks import check_port
from .._core._summary import format_time, summary_html
from ._http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS, HttpServer, check_limits

__all__ = ["StatusServer", "TaskWorkerStatus"]

logger: Final = logging.getLogger("orchestrator.workers")

_HOST: Final = "127.0.0.1"


@final
@attrs.frozen(kw_only=True, repr=False)
class TaskWorkerStatus:
    """What a task worker is doing, at one moment.

    Attributes:
        client_id: the worker's id (``<host>-<pid>-<suffix>``).
        started_at: when it started serving (orchestrator clock), None if it is not.
        stopping: whether it was told to stop and is finishing its runs.
        limit: the most runs it holds at once (None: no limit).
        current: the runs it holds now.
        available: how many more it could take now (None without a limit).
        tasks: the task keys it serves, sorted.
        finished: runs it finished, per task key.
        in_flight: the runs it holds, per task key: run id -> when it claimed the run.
        abandoned: the calls it left running past their timeout (a sync function's thread
            cannot be stopped), each still taking one of its slots: run id -> since when.
            The run does not start again before its call returns.
    """

    client_id: str
    started_at: datetime | None
    stopping: bool
    limit: int | None
    current: int
    available: int | None
    tasks: tuple[str, ...]
    finished: Mapping[str, int]
    in_flight: Mapping[str, Mapping[uuid.UUID, datetime]]
    abandoned: Mapping[uuid.UUID, datetime] = attrs.field(factory=lambda: MappingProxyType({}))

    @classmethod
    def capture(
        cls,
        *,
        client_id: str,
        started_at: datetime | None,
        stopping: bool,
        limit: int | None,
        current: int,
        available: int | None,
        tasks: Iterable[str],
        finished: Mapping[str, int],
        in_flight: Mapping[str, Mapping[uuid.UUID, datetime]],
        abandoned: Mapping[uuid.UUID, datetime] | None = None,
    ) -> TaskWorkerStatus:
        """Build a status from live counters, copying them (later changes do not show)."""
        return cls(
            client_id=client_id,
            started_at=started_at,
            stopping=stopping,
            limit=limit,
            current=current,
            available=available,
            tasks=tuple(sorted(tasks)),
            finished=MappingProxyType(dict(finished)),
            in_flight=MappingProxyType(
                {key: MappingProxyType(dict(runs)) for key, runs in in_flight.items()}
            ),
            abandoned=MappingProxyType(dict(abandoned or {})),
        )

    def _state(self) -> str:
        if self.started_at is None:
            return "not serving"
        return f"{'stopping' if self.stopping else 'serving'} since {format_time(self.started_at)}"

    def __repr__(self) -> str:
        limit = "no limit" if self.limit is None else f"limit {self.limit}"
        done = sum(self.finished.values())
        text = (
            f"<TaskWorkerStatus {self.client_id} {self._state()}: {self.current} running "
            f"({limit}), {done} finished, keys {', '.join(self.tasks) or 'none'}"
        )
        if self.abandoned:
            text += f", {len(self.abandoned)} abandoned"
        return text + ">"

    def _repr_html_(self) -> str:
        rows = [
            ("worker", self.client_id),
            ("state", self._state()),
            ("running", str(self.current)),
            ("limit", "none" if self.limit is None else str(self.limit)),
            ("free slots", "" if self.available is None else str(self.available)),
        ]
        for key in self.tasks:
            held = len(self.in_flight.get(key, {}))
            rows.append((key, f"{held} running, {self.finished.get(key, 0)} finished"))
        for run_id, since in self.abandoned.items():
            rows.append(("abandoned", f"{run_id} since {format_time(since)}"))
        return summary_html("Task worker", rows)

    def to_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data: times as ISO 8601 strings, ids as strings.

        Example:
            >>> status = TaskWorkerStatus.capture(
            ...     client_id="host-1-ab", started_at=None, stopping=False, limit=10,
            ...     current=0, available=10, tasks=["k"], finished={"k": 2},
            ...     in_flight={"k": {}})
            >>> status.to_dict()["finished"]
            {'k': 2}
        """
        return {
            "client_id": self.client_id,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "stopping": self.stopping,
            "limit": self.limit,
            "current": self.current,
            "available": self.available,
            "tasks": list(self.tasks),
            "finished": dict(self.finished),
            "in_flight": {
                key: {str(run_id): when.isoformat() for run_id, when in runs.items()}
                for key, runs in self.in_flight.items()
            },
            "abandoned": {str(run_id): when.isoformat() for run_id, when in self.abandoned.items()},
        }

    def to_json(self) -> str:
        """Return :meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict())


@final
class StatusServer:
    """Serve ``GET /status`` on 127.0.0.1 from ``status`` (see the module docstring).

    Args:
        status: returns the worker's current status; called in the event loop.
        port: the port to bind; 0 picks a free one (see :attr:`address`).
        timeout_seconds: real seconds a connection has to send its request, and again
            to take the answer.
        max_connections: the most connections open at once; one more is closed at once.

    Raises:
        InvalidArgument: a bad port, timeout or cap (named ``status_server_port``,
            ``status_server_timeout_seconds`` and ``status_server_max_connections``, as
            :meth:`TaskWorker.run <orchestrator.workers.TaskWorker.run>` spells them).
    """

    __slots__ = ("_server", "_status")

    def __init__(
        self,
        status: Callable[[], TaskWorkerStatus],
        port: int,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        port = check_port(port, "status_server_port")
        timeout, cap = check_limits(timeout_seconds, max_connections, "status_server")
        self._status = status
        self._server = HttpServer(
            {"/status": self._answer},
            name="the status server",
            host=_HOST,
            port=port,
            timeout_seconds=timeout,
            max_connections=cap,
        )

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` once bound, else None."""
        return self._server.address

    async def bind(self) -> tuple[str, int]:
        """Bind the port; return ``(host, port)``.

        Raises:
            OSError: the port cannot be bound (taken, or not allowed).
        """
        return await self._server.bind()

    async def serve(self) -> None:
        """Answer requests until cancelled, then close the port (call :meth:`bind` first)."""
        await self._server.serve()

    async def aclose(self) -> None:
        """Close the port if it is still bound (for a server that never served)."""
        await self._server.aclose()

    def _answer(self) -> tuple[HTTPStatus, Mapping[str, Any]]:
        return HTTPStatus.OK, self._status().to_dict()
