"""Claims of the :class:`~orchestrator.Orchestrator`: conditional proposals and leases.

A background run is *claimed* when a worker commits ``Pending(deferred=True)`` for it;
the background policy refuses a second claimant. :meth:`Claims.set_task_run_state_if`
is the compare-and-propose workers claim, start and finish runs with: the proposal runs
only while the run is still in the state the caller last saw, checked under the engine's
lock, so a worker whose claim was swept away cannot start the run behind the back of the
worker that took it over. A claim that stays PENDING is leased
(:class:`~orchestrator._engine._leases.PendingLeases`).
"""

from __future__ import annotations

import uuid
from typing import Final

from .._core._checks import check_bool, check_id, check_seconds, wrong_value
from .._core._checks_objects import check_instance
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._state_record import held_id
from .._core._states import State, StateDetails, StateType
from ._facet import Facet, check_state
from ._leases import DEFAULT_LEASE_SECONDS, PendingLeases

__all__ = ["Claims"]

_COMMITTED: Final = "a committed State (run.state)"
_CLAIM: Final = State(type=StateType.PENDING, name="Pending", details=StateDetails(deferred=True))


class Claims(Facet):
    """Conditional proposals, claims by hand, and the leases on claims."""

    __slots__ = ()

    @property
    def pending_leases(self) -> PendingLeases:
        """The leases on claimed background runs (see :class:`PendingLeases`)."""
        return self._engine.leases

    def set_task_run_state_if(
        self, task_run_id: uuid.UUID, state: State, *, current: State, force: bool = False
    ) -> OrchestrationResult | None:
        """Propose ``state`` only while the run's current state is ``current``.

        The check and the proposal happen under the engine's lock, so nothing can slip
        in between. States are compared by id (a committed state's id never changes).

        Returns:
            What the policy decided, or None, proposing nothing, when the run is gone
            or has moved on from ``current``.

        Raises:
            InvalidArgument: ``state`` is not a State, ``current`` not a committed State
                (with an id), or ``force`` not True or False.
            Exception: whatever a rule raised (see ``set_task_run_state``).
        """
        # Workers call this three times per run: the checks are inlined for the plain
        # case (a UUID, a State, a bool) and fall back to the checkers to refuse.
        given: tuple[object, object] = (current, force)  # callers may pass anything
        if task_run_id.__class__ is not uuid.UUID:
            task_run_id = check_id(task_run_id, "task_run_id", text=True)
        check_state(state)
        if given[0].__class__ is not State:
            check_instance(current, State, "current", expected=_COMMITTED)
        if held_id(current) is None:  # no UUID built to test for None
            raise wrong_value("current", current, "a committed state (with an id)")
        if given[1] is not False and given[1] is not True:
            check_bool(force, "force")
        return self._engine.propose_if(task_run_id, state, current=current, force=force)

    def claim_task_run(
        self, task_run_id: uuid.UUID, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> OrchestrationResult | None:
        """Claim a SCHEDULED background run by hand, leased for ``lease_seconds``.

        Proposes ``Pending(deferred=True)``; once accepted, the claim must be followed
        by a RUNNING proposal (or renewed with ``pending_leases.hold``) before the lease
        runs out, or the run goes back on its queue.

        Returns:
            The claim's outcome (ABORT when the run was claimed already), or None when
            the run is not SCHEDULED.

        Raises:
            ObjectNotFound: no such run.
            InvalidArgument: ``lease_seconds`` is not a positive number.
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        seconds = check_seconds(lease_seconds, "lease_seconds", positive=True, finite=False)
        engine = self._engine
        with engine.lock:
            state = engine.task_run(task_run_id).state
            if state is None or state.type is not StateType.SCHEDULED:
                return None
            result = engine.propose_if(task_run_id, _CLAIM, current=state)
            if result is not None and result.status is SetStateStatus.ACCEPT:
                claim = result.state
                assert claim is not None  # an accepted proposal commits a state
                engine.leases.hold(task_run_id, claim, seconds)
        return result
