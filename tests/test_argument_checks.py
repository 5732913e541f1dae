# mypy: disable-error-code="arg-type, call-overload, dict-item, list-item"
"""Issue 9, "every input checked at the edge": one test per finding of the hostile sweep.

Each refusal is checked the same way (:func:`refused`): the exception is an
``InvalidArgument`` that is also a ``TypeError`` (a value of the wrong kind) or a
``ValueError`` (a value out of range), exactly as its subclass says; its message names
the parameter as the caller spelled it; and a snapshot of the whole orchestrator (counts,
every run's state and history, slots, queues, stored parameters, cache) is unchanged,
with ``check_invariants()`` holding.

Every call here passes what the signatures do not allow, on purpose: the mypy line above
turns off the argument-type checks for this file only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import (
    ArgumentTypeError,
    ArgumentValueError,
    Completed,
    FlowRunPolicy,
    InvalidArgument,
    ObjectNotFound,
    Orchestrator,
    Policy,
    ProcessWorker,
    Running,
    StateType,
    TaskRunPolicy,
    TaskWorker,
    TransitionContext,
    VirtualClock,
    rule,
    task,
)
from orchestrator._core._checks import check_seconds, is_finite
from orchestrator.testing import make_task_run

NAN = float("nan")
INF = float("inf")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@task(task_key="add")
def add(x: int, y: int = 0) -> int:
    return x + y


# -- the world every refusal must leave untouched -----------------------------------------------
def world() -> Orchestrator:
    """An orchestrator holding a bit of everything: runs, a slot, a queue, a cache entry."""
    orchestrator = Orchestrator(VirtualClock(T0), seed=9)
    orchestrator.create_concurrency_limit("db", 1)
    holder = make_task_run(orchestrator, "PENDING", task_key="holder", tags=["db"])
    orchestrator.set_task_run_state(holder.id, Running())  # takes the slot on "db"
    make_task_run(orchestrator, "PENDING", task_key="waiting", tags=["db"])
    make_task_run(orchestrator, Completed(3), task_key="cached", cache_key="k")
    flow = orchestrator.create_flow("flow")
    orchestrator.create_flow_run(flow.id, name="flow-run")
    orchestrator.create_work_pool("pool")
    orchestrator.submit(add, 1)  # a queue entry and stored parameters
    orchestrator.check_invariants()
    return orchestrator


def snapshot(orchestrator: Orchestrator) -> tuple[object, ...]:
    """Everything a refused call could have touched, as comparable values."""
    task_runs = sorted(orchestrator.read_task_runs(), key=lambda run: run.id)
    flow_runs = sorted(orchestrator.read_flow_runs(), key=lambda run: run.id)
    return (
        orchestrator.statistics(),
        tuple(
            (
                run.id,
                run.name,
                run.cache_key,
                run.labels,
                run.state_id,
                tuple(s.id for s in orchestrator.read_task_run_states(run.id)),
            )
            for run in task_runs
        ),
        tuple(
            (
                run.id,
                run.name,
                run.labels,
                run.state_id,
                len(orchestrator.read_flow_run_states(run.id)),
            )
            for run in flow_runs
        ),
        tuple(
            (limit.tag, limit.concurrency_limit, limit.active_slots)
            for limit in orchestrator.read_concurrency_limits()
        ),
        orchestrator.task_queues.statistics(),
        len(orchestrator.result_store),
        orchestrator.clock.now(),
    )


def refused(
    orchestrator: Orchestrator,
    call: Callable[[], object],
    kind: type[TypeError] | type[ValueError],
    parameter: str,
) -> InvalidArgument:
    """Assert ``call()`` is refused as ``kind``, names ``parameter`` and changes nothing."""
    before = snapshot(orchestrator)
    with pytest.raises(kind) as info:
        call()
    error = info.value
    assert isinstance(error, InvalidArgument)
    # The subclass says which kind of mistake it was, as Python's own APIs do.
    assert isinstance(error, ArgumentTypeError if kind is TypeError else ArgumentValueError)
    assert parameter in str(error), str(error)
    assert snapshot(orchestrator) == before
    orchestrator.check_invariants()
    return error


@pytest.fixture
def orch() -> Orchestrator:
    return world()


def run_named(orchestrator: Orchestrator, task_key: str) -> uuid.UUID:
    (run,) = [r for r in orchestrator.read_task_runs() if r.task_key == task_key]
    return run.id


# -- the two kinds of refusal -------------------------------------------------------------------
def test_a_wrong_type_is_a_type_error_and_a_wrong_value_a_value_error() -> None:
    assert issubclass(ArgumentTypeError, InvalidArgument)
    assert issubclass(ArgumentTypeError, TypeError)
    assert issubclass(ArgumentValueError, InvalidArgument)
    assert issubclass(ArgumentValueError, ValueError)
    # InvalidArgument stays a ValueError: code catching either keeps working.
    assert issubclass(InvalidArgument, ValueError)
    with pytest.raises(TypeError, match="slot_wait_seconds"):
        Orchestrator(slot_wait_seconds="10")
    with pytest.raises(ValueError, match="slot_wait_seconds"):
        Orchestrator(slot_wait_seconds=NAN)


@given(st.one_of(st.floats(), st.integers(), st.booleans(), st.none(), st.text(max_size=3)))
def test_seconds_are_finite_non_negative_numbers_and_nothing_else(value: object) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, int | float) and number and is_finite(value) and value >= 0:
        assert check_seconds(value, "delay") == float(value)
    else:
        kind = ArgumentValueError if number else ArgumentTypeError
        with pytest.raises(kind, match=r"^delay must be"):
            check_seconds(value, "delay")


# -- truthy non-booleans ------------------------------------------------------------------------
def test_force_no_is_refused_not_taken_as_true(orch: Orchestrator) -> None:
    done = run_named(orch, "cached")
    refused(orch, lambda: orch.set_task_run_state(done, Running(), force="no"), TypeError, "force")
    flow_run = orch.read_flow_runs()[0]
    refused(
        orch,
        lambda: orch.set_flow_run_state(flow_run.id, Running(), force="no"),
        TypeError,
        "force",
    )
    state = orch.read_task_run(done).state
    assert state is not None
    refused(
        orch,
        lambda: orch.set_task_run_state_if(done, Running(), current=state, force=1),
        TypeError,
        "force",
    )
    assert orch.read_task_run(done).state_type is StateType.COMPLETED  # terminal protection held


def test_keep_decisions_no_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^keep_decisions must be True or False, got 'no'"):
        Orchestrator(VirtualClock(), keep_decisions="no")
    with pytest.raises(ArgumentTypeError, match=r"^autojump must be True or False"):
        Orchestrator(VirtualClock(), autojump=1)


# -- slot_override ------------------------------------------------------------------------------
def test_slot_override_refuses_an_unknown_run(orch: Orchestrator) -> None:
    error = refused(
        orch,
        lambda: orch.reset_concurrency_limit("db", slot_override=[uuid.UUID(int=1)]),
        ValueError,
        "slot_override",
    )
    assert "no task run has this id" in str(error)


def test_slot_override_refuses_a_pending_run_and_a_run_without_the_tag(orch: Orchestrator) -> None:
    waiting = run_named(orch, "waiting")
    error = refused(
        orch,
        lambda: orch.reset_concurrency_limit("db", slot_override=[waiting]),
        ValueError,
        "slot_override",
    )
    assert "is Pending" in str(error)
    other = make_task_run(orch, "RUNNING", task_key="untagged")
    error = refused(
        orch,
        lambda: orch.reset_concurrency_limit("db", slot_override=[other.id]),
        ValueError,
        "slot_override",
    )
    assert "is not tagged 'db'" in str(error)
    refused(
        orch,
        lambda: orch.reset_concurrency_limit("db", slot_override="ab"),
        TypeError,
        "slot_override",
    )


def test_slot_override_gives_the_slots_to_running_holders_of_the_tag(orch: Orchestrator) -> None:
    holder = run_named(orch, "holder")
    other = make_task_run(orch, "PENDING", task_key="other", tags=["db", "io"])
    orch.set_task_run_state(other.id, Running(), force=True)  # forced past the full slot
    limit = orch.reset_concurrency_limit("db", slot_override=[str(other.id), holder])
    assert limit.active_slots == {holder, other.id}
    orch.check_invariants()
    assert orch.reset_concurrency_limit("db", slot_override=[]).active_slots == frozenset()
    orch.check_invariants()


# -- strings are never datetimes ----------------------------------------------------------------
def test_a_string_cache_expiration_is_refused(orch: Orchestrator) -> None:
    refused(
        orch,
        lambda: orch.create_task_run("k", cache_expiration="tomorrow"),
        TypeError,
        "cache_expiration must be an aware datetime",
    )
    refused(
        orch,
        lambda: orch.create_task_run("k", cache_expiration=datetime(2030, 1, 1)),
        ValueError,
        "cache_expiration",
    )


def test_a_string_history_bound_is_refused(orch: Orchestrator) -> None:
    refused(
        orch,
        lambda: orch.task_run_history(
            history_start="2026-01-01",
            history_end=T0 + timedelta(days=1),
            history_interval=3600,
        ),
        TypeError,
        "history_start must be an aware datetime",
    )
    refused(
        orch,
        lambda: orch.task_run_history(
            history_start=T0,
            history_end="2026-01-02",
            history_interval=3600,
        ),
        TypeError,
        "history_end",
    )


def test_a_string_virtual_clock_start_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^start must be an aware datetime"):
        VirtualClock(start="2026")
    with pytest.raises(ArgumentTypeError, match=r"^when must be an aware datetime"):
        VirtualClock().set("2027")
    with pytest.raises(ArgumentValueError, match="has no timezone"):
        VirtualClock(start=datetime(2026, 1, 1))


def test_scheduled_and_polled_times_must_be_datetimes(orch: Orchestrator) -> None:
    when: Any = "2026-01-02"
    refused(orch, lambda: orch.schedule(when, add, 1), TypeError, "when")
    refused(
        orch,
        lambda: orch.get_scheduled_flow_runs("pool", scheduled_before="now"),
        TypeError,
        "scheduled_before",
    )
    refused(orch, lambda: orch.next_scheduled_time("pool", after=5), TypeError, "after")


# -- numbers: strings, NaN and infinity ---------------------------------------------------------
def test_orchestrator_numbers_are_checked_and_named_as_spelled() -> None:
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"slot_wait_seconds": "10"}, ArgumentTypeError, "slot_wait_seconds must be"),
        ({"slot_wait_seconds": NAN}, ArgumentValueError, "slot_wait_seconds must be"),
        ({"slot_wait_seconds": INF}, ArgumentValueError, "slot_wait_seconds must be"),
        # These two named the rules' own parameters (wait_seconds, max_key_length) before.
        ({"slot_wait_seconds": 0}, ArgumentValueError, "slot_wait_seconds must be"),
        ({"max_cache_key_length": "10"}, ArgumentTypeError, "max_cache_key_length must be"),
        ({"max_cache_key_length": 0}, ArgumentValueError, "max_cache_key_length must be"),
        ({"scheduled_queue_size": 0}, ArgumentValueError, "scheduled_queue_size must be"),
        ({"retry_queue_size": "5"}, ArgumentTypeError, "retry_queue_size must be"),
        ({"seed": "7"}, ArgumentTypeError, "seed must be"),
        ({"clock": "now"}, ArgumentTypeError, "clock must be"),
        ({"task_policy": [1]}, ArgumentTypeError, "task_policy must be a Policy"),
    ]
    for options, kind, message in cases:
        with pytest.raises(kind, match=f"^{message}"):
            Orchestrator(**options)


def test_policies_refuse_strings_nan_and_infinity() -> None:
    cases: list[tuple[Callable[[], object], type[Exception], str]] = [
        (lambda: TaskRunPolicy(retries="3"), ArgumentTypeError, "retries must be"),
        (lambda: TaskRunPolicy(retry_delay=NAN), ArgumentValueError, "retry_delay must be"),
        (lambda: TaskRunPolicy(retry_delay=INF), ArgumentValueError, "retry_delay must be"),
        (lambda: TaskRunPolicy(retry_delay=[1, INF]), ArgumentValueError, "retry_delay must be"),
        (lambda: TaskRunPolicy(retry_jitter_factor=NAN), ArgumentValueError, "retry_jitter_factor"),
        (lambda: TaskRunPolicy(retry_jitter_factor="x"), ArgumentTypeError, "retry_jitter_factor"),
        (lambda: FlowRunPolicy(retries="3"), ArgumentTypeError, "retries must be"),
        (lambda: FlowRunPolicy(retry_delay=NAN), ArgumentValueError, "retry_delay must be"),
        (lambda: FlowRunPolicy(resuming="no"), ArgumentTypeError, "resuming must be"),
        (lambda: FlowRunPolicy(retry_type="later"), ArgumentValueError, "retry_type must be"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()


@pytest.mark.parametrize("interval", [NAN, INF, 1e300])
def test_nan_and_infinite_history_intervals_are_refused(
    orch: Orchestrator, interval: float
) -> None:
    refused(
        orch,
        lambda: orch.task_run_history(
            history_start=T0, history_end=T0 + timedelta(hours=1), history_interval=interval
        ),
        ValueError,
        "history_interval",
    )


def test_a_string_history_interval_is_refused(orch: Orchestrator) -> None:
    refused(
        orch,
        lambda: orch.task_run_history(history_start=T0, history_end=T0, history_interval="60"),
        TypeError,
        "history_interval",
    )


def test_a_history_window_that_ends_before_it_starts_is_refused(orch: Orchestrator) -> None:
    refused(
        orch,
        lambda: orch.task_run_history(
            history_start=T0, history_end=T0 - timedelta(hours=1), history_interval=60
        ),
        ValueError,
        "history_end must be an aware datetime at or after history_start",
    )
    assert orch.task_run_history(history_start=T0, history_end=T0, history_interval=60) == []


def test_clock_advance_refuses_nan_infinity_strings_and_overflow() -> None:
    clock = VirtualClock(T0)
    for value, kind in (
        (NAN, ArgumentValueError),
        (INF, ArgumentValueError),
        (-1, ArgumentValueError),
        ("1", ArgumentTypeError),
        (True, ArgumentTypeError),
        (1e15, ArgumentValueError),
    ):
        with pytest.raises(kind, match=r"^seconds must be"):
            clock.advance(value)
        assert clock.now() == T0
    assert clock.advance(1.5) == T0 + timedelta(seconds=1.5)


def test_clock_sleep_refuses_nan_and_sleeps_forever_on_infinity() -> None:
    clock = VirtualClock(T0)

    async def main() -> None:
        with pytest.raises(ArgumentValueError, match=r"^seconds must be"):
            await clock.sleep(NAN)
        with anyio.move_on_after(0.05) as scope:
            await clock.sleep(INF)
        assert scope.cancelled_caught
        assert clock.next_deadline() is None  # nothing a time skipper would jump to

    anyio.run(main)


def test_prefetch_seconds_nan_is_refused_when_the_worker_is_built(orch: Orchestrator) -> None:
    refused(
        orch,
        lambda: ProcessWorker(orch, "pool", prefetch_seconds=NAN),
        ValueError,
        "prefetch_seconds",
    )


# -- labels, names, keys, arguments -------------------------------------------------------------
def test_labels_as_a_list_are_refused_clearly(orch: Orchestrator) -> None:
    refused(
        orch, lambda: orch.create_task_run("k", labels=["a"]), TypeError, "labels must be a mapping"
    )
    refused(orch, lambda: orch.create_task_run("k", labels={"a": 1}), TypeError, "labels['a']")
    flow = orch.read_flows()[0]
    refused(orch, lambda: orch.create_flow_run(flow.id, labels=["a"]), TypeError, "labels")
    flow_run = orch.read_flow_runs()[0]
    refused(orch, lambda: orch.update_flow_run(flow_run.id, labels=["a"]), TypeError, "labels")


def test_an_empty_run_name_is_refused(orch: Orchestrator) -> None:
    refused(orch, lambda: orch.create_task_run("k", name=""), ValueError, "name")
    flow = orch.read_flows()[0]
    refused(orch, lambda: orch.create_flow_run(flow.id, name=""), ValueError, "name")
    task_run = run_named(orch, "holder")
    refused(orch, lambda: orch.update_task_run(task_run, name=""), ValueError, "name")
    flow_run = orch.read_flow_runs()[0]
    refused(orch, lambda: orch.update_flow_run(flow_run.id, name=""), ValueError, "name")


def test_a_non_string_cache_key_is_refused(orch: Orchestrator) -> None:
    refused(orch, lambda: orch.create_task_run("k", cache_key=123), TypeError, "cache_key")
    refused(orch, lambda: orch.create_task_run("k", task_version=5), TypeError, "task_version")
    refused(orch, lambda: orch.create_task_run("k", task_inputs=["x"]), TypeError, "task_inputs")


def test_apply_async_refuses_arguments_that_are_not_a_list(orch: Orchestrator) -> None:
    refused(orch, lambda: add.apply_async(args=5, orchestrator=orch), TypeError, "args")
    refused(orch, lambda: add.apply_async(args="12", orchestrator=orch), TypeError, "args")
    refused(
        orch, lambda: add.apply_async(args=(1,), kwargs=5, orchestrator=orch), TypeError, "kwargs"
    )
    future = add.apply_async(args=[1], kwargs={"y": 2}, orchestrator=orch)
    assert orch.read_task_run(future.task_run_id).state_type is StateType.SCHEDULED


def test_a_cache_key_function_that_raises_is_a_library_error_naming_the_task(
    orch: Orchestrator,
) -> None:
    def broken(parameters: dict[str, Any]) -> str:
        raise LookupError("no key")

    keyed = task(name="keyed", task_key="keyed", cache_key_fn=broken)(lambda x: x)
    error = refused(orch, lambda: orch.submit(keyed, 1), ValueError, "cache key of task 'keyed'")
    assert isinstance(error.__cause__, LookupError)  # the function's own error, chained


# -- read_decisions -----------------------------------------------------------------------------
def test_read_decisions_of_an_unknown_run_is_not_found(orch: Orchestrator) -> None:
    unknown = uuid.UUID(int=5)
    with pytest.raises(ObjectNotFound, match=str(unknown)):
        orch.read_decisions(unknown)
    with pytest.raises(ObjectNotFound):
        orch.explain(unknown)
    # A known run with the decision log off still answers "nothing recorded".
    quiet = Orchestrator(VirtualClock(), keep_decisions=False)
    run = make_task_run(quiet, "COMPLETED")
    assert quiet.read_decisions(run.id) == []


# -- task options checked when the task is defined ----------------------------------------------
@pytest.mark.parametrize(
    ("options", "kind", "parameter"),
    [
        ({"retries": 1, "retry_delay_seconds": NAN}, ArgumentValueError, "retry_delay_seconds"),
        ({"retries": 1, "retry_delay_seconds": INF}, ArgumentValueError, "retry_delay_seconds"),
        (
            {"retries": 2, "retry_delay_seconds": [1, INF]},
            ArgumentValueError,
            "retry_delay_seconds",
        ),
        (
            {"retries": 1, "retry_delay_seconds": lambda n: [NAN] * n},
            ArgumentValueError,
            "retry_delay_seconds",
        ),
        ({"retries": 1, "retry_jitter_factor": NAN}, ArgumentValueError, "retry_jitter_factor"),
        ({"retries": 1, "retry_jitter_factor": INF}, ArgumentValueError, "retry_jitter_factor"),
        ({"cache_expiration": 1e300}, ArgumentValueError, "cache_expiration"),
        ({"cache_expiration": "tomorrow"}, ArgumentTypeError, "cache_expiration"),
        ({"refresh_cache": "no"}, ArgumentTypeError, "refresh_cache"),
    ],
)
def test_task_options_are_refused_at_definition(
    options: dict[str, Any], kind: type[Exception], parameter: str
) -> None:
    with pytest.raises(kind, match=f"^(every delay in )?{parameter}"):
        task(**options)(lambda: None)


# -- workers: checked when built ----------------------------------------------------------------
def test_process_worker_options_are_checked_when_built(orch: Orchestrator) -> None:
    refused(orch, lambda: ProcessWorker(orch, "pool", environ={"A": 1}), TypeError, "environ['A']")
    refused(orch, lambda: ProcessWorker(orch, "pool", environ=["A=1"]), TypeError, "environ")
    refused(
        orch,
        lambda: ProcessWorker(orch, "pool", healthcheck_port="80"),
        TypeError,
        "healthcheck_port",
    )
    refused(
        orch,
        lambda: ProcessWorker(orch, "pool", healthcheck_port=70000),
        ValueError,
        "healthcheck_port",
    )
    refused(
        orch,
        lambda: ProcessWorker(orch, "pool", healthcheck_host=""),
        ValueError,
        "healthcheck_host",
    )
    refused(
        orch,
        lambda: ProcessWorker(orch, "pool", strict_templates="no"),
        TypeError,
        "strict_templates",
    )
    refused(orch, lambda: ProcessWorker("orch", "pool"), TypeError, "orchestrator")


def test_task_worker_options_are_checked_when_built(orch: Orchestrator) -> None:
    refused(orch, lambda: TaskWorker(add, orchestrator=orch, limit="3"), TypeError, "limit")
    refused(
        orch,
        lambda: TaskWorker(add, orchestrator=orch, pending_lease_seconds=NAN),
        ValueError,
        "pending_lease_seconds",
    )
    refused(orch, lambda: TaskWorker(add, orchestrator="orch"), TypeError, "orchestrator")
    refused(orch, lambda: TaskWorker(add.fn, orchestrator=orch), TypeError, "tasks made with @task")


def test_an_infinite_lease_never_expires_instead_of_failing_after_the_claim(
    orch: Orchestrator,
) -> None:
    future = orch.submit(add, 2)
    result = orch.claim_task_run(future.task_run_id, lease_seconds=INF)
    assert result is not None
    assert result.status.name == "ACCEPT"
    assert orch.pending_leases.expiry(future.task_run_id) == datetime.max.replace(tzinfo=UTC)
    orch.check_invariants()


# -- rules: a WAIT's delay is checked where the rule makes it ----------------------------------
def test_a_rule_waiting_nan_seconds_is_refused_where_it_waits() -> None:
    @rule(to_states=[StateType.RUNNING])
    def waits_nan(ctx: TransitionContext) -> None:
        ctx.wait(NAN, "never")

    orchestrator = Orchestrator(VirtualClock(T0), task_policy=Policy(waits_nan), seed=3)
    run = orchestrator.create_task_run("k").run
    with pytest.raises(ArgumentValueError, match=r"^delay_seconds must be a number of seconds"):
        orchestrator.set_task_run_state(run.id, Running())
    # Nothing committed; as for any rule that raises, the decision log records the ABORT.
    assert [s.name for s in orchestrator.read_task_run_states(run.id)] == ["Pending"]
    assert orchestrator.read_decisions(run.id)[-1].status.name == "ABORT"
    orchestrator.check_invariants()
