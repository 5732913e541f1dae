"""Run history: bucket counts (the reference catalogue), grouping, sums, limits, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import HistoryTooLarge, InvalidArgument, StateType
from orchestrator._store._history import (
    HistoryBucket,
    HistoryStateCount,
    flow_run_history,
    task_run_history,
)
from orchestrator._store._store import Store
from orchestrator.filters import FlowRunFilter, TaskRunFilter
from tests.strategies import T0, at, commit, make_task_run, sample_store

S = StateType
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("window", "interval", "buckets"),
    [
        (14 * DAY, DAY, 14),
        (10 * DAY, 25 * HOUR, 10),
        (10 * DAY, 6 * HOUR, 40),
        (10 * DAY, HOUR, 240),
        (DAY, 66 * MINUTE, 22),
        (5 * HOUR, MINUTE, 300),
        (29 * HOUR, 15 * MINUTE, 116),
    ],
)
def test_bucket_counts_of_the_reference_catalogue(
    window: timedelta, interval: timedelta, buckets: int
) -> None:
    history = task_run_history(
        Store(),
        history_start=T0,
        history_end=T0 + window,
        history_interval=interval.total_seconds(),
        now=T0,
    )
    assert len(history) == buckets
    assert [b.interval_start for b in history] == [T0 + i * interval for i in range(buckets)]
    assert all(b.interval_end - b.interval_start == interval for b in history)
    assert all(b.states == () for b in history)
    # The last bucket holds the end and may end after it.
    assert history[-1].interval_start < T0 + window <= history[-1].interval_end


def test_one_day_in_66_minute_buckets_ends_after_the_window() -> None:
    history = task_run_history(
        Store(), history_start=T0, history_end=T0 + DAY, history_interval=66 * MINUTE, now=T0
    )
    assert history[-1].interval_end == T0 + 22 * 66 * MINUTE
    assert history[-1].interval_end - (T0 + DAY) == timedelta(minutes=12)


def test_too_many_buckets_raise_instead_of_a_silent_cap() -> None:
    with pytest.raises(HistoryTooLarge) as raised:
        task_run_history(
            Store(), history_start=T0, history_end=T0 + 10 * DAY, history_interval=60, now=T0
        )
    message = str(raised.value)
    assert "needs 14400 buckets, more than the limit of 500" in message
    assert "use a history_interval of at least 1728 s" in message
    assert isinstance(raised.value, InvalidArgument)


def test_max_buckets_can_be_raised_or_lowered() -> None:
    store = Store()
    history = task_run_history(
        store,
        history_start=T0,
        history_end=T0 + 10 * DAY,
        history_interval=60,
        now=T0,
        max_buckets=14400,
    )
    assert len(history) == 14400
    with pytest.raises(HistoryTooLarge, match="needs 14 buckets, more than the limit of 13"):
        task_run_history(
            store,
            history_start=T0,
            history_end=T0 + 14 * DAY,
            history_interval=DAY,
            now=T0,
            max_buckets=13,
        )


@pytest.mark.parametrize("interval", [0.9, 0, -5, timedelta(milliseconds=999)])
def test_an_interval_under_one_second_is_refused(interval: float | timedelta) -> None:
    with pytest.raises(
        InvalidArgument, match=r"^History interval must not be less than 1 second\."
    ):
        task_run_history(
            Store(), history_start=T0, history_end=T0 + HOUR, history_interval=interval, now=T0
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"history_start": datetime(2026, 1, 1)}, "history_start .* has no timezone"),
        ({"history_end": datetime(2026, 1, 2)}, "history_end .* has no timezone"),
        ({"history_interval": "60"}, "history_interval must be seconds"),
        ({"history_interval": True}, "history_interval must be seconds"),
        ({"max_buckets": 0}, "max_buckets must be an integer >= 1"),
        ({"task_runs": FlowRunFilter()}, "task_runs must be a TaskRunFilter"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "history_start": T0,
        "history_end": T0 + HOUR,
        "history_interval": 60.0,
        "now": T0,
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidArgument, match=message):
        task_run_history(Store(), **arguments)  # type: ignore[arg-type]


def test_an_empty_window_has_no_buckets_and_a_reversed_one_is_refused() -> None:
    assert (
        task_run_history(Store(), history_start=T0, history_end=T0, history_interval=1, now=T0)
        == []
    )
    # Issue 9: a window ending before it starts is a mistake, not an empty answer.
    with pytest.raises(ValueError, match=r"^history_end must be an aware datetime at or after"):
        task_run_history(
            Store(), history_start=T0, history_end=T0 - HOUR, history_interval=60, now=T0
        )


def five_minute_store() -> Store:
    """Runs expected at minutes 0, 1, 4, 5, 9 and 10 in various states; one never started."""
    store = Store()
    plan: list[tuple[int, int, list[tuple[StateType, str | None, int]]]] = [
        (1, 0, [(S.RUNNING, None, 0), (S.COMPLETED, None, 90)]),
        (2, 60, [(S.RUNNING, None, 70), (S.COMPLETED, None, 100)]),
        (3, 240, [(S.RUNNING, None, 240), (S.FAILED, None, 250)]),
        (4, 300, [(S.RUNNING, None, 330)]),
        (5, 540, [(S.SCHEDULED, "AwaitingRetry", 600)]),
        (6, 600, []),
    ]
    for n, expected, states in plan:
        run = make_task_run(n, task_key="k")
        store.add_task_run(run)
        commit(store, run, S.SCHEDULED, at(0), scheduled_time=at(expected))
        for state_type, name, when in states:
            commit(store, run, state_type, at(when), name=name, scheduled_time=at(900))
    store.add_task_run(make_task_run(7, task_key="k"))  # no state: never counted
    return store


def test_runs_are_grouped_by_bucket_and_current_state() -> None:
    store = five_minute_store()
    now = at(700)
    history = task_run_history(
        store, history_start=T0, history_end=at(900), history_interval=300, now=now
    )
    assert history == [
        HistoryBucket(
            interval_start=T0,
            interval_end=at(300),
            states=(
                HistoryStateCount(
                    state_type=S.COMPLETED,
                    state_name="Completed",
                    count_runs=2,
                    sum_estimated_run_time=90.0 + 30.0,
                    sum_estimated_lateness=0.0 + 10.0,
                ),
                HistoryStateCount(
                    state_type=S.FAILED,
                    state_name="Failed",
                    count_runs=1,
                    sum_estimated_run_time=10.0,
                    sum_estimated_lateness=0.0,
                ),
            ),
        ),
        HistoryBucket(
            interval_start=at(300),
            interval_end=at(600),
            states=(
                HistoryStateCount(
                    state_type=S.RUNNING,
                    state_name="Running",
                    count_runs=1,
                    sum_estimated_run_time=370.0,
                    sum_estimated_lateness=30.0,
                ),
                HistoryStateCount(
                    state_type=S.SCHEDULED,
                    state_name="AwaitingRetry",
                    count_runs=1,
                    sum_estimated_run_time=0.0,
                    sum_estimated_lateness=160.0,
                ),
            ),
        ),
        HistoryBucket(
            interval_start=at(600),
            interval_end=at(900),
            states=(
                HistoryStateCount(
                    state_type=S.SCHEDULED,
                    state_name="Scheduled",
                    count_runs=1,
                    sum_estimated_run_time=0.0,
                    sum_estimated_lateness=100.0,
                ),
            ),
        ),
    ]


def test_a_bucket_holds_its_start_and_not_its_end() -> None:
    store = five_minute_store()
    history = task_run_history(
        store, history_start=at(60), history_end=at(300), history_interval=240, now=at(700)
    )
    assert [(b.interval_start, [s.count_runs for s in b.states]) for b in history] == [
        (at(60), [1, 1])  # runs expected at 60 (completed) and 240 (failed); not 300
    ]


def test_a_state_type_filter_removes_groups() -> None:
    store = five_minute_store()
    history = task_run_history(
        store,
        history_start=T0,
        history_end=at(900),
        history_interval=300,
        now=at(700),
        task_runs=TaskRunFilter(state=[S.COMPLETED, S.SCHEDULED]),
    )
    assert [[(s.state_name, s.count_runs) for s in b.states] for b in history] == [
        [("Completed", 2)],
        [("AwaitingRetry", 1)],
        [("Scheduled", 1)],
    ]


def test_cross_entity_filters_apply_to_history() -> None:
    store = sample_store()
    history = task_run_history(
        store,
        history_start=T0,
        history_end=at(240),
        history_interval=timedelta(minutes=2),
        now=at(300),
        flow_runs=FlowRunFilter(state=S.COMPLETED),
    )
    # Task runs 3 (expected 30, FAILED) and 6 (expected 40, AwaitingRetry) are in flow run 1002.
    assert [[(s.state_name, s.count_runs) for s in b.states] for b in history] == [
        [("Failed", 1), ("AwaitingRetry", 1)],
        [],
    ]


def test_flow_run_history_uses_the_same_buckets() -> None:
    store = sample_store()
    history = flow_run_history(
        store,
        history_start=T0 - HOUR,
        history_end=T0 + HOUR,
        history_interval=HOUR,
        now=at(200),
    )
    assert [[(s.state_name, s.count_runs) for s in b.states] for b in history] == [
        [],
        [("Completed", 1), ("Running", 1)],
    ]
    assert history[1].states[1].sum_estimated_run_time == 200.0


def test_history_windows_in_other_timezones_are_converted_to_utc() -> None:
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    start = datetime(2026, 1, 1, 2, 0, tzinfo=plus_two)
    history = task_run_history(
        five_minute_store(),
        history_start=start,
        history_end=at(300),
        history_interval=300,
        now=at(700),
    )
    assert history[0].interval_start == T0
    assert history[0].interval_start.tzinfo is UTC
