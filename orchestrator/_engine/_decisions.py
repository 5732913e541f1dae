"""The decision log: every proposal a run got, the rule that decided it and why.

:class:`DecisionLog` keeps compact entries per run, since one is written on every
proposal. A *plain* acceptance (no rule decided, no reason, the name kept, committed at
the proposal's time by the policy such a proposal goes through) is fully described by
its committed state and that state's place in the history, so a run's log is one of:

* a small int, ``2 * n + forced_first``, while the log reads exactly like the run's
  history: entry ``i`` is the plain acceptance of ``history[i]`` for the first ``n``
  states, only the first may be forced (as a creation in a state is). A run created in
  a state and moved on through the core policy costs no list and no tuple;
* otherwise a list whose items are the committed state of a plain, unforced acceptance
  or a :data:`~orchestrator._core._events.DecisionEntry` tuple. A log leaves the int
  form for good at its first other entry (written out from the history then).

A :class:`~orchestrator.Decision` is built only when someone reads the log, or when an
observer that wants decisions is subscribed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import final

from .._core._events import Decision, DecisionEntry, Observer, make_decision, notify
from .._core._indexes import should_shrink, shrink
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._states import State, StateType
from .._rules._context import TransitionContext
from .._rules._rule import Policy

__all__ = ["PLAIN", "PLAIN_CREATION", "DecisionLog"]

#: What :meth:`DecisionLog.record` saw, when not a decision to keep in full: a plain
#: acceptance, a plain forced acceptance creating a run in its first state.
PLAIN, PLAIN_CREATION = 1, 2

Run = TaskRun | FlowRun
#: The policy a plain proposal of ``state`` for ``run`` goes through, forced or not.
DefaultPolicy = Callable[[Run, State, bool], Policy]
#: A run's live history, oldest first (the store's own list: read it, never change it).
History = Callable[[Run], Sequence[State]]
#: One run's log: ``2 * n + forced_first`` while it mirrors the history, else its entries.
Log = int | list[DecisionEntry | State]


@final
class DecisionLog:
    """Decisions per run id, and the observers that want each one as it is taken.

    Args:
        keep: keep entries (off saves memory; observers are still told).
        default_policy: which policy a plain proposal goes through, forced or not, so
            that a plain acceptance by that policy can be stored without a tuple.
        history: a run's live history, which a compact log reads its entries from.
    """

    __slots__ = ("_by_run", "_default_policy", "_history", "_observers", "_peak", "keep")

    def __init__(self, *, keep: bool, default_policy: DefaultPolicy, history: History) -> None:
        self.keep = keep
        self._default_policy = default_policy
        self._history = history
        self._by_run: dict[uuid.UUID, Log] = {}
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
    ) -> int | DecisionEntry:
        """Log what ``policy`` decided on ``proposed`` for ``run`` (the caller holds the lock).

        Returns :data:`PLAIN` for a plain acceptance, :data:`PLAIN_CREATION` for a forced
        one creating the run in its first state (both kept as the committed state), else
        the decision's full entry.
        """
        state = result.state
        reason = getattr(result.details, "reason", None)
        decider = ctx.decider
        forced = ctx.force
        plain = (
            decider is None
            and result.status is SetStateStatus.ACCEPT
            and state is not None
            and state.timestamp is ctx.now
            and state.name == proposed.name
            and reason is None
            and policy is self._default_policy(run, state, forced)
        )
        if plain and not forced:
            assert state is not None  # plain
            if self.keep and not self._mirrored(run, state, forced=False):
                self._entries(run).append(state)
            if self._observers:
                self._tell(run, self._written_out(run, state, ctx.initial_type, False))
            return PLAIN
        entry: DecisionEntry = (
            ctx.now,
            ctx.initial_type,
            proposed.type,
            proposed.name,
            result.status,
            state,
            decider,
            reason,
            forced,
            policy.name,
        )
        # A forced plain acceptance as a run's first entry (a creation in a state) is the
        # one forced entry the int form holds: it reads back as this very tuple.
        creation = (
            plain and ctx.initial is None and state is not None and state.type is proposed.type
        )
        if self.keep and not (
            creation and state is not None and self._mirrored(run, state, forced=True)
        ):
            self._entries(run).append(entry)
        if self._observers:
            self._tell(run, entry)
        return PLAIN_CREATION if creation else entry

    def _mirrored(self, run: Run, state: State, *, forced: bool) -> bool:
        """Count the plain acceptance of ``state`` if the run's log still mirrors its history.

        True when it did (the log is its int form and stays so); False when the caller
        must append the entry to the run's list.
        """
        by_run = self._by_run
        log = by_run.get(run.id)
        if log is None:
            count = 0
        elif isinstance(log, int) and not forced:
            count = log >> 1
        else:
            return False
        history = self._history(run)
        # A proposal nested in another's commit can land in the history before the
        # outer one is logged: then the history is no longer the log, and a list is kept.
        if len(history) != count + 1 or history[count] is not state:
            return False
        if log is None:
            by_run[run.id] = 2 + forced
            self._grew()
        else:
            by_run[run.id] = log + 2
        return True

    def _entries(self, run: Run) -> list[DecisionEntry | State]:
        """The run's log as a list, written out of its int form first if need be."""
        by_run = self._by_run
        log = by_run.get(run.id)
        if isinstance(log, list):
            return log
        entries: list[DecisionEntry | State] = []
        if log is not None:
            count: int = log >> 1
            history = self._history(run)
            for position in range(count):
                state = history[position]
                if position == 0 and log & 1:
                    entries.append(self._written_out(run, state, None, True))
                else:
                    entries.append(state)
        by_run[run.id] = entries
        if log is None:
            self._grew()
        return entries

    def _grew(self) -> None:
        if len(self._by_run) > self._peak:
            self._peak = len(self._by_run)

    def _tell(self, run: Run, entry: DecisionEntry) -> None:
        decision = make_decision(run, entry)
        notify(self._observers, lambda o: o.decision_recorded(decision))

    def read(self, run: Run, history: list[State]) -> list[Decision]:
        """Return ``run``'s decisions, oldest first (``history`` is its committed states)."""
        log = self._by_run.get(run.id)
        if log is None:
            return []
        if isinstance(log, int):
            count: int = log >> 1
            first_forced = bool(log & 1)
            decisions = []
            before: StateType | None = None
            for position in range(count):
                state = history[position]
                forced = first_forced and position == 0
                decisions.append(make_decision(run, self._written_out(run, state, before, forced)))
                before = state.type
            return decisions
        previous: dict[int, StateType | None] = {}
        before = None
        for state in history:
            previous[id(state)] = before
            before = state.type
        return [self._decision(run, entry, previous.get(id(entry))) for entry in log]

    def restore_entry(self, run: Run, entry: DecisionEntry) -> None:
        """Append a full entry to ``run``'s log (a journal's restore; kept when ``keep``)."""
        if self.keep:
            self._entries(run).append(entry)

    def restore_plain(self, run: Run, state: State, *, forced: bool) -> None:
        """Log the plain acceptance of ``state``, just appended to ``run``'s history (a
        journal's restore; ``forced``: the run's creation in it), as :meth:`record` did."""
        if not self.keep or self._mirrored(run, state, forced=forced):
            return
        entries = self._entries(run)
        entries.append(self._written_out(run, state, None, True) if forced else state)

    def mirrored_log(self, run_id: uuid.UUID) -> int | None:
        """A run's log in its compact form (``2 * count + forced_first``), else None."""
        log = self._by_run.get(run_id)
        return log if isinstance(log, int) else None

    def restore_mirrored(self, run_id: uuid.UUID, log: int) -> None:
        """Give a run the compact log :meth:`mirrored_log` read (a journal's restore)."""
        if self.keep:
            self._by_run[run_id] = log
            self._grew()

    def forget(self, run_id: uuid.UUID) -> None:
        """Drop a run's entries (it was deleted); give memory back once most are gone."""
        by_run = self._by_run
        by_run.pop(run_id, None)
        if should_shrink(len(by_run), self._peak):
            shrink(by_run)
            self._peak = len(by_run)

    def __len__(self) -> int:
        """How many entries the log holds, over every run."""
        return sum(log >> 1 if isinstance(log, int) else len(log) for log in self._by_run.values())

    def _decision(
        self, run: Run, entry: DecisionEntry | State, from_type: StateType | None
    ) -> Decision:
        if not isinstance(entry, State):
            return make_decision(run, entry)
        return make_decision(run, self._written_out(run, entry, from_type, False))

    def _written_out(
        self, run: Run, state: State, from_type: StateType | None, forced: bool
    ) -> DecisionEntry:
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
            forced,
            self._default_policy(run, state, forced).name,
        )

    def before_state_deleted(self, run: Run, history: list[State], index: int) -> None:
        """Keep the log right when ``history[index]`` is about to leave ``run``'s history.

        A plain entry reads the type it moved from off the history (and a log in its int
        form reads its states there), so the log is written out as a list first, and the
        entries of that state and of the next one are written out in full. O(entries of
        run).
        """
        if not self._by_run.get(run.id):
            return
        log = self._entries(run)
        moved_from: dict[int, StateType | None] = {}
        for position in range(index, min(index + 2, len(history))):
            moved_from[id(history[position])] = history[position - 1].type if position else None
        for position, entry in enumerate(log):
            if isinstance(entry, State) and id(entry) in moved_from:
                log[position] = self._written_out(run, entry, moved_from[id(entry)], False)
