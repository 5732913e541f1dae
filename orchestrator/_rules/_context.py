"""The transition context: what a rule sees of one proposal, and how it may change it.

Rules read the run, the current (``initial``) state and the proposal, and change the
outcome only through the mutators (``reject``, ``wait``, ``abort``, ``rename``,
``update_details``), which refuse to work once the outcome is committed. Beyond the
context, rules reach the orchestrator's policy tables through :class:`RuleServices`.

The engine drives a context through :func:`run_transition`: enter the rules, commit
the outcome through a :data:`Commit` function, exit the rules. The driving code is a
method of the context, so only the context ever touches its private fields.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, final

from .._core._checks import check_optional_text, check_seconds, check_text, wrong_type
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import (
    ACCEPTED,
    AbortDetails,
    AcceptDetails,
    Details,
    RejectDetails,
    SetStateStatus,
    WaitDetails,
)
from .._core._states import State, StateDetails, StateType
from ._plan import Exit, TransitionPlan
from ._rule_services import RuleServices

if TYPE_CHECKING:
    from ._rule import Rule

__all__ = ["Commit", "Run", "RuleServices", "TransitionContext", "run_transition"]

Run = TaskRun | FlowRun


@final
class TransitionContext:
    """Everything a rule may see of one proposal, and the only ways to change it.

    ``run`` is the live record (rules may update its counters, as the built-in rules
    do); ``initial``, ``proposed``, ``validated``, ``status`` and ``details`` are
    read-only and change only through the mutators, which refuse to work once the
    outcome is committed. :meth:`run_rules` belongs to the engine (it is the body of
    :func:`run_transition`); rules never call it.
    """

    __slots__ = (
        "_current_rule",
        "_decider",
        "_details",
        "_mutations",
        "_proposed",
        "_status",
        "_validated",
        "_validated_done",
        "commit_error",
        "error",
        "error_rule",
        "force",
        "initial",
        "now",
        "parameters",
        "random",
        "run",
        "services",
    )

    def __init__(
        self,
        *,
        run: Run,
        initial: State | None,
        proposed: State | None,
        now: datetime,
        services: RuleServices,
        rng: random.Random | None = None,
        parameters: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        self.run = run
        self.initial = initial
        self._proposed = proposed
        self._validated: State | None = None
        self._validated_done = False
        self._status = SetStateStatus.ACCEPT
        self._details: Details = ACCEPTED
        self._mutations = 0
        self._current_rule: Rule | None = None
        self._decider: Rule | str | None = None
        self.now = now
        self.services = services
        self.random = random.Random(0) if rng is None else rng
        self.parameters: dict[str, Any] = {} if parameters is None else parameters
        self.force = force
        self.error: BaseException | None = None
        self.error_rule: str | None = None
        #: What the commit raised (the outcome is then ABORT), or None.
        self.commit_error: Exception | None = None

    # -- read-only views ----------------------------------------------------------------
    @property
    def proposed(self) -> State | None:
        """The proposal as it stands (None once a rule nullified it)."""
        return self._proposed

    @property
    def validated(self) -> State | None:
        """The committed state (or the unchanged current one); None before commit."""
        return self._validated

    @property
    def decided_by(self) -> str | None:
        """The name of the rule that last changed the outcome (None: no rule did)."""
        decider = self._decider
        if decider is None or isinstance(decider, str):
            return decider
        return decider.name

    @property
    def decider(self) -> Rule | str | None:
        """What last changed the outcome: a rule, the name of a rule that raised, or None."""
        return self._decider

    @property
    def status(self) -> SetStateStatus:
        """The outcome's status so far."""
        return self._status

    @property
    def details(self) -> Details:
        """The outcome's details so far."""
        return self._details

    @property
    def initial_type(self) -> StateType | None:
        """The current state's type, None for a run with no state."""
        initial = self.initial
        return None if initial is None else initial.type

    @property
    def proposed_type(self) -> StateType | None:
        """The proposal's type, None once nullified."""
        proposed = self._proposed
        return None if proposed is None else proposed.type

    @property
    def task_run(self) -> TaskRun:
        """The run, when this is a task-run transition."""
        run = self.run
        if not isinstance(run, TaskRun):
            raise TypeError("this transition is for a flow run, not a task run")
        return run

    @property
    def flow_run(self) -> FlowRun | None:
        """The run's parent flow run (for a task run) or the run itself (for a flow run)."""
        run = self.run
        if isinstance(run, FlowRun):
            return run
        if run.flow_run_id is None:
            return None
        return self.services.read_flow_run(run.flow_run_id)

    # -- mutators -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._validated_done:
            raise RuntimeError(
                "the outcome is already committed; mutators work only in a before hook"
            )

    def _decide(self, status: SetStateStatus, details: Details) -> None:
        self._status = status
        self._details = details
        self._mutations += 1
        self._decider = self._current_rule

    def reject(self, state: State | None, reason: str | None = None) -> None:
        """Commit ``state`` instead of the proposal (with None: commit nothing).

        Raises:
            RuntimeError: after commit, or ``state`` is None for a run with no state.
        """
        self._check_open()
        if state is None and self.initial is None:
            raise RuntimeError("cannot reject to no state: the run has no state to keep")
        self._proposed = state
        self._decide(SetStateStatus.REJECT, RejectDetails(reason))

    def wait(
        self, delay_seconds: float, reason: str | None = None, wait_for: Iterable[str] = ()
    ) -> None:
        """Commit nothing; the proposer should try again after ``delay_seconds``.

        Raises:
            InvalidArgument: ``delay_seconds`` is not a finite number >= 0, ``reason`` not
                None or a string, or ``wait_for`` not a collection of strings (checked
                here, so a rule's mistake is not found later by the waiting worker).
        """
        self._check_open()
        delay = check_seconds(delay_seconds, "delay_seconds")
        check_optional_text(reason, "reason", empty=True)
        if isinstance(wait_for, str) or not isinstance(wait_for, Iterable):
            bare = isinstance(wait_for, str)
            raise wrong_type("wait_for", wait_for, "a collection of strings", bare_string=bare)
        targets = tuple(check_text(target, "every wait_for target") for target in wait_for)
        self._proposed = None
        self._decide(SetStateStatus.WAIT, WaitDetails(delay, reason, targets))

    def abort(self, reason: str | None = None) -> None:
        """Commit nothing; the proposer should stop orchestrating the run."""
        self._check_open()
        self._proposed = None
        self._decide(SetStateStatus.ABORT, AbortDetails(reason))

    def note(self, reason: str) -> None:
        """Let the proposal through unchanged, and say why in the decision log.

        For a rule that looked at the proposal and deliberately did nothing (the retry
        rule, for a failure marked final): the decision names the rule and ``reason``.

        Raises:
            RuntimeError: after commit, or another rule already changed the outcome.
            InvalidArgument: ``reason`` is not a non-empty string.
        """
        self._check_open()
        check_text(reason, "reason")
        if self._status is not SetStateStatus.ACCEPT:
            raise RuntimeError(f"note() keeps an ACCEPT; the outcome is {self._status.name}")
        self._details = AcceptDetails(reason)
        self._decider = self._current_rule

    def rename(self, name: str) -> None:
        """Change the proposal's name only; never fizzles or invalidates other rules.

        Raises:
            InvalidArgument: ``name`` is not a non-empty string.
        """
        self._check_open()
        check_text(name, "name")
        proposed = self._proposed
        if proposed is not None:
            self._proposed = _with(proposed, name, proposed.details)

    def update_details(self, **changes: Any) -> None:
        """Change fields of the proposal's details; the transition stays the same."""
        self._check_open()
        proposed = self._proposed
        if proposed is not None:
            self._proposed = _with(proposed, proposed.name, proposed.details.replace(**changes))

    # -- driving (the engine's side) ------------------------------------------------------
    def run_plan(self, plan: TransitionPlan, commit: Commit) -> None:
        """Internal: the body of :func:`run_transition`; the engine calls it, rules never.

        Kept on the context so that only the context reads and writes its private fields.
        While no ``before`` hook changes the outcome, every rule of ``plan`` enters the
        transition unchanged, so only the hooks that exist run, and the exits are the
        ones the plan lists; the first hook that changes the outcome (or raises) hands
        the rest of the rules to the general walk, :meth:`_enter`.
        """
        initial = self.initial
        original_to = plan.to_type
        start = self._mutations
        entered: list[Exit] | None = None
        for position, item, before in plan.befores:
            self._current_rule = item
            try:
                before(self)
            except Exception as error:
                self._fail(item.name, error)
                entered = self._enter_rest(plan, position, original_to)
                break
            if self._mutations != start:
                entered = self._enter_rest(plan, position, self.proposed_type)
                break
        self._current_rule = None

        if self._proposed is not None and self.error is None:
            try:
                self._validated = commit(self)
            except Exception as error:
                self.commit_error = error
                self._proposed = None
                self._status = SetStateStatus.ABORT
                self._details = AbortDetails(f"Error validating state: {error!r}")
                self._validated = self.initial
        else:
            self._validated = self.initial
        self._validated_done = True

        if entered is None:
            proposed = self._proposed
            if (
                self.error is None
                and (None if proposed is None else proposed.type) is original_to
                and self.initial is initial
            ):
                # Nothing changed the transition: the after hooks run, in reverse order.
                first_error: BaseException | None = None
                for after in plan.afters:
                    try:
                        after(self)
                    except Exception as error:
                        if first_error is None:
                            first_error = error
                if first_error is not None:
                    raise first_error
                return
            self._exit(plan.entered, None if initial is None else initial.type)
        else:
            self._exit(entered, None if initial is None else initial.type)

    def _enter_rest(
        self, plan: TransitionPlan, position: int, expected: StateType | None
    ) -> list[Exit]:
        """The rule at ``position`` changed the outcome (or raised): walk the rest.

        ``expected`` is the to-type that rule expects on exit. Returns every exit so far.
        """
        entered = plan.entered_before(position)
        item = plan.rules[position]
        _, has_after, has_cleanup = item.hook_overrides
        if item.universal:
            if has_after:
                entered.append((item, None, True, False))
        elif has_after or has_cleanup:
            entered.append((item, expected, has_after, has_cleanup))
        self._enter(plan.rules[position + 1 :], plan.to_type, entered)
        return entered

    def _enter(
        self, rules: tuple[Rule, ...], original_to: StateType | None, entered: list[Exit]
    ) -> None:
        """Enter ``rules`` one by one, skipping those whose transition changed."""
        append = entered.append
        for item in rules:
            has_before, has_after, has_cleanup = item.hook_overrides
            if item.universal:
                if has_before:
                    self._current_rule = item
                    try:
                        item.before(self)
                    except Exception as error:
                        self._fail(item.name, error)
                if has_after:
                    append((item, None, True, False))
                continue
            proposed = self._proposed
            if (None if proposed is None else proposed.type) is not original_to:
                continue  # invalid: an earlier rule changed the transition
            expected = original_to
            if has_before:
                mutations = self._mutations
                self._current_rule = item
                try:
                    item.before(self)
                except Exception as error:
                    self._fail(item.name, error)
                else:
                    if self._mutations != mutations:
                        expected = self.proposed_type
            if has_after or has_cleanup:
                append((item, expected, has_after, has_cleanup))
        self._current_rule = None

    def _exit(self, entered: Sequence[Exit], initial_type: StateType | None) -> None:
        """Run the exits of the entered rules in reverse: after, or cleanup if fizzled.

        Every exit runs; the first error (a ``before`` hook's, else an exit's) is raised.
        """
        if not entered and self.error is None:
            return
        first_error: BaseException | None = self.error
        proposed = self._proposed
        final_to = None if proposed is None else proposed.type
        unchanged_initial = self.initial_type is initial_type
        for item, expected, has_after, has_cleanup in reversed(entered):
            try:
                if item.universal:
                    if self.error is None:
                        item.after(self)
                elif unchanged_initial and final_to is expected:
                    if has_after:
                        item.after(self)
                elif has_cleanup:
                    item.cleanup(self)
            except Exception as error:
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error

    def _fail(self, rule_name: str, error: BaseException) -> None:
        self._proposed = None
        self._status = SetStateStatus.ABORT
        self._details = AbortDetails(
            f"Aborting orchestration due to error in {rule_name}: {error!r}"
        )
        self._decider = rule_name
        self.error = error
        self.error_rule = rule_name

    def __repr__(self) -> str:
        return (
            f"<TransitionContext {self.initial_type} -> {self.proposed_type} {self._status.name}>"
        )


def _with(state: State, name: str, details: StateDetails) -> State:
    """``state`` with another name or details (spelled out: cheaper than attrs.evolve)."""
    return State(
        type=state.type,
        name=name,
        timestamp=state.timestamp,
        message=state.message,
        data=state.data,
        details=details,
        id=state.id,
    )


#: How the engine commits the outcome that stands once the rules have entered: called
#: with the context, it records the proposal and returns the committed state.
Commit = Callable[[TransitionContext], State]


def run_transition(
    rules: tuple[Rule, ...] | TransitionPlan, ctx: TransitionContext, commit: Commit
) -> None:
    """Enter ``rules``, commit the outcome with ``commit``, then exit the rules.

    ``rules`` are the rules that take part in ``ctx``'s transition, in order, or their
    :class:`~orchestrator._rules._plan.TransitionPlan` (what the engine passes).
    ``commit`` is called only when a proposal remains and no rule raised; it returns the
    committed state. Otherwise the current state stands. An exception from ``commit``
    becomes ABORT and ``ctx.commit_error`` (the commit must then leave nothing changed).
    Exceptions from ``after``/``cleanup`` hooks do not stop the unwinding; the first one
    is raised at the end, as is a ``before`` hook's error.
    """
    if not isinstance(rules, TransitionPlan):
        rules = TransitionPlan(tuple(rules), ctx.proposed_type)
    ctx.run_plan(rules, commit)
