"""The task-run identity index: runs filed by dynamic key, shared keys kept apart."""

from __future__ import annotations

import pytest

from orchestrator._core._errors import ObjectAlreadyExists
from orchestrator._store._store import Store
from orchestrator._store._task_keys import TaskKeys

from .strategies import make_task_run, rid


def test_a_shared_dynamic_key_keeps_each_run_apart_and_folds_back() -> None:
    # Given three runs with dynamic key "0": two tasks of one flow run, one of another
    keys = TaskKeys()
    first = make_task_run(1, dynamic_key="0", flow_run_id=rid(100))
    second = make_task_run(2, dynamic_key="0", task_key="load", flow_run_id=rid(100))
    third = make_task_run(3, dynamic_key="0", flow_run_id=rid(101))
    for run in (first, second, third):
        keys.add(run)
    # Expect each found by its own identity only
    assert keys.get((rid(100), "extract", "0")) is first
    assert keys.get((rid(100), "load", "0")) is second
    assert keys.get((rid(101), "extract", "0")) is third
    assert keys.get((None, "extract", "0")) is None
    assert len(keys) == 3
    # When two go, expect the last one found as before
    del keys[(rid(100), "extract", "0")]
    del keys[(rid(101), "extract", "0")]
    assert keys.get((rid(100), "load", "0")) is second
    assert keys.get((rid(100), "extract", "0")) is None
    assert list(keys.runs()) == [second]
    with pytest.raises(KeyError):
        del keys[(rid(100), "extract", "0")]
    del keys[(rid(100), "load", "0")]
    assert len(keys) == 0
    assert list(keys.runs()) == []


def test_the_store_refuses_a_taken_identity_with_a_shared_dynamic_key() -> None:
    store = Store()
    store.add_task_run(make_task_run(1, dynamic_key="0", flow_run_id=rid(100)))
    store.add_task_run(make_task_run(2, dynamic_key="0", flow_run_id=rid(101)))
    with pytest.raises(ObjectAlreadyExists, match="already exists"):
        store.add_task_run(make_task_run(3, dynamic_key="0", flow_run_id=rid(101)))
    with pytest.raises(ObjectAlreadyExists, match="already exists"):
        store.add_task_runs([make_task_run(4, dynamic_key="0", flow_run_id=rid(100))])
    assert store.find_task_run(rid(101), "extract", "0") is store.get_task_run(rid(2))
    store.remove_task_run(rid(1))
    assert store.find_task_run(rid(100), "extract", "0") is None
    store.check_invariants()
