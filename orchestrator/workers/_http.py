"""The small HTTP server under the workers' status and health endpoints, on anyio.

Both endpoints answer a handful of probes; what matters is that no client can take the
worker down through them. An :class:`HttpServer` serves a table of routes (a path and
a function returning ``(status, JSON body)``) in the worker's own task group, on asyncio
and trio alike, one request per connection:

* **Timeouts (real seconds).** A connection has ``timeout_seconds`` to send its request
  head, then as long again to take the answer; then it is closed. A head that does not
  come in time is answered 408 (or 400 when what came is not a request). No connection
  lives longer than twice the timeout, so slow clients (slowloris) cannot hold it.
* **A cap on connections.** At most ``max_connections`` are open at once; one more is
  accepted and closed at once, unanswered (the client sees the connection closed and
  may retry). Refusing costs one descriptor for an instant and no task.
* **Accept errors never escape.** When ``accept`` fails for want of resources (EMFILE,
  ENFILE, ENOBUFS, ENOMEM, any other OSError), the loop pauses and tries again: 10 ms,
  doubling up to 1 s, and at once when one of its own connections closes (a descriptor
  came free). The first failure of a burst is logged at WARNING, and the end of the
  burst at INFO with the number of failures; nothing in between. A burst ends when the
  server has caught up: it accepted a connection and no other is waiting. A failure
  while no connection waits (accept takes a descriptor before it looks) turns no one
  away: the loop waits for a connection to come, then tries again. Errors about
  one peer (ECONNABORTED and the
  network errors Linux passes on from a dead connection) skip that connection, logged at
  DEBUG. Should the loop still fail in a way it does not expect, the error is logged and
  the server stops; the worker goes on.
* **The standard library parses** each request head, one per connection (see
  :mod:`orchestrator.workers._http_request`): a malformed request line or head,
  HTTP/0.9, or a head over 16 KiB is answered 400 and the connection closed.

``GET`` (and ``HEAD``) of a route answers what its function returns; another path is
404, another method 405. Every answer is JSON with ``Connection: close``.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import select
from collections.abc import Mapping
from typing import Final, final

import anyio
import anyio.abc
from anyio.abc import SocketAttribute, SocketListener, SocketStream
from anyio.streams.stapled import MultiListener

from .._core._checks import check_count, check_seconds
from ._http_request import Reading, Route, answer, receive_head

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT_SECONDS",
    "HttpServer",
    "check_limits",
    "is_loopback",
]

logger: Final = logging.getLogger("orchestrator.workers")

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_MAX_CONNECTIONS: Final = 32

_FIRST_PAUSE: Final = 0.01
_LONGEST_PAUSE: Final = 1.0
#: Errors accept(2) reports about one connection rather than about the server.
_PEER_ERRORS: Final = frozenset(
    code
    for name in (
        "ECONNABORTED",
        "ECONNRESET",
        "EPROTO",
        "EPERM",
        "ETIMEDOUT",
        "ENETDOWN",
        "ENETUNREACH",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "ENONET",
        "ENOPROTOOPT",
        "EOPNOTSUPP",
    )
    if (code := getattr(errno, name, None)) is not None
)


def check_limits(
    timeout_seconds: object, max_connections: object, prefix: str
) -> tuple[float, int]:
    """Return ``(timeout, cap)``: ``<prefix>_timeout_seconds`` and ``<prefix>_max_connections``.

    Raises:
        InvalidArgument: the timeout is not a finite number of seconds > 0, or the cap
            not an integer >= 1.
    """
    timeout = check_seconds(timeout_seconds, f"{prefix}_timeout_seconds", positive=True)
    cap = check_count(max_connections, f"{prefix}_max_connections", minimum=1)
    return timeout, cap


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine only: ``localhost`` or a loopback IP."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def _accept_errno(exc: BaseException) -> int | None:
    # trio's anyio backend wraps the OSError in a BrokenResourceError.
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    return cause.errno if isinstance(cause, OSError) else None


def _describe(exc: BaseException) -> str:
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        return f"{errno.errorcode.get(cause.errno, cause.errno)}: {cause.strerror}"
    return repr(exc)


@final
class _Backoff:
    """How long an accept loop short of resources pauses, and its one log line per burst."""

    __slots__ = ("_failures", "_name", "pause")

    def __init__(self, name: str) -> None:
        self._name = name
        self._failures = 0
        self.pause = 0.0  # 0: not in a burst

    def failed(self, exc: BaseException) -> float:
        self._failures += 1
        if self.pause == 0.0:
            self.pause = _FIRST_PAUSE
            logger.warning(
                "%s cannot accept connections (%s); it pauses and tries again, and says "
                "when it accepts again",
                self._name,
                _describe(exc),
            )
        else:
            self.pause = min(2 * self.pause, _LONGEST_PAUSE)
        return self.pause

    def accepted(self, listener: SocketListener) -> None:
        """End the burst once ``listener`` has no connection left waiting (it caught up)."""
        if self.pause == 0.0 or _connection_waiting(listener):
            return
        logger.info(
            "%s accepts connections again, after %d failed attempts",
            self._name,
            self._failures,
        )
        self.pause, self._failures = 0.0, 0


def _connection_waiting(listener: SocketListener) -> bool:
    """Whether a connection waits to be accepted: the listening socket reads, right now.

    A poll with no timeout: it neither blocks nor reads the time, and needs no descriptor.
    """
    sock = listener.extra(SocketAttribute.raw_socket)
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)  # pragma: no cover - Windows
    return bool(readable)


@final
class HttpServer:
    """Serve a few JSON routes over HTTP/1.1 with the limits in the module docstring.

    Args:
        routes: path (no query) -> the function that answers it.
        name: how the logs call the server (``"the status server"``).
        host, port: where to listen; port 0 picks a free one (see :attr:`address`).
        timeout_seconds: real seconds a connection has to send its head, and again to
            take the answer.
        max_connections: the most connections open at once.

    The arguments are checked by the servers built on this one, in their own words.
    """

    __slots__ = (
        "_backoff",
        "_cap",
        "_freed",
        "_host",
        "_listener",
        "_name",
        "_open",
        "_port",
        "_routes",
        "_timeout",
    )

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        name: str,
        host: str,
        port: int,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._routes = dict(routes)
        self._name = name
        self._host = host
        self._port = port
        self._timeout = timeout_seconds
        self._cap = max_connections
        self._listener: MultiListener[SocketStream] | None = None
        self._open = 0
        self._freed: anyio.Event | None = None
        self._backoff = _Backoff(name)

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` once bound, else None."""
        listener = self._listener
        if listener is None:
            return None
        address = listener.extra(SocketAttribute.local_address)
        assert isinstance(address, tuple)  # an IP address, not a UNIX socket's path
        return str(address[0]), int(address[1])

    async def bind(self) -> tuple[str, int]:
        """Bind the port; return ``(host, port)``.

        Raises:
            RuntimeError: already bound.
            OSError: the address cannot be bound (the port is taken, ...).
        """
        if self._listener is not None:
            raise RuntimeError(f"{self._name} is already serving")
        self._listener = await anyio.create_tcp_listener(
            local_host=self._host, local_port=self._port
        )
        address = self.address
        assert address is not None
        return address

    async def serve(self) -> None:
        """Answer requests until cancelled, then close the port (call :meth:`bind` first)."""
        listener = self._listener
        assert listener is not None, f"{self._name}: serve() before bind()"
        self._freed = anyio.Event()
        try:
            async with anyio.create_task_group() as group:
                for one in listener.listeners:
                    assert isinstance(one, SocketListener)
                    group.start_soon(self._accept_loop, one, group)
        except Exception:
            logger.exception("%s stopped on an unexpected error; the worker goes on", self._name)
        finally:
            self._listener = None
            with anyio.CancelScope(shield=True):
                await listener.aclose()

    async def aclose(self) -> None:
        """Close the port if it is still bound (for a server that never served)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()

    # -- accepting --------------------------------------------------------------------------
    async def _accept_loop(self, listener: SocketListener, group: anyio.abc.TaskGroup) -> None:
        while True:
            try:
                stream = await listener.accept()
            except anyio.ClosedResourceError:
                return
            except (OSError, anyio.BrokenResourceError) as exc:
                await self._accept_failed(exc, listener)
                continue
            self._backoff.accepted(listener)
            if self._open >= self._cap:
                logger.debug("%s: %d connections open, one more closed", self._name, self._open)
                await stream.aclose()
                continue
            self._open += 1
            group.start_soon(self._handle, stream)

    async def _accept_failed(self, exc: BaseException, listener: SocketListener) -> None:
        if _accept_errno(exc) in _PEER_ERRORS:
            logger.debug("%s: a connection failed before it was accepted: %r", self._name, exc)
            return
        if not _connection_waiting(listener):
            # accept(2) takes a descriptor before it looks for a connection, so it fails
            # with none waiting too: that turns no one away. Wait for someone to come.
            await anyio.wait_readable(listener.extra(SocketAttribute.raw_socket))
            return
        pause = self._backoff.failed(exc)
        freed = self._freed
        assert freed is not None
        with anyio.move_on_after(pause):
            await freed.wait()  # one of ours closed: a descriptor is free

    def _closed_one(self) -> None:
        self._open -= 1
        freed, self._freed = self._freed, anyio.Event()
        if freed is not None:
            freed.set()

    # -- one connection ----------------------------------------------------------------------
    async def _handle(self, stream: SocketStream) -> None:
        # A client that misbehaves (hangs up, sends garbage, never reads) must not stop
        # the server: whatever happens ends here, with the connection closed.
        try:
            async with stream:
                data = bytearray()
                reading = Reading.TIMED_OUT
                with anyio.move_on_after(self._timeout):
                    reading = await receive_head(stream, data)
                reply = answer(self._routes, bytes(data), reading, self._name)
                if reply:
                    with anyio.move_on_after(self._timeout):
                        await stream.send(reply)
        except Exception as exc:
            logger.debug("%s: a request failed: %r", self._name, exc)
        finally:
            self._closed_one()
