"""State ids held as ints and derived dynamic keys behave as the values they stand for."""

from __future__ import annotations

import copy
import pickle
import uuid

import attrs
import pytest

from orchestrator import Orchestrator, Running, State, StateType, VirtualClock
from orchestrator._core._errors import InvalidArgument


def test_a_state_id_reads_back_as_an_equal_uuid() -> None:
    given = uuid.uuid4()
    state = State(type=StateType.RUNNING, id=given)
    assert isinstance(state.id, uuid.UUID)
    assert state.id == given
    assert hash(state.id) == hash(given)
    assert State(type=StateType.RUNNING).id is None


def test_equality_hashing_evolve_pickling_and_copies_keep_the_id() -> None:
    given = uuid.UUID(int=7)
    state = State(type=StateType.RUNNING, id=given)
    same = State(type=StateType.RUNNING, id=uuid.UUID(int=7))
    assert state == same
    assert hash(state) == hash(same)
    assert state != State(type=StateType.RUNNING, id=uuid.UUID(int=8))
    assert attrs.evolve(state, name="Again").id == given
    other = uuid.uuid4()
    assert attrs.evolve(state, id=other).id == other
    assert attrs.evolve(state, id=None).id is None
    for restored in (pickle.loads(pickle.dumps(state)), copy.copy(state), copy.deepcopy(state)):
        assert restored == state
        assert restored.id == given
    assert state.copy().id is None
    assert attrs.asdict(state, recurse=False)["id"] == given


def test_an_id_of_another_kind_is_kept_as_given() -> None:
    class MyUUID(uuid.UUID):
        pass

    mine = MyUUID(int=5)
    assert State(type=StateType.RUNNING, id=mine).id is mine
    odd = State(type=StateType.RUNNING, id=5)  # type: ignore[arg-type]
    assert odd.id == 5
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run = orch.create_task_run("t").run
    with pytest.raises(InvalidArgument):
        orch.set_task_run_state(run.id, odd)


def test_committed_states_are_found_by_their_uuid() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run = orch.create_task_run("t").run
    orch.set_task_run_state(run.id, Running())
    mine = uuid.uuid4()
    orch.set_task_run_state(run.id, State(type=StateType.COMPLETED, id=mine))
    for state in orch.read_task_run_states(run.id):
        assert state.id is not None
        assert orch.read_task_run_state(state.id) == state
    assert orch.read_task_run_state(mine).id == mine
    orch.check_invariants()


def test_a_drawn_dynamic_key_is_derived_from_the_run_id_and_finds_the_run() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run = orch.create_task_run("t").run
    assert run.dynamic_key == f"t-{run.id.hex}"
    assert run.dynamic_key == run.dynamic_key
    again = orch.create_task_run("t", dynamic_key=run.dynamic_key)
    assert again.run is run
    assert not again.created
    assert orch.create_task_run("other", dynamic_key=run.dynamic_key).created
    assert orch.create_task_run("t", dynamic_key=run.dynamic_key.upper()).created
    orch.check_invariants()
    orch.delete_task_run(run.id)
    assert orch.create_task_run("t", dynamic_key=run.dynamic_key).created
    orch.check_invariants()


def test_a_key_of_the_drawn_form_chosen_by_the_caller_is_idempotent() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run_id = uuid.UUID(int=12345)
    key = f"t-{run_id.hex}"
    first = orch.create_task_run("t", id=run_id, dynamic_key=key)
    assert first.created
    assert first.run.dynamic_key == key
    second = orch.create_task_run("t", id=run_id, dynamic_key=key)
    assert not second.created
    assert second.run is first.run
    restored = copy.copy(first.run)
    assert restored.dynamic_key == key
    assert attrs.evolve(first.run, name="x").dynamic_key == key
    with pytest.raises(Exception, match="already used"):
        orch.create_task_run("t", id=run_id)
    orch.check_invariants()
