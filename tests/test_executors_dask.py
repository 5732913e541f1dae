"""DaskExecutor on a real LocalCluster: two worker processes, one thread each.

The executor alone first (where calls run, results and exceptions, keywords, distinct
calls, a killed worker, the event loop kept free, a client made outside the loop, an
address, bad input), then task runs served by a TaskWorker through it: retries, a tag
limit of 1, a timeout, a cache hit, an unpicklable result and a worker killed mid-run.
Skipped, with the reason, only when ``distributed`` (the ``dask`` extra) is missing.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from orchestrator import InvalidArgument
from orchestrator.executors import DaskExecutor, ExecutorLost, RemoteCall, remote_traceback
from tests.dask_cluster import worker_pids

pytest.importorskip(
    "distributed", reason="the Dask executor needs the dask extra: pip install '.[dask]'"
)

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(dask_cluster: tuple[LocalCluster, Client]) -> Client:
    return dask_cluster[1]


@pytest.fixture
def pids(client: Client) -> set[int]:
    """The worker pids, both workers up (a test before may have killed one)."""
    return worker_pids(client)


@pytest.fixture
def executor(client: Client, pids: set[int]) -> Iterator[DaskExecutor]:
    with DaskExecutor(client) as made:
        yield made


# -- functions the workers run (module level: they ship by reference) --------------------------
class Boom(Exception):
    pass


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def keywords(x: int, *, key: str, pure: bool, workers: int) -> tuple[int, str, bool, int]:
    return x, key, pure, workers


def fresh_token(_: int) -> str:
    return uuid.uuid4().hex


def boom_here(text: str) -> None:
    raise Boom(text)


def kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# -- the executor alone -------------------------------------------------------------------------
async def test_calls_run_in_the_two_worker_processes(
    executor: DaskExecutor, pids: set[int]
) -> None:
    calls = [executor.submit(pid_after, 0.5) for _ in range(2)]
    ran = {await call.result() for call in calls}
    assert ran == pids
    assert os.getpid() not in ran


async def test_keywords_reach_the_function_even_those_dask_takes_for_itself(
    executor: DaskExecutor,
) -> None:
    call = executor.submit(keywords, 1, key="k", pure=True, workers=3)
    assert await call.result() == (1, "k", True, 3)


async def test_each_submission_is_a_distinct_call(executor: DaskExecutor) -> None:
    # Identical function and arguments: Dask must not merge them into one task.
    first, second = executor.submit(fresh_token, 1), executor.submit(fresh_token, 1)
    assert await first.result() != await second.result()


async def test_an_exception_comes_back_with_its_remote_traceback(executor: DaskExecutor) -> None:
    call = executor.submit(boom_here, "no luck")
    with pytest.raises(Boom, match="no luck") as raised:
        await call.result()
    text = remote_traceback(raised.value)
    assert "boom_here" in text
    assert "Boom: no luck" in text


async def test_a_killed_worker_ends_the_call_lost_and_the_executor_serves_on(
    executor: DaskExecutor, pids: set[int]
) -> None:
    with pytest.raises(ExecutorLost, match="Dask worker running the call died"):
        await executor.submit(kill_myself).result()
    assert await executor.submit(pid_after, 0).result() in pids


async def test_awaiting_a_call_leaves_the_event_loop_free(executor: DaskExecutor) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        await executor.submit(pid_after, 0.5).result()
        group.cancel_scope.cancel()
    assert ticks >= 10  # about 50 if the loop was free, 1 if the wait had blocked it


def test_done_callbacks_run_when_the_call_ends(executor: DaskExecutor) -> None:
    ended = threading.Event()
    seen: list[RemoteCall[int]] = []

    def on_done(call: RemoteCall[int]) -> None:
        seen.append(call)
        ended.set()

    call = executor.submit(pid_after, 0.2)
    call.add_done_callback(on_done)
    assert ended.wait(30)
    assert seen == [call]
    assert call.done()
    assert not call.cancel()  # finished: nothing to drop


def test_cancel_never_drops_a_call_that_may_be_running(executor: DaskExecutor) -> None:
    ended = threading.Event()
    call = executor.submit(pid_after, 0.3)
    assert not call.cancel()
    call.add_done_callback(lambda _: ended.set())
    assert ended.wait(30)  # it ran to its end, and said so
    assert not isinstance(_outcome(call), ExecutorLost)


def _outcome(call: RemoteCall[Any]) -> Any:
    async def read() -> Any:
        try:
            return await call.result()
        except Exception as exc:
            return exc

    return anyio.run(read)


def test_a_sync_client_made_outside_the_loop_serves_asyncio_and_trio(
    client: Client, pids: set[int]
) -> None:
    with DaskExecutor(client) as executor:
        for backend in ("asyncio", "trio"):
            assert anyio.run(executor.submit(pid_after, 0).result, backend=backend) in pids
    assert client.status == "running"  # the caller's client is left open


def test_an_address_gives_an_executor_owning_its_client(
    dask_cluster: tuple[LocalCluster, Client], pids: set[int]
) -> None:
    address = dask_cluster[0].scheduler_address
    executor = DaskExecutor(address)
    try:
        assert address in repr(executor)
        assert anyio.run(executor.submit(pid_after, 0).result) in pids
    finally:
        executor.close()
    assert executor.client.status == "closed"
    assert "closed" in repr(executor)
    executor.close()  # idempotent


def test_a_closed_executor_refuses_calls_and_loses_those_in_flight(client: Client) -> None:
    executor = DaskExecutor(client)
    call = executor.submit(pid_after, 1)
    executor.close()
    with pytest.raises(ExecutorLost, match="the DaskExecutor was closed"):
        anyio.run(call.result)
    with pytest.raises(ExecutorLost, match="closed"):
        executor.submit(pid_after, 0)
    assert client.status == "running"


def test_an_unpicklable_argument_is_named_and_the_executor_serves_on(
    executor: DaskExecutor, pids: set[int]
) -> None:
    with pytest.raises(pickle.PicklingError, match=r"argument 0 of the call to 'pid_after'"):
        executor.submit(pid_after, threading.Lock())  # type: ignore[arg-type]
    assert anyio.run(executor.submit(pid_after, 0).result) in pids


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (42, TypeError, "client_or_address must be a distributed.Client or a scheduler address"),
        ("", ValueError, "client_or_address must be a distributed.Client or a scheduler"),
    ],
)
def test_refuses_what_is_neither_a_client_nor_an_address(
    value: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as raised:
        DaskExecutor(value)  # type: ignore[arg-type]
    assert isinstance(raised.value, InvalidArgument)


def test_refuses_a_closed_client(dask_cluster: tuple[LocalCluster, Client]) -> None:
    from distributed import Client

    closed = Client(dask_cluster[0], set_as_default=False)
    closed.close()
    with pytest.raises(InvalidArgument, match="client_or_address must be an open Client"):
        DaskExecutor(closed)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Dask's async client is asyncio's
async def test_refuses_an_asynchronous_client(dask_cluster: tuple[LocalCluster, Client]) -> None:
    from distributed import Client

    address = dask_cluster[0].scheduler_address
    async with Client(address, asynchronous=True, set_as_default=False) as client:
        with pytest.raises(InvalidArgument, match="a synchronous Client"):
            DaskExecutor(client)


def test_without_distributed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'inproc-orchestrator\[dask\]'"):
        DaskExecutor("tcp://127.0.0.1:8786")
