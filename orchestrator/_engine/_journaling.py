"""An orchestrator's journal: opening it, restoring from it, compacting and closing it.

``Orchestrator(journal=...)`` takes a journal file object (a path once the SQLite file
layer is in); :func:`journal_file` checks it. After the engine is built with the
journal's seed, :func:`start_journal` restores it (``_restore.py``) and arranges for the
journal to be closed when the orchestrator is garbage collected or the interpreter
exits, with a ResourceWarning when it was not closed explicitly.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterator
from typing import Any

from .._core._checks import wrong_type
from .._journal._records import Record, TaskRunImage
from .._journal._writer import JournalFile, JournalWriter
from ._engine import Engine
from ._restore import restore

__all__ = ["close_journal", "compact_journal", "journal_file", "saved_seed", "start_journal"]

_METHODS = ("encode", "decode", "meta", "records", "write", "replace", "close")


def journal_file(journal: object) -> JournalFile:
    """``journal`` as a journal file.

    Raises:
        ArgumentTypeError: ``journal`` is not a journal file.
    """
    if not all(callable(getattr(journal, name, None)) for name in _METHODS):
        raise wrong_type("journal", journal, "a journal file, such as SQLiteJournal(path)")
    return journal  # type: ignore[return-value]


def saved_seed(file: JournalFile) -> int | None:
    """The seed a journal was written with, or None for a new journal."""
    seed = file.meta().get("seed")
    return None if seed is None else int(seed)


def _closed_by_collection(writer: JournalWriter) -> None:
    if writer.closed:
        return
    warnings.warn(
        "an orchestrator's journal was not closed: call orchestrator.close() or use "
        "'with Orchestrator(journal=...) as orchestrator:'",
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
    with engine.lock:
        restore(engine)
    return weakref.finalize(owner, _closed_by_collection, writer)


def close_journal(engine: Engine) -> None:
    """Flush and close ``engine``'s journal (idempotent; nothing without one)."""
    writer = engine.journal
    if writer is not None:
        with engine.lock:
            writer.close()


def image_records(engine: Engine) -> Iterator[Record]:
    """The records that rebuild ``engine``'s store as it is now (a snapshot's)."""
    store = engine.store
    for run in store.task_runs.values():
        yield TaskRunImage(run, tuple(store.task_run_states(run.id)))


def compact_journal(engine: Engine) -> None:
    """Replace the journal's snapshot and log with the engine's image, atomically."""
    writer = engine.journal
    if writer is None:
        return
    with engine.lock:
        writer.flush()
        file = writer.file
        texts = [file.encode(record) for record in image_records(engine)]
        file.replace(texts, writer.meta())
