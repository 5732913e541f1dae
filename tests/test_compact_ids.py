"""State ids held as ints inside State behave as the UUIDs they stand for."""

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
