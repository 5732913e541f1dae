"""A task worker's status record, and the JSON status server on a real socket."""

from __future__ import annotations

import functools
import json
import socket
from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import InvalidArgument, Orchestrator, VirtualClock, task
from orchestrator.workers import TaskWorker, TaskWorkerStatus, serve
from orchestrator.workers._status import StatusServer
from tests.worker_helpers import Commits, outcome, serving


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=4)


async def http(port: int, request: bytes) -> tuple[int, Any]:
    """Send a raw request to 127.0.0.1:port; return the status code and the JSON body."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        data = b""
        with anyio.fail_after(10):
            while True:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Connection"] == "close"
    return int(lines[0].split()[1]), json.loads(body)


def address_of(server: StatusServer) -> tuple[str, int] | None:
    return server.address


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def test_status_while_a_run_is_in_flight(orch: Orchestrator, clock: VirtualClock) -> None:
    start = clock.now()
    gate = anyio.Event()

    @task(task_key="b.slow")
    async def slow() -> None:
        await gate.wait()

    @task(task_key="a.fast")
    def fast() -> None:
        pass

    commits = Commits(orch)
    async with TaskWorker(slow, fast, orchestrator=orch, limit=4) as worker:
        await outcome(orch.submit(fast))
        clock.advance(5)
        future = orch.submit(slow)
        await commits.state(future, "Running")
        status = worker.status()
        assert status == TaskWorkerStatus(
            client_id=worker.client_id,
            started_at=start,
            stopping=False,
            limit=4,
            current=1,
            available=3,
            tasks=("a.fast", "b.slow"),
            finished={"b.slow": 0, "a.fast": 1},
            in_flight={"b.slow": {future.task_run_id: start + timedelta(seconds=5)}, "a.fast": {}},
        )
        assert status.to_dict() == {
            "client_id": worker.client_id,
            "started_at": "2026-01-01T00:00:00+00:00",
            "stopping": False,
            "limit": 4,
            "current": 1,
            "available": 3,
            "tasks": ["a.fast", "b.slow"],
            "finished": {"b.slow": 0, "a.fast": 1},
            "in_flight": {
                "b.slow": {str(future.task_run_id): "2026-01-01T00:00:05+00:00"},
                "a.fast": {},
            },
            "abandoned": {},
        }
        assert json.loads(status.to_json()) == status.to_dict()
        gate.set()
        await future.wait_async()
        # the record is a snapshot: later changes do not show in it
        assert status.in_flight["b.slow"] == {future.task_run_id: start + timedelta(seconds=5)}
        assert worker.status().in_flight["b.slow"] == {}
        assert worker.status().finished["b.slow"] == 1


async def test_the_status_server_serves_json(orch: Orchestrator) -> None:
    @task(task_key="served")
    def served(x: int) -> int:
        return x

    async with anyio.create_task_group() as group:
        worker = await group.start(
            functools.partial(serve, served, orchestrator=orch, status_server_port=0)
        )
        address = worker.status_address
        assert address is not None
        host, port = address
        assert host == "127.0.0.1"
        assert await outcome(orch.submit(served, 3)) == 3
        code, body = await http(port, get("/status"))
        assert (code, body) == (200, worker.status().to_dict())
        assert body["finished"] == {"served": 1}
        assert await http(port, get("/status?verbose=1")) == (200, worker.status().to_dict())
        assert await http(port, get("/health")) == (404, {"message": "no such path: /health"})
        post = b"POST /status HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        assert await http(port, post) == (405, {"message": "POST is not allowed; use GET"})
        assert await http(port, b"nonsense\r\n\r\n") == (400, {"message": "malformed request line"})
        worker.stop()
    assert not serving(worker)
    assert worker.status_address is None
    with pytest.raises(OSError, match="connect"):  # the port is closed with the worker
        await anyio.connect_tcp("127.0.0.1", port)


async def test_a_client_that_hangs_up_does_not_stop_the_worker(orch: Orchestrator) -> None:
    @task(task_key="served2")
    def served2() -> str:
        return "ok"

    worker = TaskWorker(served2, orchestrator=orch)
    async with anyio.create_task_group() as group:
        await group.start(functools.partial(worker.run, status_server_port=0))
        address = worker.status_address
        assert address is not None
        async with await anyio.connect_tcp(*address) as stream:
            await stream.send(b"GET /sta")  # and hangs up mid-request
        stream = await anyio.connect_tcp(*address)
        await stream.send(b"X" * 20_000)  # a head too large
        await stream.aclose()
        assert await http(address[1], get("/status")) == (200, worker.status().to_dict())
        assert await outcome(orch.submit(served2)) == "ok"
        worker.stop()


async def test_a_taken_port_fails_before_anything_starts(orch: Orchestrator) -> None:
    @task(task_key="idle")
    def idle() -> None:
        pass

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = TaskWorker(idle, orchestrator=orch)
        with pytest.raises(OSError, match="in use"):
            await worker.run(status_server_port=port)
    assert not serving(worker)
    assert orch.activity.workers == ()


@pytest.mark.parametrize("port", [-1, 70000, "80", True])
def test_a_bad_port_is_refused(port: Any) -> None:
    with pytest.raises(InvalidArgument, match="status_server_port must be a port number"):
        StatusServer(lambda: None, port)  # type: ignore[arg-type, return-value]


async def test_a_server_that_never_served_closes_its_port() -> None:
    server = StatusServer(lambda: None, 0)  # type: ignore[arg-type, return-value]
    assert address_of(server) is None
    host, port = await server.bind()
    assert address_of(server) == (host, port)
    await server.aclose()
    await server.aclose()  # twice is fine
    assert address_of(server) is None
