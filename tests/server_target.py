"""A worker serving its HTTP endpoint with 64 descriptors at most, for tests/test_http_servers.py.

Run as ``python -m tests.server_target {status|health} {asyncio|trio}``. It lowers its own
RLIMIT_NOFILE to 64 (this process only), serves with a 0.5 s timeout and no useful cap
(so that descriptors run out before the cap is reached), logs to stderr at INFO, and
prints the port. On a line on stdin it proves the worker still works (a task run's
result, or the health check) and stops the worker, printing ``stopped``; an error out of
the worker ends the process with a traceback and a non-zero status.
"""

from __future__ import annotations

import functools
import logging
import resource
import sys

import anyio

from orchestrator import Orchestrator, ProcessWorker, VirtualClock, task
from orchestrator.workers import TaskWorker

DESCRIPTORS = 64
TIMEOUT_SECONDS = 0.5
CAP = 1000


def say(*words: object) -> None:
    print(*words, flush=True)


async def status_target() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=1)

    @task(task_key="echo")
    async def echo(x: int) -> int:
        return x

    worker = TaskWorker(echo, orchestrator=orchestrator, limit=4)
    async with anyio.create_task_group() as group:
        await group.start(
            functools.partial(
                worker.run,
                status_server_port=0,
                status_server_timeout_seconds=TIMEOUT_SECONDS,
                status_server_max_connections=CAP,
            )
        )
        address = worker.status_address
        assert address is not None
        say(address[1])
        await anyio.to_thread.run_sync(sys.stdin.readline)
        say("result", await orchestrator.submit(echo, 42).aresult(timeout=10))
        worker.stop()
    say("stopped")


async def health_target() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=1)
    orchestrator.create_work_pool("pool")
    worker = ProcessWorker(
        orchestrator,
        "pool",
        healthcheck_timeout_seconds=TIMEOUT_SECONDS,
        healthcheck_max_connections=CAP,
    )
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, True)
        address = worker.health_address
        assert address is not None
        say(address[1])
        await anyio.to_thread.run_sync(sys.stdin.readline)
        say("healthy", worker.health())
        worker.stop()
    say("stopped")


def main() -> None:
    kind, backend = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, hard))
    anyio.run(status_target if kind == "status" else health_target, backend=backend)


if __name__ == "__main__":
    main()
