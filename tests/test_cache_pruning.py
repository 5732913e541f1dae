"""Expired cache entries are pruned as time passes, amortised, and their memory comes back.

The cache table keeps the entries that expire in a heap by expiration: pruning pops what
has expired (O(log n) each) and costs one comparison when nothing has. An orchestrator
prunes at the end of every top-level state proposal whose time has reached the earliest
expiration, and a lookup prunes before it answers.
"""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import Completed, Orchestrator, Running, StateDetails, VirtualClock
from orchestrator._rules._cache_table import NEVER, CacheStatistics, CacheTable
from orchestrator._rules._table_events import CacheEntryPruned, CacheEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the table -------------------------------------------------------------------------------


def test_next_expiry_is_the_earliest_expiration() -> None:
    table = CacheTable()
    assert table.next_expiry == NEVER
    table.insert("a", None, Completed(1))
    assert table.next_expiry == NEVER
    table.insert("b", later(30), Completed(2))
    table.insert("c", later(10), Completed(3))
    assert table.next_expiry == later(10)
    assert table.prune(later(9.999)) == 0
    assert table.prune(later(10)) == 1
    assert table.next_expiry == later(30)
    assert table.prune(later(30)) == 1
    assert table.next_expiry == NEVER
    assert table.statistics() == CacheStatistics(keys=1, entries=1)
    table.check_invariants()


def test_a_lookup_prunes_every_expired_entry_and_reports_each_key_once() -> None:
    events: list[CacheEvent] = []
    table = CacheTable(on_change=events.append)
    for key, seconds in [("a", 5), ("b", 1), ("a", 2), ("c", 50)]:
        table.insert(key, later(seconds), Completed(key))
    events.clear()
    assert table.lookup("c", later(5)) is not None
    # Keys are reported in the order their first entry expired: b at 1 s, a at 2 s.
    assert events == [
        CacheEntryPruned(key="b", now=later(5), count=1),
        CacheEntryPruned(key="a", now=later(5), count=2),
    ]
    assert table.statistics() == CacheStatistics(keys=1, entries=1)
    table.check_invariants()


def test_the_newest_live_entry_answers_after_newer_ones_expired() -> None:
    table = CacheTable()
    long, short = Completed("long"), Completed("short")
    table.insert("k", later(100), long)
    table.insert("k", later(10), short)
    assert table.lookup("k", later(9)) is short
    assert table.lookup("k", later(10)) is long
    assert table.lookup("k", later(100)) is None
    assert table.statistics() == CacheStatistics(keys=0, entries=0)


def test_100k_expired_entries_are_pruned_and_their_memory_is_returned() -> None:
    table = CacheTable()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(100_000):
            table.insert(f"key-{number}", later(number % 600), Completed(number))
        grown = tracemalloc.get_traced_memory()[0] - before
        assert table.statistics() == CacheStatistics(keys=100_000, entries=100_000)
        assert table.prune(later(600)) == 100_000
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert table.statistics() == CacheStatistics(keys=0, entries=0)
    assert table.next_expiry == NEVER
    table.check_invariants()
    assert grown > 10_000_000  # about 200 bytes an entry, states included
    assert left < 64_000, f"{left} bytes still held after pruning everything"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.none() | st.integers(0, 20),
            st.integers(0, 20),
        ),
        max_size=40,
    )
)
def test_lookups_answer_as_a_scan_of_the_live_entries_would(
    steps: list[tuple[str, int | None, int]],
) -> None:
    table = CacheTable()
    inserted: list[tuple[str, datetime | None, object]] = []
    now = T0
    for key, expires_in, advance in steps:
        now = now + timedelta(seconds=advance)
        expiration = None if expires_in is None else now + timedelta(seconds=expires_in)
        state = Completed(len(inserted))
        table.insert(key, expiration, state)
        inserted.append((key, expiration, state))
        for probe in ("a", "b", "c"):
            live = [s for k, e, s in inserted if k == probe and (e is None or e > now)]
            assert table.lookup(probe, now) is (live[-1] if live else None)
        table.check_invariants()
        alive = sum(1 for _, e, _ in inserted if e is None or e > now)
        assert table.statistics().entries == alive


# -- the orchestrator ------------------------------------------------------------------------


def test_expired_entries_go_at_the_first_proposal_after_their_expiry() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1, keep_decisions=False)
    expiry = clock.now() + timedelta(minutes=10)
    for number in range(10_000):
        run = orch.create_task_run("report", state=Running()).run
        details = StateDetails(cache_key=f"report-{number}", cache_expiration=expiry)
        orch.set_task_run_state(run.id, Completed(number, details=details))
    orch.delete_task_runs()
    assert orch.statistics().cache_entries == 10_000  # still live: kept after the runs
    clock.advance(600)
    assert orch.statistics().cache_entries == 10_000  # time alone prunes nothing...
    orch.create_task_run("anything")  # ...the next proposal (here a creation's) does
    assert orch.statistics().cache_entries == 0
    orch.check_invariants()


def test_a_live_entry_still_answers_after_others_were_pruned() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1)
    for key, minutes in [("short", 1), ("long", 60)]:
        run = orch.create_task_run(key, state=Running()).run
        expiry = clock.now() + timedelta(minutes=minutes)
        details = StateDetails(cache_key=key, cache_expiration=expiry)
        orch.set_task_run_state(run.id, Completed(key, details=details))
    clock.advance(120)
    probe = orch.create_task_run("probe").run  # prunes "short"
    assert orch.statistics().cache_entries == 1
    hit = orch.set_task_run_state(probe.id, Running(details=StateDetails(cache_key="long"))).state
    assert hit is not None
    assert (hit.name, hit.data) == ("Cached", "long")
    missed = orch.create_task_run("missed").run
    miss = orch.set_task_run_state(missed.id, Running(details=StateDetails(cache_key="short")))
    assert miss.state is not None
    assert miss.state.name == "Running"
