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
from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from .._core._checks import check_optional_text, check_seconds, check_text, wrong_type
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import (
    ACCEPTED,
    AbortDetails,
    AcceptDetails,
    Details,
    OrchestrationResult,
    RejectDetails,
    SetStateStatus,
    WaitDetails,
)
from .._core._states import State, StateDetails, StateType
from ._driving import Commit, TransitionDriver
from ._plan import TransitionPlan
from ._rule_services import RuleServices

if TYPE_CHECKING:
    from ._rule import Rule

__all__ = ["Commit", "Run", "RuleServices", "TransitionContext", "run_transition"]

Run = TaskRun | FlowRun


_new_context = object.__new__
_new_result = object.__new__
# The result's slot setters (a frozen class's __init__ costs more than twice as much).
_set_result_state = OrchestrationResult.__dict__["state"].__set__
_set_result_status = OrchestrationResult.__dict__["status"].__set__
_set_result_details = OrchestrationResult.__dict__["details"].__set__
_Random = random.Random


@final
class TransitionContext(TransitionDriver):
    """Everything a rule may see of one proposal, and the only ways to change it.

    ``run`` is the live record (rules may update its counters, as the built-in rules
    do); ``initial``, ``proposed``, ``validated``, ``status`` and ``details`` are
    read-only and change only through the mutators, which refuse to work once the
    outcome is committed. :meth:`run_plan` belongs to the engine (it is the body of
    :func:`run_transition`); rules never call it.
    """

    __slots__ = ("force", "now", "parameters", "random", "run", "services")

    run: Run
    now: datetime
    services: RuleServices
    random: _Random
    parameters: dict[str, Any]
    force: bool

    def __init__(
        self,
        *,
        run: Run,
        initial: State | None,
        proposed: State | None,
        now: datetime,
        services: RuleServices,
        rng: _Random | None = None,
        parameters: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        rng = random.Random(0) if rng is None else rng
        made = TransitionContext.begin(run, initial, proposed, now, services, rng, force)
        if parameters is not None:
            made.parameters = parameters
        for name in _CONTEXT_SLOTS:
            setattr(self, name, getattr(made, name))

    @classmethod
    def begin(
        cls,
        run: Run,
        initial: State | None,
        proposed: State | None,
        now: datetime,
        services: RuleServices,
        rng: _Random,
        force: bool,
    ) -> TransitionContext:
        """The engine's constructor: the same context, built from positional arguments.

        Calling a class with keyword arguments costs more than twice as much as calling
        it with positional ones, and the engine builds a context for every proposal
        (each field is set here, in one call; ``__init__`` copies them).
        """
        ctx = _new_context(cls)
        ctx.run = run
        ctx.initial = initial
        ctx._proposed = proposed
        ctx._validated = None
        ctx._validated_done = False
        ctx._status = SetStateStatus.ACCEPT
        ctx._details = ACCEPTED
        ctx._mutations = 0
        ctx._current_rule = None
        ctx._decider = None
        ctx.now = now
        ctx.services = services
        ctx.random = rng
        ctx.parameters = {}
        ctx.force = force
        ctx.error = None
        ctx.error_rule = None
        ctx.commit_error = None
        return ctx

    # -- read-only views ----------------------------------------------------------------
    # The plain views read a slot through a getter written in C (``attrgetter``), not a
    # Python function: every proposal reads them several times (the stamping, the
    # decision log, the built-in rules), and a Python call costs many times a slot read.
    # They stay read-only (a property with no setter); the type checker sees the
    # ordinary properties below.
    if TYPE_CHECKING:

        @property
        def proposed(self) -> State | None:
            """The proposal as it stands (None once a rule nullified it)."""

        @property
        def validated(self) -> State | None:
            """The committed state (or the unchanged current one); None before commit."""

        @property
        def decider(self) -> Rule | str | None:
            """What last changed the outcome: a rule, the name of a rule that raised, or None."""

        @property
        def status(self) -> SetStateStatus:
            """The outcome's status so far."""

        @property
        def details(self) -> Details:
            """The outcome's details so far."""

    else:
        proposed = property(
            attrgetter("_proposed"),
            doc="The proposal as it stands (None once a rule nullified it).",
        )
        validated = property(
            attrgetter("_validated"),
            doc="The committed state (or the unchanged current one); None before commit.",
        )
        decider = property(
            attrgetter("_decider"),
            doc="What last changed the outcome: a rule, the name of a rule that raised, or None.",
        )
        status = property(attrgetter("_status"), doc="The outcome's status so far.")
        details = property(attrgetter("_details"), doc="The outcome's details so far.")

    def result(self) -> OrchestrationResult:
        """The outcome as an OrchestrationResult: validated state, status and details.

        One call for the engine, which returns it from every proposal (reading the
        three properties and building the result would be four).
        """
        # new_result's body, spelled out here: one Python call fewer per proposal.
        result = _new_result(OrchestrationResult)
        _set_result_state(result, self._validated)
        _set_result_status(result, self._status)
        _set_result_details(result, self._details)
        return result

    @property
    def decided_by(self) -> str | None:
        """The name of the rule that last changed the outcome (None: no rule did)."""
        decider = self._decider
        if decider is None or isinstance(decider, str):
            return decider
        return decider.name

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
        if self._validated_done:  # the check without a call on the way through
            self._check_open()
        proposed = self._proposed
        if proposed is not None:
            self._proposed = _with(proposed, proposed.name, proposed.details.replace(**changes))

    def __repr__(self) -> str:
        return (
            f"<TransitionContext {self.initial_type} -> {self.proposed_type} {self._status.name}>"
        )


#: Every field of a context, for ``__init__`` to copy from the one ``begin`` builds.
_CONTEXT_SLOTS: Final = (*TransitionDriver.__slots__, *TransitionContext.__slots__)


def _with(state: State, name: str, details: StateDetails) -> State:
    """``state`` with another name or details, copied slot by slot.

    Cheaper than ``attrs.evolve`` or ``State.__init__``: ``state`` was checked, ``name``
    is checked text and ``details`` a StateDetails, so ``__init__``'s checks would pass.
    """
    copy: State = _new_state(State)
    for setter, value in zip(_STATE_SETTERS, _state_values(state), strict=True):
        setter(copy, value)
    _set_name(copy, name)
    _set_details(copy, details)
    return copy


_STATE_FIELDS: Final = tuple(field.name for field in attrs.fields(State))
_STATE_SETTERS: Final = tuple(State.__dict__[name].__set__ for name in _STATE_FIELDS)
_state_values: Final = attrgetter(*_STATE_FIELDS)
_set_name: Final = State.__dict__["name"].__set__
_set_details: Final = State.__dict__["details"].__set__
_new_state = object.__new__


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
