# Every call in the case table is malformed on purpose: the type checker would refuse them
# all, which is the point. Only the argument-type codes are off; everything else is checked.
# mypy: disable-error-code="arg-type, call-overload, dict-item, list-item, return-value"
"""The malformed-call sweep: every public method family, called as a hostile user would.

Each line of :data:`CASES` is one malformed call and what must become of it:

* ``wrong_type(label, parameter, call)``: a value of a kind the parameter never takes (a
  string where a number, a datetime or a bool belongs; a list where a mapping belongs). The
  call raises an :class:`~orchestrator.InvalidArgument` that is also a :class:`TypeError`.
* ``wrong_value(label, parameter, call)``: the right kind, but unusable (NaN, infinity,
  negative or zero where it must be positive, a naive datetime, an empty string, a
  malformed id). The call raises an ``InvalidArgument`` that is also a :class:`ValueError`.
* ``not_found(label, kind, call)``: an id that names nothing of that kind (unknown, or the
  id of another kind of object). The call raises :class:`~orchestrator.ObjectNotFound`.

For every case the test checks that the message names the parameter as the user spelled
it (for ``not_found``, the kind of object that was looked for), that a snapshot of the
whole orchestrator (:func:`tests.snapshots.take_snapshot`) is unchanged, and that
``check_invariants()`` holds.

Calls run against a :class:`World`: an orchestrator holding task runs in every state, a
tag limit whose only slot is held (and a run waiting for it), a queued background run, a
cache entry, a flow run with a child task run, a work pool with a deployment and a
scheduled flow run of it. A refused call must leave every bit of that as it was.
"""

from __future__ import annotations

import enum
import inspect
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, final

import attrs
import pytest

import orchestrator
from orchestrator import (
    Completed,
    FlowRunPolicy,
    InvalidArgument,
    ObjectNotFound,
    Orchestrator,
    Paused,
    Pending,
    ProcessJobConfiguration,
    ProcessWorker,
    Retention,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    TaskRunFuture,
    TaskRunPolicy,
    TaskWorker,
    VirtualClock,
    exponential_backoff,
    serve,
    serve_sync,
    task,
)
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterIdempotencyKey,
    TaskRunFilter,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterFlowRunId,
    TaskRunFilterId,
)
from orchestrator.testing import make_flow_run, make_task_run
from tests.snapshots import OrchestratorSnapshot, take_snapshot

# -- values a hostile caller passes ---------------------------------------------------------------
NAN: Final = math.nan
INF: Final = math.inf
#: An id nothing in any orchestrator has.
UNKNOWN: Final = uuid.UUID(int=0xDEAD)
#: A datetime without a timezone.
NAIVE: Final = datetime(2026, 1, 1, 12, 0)
#: A string where a datetime belongs ("strings are never silently taken for datetimes").
LATER: Final = "2026-01-01T12:00:00+00:00"
#: A huge string that is no id at all.
HUGE_JUNK: Final = "x" * 1_000_000
#: A huge string that is no name: it contains a '/' (names appear in paths and URLs).
HUGE_PATH: Final = "a/" * 500_000
#: The start of every world's clock.
T0: Final = datetime(2026, 1, 1, tzinfo=UTC)


@task(task_key="sweep.add")
def add(x: int, y: int) -> int:
    """The task every world submits, and every task-option case starts from."""
    return x + y


def _explode(parameters: Mapping[str, Any]) -> str:
    raise ZeroDivisionError("a cache key function that fails")


# -- the world every call runs against ------------------------------------------------------------
@final
@attrs.frozen
class World:
    """A prepared orchestrator, and handles on what it holds.

    ``runs`` maps a role to a task run: one per state type (``"scheduled"``, ``"pending"``,
    ``"running"``, ``"completed"``, ``"failed"``, ``"cancelled"``, ``"crashed"``,
    ``"paused"``, ``"cancelling"``), plus ``"holder"`` (RUNNING, holding the only slot of the
    tag "db"), ``"waiting"`` (PENDING, told to WAIT for that slot), ``"cached"`` (COMPLETED,
    its result in the cache under "sweep-key"), ``"queued"`` (a background run of
    :func:`add` in its queue) and ``"child"`` (PENDING, in the flow run).
    """

    orch: Orchestrator
    clock: VirtualClock
    runs: Mapping[str, uuid.UUID]
    flow_id: uuid.UUID
    flow_run_id: uuid.UUID
    deployment_id: uuid.UUID
    deployment_run_id: uuid.UUID
    future: TaskRunFuture[Any]
    pool: str = "sweep-pool"

    def id(self, role: str) -> uuid.UUID:
        """The id of the task run playing ``role``."""
        return self.runs[role]

    def state(self, role: str) -> State:
        """The current (committed) state of the task run playing ``role``."""
        state = self.orch.read_task_run(self.runs[role]).state
        assert state is not None
        return state

    def propose(self, role: str, state: State, **options: Any) -> object:
        """``set_task_run_state`` on the task run playing ``role``."""
        return self.orch.set_task_run_state(self.runs[role], state, **options)

    def call(self, method: str, *args: Any, **kwargs: Any) -> object:
        """Call the orchestrator's method named ``method``.

        For the methods issue 9 adds (``delete_task_runs``, ``read_task_run_state``, ...):
        called by name, the table type-checks on a branch where they do not exist yet.
        """
        return getattr(self.orch, method)(*args, **kwargs)

    def history(self, **changes: Any) -> object:
        """``task_run_history`` over the first hour by minutes, with ``changes`` applied."""
        arguments: dict[str, Any] = {
            "history_start": T0,
            "history_end": T0 + timedelta(hours=1),
            "history_interval": 60,
        }
        return self.orch.task_run_history(**(arguments | changes))


def build_world() -> World:
    """Build the world (see :class:`World`); its invariants hold."""
    clock = VirtualClock(T0)
    orch = Orchestrator(clock, seed=0)
    orch.create_concurrency_limit("db", 1)
    runs: dict[str, uuid.UUID] = {}
    runs["scheduled"] = make_task_run(
        orch, Scheduled(T0 + timedelta(hours=1)), task_key="sweep.scheduled"
    ).id
    for state_type in StateType:
        role = state_type.name.lower()
        if role != "scheduled":
            runs[role] = make_task_run(orch, state_type, task_key=f"sweep.{role}", tags=["io"]).id
    runs["holder"] = make_task_run(orch, task_key="sweep.holder", tags=["db"]).id
    assert orch.set_task_run_state(runs["holder"], Running()).status.name == "ACCEPT"
    runs["waiting"] = make_task_run(orch, task_key="sweep.waiting", tags=["db"]).id
    assert orch.set_task_run_state(runs["waiting"], Running()).status.name == "WAIT"
    runs["cached"] = make_task_run(orch, "RUNNING", task_key="sweep.cached").id
    cache = StateDetails(cache_key="sweep-key", cache_expiration=T0 + timedelta(days=1))
    completed = orch.set_task_run_state(runs["cached"], Completed(42, details=cache))
    assert completed.status.name == "ACCEPT"
    future = orch.submit(add, 1, 2)
    runs["queued"] = future.task_run.id
    flow_run = make_flow_run(orch, "RUNNING", flow_name="sweep-flow")
    runs["child"] = make_task_run(orch, "PENDING", task_key="sweep.child", flow_run=flow_run).id
    orch.create_work_pool("sweep-pool")
    deployment = orch.create_deployment(
        flow_run.flow_id, "sweep-deployment", work_pool_name="sweep-pool", command=["true"]
    )
    deployment_run = orch.create_flow_run_from_deployment(deployment.id)
    orch.check_invariants()
    assert orch.statistics().cache_entries == 1
    assert orch.task_queues.statistics().queued == 1
    return World(
        orch=orch,
        clock=clock,
        runs=runs,
        flow_id=flow_run.flow_id,
        flow_run_id=flow_run.id,
        deployment_id=deployment.id,
        deployment_run_id=deployment_run.id,
        future=future,
    )


# -- the case table -------------------------------------------------------------------------------
class Refusal(enum.Enum):
    """What kind of refusal a malformed call must get."""

    WRONG_TYPE = "an InvalidArgument that is a TypeError"
    WRONG_VALUE = "an InvalidArgument that is a ValueError"
    NOT_FOUND = "ObjectNotFound"

    def accepts(self, error: BaseException) -> bool:
        """True when ``error`` is this kind of refusal."""
        if self is Refusal.NOT_FOUND:
            return isinstance(error, ObjectNotFound)
        kind = TypeError if self is Refusal.WRONG_TYPE else ValueError
        return isinstance(error, InvalidArgument) and isinstance(error, kind)


@final
@attrs.frozen
class Case:
    """One malformed call: ``call(world)`` must be refused as ``refusal``, naming ``names``."""

    label: str
    refusal: Refusal
    names: str
    call: Callable[[World], object]


def wrong_type(label: str, parameter: str, call: Callable[[World], object]) -> Case:
    """A case refused as a wrong type of ``parameter``."""
    return Case(label, Refusal.WRONG_TYPE, parameter, call)


def wrong_value(label: str, parameter: str, call: Callable[[World], object]) -> Case:
    """A case refused as a wrong value of ``parameter``."""
    return Case(label, Refusal.WRONG_VALUE, parameter, call)


def not_found(label: str, kind: str, call: Callable[[World], object]) -> Case:
    """A case refused because no ``kind`` (``"task run"``, ``"flow run"``, ...) has the id."""
    return Case(label, Refusal.NOT_FOUND, kind, call)


# fmt: off
CASES: Final[list[Case]] = [
    # -- task runs: proposals -------------------------------------------------------------------
    wrong_type("set_task_run_state: Scheduled(scheduled_time=a string) beside scheduled runs",
               "scheduled_time",
               lambda w: w.propose("pending", Scheduled(scheduled_time="later"))),
    wrong_value("set_task_run_state: Scheduled(scheduled_time=naive)", "scheduled_time",
                lambda w: w.propose("pending", Scheduled(NAIVE))),
    wrong_type("set_task_run_state: force='no' past terminal protection", "force",
               lambda w: w.propose("completed", Running(), force="no")),
    wrong_type("set_task_run_state: force=1", "force",
               lambda w: w.propose("pending", Running(), force=1)),
    wrong_type("set_task_run_state: force=None", "force",
               lambda w: w.propose("pending", Running(), force=None)),
    wrong_type("set_task_run_state: state as a type name", "state",
               lambda w: w.propose("pending", "RUNNING")),
    wrong_type("set_task_run_state: state as a StateType", "state",
               lambda w: w.propose("pending", StateType.RUNNING)),
    wrong_type("set_task_run_state: state=None", "state",
               lambda w: w.propose("pending", None)),
    wrong_type("State(type='RUNNING')", "type",
               lambda w: w.propose("pending", State(type="RUNNING"))),
    wrong_type("State(details='x')", "details",
               lambda w: w.propose("pending", State(type=StateType.RUNNING, details="x"))),
    wrong_type("State(name=5)", "name",
               lambda w: w.propose("pending", State(type=StateType.RUNNING, name=5))),
    wrong_type("State(message=5)", "message",
               lambda w: w.propose("pending", State(type=StateType.RUNNING, message=5))),
    wrong_type("State(timestamp=a string)", "timestamp",
               lambda w: w.propose("pending", Running(timestamp=LATER))),
    wrong_value("State(timestamp=naive)", "timestamp",
                lambda w: w.propose("pending", Running(timestamp=NAIVE))),
    wrong_type("State(id=a string)", "id",
               lambda w: w.propose("pending", State(type=StateType.RUNNING, id="my-state"))),
    wrong_type("StateDetails(deferred='yes')", "deferred",
               lambda w: w.propose("pending", Running(details=StateDetails(deferred="yes")))),
    wrong_type("StateDetails(cache_key=123) on a completion", "cache_key",
               lambda w: w.propose("running", Completed(1, details=StateDetails(cache_key=123)))),
    wrong_type("StateDetails(cache_expiration=a string) on a completion", "cache_expiration",
               lambda w: w.propose("running", Completed(1, details=StateDetails(
                   cache_key="k", cache_expiration=LATER)))),
    wrong_value("StateDetails(cache_expiration=naive) on a completion", "cache_expiration",
                lambda w: w.propose("running", Completed(1, details=StateDetails(
                    cache_key="k", cache_expiration=NAIVE)))),
    wrong_type("StateDetails(refresh_cache='no')", "refresh_cache",
               lambda w: w.propose("pending", Running(details=StateDetails(refresh_cache="no")))),
    wrong_type("StateDetails(retriable='no') on a failure", "retriable",
               lambda w: w.propose("running", State(
                   type=StateType.FAILED, details=StateDetails(retriable="no")))),
    wrong_type("StateDetails(task_parameters_id=a string)", "task_parameters_id",
               lambda w: w.propose("pending", Running(
                   details=StateDetails(task_parameters_id="params")))),
    wrong_type("StateDetails(child_flow_run_id=5)", "child_flow_run_id",
               lambda w: w.propose("pending", Running(details=StateDetails(child_flow_run_id=5)))),
    wrong_type("StateDetails(pause_reschedule='no')", "pause_reschedule",
               lambda w: w.propose("running", Paused(details=StateDetails(pause_reschedule="no")))),
    wrong_type("StateDetails(untrackable_result=1)", "untrackable_result",
               lambda w: w.propose("running", Completed(
                   1, details=StateDetails(untrackable_result=1)))),
    wrong_type("StateDetails(run_input_keyset=5)", "run_input_keyset",
               lambda w: w.propose("running", Paused(details=StateDetails(run_input_keyset=5)))),
    wrong_type("Paused(pause_timeout=a string)", "pause_timeout",
               lambda w: w.propose("running", Paused(pause_timeout=LATER))),
    wrong_value("Paused(pause_timeout=naive)", "pause_timeout",
                lambda w: w.propose("running", Paused(pause_timeout=NAIVE))),
    not_found("set_task_run_state: a flow run's id", "task run",
              lambda w: w.orch.set_task_run_state(w.flow_run_id, Running())),
    not_found("set_task_run_state: an unknown id", "task run",
              lambda w: w.orch.set_task_run_state(UNKNOWN, Running())),
    wrong_value("set_task_run_state: a malformed id string", "task_run_id",
                lambda w: w.orch.set_task_run_state("not-a-uuid", Running())),
    wrong_value("set_task_run_state: a huge id string", "task_run_id",
                lambda w: w.orch.set_task_run_state(HUGE_JUNK, Running())),
    wrong_type("set_task_run_state: an int id", "task_run_id",
               lambda w: w.orch.set_task_run_state(5, Running())),
    wrong_type("set_task_run_state: the run record instead of its id", "task_run_id",
               lambda w: w.orch.set_task_run_state(
                   w.orch.read_task_run(w.id("pending")), Running())),
    # -- task runs: creation --------------------------------------------------------------------
    wrong_type("create_task_run: state=Scheduled(scheduled_time='tomorrow')", "scheduled_time",
               lambda w: w.orch.create_task_run("t", state=Scheduled(scheduled_time="tomorrow"))),
    wrong_value("create_task_run: state=Scheduled(naive)", "scheduled_time",
                lambda w: w.orch.create_task_run("t", state=Scheduled(NAIVE))),
    wrong_type("create_task_run: state as a type name", "state",
               lambda w: w.orch.create_task_run("t", state="PENDING")),
    wrong_value("create_task_run: task_key=''", "task_key",
                lambda w: w.orch.create_task_run("")),
    wrong_type("create_task_run: task_key=None", "task_key",
               lambda w: w.orch.create_task_run(None)),
    wrong_value("create_task_run: name=''", "name",
                lambda w: w.orch.create_task_run("t", name="")),
    wrong_type("create_task_run: name=5", "name",
               lambda w: w.orch.create_task_run("t", name=5)),
    wrong_type("create_task_run: dynamic_key=5", "dynamic_key",
               lambda w: w.orch.create_task_run("t", dynamic_key=5)),
    wrong_type("create_task_run: cache_key=123", "cache_key",
               lambda w: w.orch.create_task_run("t", cache_key=123)),
    wrong_type("create_task_run: cache_expiration='tomorrow'", "cache_expiration",
               lambda w: w.orch.create_task_run("t", cache_expiration="tomorrow")),
    wrong_value("create_task_run: cache_expiration=naive", "cache_expiration",
                lambda w: w.orch.create_task_run("t", cache_expiration=NAIVE)),
    wrong_type("create_task_run: task_version=2", "task_version",
               lambda w: w.orch.create_task_run("t", task_version=2)),
    wrong_type("create_task_run: labels=['a']", "labels",
               lambda w: w.orch.create_task_run("t", labels=["a"])),
    wrong_type("create_task_run: labels with a non-string value", "labels",
               lambda w: w.orch.create_task_run("t", labels={"team": 7})),
    wrong_type("create_task_run: task_inputs=5", "task_inputs",
               lambda w: w.orch.create_task_run("t", task_inputs=5)),
    wrong_type("create_task_run: tags='db' (one string)", "tags",
               lambda w: w.orch.create_task_run("t", tags="db")),
    wrong_type("create_task_run: tags=[1]", "tag",
               lambda w: w.orch.create_task_run("t", tags=[1])),
    wrong_value("create_task_run: tags=['']", "tag",
                lambda w: w.orch.create_task_run("t", tags=[""])),
    wrong_type("create_task_run: policy as a dict", "policy",
               lambda w: w.orch.create_task_run("t", policy={"retries": 1})),
    wrong_type("create_task_run: id=5", "id",
               lambda w: w.orch.create_task_run("t", id=5)),
    wrong_value("create_task_run: id a malformed string", "id",
                lambda w: w.orch.create_task_run("t", id="not-a-uuid")),
    not_found("create_task_run: flow_run_id a task run's id", "flow run",
              lambda w: w.orch.create_task_run("t", flow_run_id=w.id("running"))),
    wrong_value("create_task_run: flow_run_id a malformed string", "flow_run_id",
                lambda w: w.orch.create_task_run("t", flow_run_id="junk")),
    # -- task runs: reads, updates, deletes -----------------------------------------------------
    not_found("read_task_run: a flow run's id", "task run",
              lambda w: w.orch.read_task_run(w.flow_run_id)),
    wrong_type("read_task_run: None", "task_run_id",
               lambda w: w.orch.read_task_run(None)),
    not_found("read_task_run_states: a flow run's id", "task run",
              lambda w: w.orch.read_task_run_states(w.flow_run_id)),
    not_found("update_task_run: a flow run's id", "task run",
              lambda w: w.orch.update_task_run(w.flow_run_id, name="renamed")),
    wrong_value("update_task_run: name=''", "name",
                lambda w: w.orch.update_task_run(w.id("pending"), name="")),
    wrong_type("update_task_run: name=5", "name",
               lambda w: w.orch.update_task_run(w.id("pending"), name=5)),
    not_found("delete_task_run: a flow run's id", "task run",
              lambda w: w.orch.delete_task_run(w.flow_run_id)),
    not_found("delete_task_run: the id of the deployment's flow run", "task run",
              lambda w: w.orch.delete_task_run(w.deployment_run_id)),
    not_found("delete_task_run: a deployment's id", "task run",
              lambda w: w.orch.delete_task_run(w.deployment_id)),
    wrong_value("delete_task_run: a malformed id string", "task_run_id",
                lambda w: w.orch.delete_task_run("")),
    # -- queries and history --------------------------------------------------------------------
    wrong_value("read_task_runs: limit=-1", "limit",
                lambda w: w.orch.read_task_runs(limit=-1)),
    wrong_type("read_task_runs: limit='10'", "limit",
               lambda w: w.orch.read_task_runs(limit="10")),
    wrong_type("read_task_runs: limit=True", "limit",
               lambda w: w.orch.read_task_runs(limit=True)),
    wrong_type("read_task_runs: limit=NaN", "limit",
               lambda w: w.orch.read_task_runs(limit=NAN)),
    wrong_value("read_task_runs: offset=-1", "offset",
                lambda w: w.orch.read_task_runs(offset=-1)),
    wrong_type("read_task_runs: sort as a string", "sort",
               lambda w: w.orch.read_task_runs(sort="ID_DESC")),
    wrong_type("read_task_runs: task_runs as a string", "task_runs",
               lambda w: w.orch.read_task_runs(task_runs="COMPLETED")),
    wrong_type("read_task_runs: a TaskRunFilter given as flow_runs", "flow_runs",
               lambda w: w.orch.read_task_runs(flow_runs=TaskRunFilter())),
    wrong_type("count_task_runs: task_runs=5", "task_runs",
               lambda w: w.orch.count_task_runs(task_runs=5)),
    wrong_value("paginate_task_runs: page=0", "page",
                lambda w: w.orch.paginate_task_runs(page=0)),
    wrong_type("paginate_task_runs: page='1'", "page",
               lambda w: w.orch.paginate_task_runs(page="1")),
    wrong_value("paginate_task_runs: limit=-5", "limit",
                lambda w: w.orch.paginate_task_runs(limit=-5)),
    wrong_type("paginate_task_runs: sort as a string", "sort",
               lambda w: w.orch.paginate_task_runs(sort="NAME_ASC")),
    wrong_type("task_run_history: history_start='2026-01-01'", "history_start",
               lambda w: w.history(history_start="2026-01-01")),
    wrong_value("task_run_history: history_start naive", "history_start",
                lambda w: w.history(history_start=NAIVE)),
    wrong_type("task_run_history: history_end as a timestamp number", "history_end",
               lambda w: w.history(history_end=T0.timestamp() + 3600)),
    wrong_value("task_run_history: history_end before history_start", "history_end",
                lambda w: w.history(history_end=T0 - timedelta(hours=1))),
    wrong_value("task_run_history: history_interval=NaN", "history_interval",
                lambda w: w.history(history_interval=NAN)),
    wrong_value("task_run_history: history_interval=inf", "history_interval",
                lambda w: w.history(history_interval=INF)),
    wrong_value("task_run_history: history_interval=0.5", "history_interval",
                lambda w: w.history(history_interval=0.5)),
    wrong_type("task_run_history: history_interval='60'", "history_interval",
               lambda w: w.history(history_interval="60")),
    wrong_value("task_run_history: max_buckets=0", "max_buckets",
                lambda w: w.history(max_buckets=0)),
    wrong_type("task_run_history: max_buckets='500'", "max_buckets",
               lambda w: w.history(max_buckets="500")),
    wrong_type("task_run_history: task_runs=5", "task_runs",
               lambda w: w.history(task_runs=5)),
    wrong_value("TaskRunFilterExpectedStartTime(after_=naive)", "after_",
                lambda w: w.orch.read_task_runs(task_runs=TaskRunFilter(
                    expected_start_time=TaskRunFilterExpectedStartTime(after_=NAIVE)))),
    wrong_type("TaskRunFilterExpectedStartTime(before_=a string)", "before_",
               lambda w: w.orch.read_task_runs(task_runs=TaskRunFilter(
                   expected_start_time=TaskRunFilterExpectedStartTime(before_=LATER)))),
    wrong_type("TaskRunFilterFlowRunId(is_null_='no')", "is_null_",
               lambda w: w.orch.read_task_runs(task_runs=TaskRunFilter(
                   flow_run_id=TaskRunFilterFlowRunId(is_null_="no")))),
    wrong_value("TaskRunFilterId(any_=a malformed id)", "any_",
                lambda w: w.orch.read_task_runs(
                    task_runs=TaskRunFilter(id=TaskRunFilterId(any_="junk")))),
    wrong_value("read_flow_runs: limit=-1", "limit",
                lambda w: w.orch.read_flow_runs(limit=-1)),
    wrong_type("read_flow_runs: sort as a string", "sort",
               lambda w: w.orch.read_flow_runs(sort="NAME_ASC")),
    wrong_type("read_flow_runs: flow_runs as a TaskRunFilter", "flow_runs",
               lambda w: w.orch.read_flow_runs(flow_runs=TaskRunFilter())),
    wrong_type("read_flow_runs: work_pools as a TaskRunFilter", "work_pools",
               lambda w: w.orch.read_flow_runs(work_pools=TaskRunFilter())),
    wrong_type("read_flow_runs: task_runs as a FlowRunFilter", "task_runs",
               lambda w: w.orch.read_flow_runs(task_runs=FlowRunFilter())),
    wrong_type("count_flow_runs: work_pools=5", "work_pools",
               lambda w: w.orch.count_flow_runs(work_pools=5)),
    wrong_type("count_flow_runs: task_runs='db'", "task_runs",
               lambda w: w.orch.count_flow_runs(task_runs="db")),
    wrong_type("paginate_flow_runs: work_pools as a FlowRunFilter", "work_pools",
               lambda w: w.orch.paginate_flow_runs(work_pools=FlowRunFilter())),
    wrong_type("delete_flow_runs: a TaskRunFilter given as work_pools", "work_pools",
               lambda w: w.call("delete_flow_runs", work_pools=TaskRunFilter())),
    wrong_type("delete_flow_runs: a FlowRunFilter given as task_runs", "task_runs",
               lambda w: w.call("delete_flow_runs", task_runs=FlowRunFilter())),
    wrong_type("count_flow_runs: flows=5", "flows",
               lambda w: w.orch.count_flow_runs(flows=5)),
    # -- states by id, and bulk deletes (the methods this issue adds) ---------------------------
    not_found("read_task_run_state: an unknown state id", "state",
              lambda w: w.call("read_task_run_state", UNKNOWN)),
    not_found("read_task_run_state: a flow run state's id", "state",
              lambda w: w.call("read_task_run_state",
                               w.orch.read_flow_run_states(w.flow_run_id)[0].id)),
    wrong_value("read_task_run_state: a malformed id string", "state_id",
                lambda w: w.call("read_task_run_state", "junk")),
    not_found("delete_task_run_state: an unknown state id", "state",
              lambda w: w.call("delete_task_run_state", UNKNOWN)),
    not_found("read_flow_run_state: a task run state's id", "state",
              lambda w: w.call("read_flow_run_state", w.state("running").id)),
    wrong_type("delete_flow_run_state: state_id=5", "state_id",
               lambda w: w.call("delete_flow_run_state", 5)),
    wrong_type("delete_task_runs: task_runs as a string", "task_runs",
               lambda w: w.call("delete_task_runs", task_runs="COMPLETED")),
    wrong_type("delete_flow_runs: a TaskRunFilter given as flow_runs", "flow_runs",
               lambda w: w.call("delete_flow_runs", flow_runs=TaskRunFilter())),
    # -- decisions ------------------------------------------------------------------------------
    not_found("read_decisions: an unknown id", "run",
              lambda w: w.orch.read_decisions(UNKNOWN)),
    not_found("read_decisions: a deployment's id", "run",
              lambda w: w.orch.read_decisions(w.deployment_id)),
    wrong_value("read_decisions: a malformed id string", "run_id",
                lambda w: w.orch.read_decisions("junk")),
    wrong_type("read_decisions: run_id=None", "run_id",
               lambda w: w.orch.read_decisions(None)),
    # -- run logs -------------------------------------------------------------------------------
    wrong_type("read_logs: task_run_id=5", "task_run_id",
               lambda w: w.orch.read_logs(task_run_id=5)),
    wrong_value("read_logs: a malformed flow_run_id string", "flow_run_id",
                lambda w: w.orch.read_logs(flow_run_id="junk")),
    wrong_value("read_logs: an unknown level name", "level",
                lambda w: w.orch.read_logs(level="LOUD")),
    wrong_type("read_logs: level=True", "level",
               lambda w: w.orch.read_logs(level=True)),
    wrong_type("count_dropped_logs: flow_run_id=[]", "flow_run_id",
               lambda w: w.orch.count_dropped_logs(flow_run_id=[])),
    wrong_value("run_logger: no id at all", "task_run_id",
                lambda w: w.orch.run_logger()),
    wrong_type("run_logger: task_run_id=1.5", "task_run_id",
               lambda w: w.orch.run_logger(task_run_id=1.5)),
    not_found("explain: an unknown id", "run",
              lambda w: w.orch.explain(UNKNOWN)),
    wrong_value("explain: a malformed id string", "run_id",
                lambda w: w.orch.explain("junk")),
    # -- flows ----------------------------------------------------------------------------------
    wrong_value("create_flow: name=''", "name",
                lambda w: w.orch.create_flow("")),
    wrong_type("create_flow: name=5", "name",
               lambda w: w.orch.create_flow(5)),
    wrong_type("create_flow: tags='etl'", "tags",
               lambda w: w.orch.create_flow("f", tags="etl")),
    not_found("read_flow: a flow run's id", "flow",
              lambda w: w.orch.read_flow(w.flow_run_id)),
    wrong_value("read_flow: a malformed id string", "flow_id",
                lambda w: w.orch.read_flow("junk")),
    wrong_type("read_flows: flows as a string", "flows",
               lambda w: w.orch.read_flows(flows="sweep-flow")),
    # -- flow runs ------------------------------------------------------------------------------
    not_found("create_flow_run: flow_id a flow run's id", "flow",
              lambda w: w.orch.create_flow_run(w.flow_run_id)),
    wrong_type("create_flow_run: flow_id=5", "flow_id",
               lambda w: w.orch.create_flow_run(5)),
    wrong_value("create_flow_run: name=''", "name",
                lambda w: w.orch.create_flow_run(w.flow_id, name="")),
    wrong_type("create_flow_run: state=Scheduled(scheduled_time='later')", "scheduled_time",
               lambda w: w.orch.create_flow_run(
                   w.flow_id, state=Scheduled(scheduled_time="later"))),
    wrong_type("create_flow_run: parameters as a list", "parameters",
               lambda w: w.orch.create_flow_run(w.flow_id, parameters=[1, 2])),
    wrong_type("create_flow_run: labels=['a']", "labels",
               lambda w: w.orch.create_flow_run(w.flow_id, labels=["a"])),
    wrong_type("create_flow_run: labels with a non-string value", "labels",
               lambda w: w.orch.create_flow_run(w.flow_id, labels={"team": 7})),
    wrong_type("create_flow_run: tags=5", "tags",
               lambda w: w.orch.create_flow_run(w.flow_id, tags=5)),
    wrong_type("create_flow_run: policy as a dict", "policy",
               lambda w: w.orch.create_flow_run(w.flow_id, policy={"retries": 1})),
    wrong_type("FlowRunPolicy(retries='3')", "retries",
               lambda w: w.orch.create_flow_run(w.flow_id, policy=FlowRunPolicy(retries="3"))),
    wrong_value("FlowRunPolicy(retry_delay=NaN)", "retry_delay",
                lambda w: w.orch.create_flow_run(w.flow_id, policy=FlowRunPolicy(retry_delay=NAN))),
    wrong_type("FlowRunPolicy(resuming='no')", "resuming",
               lambda w: w.orch.create_flow_run(w.flow_id, policy=FlowRunPolicy(resuming="no"))),
    not_found("create_flow_run: parent_task_run_id a flow run's id", "task run",
              lambda w: w.orch.create_flow_run(w.flow_id, parent_task_run_id=w.flow_run_id)),
    not_found("create_flow_run: deployment_id a flow's id", "deployment",
              lambda w: w.orch.create_flow_run(w.flow_id, deployment_id=w.flow_id)),
    not_found("create_flow_run: an unknown work pool", "work pool",
              lambda w: w.orch.create_flow_run(w.flow_id, work_pool_name="no-such-pool")),
    not_found("create_flow_run: an unknown work queue of the pool", "work queue",
              lambda w: w.orch.create_flow_run(
                  w.flow_id, work_pool_name=w.pool, work_queue_name="no-such-queue")),
    wrong_type("create_flow_run: job_variables as a string", "job_variables",
               lambda w: w.orch.create_flow_run(w.flow_id, job_variables="env=1")),
    not_found("read_flow_run: a task run's id", "flow run",
              lambda w: w.orch.read_flow_run(w.id("running"))),
    not_found("read_flow_run_states: a task run's id", "flow run",
              lambda w: w.orch.read_flow_run_states(w.id("running"))),
    not_found("set_flow_run_state: a task run's id", "flow run",
              lambda w: w.orch.set_flow_run_state(w.id("pending"), Running())),
    wrong_type("set_flow_run_state: force='no'", "force",
               lambda w: w.orch.set_flow_run_state(w.flow_run_id, Pending(), force="no")),
    wrong_type("set_flow_run_state: state as a string", "state",
               lambda w: w.orch.set_flow_run_state(w.flow_run_id, "COMPLETED")),
    wrong_type("set_flow_run_state: Scheduled(scheduled_time=a string) beside a scheduled run",
               "scheduled_time",
               lambda w: w.orch.set_flow_run_state(
                   w.flow_run_id, Scheduled(scheduled_time="later"))),
    wrong_value("set_flow_run_state: Scheduled(naive) beside a scheduled run", "scheduled_time",
                lambda w: w.orch.set_flow_run_state(w.flow_run_id, Scheduled(NAIVE), force=True)),
    wrong_type("set_flow_run_state: Paused(pause_timeout='soon')", "pause_timeout",
               lambda w: w.orch.set_flow_run_state(w.flow_run_id, Paused(pause_timeout="soon"))),
    wrong_value("set_flow_run_state: State(timestamp=naive)", "timestamp",
                lambda w: w.orch.set_flow_run_state(w.flow_run_id, Completed(timestamp=NAIVE))),
    not_found("update_flow_run: a task run's id", "flow run",
              lambda w: w.orch.update_flow_run(w.id("running"), name="renamed")),
    wrong_value("update_flow_run: name=''", "name",
                lambda w: w.orch.update_flow_run(w.flow_run_id, name="")),
    wrong_type("update_flow_run: infrastructure_pid=1234", "infrastructure_pid",
               lambda w: w.orch.update_flow_run(w.flow_run_id, infrastructure_pid=1234)),
    wrong_type("update_flow_run: labels with a non-string value", "labels",
               lambda w: w.orch.update_flow_run(w.flow_run_id, labels={"team": 7})),
    not_found("delete_flow_run: a task run's id", "flow run",
              lambda w: w.orch.delete_flow_run(w.id("child"))),
    wrong_value("delete_flow_run: a malformed id string", "flow_run_id",
                lambda w: w.orch.delete_flow_run("junk")),
    # -- deployments ----------------------------------------------------------------------------
    not_found("create_deployment: flow_id a flow run's id", "flow",
              lambda w: w.orch.create_deployment(w.flow_run_id, "d")),
    wrong_value("create_deployment: name=''", "name",
                lambda w: w.orch.create_deployment(w.flow_id, "")),
    wrong_type("create_deployment: name=5", "name",
               lambda w: w.orch.create_deployment(w.flow_id, 5)),
    wrong_type("create_deployment: paused='no'", "paused",
               lambda w: w.orch.create_deployment(w.flow_id, "d", paused="no")),
    wrong_type("create_deployment: command as one string", "command",
               lambda w: w.orch.create_deployment(w.flow_id, "d", command="python flow.py")),
    wrong_type("create_deployment: parameters with a non-string name", "parameters",
               lambda w: w.orch.create_deployment(w.flow_id, "d", parameters={1: "x"})),
    wrong_value("create_deployment: parameters holding NaN (not JSON)", "parameters",
                lambda w: w.orch.create_deployment(w.flow_id, "d", parameters={"x": NAN})),
    wrong_type("create_deployment: a non-string env value", "env",
               lambda w: w.orch.create_deployment(
                   w.flow_id, "d", work_pool_name=w.pool, job_variables={"env": {"A": 1}})),
    not_found("create_deployment: an unknown work pool", "work pool",
              lambda w: w.orch.create_deployment(w.flow_id, "d", work_pool_name="no-such-pool")),
    wrong_value("create_deployment: work_queue_name without a pool", "work_queue_name",
                lambda w: w.orch.create_deployment(w.flow_id, "d", work_queue_name="default")),
    wrong_type("create_deployment: tags='etl'", "tags",
               lambda w: w.orch.create_deployment(w.flow_id, "d", tags="etl")),
    wrong_value("create_deployment: concurrency_limit=-1", "concurrency_limit",
                lambda w: w.orch.create_deployment(w.flow_id, "d", concurrency_limit=-1)),
    wrong_type("create_deployment: concurrency_limit='2'", "concurrency_limit",
               lambda w: w.orch.create_deployment(w.flow_id, "d", concurrency_limit="2")),
    wrong_type("create_deployment: concurrency_limit=True", "concurrency_limit",
               lambda w: w.orch.create_deployment(w.flow_id, "d", concurrency_limit=True)),
    not_found("read_deployment: a flow's id", "deployment",
              lambda w: w.orch.read_deployment(w.flow_id)),
    wrong_type("read_deployments: deployments as a string", "deployments",
               lambda w: w.orch.read_deployments(deployments="sweep-deployment")),
    not_found("update_deployment: a flow run's id", "deployment",
              lambda w: w.orch.update_deployment(w.flow_run_id, paused=True)),
    wrong_type("update_deployment: paused='no'", "paused",
               lambda w: w.orch.update_deployment(w.deployment_id, paused="no")),
    wrong_type("update_deployment: tags='etl'", "tags",
               lambda w: w.orch.update_deployment(w.deployment_id, tags="etl")),
    wrong_type("update_deployment: command as one string", "command",
               lambda w: w.orch.update_deployment(w.deployment_id, command="python flow.py")),
    not_found("update_deployment: an unknown work pool", "work pool",
              lambda w: w.orch.update_deployment(w.deployment_id, work_pool_name="no-such-pool")),
    wrong_value("update_deployment: concurrency_limit=-1", "concurrency_limit",
                lambda w: w.orch.update_deployment(w.deployment_id, concurrency_limit=-1)),
    wrong_type("update_deployment: concurrency_limit=1.5 with paused=True", "concurrency_limit",
               lambda w: w.orch.update_deployment(
                   w.deployment_id, paused=True, concurrency_limit=1.5)),
    not_found("delete_deployment: a flow's id", "deployment",
              lambda w: w.orch.delete_deployment(w.flow_id)),
    not_found("create_flow_run_from_deployment: a flow's id", "deployment",
              lambda w: w.orch.create_flow_run_from_deployment(w.flow_id)),
    # -- flow-run surface (issue 10): keys, versions, pages, history, resuming ------------------
    wrong_value("create_flow_run: idempotency_key=''", "idempotency_key",
                lambda w: w.orch.create_flow_run(w.flow_id, idempotency_key="")),
    wrong_type("create_flow_run: idempotency_key=7", "idempotency_key",
               lambda w: w.orch.create_flow_run(w.flow_id, idempotency_key=7)),
    wrong_type("create_flow_run: flow_version=1.0", "flow_version",
               lambda w: w.orch.create_flow_run(w.flow_id, flow_version=1.0)),
    wrong_type("create_flow_run_from_deployment: idempotency_key=b'k'", "idempotency_key",
               lambda w: w.orch.create_flow_run_from_deployment(
                   w.deployment_id, idempotency_key=b"k")),
    wrong_value("create_flow_run_from_deployment: idempotency_key=''", "idempotency_key",
                lambda w: w.orch.create_flow_run_from_deployment(
                    w.deployment_id, idempotency_key="")),
    wrong_value("paginate_flow_runs: page=0", "page",
                lambda w: w.orch.paginate_flow_runs(page=0)),
    wrong_type("paginate_flow_runs: limit='10'", "limit",
               lambda w: w.orch.paginate_flow_runs(limit="10")),
    wrong_type("paginate_flow_runs: sort as a string", "sort",
               lambda w: w.orch.paginate_flow_runs(sort="NAME_ASC")),
    wrong_type("paginate_flow_runs: a TaskRunFilter given as flow_runs", "flow_runs",
               lambda w: w.orch.paginate_flow_runs(flow_runs=TaskRunFilter())),
    wrong_type("flow_run_history: history_start='2026-01-01'", "history_start",
               lambda w: w.orch.flow_run_history(
                   history_start="2026-01-01", history_end=T0, history_interval=60)),
    wrong_value("flow_run_history: history_interval=0.5", "history_interval",
                lambda w: w.orch.flow_run_history(
                    history_start=T0, history_end=T0 + timedelta(hours=1), history_interval=0.5)),
    not_found("resume_flow_run: a task run's id", "flow run",
              lambda w: w.orch.resume_flow_run(w.id("paused"))),
    wrong_value("resume_flow_run: a malformed id string", "flow_run_id",
                lambda w: w.orch.resume_flow_run("junk")),
    wrong_value("read_flow_run_input: key=''", "key",
                lambda w: w.orch.read_flow_run_input(w.flow_run_id, "")),
    wrong_type("read_flow_run_input: key=5", "key",
               lambda w: w.orch.read_flow_run_input(w.flow_run_id, 5)),
    wrong_value("read_flow_run_input: a malformed id", "flow_run_id",
                lambda w: w.orch.read_flow_run_input("not-a-uuid", "k")),
    not_found("read_flow_run_input: no input under this key", "flow run input",
              lambda w: w.orch.read_flow_run_input(w.flow_run_id, "no-such-key")),
    wrong_type("resume_flow_run: run_input as a list", "run_input",
               lambda w: w.orch.resume_flow_run(w.flow_run_id, run_input=["yes"])),
    wrong_type("update_flow_run: flow_version=2", "flow_version",
               lambda w: w.orch.update_flow_run(w.flow_run_id, flow_version=2)),
    wrong_type("update_flow_run: job_variables as a string", "job_variables",
               lambda w: w.orch.update_flow_run(w.flow_run_id, job_variables="env=1")),
    wrong_value("update_flow_run: job_variables of a run with no deployment", "job_variables",
                lambda w: w.orch.update_flow_run(w.flow_run_id, job_variables={"x": 1})),
    wrong_type("FlowRunFilterId(not_any_=[5])", "not_any_",
               lambda w: w.orch.read_flow_runs(flow_runs=FlowRunFilter(
                   id=FlowRunFilterId(not_any_=[5])))),
    wrong_type("FlowRunFilterIdempotencyKey(not_any_=[5])", "not_any_",
               lambda w: w.orch.read_flow_runs(flow_runs=FlowRunFilter(
                   idempotency_key=FlowRunFilterIdempotencyKey(not_any_=[5])))),
    wrong_type("FlowRunFilter(parent_flow_run_id=5)", "parent_flow_run_id",
               lambda w: w.orch.read_flow_runs(flow_runs=FlowRunFilter(parent_flow_run_id=5))),
    wrong_type("create_flow_run_from_deployment: parameters=5", "parameters",
               lambda w: w.orch.create_flow_run_from_deployment(w.deployment_id, parameters=5)),
    wrong_type("create_flow_run_from_deployment: state=Scheduled(scheduled_time=a string)",
               "scheduled_time",
               lambda w: w.orch.create_flow_run_from_deployment(
                   w.deployment_id, state=Scheduled(scheduled_time="later"))),
    # A new queue name creates that queue (issue 10); refused later, the queue goes too.
    wrong_type("create_flow_run_from_deployment: a new work queue, state's time a string",
               "scheduled_time",
               lambda w: w.orch.create_flow_run_from_deployment(
                   w.deployment_id, work_queue_name="new-queue",
                   state=Scheduled(scheduled_time="later"))),
    wrong_value("create_flow_run_from_deployment: work_queue_name=''", "work_queue_name",
                lambda w: w.orch.create_flow_run_from_deployment(
                    w.deployment_id, work_queue_name="")),
    # -- work pools -----------------------------------------------------------------------------
    wrong_value("create_work_pool: name=''", "name",
                lambda w: w.orch.create_work_pool("")),
    wrong_value("create_work_pool: a huge name with '/'", "name",
                lambda w: w.orch.create_work_pool(HUGE_PATH)),
    wrong_type("create_work_pool: name=5", "name",
               lambda w: w.orch.create_work_pool(5)),
    wrong_type("create_work_pool: type=5", "type",
               lambda w: w.orch.create_work_pool("p", type=5)),
    wrong_value("create_work_pool: concurrency_limit=-1", "concurrency_limit",
                lambda w: w.orch.create_work_pool("p", concurrency_limit=-1)),
    wrong_type("create_work_pool: concurrency_limit='3'", "concurrency_limit",
               lambda w: w.orch.create_work_pool("p", concurrency_limit="3")),
    wrong_type("create_work_pool: is_paused='no'", "is_paused",
               lambda w: w.orch.create_work_pool("p", is_paused="no")),
    not_found("read_work_pool: an unknown name", "work pool",
              lambda w: w.orch.read_work_pool("no-such-pool")),
    wrong_type("read_work_pool: name=5", "name",
               lambda w: w.orch.read_work_pool(5)),
    wrong_type("read_work_pools: names as one string", "names",
               lambda w: w.orch.read_work_pools(names="sweep-pool")),
    wrong_type("read_work_pools: is_paused='no'", "is_paused",
               lambda w: w.orch.read_work_pools(is_paused="no")),
    wrong_type("update_work_pool: concurrency_limit=True", "concurrency_limit",
               lambda w: w.orch.update_work_pool(w.pool, concurrency_limit=True)),
    wrong_type("update_work_pool: is_paused='yes'", "is_paused",
               lambda w: w.orch.update_work_pool(w.pool, is_paused="yes")),
    not_found("update_work_pool: an unknown name", "work pool",
              lambda w: w.orch.update_work_pool("no-such-pool", is_paused=True)),
    not_found("delete_work_pool: an unknown name", "work pool",
              lambda w: w.orch.delete_work_pool("no-such-pool")),
    wrong_value("get_scheduled_flow_runs: scheduled_before naive", "scheduled_before",
                lambda w: w.orch.get_scheduled_flow_runs(w.pool, scheduled_before=NAIVE)),
    wrong_type("get_scheduled_flow_runs: scheduled_before a string", "scheduled_before",
               lambda w: w.orch.get_scheduled_flow_runs(w.pool, scheduled_before=LATER)),
    wrong_value("get_scheduled_flow_runs: scheduled_after naive", "scheduled_after",
                lambda w: w.orch.get_scheduled_flow_runs(w.pool, scheduled_after=NAIVE)),
    wrong_type("get_scheduled_flow_runs: scheduled_after a string", "scheduled_after",
               lambda w: w.orch.get_scheduled_flow_runs(w.pool, scheduled_after=LATER)),
    wrong_type("get_scheduled_flow_runs: respect_queue_priorities='no'",
               "respect_queue_priorities",
               lambda w: w.orch.get_scheduled_flow_runs(w.pool, respect_queue_priorities="no")),
    wrong_value("get_scheduled_flow_runs: limit=-1", "limit",
                lambda w: w.orch.get_scheduled_flow_runs(w.pool, limit=-1)),
    wrong_type("get_scheduled_flow_runs: work_queue_names as one string", "work_queue_names",
               lambda w: w.orch.get_scheduled_flow_runs(w.pool, work_queue_names="default")),
    not_found("get_scheduled_flow_runs: an unknown pool", "work pool",
              lambda w: w.orch.get_scheduled_flow_runs("no-such-pool")),
    wrong_type("next_scheduled_time: after a string", "after",
               lambda w: w.orch.next_scheduled_time(w.pool, after=LATER)),
    wrong_value("next_scheduled_time: after naive", "after",
                lambda w: w.orch.next_scheduled_time(w.pool, after=NAIVE)),
    wrong_value("work_pool_signal: work_pool_name=''", "work_pool_name",
                lambda w: w.orch.work_pool_signal("")),
    # -- work queues ----------------------------------------------------------------------------
    wrong_value("create_work_queue: name=''", "name",
                lambda w: w.orch.create_work_queue(w.pool, "")),
    wrong_value("create_work_queue: priority=0", "priority",
                lambda w: w.orch.create_work_queue(w.pool, "q", priority=0)),
    wrong_type("create_work_queue: priority='1'", "priority",
               lambda w: w.orch.create_work_queue(w.pool, "q", priority="1")),
    wrong_type("create_work_queue: concurrency_limit=NaN", "concurrency_limit",
               lambda w: w.orch.create_work_queue(w.pool, "q", concurrency_limit=NAN)),
    wrong_type("create_work_queue: is_paused=1", "is_paused",
               lambda w: w.orch.create_work_queue(w.pool, "q", is_paused=1)),
    not_found("create_work_queue: an unknown pool", "work pool",
              lambda w: w.orch.create_work_queue("no-such-pool", "q")),
    not_found("read_work_queue: an unknown queue", "work queue",
              lambda w: w.orch.read_work_queue(w.pool, "no-such-queue")),
    wrong_type("read_work_queues: names as one string", "names",
               lambda w: w.orch.read_work_queues(w.pool, names="default")),
    wrong_value("update_work_queue: priority=-1", "priority",
                lambda w: w.orch.update_work_queue(w.pool, "default", priority=-1)),
    wrong_type("update_work_queue: is_paused='no'", "is_paused",
               lambda w: w.orch.update_work_queue(w.pool, "default", is_paused="no")),
    wrong_type("update_work_queue: concurrency_limit=2.5", "concurrency_limit",
               lambda w: w.orch.update_work_queue(w.pool, "default", concurrency_limit=2.5)),
    wrong_value("update_work_queue: name=''", "name",
                lambda w: w.orch.update_work_queue(w.pool, "default", name="", priority=3)),
    wrong_value("update_work_queue: name='a/b'", "name",
                lambda w: w.orch.update_work_queue(w.pool, "default", name="a/b")),
    wrong_type("update_work_queue: name=5", "name",
               lambda w: w.orch.update_work_queue(w.pool, "default", name=5)),
    not_found("update_work_queue: renaming an unknown queue", "work queue",
              lambda w: w.orch.update_work_queue(w.pool, "no-such-queue", name="main")),
    not_found("delete_work_queue: an unknown queue", "work queue",
              lambda w: w.orch.delete_work_queue(w.pool, "no-such-queue")),
    # -- tag concurrency limits -----------------------------------------------------------------
    wrong_value("create_concurrency_limit: tag=''", "tag",
                lambda w: w.orch.create_concurrency_limit("", 1)),
    wrong_type("create_concurrency_limit: tag=5", "tag",
               lambda w: w.orch.create_concurrency_limit(5, 1)),
    wrong_value("create_concurrency_limit: concurrency_limit=-1", "concurrency_limit",
                lambda w: w.orch.create_concurrency_limit("db", -1)),
    wrong_type("create_concurrency_limit: concurrency_limit=1.5", "concurrency_limit",
               lambda w: w.orch.create_concurrency_limit("db", 1.5)),
    wrong_type("create_concurrency_limit: concurrency_limit=True", "concurrency_limit",
               lambda w: w.orch.create_concurrency_limit("db", True)),
    wrong_type("create_concurrency_limit: concurrency_limit='2'", "concurrency_limit",
               lambda w: w.orch.create_concurrency_limit("db", "2")),
    not_found("read_concurrency_limit: an unknown tag", "concurrency limit",
              lambda w: w.orch.read_concurrency_limit("no-such-tag")),
    wrong_value("reset_concurrency_limit: slot_override=[an unknown id]", "slot_override",
                lambda w: w.orch.reset_concurrency_limit("db", slot_override=[UNKNOWN])),
    wrong_value("reset_concurrency_limit: slot_override=[a flow run's id]", "slot_override",
                lambda w: w.orch.reset_concurrency_limit("db", slot_override=[w.flow_run_id])),
    wrong_value("reset_concurrency_limit: slot_override=[a PENDING run's id]", "slot_override",
                lambda w: w.orch.reset_concurrency_limit("db", slot_override=[w.id("waiting")])),
    wrong_value("reset_concurrency_limit: slot_override=[a RUNNING run without the tag]",
                "slot_override",
                lambda w: w.orch.reset_concurrency_limit("db", slot_override=[w.id("running")])),
    wrong_type("reset_concurrency_limit: slot_override as one id string", "slot_override",
               lambda w: w.orch.reset_concurrency_limit("db", slot_override=str(w.id("holder")))),
    wrong_type("reset_concurrency_limit: slot_override=[5]", "slot_override",
               lambda w: w.orch.reset_concurrency_limit("db", slot_override=[5])),
    not_found("reset_concurrency_limit: an unknown tag", "concurrency limit",
              lambda w: w.orch.reset_concurrency_limit("no-such-tag")),
    wrong_value("delete_concurrency_limit: tag=''", "tag",
                lambda w: w.orch.delete_concurrency_limit("")),
    not_found("delete_concurrency_limit: an unknown tag", "concurrency limit",
              lambda w: w.orch.delete_concurrency_limit("no-such-tag")),
    # -- claims and leases ----------------------------------------------------------------------
    wrong_value("claim_task_run: lease_seconds=0", "lease_seconds",
                lambda w: w.orch.claim_task_run(w.id("queued"), lease_seconds=0)),
    wrong_value("claim_task_run: lease_seconds=NaN", "lease_seconds",
                lambda w: w.orch.claim_task_run(w.id("queued"), lease_seconds=NAN)),
    wrong_type("claim_task_run: lease_seconds='300'", "lease_seconds",
               lambda w: w.orch.claim_task_run(w.id("queued"), lease_seconds="300")),
    not_found("claim_task_run: a flow run's id", "task run",
              lambda w: w.orch.claim_task_run(w.flow_run_id)),
    wrong_type("set_task_run_state_if: current as a string", "current",
               lambda w: w.orch.set_task_run_state_if(
                   w.id("pending"), Running(), current="PENDING")),
    wrong_value("set_task_run_state_if: current never committed (no id)", "current",
                lambda w: w.orch.set_task_run_state_if(
                    w.id("pending"), Running(), current=Pending())),
    wrong_type("set_task_run_state_if: force='yes'", "force",
               lambda w: w.orch.set_task_run_state_if(
                   w.id("completed"), Running(), current=w.state("completed"), force="yes")),
    wrong_type("set_task_run_state_if: Scheduled(scheduled_time='later')", "scheduled_time",
               lambda w: w.orch.set_task_run_state_if(
                   w.id("pending"), Scheduled(scheduled_time="later"), current=w.state("pending"))),
    wrong_value("pending_leases.hold: seconds=NaN", "seconds",
                lambda w: w.orch.pending_leases.hold(w.id("pending"), w.state("pending"), NAN)),
    wrong_type("pending_leases.hold: run_id as a string", "run_id",
               lambda w: w.orch.pending_leases.hold("junk", w.state("pending"), 10)),
    # -- submission and task options ------------------------------------------------------------
    wrong_type("submit: a plain function instead of a task", "task",
               lambda w: w.orch.submit(add.fn, 1, 2)),
    wrong_type("schedule: when='tomorrow'", "when",
               lambda w: w.orch.schedule("tomorrow", add, 1, 2)),
    wrong_value("schedule: when naive", "when",
                lambda w: w.orch.schedule(NAIVE, add, 1, 2)),
    wrong_type("apply_async: args=5", "args",
               lambda w: add.apply_async(args=5, orchestrator=w.orch)),
    wrong_type("apply_async: kwargs as a list", "kwargs",
               lambda w: add.apply_async(kwargs=[("x", 1)], orchestrator=w.orch)),
    wrong_type("apply_async: scheduled_time a string", "scheduled_time",
               lambda w: add.apply_async((1, 2), scheduled_time=LATER, orchestrator=w.orch)),
    wrong_type("apply_async: orchestrator as a string", "orchestrator",
               lambda w: add.apply_async((1, 2), orchestrator="default")),
    wrong_value("submit: a cache_key_fn that raises", "cache key",
                lambda w: w.orch.submit(add.with_options(cache_key_fn=_explode), 1, 2)),
    wrong_type("submit: a cache_key_fn returning 123", "cache_key_fn",
               lambda w: w.orch.submit(add.with_options(cache_key_fn=lambda p: 123), 1, 2)),
    wrong_type("submit: a task_run_name function returning 5", "task_run_name",
               lambda w: w.orch.submit(add.with_options(task_run_name=lambda p: 5), 1, 2)),
    wrong_value("submit: a task_run_name template that cannot render", "task_run_name",
                lambda w: w.orch.submit(add.with_options(task_run_name="add-{x.missing}"), 1, 2)),
    wrong_value("configure_task_key: task_key=''", "task_key",
                lambda w: w.orch.configure_task_key("", scheduled_size=5)),
    wrong_value("configure_task_key: scheduled_size=0", "scheduled_size",
                lambda w: w.orch.configure_task_key("sweep.add", scheduled_size=0)),
    wrong_type("configure_task_key: retry_size='10'", "retry_size",
               lambda w: w.orch.configure_task_key("sweep.add", retry_size="10")),
    wrong_type("multi_queue: task_keys as one string", "task_keys",
               lambda w: w.orch.multi_queue("sweep.add")),
    wrong_type("subscribe: not an Observer", "observer",
               lambda w: w.orch.subscribe(print)),
    wrong_type("future.result: timeout='soon'", "timeout",
               lambda w: w.future.result(timeout="soon")),
    wrong_value("future.result: timeout=NaN", "timeout",
                lambda w: w.future.result(timeout=NAN)),
    wrong_type("future.result: unserved_grace='soon'", "unserved_grace",
               lambda w: w.future.result(unserved_grace="soon")),
    wrong_value("future.result: unserved_grace=-1", "unserved_grace",
                lambda w: w.future.result(unserved_grace=-1)),
    wrong_value("future.result: unserved_grace=NaN", "unserved_grace",
                lambda w: w.future.result(unserved_grace=NAN)),
    wrong_type("future.result: unserved_grace=True", "unserved_grace",
               lambda w: w.future.result(unserved_grace=True)),
    wrong_type("future.result: raise_on_failure=1", "raise_on_failure",
               lambda w: w.future.result(raise_on_failure=1)),
    wrong_type("future.wait: timeout='soon'", "timeout", lambda w: w.future.wait(timeout="soon")),
    wrong_value("future.wait: timeout=-1", "timeout", lambda w: w.future.wait(timeout=-1)),
    wrong_type("TaskRunFuture: background='no'", "background",
               lambda w: TaskRunFuture(w.orch, w.future.task_run_id, background="no")),
    wrong_type("orchestrator.wait: futures=a future", "futures",
               lambda w: orchestrator.wait(w.future)),
    wrong_type("orchestrator.wait: futures=[1]", "futures", lambda w: orchestrator.wait([1])),
    wrong_value("orchestrator.wait: timeout=-1", "timeout",
                lambda w: orchestrator.wait([w.future], timeout=-1)),
    wrong_type("orchestrator.as_completed: futures=3", "futures",
               lambda w: orchestrator.as_completed(3)),
    wrong_value("orchestrator.as_completed: timeout=NaN", "timeout",
                lambda w: orchestrator.as_completed([w.future], timeout=NAN)),
    wrong_type("@task: retries='3'", "retries",
               lambda w: task(retries="3")(add.fn)),
    wrong_value("@task: retries=-1", "retries",
                lambda w: task(retries=-1)(add.fn)),
    wrong_type("@task: retries=True", "retries",
               lambda w: task(retries=True)(add.fn)),
    wrong_value("@task: retry_delay_seconds=NaN", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=NAN)(add.fn)),
    wrong_value("@task: retry_delay_seconds=inf", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=INF)(add.fn)),
    wrong_value("@task: retry_delay_seconds=[1, NaN]", "retry_delay_seconds",
                lambda w: task(retries=2, retry_delay_seconds=[1, NAN])(add.fn)),
    wrong_value("@task: retry_delay_seconds=[1, inf]", "retry_delay_seconds",
                lambda w: task(retries=2, retry_delay_seconds=[1, INF])(add.fn)),
    wrong_value("@task: retry_delay_seconds=-1", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=-1)(add.fn)),
    wrong_value("@task: retry_delay_seconds=1e300 (past the end of time)", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=1e300)(add.fn)),
    wrong_type("@task: retry_delay_seconds='10'", "retry_delay_seconds",
               lambda w: task(retries=1, retry_delay_seconds="10")(add.fn)),
    wrong_value("@task: retry_delay_seconds with 51 delays", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=[1] * 51)(add.fn)),
    wrong_value("@task: retry_delay_seconds a function returning [NaN]", "retry_delay_seconds",
                lambda w: task(retries=1, retry_delay_seconds=lambda n: [NAN] * n)(add.fn)),
    wrong_value("@task: retry_jitter_factor=NaN", "retry_jitter_factor",
                lambda w: task(retries=1, retry_jitter_factor=NAN)(add.fn)),
    wrong_value("@task: retry_jitter_factor=inf", "retry_jitter_factor",
                lambda w: task(retries=1, retry_jitter_factor=INF)(add.fn)),
    wrong_value("@task: retry_jitter_factor=-1", "retry_jitter_factor",
                lambda w: task(retries=1, retry_jitter_factor=-1)(add.fn)),
    wrong_type("@task: retry_jitter_factor='0.5'", "retry_jitter_factor",
               lambda w: task(retries=1, retry_jitter_factor="0.5")(add.fn)),
    wrong_type("@task: tags='db'", "tags",
               lambda w: task(tags="db")(add.fn)),
    wrong_value("@task: tags=['']", "tag",
                lambda w: task(tags=[""])(add.fn)),
    wrong_type("@task: cache_key_fn=5", "cache_key_fn",
               lambda w: task(cache_key_fn=5)(add.fn)),
    wrong_type("@task: cache_expiration='tomorrow'", "cache_expiration",
               lambda w: task(cache_expiration="tomorrow")(add.fn)),
    wrong_value("@task: cache_expiration=NaN", "cache_expiration",
                lambda w: task(cache_expiration=NAN)(add.fn)),
    wrong_value("exponential_backoff: backoff_factor=-1", "backoff_factor",
                lambda w: exponential_backoff(-1)),
    wrong_type("exponential_backoff: backoff_factor='10'", "backoff_factor",
               lambda w: exponential_backoff("10")),
    wrong_value("@task: timeout_seconds=0", "timeout_seconds",
                lambda w: task(timeout_seconds=0)(add.fn)),
    wrong_value("@task: timeout_seconds=NaN", "timeout_seconds",
                lambda w: task(timeout_seconds=NAN)(add.fn)),
    wrong_type("@task: timeout_seconds='10'", "timeout_seconds",
               lambda w: task(timeout_seconds="10")(add.fn)),
    wrong_type("@task: task_run_name=5", "task_run_name",
               lambda w: task(task_run_name=5)(add.fn)),
    wrong_value("@task: task_run_name naming no parameter", "task_run_name",
                lambda w: task(task_run_name="add-{z}")(add.fn)),
    wrong_type("@task: refresh_cache='no'", "refresh_cache",
               lambda w: task(refresh_cache="no")(add.fn)),
    wrong_value("@task: name=''", "name",
                lambda w: task(name="")(add.fn)),
    wrong_value("@task: task_key=''", "task_key",
                lambda w: task(task_key="")(add.fn)),
    wrong_type("@task: task_key=5", "task_key",
               lambda w: task(task_key=5)(add.fn)),
    wrong_value("with_options: retries=-1", "retries",
                lambda w: add.with_options(retries=-1)),
    wrong_type("with_options: refresh_cache='yes'", "refresh_cache",
               lambda w: add.with_options(refresh_cache="yes")),
    wrong_value("with_options: retry_delay_seconds=inf", "retry_delay_seconds",
                lambda w: add.with_options(retries=1, retry_delay_seconds=INF)),
    wrong_type("TaskRunPolicy(retries='3')", "retries",
               lambda w: w.orch.create_task_run("t", policy=TaskRunPolicy(retries="3"))),
    wrong_value("TaskRunPolicy(retry_delay=NaN)", "retry_delay",
                lambda w: w.orch.create_task_run(
                    "t", policy=TaskRunPolicy(retries=1, retry_delay=NAN))),
    wrong_value("TaskRunPolicy(retry_jitter_factor=NaN)", "retry_jitter_factor",
                lambda w: w.orch.create_task_run(
                    "t", policy=TaskRunPolicy(retries=1, retry_jitter_factor=NAN))),
    wrong_value("TaskRunPolicy(retry_delay=1e300) (past the end of time)", "retry_delay",
                lambda w: w.orch.create_task_run(
                    "t", policy=TaskRunPolicy(retries=1, retry_delay=1e300))),
    wrong_type("TaskRunPolicy(retry_jitter_factor='0.5')", "retry_jitter_factor",
               lambda w: w.orch.create_task_run(
                   "t", policy=TaskRunPolicy(retries=1, retry_jitter_factor="0.5"))),
    # -- the Orchestrator constructor -----------------------------------------------------------
    wrong_type("Orchestrator: retention as a number", "retention",
               lambda w: Orchestrator(VirtualClock(), retention=10_000)),
    wrong_type("Retention: max_age='1h'", "max_age",
               lambda w: Retention(max_age="1h")),
    wrong_value("Retention: max_age=nan", "max_age",
                lambda w: Retention(max_age=float("nan"))),
    wrong_value("Retention: max_age=0", "max_age",
                lambda w: Retention(max_age=0)),
    wrong_value("Retention: max_age=-1 day", "max_age",
                lambda w: Retention(max_age=timedelta(days=-1))),
    wrong_type("Retention: max_terminal_runs=True", "max_terminal_runs",
               lambda w: Retention(max_terminal_runs=True)),
    wrong_type("Retention: max_terminal_runs='10k'", "max_terminal_runs",
               lambda w: Retention(max_terminal_runs="10k")),
    wrong_value("Retention: max_terminal_runs=0", "max_terminal_runs",
                lambda w: Retention(max_terminal_runs=0)),
    wrong_type("Orchestrator: clock='system'", "clock",
               lambda w: Orchestrator("system")),
    wrong_type("Orchestrator: clock=the VirtualClock class", "clock",
               lambda w: Orchestrator(VirtualClock)),
    wrong_type("Orchestrator: seed='0'", "seed",
               lambda w: Orchestrator(VirtualClock(), seed="0")),
    wrong_type("Orchestrator: seed=1.5", "seed",
               lambda w: Orchestrator(VirtualClock(), seed=1.5)),
    wrong_type("Orchestrator: task_policy as a list", "task_policy",
               lambda w: Orchestrator(VirtualClock(), task_policy=[])),
    wrong_type("Orchestrator: slot_wait_seconds='10'", "slot_wait_seconds",
               lambda w: Orchestrator(VirtualClock(), slot_wait_seconds="10")),
    wrong_value("Orchestrator: slot_wait_seconds=NaN", "slot_wait_seconds",
                lambda w: Orchestrator(VirtualClock(), slot_wait_seconds=NAN)),
    wrong_value("Orchestrator: slot_wait_seconds=inf", "slot_wait_seconds",
                lambda w: Orchestrator(VirtualClock(), slot_wait_seconds=INF)),
    wrong_value("Orchestrator: slot_wait_seconds=0", "slot_wait_seconds",
                lambda w: Orchestrator(VirtualClock(), slot_wait_seconds=0)),
    wrong_value("Orchestrator: max_cache_key_length=0", "max_cache_key_length",
                lambda w: Orchestrator(VirtualClock(), max_cache_key_length=0)),
    wrong_type("Orchestrator: max_cache_key_length='2000'", "max_cache_key_length",
               lambda w: Orchestrator(VirtualClock(), max_cache_key_length="2000")),
    wrong_value("Orchestrator: scheduled_queue_size=0", "scheduled_queue_size",
                lambda w: Orchestrator(VirtualClock(), scheduled_queue_size=0)),
    wrong_type("Orchestrator: retry_queue_size='100'", "retry_queue_size",
               lambda w: Orchestrator(VirtualClock(), retry_queue_size="100")),
    wrong_type("Orchestrator: keep_decisions='no'", "keep_decisions",
               lambda w: Orchestrator(VirtualClock(), keep_decisions="no")),
    wrong_type("Orchestrator: autojump='yes'", "autojump",
               lambda w: Orchestrator(VirtualClock(), autojump="yes")),
    # -- the virtual clock (the world's own: it must not move) ----------------------------------
    wrong_type("VirtualClock: start='2026'", "start",
               lambda w: VirtualClock(start="2026")),
    wrong_value("VirtualClock: start naive", "start",
                lambda w: VirtualClock(start=NAIVE)),
    wrong_type("VirtualClock: start as a timestamp number", "start",
               lambda w: VirtualClock(start=1767225600)),
    wrong_value("clock.advance(NaN)", "seconds",
                lambda w: w.clock.advance(NAN)),
    wrong_value("clock.advance(inf)", "seconds",
                lambda w: w.clock.advance(INF)),
    wrong_value("clock.advance(-1)", "seconds",
                lambda w: w.clock.advance(-1)),
    wrong_value("clock.advance(1e20) past the end of time", "seconds",
                lambda w: w.clock.advance(1e20)),
    wrong_type("clock.advance('5')", "seconds",
               lambda w: w.clock.advance("5")),
    wrong_type("clock.advance(True)", "seconds",
               lambda w: w.clock.advance(True)),
    wrong_type("clock.set('2026-02-01')", "when",
               lambda w: w.clock.set("2026-02-01")),
    wrong_value("clock.set(naive)", "when",
                lambda w: w.clock.set(NAIVE)),
    wrong_value("clock.set(an earlier time)", "when",
                lambda w: w.clock.set(T0 - timedelta(seconds=1))),
    # -- workers --------------------------------------------------------------------------------
    wrong_type("TaskWorker: a plain function", "task",
               lambda w: TaskWorker(add.fn, orchestrator=w.orch)),
    wrong_value("TaskWorker: no tasks", "task",
                lambda w: TaskWorker(orchestrator=w.orch)),
    wrong_type("TaskWorker: orchestrator as a string", "orchestrator",
               lambda w: TaskWorker(add, orchestrator="default")),
    wrong_value("TaskWorker: limit=0", "limit",
                lambda w: TaskWorker(add, orchestrator=w.orch, limit=0)),
    wrong_type("TaskWorker: limit='10'", "limit",
               lambda w: TaskWorker(add, orchestrator=w.orch, limit="10")),
    wrong_type("TaskWorker: limit=True", "limit",
               lambda w: TaskWorker(add, orchestrator=w.orch, limit=True)),
    wrong_value("TaskWorker: pending_lease_seconds=NaN", "pending_lease_seconds",
                lambda w: TaskWorker(add, orchestrator=w.orch, pending_lease_seconds=NAN)),
    wrong_value("TaskWorker: pending_lease_seconds=0", "pending_lease_seconds",
                lambda w: TaskWorker(add, orchestrator=w.orch, pending_lease_seconds=0)),
    wrong_type("ProcessWorker: orchestrator as a string", "orchestrator",
               lambda w: ProcessWorker("default", w.pool)),
    wrong_value("ProcessWorker: work_pool_name=''", "work_pool_name",
                lambda w: ProcessWorker(w.orch, "")),
    wrong_type("ProcessWorker: work_pool_name=5", "work_pool_name",
               lambda w: ProcessWorker(w.orch, 5)),
    wrong_type("ProcessWorker: work_queues as one string", "work_queues",
               lambda w: ProcessWorker(w.orch, w.pool, work_queues="default")),
    wrong_value("ProcessWorker: name with '/'", "name",
                lambda w: ProcessWorker(w.orch, w.pool, name="a/b")),
    wrong_value("ProcessWorker: limit=0", "limit",
                lambda w: ProcessWorker(w.orch, w.pool, limit=0)),
    wrong_value("ProcessWorker: prefetch_seconds=NaN", "prefetch_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, prefetch_seconds=NAN)),
    wrong_type("ProcessWorker: prefetch_seconds='10'", "prefetch_seconds",
               lambda w: ProcessWorker(w.orch, w.pool, prefetch_seconds="10")),
    wrong_value("ProcessWorker: heartbeat_seconds=0", "heartbeat_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, heartbeat_seconds=0)),
    wrong_value("ProcessWorker: health_window_seconds=-1", "health_window_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, health_window_seconds=-1)),
    wrong_value("ProcessWorker: cancel_grace_seconds=NaN", "cancel_grace_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, cancel_grace_seconds=NAN)),
    wrong_type("ProcessWorker: strict_templates='yes'", "strict_templates",
               lambda w: ProcessWorker(w.orch, w.pool, strict_templates="yes")),
    wrong_type("ProcessWorker: environ={'A': 1}", "environ",
               lambda w: ProcessWorker(w.orch, w.pool, environ={"A": 1})),
    wrong_type("ProcessWorker: environ as a string", "environ",
               lambda w: ProcessWorker(w.orch, w.pool, environ="A=1")),
    wrong_type("ProcessWorker: healthcheck_port='80'", "healthcheck_port",
               lambda w: ProcessWorker(w.orch, w.pool, healthcheck_port="80")),
    wrong_value("ProcessWorker: healthcheck_port=70000", "healthcheck_port",
                lambda w: ProcessWorker(w.orch, w.pool, healthcheck_port=70000)),
    wrong_type("ProcessWorker: healthcheck_host=5", "healthcheck_host",
               lambda w: ProcessWorker(w.orch, w.pool, healthcheck_host=5)),
    # -- the servers' limits and the opt-in for a health host beyond this machine --
    wrong_value("ProcessWorker: healthcheck_host='0.0.0.0', no opt-in", "healthcheck_public",
                lambda w: ProcessWorker(w.orch, w.pool, healthcheck_host="0.0.0.0")),
    wrong_type("ProcessWorker: healthcheck_public='yes'", "healthcheck_public",
               lambda w: ProcessWorker(w.orch, w.pool, healthcheck_host="0.0.0.0",
                                       healthcheck_public="yes")),
    wrong_value("ProcessWorker: healthcheck_timeout_seconds=0", "healthcheck_timeout_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, healthcheck_timeout_seconds=0)),
    wrong_value("ProcessWorker: healthcheck_timeout_seconds=inf", "healthcheck_timeout_seconds",
                lambda w: ProcessWorker(w.orch, w.pool, healthcheck_timeout_seconds=INF)),
    wrong_type("ProcessWorker: healthcheck_timeout_seconds='10'", "healthcheck_timeout_seconds",
               lambda w: ProcessWorker(w.orch, w.pool, healthcheck_timeout_seconds="10")),
    wrong_value("ProcessWorker: healthcheck_max_connections=0", "healthcheck_max_connections",
                lambda w: ProcessWorker(w.orch, w.pool, healthcheck_max_connections=0)),
    wrong_type("ProcessWorker: healthcheck_max_connections=True", "healthcheck_max_connections",
               lambda w: ProcessWorker(w.orch, w.pool, healthcheck_max_connections=True)),
    wrong_value("serve: timeout=-1, from plain code", "timeout",
                lambda w: serve(add, orchestrator=w.orch, timeout=-1)),
    wrong_type("serve: status_server_port='80', from plain code", "status_server_port",
               lambda w: serve(add, orchestrator=w.orch, status_server_port="80")),
    wrong_value("serve_sync: status_server_timeout_seconds=NaN", "status_server_timeout_seconds",
                lambda w: serve_sync(add, orchestrator=w.orch, status_server_timeout_seconds=NAN)),
    wrong_type("serve_sync: status_server_timeout_seconds='1'", "status_server_timeout_seconds",
               lambda w: serve_sync(add, orchestrator=w.orch, status_server_timeout_seconds="1")),
    wrong_value("serve_sync: status_server_max_connections=0", "status_server_max_connections",
                lambda w: serve_sync(add, orchestrator=w.orch, status_server_max_connections=0)),
    wrong_type("serve_sync: status_server_max_connections=2.5", "status_server_max_connections",
               lambda w: serve_sync(add, orchestrator=w.orch, status_server_max_connections=2.5)),
    # -- the process job configuration's allow-list of inherited variables --
    wrong_type("ProcessJobConfiguration: inherit_env_names as one string", "inherit_env_names",
               lambda w: ProcessJobConfiguration(inherit_env_names="PATH")),
    wrong_type("ProcessJobConfiguration: inherit_env_names=[1]", "inherit_env_names",
               lambda w: ProcessJobConfiguration(inherit_env_names=[1])),
    wrong_value("ProcessJobConfiguration: inherit_env_names=['A=B']", "inherit_env_names",
                lambda w: ProcessJobConfiguration(inherit_env_names=["A=B"])),
]
# fmt: on


# -- the checks -----------------------------------------------------------------------------------
def _changes(before: OrchestratorSnapshot, after: OrchestratorSnapshot) -> list[str]:
    """Name what differs between two snapshots: a field, a count, or a run and what of it."""
    changes = []
    for field in attrs.fields(OrchestratorSnapshot):
        old, new = getattr(before, field.name), getattr(after, field.name)
        if old == new:
            continue
        if field.name in ("task_runs", "flow_runs"):
            for run_id in sorted(old.keys() | new.keys()):
                if run_id not in new:
                    changes.append(f"{field.name}: {run_id} was deleted")
                elif run_id not in old:
                    changes.append(f"{field.name}: {run_id} was created")
                elif old[run_id] != new[run_id]:
                    parts = [
                        p
                        for p in ("fields", "history", "decisions")
                        if getattr(old[run_id], p) != getattr(new[run_id], p)
                    ]
                    changes.append(f"{field.name}: {run_id} changed its {', '.join(parts)}")
        elif attrs.has(type(old)):
            changes.extend(
                f"{field.name}.{name}: {getattr(old, name)!r} -> {getattr(new, name)!r}"
                for name in attrs.fields_dict(type(old))
                if getattr(old, name) != getattr(new, name)
            )
        else:
            changes.append(f"{field.name}: {old!r} -> {new!r}")
    return changes


def refusal_problems(case: Case, world: World) -> list[str]:
    """Call ``case`` on ``world``; return everything wrong with the outcome (empty: all good)."""
    before = take_snapshot(world.orch)
    problems = []
    try:
        case.call(world)
    except Exception as error:  # which exception it is, is what is checked
        message = str(error)
        if not case.refusal.accepts(error):
            problems.append(
                f"raised {type(error).__name__} ({message[:300]!r}); expected {case.refusal.value}"
            )
        elif case.names not in message:
            problems.append(f"the message {message[:300]!r} does not name {case.names!r}")
    else:
        problems.append(f"nothing was raised; expected {case.refusal.value}")
    try:
        after = take_snapshot(world.orch)
    except Exception as error:  # a store that cannot be read is a finding, reported
        problems.append(f"the orchestrator can no longer be read: {error!r}")
    else:
        problems.extend(f"changed: {change}" for change in _changes(before, after))
    try:
        world.orch.check_invariants()
    except AssertionError as error:
        problems.append(f"invariants broken: {error}")
    return problems


#: Public methods with parameters that no case calls, and why.
NOT_SWEPT: Final = {
    "asubmit": "async; its checks are submit's (the same _prepare)",
    "aschedule": "async; its checks are schedule's",
    "wait_for_turn": "async; takes the result of a proposal, not user input",
    "unsubscribe": "unsubscribing an unknown observer is documented as no error",
}


def test_the_sweep_covers_every_public_method_with_parameters() -> None:
    assert len(CASES) >= 150
    labels = [case.label for case in CASES]
    assert len(set(labels)) == len(labels), "two cases share a label"
    text = " ".join(labels)
    methods = [
        name
        for name, member in inspect.getmembers(Orchestrator, callable)
        if not name.startswith("_") and len(inspect.signature(member).parameters) > 1
    ]
    missing = [name for name in methods if name not in text and name not in NOT_SWEPT]
    assert not missing, f"no malformed call of {missing}: add cases (or say why in NOT_SWEPT)"


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_a_malformed_call_is_refused_and_changes_nothing(case: Case) -> None:
    problems = refusal_problems(case, build_world())
    assert not problems, "\n".join(problems)
