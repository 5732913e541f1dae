"""A small real Dask cluster for the executor tests: two worker processes, one thread each.

``allowed_failures=0``: a worker that dies with a task on it fails that task at once
(``KilledWorker``, an :class:`~orchestrator.executors.ExecutorLost` here) instead of
Dask running it again on the other worker, so the run ends Crashed and its own retry
policy decides. The cluster's worker processes are spawned, and get this process's
``sys.path``, so they import the test modules whose tasks they run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

__all__ = ["WORKERS", "local_cluster", "worker_pids"]

#: The number of worker processes (the machine has two cores).
WORKERS = 2


@contextlib.contextmanager
def local_cluster() -> Iterator[tuple[LocalCluster, Client]]:
    """Start a LocalCluster of two one-thread worker processes and a client; close both."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=WORKERS,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",  # a free port: None would still bind the default 8787
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"allowed_failures": 0},
    )
    try:
        with Client(cluster, set_as_default=False) as client:
            yield cluster, client
    finally:
        cluster.close()


def worker_pids(client: Client) -> set[int]:
    """The process ids of the cluster's workers, once all of them are up (bounded wait)."""
    client.wait_for_workers(WORKERS, timeout=60)
    pids: dict[str, int] = client.run(os.getpid)
    return set(pids.values())
