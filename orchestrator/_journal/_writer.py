"""What the engine calls when it changes something: :class:`JournalWriter`.

The engine holds ``journal: JournalWriter | None``; None costs nothing. Each change is
appended as a record when it is made, before observers are told, and encoded at once
into plain values (they are the copy). The records of one public call are written to
the file as one row when the call's outermost hold of the engine's lock is released
(:class:`JournalLock`, used only when journaled), together with the meta values that
let a restore resume the id and jitter sources and a virtual clock.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterable
from types import MappingProxyType, TracebackType
from typing import Any

from .._core._clock import Clock
from .._core._drawn_keys import DRAWN_KEY
from .._core._events import Decision
from .._core._models import FlowRun, TaskRun, has_drawn_key
from .._core._outcomes import SetStateStatus
from .._core._states import State
from ._codec import Codec
from ._errors import JournalError
from ._records import RECORD_TYPES, PlainDecision, Record
from ._sqlite import SNAPSHOT_ROW, SQLiteJournal

__all__ = [
    "CountingRandom",
    "JournalLock",
    "JournalWriter",
    "journaled_sources",
    "register_records",
    "run_fields",
]

_logger = logging.getLogger("orchestrator")
_GETRANDBITS = random.Random.getrandbits


def run_fields(run: TaskRun | FlowRun) -> dict[str, Any]:
    """A run's fields for the codec: a task run's drawn-key marker kept, and the
    read-only empty mappings runs share given as plain dicts (they restore as dicts)."""
    getstate: Callable[[], dict[str, Any]] = run.__getstate__  # type: ignore[assignment]
    fields = dict(getstate())
    if isinstance(run, TaskRun) and has_drawn_key(run):
        fields["dynamic_key"] = DRAWN_KEY
    for name, value in fields.items():
        if value.__class__ is MappingProxyType:
            fields[name] = dict(value)
    return fields


def register_records(codec: Codec) -> None:
    """Teach ``codec`` the record classes (and how a task run's fields are encoded)."""
    codec.register(TaskRun, run_fields)
    codec.register(FlowRun, run_fields)
    for cls in (*RECORD_TYPES, Decision, SetStateStatus):
        codec.register(cls)


class CountingRandom(random.Random):
    """A ``random.Random`` that counts its draws (used only by journaled engines).

    ``draws`` tells restore how far to advance the id source; ``touched`` says whether
    the jitter source's state must be saved at the next flush.
    """

    draws: int
    touched: bool

    def seed(self, a: Any = None, version: int = 2) -> None:
        """Seed as ``random.Random`` does and reset the counts."""
        super().seed(a, version)
        self.draws = 0
        self.touched = False

    def getrandbits(self, k: int, /) -> int:
        """Draw ``k`` bits, counted."""
        self.draws += 1
        self.touched = True
        return _GETRANDBITS(self, k)

    def random(self) -> float:
        """Draw a float in [0, 1), counted."""
        self.touched = True
        return super().random()


class JournalWriter:
    """Collects a call's records, encoded as plain values, and commits them as one row
    when the call ends.

    Args:
        file: the open journal file.
        clock: the engine's clock (a virtual clock's position is saved).
        seed: the engine's seed (saved).
        ids, jitter: the engine's counting random sources.
        image: the records of the engine as it is now, for compaction.
    """

    def __init__(
        self,
        file: SQLiteJournal,
        *,
        clock: Clock,
        seed: int,
        ids: CountingRandom,
        jitter: CountingRandom,
        image: Callable[[], Iterable[Record]] | None = None,
    ) -> None:
        self.file = file
        self.image = image
        self._tree = file.wire.tree
        self._commit_tree = file.wire.commit_tree
        self._clock = clock
        self._seed = seed
        self._seed_saved = False
        self._last_clock: str | None = None
        self._ids = ids
        self._jitter = jitter
        self._pending: list[Any] = []
        self._batch = file.batch
        self._batch_size = file.batch_size
        #: The error that broke the journal; every later write raises JournalError.
        self.broken: BaseException | None = None
        self.closed = False
        #: True while restoring: the changes replayed are in the journal already.
        self.muted = False
        #: Whether decisions are journaled (the file's option; the engine turns it off
        #: when it keeps none).
        self.keep_decisions = file.keep_decisions
        #: The engine's lock (set by :class:`JournalLock`), which a batch's timed
        #: commit takes.
        self.lock: JournalLock | None = None
        self._timed = False
        self._closing = threading.Event()  # wakes a batch's timer at close

    def append(self, record: Record, *, where: str | None = None) -> None:
        """Encode ``record`` now (as plain values) and keep it for this call's row.

        ``where`` names what the record holds in an error (its class by default).

        Raises:
            JournalError: the journal is broken or closed, or a value cannot be
                serialised (JournalSerializationError); nothing is kept, and the caller
                undoes its change.
        """
        if self.muted:
            return
        if self.broken is not None or self.closed:
            raise self._refusal()
        what = type(record).__name__ if where is None else where
        self._pending.append(self._tree(record, what))

    def append_commit(self, run: TaskRun | FlowRun, state: State) -> None:
        """Append the :class:`StateCommitted` record of ``state`` committed to ``run``
        (encoded straight from the run; see :meth:`append`)."""
        if self.muted:
            return
        if self.broken is not None or self.closed:
            raise self._refusal()
        self._pending.append(self._commit_tree(run, state))

    def _refusal(self) -> JournalError:
        """The error for a change made once the journal is closed or broken."""
        why = "is closed" if self.closed else f"failed earlier ({self.broken})"
        return JournalError(
            f"the journal {self.file.path!r} {why} and takes no more changes; "
            "open a new orchestrator on it to restore its last committed state"
        )

    def plain_decision(self, run: TaskRun | FlowRun, forced: bool) -> None:
        """Append a :class:`PlainDecision` of ``run`` (when decisions are kept): a mark
        on the run's commit when that is the last record (most are), else a record of
        its own."""
        if not self.keep_decisions:
            return
        pending = self._pending
        if pending and not self.muted:
            last = pending[-1]
            if (
                last.__class__ is tuple
                and last[0] == 1
                and len(last) == 19
                and last[1] == run.id.int
            ):
                pending[-1] = (*last, 2 if forced else 1)
                return
        self.append(PlainDecision(run.id, isinstance(run, FlowRun), forced))

    def _clock_text(self) -> str | None:
        return self._clock.now().isoformat() if self._clock.is_virtual else None

    def meta(self, *, whole: bool = False) -> dict[str, str]:
        """The meta values a commit must also set: the seed once, the jitter source's
        state when it was drawn from; with ``whole`` (a compaction's) the id draws and
        the clock too (the log's rows hold them otherwise)."""
        values = {}
        if whole or not self._seed_saved:
            values["seed"] = str(self._seed)
        if whole:
            values["ids_drawn"] = str(self._ids.draws)
            # where the id source stood then, so a restore need not draw them all again
            values["ids_state"] = json.dumps([self._ids.draws, self._ids.getstate()])
            clock = self._clock_text()
            if clock is not None:
                values["clock"] = clock
        if self._jitter.touched:
            values["jitter"] = json.dumps(self._jitter.getstate())
            self._jitter.touched = False
        return values

    def flush(self, *, force: bool = False) -> None:
        """Commit the pending records and the meta in one transaction.

        With ``force`` the meta is committed even with no records (the clock's
        position at close, the seed of a new journal). In batch mode the records wait
        (unless ``force``) until there are ``batch_size`` of them, or until a timer
        started with the first of them ends after ``batch_window`` seconds and commits
        them. Compacts when the log reaches the file's threshold.

        Raises:
            JournalError: the file refused the transaction; the journal is broken.
        """
        pending = self._pending
        if self.closed or not (pending or force):
            return
        file = self.file
        if self._batch and not force and len(pending) < self._batch_size:
            if not self._timed:  # commit the batch when its window ends, calls or not
                self._timed = True
                threading.Thread(
                    target=self._commit_after_window, name="journal batch", daemon=True
                ).start()
            return
        self._commit()
        threshold = file.compact_threshold
        if threshold is not None and file.log_count >= threshold:
            self.compact()

    def _commit(self) -> None:
        """Commit the pending records (maybe none) and the meta in one transaction."""
        pending, self._pending = self._pending, []
        clock = self._clock_text()
        meta = self.meta()
        if not (pending or meta) and clock == self._last_clock:
            return  # nothing to say (a close with nothing new)
        try:
            body = self.file.wire.body(pending)
            self.file.commit(body, len(pending), self._ids.draws, clock, meta)
        except BaseException as exc:
            self.broken = exc
            raise
        self._seed_saved = True
        self._last_clock = clock

    def _commit_after_window(self) -> None:
        """Wait out the batch's window (real time), then commit it under the lock.

        Closing the journal ends the wait (close commits the batch itself).
        """
        if self._closing.wait(self.file.batch_window):
            return
        lock = self.lock
        if lock is None:
            return
        with lock:
            self._timed = False
            if not self._pending:
                return
            try:
                self.flush(force=True)
            except Exception:
                _logger.exception(
                    "a batch of the journal %r could not be committed", self.file.path
                )

    def compact(self) -> None:
        """Write the engine's image as the snapshot and empty the log, atomically."""
        if self.image is None or self.closed:
            return
        if self._pending:
            self._commit()  # the image includes them; committed first all the same
        tree, body = self._tree, self.file.wire.body
        bodies: list[bytes] = []
        chunk: list[Any] = []
        for record in self.image():
            chunk.append(tree(record, type(record).__name__))
            if len(chunk) == SNAPSHOT_ROW:
                bodies.append(body(chunk))
                chunk = []
        if chunk:
            bodies.append(body(chunk))
        try:
            self.file.compact(bodies, self.meta(whole=True))
        except JournalError as exc:
            self.broken = exc
            raise
        self._seed_saved = True

    def discard_pending(self) -> None:
        """Forget the records of a call that is being undone."""
        self._pending.clear()

    def close(self) -> None:
        """Commit what is pending and close the file (idempotent)."""
        if self.closed:
            return
        self._closing.set()
        try:
            if self.broken is None:
                self.flush(force=True)
        finally:
            self.closed = True
            self.file.close()


class JournalLock:
    """The engine's re-entrant lock with a depth count, for a journaled engine.

    When the outermost holder releases it, the call's records are written (still under
    the lock) before the lock is let go.
    """

    __slots__ = ("_depth", "_lock", "_writer")

    def __init__(self, writer: JournalWriter) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._writer = writer
        writer.lock = self

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (as ``threading.RLock.acquire``)."""
        taken = self._lock.acquire(blocking, timeout)
        if taken:
            self._depth += 1
        return taken

    def release(self) -> None:
        """Let the lock go; the outermost release writes the call's records first."""
        try:
            if self._depth == 1:
                self._writer.flush()
        finally:
            self._depth -= 1
            self._lock.release()

    def __enter__(self) -> bool:
        self._lock.acquire()
        self._depth += 1
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # release(), written out: every engine call passes here
        try:
            if self._depth == 1 and self._writer._pending:
                self._writer.flush()
        finally:
            self._depth -= 1
            self._lock.release()


def journaled_sources(
    file: SQLiteJournal, clock: Clock, seed: int, *, keep_decisions: bool
) -> tuple[JournalWriter, JournalLock, CountingRandom, CountingRandom]:
    """What a journaled engine writes and draws through: the writer on ``file``, the
    engine's lock (which commits a call's records), and its counted id and jitter
    sources (seeded ``seed`` and ``seed + 1``); decisions are journaled when both the
    file and the engine (``keep_decisions``) keep them."""
    ids, jitter = CountingRandom(seed), CountingRandom(seed + 1)
    writer = JournalWriter(file, clock=clock, seed=seed, ids=ids, jitter=jitter)
    writer.keep_decisions = file.keep_decisions and keep_decisions
    return writer, JournalLock(writer), ids, jitter
