"""Restoring an engine from its journal, then recovering as from a dead worker.

:func:`restore` applies the journal's records to the engine's store (not through the
policies: :class:`~orchestrator._engine._replay.Replay`), resumes the id and jitter
sources and a virtual clock where the journal left them, then recovers: the process
that wrote the journal is gone, so whatever it held is treated as a dead worker's, at
once and without waiting for a lease:

* a SCHEDULED background run goes back on its task key's queue at its due time (queue
  bounds are ignored: the run was admitted before);
* a PENDING (claimed) background run goes back on its retry queue, due now;
* a RUNNING background run with retries left is retried at once (AwaitingRetry due now,
  the attempt counted), else it ends Crashed;
* any other PENDING or RUNNING task run ends Crashed (nothing would drive it again);
* a PENDING or RUNNING flow run ends Crashed (its process is gone).

Recovery proposals go through the engine, forced, so they are journaled and logged in
the decision log like any other change.
"""

from __future__ import annotations

import gc
import json
import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._core._clock import VirtualClock
from .._core._models import TaskRun
from .._core._states import AwaitingRetry, Crashed, State, StateDetails, StateType
from .._journal._errors import JournalCorrupted, JournalError
from .._journal._writer import CountingRandom
from ._replay import Replay

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["restore"]

_BACK_MESSAGE = "the process that held this run stopped; it is back on its queue"
_CRASH_MESSAGE = "the process that ran this run stopped before the run finished"


def restore(engine: Engine) -> int:
    """Rebuild ``engine`` from its journal and recover; return how many records were read.

    The caller holds the engine's lock and has just built the engine with the journal's
    seed; the orchestrator being built is dropped when this raises.

    Raises:
        JournalCorrupted: a record cannot be read or does not fit what came before.
    """
    writer = engine.journal
    assert writer is not None
    file = writer.file
    meta = file.meta()
    count = 0
    writer.muted = True
    collecting = gc.isenabled()
    gc.disable()  # millions of new objects, none of them garbage: no collection passes
    try:
        replay = Replay(engine)
        for record in file.load():
            replay.apply(record)
            count += 1
        replay.finish()
    except JournalError:
        raise
    except Exception as error:
        reason = f"record {count + 1} (counting the snapshot's first) does not fit: {error!r}"
        raise JournalCorrupted(reason, path=file.path) from error
    finally:
        writer.muted = False
        if collecting:
            gc.enable()
    _resume_sources(engine, meta)
    if count:
        recover(engine)
    return count


def _resume_sources(engine: Engine, meta: Any) -> None:
    """Advance the id source past the ids drawn, and give jitter and clock their state."""
    ids: CountingRandom = engine._ids  # type: ignore[assignment]
    drawn = int(meta.get("ids_drawn", "0"))
    done = 0
    saved = meta.get("ids_state")  # where it stood at the last compaction
    if saved is not None:
        done, (version, internal, gauss) = json.loads(saved)
        if done <= drawn:
            ids.setstate((version, tuple(internal), gauss))
        else:  # pragma: no cover - a compaction is never ahead of the log's rows
            done = 0
    draw = random.Random.getrandbits
    for _ in range(drawn - done):
        draw(ids, 128)
    ids.draws = drawn
    jitter = meta.get("jitter")
    if jitter is not None:
        version, internal, gauss = json.loads(jitter)
        engine.random.setstate((version, tuple(internal), gauss))
    clock = meta.get("clock")
    if clock is not None and isinstance(engine.clock, VirtualClock):
        when = datetime.fromisoformat(clock)
        if when > engine.clock.now():
            engine.clock.set(when)


def _retries_left(run: TaskRun) -> bool:
    retries = run.empirical_policy.retries
    return retries is not None and run.run_count <= retries


def recover(engine: Engine) -> None:
    """Treat every run the dead process held as a dead worker's (see the module)."""
    now = engine.clock.now()
    for flow_run in list(engine.store.flow_runs.values()):
        flow_state = flow_run.state
        if flow_state is not None and flow_state.type in (StateType.PENDING, StateType.RUNNING):
            engine.propose(
                flow_run,
                Crashed(message=_CRASH_MESSAGE),
                force=True,
                policy=engine.policies.minimal_flow,
            )
            engine.deployment_slots.release_all(flow_run.id)
    for run in list(engine.store.task_runs.values()):
        state = run.state
        if state is None:
            continue
        kind = state.type
        details = state.details
        if kind is StateType.SCHEDULED:
            if details.deferred:
                engine.queues.put(run, retry=state.name == "AwaitingRetry")
            continue
        if kind is not StateType.PENDING and kind is not StateType.RUNNING:
            continue
        proposal: State
        if details.deferred and (kind is StateType.PENDING or _retries_left(run)):
            proposal = AwaitingRetry(
                now,
                message=_BACK_MESSAGE,
                details=StateDetails(deferred=True, task_parameters_id=details.task_parameters_id),
            )
        else:
            proposal = Crashed(message=_CRASH_MESSAGE)
        engine.propose(run, proposal, force=True, policy=engine.choose_task_policy(proposal, True))
        engine.slots.release_all(run.id)  # the dead process's slots
