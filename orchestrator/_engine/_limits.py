"""Tag concurrency limits of the :class:`~orchestrator.Orchestrator`.

A limit on a tag caps how many task runs carrying that tag may be RUNNING at once.
A run takes a slot on every limited tag when it enters RUNNING (all or nothing) and
gives them back when it leaves RUNNING; runs refused a slot WAIT and are woken, first
come first served, when one frees. A limit of 0 aborts such runs instead of letting
them wait forever.

A run told to WAIT for a slot is woken when its turn comes:
:meth:`ConcurrencyLimits.wait_for_turn` returns as soon as the slot table would admit
it (first come, first served), or when the WAIT's delay has passed on the
orchestrator's clock, whichever comes first (see
:class:`~orchestrator._engine._turns.SlotTurns`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Final

from .._core._checks import check_count, check_id, check_text, wrong_value
from .._core._checks_objects import check_ids, check_instance
from .._core._errors import ObjectNotFound
from .._core._models import ConcurrencyLimit, TaskRun
from .._core._outcomes import OrchestrationResult
from .._core._states import StateType
from ._facet import Facet

__all__ = ["ConcurrencyLimits"]

#: The states of a run that may hold a tag's slot (what ``check_invariants`` asserts).
_HOLDERS: Final = (StateType.RUNNING, StateType.CANCELLING)


def _why_not_a_holder(run: TaskRun | None, tag: str) -> str:
    if run is None:
        return "(no task run has this id)"
    if tag not in run.tags:
        return f"(task run {run.name!r} is not tagged {tag!r})"
    return f"(task run {run.name!r} is {run.state_name or 'without a state'})"


class ConcurrencyLimits(Facet):
    """Create, read, update, reset and delete tag concurrency limits."""

    __slots__ = ()

    def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> ConcurrencyLimit:
        """Limit how many runs tagged ``tag`` may run at once; update the limit if it exists.

        Runs already holding a slot keep it when a limit is lowered; the new value
        applies to the next runs that ask.

        Raises:
            InvalidArgument: an empty tag or a limit that is not an integer >= 0.
        """
        check_text(tag, "tag")
        check_count(concurrency_limit, "concurrency_limit")
        with self._engine.lock:
            return self._engine.slots.upsert(
                tag, concurrency_limit, id=self._engine.new_id(), now=self._engine.clock.now()
            )

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit:
        """Return the limit on ``tag`` with the ids of the runs holding its slots.

        Raises:
            ObjectNotFound: no limit on this tag.
        """
        check_text(tag, "tag")
        with self._engine.lock:
            limit = self._engine.slots.get(tag)
            if limit is None:
                raise ObjectNotFound("concurrency limit for tag", repr(tag))
            return limit

    def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        """Return every tag concurrency limit, sorted by tag."""
        with self._engine.lock:
            return self._engine.slots.all()

    def reset_concurrency_limit(
        self, tag: str, slot_override: Iterable[uuid.UUID] | None = None
    ) -> ConcurrencyLimit:
        """Empty a limit's slots, or set them to ``slot_override``.

        ``slot_override`` names the task runs that hold the tag's slots from now on. Each
        must be an existing task run that carries ``tag`` and is RUNNING or CANCELLING,
        the only runs that may hold a slot: a slot given to anything else (an unknown id,
        a PENDING run) would never be given back.

        Raises:
            ObjectNotFound: no limit on this tag.
            InvalidArgument: ``slot_override`` is not a collection of run ids, or names a
                run that does not exist, lacks the tag, or is not RUNNING or CANCELLING
                (nothing is changed).
        """
        check_text(tag, "tag")
        override = (
            None
            if slot_override is None
            else check_ids(slot_override, "slot_override", item="every id in slot_override")
        )
        engine = self._engine
        with engine.lock:
            if engine.slots.get(tag) is None:
                raise ObjectNotFound("concurrency limit for tag", repr(tag))
            for run_id in override or ():
                run = engine.store.get_task_run(run_id)
                if run is None or tag not in run.tags or run.state_type not in _HOLDERS:
                    raise wrong_value(
                        "slot_override",
                        run_id,
                        f"ids of RUNNING or CANCELLING task runs tagged {tag!r}",
                        context=_why_not_a_holder(run, tag),
                    )
            return engine.slots.reset(tag, override, now=engine.clock.now())

    def delete_concurrency_limit(self, tag: str) -> None:
        """Remove the limit on ``tag``; runs waiting only on it may proceed.

        Raises:
            ObjectNotFound: no limit on this tag.
        """
        check_text(tag, "tag")
        with self._engine.lock:
            if self._engine.slots.get(tag) is None:
                raise ObjectNotFound("concurrency limit for tag", repr(tag))
            self._engine.slots.delete(tag)

    async def wait_for_turn(self, run_id: uuid.UUID, result: OrchestrationResult) -> None:
        """After a WAIT for ``run_id``, return when proposing again is worth it.

        Returns at once for any other status. Otherwise waits until the slot table would
        admit the run on every tag it waits for, or ``delay_seconds`` pass on the
        orchestrator's clock. Only the runs whose turn came are woken, so a freed slot
        costs one re-proposal, not one per waiter.

        Raises:
            InvalidArgument: ``run_id`` is not an id or ``result`` not an
                OrchestrationResult.
        """
        run_id = check_id(run_id, "run_id", text=True)
        check_instance(result, OrchestrationResult, "result")
        await self._engine.turns.wait(run_id, result)
