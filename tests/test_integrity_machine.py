"""A Hypothesis state machine interleaving valid and malformed calls on one orchestrator.

Valid calls: create task runs (autonomous, or in a flow run) and flow runs, propose states
through the core policies, force states, delete runs, create, delete and reset tag
concurrency limits, submit background runs, and advance the virtual clock. Malformed calls:
states whose fields are of the wrong type or naive (among them ``Scheduled(scheduled_time=
"later")`` next to other scheduled runs, which a sorted index cannot order), truthy
non-booleans for ``force``, ids of the wrong kind or of deleted runs, a ``slot_override``
naming runs that hold no slot, and creations carrying such states.

After every step the machine checks ``check_invariants()`` and its model: which task runs
and flow runs exist, and how long each run's history is. A proposal that commits a state
(ACCEPT, or REJECT into another state) adds exactly that state to the run's history; one
that commits nothing (WAIT, ABORT, REJECT keeping the current state) adds nothing; and no
run but the one proposed for changes. A malformed call must raise the documented refusal
and leave a snapshot of the whole orchestrator (:func:`tests.snapshots.take_snapshot`)
exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orchestrator import (
    AwaitingRetry,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    InvalidArgument,
    ObjectNotFound,
    OrchestrationResult,
    Orchestrator,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunPolicy,
    VirtualClock,
    task,
)
from tests.snapshots import take_snapshot

#: A datetime without a timezone.
NAIVE: Final = datetime(2026, 1, 1, 12, 0)
TAGS: Final = ("db", "io")


@task(task_key="machine.add")
def add(x: int, y: int) -> int:
    """The task the machine submits background runs of."""
    return x + y


class Proposal(NamedTuple):
    """A state to propose, built at the moment of the call (``now`` is the clock's time)."""

    label: str
    build: Callable[[datetime], State]

    def __repr__(self) -> str:
        return self.label


class Malformed(NamedTuple):
    """A malformed state, and the kind of refusal it gets (TypeError or ValueError)."""

    label: str
    build: Callable[[datetime], State]
    kind: type[Exception]

    def __repr__(self) -> str:
        return self.label


def _cache(key: str, now: datetime, seconds: int = 600) -> StateDetails:
    return StateDetails(cache_key=key, cache_expiration=now + timedelta(seconds=seconds))


#: Well-formed proposals; the policy decides what becomes of them.
PROPOSALS: Final = [
    Proposal("Pending()", lambda now: Pending()),
    Proposal("Running()", lambda now: Running()),
    Proposal("Retrying()", lambda now: Retrying()),
    Proposal("Running(cache_key='k')", lambda now: Running(details=StateDetails(cache_key="k"))),
    Proposal("Completed(7)", lambda now: Completed(7)),
    Proposal("Completed(7, cache_key='k')", lambda now: Completed(7, details=_cache("k", now))),
    Proposal("Failed()", lambda now: Failed(message="boom")),
    Proposal("Crashed()", lambda now: Crashed()),
    Proposal("Cancelling()", lambda now: Cancelling()),
    Proposal("Cancelled()", lambda now: Cancelled()),
    Proposal("Paused()", lambda now: Paused()),
    Proposal("Scheduled(now)", lambda now: Scheduled()),
    Proposal("Scheduled(in 10 min)", lambda now: Scheduled(now + timedelta(minutes=10))),
    Proposal("Scheduled(in 1 h)", lambda now: Scheduled(now + timedelta(hours=1))),
    Proposal("AwaitingRetry(in 1 min)", lambda now: AwaitingRetry(now + timedelta(minutes=1))),
]

#: What proposals are drawn from: the whole list, with the transitions rules decide most
#: about (starting, which meets tag limits and the cache; failing, which meets retries)
#: drawn more often; and ``force`` one time in three.
proposals: Final = st.one_of(
    st.sampled_from(PROPOSALS), st.sampled_from([PROPOSALS[1], PROPOSALS[3], PROPOSALS[6]])
)
forced: Final = st.sampled_from([False, False, True])

#: Initial states of new runs ("default": the Pending a run gets when none is given).
INITIAL: Final = [
    Proposal("default", lambda now: Pending()),
    Proposal("Scheduled(in 5 min)", lambda now: Scheduled(now + timedelta(minutes=5))),
    Proposal("Scheduled(in 2 h)", lambda now: Scheduled(now + timedelta(hours=2))),
    Proposal("Scheduled(now)", lambda now: Scheduled()),
]

#: States no proposal may carry: each must be refused before anything changes.
MALFORMED: Final = [
    Malformed("Scheduled(scheduled_time='later')", lambda now: Scheduled("later"), TypeError),  # type: ignore[arg-type]
    Malformed("Scheduled(naive)", lambda now: Scheduled(NAIVE), ValueError),
    Malformed("Running(timestamp=naive)", lambda now: Running(timestamp=NAIVE), ValueError),
    Malformed(
        "State(details='x')",
        lambda now: State(type=StateType.RUNNING, details="x"),  # type: ignore[arg-type]
        TypeError,
    ),
    Malformed(
        "Running(deferred='yes')",
        lambda now: Running(details=StateDetails(deferred="yes")),  # type: ignore[arg-type]
        TypeError,
    ),
    Malformed(
        "Completed(cache_key=123)",
        lambda now: Completed(1, details=StateDetails(cache_key=123)),  # type: ignore[arg-type]
        TypeError,
    ),
    Malformed(
        "Completed(cache_expiration=naive)",
        lambda now: Completed(1, details=StateDetails(cache_key="k", cache_expiration=NAIVE)),
        ValueError,
    ),
    Malformed(
        "Paused(pause_timeout='soon')",
        lambda now: Paused(pause_timeout="soon"),  # type: ignore[arg-type]
        TypeError,
    ),
]


def committed_a_state(result: OrchestrationResult, before: State | None) -> bool:
    """Whether a proposal's outcome committed a new state (ACCEPT, or REJECT into another)."""
    if result.status is SetStateStatus.ACCEPT:
        return True
    if result.status is SetStateStatus.REJECT:
        return result.state is not None and (before is None or result.state.id != before.id)
    return False


class IntegrityMachine(RuleBasedStateMachine):
    """One orchestrator under valid and malformed calls, against a model of its runs."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.orch = Orchestrator(self.clock, seed=0)
        self.flow_id = self.orch.create_flow("machine-flow").id
        self.orch.create_concurrency_limit("db", 1)  # so that RUNNING proposals meet a limit
        #: Task run id -> its parent flow run (or None); the runs that exist.
        self.task_runs: dict[uuid.UUID, uuid.UUID | None] = {}
        #: Run id (task or flow) -> how many states its history holds.
        self.history: dict[uuid.UUID, int] = {}
        self.flow_runs: set[uuid.UUID] = set()
        self.deleted: list[uuid.UUID] = []
        self.limits: set[str] = {"db"}
        self.serial = 0

    # -- helpers ------------------------------------------------------------------------------
    def _key(self) -> str:
        self.serial += 1
        return f"machine.task-{self.serial % 3}"

    def _added_task_run(self, run_id: uuid.UUID, flow_run_id: uuid.UUID | None) -> None:
        assert run_id not in self.history
        self.task_runs[run_id] = flow_run_id
        self.history[run_id] = 1

    def _check_proposal(
        self, run_id: uuid.UUID, before: list[State], result: OrchestrationResult, *, flow: bool
    ) -> None:
        after = (
            self.orch.read_flow_run_states(run_id)
            if flow
            else self.orch.read_task_run_states(run_id)
        )
        committed = committed_a_state(result, before[-1] if before else None)
        event(
            f"{'flow' if flow else 'task'} run proposal: {result.status.name}"
            f"{', committed' if committed else ''}"
        )
        if committed:
            assert after == [*before, result.state], (result, after)
            self.history[run_id] += 1
        else:
            assert after == before, (result, after)

    def _refused(
        self, call: Callable[[], object], kind: type[Exception], *, or_not_found: bool = False
    ) -> None:
        """``call`` must be refused and change nothing at all.

        Refused means an InvalidArgument that is also a ``kind`` (TypeError or ValueError);
        with ``or_not_found``, an ObjectNotFound is a refusal too.
        """
        before = take_snapshot(self.orch)
        with pytest.raises((InvalidArgument, ObjectNotFound)) as raised:
            call()
        error = raised.value
        if not (or_not_found and isinstance(error, ObjectNotFound)):
            assert isinstance(error, InvalidArgument), repr(error)
            assert isinstance(error, kind), f"{error!r} is not a {kind.__name__}"
        assert take_snapshot(self.orch) == before

    def _not_found(self, call: Callable[[], object]) -> None:
        """``call`` must raise ObjectNotFound and change nothing at all."""
        before = take_snapshot(self.orch)
        with pytest.raises(ObjectNotFound):
            call()
        assert take_snapshot(self.orch) == before

    # -- valid calls ----------------------------------------------------------------------------
    @rule(
        initial=st.sampled_from(INITIAL),
        tags=st.frozensets(st.sampled_from(TAGS)),
        retries=st.sampled_from([0, 1]),
    )
    def create_task_run(self, initial: Proposal, tags: frozenset[str], retries: int) -> None:
        run, created = self.orch.create_task_run(
            self._key(),
            state=initial.build(self.clock.now()),
            tags=tags,
            policy=TaskRunPolicy(retries=retries, retry_delay=60),
        )
        assert created
        self._added_task_run(run.id, None)

    @precondition(lambda self: self.flow_runs)
    @rule(data=st.data(), tags=st.frozensets(st.sampled_from(TAGS)))
    def create_child_task_run(self, data: st.DataObject, tags: frozenset[str]) -> None:
        parent = data.draw(st.sampled_from(sorted(self.flow_runs)), "parent")
        run, created = self.orch.create_task_run(self._key(), flow_run_id=parent, tags=tags)
        assert created
        self._added_task_run(run.id, parent)

    @rule(initial=st.sampled_from(INITIAL))
    def create_flow_run(self, initial: Proposal) -> None:
        run = self.orch.create_flow_run(self.flow_id, state=initial.build(self.clock.now()))
        self.flow_runs.add(run.id)
        self.history[run.id] = 1

    @rule(x=st.integers(0, 9))
    def submit_background_run(self, x: int) -> None:
        future = self.orch.submit(add, x, 1)
        self._added_task_run(future.task_run_id, None)

    @precondition(lambda self: self.task_runs)
    @rule(data=st.data(), proposal=proposals, force=forced)
    def propose_task_run_state(self, data: st.DataObject, proposal: Proposal, force: bool) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        before = self.orch.read_task_run_states(run_id)
        result = self.orch.set_task_run_state(run_id, proposal.build(self.clock.now()), force=force)
        self._check_proposal(run_id, before, result, flow=False)

    @precondition(lambda self: self.flow_runs)
    @rule(data=st.data(), proposal=proposals, force=forced)
    def propose_flow_run_state(self, data: st.DataObject, proposal: Proposal, force: bool) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.flow_runs)), "flow run")
        before = self.orch.read_flow_run_states(run_id)
        result = self.orch.set_flow_run_state(run_id, proposal.build(self.clock.now()), force=force)
        self._check_proposal(run_id, before, result, flow=True)

    @precondition(lambda self: self.task_runs)
    @rule(data=st.data())
    def delete_task_run(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        self.orch.delete_task_run(run_id)
        del self.task_runs[run_id], self.history[run_id]
        self.deleted.append(run_id)

    @precondition(lambda self: self.flow_runs)
    @rule(data=st.data())
    def delete_flow_run(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.flow_runs)), "flow run")
        self.orch.delete_flow_run(run_id)
        children = [child for child, parent in self.task_runs.items() if parent == run_id]
        for gone in [run_id, *children]:
            del self.history[gone]
            self.task_runs.pop(gone, None)
            self.deleted.append(gone)
        self.flow_runs.discard(run_id)

    @rule(tag=st.sampled_from(TAGS), limit=st.integers(0, 2))
    def create_concurrency_limit(self, tag: str, limit: int) -> None:
        assert self.orch.create_concurrency_limit(tag, limit).concurrency_limit == limit
        self.limits.add(tag)

    @precondition(lambda self: self.limits)
    @rule(data=st.data())
    def delete_concurrency_limit(self, data: st.DataObject) -> None:
        tag = data.draw(st.sampled_from(sorted(self.limits)), "tag")
        self.orch.delete_concurrency_limit(tag)
        self.limits.discard(tag)

    @precondition(lambda self: self.limits)
    @rule(data=st.data(), keep=st.booleans())
    def reset_concurrency_limit(self, data: st.DataObject, keep: bool) -> None:
        tag = data.draw(st.sampled_from(sorted(self.limits)), "tag")
        holders = self.orch.read_concurrency_limit(tag).active_slots
        reset = self.orch.reset_concurrency_limit(tag, slot_override=holders if keep else None)
        assert reset.active_slots == (holders if keep else frozenset())

    @rule(seconds=st.sampled_from([0, 1, 59.5, 60, 300, 3600]))
    def advance_clock(self, seconds: float) -> None:
        before = self.clock.now()
        assert self.clock.advance(seconds) == before + timedelta(seconds=seconds)

    # -- malformed calls ------------------------------------------------------------------------
    @precondition(lambda self: self.task_runs)
    @rule(data=st.data(), malformed=st.sampled_from(MALFORMED), force=st.booleans())
    def propose_malformed_task_run_state(
        self, data: st.DataObject, malformed: Malformed, force: bool
    ) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        self._refused(
            lambda: self.orch.set_task_run_state(
                run_id, malformed.build(self.clock.now()), force=force
            ),
            malformed.kind,
        )

    @precondition(lambda self: self.flow_runs)
    @rule(data=st.data(), malformed=st.sampled_from(MALFORMED), force=st.booleans())
    def propose_malformed_flow_run_state(
        self, data: st.DataObject, malformed: Malformed, force: bool
    ) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.flow_runs)), "flow run")
        self._refused(
            lambda: self.orch.set_flow_run_state(
                run_id, malformed.build(self.clock.now()), force=force
            ),
            malformed.kind,
        )

    @rule(malformed=st.sampled_from(MALFORMED))
    def create_task_run_in_a_malformed_state(self, malformed: Malformed) -> None:
        self._refused(
            lambda: self.orch.create_task_run(self._key(), state=malformed.build(self.clock.now())),
            malformed.kind,
        )

    @rule(malformed=st.sampled_from(MALFORMED))
    def create_flow_run_in_a_malformed_state(self, malformed: Malformed) -> None:
        self._refused(
            lambda: self.orch.create_flow_run(
                self.flow_id, state=malformed.build(self.clock.now())
            ),
            malformed.kind,
        )

    @precondition(lambda self: self.task_runs)
    @rule(
        data=st.data(),
        proposal=st.sampled_from(PROPOSALS),
        force=st.sampled_from(["no", "yes", 1, 0, None]),
    )
    def propose_with_a_truthy_non_bool_force(
        self, data: st.DataObject, proposal: Proposal, force: object
    ) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        self._refused(
            lambda: self.orch.set_task_run_state(
                run_id,
                proposal.build(self.clock.now()),
                force=force,  # type: ignore[arg-type]
            ),
            TypeError,
        )

    @precondition(lambda self: self.flow_runs or self.deleted)
    @rule(data=st.data(), proposal=st.sampled_from(PROPOSALS))
    def propose_for_a_wrong_kind_or_deleted_id(
        self, data: st.DataObject, proposal: Proposal
    ) -> None:
        wrong = data.draw(st.sampled_from(sorted(self.flow_runs) + self.deleted), "id")
        self._not_found(
            lambda: self.orch.set_task_run_state(wrong, proposal.build(self.clock.now()))
        )

    @precondition(lambda self: self.task_runs)
    @rule(data=st.data(), proposal=st.sampled_from(PROPOSALS))
    def propose_a_flow_run_state_for_a_task_run_id(
        self, data: st.DataObject, proposal: Proposal
    ) -> None:
        wrong = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        self._not_found(
            lambda: self.orch.set_flow_run_state(wrong, proposal.build(self.clock.now()))
        )

    @precondition(lambda self: self.flow_runs or self.deleted)
    @rule(data=st.data())
    def delete_a_wrong_kind_or_deleted_task_run_id(self, data: st.DataObject) -> None:
        wrong = data.draw(st.sampled_from(sorted(self.flow_runs) + self.deleted), "id")
        self._not_found(lambda: self.orch.delete_task_run(wrong))

    @precondition(lambda self: self.task_runs)
    @rule(data=st.data())
    def delete_a_task_run_id_as_a_flow_run(self, data: st.DataObject) -> None:
        wrong = data.draw(st.sampled_from(sorted(self.task_runs)), "task run")
        self._not_found(lambda: self.orch.delete_flow_run(wrong))

    @staticmethod
    def _may_hold(run: TaskRun, tag: str) -> bool:
        return tag in run.tags and run.state_type in (StateType.RUNNING, StateType.CANCELLING)

    @precondition(lambda self: self.limits)
    @rule(data=st.data())
    def reset_a_limit_onto_runs_that_hold_no_slot(self, data: st.DataObject) -> None:
        tag = data.draw(st.sampled_from(sorted(self.limits)), "tag")
        holders = self.orch.read_concurrency_limit(tag).active_slots
        candidates = [*self.deleted, *self.flow_runs, uuid.UUID(int=0xDEAD)]
        # A RUNNING (or CANCELLING) run carrying the tag may take a slot by override even
        # when it holds none (it entered RUNNING before the limit existed): not an impostor.
        candidates += [
            run
            for run in self.task_runs
            if run not in holders and not self._may_hold(self.orch.read_task_run(run), tag)
        ]
        impostor = data.draw(st.sampled_from(candidates), "impostor")
        self._refused(
            lambda: self.orch.reset_concurrency_limit(tag, slot_override=[*holders, impostor]),
            ValueError,
            or_not_found=True,
        )

    @rule(tag=st.sampled_from(TAGS), limit=st.sampled_from([-1, True, 1.5, "2", None]))
    def create_a_malformed_concurrency_limit(self, tag: str, limit: Any) -> None:
        kind = ValueError if limit == -1 else TypeError
        self._refused(lambda: self.orch.create_concurrency_limit(tag, limit), kind)

    @rule(seconds=st.sampled_from([float("nan"), float("inf"), -1.0, 1e20]))
    def advance_the_clock_by_a_malformed_amount(self, seconds: float) -> None:
        self._refused(lambda: self.clock.advance(seconds), ValueError)

    # -- after every step ---------------------------------------------------------------------
    @invariant()
    def invariants_hold_and_the_model_agrees(self) -> None:
        orch = self.orch
        orch.check_invariants()
        assert {run.id for run in orch.read_task_runs()} == set(self.task_runs)
        assert {run.id for run in orch.read_flow_runs()} == self.flow_runs
        for run_id in self.task_runs:
            assert len(orch.read_task_run_states(run_id)) == self.history[run_id], run_id
        for run_id in self.flow_runs:
            assert len(orch.read_flow_run_states(run_id)) == self.history[run_id], run_id
        assert {limit.tag for limit in orch.read_concurrency_limits()} == self.limits


IntegrityMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_valid_and_malformed_calls_keep_the_orchestrator_whole = IntegrityMachine.TestCase
