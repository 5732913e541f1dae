"""The decision log in the journal: each decision as it is taken, replayed in full form.

A journaled engine whose journal keeps decisions appends a
:class:`~orchestrator._journal._records.DecisionMade` after recording each proposal's
decision. Restore puts each back in the run's log as a full entry (the compact form of
plain acceptances is not rebuilt: the decisions read back are the same, the memory a
little larger), and a deleted run's decisions go with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

from .._core._events import Decision, DecisionEntry, make_decision
from .._core._models import FlowRun, TaskRun
from .._core._states import make_state
from .._journal._records import DecisionMade, MirroredDecisions, PlainDecision

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "apply_decision",
    "apply_mirrored",
    "apply_plain_decision",
    "decisions_image",
    "journal_decision",
]


def journal_decision(engine: Engine, run: TaskRun | FlowRun, entry: DecisionEntry) -> None:
    """Journal a decision the decision log keeps in full (``entry``), when the journal
    keeps decisions (the caller checked there is a journal; a plain one it journals as
    a mark, see ``JournalWriter.plain_decision``)."""
    journal = engine.journal
    assert journal is not None
    if journal.keep_decisions:
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
    store = engine.store
    run = store.get_task_run(decision.run_id) or store.get_flow_run(decision.run_id)
    if run is None:
        raise ValueError(f"a decision of run {decision.run_id}, which the journal never added")
    engine.decisions.restore_entry(run, entry)


def apply_plain_decision(engine: Engine, record: PlainDecision) -> None:
    """Put a plain acceptance back in its run's log, as the state it committed."""
    store = engine.store
    run = store.get_flow_run(record.run_id) if record.flow else store.get_task_run(record.run_id)
    if run is None or run.state is None:
        raise ValueError(f"a decision of run {record.run_id}, which has no state")
    engine.decisions.restore_plain(run, run.state, forced=record.forced)


def apply_mirrored(engine: Engine, record: MirroredDecisions) -> None:
    """Give a run back its decision log in the compact form a snapshot kept."""
    engine.decisions.restore_mirrored(record.run_id, record.log)


def decisions_image(engine: Engine) -> Iterator[DecisionMade | MirroredDecisions]:
    """Every run's decisions, for a compaction's snapshot (after the runs): one record
    for a log that mirrors its run's history, else one per decision."""
    store = engine.store
    decisions = engine.decisions
    runs: Iterator[TaskRun | FlowRun] = chain(store.flow_runs.values(), store.task_runs.values())
    for run in runs:
        flow = run.__class__ is FlowRun
        log = decisions.mirrored_log(run.id)
        if log is not None:
            yield MirroredDecisions(run.id, flow, log)
            continue
        history = store.flow_run_states(run.id) if flow else store.task_run_states(run.id)
        for decision in decisions.read(run, history):
            yield DecisionMade(decision)
