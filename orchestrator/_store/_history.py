"""Run history: how many runs, per time bucket, are in each state, and for how long.

Buckets are ``[start + i * interval, start + (i + 1) * interval)`` for ``i = 0, 1, ...``
while the bucket start is before ``history_end``; the last one may end after it. A window
that ends before it starts is refused; an empty one (``history_end == history_start``)
has no buckets. A run
belongs to the bucket holding its ``expected_start_time`` (runs without one are never
counted) and is grouped by its *current* state type and name. Every bucket is returned,
empty ones included, in time order; the groups in a bucket are sorted by state type
value, then state name.

Unlike the reference, which silently stops at 500 buckets, asking for more than
``max_buckets`` raises :class:`~orchestrator.HistoryTooLarge` saying what to change.
The runs in the window are found through the expected-start-time index (or a smaller
candidate set, if the filters give one): O(log n + k).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final, final

import attrs

from .._core._checks import check_positive_int, is_finite, is_number, wrong_type, wrong_value
from .._core._checks_objects import check_datetime
from .._core._clock import as_utc
from .._core._errors import ArgumentValueError, HistoryTooLarge
from .._core._models import FlowRun, TaskRun
from .._core._states import StateType
from ._criteria import Criterion, Range, all_of
from ._filters_flow import FlowRunFilter
from ._filters_flow_deployment import DeploymentFilter, FlowFilter
from ._filters_task import TaskRunFilter
from ._planner import iterate
from ._store import Store
from ._table import RunTable

__all__ = [
    "DEFAULT_MAX_BUCKETS",
    "HistoryBucket",
    "HistoryStateCount",
    "bucket_count",
    "flow_run_history",
    "task_run_history",
]

#: The default limit on the number of buckets (the reference's silent cap).
DEFAULT_MAX_BUCKETS: Final = 500

_MICROSECOND: Final = timedelta(microseconds=1)


@final
@attrs.frozen(kw_only=True)
class HistoryStateCount:
    """The runs of one bucket in one state.

    Attributes:
        state_type: the runs' current state type (None for runs with no state).
        state_name: their current state name.
        count_runs: how many runs.
        sum_estimated_run_time: total seconds they ran (up to now for running ones).
        sum_estimated_lateness: total seconds they started (or, if not started, are)
            late relative to their expected start time.
    """

    state_type: StateType | None
    state_name: str | None
    count_runs: int
    sum_estimated_run_time: float
    sum_estimated_lateness: float


@final
@attrs.frozen(kw_only=True)
class HistoryBucket:
    """One time bucket ``[interval_start, interval_end)`` and its state groups."""

    interval_start: datetime
    interval_end: datetime
    states: tuple[HistoryStateCount, ...]


def _interval(value: object) -> timedelta:
    expected = "seconds (a finite number >= 1) or a timedelta of at least 1 second"
    if isinstance(value, timedelta):
        interval = value
    elif is_number(value):
        if not is_finite(value):
            raise wrong_value("history_interval", value, expected)
        try:
            interval = timedelta(seconds=value)
        except OverflowError:
            raise wrong_value("history_interval", value, expected) from None
    else:
        raise wrong_type("history_interval", value, expected)
    if interval < timedelta(seconds=1):
        raise ArgumentValueError(
            f"History interval must not be less than 1 second. (got {interval.total_seconds()} s); "
            "pass a history_interval of 1 second or more"
        )
    return interval


def bucket_count(
    history_start: datetime, history_end: datetime, interval: timedelta, max_buckets: int
) -> int:
    """Return how many buckets cover ``[start, end)``, refusing more than ``max_buckets``.

    Raises:
        HistoryTooLarge: more buckets than ``max_buckets``.
    """
    span = history_end - history_start
    if span <= timedelta(0):
        return 0
    count = -(-span // interval)
    if count > max_buckets:
        widest = -(-span // max_buckets)
        raise HistoryTooLarge(
            f"a history from {history_start.isoformat()} to {history_end.isoformat()} every "
            f"{interval.total_seconds():g} s needs {count} buckets, more than the limit of "
            f"{max_buckets}; use a history_interval of at least {widest.total_seconds():g} s, "
            f"a shorter window, or a larger max_buckets"
        )
    return count


def _history(
    table: RunTable[Any],
    crit: Criterion,
    store: Store,
    *,
    history_start: datetime,
    history_end: datetime,
    history_interval: float | timedelta,
    now: datetime,
    max_buckets: int,
) -> list[HistoryBucket]:
    start = check_datetime(history_start, "history_start")
    end = check_datetime(history_end, "history_end")
    if end < start:
        raise wrong_value(
            "history_end",
            history_end,
            f"an aware datetime at or after history_start ({start.isoformat()})",
        )
    now = as_utc(now, "now")
    interval = _interval(history_interval)
    check_positive_int(max_buckets, "max_buckets")
    count = bucket_count(start, end, interval, max_buckets)
    if count == 0:
        return []
    window_end = start + count * interval
    in_window = Range("expected_start_time", start, window_end - _MICROSECOND)
    groups: list[dict[tuple[StateType | None, str | None], list[Any]]] = [{} for _ in range(count)]
    for run in iterate(table, all_of((crit, in_window)), store):
        bucket = groups[(run.expected_start_time - start) // interval]
        key = (run.state_type, run.state_name)
        totals = bucket.get(key)
        if totals is None:
            bucket[key] = totals = [0, 0.0, 0.0]
        totals[0] += 1
        totals[1] += max(0.0, run.estimated_run_time(now))
        totals[2] += max(0.0, run.estimated_start_time_delta(now))
    return [
        HistoryBucket(
            interval_start=start + i * interval,
            interval_end=start + (i + 1) * interval,
            states=_state_counts(groups[i].items()),
        )
        for i in range(count)
    ]


def _state_counts(
    items: Iterable[tuple[tuple[StateType | None, str | None], list[Any]]],
) -> tuple[HistoryStateCount, ...]:
    def order(item: tuple[tuple[StateType | None, str | None], list[Any]]) -> tuple[str, str]:
        (state_type, state_name), _ = item
        return ("" if state_type is None else state_type.value, state_name or "")

    return tuple(
        HistoryStateCount(
            state_type=state_type,
            state_name=state_name,
            count_runs=totals[0],
            sum_estimated_run_time=totals[1],
            sum_estimated_lateness=totals[2],
        )
        for (state_type, state_name), totals in sorted(items, key=order)
    )


def task_run_history(
    store: Store,
    *,
    history_start: datetime,
    history_end: datetime,
    history_interval: float | timedelta,
    now: datetime,
    task_runs: TaskRunFilter | None = None,
    flow_runs: FlowRunFilter | None = None,
    flows: FlowFilter | None = None,
    deployments: DeploymentFilter | None = None,
    max_buckets: int = DEFAULT_MAX_BUCKETS,
) -> list[HistoryBucket]:
    """Count the matching task runs per bucket and current state (see the module docstring).

    Args:
        store: the store to read.
        history_start: start of the first bucket (aware).
        history_end: the buckets continue while their start is before this (aware).
        history_interval: bucket width, float seconds or a timedelta, at least 1 s.
        now: the time running runs' run time and unstarted runs' lateness count to.
        task_runs: filter on the task runs.
        flow_runs: filter on their flow runs (runs without one are then excluded).
        flows: filter on their flows.
        deployments: filter on their deployments.
        max_buckets: the most buckets to return.

    Raises:
        InvalidArgument: an interval under 1 second (or NaN, or infinite), a bound that is
            not an aware datetime, ``history_end`` before ``history_start``, a bad filter.
        HistoryTooLarge: the window needs more than ``max_buckets`` buckets.
    """
    crit = store.task_run_criterion(task_runs, flow_runs, flows, deployments)
    table: RunTable[TaskRun] = store.task_table
    return _history(
        table,
        crit,
        store,
        history_start=history_start,
        history_end=history_end,
        history_interval=history_interval,
        now=now,
        max_buckets=max_buckets,
    )


def flow_run_history(
    store: Store,
    *,
    history_start: datetime,
    history_end: datetime,
    history_interval: float | timedelta,
    now: datetime,
    flow_runs: FlowRunFilter | None = None,
    flows: FlowFilter | None = None,
    deployments: DeploymentFilter | None = None,
    max_buckets: int = DEFAULT_MAX_BUCKETS,
) -> list[HistoryBucket]:
    """Count the matching flow runs per bucket and current state, like :func:`task_run_history`.

    Raises:
        InvalidArgument: as for :func:`task_run_history`.
        HistoryTooLarge: the window needs more than ``max_buckets`` buckets.
    """
    crit = store.flow_run_criterion(flow_runs, flows, deployments)
    table: RunTable[FlowRun] = store.flow_table
    return _history(
        table,
        crit,
        store,
        history_start=history_start,
        history_end=history_end,
        history_interval=history_interval,
        now=now,
        max_buckets=max_buckets,
    )
