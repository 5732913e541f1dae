"""Tests of the typed index wrappers: SortedIndex and SetIndex."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from orchestrator._core import _indexes as indexes_module
from orchestrator._core._indexes import SetIndex, SortedIndex


class Item:
    """A value compared by identity, like a run."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


def labels(items: object) -> list[str]:
    return [item.label for item in items]  # type: ignore[attr-defined]


def build() -> tuple[SortedIndex[int, Item], dict[str, Item]]:
    index: SortedIndex[int, Item] = SortedIndex()
    items = {label: Item(label) for label in "abcdef"}
    index.add(20, 0, items["a"])
    index.add(10, 1, items["b"])
    index.add(None, 2, items["c"])
    index.add(20, 3, items["d"])
    index.add(30, 4, items["e"])
    index.add(None, 5, items["f"])
    return index, items


def test_sorted_index_orders_by_key_then_sequence_and_keeps_nulls_apart() -> None:
    index, _ = build()
    assert labels(index.irange()) == ["b", "a", "d", "e"]
    assert labels(index.irange(reverse=True)) == ["e", "d", "a", "b"]
    assert labels(index.nulls()) == ["c", "f"]
    assert labels(index.nulls(reverse=True)) == ["f", "c"]
    assert len(index) == 6
    assert index.null_count == 2


def test_sorted_index_ranges_are_inclusive_or_half_open() -> None:
    index, _ = build()
    assert labels(index.irange(20, 30)) == ["a", "d", "e"]
    assert labels(index.irange(11, 20)) == ["a", "d"]
    assert labels(index.irange(20, 20, reverse=True)) == ["d", "a"]
    assert labels(index.irange(10, 30, hi_inclusive=False)) == ["b", "a", "d"]
    assert labels(index.irange(hi=20)) == ["b", "a", "d"]
    assert labels(index.irange(lo=21)) == ["e"]
    assert index.count(20, 30) == 3
    assert index.count(11, 20) == 2
    assert index.count(10, 30, hi_inclusive=False) == 3
    assert index.count(31, 40) == 0
    assert index.count(30, 10) == 0
    assert index.count() == 4


def test_sorted_index_move_and_remove() -> None:
    index, items = build()
    index.move(20, None, 0, items["a"])
    index.move(None, 5, 2, items["c"])
    assert labels(index.irange()) == ["c", "b", "d", "e"]
    assert labels(index.nulls()) == ["a", "f"]
    index.remove(30, 4, items["e"])
    index.remove(None, 5, items["f"])
    assert [(key, seq, item.label) for key, seq, item in index.entries()] == [
        (5, 2, "c"),
        (10, 1, "b"),
        (20, 3, "d"),
        (None, 0, "a"),
    ]


def test_sorted_index_remove_of_a_missing_entry_raises() -> None:
    index, items = build()
    with pytest.raises(ValueError, match="not in list"):
        index.remove(99, 0, items["a"])
    with pytest.raises(ValueError, match="not in list"):
        index.remove(None, 0, items["a"])


def test_sorted_index_bulk_update_matches_one_by_one_inserts() -> None:
    index, items = build()
    bulk: SortedIndex[int, Item] = SortedIndex()
    bulk.update(
        [
            (20, 0, items["a"]),
            (10, 1, items["b"]),
            (None, 2, items["c"]),
            (20, 3, items["d"]),
            (30, 4, items["e"]),
            (None, 5, items["f"]),
        ]
    )
    assert list(bulk.entries()) == list(index.entries())
    bulk.clear()
    assert len(bulk) == 0
    assert list(bulk.entries()) == []


def test_set_index_files_values_by_key_and_drops_empty_sets() -> None:
    index: SetIndex[str | None, Item] = SetIndex()
    a, b, c = Item("a"), Item("b"), Item("c")
    index.add("x", a)
    index.add("x", b)
    index.add(None, c)
    assert index.get("x") == {a, b}
    assert index.size("x") == 2
    assert index.size("y") == 0
    assert index.get("y") == frozenset()
    assert "x" in index
    assert None in index
    assert len(index) == 2
    index.move("x", "y", a)
    index.move(None, "y", c)
    assert index.as_dict() == {"x": frozenset({b}), "y": frozenset({a, c})}
    assert None not in index
    index.remove("x", b)
    assert set(index.keys()) == {"y"}
    with pytest.raises(KeyError):
        index.remove("x", b)
    index.clear()
    assert len(index) == 0


# -- deferred filing against a plain model ------------------------------------------------------
class SortedIndexMachine(RuleBasedStateMachine):
    """Writes are noted and filed by the next read: every read answers as a plain dict would.

    Small key ranges and a backlog floor patched low make runs move many times between
    reads, and make the backlog file itself while nobody reads.
    """

    def __init__(self) -> None:
        super().__init__()
        self.index: SortedIndex[int, Item] = SortedIndex()
        self.model: dict[Item, int | None] = {}
        self.items = [Item(f"v{seq}") for seq in range(12)]

    def _seq(self, item: Item) -> int:
        return self.items.index(item)

    @rule(position=st.integers(0, 11), key=st.none() | st.integers(0, 5))
    def add_or_move(self, position: int, key: int | None) -> None:
        item = self.items[position]
        if item in self.model:
            self.index.move(self.model[item], key, position, item)
        else:
            self.index.add(key, position, item)
        self.model[item] = key

    @rule(position=st.integers(0, 11))
    def remove(self, position: int) -> None:
        item = self.items[position]
        if item in self.model:
            self.index.remove(self.model.pop(item), position, item)
        else:
            with pytest.raises(ValueError, match="not in list"):
                self.index.remove(0, position, item)

    @rule(position=st.integers(0, 11), key=st.none() | st.integers(0, 5))
    def discard(self, position: int, key: int | None) -> None:
        item = self.items[position]
        was_there = item in self.model and self.model[item] == key
        assert self.index.discard(key, position, item) is was_there
        if was_there:
            del self.model[item]

    @rule(lo=st.none() | st.integers(0, 5), hi=st.none() | st.integers(0, 5))
    def read(self, lo: int | None, hi: int | None) -> None:
        keyed = sorted(
            (key, self._seq(item), item) for item, key in self.model.items() if key is not None
        )
        within = [
            item
            for key, _, item in keyed
            if (lo is None or key >= lo) and (hi is None or key <= hi)
        ]
        assert list(self.index.irange(lo, hi)) == within
        assert self.index.count(lo, hi) == len(within)
        nulls = sorted(self._seq(item) for item, key in self.model.items() if key is None)
        assert [self._seq(item) for item in self.index.nulls()] == nulls
        assert len(self.index) == len(self.model)


@pytest.fixture
def low_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexes_module, "_BACKLOG_FLOOR", 3)


@pytest.mark.parametrize("floor", ["default", "low"])
def test_deferred_filing_reads_as_a_plain_model(floor: str, request: pytest.FixtureRequest) -> None:
    if floor == "low":
        request.getfixturevalue("low_backlog")
    # Typed through a cast: some hypothesis releases ship this function unannotated,
    # which mypy --strict would refuse as an untyped call.
    run_machine = cast(Callable[..., None], run_state_machine_as_test)
    run_machine(SortedIndexMachine, settings=settings(max_examples=150, stateful_step_count=40))


def test_an_iterator_is_not_disturbed_by_writes_made_while_it_is_alive() -> None:
    index, items = build()
    walk = index.irange()
    assert next(walk).label == "b"
    index.move(20, 1, 0, items["a"])  # noted, not filed: the walk goes on as it was
    index.add(25, 9, Item("z"))
    assert labels(walk) == ["a", "d", "e"]
    assert labels(index.irange()) == ["a", "b", "d", "z", "e"]


def test_a_dormant_index_ignores_writes_and_builds_itself_at_the_first_read() -> None:
    source_items = {label: Item(label) for label in "xyz"}
    calls: list[int] = []

    def source() -> list[tuple[int | None, int, Item]]:
        calls.append(1)
        return [
            (30, 0, source_items["x"]),
            (None, 1, source_items["y"]),
            (10, 2, source_items["z"]),
        ]

    index: SortedIndex[int, Item] = SortedIndex(source)
    dormant_at_first = index.dormant
    index.add(5, 7, Item("ignored"))
    index.move(30, 1, 0, source_items["x"])
    index.remove(10, 2, source_items["z"])
    assert index.discard(10, 2, source_items["z"]) is False
    assert calls == []  # writes cost nothing while nobody has read
    assert labels(index.irange()) == ["z", "x"]  # built from the source, as it is now
    assert labels(index.nulls()) == ["y"]
    assert (dormant_at_first, index.dormant, calls) == (True, False, [1])
    index.move(30, 1, 0, source_items["x"])  # awake: writes are kept from now on
    assert labels(index.irange()) == ["x", "z"]


@pytest.mark.parametrize("first_read", ["get", "size", "contains", "len", "keys"])
def test_a_dormant_set_index_ignores_writes_and_builds_itself_at_the_first_read(
    first_read: str,
) -> None:
    a, b, c = Item("a"), Item("b"), Item("c")
    calls: list[int] = []

    def source() -> list[tuple[str | None, Item]]:
        calls.append(1)
        return [("x", a), ("x", b), (None, c)]

    index: SetIndex[str | None, Item] = SetIndex(source)
    index.add("y", Item("ignored"))
    index.move("x", "y", a)
    index.remove("x", b)
    assert index.discard(None, c) is False
    assert (index.dormant, calls, index.as_dict()) == (True, [], {})  # nothing held yet
    reads: dict[str, Callable[[], object]] = {
        "get": lambda: index.get("q"),
        "size": lambda: index.size("q"),
        "contains": lambda: "q" in index,
        "len": lambda: len(index),
        "keys": lambda: index.keys(),
    }
    reads[first_read]()
    assert (index.dormant, calls) == (False, [1])
    assert index.as_dict() == {"x": frozenset({a, b}), None: frozenset({c})}
    index.move("x", "y", a)  # awake: writes are kept from now on
    assert index.as_dict() == {"x": frozenset({b}), "y": frozenset({a}), None: frozenset({c})}
    assert calls == [1]
