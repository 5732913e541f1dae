"""Shared pytest configuration and the fixtures the rule and executor tests share.

Every async test runs on both asyncio and trio. ``clock`` and ``services`` serve the
rule tests, which drive rules without an orchestrator; a test file that needs another
clock (say, one starting at a fixed date) defines its own ``clock``, which wins.

``dask_cluster`` is one two-worker LocalCluster for the whole session (skipped without
the dask extra); ``remote`` is an executor that leaves the process, once a process pool
and once a Dask executor on that cluster, for tests that hold for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from orchestrator import VirtualClock
from orchestrator.executors import DaskExecutor, Executor, ProcessPoolExecutor
from tests.dask_cluster import local_cluster, worker_pids
from tests.helpers import StubServices

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of an async test: each one runs once per backend."""
    backend: str = request.param
    return backend


@pytest.fixture
def clock() -> VirtualClock:
    """A fresh virtual clock at its default start."""
    return VirtualClock()


@pytest.fixture
def services() -> StubServices:
    """Rule services over fresh, empty policy tables."""
    return StubServices()


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[tuple[LocalCluster, Client]]:
    """A LocalCluster of two one-thread worker processes and its client, for the session."""
    pytest.importorskip(
        "distributed", reason="the Dask executor needs the dask extra: pip install '.[dask]'"
    )
    with local_cluster() as started:
        yield started


@pytest.fixture(scope="module", params=["process-pool", "dask"])
def remote_executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A 2-process pool (one per module), or a DaskExecutor on the session's cluster."""
    if request.param == "process-pool":
        with ProcessPoolExecutor(2) as pool:
            yield pool
        return
    cluster: tuple[LocalCluster, Client] = request.getfixturevalue("dask_cluster")
    with DaskExecutor(cluster[1]) as dask:
        yield dask


@pytest.fixture
def remote(remote_executor: Executor) -> Executor:
    """:func:`remote_executor`, with both Dask workers up (a test before may have killed one)."""
    if isinstance(remote_executor, DaskExecutor):
        worker_pids(remote_executor.client)
    return remote_executor
