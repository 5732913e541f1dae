"""TaskQueues against a naive list model, driven by Hypothesis stateful testing.

The model keeps every live entry in a dict and answers ``get_nowait`` by sorting: the
multi-queue's round-robin pointer, the retry part first, ``(due, sequence)`` order, stale
entries dropped when met. After every step the registry must agree with the model and
pass its own ``check_invariants``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import anyio
import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from orchestrator import TaskRun
from orchestrator._queues._registry import MultiQueue
from tests.queue_helpers import World

KEYS = ("a", "b", "c")


@attrs.frozen
class ModelEntry:
    """What the model remembers of a live entry."""

    run_id: uuid.UUID
    key: str
    retry: bool
    due: datetime
    sequence: int
    state_id: uuid.UUID | None


class QueueMachine(RuleBasedStateMachine):
    """Random puts, re-puts, moves, deletions, discards, clock moves and gets."""

    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.world = World(scheduled_size=4)
        self.multi = MultiQueue(["a", "b", "c"], queues=self.world.queues)
        self.model: dict[uuid.UUID, ModelEntry] = {}
        self.sequence = 0
        self.pointer = 0
        self.delivered = 0
        self.dropped = 0

    def _record(self, run: TaskRun, retry: bool) -> None:
        assert run.state is not None
        due = run.state.details.scheduled_time
        assert due is not None
        self.model[run.id] = ModelEntry(
            run.id, run.task_key, retry, due, self.sequence, run.state.id
        )
        self.sequence += 1

    @rule(
        target=runs,
        key=st.sampled_from(KEYS),
        due_in=st.integers(-3, 10),
        retry=st.booleans(),
    )
    def put_new(self, key: str, due_in: int, retry: bool) -> TaskRun:
        run = self.world.run(key, due_in=due_in, retry=retry)
        self._record(run, retry)
        return run

    @rule(run=runs, due_in=st.integers(-3, 10), retry=st.booleans())
    def put_again(self, run: TaskRun, due_in: int, retry: bool) -> None:
        self.world.move(run, due_in=due_in, retry=retry)
        self.world.queues.put(run, retry=retry)
        self._record(run, retry)

    @rule(run=runs)
    def move_elsewhere(self, run: TaskRun) -> None:
        self.world.move(run)  # claimed or rescheduled without a put: its entry is stale

    @rule(run=runs)
    def delete(self, run: TaskRun) -> None:
        self.world.runs.pop(run.id, None)

    @rule(run=runs)
    def discard(self, run: TaskRun) -> None:
        assert self.world.queues.discard(run.id) is (self.model.pop(run.id, None) is not None)

    @rule(seconds=st.integers(0, 6))
    def advance(self, seconds: int) -> None:
        self.world.clock.advance(seconds)

    @rule()
    def get(self) -> None:
        expected = self._expected_get()
        try:
            got: uuid.UUID | None = self.multi.get_nowait().id
        except anyio.WouldBlock:
            got = None
        assert got == expected

    def _expected_get(self) -> uuid.UUID | None:
        now = self.world.clock.now()
        for offset in range(len(KEYS)):
            index = (self.pointer + offset) % len(KEYS)
            for retry in (True, False):
                due = sorted(
                    (
                        e
                        for e in self.model.values()
                        if e.key == KEYS[index] and e.retry is retry and e.due <= now
                    ),
                    key=lambda e: (e.due, e.sequence),
                )
                for entry in due:
                    del self.model[entry.run_id]
                    run = self.world.runs.get(entry.run_id)
                    state = None if run is None else run.state
                    if run is not None and state is not None and state.id == entry.state_id:
                        self.pointer = (index + 1) % len(KEYS)
                        self.delivered += 1
                        return run.id
                    self.dropped += 1
        return None

    @invariant()
    def agrees_with_the_model(self) -> None:
        queues = self.world.queues
        queues.check_invariants()
        stats = queues.statistics()
        assert (stats.delivered, stats.dropped, len(queues)) == (
            self.delivered,
            self.dropped,
            len(self.model),
        )
        for key in KEYS:
            entries = [e for e in self.model.values() if e.key == key]
            queue = queues.for_key(key)
            scheduled = sum(not e.retry for e in entries)
            assert (queue.retry_count, queue.scheduled_count) == (
                len(entries) - scheduled,
                scheduled,
            )
            assert queue.has_room() is (scheduled < 4)
            assert queue.next_due() == min((e.due for e in entries), default=None)


QueueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_queues_agree_with_a_naive_model = QueueMachine.TestCase
