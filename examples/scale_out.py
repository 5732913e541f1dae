"""Scale out: CPU-bound tasks on a Dask cluster, orchestrated in this process.

Run it with ``pip install '.[dask]' && python examples/scale_out.py``. It starts a
``LocalCluster`` of two worker processes (swap in ``DaskExecutor("tcp://scheduler:8786")``
for a real cluster) and hands task functions to it through a ``DaskExecutor``, while
states, retries and queues stay here:

1. background runs: four prime counts submitted to the orchestrator and served by a
   TaskWorker whose executor is the cluster; they run in the workers' processes;
2. a flow whose submitted tasks run on the cluster (``task_runner=executor``);
3. a worker process killed mid-run: with ``allowed_failures=0`` Dask gives the run up at
   once, the run is Crashed, and its own retry policy runs it again on a live worker.

Tasks ship by reference (module and name), so the workers must import this module: a
script runs as ``__main__``, which they cannot import, so the script imports itself.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from tempfile import TemporaryDirectory

from orchestrator import Orchestrator, flow, task
from orchestrator.executors import DaskExecutor
from orchestrator.testing import run_until_idle_sync


@task(retries=2, retry_delay_seconds=0)
def count_primes(below: int) -> tuple[int, int]:
    """How many primes there are below ``below`` (pure-Python work), and where it ran."""
    count = sum(1 for n in range(2, below) if all(n % d for d in range(2, int(n**0.5) + 1)))
    return count, os.getpid()


@task(retries=1, retry_delay_seconds=0)
def dies_once(marker: Path) -> str:
    """Kills its own worker process on its first attempt."""
    if not marker.exists():
        marker.write_text("tried")
        os.kill(os.getpid(), signal.SIGKILL)
    return "done on the second attempt"


@flow
def total_primes(limits: list[int]) -> int:
    """Count the primes below each limit, on the flow's task runner; add them up."""
    return sum(count for count, _ in count_primes.map(limits).result())


def main() -> None:
    """Start a two-worker LocalCluster, run the three parts on it, close it."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
        # A worker's death fails its task at once (KilledWorker): the run is Crashed
        # and retried by its own policy, instead of Dask re-running it unseen.
        scheduler_kwargs={"allowed_failures": 0},
    )
    try:
        with Client(cluster, set_as_default=False) as client, DaskExecutor(client) as executor:
            workers = set(client.run(os.getpid).values())

            orchestrator = Orchestrator()
            limits = [20_000, 40_000, 60_000, 80_000]
            futures = [orchestrator.submit(count_primes, limit) for limit in limits]
            run_until_idle_sync(orchestrator, count_primes, executor=executor)
            results = [future.result() for future in futures]
            print("primes below", limits, "->", [count for count, _ in results])
            ran_in = {pid for _, pid in results}
            print(
                f"ran in the cluster's workers: {ran_in <= workers}, here: {os.getpid() in ran_in}"
            )

            with Orchestrator():
                total = total_primes.with_options(task_runner=executor)(limits)
            print("a flow on the cluster counted", total, "primes")

            with TemporaryDirectory() as scratch:
                run = orchestrator.submit(dies_once, Path(scratch) / "marker")
                run_until_idle_sync(orchestrator, dies_once, executor=executor)
                states = orchestrator.read_task_run_states(run.task_run_id)
                lost = next(state for state in states if state.name == "AwaitingRetry")
                print("first attempt:", str(lost.message).split(":")[0], "->", run.result())
    finally:
        cluster.close()


if __name__ == "__main__":
    import scale_out  # this file under its own name: see the module docstring

    scale_out.main()
