"""A deployment whose flow runs are Python scripts, run by a ProcessWorker.

Run it with ``python examples/flow_deployment.py``. It creates a work pool, a
deployment whose command runs ``examples/scripts/hello_flow.py``, and three flow runs
of it with different parameters; then a process worker takes them (one pass), runs each
script as a subprocess (an argument list, never a shell) and reports how each ended.
The orchestrator's clock is virtual, so every run is due at once; the processes run in
real time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from orchestrator import Orchestrator, ProcessWorker, VirtualClock

SCRIPT = Path(__file__).resolve().parent / "scripts" / "hello_flow.py"


async def main() -> None:
    """Deploy the script, create three runs, and let a worker run them."""
    orch = Orchestrator(clock=VirtualClock(), seed=11)
    orch.create_work_pool("local")
    flow = orch.create_flow("hello")
    deployment = orch.create_deployment(
        flow.id,
        "hello-script",
        work_pool_name="local",
        command=[sys.executable, str(SCRIPT)],
        parameters={"name": "world"},
        job_variables={"env": {"PYTHONUNBUFFERED": "1"}},
    )
    runs = [
        orch.create_flow_run_from_deployment(deployment.id, name="default"),
        orch.create_flow_run_from_deployment(deployment.id, name="ada", parameters={"name": "Ada"}),
        orch.create_flow_run_from_deployment(
            deployment.id, name="broken", parameters={"exit_code": 3}
        ),
    ]

    worker = ProcessWorker(orch, "local", name="example-worker")
    await worker.start(run_once=True, printer=lambda line: print(f"  | {line}"))

    for run in runs:
        states = " -> ".join(state.name for state in orch.read_flow_run_states(run.id))
        print(f"{run.name}: {states}")
        if run.state is not None and run.state.message:
            print(f"  {run.state.message}")


if __name__ == "__main__":
    anyio.run(main)
