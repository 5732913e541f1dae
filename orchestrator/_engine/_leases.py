"""Leases on claims, and proposals that only apply to the state they expect.

A background run is *claimed* when a worker commits ``Pending(deferred=True)`` for it;
the background policy refuses a second claimant. A claim that is never followed up
(its holder went away between the claim and the run's start) would leave the run
PENDING for ever, so a claim that stays PENDING across a wait is *leased*: its holder
takes a lease of some seconds on the orchestrator's clock and renews it while it
waits. When a lease runs out and the run is still in the very state that was leased,
the sweeper puts the run back on its task key's retry queue (``AwaitingRetry``, due at
once, keeping its stored parameters), where another worker takes it.

:class:`PendingLeases` holds an orchestrator's leases: a dict by run id and a heap by
expiry (stale heap items are skipped and compacted, as in the task queues).
:meth:`PendingLeases.run` is the sweeper: it sleeps on the clock until the earliest
expiry and is woken (a :class:`~orchestrator._core._wakeup.Signal`) only when an earlier
expiry appears or the earliest one goes away, so a virtual clock never sees a stale
deadline. Every serving :class:`~orchestrator.TaskWorker` runs one.

The sweeper proposes through the engine's compare-and-propose
(:meth:`~orchestrator.Orchestrator.set_task_run_state_if`), handed to it as a callable:
the proposal runs only while the run is still in the very state that was leased, so a
claim that was followed up meanwhile is left alone.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol, final

import anyio
import attrs
from anyio.abc import TaskStatus

from .._core._checks import check_id, check_seconds
from .._core._errors import InvalidArgument
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._states import State, StateDetails, StateType
from .._core._wakeup import Signal, wait_for_any

if TYPE_CHECKING:
    from .._core._clock import Clock

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "PendingLeases",
    "PendingLeasesStatistics",
]

#: How long a claim may stay PENDING without its holder renewing it, by default.
DEFAULT_LEASE_SECONDS: Final = 300.0

#: The expiry of a lease that never runs out (``lease_seconds=inf``).
_FOREVER: Final = datetime.max.replace(tzinfo=UTC)

# A heap whose stale items outnumber the live ones by this much is rebuilt.
_COMPACT_SLACK: Final = 64
_PENDING: Final = StateType.PENDING


class ProposeIf(Protocol):
    """The engine's compare-and-propose: ``state`` only while the run is in ``current``."""

    def __call__(
        self, task_run_id: uuid.UUID, state: State, *, current: State
    ) -> OrchestrationResult | None: ...


@final
@attrs.frozen(kw_only=True)
class PendingLeasesStatistics:
    """What an orchestrator's leases are doing.

    Attributes:
        held: leases held now.
        granted: leases granted or renewed so far.
        expired: leases that ran out while their run was still PENDING (each such run
            was put back on its queue).
        sweepers: sweepers running now.
    """

    held: int
    granted: int
    expired: int
    sweepers: int


@final
class _Lease:
    __slots__ = ("expiry", "run_id", "seconds", "state")

    def __init__(self, run_id: uuid.UUID, state: State, expiry: datetime, seconds: float) -> None:
        self.run_id = run_id
        self.state = state
        self.expiry = expiry
        self.seconds = seconds


@final
class PendingLeases:
    """The leases on an orchestrator's claimed (PENDING) runs; see the module docstring.

    Args:
        clock: the orchestrator's clock, on which leases run out.
        propose_if: the engine's compare-and-propose, which puts an expired claim back.

    Reach it as :attr:`Orchestrator.pending_leases <orchestrator.Orchestrator.pending_leases>`
    (one per orchestrator). Safe from any thread; granting and releasing cost O(log n).
    """

    __slots__ = (
        "_by_run",
        "_clock",
        "_expired",
        "_granted",
        "_heap",
        "_lock",
        "_propose_if",
        "_sequence",
        "_sweepers",
        "changed",
    )

    def __init__(self, clock: Clock, propose_if: ProposeIf) -> None:
        self._clock = clock
        self._propose_if = propose_if
        self._lock = threading.Lock()  # a leaf: nothing is called while it is held
        self._by_run: dict[uuid.UUID, _Lease] = {}
        self._heap: list[tuple[datetime, int, _Lease]] = []
        self._sequence = itertools.count()
        self._granted = 0
        self._expired = 0
        self._sweepers = 0
        #: Notified when the earliest expiry changes (the sweepers re-arm).
        self.changed = Signal()

    # -- holding -----------------------------------------------------------------------------
    def hold(self, run_id: uuid.UUID, state: State, seconds: float) -> datetime:
        """Lease the claim ``state`` of run ``run_id`` for ``seconds`` from now; return the expiry.

        Renews the run's lease if it has one. The lease only ever reschedules the run
        while its current state is ``state``.

        Raises:
            InvalidArgument: ``state`` is not a committed PENDING state, or ``seconds``
                is not a positive number.
        """
        run_id = check_id(run_id, "run_id")
        seconds = check_seconds(seconds, "seconds", positive=True, finite=False)
        if state.type is not _PENDING or state.id is None:
            raise InvalidArgument(f"only a committed PENDING claim can be leased, got {state!r}")
        now = self._clock.now()
        try:
            expiry = now + timedelta(seconds=seconds)
        except OverflowError:
            expiry = _FOREVER  # infinite (or past the year 9999): the lease never runs out
        lease = _Lease(run_id, state, expiry, seconds)
        with self._lock:
            before = self._earliest()
            self._by_run[run_id] = lease
            heapq.heappush(self._heap, (expiry, next(self._sequence), lease))
            self._granted += 1
            moved = self._earliest() is not before
        if moved:
            self.changed.notify()
        return expiry

    def release(self, run_id: uuid.UUID) -> bool:
        """Drop the lease of run ``run_id``; return False when it had none. O(1) amortised."""
        with self._lock:
            if run_id not in self._by_run:
                return False
            before = self._earliest()
            del self._by_run[run_id]
            moved = self._earliest() is not before
            self._compact()
        if moved:
            self.changed.notify()
        return True

    def expiry(self, run_id: uuid.UUID) -> datetime | None:
        """When the lease of run ``run_id`` runs out, or None when it has none. O(1)."""
        lease = self._by_run.get(run_id)
        return None if lease is None else lease.expiry

    def next_expiry(self) -> datetime | None:
        """The earliest expiry among the leases held, or None. O(1) amortised."""
        with self._lock:
            lease = self._earliest()
        return None if lease is None else lease.expiry

    def __len__(self) -> int:
        """Leases held now."""
        return len(self._by_run)

    def __contains__(self, run_id: object) -> bool:
        """True when run ``run_id`` holds a lease."""
        return run_id in self._by_run

    # -- sweeping ------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Put back on their queues the runs whose lease ran out; return how many.

        A run that has left the leased state (it started, finished, was given back or
        deleted) just loses its lease.
        """
        now = self._clock.now()
        due: list[_Lease] = []
        with self._lock:
            heap = self._heap
            while heap and heap[0][0] <= now:
                lease = heapq.heappop(heap)[2]
                if self._by_run.get(lease.run_id) is lease:
                    del self._by_run[lease.run_id]
                    due.append(lease)
        if due:
            self.changed.notify()
        swept = 0
        for lease in due:
            claim = lease.state
            proposal = State(
                type=StateType.SCHEDULED,
                name="AwaitingRetry",
                message=(
                    f"the claim's lease of {lease.seconds:g} s ran out while the run was "
                    "PENDING; it is back on its queue"
                ),
                details=StateDetails(
                    deferred=True, task_parameters_id=claim.details.task_parameters_id
                ),
            )
            result = self._propose_if(lease.run_id, proposal, current=claim)
            if result is not None and result.status is SetStateStatus.ACCEPT:
                swept += 1
        with self._lock:
            self._expired += swept
        return swept

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Sweep expired leases until cancelled, sleeping on the clock until the next expiry.

        Woken early only when the earliest expiry changes; never polls. Several sweepers
        may run at once (each serving worker runs one): each lease is swept once.
        """
        clock = self._clock
        changed = self.changed
        with self._lock:
            self._sweepers += 1
        try:
            task_status.started()
            while True:
                seen = changed.generation
                self.sweep()
                expiry = self.next_expiry()
                if expiry is None or expiry == _FOREVER:  # nothing will ever expire
                    await changed.wait(seen)
                else:
                    until = functools.partial(clock.sleep_until, expiry)
                    await wait_for_any([(changed, seen)], until)
        finally:
            with self._lock:
                self._sweepers -= 1

    # -- checks and statistics -------------------------------------------------------------------
    def statistics(self) -> PendingLeasesStatistics:
        """Return the leases held and how many were granted and expired so far."""
        with self._lock:
            return PendingLeasesStatistics(
                held=len(self._by_run),
                granted=self._granted,
                expired=self._expired,
                sweepers=self._sweepers,
            )

    def check_invariants(self) -> None:
        """Verify the heap against the by-run index; raise AssertionError on a mismatch."""
        with self._lock:
            live = [lease for _, _, lease in self._heap if self._by_run.get(lease.run_id) is lease]
            assert len(live) == len(self._by_run), (
                f"{len(live)} live heap items for {len(self._by_run)} leases"
            )
            for expiry, _, lease in self._heap:
                assert expiry == lease.expiry, f"run {lease.run_id}: heap expiry differs"
            assert len(self._heap) <= 2 * len(self._by_run) + _COMPACT_SLACK, (
                "stale lease items were never compacted"
            )

    # -- internals (the caller holds the lock) ----------------------------------------------------
    def _earliest(self) -> _Lease | None:
        heap, by_run = self._heap, self._by_run
        while heap and by_run.get(heap[0][2].run_id) is not heap[0][2]:
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def _compact(self) -> None:
        heap, by_run = self._heap, self._by_run
        if len(heap) > 2 * len(by_run) + _COMPACT_SLACK:
            heap[:] = [item for item in heap if by_run.get(item[2].run_id) is item[2]]
            heapq.heapify(heap)

    def __repr__(self) -> str:
        return f"<PendingLeases held={len(self._by_run)}>"
