"""What the engine calls when it changes something: :class:`JournalWriter`.

The engine holds ``journal: JournalWriter | None``; None costs nothing. Each change is
appended as a record when it is made, before observers are told, and encoded at once
(the encoded text is the copy). The records of one public call are written to the file
in one transaction when the call's outermost hold of the engine's lock is released
(:class:`JournalLock`, used only when journaled), together with the meta values that
let a restore resume the id and jitter sources and a virtual clock.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from .._core._clock import Clock
from ._records import Record

__all__ = ["CountingRandom", "JournalFile", "JournalLock", "JournalWriter"]


class JournalFile(Protocol):
    """What the writer and restore need of a journal file (SQLite, or one in memory)."""

    def encode(self, record: Record) -> str:
        """The record as text (raises when a value in it cannot be serialised)."""

    def decode(self, text: str) -> Record:
        """The record a text of :meth:`encode` holds."""

    def meta(self) -> Mapping[str, str]:
        """The meta values last written."""

    def records(self) -> Iterator[str]:
        """Every record in order: the snapshot's, then the log's."""

    def write(self, records: Sequence[str], meta: Mapping[str, str]) -> None:
        """Append ``records`` and set ``meta`` in one transaction."""

    def replace(self, records: Sequence[str], meta: Mapping[str, str]) -> None:
        """Make ``records`` the snapshot and empty the log, in one transaction."""

    def close(self) -> None:
        """Flush and close the file."""


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
        return super().getrandbits(k)

    def random(self) -> float:
        """Draw a float in [0, 1), counted."""
        self.touched = True
        return super().random()


class JournalWriter:
    """Collects a call's records as encoded text and writes them when the call ends.

    Args:
        file: the journal file.
        clock: the engine's clock (a virtual clock's position is saved).
        seed: the engine's seed (saved).
        ids, jitter: the engine's counting random sources.
    """

    def __init__(
        self,
        file: JournalFile,
        *,
        clock: Clock,
        seed: int,
        ids: CountingRandom,
        jitter: CountingRandom,
    ) -> None:
        self.file = file
        self._clock = clock
        self._seed = seed
        self._ids = ids
        self._jitter = jitter
        self._pending: list[str] = []
        #: The error that broke the journal; every later write raises it again.
        self.broken: BaseException | None = None
        self.closed = False

    def append(self, record: Record) -> None:
        """Encode ``record`` now and keep it for this call's transaction.

        Raises:
            Exception: the journal is broken or closed, or a value cannot be serialised
                (nothing is kept; the caller undoes its change).
        """
        if self.broken is not None:
            raise RuntimeError(f"the journal failed earlier and takes no writes: {self.broken}")
        if self.closed:
            raise RuntimeError("the journal is closed: open the orchestrator again")
        self._pending.append(self.file.encode(record))

    def meta(self) -> dict[str, str]:
        """The meta values as they stand now."""
        values = {"seed": str(self._seed), "ids_drawn": str(self._ids.draws)}
        if self._clock.is_virtual:
            values["clock"] = self._clock.now().isoformat()
        if self._jitter.touched:
            values["jitter"] = json.dumps(self._jitter.getstate())
            self._jitter.touched = False
        return values

    def flush(self) -> None:
        """Write the pending records and the meta in one transaction.

        Raises:
            Exception: the file refused the transaction; the journal is broken from now on.
        """
        if not self._pending or self.closed:
            return
        records, self._pending = self._pending, []
        try:
            self.file.write(records, self.meta())
        except BaseException as exc:
            self.broken = exc
            raise

    def discard_pending(self) -> None:
        """Forget the records of a call that is being undone."""
        self._pending.clear()

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self.closed:
            return
        try:
            if self.broken is None:
                self.flush()
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
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
