"""Quickstart: create task runs, drive them through the core policy, query them, show history.

Run it with ``python examples/quickstart.py``. It uses a virtual clock, so the times it
prints are exact and the script finishes at once, whatever the retry delays.
"""

from __future__ import annotations

from datetime import timedelta

from orchestrator import (
    Completed,
    Failed,
    Orchestrator,
    Running,
    Scheduled,
    SetStateStatus,
    TaskRunPolicy,
    VirtualClock,
    WaitDetails,
)
from orchestrator.filters import TaskRunFilter, TaskRunSort


def main() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=7)
    start = clock.now()

    # Three kinds of run: one that succeeds, one that fails once and is retried,
    # and one that waits for a tag concurrency slot.
    orch.create_concurrency_limit("database", 1)
    ok = orch.create_task_run("load-users", state=Scheduled(start)).run
    flaky = orch.create_task_run(
        "send-email", policy=TaskRunPolicy(retries=2, retry_delay=[30, 60])
    ).run
    first_db = orch.create_task_run("migrate", tags={"database"}).run
    second_db = orch.create_task_run("backfill", tags={"database"}).run

    orch.set_task_run_state(ok.id, Running())
    clock.advance(2)
    orch.set_task_run_state(ok.id, Completed(data={"rows": 42}))

    orch.set_task_run_state(flaky.id, Running())
    clock.advance(1)
    result = orch.set_task_run_state(flaky.id, Failed(message="SMTP timeout"))
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    due = result.state.details.scheduled_time
    print(f"send-email failed and is {result.state.name} until {due}")
    clock.advance(30)
    orch.set_task_run_state(flaky.id, Running())
    clock.advance(1)
    orch.set_task_run_state(flaky.id, Completed())

    orch.set_task_run_state(first_db.id, Running())
    waiting = orch.set_task_run_state(second_db.id, Running())
    assert isinstance(waiting.details, WaitDetails)
    print(f"backfill: {waiting.status.name}, {waiting.details.reason}")
    clock.advance(5)
    orch.set_task_run_state(first_db.id, Completed())
    orch.set_task_run_state(second_db.id, Running())
    clock.advance(3)
    orch.set_task_run_state(second_db.id, Completed())

    print("\nWhy did backfill wait?")
    print(orch.explain(second_db.id))

    print("\nCompleted runs, most recently finished first:")
    completed = orch.read_task_runs(
        task_runs=TaskRunFilter(state=["COMPLETED"]), sort=TaskRunSort.END_TIME_DESC
    )
    for run in completed:
        print(
            f"  {run.task_key:<12} {run.state_name:<10} runs={run.run_count} "
            f"ran {run.total_run_time:>4.1f}s ended {run.end_time}"
        )

    print("\nRun history (10-second buckets):")
    history = orch.task_run_history(
        history_start=start,
        history_end=start + timedelta(seconds=60),
        history_interval=10,
    )
    print(f"  {'bucket start':<27} {'state':<10} runs")
    for bucket in history:
        for group in bucket.states:
            print(
                f"  {bucket.interval_start.isoformat():<27} {group.state_name:<10} "
                f"{group.count_runs}"
            )
    orch.check_invariants()


if __name__ == "__main__":
    main()
