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

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, final

from .._core._outcomes import AbortDetails, SetStateStatus
from .._core._states import ALL_STATE_TYPES, State, StateType
from ._context import TransitionContext

__all__ = [
    "Commit",
    "Policy",
    "Rule",
    "RuleFunction",
    "StateTypes",
    "rule",
    "run_transition",
]

StateTypes = frozenset[StateType | None]


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
