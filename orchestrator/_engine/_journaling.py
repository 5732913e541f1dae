"""An orchestrator's journal: opening it, restoring from it, compacting and closing it.

``Orchestrator(journal=...)`` takes a path or a :class:`SQLiteJournal`;
:func:`open_journal` opens it (taking its lock) and teaches its codec the engine's
records. After the engine is built with the journal's seed, :func:`start_journal`
restores it (``_restore.py``) and arranges for the journal to be closed when the
orchestrator is garbage collected or the interpreter exits, with a ResourceWarning when
it was not closed explicitly.
"""

from __future__ import annotations

import functools
import os
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

from .._core._checks import wrong_type
from .._journal._records import (
    FlowAdded,
    Record,
    ResultDeleted,
    ResultWritten,
    RunHistory,
    TaskKeyConfigured,
)
from .._journal._sqlite import SQLiteJournal
from .._journal._writer import JournalWriter, register_records
from ._decision_journal import decisions_image
from ._engine import Engine
from ._object_journal import objects_image
from ._restore import restore
from ._table_replay import TABLE_EVENT_TYPES, table_image

__all__ = [
    "configure_task_key",
    "close_journal",
    "compact_journal",
    "open_journal",
    "saved_seed",
    "start_journal",
]


def open_journal(journal: object) -> SQLiteJournal:
    """Open ``journal`` (a path or an :class:`SQLiteJournal`) for an orchestrator.

    Raises:
        ArgumentTypeError: ``journal`` is neither.
        JournalError: the file cannot be opened (locked, newer, corrupted).
    """
    if isinstance(journal, str | os.PathLike):
        journal = SQLiteJournal(journal)
    if not isinstance(journal, SQLiteJournal):
        raise wrong_type("journal", journal, "a path or an SQLiteJournal(path, ...)")
    register_records(journal.codec)
    for event_class in TABLE_EVENT_TYPES:
        journal.codec.register(event_class)
    journal.open()
    return journal


def saved_seed(file: SQLiteJournal) -> int | None:
    """The seed a journal was written with, or None for a new journal."""
    seed = file.meta().get("seed")
    return None if seed is None else int(seed)


def _closed_by_collection(writer: JournalWriter) -> None:
    if writer.closed:
        return
    warnings.warn(
        f"the journal {writer.file.path!r} of an orchestrator was not closed: call "
        "orchestrator.close() or use 'with Orchestrator(journal=...) as orchestrator:'",
        ResourceWarning,
        stacklevel=2,
    )
    writer.close()


def start_journal(owner: Any, engine: Engine) -> Any:
    """Restore ``engine`` from its journal and close the journal with ``owner``.

    Returns the finalizer (called with the ``owner``'s collection or at exit).
    """
    writer = engine.journal
    assert writer is not None
    writer.image = lambda: image_records(engine)
    try:
        with engine.lock:
            restore(engine)
            engine.results.on_change = functools.partial(_result_changed, engine, writer)
            writer.flush(force=True)  # the seed of a new journal, the recovery's records
    except BaseException:
        writer.closed = True
        writer.file.close()
        raise
    return weakref.finalize(owner, _closed_by_collection, writer)


def _result_changed(
    engine: Engine, writer: JournalWriter, key: str, value: Any, deleted: bool
) -> None:
    """Journal a result store write or delete (under the engine's lock, so it is
    committed with the call that made it, or at once from a worker's thread)."""
    record = ResultDeleted(key) if deleted else ResultWritten(key, value)
    with engine.lock:
        writer.append(record, where=f"the result store value {key!r}")


def configure_task_key(
    engine: Engine, task_key: str, scheduled_size: int | None, retry_size: int | None
) -> None:
    """Set the bounds of ``task_key``'s queues, journaled (under the lock) when journaled."""
    if engine.journal is None:
        engine.queues.configure_task_key(
            task_key, scheduled_size=scheduled_size, retry_size=retry_size
        )
        return
    with engine.lock:
        engine.queues.configure_task_key(
            task_key, scheduled_size=scheduled_size, retry_size=retry_size
        )
        queue = engine.queues.for_key(task_key)
        record = TaskKeyConfigured(task_key, queue.scheduled_size, queue.retry_size)
        engine.journal.append(record)


def close_journal(engine: Engine) -> None:
    """Commit and close ``engine``'s journal (idempotent; nothing without one)."""
    writer = engine.journal
    if writer is not None:
        with engine.lock:
            writer.close()


def image_records(engine: Engine) -> Iterator[Record]:
    """The records that rebuild ``engine``'s store as it is now (a snapshot's)."""
    store = engine.store
    for flow in store.flows.values():
        yield FlowAdded(flow)
    yield from objects_image(engine)
    for flow_run in store.flow_runs.values():
        yield RunHistory(flow_run, tuple(store.flow_run_states(flow_run.id)))
    for run in store.task_runs.values():
        yield RunHistory(run, tuple(store.task_run_states(run.id)))
    yield from table_image(engine)
    if engine.journal is not None and engine.journal.keep_decisions:
        yield from decisions_image(engine)
    for task_key in engine.queues.task_keys:
        queue = engine.queues.for_key(task_key)
        yield TaskKeyConfigured(task_key, queue.scheduled_size, queue.retry_size)
    for key, value in engine.results.entries():
        yield ResultWritten(key, value)


def compact_journal(engine: Engine) -> None:
    """Replace the journal's snapshot and log with the engine's image, atomically."""
    writer = engine.journal
    if writer is not None:
        with engine.lock:
            writer.compact()
