"""CacheTable and SlotTable: exact answers, change records, and a model-checked slot table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from orchestrator import Completed, InvalidArgument, ObjectNotFound
from orchestrator._core._outcomes import SlotOutcome
from orchestrator._rules._policy_tables import (
    CacheEntry,
    CacheStatistics,
    CacheTable,
    SlotStatistics,
    SlotTable,
)
from orchestrator._rules._table_events import (
    CacheEntryAdded,
    CacheEntryPruned,
    CacheEvent,
    LimitCreated,
    LimitDeleted,
    LimitReset,
    LimitUpdated,
    SlotEvent,
    SlotsFreed,
    SlotsTaken,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
R1, R2, R3, R4 = (uuid.UUID(int=n) for n in range(1, 5))
LIMIT_ID = uuid.UUID(int=0x11)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def slots(table: SlotTable, tag: str) -> frozenset[uuid.UUID]:
    limit = table.get(tag)
    assert limit is not None, f"no limit on {tag!r}"
    return limit.active_slots


# -- CacheTable ------------------------------------------------------------------------------


def test_lookup_of_an_unknown_key_is_none() -> None:
    assert CacheTable().lookup("nope", T0) is None


def test_lookup_returns_the_newest_live_entry() -> None:
    table = CacheTable()
    first, second = Completed(1), Completed(2)
    table.insert("k", None, first)
    table.insert("k", later(60), second)
    assert table.lookup("k", T0) is second
    assert table.lookup("k", later(59.999999)) is second


def test_an_entry_expires_at_its_expiration() -> None:
    table = CacheTable()
    forever, short = Completed("forever"), Completed("short")
    table.insert("k", None, forever)
    table.insert("k", later(60), short)
    assert table.lookup("k", later(60)) is forever
    assert table.entries("k") == (CacheEntry("k", None, forever),)


def test_expired_entries_are_pruned_lazily_and_reported() -> None:
    events: list[CacheEvent] = []
    table = CacheTable(on_change=events.append)
    state = Completed(1)
    table.insert("k", later(10), state)
    assert table.statistics() == CacheStatistics(keys=1, entries=1)
    assert table.lookup("k", later(10)) is None
    assert table.statistics() == CacheStatistics(keys=0, entries=0)
    assert events == [
        CacheEntryAdded(key="k", expiration=later(10), state=state),
        CacheEntryPruned(key="k", now=later(10), count=1),
    ]
    table.check_invariants()


def test_prune_drops_every_expired_entry() -> None:
    table = CacheTable()
    table.insert("a", later(1), Completed(1))
    table.insert("a", None, Completed(2))
    table.insert("b", later(2), Completed(3))
    table.insert("c", later(3), Completed(4))
    assert table.prune(later(2)) == 2
    assert table.statistics() == CacheStatistics(keys=2, entries=2)
    assert repr(table) == "<CacheTable keys=2>"
    assert [entry.state.data for entry in table.entries("a")] == [2]
    assert table.entries("b") == ()
    assert table.prune(later(2)) == 0
    table.check_invariants()


def test_expirations_are_kept_in_utc() -> None:
    table = CacheTable()
    plus_two = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    entry = table.insert("k", plus_two, Completed(1))
    assert entry.expiration == T0
    assert entry.expiration.tzinfo is UTC


@pytest.mark.parametrize(
    ("key", "expiration", "message"),
    [
        pytest.param("", None, "a cache key must be a non-empty string, got ''", id="empty-key"),
        pytest.param(
            "k",
            datetime(2026, 1, 1),  # naive on purpose
            "cache expiration 2026-01-01T00:00:00 has no timezone",
            id="naive-expiration",
        ),
    ],
)
def test_bad_insertions_are_refused_and_change_nothing(
    key: str, expiration: datetime | None, message: str
) -> None:
    events: list[CacheEvent] = []
    table = CacheTable(on_change=events.append)
    with pytest.raises(InvalidArgument, match=message):
        table.insert(key, expiration, Completed(1))
    assert table.statistics() == CacheStatistics(keys=0, entries=0)
    assert events == []


# -- SlotTable: limits -----------------------------------------------------------------------


@attrs.define
class Recorder:
    freed: list[str] = attrs.Factory(list)
    events: list[SlotEvent] = attrs.Factory(list)

    def table(self) -> SlotTable:
        return SlotTable(on_free=self.freed.append, on_change=self.events.append)


def test_upsert_creates_then_updates_a_limit_keeping_id_and_holders() -> None:
    log = Recorder()
    table = log.table()
    created = table.upsert("db", 2, id=LIMIT_ID, now=T0)
    assert created.id == LIMIT_ID
    assert (created.tag, created.concurrency_limit, created.active_slots) == ("db", 2, frozenset())
    assert (created.created, created.updated) == (T0, T0)
    assert table.acquire(R1, {"db"}) == SlotOutcome(acquired=True, taken=("db",))
    updated = table.upsert("db", 5, id=uuid.UUID(int=99), now=later(1))
    assert updated.id == LIMIT_ID
    assert (updated.concurrency_limit, updated.active_slots) == (5, frozenset({R1}))
    assert (updated.created, updated.updated) == (T0, later(1))
    assert table.get("db") == updated
    assert log.events == [
        LimitCreated(id=LIMIT_ID, tag="db", limit=2, at=T0),
        SlotsTaken(run_id=R1, tags=("db",)),
        LimitUpdated(tag="db", limit=5, at=later(1)),
    ]
    assert log.freed == []


def test_all_lists_limits_by_tag() -> None:
    table = SlotTable()
    for tag in ["b", "c", "a"]:
        table.upsert(tag, 1, now=T0)
    assert [limit.tag for limit in table.all()] == ["a", "b", "c"]
    assert table.get("z") is None


@pytest.mark.parametrize(
    ("tag", "limit", "message"),
    [
        pytest.param("", 1, "tag must be a non-empty string, got ''", id="empty-tag"),
        pytest.param("db", -1, "must be an integer >= 0, got -1 for tag 'db'", id="negative"),
        pytest.param("db", True, "must be an integer >= 0, got True", id="bool"),
        pytest.param("db", 1.5, "must be an integer >= 0, got 1.5", id="float"),
    ],
)
def test_bad_limits_are_refused_and_change_nothing(tag: str, limit: int, message: str) -> None:
    log = Recorder()
    table = log.table()
    with pytest.raises(InvalidArgument, match=message):
        table.upsert(tag, limit, now=T0)
    assert table.all() == []
    assert log.events == []


def test_delete_returns_the_limit_and_drops_holders_claims_and_waiters() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    assert table.acquire(R2, {"db"}) == SlotOutcome(acquired=False, blocked=("db",))
    deleted = table.delete("db")
    assert deleted.active_slots == frozenset({R1})
    assert table.get("db") is None
    assert table.held_by(R1) == frozenset()
    assert table.waiters("db") == ()
    assert log.freed == ["db"]
    assert log.events[-1] == LimitDeleted(tag="db")
    assert table.statistics() == SlotStatistics(
        limits=0, held_slots=0, holding_runs=0, waiting_runs=0
    )
    assert table.acquire(R2, {"db"}) == SlotOutcome(acquired=True)
    table.check_invariants()


def test_deleting_an_unknown_limit_raises_a_key_error() -> None:
    with pytest.raises(KeyError) as raised:
        SlotTable().delete("nope")
    assert isinstance(raised.value, ObjectNotFound)
    assert str(raised.value) == "concurrency limit 'nope' was not found"


def test_reset_replaces_the_holders() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 2, now=T0)
    table.acquire(R1, {"db"})
    table.acquire(R2, {"db"})
    table.acquire(R3, {"db"})  # waits
    reset = table.reset("db", [R3], now=later(5))
    assert reset.active_slots == frozenset({R3})
    assert reset.updated == later(5)
    assert table.held_by(R1) == frozenset()
    assert table.held_by(R3) == frozenset({"db"})
    assert table.waiters("db") == ()
    assert log.events[-1] == LimitReset(tag="db", active_slots=(R3,), at=later(5))
    assert table.reset("db", now=later(6)).active_slots == frozenset()
    table.check_invariants()


def test_reset_wakes_waiters_when_slots_free() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    table.acquire(R2, {"db"})
    table.reset("db", now=T0)
    assert log.freed == ["db"]


def test_reset_refuses_unknown_tags_and_non_ids() -> None:
    table = SlotTable()
    with pytest.raises(ObjectNotFound, match="concurrency limit 'db' was not found"):
        table.reset("db", now=T0)
    table.upsert("db", 1, now=T0)
    with pytest.raises(InvalidArgument, match="slot_override must hold run ids"):
        table.reset("db", ["not-a-uuid"], now=T0)  # type: ignore[list-item]
    assert table.get("db") is not None
    table.check_invariants()


# -- SlotTable: slots ------------------------------------------------------------------------


def test_tags_without_limits_need_no_slot() -> None:
    table = SlotTable()
    assert table.acquire(R1, {"free"}) == SlotOutcome(acquired=True)
    table.upsert("db", 1, now=T0)
    assert table.acquire(R1, {"free"}) == SlotOutcome(acquired=True)
    assert table.held_by(R1) == frozenset()


def test_acquire_is_all_or_nothing() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("a", 1, now=T0)
    table.upsert("b", 1, now=T0)
    table.acquire(R1, {"b"})
    assert table.acquire(R2, {"a", "b", "free"}) == SlotOutcome(acquired=False, blocked=("b",))
    assert table.held_by(R2) == frozenset()
    assert slots(table, "a") == frozenset()
    assert table.waiters("a") == ()
    assert table.waiters("b") == (R2,)
    table.check_invariants()


def test_every_full_tag_is_named_in_order() -> None:
    table = SlotTable()
    for tag in ["c", "a", "b"]:
        table.upsert(tag, 1, now=T0)
    table.acquire(R1, {"a", "b", "c"})
    assert table.acquire(R2, {"c", "b", "a"}) == SlotOutcome(
        acquired=False, blocked=("a", "b", "c")
    )


def test_a_zero_limit_refuses_at_once_and_queues_nothing() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("full", 1, now=T0)
    table.upsert("zero", 0, now=T0)
    table.upsert("alpha-zero", 0, now=T0)
    table.acquire(R1, {"full"})
    assert table.acquire(R2, {"full"}).blocked == ("full",)
    outcome = table.acquire(R2, {"full", "zero", "alpha-zero"})
    assert outcome == SlotOutcome(acquired=False, zero_limit="alpha-zero")
    assert table.waiters("full") == ()  # R2 will abort: it gives its place up
    assert table.held_by(R2) == frozenset()
    table.check_invariants()


def test_a_holder_is_never_blocked_by_its_own_slot() -> None:
    table = SlotTable()
    table.upsert("db", 1, now=T0)
    assert table.acquire(R1, {"db"}) == SlotOutcome(acquired=True, taken=("db",))
    assert table.acquire(R1, {"db"}) == SlotOutcome(acquired=True)
    table.upsert("db", 0, now=T0)
    assert table.acquire(R1, {"db"}) == SlotOutcome(acquired=True)
    assert slots(table, "db") == frozenset({R1})


def test_waiters_are_served_first_come_first_served() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    assert not table.acquire(R2, {"db"}).acquired
    assert not table.acquire(R3, {"db"}).acquired
    assert not table.acquire(R2, {"db"}).acquired  # asking again keeps its place
    assert table.waiters("db") == (R2, R3)
    table.release(R1, {"db"})
    assert log.freed == ["db"]
    assert table.acquire(R4, {"db"}).blocked == ("db",)  # no barging in
    assert table.acquire(R3, {"db"}).blocked == ("db",)  # R2 is ahead
    assert table.acquire(R2, {"db"}) == SlotOutcome(acquired=True, taken=("db",))
    assert table.waiters("db") == (R3, R4)
    table.check_invariants()


def test_free_slots_beyond_the_waiters_go_to_newcomers() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    table.acquire(R2, {"db"})
    table.upsert("db", 3, now=T0)
    assert log.freed == ["db"]
    assert table.acquire(R3, {"db"}).acquired  # two free, one waiter ahead
    assert table.acquire(R4, {"db"}).blocked == ("db",)  # one free, claimed by R2
    assert table.acquire(R2, {"db"}).acquired
    table.check_invariants()


def test_success_leaves_every_queue() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("a", 1, now=T0)
    table.upsert("b", 1, now=T0)
    table.acquire(R1, {"a"})
    table.acquire(R2, {"a"})  # R2 waits on a
    table.acquire(R3, {"a"})  # R3 behind it
    table.release(R1, {"a"})
    log.freed.clear()
    # R2's tags changed: it no longer needs a, and its place in a's queue goes.
    assert table.acquire(R2, {"b"}) == SlotOutcome(acquired=True, taken=("b",))
    assert table.waiters("a") == (R3,)
    assert log.freed == ["a"]
    table.check_invariants()


def test_a_run_that_needs_no_slot_any_more_leaves_its_queues() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("a", 1, now=T0)
    table.acquire(R1, {"a"})
    table.acquire(R2, {"a"})
    table.acquire(R3, {"a"})
    table.release(R1, {"a"})
    log.freed.clear()
    assert table.acquire(R2, {"other"}) == SlotOutcome(acquired=True)  # its tags changed
    assert table.waiters("a") == (R3,)
    assert log.freed == ["a"]  # R3 is first now
    table.upsert("b", 1, now=T0)
    assert table.acquire(R3, {"b"}).taken == ("b",)
    assert table.acquire(R3, {"a", "b"}).acquired  # first in a's queue: served
    table.upsert("c", 1, now=T0)
    assert table.acquire(R4, {"c"}).taken == ("c",)
    assert table.acquire(R4, {"b", "c"}).blocked == ("b",)
    assert table.acquire(R4, {"c"}) == SlotOutcome(acquired=True)  # holds all it needs now
    assert table.waiters("b") == ()
    table.check_invariants()


def test_release_gives_back_only_held_slots_on_the_given_tags() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("a", 2, now=T0)
    table.upsert("b", 2, now=T0)
    table.acquire(R1, {"a", "b"})
    table.release(R2, {"a"})
    table.release(R1, {"zzz"})
    assert log.events[2:] == [SlotsTaken(run_id=R1, tags=("a", "b"))]
    table.release(R1, {"b", "zzz"})
    assert table.held_by(R1) == frozenset({"a"})
    assert log.events[3:] == [SlotsFreed(run_id=R1, tags=("b",))]
    assert log.freed == []  # nobody waits
    assert table.release_all(R1) == ("a",)
    assert table.release_all(R1) == ()
    assert table.statistics().held_slots == 0
    table.check_invariants()


def test_forget_waiter_lets_the_next_waiter_in() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    table.acquire(R2, {"db"})
    table.acquire(R3, {"db"})
    table.forget_waiter(R2)
    # Still full, but a waiter leaving always signals: whoever waited for R2 must wake.
    assert log.freed == ["db"]
    table.release(R1, {"db"})
    assert log.freed == ["db", "db"]
    table.acquire(R4, {"db"})
    table.forget_waiter(R3)
    assert log.freed == ["db", "db", "db"]  # R4 may go now
    table.forget_waiter(R3)  # twice is fine
    assert table.waiters("db") == (R4,)
    assert table.acquire(R4, {"db"}).acquired
    table.check_invariants()


def test_lowering_a_limit_to_zero_wakes_its_waiters() -> None:
    log = Recorder()
    table = log.table()
    table.upsert("db", 1, now=T0)
    table.acquire(R1, {"db"})
    table.acquire(R2, {"db"})
    table.upsert("db", 0, now=T0)
    assert log.freed == ["db"]
    assert table.acquire(R2, {"db"}) == SlotOutcome(acquired=False, zero_limit="db")
    assert table.waiters("db") == ()


def test_statistics_count_limits_slots_holders_and_waiters() -> None:
    table = SlotTable()
    table.upsert("a", 1, now=T0)
    table.upsert("b", 5, now=T0)
    table.acquire(R1, {"a", "b"})
    table.acquire(R2, {"a", "b"})
    table.acquire(R3, {"b"})
    assert table.statistics() == SlotStatistics(
        limits=2, held_slots=3, holding_runs=2, waiting_runs=1
    )
    assert repr(table) == "<SlotTable limits=2 holding_runs=2>"


def test_check_invariants_notices_a_corrupted_index() -> None:
    table = SlotTable()
    table.upsert("a", 1, now=T0)
    table.acquire(R1, {"a"})
    table._held[R2] = {"a"}
    with pytest.raises(AssertionError, match="holder index"):
        table.check_invariants()


# -- replaying the change records rebuilds the table ----------------------------------------


def replay(events: list[SlotEvent]) -> SlotTable:
    """Rebuild a slot table from its change records (what a journal will do)."""
    table = SlotTable()
    for event in events:
        match event:
            case LimitCreated(id=limit_id, tag=tag, limit=limit, at=at):
                table.upsert(tag, limit, id=limit_id, now=at)
            case LimitUpdated(tag=tag, limit=limit, at=at):
                table.upsert(tag, limit, now=at)
            case LimitDeleted(tag=tag):
                table.delete(tag)
            case LimitReset(tag=tag, active_slots=slots, at=at):
                table.reset(tag, slots, now=at)
            case SlotsTaken(run_id=run_id, tags=tags):
                # Taking is replayed on a table with no waiters, so it cannot be refused.
                assert table.acquire(run_id, tags).taken == tags
            case SlotsFreed(run_id=run_id, tags=tags):
                table.release(run_id, tags)
    return table


def snapshot(table: SlotTable) -> list[tuple[str, int, frozenset[uuid.UUID], uuid.UUID]]:
    return [(lim.tag, lim.concurrency_limit, lim.active_slots, lim.id) for lim in table.all()]


# -- a model-checked slot table -------------------------------------------------------------

RUNS = [uuid.UUID(int=n) for n in range(1, 6)]
TAGS = ["a", "b", "c"]
run_ids = st.sampled_from(RUNS)
tag_sets = st.frozensets(st.sampled_from([*TAGS, "unlimited"]), max_size=4)


class SlotTableMachine(RuleBasedStateMachine):
    """A SlotTable against a model of lists and dicts, step by step."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[SlotEvent] = []
        self.table = SlotTable(on_free=self.on_free, on_change=self.events.append)
        self.limits: dict[str, int] = {}
        self.holders: dict[str, set[uuid.UUID]] = {}
        self.queues: dict[str, list[uuid.UUID]] = {}
        self.overfull_allowed: set[str] = set()  # lowered below their holders since

    def on_free(self, tag: str) -> None:
        # Only ever called for a tag that has waiters to wake.
        assert self.queues.get(tag), f"on_free({tag!r}) with nobody waiting"

    def expected_outcome(self, run: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        relevant = sorted(tag for tag in tags if tag in self.limits)
        pending = [tag for tag in relevant if run not in self.holders[tag]]
        zero = [tag for tag in pending if self.limits[tag] == 0]
        if zero:
            return SlotOutcome(acquired=False, zero_limit=zero[0])
        blocked = []
        for tag in pending:
            free = self.limits[tag] - len(self.holders[tag])
            queue = self.queues[tag]
            ahead = queue.index(run) if run in queue else len(queue)
            if ahead >= free:
                blocked.append(tag)
        if blocked:
            return SlotOutcome(acquired=False, blocked=tuple(blocked))
        return SlotOutcome(acquired=True, taken=tuple(pending))

    @rule(tag=st.sampled_from(TAGS), limit=st.integers(0, 3))
    def upsert(self, tag: str, limit: int) -> None:
        self.table.upsert(tag, limit, now=T0)
        self.limits[tag] = limit
        self.holders.setdefault(tag, set())
        self.queues.setdefault(tag, [])
        if len(self.holders[tag]) > limit:
            self.overfull_allowed.add(tag)

    @rule(tag=st.sampled_from(TAGS))
    def delete(self, tag: str) -> None:
        if tag not in self.limits:
            with pytest.raises(ObjectNotFound):
                self.table.delete(tag)
            return
        deleted = self.table.delete(tag)
        assert deleted.active_slots == self.holders.pop(tag)
        del self.limits[tag], self.queues[tag]
        self.overfull_allowed.discard(tag)

    @rule(run=run_ids, tags=tag_sets)
    def acquire(self, run: uuid.UUID, tags: frozenset[str]) -> None:
        expected = self.expected_outcome(run, tags)
        held_before = self.table.held_by(run)
        outcome = self.table.acquire(run, tags)
        assert outcome == expected
        if outcome.acquired:
            for tag in outcome.taken:
                self.holders[tag].add(run)
            for queue in self.queues.values():
                if run in queue:
                    queue.remove(run)
        else:
            assert self.table.held_by(run) == held_before  # all or nothing
            if outcome.zero_limit is not None:
                for queue in self.queues.values():
                    if run in queue:
                        queue.remove(run)
            for tag in outcome.blocked:
                if run not in self.queues[tag]:
                    self.queues[tag].append(run)

    @rule(run=run_ids, tags=tag_sets)
    def release(self, run: uuid.UUID, tags: frozenset[str]) -> None:
        self.table.release(run, tags)
        for tag in tags:
            if tag in self.holders:
                self.holders[tag].discard(run)

    @rule(tag=st.sampled_from(TAGS), override=st.frozensets(run_ids, max_size=3))
    def reset(self, tag: str, override: frozenset[uuid.UUID]) -> None:
        if tag not in self.limits:
            return
        self.table.reset(tag, override, now=T0)
        self.holders[tag] = set(override)
        self.queues[tag] = [run for run in self.queues[tag] if run not in override]
        if len(override) > self.limits[tag]:
            self.overfull_allowed.add(tag)

    @rule(run=run_ids)
    def forget(self, run: uuid.UUID) -> None:
        self.table.forget_waiter(run)
        for queue in self.queues.values():
            if run in queue:
                queue.remove(run)

    @invariant()
    def matches_the_model(self) -> None:
        self.table.check_invariants()
        for tag, limit in self.limits.items():
            current = self.table.get(tag)
            assert current is not None
            assert current.concurrency_limit == limit
            assert current.active_slots == self.holders[tag]
            assert list(self.table.waiters(tag)) == self.queues[tag]
        assert [limit.tag for limit in self.table.all()] == sorted(self.limits)

    @invariant()
    def holders_never_exceed_a_limit_unless_it_was_lowered(self) -> None:
        for tag, limit in self.limits.items():
            if len(self.holders[tag]) <= limit:
                self.overfull_allowed.discard(tag)
            else:
                assert tag in self.overfull_allowed, f"{tag!r} over its limit"

    def teardown(self) -> None:
        # The change records alone rebuild the limits and their holders.
        assert snapshot(replay(self.events)) == snapshot(self.table)


TestSlotTableMachine = SlotTableMachine.TestCase
TestSlotTableMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
