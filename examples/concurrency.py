"""Tag concurrency limits: runs wait for a slot, first come first served.

Run it with ``python examples/concurrency.py``. Five loads carry the tag "warehouse",
limited to 2 runs at once. Two start at once; the policy tells the other three to WAIT.
Each of them starts the moment a slot frees, in the order they asked, not at their next
10-second re-check. Ten seconds in, the decision log says why each waiting run waits;
at the end it tells the whole story of one run.

Each load sleeps on the orchestrator's virtual clock, which the drain skips forward, so
the script finishes at once and prints exact times.
"""

from __future__ import annotations

from datetime import datetime

import anyio

from orchestrator import Orchestrator, StateType, VirtualClock, task
from orchestrator.testing import advance_to_next, run_until_idle
from orchestrator.workers import TaskWorker

#: (table, seconds the load takes), in the order they are submitted.
LOADS = [("orders", 30), ("customers", 45), ("invoices", 20), ("payments", 10), ("refunds", 5)]


@task(tags=["warehouse"], task_run_name="load-{table}")
async def load(table: str, seconds: float) -> str:
    """Load one table into the warehouse (here: wait ``seconds`` of virtual time)."""
    await Orchestrator.current().clock.sleep(seconds)
    return table


def hms(when: datetime | None) -> str:
    """Show a time of day, or "-" for none."""
    return "-" if when is None else f"{when:%H:%M:%S}"


async def run_all() -> None:
    """Submit the loads, look at them 10 seconds in, then drain them."""
    orchestrator = Orchestrator(VirtualClock(), seed=1)
    orchestrator.create_concurrency_limit("warehouse", 2)
    async with orchestrator, TaskWorker(load):
        runs = [orchestrator.submit(load, table, s).task_run for table, s in LOADS]
        now = await advance_to_next(orchestrator)
        limit = orchestrator.read_concurrency_limit("warehouse")
        holders = sorted(orchestrator.read_task_run(i).name for i in limit.active_slots)
        print(f"At {hms(now)} the 2 slots are held by {' and '.join(holders)}. The others:")
        for run in runs:
            if run.state_type is StateType.PENDING:
                decision = orchestrator.read_decisions(run.id)[-1]
                print(f"  {run.name}: {decision.status.name} by {decision.rule}: {decision.reason}")
        await run_until_idle(orchestrator)

    print(f"\n  {'run':<14} {'started':<9} {'ended':<9} waited")
    for run in runs:
        assert run.start_time is not None
        assert run.expected_start_time is not None
        waited = (run.start_time - run.expected_start_time).total_seconds()
        print(f"  {run.name:<14} {hms(run.start_time)}  {hms(run.end_time)}  {waited:g} s")
    print(f"\nThe decisions taken on {runs[2].name}:")
    print(orchestrator.explain(runs[2].id))


def main() -> None:
    """Run the example."""
    anyio.run(run_all)


if __name__ == "__main__":
    main()
