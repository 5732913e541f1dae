"""Transitions are atomic: threads proposing on shared runs leave consistent records."""

from __future__ import annotations

import random
import threading

from orchestrator import (
    Completed,
    Failed,
    Orchestrator,
    Pending,
    Running,
    SetStateStatus,
    State,
    StateType,
    TaskRunPolicy,
    VirtualClock,
)

THREADS = 4
RUNS = 60
PROPOSALS_PER_THREAD = 1500


def test_four_threads_on_shared_runs_account_for_every_transition() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=11)
    orch.create_concurrency_limit("shared", 3)
    run_ids = [
        orch.create_task_run(
            f"key-{i % 3}",
            tags={"shared"} if i % 2 else set(),
            policy=TaskRunPolicy(retries=1),
        ).run.id
        for i in range(RUNS)
    ]
    initial_ids = {orch.read_task_run(run_id).state_id for run_id in run_ids}
    returned: list[set[object]] = [set() for _ in range(THREADS)]
    accepted = [0] * THREADS
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)
    makers = [Pending, Running, Running, Completed, Failed]

    def worker(index: int) -> None:
        rng = random.Random(index)
        try:
            barrier.wait()
            for _ in range(PROPOSALS_PER_THREAD):
                run_id = rng.choice(run_ids)
                proposal: State = rng.choice(makers)()
                result = orch.set_task_run_state(run_id, proposal, force=rng.random() < 0.1)
                assert result.state is not None
                returned[index].add(result.state.id)
                if result.status is SetStateStatus.ACCEPT:
                    accepted[index] += 1
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    history_ids = {s.id for run_id in run_ids for s in orch.read_task_run_states(run_id)}
    all_returned = set().union(*returned)
    # Every state a caller was told about is in the history, and every committed state
    # (beyond the initial ones) was reported to exactly the caller that committed it.
    assert all_returned <= history_ids
    assert history_ids - initial_ids <= all_returned
    decisions = orch.read_decisions
    accepted_logged = sum(
        1 for run_id in run_ids for d in decisions(run_id)[1:] if d.status is SetStateStatus.ACCEPT
    )
    assert sum(len(decisions(run_id)) - 1 for run_id in run_ids) == THREADS * PROPOSALS_PER_THREAD
    assert accepted_logged == sum(accepted)
    orch.check_invariants()
    for run_id in run_ids:
        run = orch.read_task_run(run_id)
        states = orch.read_task_run_states(run_id)
        assert states[-1] is run.state
        state_ids = [s.id for s in states]
        assert len(set(state_ids)) == len(state_ids)
    holders = orch.read_concurrency_limit("shared").active_slots
    assert len(holders) <= 3
    for holder in holders:
        assert orch.read_task_run(holder).state_type is StateType.RUNNING
