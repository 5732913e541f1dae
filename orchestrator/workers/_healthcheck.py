"""The process worker's HTTP health endpoint.

``GET /health`` answers 200 while the worker's check passes and 503 when it does not
(the worker has not looked for work within its window); any other path is 404 and any
other method 405. The server runs in the worker's task group, with the timeouts, the
cap on connections and the standard library's parsing of
:mod:`orchestrator.workers._http`, and never touches the worker except through the check
function it was given. It binds 127.0.0.1 by default; a host beyond this machine must
be asked for with ``public=True`` (``healthcheck_public``), and is logged at WARNING
when bound.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from http import HTTPStatus
from typing import Any, Final, final

import anyio

from .._core._checks import check_bool, check_port, check_text, wrong_value
from ._http import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT_SECONDS,
    HttpServer,
    check_limits,
    is_loopback,
)

__all__ = ["HealthServer"]

logger: Final = logging.getLogger("orchestrator.workers")

_HEALTHY: Final = {"message": "OK"}
_UNHEALTHY: Final = {"message": "Worker may be unresponsive at this time"}


@final
class HealthServer:
    """Serve ``GET /health`` from ``check`` (see the module docstring).

    Args:
        check: returns True while healthy; called in the event loop (an error counts
            as unhealthy).
        host: the address to bind (127.0.0.1: this machine only).
        port: the port; 0 picks a free one (see :attr:`address` once bound).
        public: allow a ``host`` that is not a loopback address.
        timeout_seconds: real seconds a connection has to send its request, and again
            to take the answer.
        max_connections: the most connections open at once; one more is closed at once.

    Raises:
        InvalidArgument: a bad argument, named as the worker spells it
            (``healthcheck_host``, ``healthcheck_port``, ``healthcheck_public``,
            ``healthcheck_timeout_seconds``, ``healthcheck_max_connections``); a host
            beyond this machine without ``public=True`` is refused naming
            ``healthcheck_public``.
    """

    __slots__ = ("_check", "_public", "_server")

    def __init__(
        self,
        check: Callable[[], bool],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public: bool = False,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        host = check_text(host, "healthcheck_host")
        port = check_port(port, "healthcheck_port")
        public = check_bool(public, "healthcheck_public")
        beyond = not is_loopback(host)
        if beyond and not public:
            raise wrong_value(
                "healthcheck_host",
                host,
                "a loopback address (127.0.0.1, ::1 or localhost) unless "
                "healthcheck_public=True allows serving /health beyond this machine",
            )
        timeout, cap = check_limits(timeout_seconds, max_connections, "healthcheck")
        self._public = beyond
        self._check = check
        self._server = HttpServer(
            {"/health": self._answer},
            name="the health server",
            host=host,
            port=port,
            timeout_seconds=timeout,
            max_connections=cap,
        )

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` once bound, else None."""
        return self._server.address

    async def bind(self) -> tuple[str, int]:
        """Bind the address; return ``(host, port)``.

        Raises:
            RuntimeError: already bound.
            OSError: the address cannot be bound (the port is taken, ...).
        """
        host, port = await self._server.bind()
        if self._public:
            logger.warning(
                "the health server listens on %s port %d, beyond this machine "
                "(healthcheck_public=True): anyone who can reach it can probe the worker",
                host,
                port,
            )
        return host, port

    async def serve(self) -> None:
        """Answer requests until cancelled, then close the port (call :meth:`bind` first)."""
        await self._server.serve()

    async def aclose(self) -> None:
        """Close the port if it is still bound (for a server that never served)."""
        await self._server.aclose()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve in a task group of its own for the duration of the block.

        The address is bound on entering (an error there is raised before the block
        runs) and closed on leaving.
        """
        await self.bind()
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self.serve)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose()

    def _answer(self) -> tuple[HTTPStatus, Mapping[str, Any]]:
        try:
            healthy = self._check()
        except Exception:
            healthy = False
        if healthy:
            return HTTPStatus.OK, _HEALTHY
        return HTTPStatus.SERVICE_UNAVAILABLE, _UNHEALTHY
