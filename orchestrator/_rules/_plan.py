"""Transition plans: a policy's rules for one (from, to) pair, laid out for the hot path.

:meth:`Policy.compile <orchestrator._rules._rule.Policy.compile>` answers which rules take
part in a transition; a :class:`TransitionPlan` is the same answer arranged for
:meth:`~orchestrator._rules._context.TransitionContext.run_plan`, which runs once per
proposal. Most proposals change nothing: every rule enters, none fizzles, and the
rules' ``after`` hooks run in reverse order. The plan holds exactly what that common
case needs, worked out once: the ``before`` hooks that exist (with the position of
their rule), the exits every entered rule would make, and the ``after`` hooks to call,
already reversed. Rules that override no hook cost nothing at all.

When a ``before`` hook changes the outcome or raises, the context falls back to the
general walk over :attr:`TransitionPlan.rules` from that rule on, starting from the
exits the plan lists for the rules before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, final

from .._core._states import StateType

if TYPE_CHECKING:
    from ._context import TransitionContext
    from ._rule import Rule

__all__ = ["Exit", "Hook", "TransitionPlan"]

#: A rule hook: ``before``, ``after`` or ``cleanup``, bound to its rule.
Hook = Callable[["TransitionContext"], None]
#: How an entered rule leaves: (rule, the to-type it expects on exit, runs after, runs
#: cleanup). A universal rule expects nothing (None) and never runs cleanup.
Exit = tuple["Rule", StateType | None, bool, bool]


@final
class TransitionPlan:
    """The rules of one transition, arranged to run with the fewest calls.

    Built by :meth:`Policy.plan <orchestrator._rules._rule.Policy.plan>` (cached per
    (from, to) pair) or for one context by
    :func:`~orchestrator._rules._context.run_transition`.

    Attributes:
        rules: the rules that take part, in policy order.
        to_type: the proposal's type the plan was made for.
        befores: ``(position in rules, rule, its before hook)`` for each rule that has
            a ``before`` hook, in order.
        exits: for each position in ``rules``, how the rule leaves when it entered an
            unchanged transition (None: it has nothing to run on exit).
        entered: the exits of every rule, when none of them changed the transition.
        afters: the ``after`` hooks to call, in calling (reversed) order, when nothing
            changed, nothing raised and the commit went through (so the committed state
            is of type ``to_type``): those of rules whose ``after_states`` hold it.
    """

    __slots__ = ("afters", "befores", "entered", "exits", "rules", "to_type")

    def __init__(self, rules: tuple[Rule, ...], to_type: StateType | None) -> None:
        self.rules = rules
        self.to_type = to_type
        befores: list[tuple[int, Rule, Hook]] = []
        exits: list[Exit | None] = []
        for position, item in enumerate(rules):
            has_before, has_after, has_cleanup = item.hook_overrides
            if has_before:
                befores.append((position, item, item.before))
            exit: Exit | None = None
            if item.universal:
                if has_after:
                    exit = (item, None, True, False)
            elif has_after or has_cleanup:
                exit = (item, to_type, has_after, has_cleanup)
            exits.append(exit)
        self.befores = tuple(befores)
        self.exits = tuple(exits)
        self.entered = tuple(exit for exit in exits if exit is not None)
        # A rule's after_states say which committed types its after hook can act on.
        self.afters: tuple[Hook, ...] = tuple(
            exit[0].after
            for exit in reversed(self.entered)
            if exit[2] and (to_type is None or to_type in exit[0].after_states)
        )

    def entered_before(self, position: int) -> list[Exit]:
        """The exits of the rules ahead of ``position``, all entered unchanged."""
        return [exit for exit in self.exits[:position] if exit is not None]

    def __repr__(self) -> str:
        names = ", ".join(item.name for item in self.rules)
        kind = None if self.to_type is None else self.to_type.name
        return f"<TransitionPlan to {kind}: {names}>"
