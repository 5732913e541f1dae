"""Observers and the decision log.

Every committed change is reported, in commit order, to the orchestrator's observers:
subclasses of :class:`Observer` that override the typed no-op methods they care about.
Observers are called synchronously, under the engine's lock, from whichever thread made
the change: they must be quick and must not block. An observer that raises is logged
and skipped; it never undoes or interrupts a commit.

Every proposal, accepted or not, becomes a :class:`Decision` in the orchestrator's
decision log, so "why is this run waiting?" has an answer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, final

import attrs

from ._models import FlowRun, TaskRun
from ._outcomes import SetStateStatus
from ._states import State, StateType

__all__ = ["Decision", "DecisionEntry", "Observer", "make_decision"]

logger = logging.getLogger("orchestrator")


@final
@attrs.frozen(kw_only=True)
class Decision:
    """One proposal and what became of it.

    Attributes:
        timestamp: when the proposal was decided (orchestrator clock).
        run_id: the task or flow run it was about; ``run_kind`` says which.
        from_type: the run's state type before the proposal.
        proposed_type, proposed_name: what was proposed.
        status: ACCEPT, REJECT, WAIT or ABORT.
        state_type, state_name: the run's state afterwards.
        rule: the rule that decided (None when every rule let it through).
        reason: the rule's reason, if it gave one.
        forced: whether the proposal was made with ``force=True``.
        policy: the name of the policy that ran.
    """

    timestamp: datetime
    run_id: uuid.UUID
    run_kind: str
    from_type: StateType | None
    proposed_type: StateType | None
    proposed_name: str | None
    status: SetStateStatus
    state_type: StateType | None
    state_name: str | None
    rule: str | None
    reason: str | None
    forced: bool
    policy: str

    def explain(self) -> str:
        """Return one readable line: what was proposed, what happened, and why."""
        frm = "no state" if self.from_type is None else self.from_type.name
        to = "nothing" if self.proposed_type is None else f"{self.proposed_name}"
        line = f"{self.timestamp.isoformat()} {frm} -> {to}: {self.status.name}"
        if self.status is not SetStateStatus.ACCEPT and self.state_name is not None:
            line += f" (run is {self.state_name})"
        if self.rule is not None:
            line += f" by {self.rule}"
        if self.reason:
            line += f": {self.reason}"
        return line


#: How the decision log stores one decision: (timestamp, from type, proposed type,
#: proposed name, status, resulting state, deciding rule (a Rule, its name, or None),
#: reason, forced, policy name).
DecisionEntry = tuple[
    datetime,
    StateType | None,
    StateType | None,
    str | None,
    SetStateStatus,
    State | None,
    object,
    str | None,
    bool,
    str,
]


def make_decision(run: TaskRun | FlowRun, entry: DecisionEntry) -> Decision:
    """Build the :class:`Decision` a decision-log entry of ``run`` stands for."""
    when, from_type, proposed_type, proposed_name, status, state, rule, reason, forced, policy = (
        entry
    )
    rule_name = rule if rule is None or isinstance(rule, str) else str(getattr(rule, "name", rule))
    return Decision(
        timestamp=when,
        run_id=run.id,
        run_kind="task run" if isinstance(run, TaskRun) else "flow run",
        from_type=from_type,
        proposed_type=proposed_type,
        proposed_name=proposed_name,
        status=status,
        state_type=None if state is None else state.type,
        state_name=None if state is None else state.name,
        rule=rule_name,
        reason=reason,
        forced=forced,
        policy=policy,
    )


class Observer:
    """Base class for observers of an orchestrator; every method is a no-op.

    Subscribe with :meth:`Orchestrator.subscribe`. Methods are called under the
    engine's lock in commit order, from the thread that made the change.
    """

    def task_run_created(self, run: TaskRun) -> None:
        """A task run was created (its initial state, if any, follows as a commit)."""

    def task_run_updated(self, run: TaskRun, changes: Mapping[str, Any]) -> None:
        """Fields of a task run were updated; ``changes`` maps field names to new values."""

    def task_run_deleted(self, run: TaskRun) -> None:
        """A task run and its states were deleted."""

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        """``state`` became the current state of ``run`` (the run's bookkeeping is updated)."""

    def flow_run_created(self, run: FlowRun) -> None:
        """A flow run was created."""

    def flow_run_updated(self, run: FlowRun, changes: Mapping[str, Any]) -> None:
        """Fields of a flow run were updated."""

    def flow_run_deleted(self, run: FlowRun) -> None:
        """A flow run and its states were deleted."""

    def flow_run_state_committed(self, run: FlowRun, state: State) -> None:
        """``state`` became the current state of ``run``."""

    def policy_table_changed(self, event: object) -> None:
        """A concurrency limit or slot, or a cache entry, changed; ``event`` says how."""

    def decision_recorded(self, decision: Decision) -> None:
        """A proposal was decided (whatever the outcome)."""


def notify(observers: tuple[Observer, ...], call: Callable[[Observer], None]) -> None:
    """Call ``call(observer)`` for every observer, logging (not raising) what they raise."""
    for observer in observers:
        try:
            call(observer)
        except Exception:
            logger.exception("observer %r failed", observer)
