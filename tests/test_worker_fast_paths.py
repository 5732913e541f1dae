"""The worker's and the queues' shortcuts give what the general path gives."""

from __future__ import annotations

import uuid

import attrs

from orchestrator import Orchestrator, StateDetails, task
from orchestrator.workers._proposals import claim_proposal


@task(task_key="fast.noop")
async def noop() -> None:
    return None


def test_a_claim_of_a_submitted_run_has_the_claims_own_details() -> None:
    orch = Orchestrator(seed=3)
    run = orch.read_task_run(orch.submit(noop).task_run_id)
    queued = run.state
    assert queued is not None
    proposal = claim_proposal(run, queued, None)
    expected = StateDetails(
        deferred=True,
        scheduled_time=queued.details.scheduled_time,
        task_parameters_id=queued.details.task_parameters_id,
        refresh_cache=queued.details.refresh_cache,
        flow_run_id=run.flow_run_id,
        task_run_id=run.id,
    )
    assert proposal.details == expected
    assert proposal.type.name == "PENDING"
    assert proposal.name == "Pending"
    assert proposal.message is None
    assert proposal.id is None
    assert proposal.timestamp is None


def test_a_claim_drops_what_the_queued_state_carries_beyond_a_claim() -> None:
    orch = Orchestrator(seed=3)
    run = orch.read_task_run(orch.submit(noop).task_run_id)
    queued = run.state
    assert queued is not None
    richer = attrs.evolve(queued, details=queued.details.replace(cache_key="k", retriable=False))
    proposal = claim_proposal(run, richer, None)
    assert proposal.details.cache_key is None
    assert proposal.details.retriable is None
    assert proposal.details.task_run_id == run.id
    assert proposal.details.deferred is True


def test_the_queues_answer_false_for_anything_but_a_queued_run_id() -> None:
    orch = Orchestrator(seed=3)
    queues = orch.task_queues
    run_id = orch.submit(noop).task_run_id
    assert run_id in queues
    assert uuid.UUID(int=run_id.int) in queues
    assert run_id.int not in queues
    assert str(run_id) not in queues
    assert queues.discard(str(run_id)) is False  # type: ignore[arg-type]
    assert run_id in queues
    assert queues.discard(run_id) is True
    assert run_id not in queues
    assert queues.discard(run_id) is False
