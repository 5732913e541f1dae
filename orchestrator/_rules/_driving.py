"""Driving one transition: enter the rules, commit, exit them (the engine's side).

:class:`TransitionDriver` is the base of
:class:`~orchestrator._rules._context.TransitionContext`: it holds the state of one
transition (the proposal as it stands, the outcome so far, what raised) and the code
that walks a :class:`~orchestrator._rules._plan.TransitionPlan` over it. The context
adds what rules see and the mutators they change the outcome with. Both halves are one
object, so only the context ever touches these private fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._core._outcomes import AbortDetails, Details, SetStateStatus
from .._core._states import State, StateType
from ._plan import Exit, TransitionPlan

if TYPE_CHECKING:
    from ._context import TransitionContext
    from ._rule import Rule

__all__ = ["Commit", "TransitionDriver"]

#: How the engine commits the outcome that stands once the rules have entered: called
#: with the context, it records the proposal and returns the committed state.
Commit = Callable[["TransitionContext"], State]


class TransitionDriver:
    """The state of one transition and the walk of its rules (see the module docstring).

    Never built on its own: :class:`TransitionContext` sets every field.
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
        "initial",
    )

    initial: State | None
    _proposed: State | None
    _validated: State | None
    _validated_done: bool
    _status: SetStateStatus
    _details: Details
    _mutations: int
    _current_rule: Rule | None
    _decider: Rule | str | None
    error: BaseException | None
    error_rule: str | None
    #: What the commit raised (the outcome is then ABORT), or None.
    commit_error: Exception | None

    def run_plan(self, plan: TransitionPlan, commit: Commit) -> None:
        """Internal: the body of :func:`run_transition`; the engine calls it, rules never.

        While no ``before`` hook changes the outcome, every rule of ``plan`` enters the
        transition unchanged, so only the hooks that exist run, and the exits are the
        ones the plan lists; the first hook that changes the outcome (or raises) hands
        the rest of the rules to the general walk, :meth:`_enter`.
        """
        ctx: TransitionContext = self  # type: ignore[assignment]  # its only subclass
        initial = self.initial
        original_to = plan.to_type
        start = self._mutations
        entered: list[Exit] | None = None
        for position, item, before in plan.befores:
            self._current_rule = item
            try:
                before(ctx)
            except Exception as error:
                self._fail(item.name, error)
                entered = self._enter_rest(plan, position, original_to)
                break
            if self._mutations != start:
                proposed = self._proposed
                expected = None if proposed is None else proposed.type
                entered = self._enter_rest(plan, position, expected)
                break
        self._current_rule = None

        if self._proposed is not None and self.error is None:
            try:
                self._validated = commit(ctx)
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
                        after(ctx)
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
        ctx: TransitionContext = self  # type: ignore[assignment]  # its only subclass
        append = entered.append
        for item in rules:
            has_before, has_after, has_cleanup = item.hook_overrides
            if item.universal:
                if has_before:
                    self._current_rule = item
                    try:
                        item.before(ctx)
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
                    item.before(ctx)
                except Exception as error:
                    self._fail(item.name, error)
                else:
                    if self._mutations != mutations:
                        proposed = self._proposed
                        expected = None if proposed is None else proposed.type
            if has_after or has_cleanup:
                append((item, expected, has_after, has_cleanup))
        self._current_rule = None

    def _exit(self, entered: Sequence[Exit], initial_type: StateType | None) -> None:
        """Run the exits of the entered rules in reverse: after, or cleanup if fizzled.

        Every exit runs; the first error (a ``before`` hook's, else an exit's) is raised.
        """
        ctx: TransitionContext = self  # type: ignore[assignment]  # its only subclass
        if not entered and self.error is None:
            return
        first_error: BaseException | None = self.error
        proposed = self._proposed
        final_to = None if proposed is None else proposed.type
        initial = self.initial
        unchanged_initial = (None if initial is None else initial.type) is initial_type
        for item, expected, has_after, has_cleanup in reversed(entered):
            try:
                if item.universal:
                    if self.error is None:
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

    def _fail(self, rule_name: str, error: BaseException) -> None:
        self._proposed = None
        self._status = SetStateStatus.ABORT
        self._details = AbortDetails(
            f"Aborting orchestration due to error in {rule_name}: {error!r}"
        )
        self._decider = rule_name
        self.error = error
        self.error_rule = rule_name
