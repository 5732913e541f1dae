"""Tag concurrency rules: take the slots on the way into RUNNING, give them back after.

The slots live in the orchestrator's slot table, reached through ``ctx.services``:
``acquire_slots`` takes one slot on every limited tag of the run or none, so a refusal
leaves nothing held. What one transition took is remembered in ``ctx.parameters`` and
given back if a later rule changes the transition; the universal release rule gives
every slot back once the run commits a state other than RUNNING or CANCELLING.
"""

from __future__ import annotations

from typing import ClassVar, Final, final

import attrs

from .._core._checks import check_seconds
from .._core._models import TaskRun
from .._core._outcomes import SlotWait
from .._core._states import StateType
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = ["ReleaseTaskConcurrencySlots", "SecureTaskConcurrencySlots"]

_TAKEN: Final = "SecureTaskConcurrencySlots.taken"
#: States in which a run keeps its slots: it is, or may still be, running.
_HOLDING: Final = frozenset({StateType.RUNNING, StateType.CANCELLING})


@final
@attrs.frozen
class SecureTaskConcurrencySlots(Rule):
    """→RUNNING: take a slot on every limited tag of the run, or keep it out.

    * a tag whose limit is 0: ABORT (the run could never start);
    * a full tag: WAIT ``wait_seconds`` at most, with ``wait_for`` holding a
      :class:`~orchestrator._core._outcomes.SlotWait` (text ``"tag:<tag>"``) for each
      full tag, so the engine can wake the run as soon as a slot frees;
    * a tag on which the run already holds a slot never stops it.

    Args:
        wait_seconds: the longest a refused run waits before proposing again (> 0).
    """

    to_states: ClassVar[StateTypes] = frozenset({StateType.RUNNING})
    wait_seconds: float = 10.0

    def __attrs_post_init__(self) -> None:
        # Infinity is a wait with no end; the rule has always allowed it.
        check_seconds(self.wait_seconds, "wait_seconds", positive=True, finite=False)

    def before(self, ctx: TransitionContext) -> None:
        """Acquire the run's slots, or abort or wait."""
        run = ctx.run
        if type(run) is not TaskRun:  # the property's check, without its call
            run = ctx.task_run  # refuses a flow run
        tags = run.tags
        if not tags:
            return
        outcome = ctx.services.acquire_slots(run.id, tags)
        if outcome.acquired:
            if outcome.taken:
                ctx.parameters[_TAKEN] = outcome.taken
            return
        zero_tag = outcome.zero_limit
        if zero_tag is not None:
            ctx.abort(
                f'The concurrency limit on tag "{zero_tag}" is 0 and will deadlock '
                "if the task tries to run again."
            )
            return
        blocked = outcome.blocked
        ctx.wait(
            self.wait_seconds,
            f"Concurrency limit reached for tags: {', '.join(blocked)}",
            wait_for=[SlotWait(tag) for tag in blocked],
        )

    def cleanup(self, ctx: TransitionContext) -> None:
        """Give back exactly the slots this transition took."""
        taken = ctx.parameters.pop(_TAKEN, None)
        if taken:
            ctx.services.release_slots(ctx.run.id, frozenset(taken))


@final
@attrs.frozen
class ReleaseTaskConcurrencySlots(Rule):
    """Universal: give the run's slots back once it commits a state that is not running.

    Releases after any committed state other than RUNNING or CANCELLING, including a
    REJECT into another state; never after WAIT, ABORT or a null REJECT (nothing was
    committed, the run is where it was).
    """

    universal: ClassVar[bool] = True
    after_states: ClassVar[StateTypes] = frozenset([*StateType, None]) - _HOLDING

    def after(self, ctx: TransitionContext) -> None:
        """Release the run's slots on its tags."""
        run = ctx.run
        tags = run.tags
        if not tags:  # most runs: no tag, so no slot to give back
            return
        if ctx.proposed is None:
            return
        validated = ctx.validated
        if validated is None or validated.type in _HOLDING:
            return
        ctx.services.release_slots(run.id, tags)
