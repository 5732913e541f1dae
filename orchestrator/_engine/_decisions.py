"""The decision log: every proposal a run got, the rule that decided it and why.

:class:`DecisionLog` keeps compact entries per run, since one is written on every
proposal: a plain acceptance is just the committed state (its place in the history says
the rest), anything else a :data:`~orchestrator._core._events.DecisionEntry` tuple. A
:class:`~orchestrator.Decision` is built only when someone reads the log, or when an
observer that wants decisions is subscribed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import final

from .._core._events import Decision, DecisionEntry, Observer, make_decision, notify
from .._core._indexes import should_shrink, shrink
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._states import State, StateType
from .._rules._context import TransitionContext
from .._rules._rule import Policy

__all__ = ["DecisionLog"]

Run = TaskRun | FlowRun
#: The policy a plain proposal of ``state`` for ``run`` goes through (no force).
DefaultPolicy = Callable[[Run, State], Policy]


@final
class DecisionLog:
    """Decisions per run id, and the observers that want each one as it is taken.

    Args:
        keep: keep entries (off saves memory; observers are still told).
        default_policy: which policy a plain proposal goes through, so that a plain
            acceptance by that policy can be stored as just its state.
    """

    __slots__ = ("_by_run", "_default_policy", "_observers", "_peak", "keep")

    def __init__(self, *, keep: bool, default_policy: DefaultPolicy) -> None:
        self.keep = keep
        self._default_policy = default_policy
        self._by_run: dict[uuid.UUID, list[DecisionEntry | State]] = {}
        self._peak = 0  # the most runs with entries since the last shrink
        self._observers: tuple[Observer, ...] = ()

    def watch(self, observers: tuple[Observer, ...]) -> None:
        """Tell the observers among ``observers`` that override ``decision_recorded``."""
        # Only those make the log build a Decision per proposal (futures, for one, only
        # watch commits).
        self._observers = tuple(
            o for o in observers if type(o).decision_recorded is not Observer.decision_recorded
        )

    def record(
        self,
        run: Run,
        ctx: TransitionContext,
        proposed: State,
        result: OrchestrationResult,
        policy: Policy,
    ) -> None:
        """Log what ``policy`` decided on ``proposed`` for ``run`` (the caller holds the lock)."""
        state = result.state
        reason = getattr(result.details, "reason", None)
        decider = ctx.decider
        entry: DecisionEntry | State
        if (
            decider is None
            and result.status is SetStateStatus.ACCEPT
            and not ctx.force
            and state is not None
            and state.timestamp is ctx.now
            and state.name == proposed.name
            and reason is None
            and policy is self._default_policy(run, state)
        ):
            entry = state
        else:
            entry = (
                ctx.now,
                ctx.initial_type,
                proposed.type,
                proposed.name,
                result.status,
                state,
                decider,
                reason,
                ctx.force,
                policy.name,
            )
        if self.keep:
            log = self._by_run.get(run.id)
            if log is None:
                self._by_run[run.id] = [entry]
                if len(self._by_run) > self._peak:
                    self._peak = len(self._by_run)
            else:
                log.append(entry)
        if self._observers:
            decision = self._decision(run, entry, ctx.initial_type)
            notify(self._observers, lambda o: o.decision_recorded(decision))

    def read(self, run: Run, history: list[State]) -> list[Decision]:
        """Return ``run``'s decisions, oldest first (``history`` is its committed states)."""
        previous: dict[int, StateType | None] = {}
        before: StateType | None = None
        for state in history:
            previous[id(state)] = before
            before = state.type
        return [
            self._decision(run, entry, previous.get(id(entry)))
            for entry in self._by_run.get(run.id, ())
        ]

    def forget(self, run_id: uuid.UUID) -> None:
        """Drop a run's entries (it was deleted); give memory back once most are gone."""
        by_run = self._by_run
        by_run.pop(run_id, None)
        if should_shrink(len(by_run), self._peak):
            shrink(by_run)
            self._peak = len(by_run)

    def __len__(self) -> int:
        """How many entries the log holds, over every run."""
        return sum(len(entries) for entries in self._by_run.values())

    def _decision(
        self, run: Run, entry: DecisionEntry | State, from_type: StateType | None
    ) -> Decision:
        if not isinstance(entry, State):
            return make_decision(run, entry)
        return make_decision(run, self._written_out(run, entry, from_type))

    def _written_out(self, run: Run, state: State, from_type: StateType | None) -> DecisionEntry:
        """The full entry of a plain acceptance of ``state`` that moved from ``from_type``."""
        assert state.timestamp is not None  # committed states are stamped
        return (
            state.timestamp,
            from_type,
            state.type,
            state.name,
            SetStateStatus.ACCEPT,
            state,
            None,
            None,
            False,
            self._default_policy(run, state).name,
        )

    def before_state_deleted(self, run: Run, history: list[State], index: int) -> None:
        """Keep the log right when ``history[index]`` is about to leave ``run``'s history.

        A plain entry reads the type it moved from off the history, so the entries of
        that state and of the next one are written out in full first. O(entries of run).
        """
        log = self._by_run.get(run.id)
        if not log:
            return
        moved_from: dict[int, StateType | None] = {}
        for position in range(index, min(index + 2, len(history))):
            moved_from[id(history[position])] = history[position - 1].type if position else None
        for position, entry in enumerate(log):
            if isinstance(entry, State) and id(entry) in moved_from:
                log[position] = self._written_out(run, entry, moved_from[id(entry)])
