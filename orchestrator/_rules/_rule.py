"""The rule machinery: how a proposed state becomes a decision.

A *rule* declares the transitions it cares about (``from_states`` and ``to_states``,
sets of :class:`StateType` or None) and has three hooks: ``before`` runs on entry and
may change the outcome through the context's mutators (``reject``, ``wait``,
``abort``, ``rename``, ``update_details``); ``after`` runs once the outcome is
committed; ``cleanup`` runs instead of ``after`` when the rule *fizzled*, i.e. a rule
entered later changed the transition, so the rule can undo its side effects.

A *policy* is an ordered tuple of rules. The engine drives one transition through
:func:`~._context.run_transition` (it lives beside the context it drives): the rules
that apply to the original transition enter in order, a rule being skipped (invalid)
when an earlier rule already changed the transition; then the outcome is committed,
and the entered rules exit in reverse order. A *universal* rule applies to every
transition, never fizzles, and skips ``after`` only when a rule raised.

A rule that raises turns the outcome into ABORT with the error kept on the context;
the engine re-raises it once every rule has exited. Rules are synchronous and touch
nothing but the context and the services it offers (``ctx.services``), so they can be
unit-tested without an orchestrator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, final

from .._core._checks import check_text, wrong_type
from .._core._errors import ArgumentTypeError
from .._core._states import ALL_STATE_TYPES, StateType
from ._context import TransitionContext
from ._plan import TransitionPlan

__all__ = [
    "Policy",
    "Rule",
    "RuleFunction",
    "StateTypes",
    "rule",
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
    #: The committed state types after which ``after`` can do anything at all. A hint
    #: for speed: when no rule changed the transition, the committed state has the
    #: proposal's type, so a :class:`~._plan.TransitionPlan` to another type leaves
    #: ``after`` out. ``after`` must still check for itself.
    after_states: ClassVar[StateTypes] = ALL_STATE_TYPES
    #: Whether the class overrides ``before``, ``after`` and ``cleanup``, in that order;
    #: worked out for each subclass when it is created (never set it), so that
    #: ``run_transition`` can skip the hooks that do nothing.
    hook_overrides: ClassVar[tuple[bool, bool, bool]] = (False, False, False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.hook_overrides = (
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


def _state_types(values: object, name: str) -> StateTypes:
    if callable(values):
        raise ArgumentTypeError(
            f"{name} must be state types, got the function {values!r}: write @rule() with "
            "parentheses, or @rule(from_states=..., to_states=...)"
        )
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise wrong_type(
            name, values, "a collection of StateType (or None)", bare_string=isinstance(values, str)
        )
    result = frozenset(values)
    for value in result:
        if value is not None and not isinstance(value, StateType):
            raise wrong_type(f"every entry of {name}", value, "a StateType or None")
    return result


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

    Raises:
        InvalidArgument: a state collection that is not StateType members (or None),
            such as a bare ``@rule`` without parentheses, or a decorated non-function.
    """
    froms = _state_types(from_states, "from_states")
    tos = _state_types(to_states, "to_states")

    def decorate(function: RuleFunction) -> Rule:
        if not callable(function):
            raise wrong_type("function", function, "a function of the transition context")
        return _FunctionRule(function, froms, tos)

    return decorate


@final
class Policy:
    """An ordered, immutable sequence of rules, compiled per transition.

    Combine policies with ``+``, drop rules with :meth:`without`, swap one with
    :meth:`replacing`. ``compile(from, to)`` returns the rules that apply to a
    transition, in order, and caches the answer.

    Raises:
        InvalidArgument: an item that is not a Rule (an ArgumentTypeError, also a
            TypeError), or a ``name`` that is not a non-empty string.
    """

    __slots__ = ("_compiled", "_plans", "name", "rules")

    def __init__(self, *rules: Rule, name: str = "Policy") -> None:
        for item in rules:
            if not isinstance(item, Rule):
                raise ArgumentTypeError(
                    f"a policy holds Rule instances, got {item!r}; decorate functions with @rule"
                )
        check_text(name, "name")
        self.rules: tuple[Rule, ...] = rules
        self.name = name
        self._compiled: dict[tuple[StateType | None, StateType | None], tuple[Rule, ...]] = {}
        self._plans: dict[tuple[StateType | None, StateType | None], TransitionPlan] = {}

    def compile(self, from_type: StateType | None, to_type: StateType | None) -> tuple[Rule, ...]:
        """Return the rules that take part in ``from_type -> to_type``, in order."""
        key = (from_type, to_type)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = tuple(r for r in self.rules if r.applies_to(from_type, to_type))
            self._compiled[key] = compiled
        return compiled

    def plan(self, from_type: StateType | None, to_type: StateType | None) -> TransitionPlan:
        """Return :meth:`compile`'s rules laid out to run (see :class:`TransitionPlan`)."""
        key = (from_type, to_type)
        try:
            return self._plans[key]  # a subscript, not a call: asked on every proposal
        except KeyError:
            plan = self._plans[key] = TransitionPlan(self.compile(from_type, to_type), to_type)
            return plan

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
