"""The run-log store on its own: bounds, the flow index, forgetting, against a plain model."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import RunLog
from orchestrator._engine._run_logs import RunLogs, check_level

START = datetime(2026, 1, 1, tzinfo=UTC)


def line(
    n: int,
    *,
    task_run_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
    level: int = logging.INFO,
) -> RunLog:
    return RunLog(
        timestamp=START + timedelta(seconds=n),
        level=level,
        message=f"line {n}",
        task_run_id=task_run_id,
        flow_run_id=flow_run_id,
    )


def make_store(live: set[uuid.UUID], *, limit: int = 3, level: int = logging.INFO) -> RunLogs:
    return RunLogs(lock=threading.RLock(), limit=limit, level=level, exists=live.__contains__)


def test_lines_of_no_run_below_the_level_or_of_an_unknown_run_are_not_kept() -> None:
    known = uuid.uuid4()
    logs = make_store({known})
    assert not logs.add(line(1))
    assert not logs.add(line(2, task_run_id=known, level=logging.DEBUG))
    assert not logs.add(line(3, task_run_id=uuid.uuid4()))
    assert logs.add(line(4, task_run_id=known))
    assert (len(logs), logs.keeps(logging.DEBUG), logs.keeps(logging.INFO)) == (1, False, True)
    logs.check_invariants()


def test_random_operations_agree_with_a_plain_model() -> None:
    rng = random.Random(7)
    flows = [uuid.uuid4() for _ in range(3)]
    tasks = {uuid.uuid4(): rng.choice([None, *flows]) for _ in range(8)}
    live = set(flows) | set(tasks)
    logs = make_store(live, limit=3)
    model: dict[uuid.UUID, list[RunLog]] = {}
    dropped: dict[uuid.UUID, int] = {}
    for n in range(600):
        action = rng.random()
        if action < 0.85:
            if rng.random() < 0.3:
                run_id = rng.choice(flows)
                new = line(n, flow_run_id=run_id)
            else:
                run_id = rng.choice(list(tasks))
                new = line(n, task_run_id=run_id, flow_run_id=tasks[run_id])
            assert logs.add(new) == (run_id in live)
            if run_id in live:
                kept = model.setdefault(run_id, [])
                kept.append(new)
                if len(kept) > 3:
                    del kept[0]
                    dropped[run_id] = dropped.get(run_id, 0) + 1
        else:
            run_id = rng.choice([*flows, *tasks])
            logs.forget(run_id)
            model.pop(run_id, None)
            dropped.pop(run_id, None)
            if rng.random() < 0.5:
                live.discard(run_id)  # deleted; otherwise forgotten and logging again
            else:
                live.add(run_id)
        logs.check_invariants()
        for flow_run_id in flows:
            members = [flow_run_id, *(t for t, f in tasks.items() if f == flow_run_id)]
            expected = sorted(
                (entry for member in members for entry in model.get(member, [])),
                key=lambda entry: entry.timestamp,
            )
            assert logs.read(flow_run_id=flow_run_id) == expected
            assert logs.dropped(flow_run_id=flow_run_id) == sum(
                dropped.get(member, 0) for member in members
            )
        every = sorted((e for lines in model.values() for e in lines), key=lambda e: e.timestamp)
        assert logs.read() == every
        assert len(logs) == len(every)


def test_forgetting_most_runs_gives_memory_back_and_keeps_the_rest() -> None:
    runs = [uuid.uuid4() for _ in range(1100)]
    logs = make_store(set(runs))
    for n, run_id in enumerate(runs):
        logs.add(line(n, task_run_id=run_id))
    for run_id in runs[:-10]:
        logs.forget(run_id)
    logs.check_invariants()
    assert [entry.task_run_id for entry in logs.read()] == runs[-10:]


@pytest.mark.parametrize(
    ("value", "level"),
    [(0, 0), (5, 5), ("debug", 10), ("Warning", 30), ("CRITICAL", 50), (logging.ERROR, 40)],
)
def test_levels_are_numbers_or_names(value: object, level: int) -> None:
    assert check_level(value, "level") == level
