"""Query benchmark: a filtered, sorted, limited task-run query at 10k, 100k and 1M runs.

Run with ``python bench/bench_query.py``. Prints ``name: value unit`` lines; every time
is a median over repeats:

* ``query_<size>``: ``state = COMPLETED``, sorted ``EXPECTED_START_TIME_DESC``, limit 10,
  on stores of mixed states, keys, tags and expected start times. The planner should
  make this cost about the same at every size (``query_ratio_1M_over_10k`` near 1).
* ``query_key_<size>``: the same with ``task_key = K`` (one key in 100) instead; the
  planner walks the key's own sorted index (``query_key_plan_<size>`` names the plan and
  the rows it expects to touch), so ``query_key_ratio_1M_over_10k`` should be near 1.
* ``brute_force_10k``: the same query answered by testing every run and sorting, the
  baseline the index is measured against.
* ``reindex_state_change``: snapshot + reindex when only the state changed (the
  store's share of every transition).
* ``bytes_per_completed_run``: memory of a store of COMPLETED runs with a 4-state
  history each (run, states and index entries), measured with tracemalloc;
  ``store_overhead_bytes_per_run`` is the part beyond the bare run and state objects
  (tables, indexes, history lists).

Stores are built directly (bulk insertion), not through an orchestrator.
"""

from __future__ import annotations

import gc
import heapq
import random
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from orchestrator import State, StateType, TaskRun
from orchestrator._core._states import StateDetails
from orchestrator._rules._bookkeeping import apply_bookkeeping, details_for_run
from orchestrator._store._store import Store
from orchestrator.filters import TaskRunFilter, TaskRunSort

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = [f"key-{i}" for i in range(100)]
TAG_SETS = [frozenset(), frozenset({"etl"}), frozenset({"etl", "gpu"}), frozenset({"nightly"})]
# Mixed states: mostly finished runs, some live ones.
MIX = [
    (StateType.COMPLETED, 50),
    (StateType.FAILED, 10),
    (StateType.SCHEDULED, 15),
    (StateType.PENDING, 5),
    (StateType.RUNNING, 10),
    (StateType.CANCELLED, 5),
    (StateType.CRASHED, 5),
]
SORT = TaskRunSort.EXPECTED_START_TIME_DESC
COMPLETED_FILTER = TaskRunFilter(state=StateType.COMPLETED)
KEY_FILTER = TaskRunFilter(task_key="key-42")


def median_us(function: Callable[[], object], *, number: int, repeat: int = 7) -> float:
    """Median over ``repeat`` rounds of the mean time of ``number`` calls, in microseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def build_store(size: int, seed: int = 1) -> Store:
    """Return a store of ``size`` task runs with mixed states, built by bulk insertion.

    The cyclic garbage collector is paused while building (it would rescan the growing
    heap again and again) and the result is frozen out of its reach afterwards, so the
    timings measure the queries, not collections of a million long-lived objects.
    """
    gc.disable()
    try:
        store = _build(size, seed)
    finally:
        gc.freeze()
        gc.enable()
    return store


def _build(size: int, seed: int) -> Store:
    rng = random.Random(seed)
    types = [t for t, weight in MIX for _ in range(weight)]
    states = {
        t: State(type=t, timestamp=T0, id=uuid.UUID(int=i + 1)) for i, t in enumerate(StateType)
    }
    runs = []
    for i in range(size):
        state_type = types[rng.randrange(len(types))]
        expected = T0 + timedelta(seconds=rng.randrange(30 * 86400))
        started = state_type not in (StateType.SCHEDULED, StateType.PENDING)
        final = state_type.is_terminal
        runs.append(
            TaskRun(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                name=f"run-{i}",
                task_key=KEYS[i % len(KEYS)],
                dynamic_key=str(i),
                tags=TAG_SETS[i % len(TAG_SETS)],
                state=states[state_type],
                expected_start_time=expected,
                next_scheduled_start_time=expected if state_type is StateType.SCHEDULED else None,
                start_time=expected + timedelta(seconds=5) if started else None,
                end_time=expected + timedelta(seconds=65) if final else None,
                created=T0,
                updated=T0,
            )
        )
    store = Store()
    store.add_task_runs(runs)
    return store


def brute_force(store: Store, task_filter: TaskRunFilter, limit: int) -> list[TaskRun]:
    """Answer the query by testing every run, as a store without indexes would."""
    order = {run: i for i, run in enumerate(store.task_runs.values())}
    matches = [run for run in store.task_runs.values() if task_filter.matches(run)]
    keyed = [(run.expected_start_time, order[run], run) for run in matches]
    return [entry[2] for entry in heapq.nlargest(limit, keyed)]


def bench_size(label: str, size: int) -> tuple[float, float]:
    """Time both queries on a store of ``size`` runs; at 10k also the brute-force scan."""
    store = build_store(size)

    def query() -> list[TaskRun]:
        return store.query_task_runs(task_runs=COMPLETED_FILTER, sort=SORT, limit=10)

    def by_key() -> list[TaskRun]:
        return store.query_task_runs(task_runs=KEY_FILTER, sort=SORT, limit=10)

    key_plan = store.plan_task_runs(task_runs=KEY_FILTER, sort=SORT, limit=10)[0]
    rows = key_plan.estimated_rows
    print(f"query_key_plan_{label}: {key_plan.strategy} {key_plan.index} rows={rows}")
    state_time = median_us(query, number=200)
    key_time = median_us(by_key, number=200)
    print(f"query_{label}: {state_time:.1f} us")
    print(f"query_key_{label}: {key_time:.1f} us")
    if label == "10k":
        assert brute_force(store, COMPLETED_FILTER, 10) == query()
        brute = median_us(lambda: brute_force(store, COMPLETED_FILTER, 10), number=5)
        print(f"brute_force_10k: {brute:.1f} us")
        print(f"brute_force_ratio_10k: {brute / state_time:.1f}")
    return state_time, key_time


def release() -> None:
    """Let the collector reclaim the last store (built frozen)."""
    gc.unfreeze()
    gc.collect()


def bench_queries() -> None:
    small = bench_size("10k", 10_000)
    release()
    bench_size("100k", 100_000)
    release()
    large = bench_size("1M", 1_000_000)
    release()
    print(f"query_ratio_1M_over_10k: {large[0] / small[0]:.2f}")
    print(f"query_key_ratio_1M_over_10k: {large[1] / small[1]:.2f}")


def commit(store: Store | None, run: TaskRun, state_type: StateType, when: datetime) -> State:
    """Commit a state the way the engine does (fresh id and details, bookkeeping)."""
    details = StateDetails(scheduled_time=when) if state_type is StateType.SCHEDULED else None
    proposed_details = StateDetails() if details is None else details
    state = State(
        type=state_type,
        timestamp=when,
        details=details_for_run(run, proposed_details),
        id=uuid.uuid4(),
    )
    if store is None:
        apply_bookkeeping(run, run.state, state)
        return state
    before = store.snapshot_task_run(run)
    apply_bookkeeping(run, run.state, state)
    store.reindex_task_run(run, before)
    store.append_task_run_state(run.id, state)
    return state


def bench_reindex() -> None:
    """Snapshot + reindex of a run whose state type changed, minus the assignment itself."""
    store = build_store(100_000)
    run = next(iter(store.task_runs.values()))
    first = State(type=StateType.PENDING, timestamp=T0, id=uuid.uuid4())
    second = State(type=StateType.RUNNING, timestamp=T0, id=uuid.uuid4())
    before = store.snapshot_task_run(run)
    run.state = first
    store.reindex_task_run(run, before)

    def flip() -> None:
        snapshot = store.snapshot_task_run(run)
        run.state = second
        store.reindex_task_run(run, snapshot)
        snapshot = store.snapshot_task_run(run)
        run.state = first
        store.reindex_task_run(run, snapshot)

    def assign_only() -> None:
        run.state = second
        run.state = first

    cost = median_us(flip, number=50_000) - median_us(assign_only, number=50_000)
    store.check_invariants()
    print(f"reindex_state_change: {cost / 2 * 1000:.0f} ns")


def completed_runs(size: int, store: Store | None) -> list[tuple[TaskRun, list[State]]]:
    """Build ``size`` COMPLETED runs with a 4-state history, in ``store`` if given."""
    kept: list[tuple[TaskRun, list[State]]] = []
    for i in range(size):
        run = TaskRun(
            id=uuid.uuid4(),
            name=f"run-{i}",
            task_key=KEYS[i % len(KEYS)],
            dynamic_key=str(i),
            created=T0,
            updated=T0,
        )
        if store is not None:
            store.add_task_run(run)
        base = T0 + timedelta(seconds=i)
        states = [
            commit(store, run, state_type, base + timedelta(seconds=k))
            for k, state_type in enumerate(
                (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED)
            )
        ]
        if store is None:
            kept.append((run, states))
    return kept


def traced_bytes(build: Callable[[], object]) -> tuple[int, object]:
    """Return the bytes still allocated after ``build()`` (and what it returned)."""
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return used, result


def bench_memory(size: int = 20_000) -> None:
    def build_store_of_completed() -> Store:
        store = Store()
        completed_runs(size, store)
        return store

    used, store = traced_bytes(build_store_of_completed)
    assert isinstance(store, Store)
    assert store.statistics().task_run_states == 4 * size
    # The same runs and states held in a plain list, for the store's own share.
    bare, _ = traced_bytes(lambda: completed_runs(size, None))
    print(f"bytes_per_completed_run: {used // size}")
    print(f"store_overhead_bytes_per_run: {(used - bare) // size}")


def main() -> None:
    started = time.perf_counter()
    bench_queries()
    bench_reindex()
    release()
    bench_memory()
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
