"""Tests of the typed index wrappers: SortedIndex and SetIndex."""

from __future__ import annotations

import pytest

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
