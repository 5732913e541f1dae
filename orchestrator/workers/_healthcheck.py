"""A tiny HTTP health endpoint for workers, on the standard library only.

``GET /health`` answers 200 while the worker's check passes and 503 when it does not
(the worker has not looked for work within its window); any other path is 404. The
server runs in a daemon thread, bound to 127.0.0.1 by default, and never touches the
worker except through the check function it was given.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, final

from .._core._checks import check_port, check_text

__all__ = ["HealthServer"]

_HEALTHY: Final = {"message": "OK"}
_UNHEALTHY: Final = {"message": "Worker may be unresponsive at this time"}


def _handler(check: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/health":
                self._reply(HTTPStatus.NOT_FOUND, {"message": f"no such path: {self.path}"})
                return
            try:
                healthy = check()
            except Exception:
                healthy = False
            if healthy:
                self._reply(HTTPStatus.OK, _HEALTHY)
            else:
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, _UNHEALTHY)

        def _reply(self, status: HTTPStatus, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line on stderr per probe would drown the worker's output

    return HealthHandler


@final
class HealthServer:
    """Serve ``GET /health`` from ``check`` in a background thread.

    Args:
        check: returns True while healthy; called from the server's thread.
        host: the address to bind (127.0.0.1: this machine only).
        port: the port; 0 picks a free one (see :attr:`address` once started).

    Raises:
        InvalidArgument: ``host`` is not a non-empty string or ``port`` not a port
            number 0..65535 (named ``healthcheck_host`` and ``healthcheck_port``, as the
            worker spells them).
    """

    __slots__ = ("_check", "_host", "_port", "_server", "_stopping", "_thread")

    def __init__(
        self, check: Callable[[], bool], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._check = check
        self._host = check_text(host, "healthcheck_host")
        self._port = check_port(port, "healthcheck_port")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` while serving, else None."""
        server = self._server
        if server is None:
            return None
        host, port = server.server_address[:2]
        return str(host), int(port)

    def start(self) -> tuple[str, int]:
        """Bind and start serving; return ``(host, port)``.

        Raises:
            OSError: the address cannot be bound (the port is taken, ...).
            RuntimeError: already serving.
        """
        if self._server is not None:
            raise RuntimeError("the health server is already serving")
        server = ThreadingHTTPServer((self._host, self._port), _handler(self._check))
        server.daemon_threads = True
        self._stopping = False
        thread = threading.Thread(
            target=self._serve, args=(server,), name="orchestrator-worker-health", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        address = self.address
        assert address is not None
        return address

    def _serve(self, server: ThreadingHTTPServer) -> None:
        # One request at a time, each blocking until it comes: no timed wake-ups.
        # ``stop`` sets the flag, then connects once to unblock the wait.
        while not self._stopping:
            server.handle_request()

    def stop(self) -> None:
        """Stop serving and release the port (blocks until the thread ends; no-op if idle)."""
        server, thread, address = self._server, self._thread, self.address
        self._server = self._thread = None
        if server is None or thread is None or address is None:
            return
        self._stopping = True
        try:
            with socket.create_connection(address, timeout=5):
                pass
        except OSError:
            pass  # the server is gone already: nothing to wake
        thread.join()
        server.server_close()
