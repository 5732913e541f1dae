"""A task worker's status: a frozen record, and a tiny HTTP server that serves it as JSON.

``GET /status`` answers 200 with :meth:`TaskWorkerStatus.to_dict` as JSON; any other
path is 404 and any other method 405. The server is an anyio TCP listener in the
worker's task group (asyncio and trio alike) that speaks just enough HTTP/1.1: it reads
the request head, writes one response and closes the connection. It binds 127.0.0.1
only: the status is for this machine.
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

import anyio
import attrs
from anyio.abc import SocketAttribute, SocketStream

from .._core._checks import check_port

__all__ = ["StatusServer", "TaskWorkerStatus"]

logger: Final = logging.getLogger("orchestrator.workers")

_HOST: Final = "127.0.0.1"
_MAX_HEAD: Final = 16 * 1024
_HEAD_END: Final = b"\r\n\r\n"


@final
@attrs.frozen(kw_only=True)
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


def _response(status: HTTPStatus, body: Mapping[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


@final
class StatusServer:
    """Serve ``GET /status`` on 127.0.0.1 from ``status`` (see the module docstring).

    Args:
        status: returns the worker's current status; called in the event loop.
        port: the port to bind; 0 picks a free one (see :attr:`address`).
    """

    __slots__ = ("_listener", "_port", "_status")

    def __init__(self, status: Callable[[], TaskWorkerStatus], port: int) -> None:
        self._port = check_port(port, "status_server_port")
        self._status = status
        self._listener: anyio.abc.Listener[SocketStream] | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` once bound, else None."""
        listener = self._listener
        if listener is None:
            return None
        return _HOST, int(listener.extra(SocketAttribute.local_port))

    async def bind(self) -> tuple[str, int]:
        """Bind the port; return ``(host, port)``.

        Raises:
            OSError: the port cannot be bound (taken, or not allowed).
        """
        self._listener = await anyio.create_tcp_listener(local_host=_HOST, local_port=self._port)
        address = self.address
        assert address is not None
        return address

    async def serve(self) -> None:
        """Answer requests until cancelled, then close the port (call :meth:`bind` first)."""
        listener = self._listener
        assert listener is not None, "StatusServer.serve() before bind()"
        try:
            await listener.serve(self._handle)
        finally:
            self._listener = None
            with anyio.CancelScope(shield=True):
                await listener.aclose()

    async def aclose(self) -> None:
        """Close the port if it is still bound (for a server that never served)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()

    async def _handle(self, stream: SocketStream) -> None:
        # A client that misbehaves (disconnects, sends garbage) must not stop the worker.
        try:
            async with stream:
                head = await _read_head(stream)
                await stream.send(self._answer(head))
        except Exception as exc:
            logger.debug("status request failed: %r", exc)

    def _answer(self, head: bytes) -> bytes:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return _response(HTTPStatus.BAD_REQUEST, {"message": "malformed request line"})
        method, target = parts[0], parts[1]
        if target.split("?", 1)[0] != "/status":
            return _response(HTTPStatus.NOT_FOUND, {"message": f"no such path: {target}"})
        if method != "GET":
            return _response(
                HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"{method} is not allowed; use GET"}
            )
        return _response(HTTPStatus.OK, self._status().to_dict())


async def _read_head(stream: SocketStream) -> bytes:
    data = b""
    while _HEAD_END not in data:
        if len(data) > _MAX_HEAD:
            raise ValueError("request head too large")
        data += await stream.receive()
    return data
