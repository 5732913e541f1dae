"""The rule machinery: how a proposed state becomes a decision.

A *rule* declares the transitions it cares about (``from_states`` and ``to_states``,
sets of :class:`StateType` or None) and has three hooks: ``before`` runs on entry and
may change the outcome through the context's mutators (``reject``, ``wait``,
``abort``, ``rename``, ``update_details``); ``after`` runs once the outcome is
committed; ``cleanup`` runs instead of ``after`` when the rule *fizzled*, i.e. a rule
entered later changed the transition, so the rule can undo its side effects.

A *policy* is an ordered tuple of rules. :func:`run_transition` enters the rules that
apply to the original transition, in order; a rule is skipped (invalid) when an
earlier rule already changed the transition. Then the engine commits the outcome, and
the entered rules exit in reverse order. A *universal* rule applies to every
transition, never fizzles, and skips ``after`` only when a rule raised.

A rule that raises turns the outcome into ABORT with the error kept on the context;
the engine re-raises it once every rule has exited. Rules are synchronous and touch
nothing but the context and the services it offers (``ctx.services``), so they can be
unit-tested without an orchestrator.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol, final

import attrs

from ._models import ConcurrencyLimit, FlowRun, TaskRun
from ._states import ALL_STATE_TYPES, State, StateType

if TYPE_CHECKING:
    import uuid

__all__ = [
    "AbortDetails",
    "AcceptDetails",
    "OrchestrationResult",
    "Policy",
    "RejectDetails",
    "Rule",
    "RuleServices",
    "SetStateStatus",
    "SlotOutcome",
    "TransitionContext",
    "WaitDetails",
    "rule",
    "run_transition",
]

StateTypes = frozenset[StateType | None]
Run = TaskRun | FlowRun


@final
class SetStateStatus(enum.Enum):
    """What became of a proposal."""

    ACCEPT = "ACCEPT"  #: the proposal (possibly renamed or enriched) was committed
    REJECT = "REJECT"  #: another state was committed instead, or nothing (the current state stands)
    WAIT = "WAIT"  #: nothing was committed; propose again after ``delay_seconds`` or a wake-up
    ABORT = "ABORT"  #: nothing was committed; stop orchestrating this run

    def __repr__(self) -> str:
        return f"SetStateStatus.{self.name}"


@final
@attrs.frozen
class AcceptDetails:
    """Details of an ACCEPT."""

    type: Literal["accept_details"] = "accept_details"


@final
@attrs.frozen
class RejectDetails:
    """Details of a REJECT: why."""

    reason: str | None = None
    type: Literal["reject_details"] = "reject_details"


@final
@attrs.frozen
class WaitDetails:
    """Details of a WAIT: why, and when to propose again.

    ``wait_for`` names what the run waits for (``"tag:<tag>"`` for a concurrency slot);
    :meth:`Orchestrator.wait_for_turn` wakes the waiter as soon as that frees, or after
    ``delay_seconds`` at the latest.
    """

    delay_seconds: float
    reason: str | None = None
    wait_for: tuple[str, ...] = ()
    type: Literal["wait_details"] = "wait_details"


@final
@attrs.frozen
class AbortDetails:
    """Details of an ABORT: why."""

    reason: str | None = None
    type: Literal["abort_details"] = "abort_details"


Details = AcceptDetails | RejectDetails | WaitDetails | AbortDetails
ACCEPTED: Final = AcceptDetails()


@final
@attrs.frozen
class OrchestrationResult:
    """The answer to a proposal: the run's state afterwards, the status, and details."""

    state: State | None
    status: SetStateStatus
    details: Details


@final
@attrs.frozen
class SlotOutcome:
    """What :meth:`RuleServices.acquire_slots` did.

    ``acquired`` is True when the run holds a slot on every limited tag, and ``taken``
    names the tags on which this call took a slot (the run already held the others);
    otherwise ``zero_limit`` names a tag whose limit is 0, or ``blocked`` the tags that
    are full. A refusal takes nothing.
    """

    acquired: bool
    blocked: tuple[str, ...] = ()
    zero_limit: str | None = None
    taken: tuple[str, ...] = ()


class RuleServices(Protocol):
    """What rules may read and do beyond the context: the orchestrator's policy tables.

    The engine implements this over its own tables; tests can pass any object with
    these methods. Every method is synchronous and runs under the engine's lock.
    """

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        """Return a flow run, or None when it does not exist."""
        ...

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        """Return the state of the newest cache entry for ``key`` that is live at ``now``."""
        ...

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        """Record ``state`` under ``key`` until ``expiration`` (forever if None)."""
        ...

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        """Take one slot for ``run_id`` on every limited tag of ``tags``, all or nothing."""
        ...

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        """Give back the slots ``run_id`` holds on ``tags`` (holding none is fine)."""
        ...

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        """Return the limit on ``tag``, or None."""
        ...

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        """Put a deferred run on its task key's scheduled (or retry) queue."""
        ...


@final
class TransitionContext:
    """Everything a rule may see of one proposal, and the only ways to change it.

    ``run`` is the live record (rules may update its counters, as the built-in rules
    do); ``initial``, ``proposed``, ``validated``, ``status`` and ``details`` are
    read-only and change only through the mutators, which refuse to work once the
    outcome is committed.
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
        """Commit nothing; the proposer should try again after ``delay_seconds``."""
        self._check_open()
        self._proposed = None
        self._decide(SetStateStatus.WAIT, WaitDetails(delay_seconds, reason, tuple(wait_for)))

    def abort(self, reason: str | None = None) -> None:
        """Commit nothing; the proposer should stop orchestrating the run."""
        self._check_open()
        self._proposed = None
        self._decide(SetStateStatus.ABORT, AbortDetails(reason))

    def rename(self, name: str) -> None:
        """Change the proposal's name only; never fizzles or invalidates other rules."""
        self._check_open()
        if self._proposed is not None:
            self._proposed = attrs.evolve(self._proposed, name=name)

    def update_details(self, **changes: Any) -> None:
        """Change fields of the proposal's details; the transition stays the same."""
        self._check_open()
        if self._proposed is not None:
            proposed = self._proposed
            self._proposed = attrs.evolve(proposed, details=proposed.details.replace(**changes))

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


class Rule:
    """Base class of orchestration rules.

    Subclasses set ``from_states``/``to_states`` and override any of the hooks; the
    default hooks do nothing. Rules hold configuration only, never per-transition
    state: keep what a rule must undo in ``ctx.parameters``.
    """

    from_states: ClassVar[StateTypes] = ALL_STATE_TYPES
    to_states: ClassVar[StateTypes] = ALL_STATE_TYPES
    #: A universal rule applies to every transition and never fizzles.
    universal: ClassVar[bool] = False
    # Which hooks a class overrides, so run_transition skips the no-op defaults.
    _overrides: ClassVar[tuple[bool, bool, bool]] = (False, False, False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._overrides = (
            cls.before is not Rule.before,
            cls.after is not Rule.after,
            cls.cleanup is not Rule.cleanup,
        )

    @property
    def name(self) -> str:
        """The rule's name in decision logs and reprs."""
        return type(self).__name__

    def applies_to(self, from_type: StateType | None, to_type: StateType | None) -> bool:
        """True when this rule takes part in the transition ``from_type -> to_type``."""
        return self.universal or (from_type in self.from_states and to_type in self.to_states)

    def before(self, ctx: TransitionContext) -> None:
        """Run on entry; may change the outcome through the context's mutators."""

    def after(self, ctx: TransitionContext) -> None:
        """Run on exit when the transition is still the one the rule saw."""

    def cleanup(self, ctx: TransitionContext) -> None:
        """Run on exit instead of ``after`` when a later rule changed the transition."""

    def __repr__(self) -> str:
        return f"{self.name}()"


RuleFunction = Callable[[TransitionContext], None]


@final
class _FunctionRule(Rule):
    def __init__(
        self, function: RuleFunction, from_states: StateTypes, to_states: StateTypes
    ) -> None:
        self._function = function
        self._from = from_states
        self._to = to_states

    @property
    def name(self) -> str:
        return getattr(self._function, "__name__", repr(self._function))

    def applies_to(self, from_type: StateType | None, to_type: StateType | None) -> bool:
        return from_type in self._from and to_type in self._to

    def before(self, ctx: TransitionContext) -> None:
        self._function(ctx)


def rule(
    from_states: Iterable[StateType | None] = ALL_STATE_TYPES,
    to_states: Iterable[StateType | None] = ALL_STATE_TYPES,
) -> Callable[[RuleFunction], Rule]:
    """Turn a function of the context into a rule whose ``before`` hook it is.

    Example:
        >>> from orchestrator import StateType, rule
        >>> @rule(to_states=[StateType.RUNNING])
        ... def no_running_before_nine(ctx):
        ...     if ctx.now.hour < 9:
        ...         ctx.wait(60, "office hours start at 9")
        >>> no_running_before_nine
        no_running_before_nine()
    """
    froms: StateTypes = frozenset(from_states)
    tos: StateTypes = frozenset(to_states)

    def decorate(function: RuleFunction) -> Rule:
        return _FunctionRule(function, froms, tos)

    return decorate


@final
class Policy:
    """An ordered, immutable sequence of rules, compiled per transition.

    Combine policies with ``+``, drop rules with :meth:`without`, swap one with
    :meth:`replacing`. ``compile(from, to)`` returns the rules that apply to a
    transition, in order, and caches the answer.
    """

    __slots__ = ("_compiled", "name", "rules")

    def __init__(self, *rules: Rule, name: str = "Policy") -> None:
        for item in rules:
            if not isinstance(item, Rule):
                raise TypeError(
                    f"a policy holds Rule instances, got {item!r}; decorate functions with @rule"
                )
        self.rules: tuple[Rule, ...] = rules
        self.name = name
        self._compiled: dict[tuple[StateType | None, StateType | None], tuple[Rule, ...]] = {}

    def compile(self, from_type: StateType | None, to_type: StateType | None) -> tuple[Rule, ...]:
        """Return the rules that take part in ``from_type -> to_type``, in order."""
        key = (from_type, to_type)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = tuple(r for r in self.rules if r.applies_to(from_type, to_type))
            self._compiled[key] = compiled
        return compiled

    def __add__(self, other: Policy | Rule) -> Policy:
        extra = other.rules if isinstance(other, Policy) else (other,)
        return Policy(*self.rules, *extra, name=self.name)

    def without(self, *kinds: type[Rule]) -> Policy:
        """Return this policy minus every rule of the given classes."""
        return Policy(*(r for r in self.rules if not isinstance(r, kinds)), name=self.name)

    def replacing(self, kind: type[Rule], replacement: Rule) -> Policy:
        """Return this policy with each rule of class ``kind`` replaced by ``replacement``."""
        rules = (replacement if isinstance(r, kind) else r for r in self.rules)
        return Policy(*rules, name=self.name)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(r.name for r in self.rules)})"


Commit = Callable[[TransitionContext], State]


def run_transition(rules: tuple[Rule, ...], ctx: TransitionContext, commit: Commit) -> None:
    """Enter ``rules``, commit the outcome with ``commit``, then exit the rules.

    ``commit`` is called only when a proposal remains and no rule raised; it returns the
    committed state. Otherwise the current state stands. An exception from ``commit``
    becomes ABORT. Exceptions from ``after``/``cleanup`` hooks do not stop the unwinding;
    the first one is raised at the end, as is a ``before`` hook's error.
    """
    initial_type = ctx.initial_type
    original_to = ctx.proposed_type
    # (rule, the to-type it expects on exit, runs after, runs cleanup)
    entered: list[tuple[Rule, StateType | None, bool, bool]] = []
    append = entered.append
    for item in rules:
        has_before, has_after, has_cleanup = item._overrides
        if item.universal:
            if has_before:
                ctx._current_rule = item
                try:
                    item.before(ctx)
                except Exception as error:
                    ctx._fail(item.name, error)
            if has_after:
                append((item, None, True, False))
            continue
        proposed = ctx._proposed
        if (None if proposed is None else proposed.type) is not original_to:
            continue  # invalid: an earlier rule changed the transition
        expected = original_to
        if has_before:
            mutations = ctx._mutations
            ctx._current_rule = item
            try:
                item.before(ctx)
            except Exception as error:
                ctx._fail(item.name, error)
            else:
                if ctx._mutations != mutations:
                    expected = ctx.proposed_type
        if has_after or has_cleanup:
            append((item, expected, has_after, has_cleanup))
    ctx._current_rule = None

    if ctx._proposed is not None and ctx.error is None:
        try:
            ctx._validated = commit(ctx)
        except Exception as error:
            ctx._proposed = None
            ctx._status = SetStateStatus.ABORT
            ctx._details = AbortDetails(f"Error validating state: {error!r}")
            ctx._validated = ctx.initial
    else:
        ctx._validated = ctx.initial
    ctx._validated_done = True
    if not entered and ctx.error is None:
        return

    first_error: BaseException | None = ctx.error
    proposed = ctx._proposed
    final_to = None if proposed is None else proposed.type
    unchanged_initial = ctx.initial_type is initial_type
    for item, expected, has_after, has_cleanup in reversed(entered):
        try:
            if item.universal:
                if ctx.error is None:
                    item.after(ctx)
            elif unchanged_initial and final_to is expected:
                if has_after:
                    item.after(ctx)
            elif has_cleanup:
                item.cleanup(ctx)
        except Exception as error:
            if first_error is None:
                first_error = error
    if first_error is not None:
        raise first_error
