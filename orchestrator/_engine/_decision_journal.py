"""The decision log in the journal: each decision as it is taken, replayed in full form.

A journaled engine whose journal keeps decisions appends a
:class:`~orchestrator._journal._records.DecisionMade` after recording each proposal's
decision. Restore puts each back in the run's log as a full entry (the compact form of
plain acceptances is not rebuilt: the decisions read back are the same, the memory a
little larger), and a deleted run's decisions go with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._core._events import Decision, DecisionEntry, make_decision
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._states import State, make_state
from .._journal._records import DecisionMade, PlainDecision
from .._rules._context import TransitionContext
from .._rules._rule import Policy

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["apply_decision", "apply_plain_decision", "decisions_image", "journal_decision"]

_ACCEPT = SetStateStatus.ACCEPT


def _plain(
    engine: Engine,
    run: TaskRun | FlowRun,
    ctx: TransitionContext,
    proposed: State,
    state: State | None,
    reason: object,
    policy: Policy,
) -> bool:
    """Whether the decision log keeps this decision as the committed state itself."""
    if ctx.force or ctx.decider is not None or reason is not None or state is None:
        return False
    if state.timestamp is not ctx.now or state.name != proposed.name:
        return False
    if isinstance(run, TaskRun):
        return policy is engine.choose_task_policy(state, False)
    return policy is engine.policies.flow


def journal_decision(
    engine: Engine,
    run: TaskRun | FlowRun,
    ctx: TransitionContext,
    proposed: State,
    result: OrchestrationResult,
    policy: Policy,
) -> None:
    """Journal the decision just recorded, when both the journal and the orchestrator
    keep decisions (the caller checked there is a journal)."""
    journal = engine.journal
    assert journal is not None
    if not (journal.keep_decisions and engine.decisions.keep):
        return
    state = result.state
    reason = getattr(result.details, "reason", None)
    if _plain(engine, run, ctx, proposed, state, reason, policy) and result.status is _ACCEPT:
        # what the decision log keeps as the state itself (most decisions): a marker
        journal.append(PlainDecision(run.id, isinstance(run, FlowRun)))
        return
    entry: DecisionEntry = (
        ctx.now,
        ctx.initial_type,
        proposed.type,
        proposed.name,
        result.status,
        state,
        ctx.decider,
        reason,
        ctx.force,
        policy.name,
    )
    journal.append(DecisionMade(make_decision(run, entry)))


def apply_decision(engine: Engine, record: DecisionMade) -> None:
    """Put a journaled decision back at the end of its run's log."""
    decision: Decision = record.decision
    outcome = (
        None
        if decision.state_type is None
        else make_state(decision.state_type, decision.state_name, None, None, None, None)
    )
    entry: DecisionEntry = (
        decision.timestamp,
        decision.from_type,
        decision.proposed_type,
        decision.proposed_name,
        decision.status,
        outcome,
        decision.rule,
        decision.reason,
        decision.forced,
        decision.policy,
    )
    engine.decisions.restore_entry(decision.run_id, entry)


def apply_plain_decision(engine: Engine, record: PlainDecision) -> None:
    """Put a plain acceptance back in its run's log, as the state it committed."""
    store = engine.store
    run = store.get_flow_run(record.run_id) if record.flow else store.get_task_run(record.run_id)
    if run is None or run.state is None:
        raise ValueError(f"a decision of run {record.run_id}, which has no state")
    engine.decisions.restore_entry(record.run_id, run.state)


def decisions_image(engine: Engine) -> Iterator[DecisionMade]:
    """Every run's decisions, for a compaction's snapshot (after the runs)."""
    store = engine.store
    decisions = engine.decisions
    for flow_run in store.flow_runs.values():
        for decision in decisions.read(flow_run, store.flow_run_states(flow_run.id)):
            yield DecisionMade(decision)
    for run in store.task_runs.values():
        for decision in decisions.read(run, store.task_run_states(run.id)):
            yield DecisionMade(decision)
