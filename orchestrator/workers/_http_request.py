"""One HTTP request of :mod:`orchestrator.workers._http`: read its head, parse it, answer it.

The head is read up to its first empty line (a line ends with LF, CR optional, as
:mod:`http.server` reads lines) or :data:`MAX_HEAD_BYTES`, and parsed by the standard
library (:meth:`http.server.BaseHTTPRequestHandler.parse_request`, run over the bytes
received). The request line is checked as soon as it is whole, so a client that sends
no HTTP is answered at once. Answers are JSON with ``Connection: close``:

* 400: a malformed request line (HTTP/0.9, with no version, included), a malformed
  head, a head over :data:`MAX_HEAD_BYTES`, or a head the client stopped sending;
* 408: no whole head within the timeout (or 400 when what came is not a request);
* 404: a path with no route; 405: a method other than GET and HEAD;
* otherwise what the route returns (500 if it raises).
"""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from enum import Enum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Final

import anyio
from anyio.abc import SocketStream

__all__ = ["MAX_HEAD_BYTES", "Reading", "Route", "answer", "receive_head"]

logger: Final = logging.getLogger("orchestrator.workers")

#: A route: returns the status and the JSON body of its answer (called in the event loop).
Route = Callable[[], tuple[HTTPStatus, Mapping[str, Any]]]

#: The longest request head read; a longer one is answered 400.
MAX_HEAD_BYTES: Final = 16 * 1024

#: The end of a head: an empty line, the line before it ending with LF (CR optional).
_HEAD_END: Final = re.compile(rb"\n\r?\n")


class Reading(Enum):
    """How reading a request head ended."""

    COMPLETE = "complete"  # an empty line came
    ENDED = "ended"  # the client stopped sending first
    TIMED_OUT = "timed out"  # the timeout came first (set by the caller)
    TOO_LARGE = "too large"  # over MAX_HEAD_BYTES
    NOT_HTTP = "not HTTP"  # the request line, once whole, is not one


class _ParsedHead(BaseHTTPRequestHandler):
    """The standard library's request parsing, over the bytes of a head (no socket).

    ``BaseHTTPRequestHandler.__init__`` would serve a socket, so it is not called: this
    sets up only what :meth:`parse_request` reads, and drops the refusal it would write
    (the caller answers).
    """

    def __init__(self, head: bytes) -> None:
        self.rfile = io.BytesIO(head)
        self.wfile = io.BytesIO()
        self.raw_requestline = self.rfile.readline(MAX_HEAD_BYTES + 1)
        parsed = self.parse_request()
        # The command is set once the request line passed. HTTP/0.9 (no version) is a
        # request the standard library takes; it is not one these endpoints answer.
        command: str | None = self.command
        self.request_line_ok = command is not None and self.request_version != "HTTP/0.9"
        self.ok = parsed and self.request_line_ok

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        pass  # parse_request returns False: the caller answers

    def handle_expect_100(self) -> bool:
        return True  # no body is ever read: nothing to continue

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _request_line_ok(data: bytes) -> bool:
    line = data.split(b"\n", 1)[0]
    return _ParsedHead(line + b"\r\n\r\n").request_line_ok


async def receive_head(stream: SocketStream, data: bytearray) -> Reading:
    """Read a request head into ``data`` (cut after its empty line); say how it ended.

    Never returns :attr:`Reading.TIMED_OUT`: the caller's cancel scope sets the
    deadline, and ``data`` keeps what came before it.
    """
    line_checked = False
    while True:
        try:
            chunk = await stream.receive()
        except anyio.EndOfStream:
            return Reading.ENDED
        searched = max(0, len(data) - 2)
        data += chunk
        end = _HEAD_END.search(data, searched)
        if (len(data) if end is None else end.end()) > MAX_HEAD_BYTES:
            return Reading.TOO_LARGE
        if not line_checked and b"\n" in data:
            line_checked = True
            if not _request_line_ok(bytes(data)):
                return Reading.NOT_HTTP
        if end is not None:
            del data[end.end() :]
            return Reading.COMPLETE


def response(status: HTTPStatus, body: Mapping[str, Any], *, head_only: bool = False) -> bytes:
    """Return a whole HTTP/1.1 response: ``body`` as JSON, then the connection closes."""
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + (b"" if head_only else data)


def _refusal(status: HTTPStatus, message: str) -> bytes:
    return response(status, {"message": message})


def answer(routes: Mapping[str, Route], data: bytes, reading: Reading, name: str) -> bytes:
    """Return the answer to the head ``data`` read as ``reading`` says (b"": none).

    ``name`` names the server in the log should a route raise.
    """
    if reading is Reading.TOO_LARGE:
        return _refusal(HTTPStatus.BAD_REQUEST, "request head too large")
    if reading is Reading.NOT_HTTP:
        return _refusal(HTTPStatus.BAD_REQUEST, "malformed request line")
    if not data.strip():
        if reading is Reading.TIMED_OUT:
            return _refusal(HTTPStatus.REQUEST_TIMEOUT, "no request came in time")
        if reading is Reading.ENDED:
            return b""  # connected and hung up without a word: nobody to answer
    head = _ParsedHead(data)
    if not head.request_line_ok:
        return _refusal(HTTPStatus.BAD_REQUEST, "malformed request line")
    if not head.ok:
        return _refusal(HTTPStatus.BAD_REQUEST, "malformed request head")
    if reading is Reading.TIMED_OUT:
        return _refusal(HTTPStatus.REQUEST_TIMEOUT, "the request head did not come in time")
    if reading is Reading.ENDED:
        return _refusal(HTTPStatus.BAD_REQUEST, "the request head ended early")
    return _route(routes, str(head.command), head.path, name)


def _route(routes: Mapping[str, Route], method: str, target: str, name: str) -> bytes:
    route = routes.get(urllib.parse.urlsplit(target).path)
    if route is None:
        return _refusal(HTTPStatus.NOT_FOUND, f"no such path: {target}")
    if method not in ("GET", "HEAD"):
        return _refusal(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed; use GET")
    try:
        status, body = route()
    except Exception:
        logger.exception("%s: the answer to %s failed", name, target)
        status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "internal error"}
    return response(status, body, head_only=method == "HEAD")
