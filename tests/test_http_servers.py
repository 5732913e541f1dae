"""The status and health servers on real loopback sockets: what a hostile client gets.

Every test runs against both servers (``endpoint``): a TaskWorker's ``GET /status`` and a
ProcessWorker's ``GET /health``, each with small limits so that timeouts show within a
fraction of a second of real time. The descriptor-exhaustion tests run the worker in a
subprocess whose RLIMIT_NOFILE is 64 (``tests/server_target.py``); this process keeps
its own limit.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final, cast

import anyio
import attrs
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from orchestrator import InvalidArgument, Orchestrator, ProcessWorker, VirtualClock, task
from orchestrator.workers import TaskWorker
from tests.worker_helpers import outcome

REPO: Final = Path(__file__).resolve().parent.parent
TIMEOUT: Final = 0.3  # the servers' timeout in these tests (real seconds)
CAP: Final = 4  # and their cap on connections


@attrs.frozen
class Endpoint:
    """A served endpoint: where it listens, its path, and the body of a 200."""

    port: int
    path: str
    ok_body: Any


@pytest.fixture(params=["status", "health"])
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[Endpoint]:
    orch = Orchestrator(VirtualClock(), seed=5)
    async with anyio.create_task_group() as group:
        if request.param == "status":

            @task(task_key="idle")
            def idle() -> None:
                pass

            worker = TaskWorker(idle, orchestrator=orch)
            await group.start(
                functools.partial(
                    worker.run,
                    status_server_port=0,
                    status_server_timeout_seconds=TIMEOUT,
                    status_server_max_connections=CAP,
                )
            )
            address = worker.status_address
            assert address is not None
            yield Endpoint(address[1], "/status", worker.status().to_dict())
            worker.stop()
        else:
            orch.create_work_pool("pool")
            process_worker = ProcessWorker(
                orch, "pool", healthcheck_timeout_seconds=TIMEOUT, healthcheck_max_connections=CAP
            )
            await group.start(process_worker.start, False, True)
            health_address = process_worker.health_address
            assert health_address is not None
            yield Endpoint(health_address[1], "/health", {"message": "OK"})
            process_worker.stop()


async def read_all(stream: SocketStream) -> bytes | None:
    """Everything the server sends until it closes; None if it reset the connection."""
    data = b""
    with anyio.fail_after(5):
        while True:
            try:
                data += await stream.receive()
            except anyio.EndOfStream:
                return data
            except anyio.BrokenResourceError:
                return data if data else None


def parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


async def exchange(port: int, request: bytes) -> tuple[int, Any]:
    """Send ``request`` on a new connection; return the status and JSON body of the answer."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        data = await read_all(stream)
    assert data, "the connection was closed without an answer"
    code, headers, body = parse(data)
    assert (headers["Content-Type"], headers["Connection"]) == ("application/json", "close")
    assert int(headers["Content-Length"]) == len(body)
    return code, json.loads(body)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


# -- well-formed and malformed requests -----------------------------------------------------------


async def test_bare_line_feeds_end_lines_as_in_the_standard_library(endpoint: Endpoint) -> None:
    path = endpoint.path.encode()
    for request in (
        b"GET " + path + b" HTTP/1.1\nHost: 127.0.0.1\n\n",
        b"GET " + path + b" HTTP/1.0\n\n",
        b"GET " + path + b"?x=1 HTTP/1.1\r\nHost: a\n\r\n",
    ):
        assert await exchange(endpoint.port, request) == (200, endpoint.ok_body), request


async def test_head_answers_the_headers_of_get(endpoint: Endpoint) -> None:
    async with await anyio.connect_tcp("127.0.0.1", endpoint.port) as stream:
        await stream.send(f"HEAD {endpoint.path} HTTP/1.1\r\n\r\n".encode())
        data = await read_all(stream)
    assert data is not None
    code, headers, body = parse(data)
    assert (code, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(json.dumps(endpoint.ok_body))


async def test_other_paths_and_methods(endpoint: Endpoint) -> None:
    assert await exchange(endpoint.port, get("/nope")) == (404, {"message": "no such path: /nope"})
    post = f"POST {endpoint.path} HTTP/1.1\r\nContent-Length: 0\r\n\r\n".encode()
    assert await exchange(endpoint.port, post) == (
        405,
        {"message": "POST is not allowed; use GET"},
    )


MALFORMED: Final = {
    "no version, no target": (b"nonsense\r\n\r\n", "malformed request line"),
    "a bad version": (b"GET /x HTTP/one\r\n\r\n", "malformed request line"),
    "HTTP/0.9": (b"GET /status\r\n", "malformed request line"),
    "four words": (b"GET /a b HTTP/1.1\r\n\r\n", "malformed request line"),
    "an empty line first": (b"\r\n\r\n", "malformed request line"),
    "binary with a newline": (bytes(range(1, 9)) + b"\xff\xfe\n", "malformed request line"),
    "too many headers": (
        b"GET /status HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n",
        "malformed request head",
    ),
    "a head over 16 KiB": (
        b"GET /status HTTP/1.1\r\nX-Pad: " + b"a" * 17_000 + b"\r\n\r\n",
        "request head too large",
    ),
    "a head over 16 KiB, no line end": (b"G" * 20_000, "request head too large"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_a_malformed_request_gets_400_at_once(endpoint: Endpoint, name: str) -> None:
    request, message = MALFORMED[name]
    with anyio.fail_after(TIMEOUT * 0.9):  # answered without waiting for the timeout
        assert await exchange(endpoint.port, request) == (400, {"message": message})
    assert await exchange(endpoint.port, get(endpoint.path)) == (200, endpoint.ok_body)


async def test_bytes_that_are_not_http_get_400_at_the_timeout(endpoint: Endpoint) -> None:
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(11, 43))  # no LF
    started = anyio.current_time()
    assert await exchange(endpoint.port, hello) == (400, {"message": "malformed request line"})
    assert TIMEOUT <= anyio.current_time() - started < TIMEOUT + 1


# -- slow clients, the timeout and the cap ---------------------------------------------------------


async def test_a_slow_client_is_answered_408_and_closed_at_the_timeout(endpoint: Endpoint) -> None:
    started = anyio.current_time()
    async with await anyio.connect_tcp("127.0.0.1", endpoint.port) as partial:
        await partial.send(f"GET {endpoint.path} HTTP/1.1\r\nHost: x\r\n".encode())  # unfinished
        async with await anyio.connect_tcp("127.0.0.1", endpoint.port) as silent:
            partial_answer = await read_all(partial)
            silent_answer = await read_all(silent)
    assert TIMEOUT <= anyio.current_time() - started < TIMEOUT + 1
    assert partial_answer is not None
    assert silent_answer is not None
    assert (parse(partial_answer)[0], json.loads(parse(partial_answer)[2])) == (
        408,
        {"message": "the request head did not come in time"},
    )
    assert json.loads(parse(silent_answer)[2]) == {"message": "no request came in time"}


async def test_a_client_that_stops_sending_midway_gets_400(endpoint: Endpoint) -> None:
    async with await anyio.connect_tcp("127.0.0.1", endpoint.port) as stream:
        await stream.send(f"GET {endpoint.path} HTTP/1.1\r\nHost: x\r\n".encode())
        await stream.send_eof()
        with anyio.fail_after(TIMEOUT * 0.9):
            data = await read_all(stream)
    assert data is not None
    assert json.loads(parse(data)[2]) == {"message": "the request head ended early"}


async def test_beyond_the_cap_a_connection_is_closed_unanswered(endpoint: Endpoint) -> None:
    slow = [await anyio.connect_tcp("127.0.0.1", endpoint.port) for _ in range(CAP)]
    for stream in slow:
        await stream.send(f"GET {endpoint.path} HTTP/1.1\r\n".encode())
    with anyio.fail_after(TIMEOUT * 0.9):  # closed at once, not at the timeout
        async with await anyio.connect_tcp("127.0.0.1", endpoint.port) as extra:
            await extra.send(get(endpoint.path))
            assert await read_all(extra) in (b"", None)
    # once the slow ones time out, the next request is answered
    for stream in slow:
        data = await read_all(stream)
        assert data is not None
        assert parse(data)[0] == 408
        await stream.aclose()
    with anyio.fail_after(5):
        assert await exchange(endpoint.port, get(endpoint.path)) == (200, endpoint.ok_body)


async def test_the_health_server_holds_no_thread_per_connection() -> None:
    orch = Orchestrator(VirtualClock(), seed=6)
    orch.create_work_pool("pool")
    worker = ProcessWorker(orch, "pool", healthcheck_max_connections=50)
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, True)
        address = worker.health_address
        assert address is not None
        before = threading.active_count()
        held = [await anyio.connect_tcp(*address) for _ in range(40)]
        for stream in held:
            await stream.send(b"GET /health HTTP/1.1\r\n")
        assert await exchange(address[1], get("/health")) == (200, {"message": "OK"})
        assert threading.active_count() == before
        for stream in held:
            await stream.aclose()
        worker.stop()


# -- accept errors --------------------------------------------------------------------------------


async def test_accept_errors_pause_the_loop_and_log_once(caplog: pytest.LogCaptureFixture) -> None:
    orch = Orchestrator(VirtualClock(), seed=7)

    @task(task_key="idle2")
    def idle2() -> None:
        pass

    worker = TaskWorker(idle2, orchestrator=orch)
    caplog.set_level(logging.DEBUG, logger="orchestrator.workers")
    async with anyio.create_task_group() as group:
        await group.start(functools.partial(worker.run, status_server_port=0))
        address = worker.status_address
        assert address is not None
        # the server's listening socket (a test reaches inside): its accept fails six
        # times, each time while a connection waits, then works again
        listener: Any = cast(Any, worker)._server._server._listener.listeners[0]
        real_accept = listener.accept
        failures = [OSError(errno.EMFILE, "Too many open files")] * 5
        failures.append(OSError(errno.ECONNABORTED, "Software caused connection abort"))

        async def flaky_accept() -> Any:
            if failures:
                await anyio.wait_readable(listener.extra(SocketAttribute.raw_socket))
                raise failures.pop(0)
            return await real_accept()

        listener.accept = flaky_accept
        for _ in range(3):
            assert (await exchange(address[1], get("/status")))[0] == 200
        worker.stop()
    assert not failures
    records = [(r.levelname, r.getMessage()) for r in caplog.records if "status" in r.message]
    warnings = [message for level, message in records if level == "WARNING"]
    assert warnings == [
        "the status server cannot accept connections (EMFILE: Too many open files); it pauses "
        "and tries again, and says when it accepts again"
    ]
    assert (
        "INFO",
        "the status server accepts connections again, after 5 failed attempts",
    ) in records
    assert any(level == "DEBUG" and "before it was accepted" in m for level, m in records)


async def test_an_unexpected_accept_error_stops_the_server_not_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orch = Orchestrator(VirtualClock(), seed=12)

    @task(task_key="double")
    async def double(x: int) -> int:
        return 2 * x

    worker = TaskWorker(double, orchestrator=orch)
    caplog.set_level(logging.ERROR, logger="orchestrator.workers")
    async with anyio.create_task_group() as group:
        await group.start(functools.partial(worker.run, status_server_port=0))
        address = worker.status_address
        assert address is not None
        listener: Any = cast(Any, worker)._server._server._listener.listeners[0]

        async def broken_accept() -> Any:
            await anyio.wait_readable(listener.extra(SocketAttribute.raw_socket))
            raise RuntimeError("a bug in accept")

        listener.accept = broken_accept
        async with await anyio.connect_tcp(*address) as stream:
            assert await read_all(stream) in (b"", None)  # the server closed its port
        assert worker.status_address is None
        assert await outcome(orch.submit(double, 21)) == 42  # the worker goes on
        worker.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "the status server stopped on an unexpected error; the worker goes on"
    ]


async def read_line(stream: BufferedByteReceiveStream) -> str:
    """The next line the subprocess prints, without its newline."""
    with anyio.fail_after(20):
        return (await stream.receive_until(b"\n", 1000)).decode()


@pytest.mark.parametrize("kind", ["status", "health"])
async def test_200_slow_connections_and_no_descriptors_left(kind: str, anyio_backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    arguments = [sys.executable, "-m", "tests.server_target", kind, anyio_backend]
    path = f"/{kind}"
    async with await anyio.open_process(arguments, cwd=REPO, env=env) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        assert process.stderr is not None
        out = BufferedByteReceiveStream(process.stdout)
        port = int(await read_line(out))
        started = anyio.current_time()
        slow = []
        for _ in range(200):  # slowloris: heads never finished, connections never closed
            stream = await anyio.connect_tcp("127.0.0.1", port)
            await stream.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode())
            slow.append(stream)
        code, body = await exchange(port, get(path))
        answered = anyio.current_time() - started
        assert code == 200
        assert body["message" if kind == "health" else "current"] in ("OK", 0)
        assert process.returncode is None  # still serving
        for stream in slow:  # each was answered 408 at its timeout, then closed
            data = await read_all(stream)
            assert data is not None
            assert parse(data)[0] == 408
            await stream.aclose()
        await process.stdin.send(b"go\n")
        lines = [await read_line(out), await read_line(out)]
        assert lines == ["result 42" if kind == "status" else "healthy True", "stopped"]
        assert await process.wait() == 0
        log = b"".join([chunk async for chunk in process.stderr]).decode()
    server = "status server" if kind == "status" else "health server"
    lines = log.splitlines()
    warning = (
        f"WARNING the {server} cannot accept connections (EMFILE: Too many open files); it "
        "pauses and tries again, and says when it accepts again"
    )
    again = re.compile(rf"INFO the {server} accepts connections again, after (\d+) failed attempts")
    failed = [int(match[1]) for line in lines if (match := again.fullmatch(line))]
    # One burst, unless a busy machine made the client pause for longer than a timeout
    # while it opened its connections (the server caught up in between): a few lines,
    # each burst ended, for the dozens of failed accepts.
    assert 1 <= lines.count(warning) <= 3, log
    assert len(failed) == lines.count(warning), log
    assert all(line == warning or again.fullmatch(line) for line in lines if server in line), log
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert answered < 6, f"the good request took {answered:.1f} s"


# -- the host and the options ---------------------------------------------------------------------


def test_a_public_health_host_needs_the_opt_in() -> None:
    orch = Orchestrator(VirtualClock(), seed=8)
    for host in ("0.0.0.0", "192.0.2.1", "example.com", "::"):
        with pytest.raises(InvalidArgument) as raised:
            ProcessWorker(orch, "pool", healthcheck_host=host)
        assert str(raised.value) == (
            "healthcheck_host must be a loopback address (127.0.0.1, ::1 or localhost) unless "
            "healthcheck_public=True allows serving /health beyond this machine, "
            f"got {host!r}"
        )
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"):
        ProcessWorker(orch, "pool", healthcheck_host=host)


async def test_a_public_health_host_is_served_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orch = Orchestrator(VirtualClock(), seed=9)
    orch.create_work_pool("pool")
    worker = ProcessWorker(orch, "pool", healthcheck_host="0.0.0.0", healthcheck_public=True)
    caplog.set_level(logging.WARNING, logger="orchestrator.workers")
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, True)
        address = worker.health_address
        assert address is not None
        host, port = address
        assert host == "0.0.0.0"
        assert await exchange(port, get("/health")) == (200, {"message": "OK"})
        worker.stop()
    assert [r.getMessage() for r in caplog.records] == [
        f"the health server listens on 0.0.0.0 port {port}, beyond this machine "
        "(healthcheck_public=True): anyone who can reach it can probe the worker"
    ]
    # loopback with the opt-in: nothing to warn about
    caplog.clear()
    quiet = ProcessWorker(orch, "pool", healthcheck_public=True)
    async with anyio.create_task_group() as group:
        await group.start(quiet.start, False, True)
        quiet.stop()
    assert caplog.records == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"status_server_timeout_seconds": 0},
            "status_server_timeout_seconds must be a number of seconds > 0, got 0",
        ),
        (
            {"status_server_max_connections": 0},
            "status_server_max_connections must be an integer >= 1, got 0",
        ),
    ],
)
async def test_bad_status_server_options_are_refused_before_anything_starts(
    options: dict[str, Any], message: str
) -> None:
    orch = Orchestrator(VirtualClock(), seed=10)

    @task(task_key="idle3")
    def idle3() -> None:
        pass

    worker = TaskWorker(idle3, orchestrator=orch)
    with pytest.raises(InvalidArgument) as raised:
        await worker.run(status_server_port=0, **options)
    assert str(raised.value) == message
    assert not worker.started
    assert orch.activity.workers == ()


def test_a_taken_health_port_fails_before_the_worker_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        orch = Orchestrator(VirtualClock(), seed=11)
        orch.create_work_pool("pool")
        worker = ProcessWorker(orch, "pool", healthcheck_port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"):
            anyio.run(functools.partial(worker.start, False, True))
    assert not worker.started
    assert worker.health_address is None
