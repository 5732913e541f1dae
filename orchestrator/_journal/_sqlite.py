"""The journal file: an SQLite database in WAL mode, owned by one process at a time.

Layout (``FORMAT`` 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)      format, release, and the engine's values
    snapshot(seq INTEGER PRIMARY KEY, body BLOB)     the image the last compaction wrote
    log(seq INTEGER PRIMARY KEY, count INTEGER, ids INTEGER, clock TEXT, body BLOB)

A body is a row of records in the wire's form (see :mod:`._wire`). A log row is one public call's
changes (a batch's, in batch mode), with how many records it holds and the id source's
draws and a virtual clock's position after it, so most commits are a single INSERT.
Reading the journal back yields the snapshot's records, then the log's, each in ``seq``
order. :meth:`SQLiteJournal.commit` writes a row (and meta values) in one SQLite
transaction; :meth:`SQLiteJournal.compact` replaces snapshot and log in one, so a crash
at any point leaves either the old journal or the new one (SQLite's atomic commit; an
incomplete transaction at the end of the WAL is discarded when the file is next opened).
The file is created with incremental auto-vacuum, and a compaction hands the pages it
freed back to the file system.

Ownership: ``fcntl.flock`` on ``<path>.lock``, which holds the owner's pid as text. The
operating system frees the lock when its owner exits or is killed; a lock file left
behind is harmless.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any, Final, final

from ._codec import Codec
from ._errors import JournalCorrupted, JournalError
from ._lock import free_lock, take_lock
from ._options import SYNCHRONOUS, Durability, checked_options
from ._serializers import PickleSerializer, Serializer
from ._sqlite_file import FORMAT, connect, prepare, sqlite_error
from ._wire import Wire

__all__ = ["FORMAT", "SNAPSHOT_ROW", "SQLiteJournal"]

_INSERT_ROW: Final = "INSERT INTO log (count, ids, clock, body) VALUES (?, ?, ?, ?)"
_SET_META: Final = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
#: Records per snapshot row.
SNAPSHOT_ROW: Final = 1000


@final
class SQLiteJournal:
    """A journal file and its options; opening it is the orchestrator's business.

    Args:
        path: the SQLite file (created if missing); ``<path>.lock`` is its lock file.
        durability: ``"normal"`` (each call committed before it returns; survives a
            process crash), ``"full"`` (also survives power loss) or ``"batch"``
            (commits grouped by ``batch_size`` records or ``batch_window`` seconds: a
            crash loses at most that window).
        serializer: for values the codec has no tag for, such as results and
            parameters (default: :class:`PickleSerializer`, which makes the journal as
            trusted as code; :class:`JsonSerializer` stores JSON values only).
        batch_window: in ``"batch"`` mode, the longest a record waits for its commit.
        batch_size: in ``"batch"`` mode, the most records a commit waits for.
        keep_decisions: journal the decision log too.
        compact_threshold: compact once the log holds this many records (None: never
            on its own).

    Raises:
        ArgumentTypeError, ArgumentValueError: a bad option, named; nothing is opened.
    """

    __slots__ = (
        "_batch_size",
        "_batch_window",
        "_broken",
        "_codec",
        "_compact_threshold",
        "_connection",
        "_durability",
        "_keep_decisions",
        "_lock_fd",
        "_log_count",
        "_path",
        "_serializer",
        "_wire",
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "normal",
        serializer: Serializer | None = None,
        batch_window: float = 0.05,
        batch_size: int = 1000,
        keep_decisions: bool = True,
        compact_threshold: int | None = 100_000,
    ) -> None:
        self._path = checked_options(
            path,
            durability,
            serializer,
            batch_window,
            batch_size,
            keep_decisions,
            compact_threshold,
        )
        self._durability: Durability = durability
        self._serializer: Serializer = PickleSerializer() if serializer is None else serializer
        self._codec = Codec(self._serializer)
        self._wire = Wire(self._codec)
        self._batch_window = float(batch_window)
        self._batch_size = batch_size
        self._keep_decisions = keep_decisions
        self._compact_threshold = compact_threshold
        self._connection: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._broken: BaseException | None = None
        self._log_count = 0

    # -- options ------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The journal's file."""
        return self._path

    @property
    def durability(self) -> Durability:
        """``"normal"``, ``"full"`` or ``"batch"``."""
        return self._durability

    @property
    def batch(self) -> bool:
        """Whether commits are grouped (``durability="batch"``)."""
        return self._durability == "batch"

    @property
    def serializer(self) -> Serializer:
        """The serializer of values the codec has no tag for."""
        return self._serializer

    @property
    def codec(self) -> Codec:
        """The codec of this journal's records (register more classes on it before use)."""
        return self._codec

    @property
    def wire(self) -> Wire:
        """The wire form of this journal's records (built on :attr:`codec`)."""
        return self._wire

    @property
    def batch_window(self) -> float:
        """In batch mode, the longest a record waits for its commit, in seconds."""
        return self._batch_window

    @property
    def batch_size(self) -> int:
        """In batch mode, the most records a commit waits for."""
        return self._batch_size

    @property
    def keep_decisions(self) -> bool:
        """Whether the decision log is journaled."""
        return self._keep_decisions

    @property
    def compact_threshold(self) -> int | None:
        """The log's size that triggers a compaction (None: never automatic)."""
        return self._compact_threshold

    @property
    def is_open(self) -> bool:
        """Whether this object holds the file open (and its lock)."""
        return self._connection is not None

    @property
    def log_count(self) -> int:
        """Records in the log since the last compaction."""
        return self._log_count

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"SQLiteJournal({self._path!r}, durability={self._durability!r}, {state})"

    # -- opening and closing --------------------------------------------------------------
    def open(self) -> bool:
        """Take the lock, open the file (creating it if missing) and check it.

        Returns:
            True when the journal was created now (there is nothing to restore).

        Raises:
            JournalLocked: another process (or journal object) owns the file.
            JournalVersionError: an unknown format, or a file from a newer release.
            JournalCorrupted: the file is not an SQLite database or fails its check.
            JournalError: the journal is already open, or the file cannot be opened.
        """
        if self._connection is not None:
            raise JournalError(f"the journal {self._path!r} is already open")
        self._lock_fd = take_lock(self._path)
        try:
            connection = self._connect()
            try:
                created = self._prepare(connection)
                (count,) = connection.execute("SELECT total(count) FROM log").fetchone()
            except BaseException:
                connection.close()
                raise
        except BaseException:
            self._free_lock()
            raise
        self._connection = connection
        self._broken = None
        self._log_count = int(count)
        return created

    def close(self) -> None:
        """Close the file and free the lock; closing a closed journal does nothing."""
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                connection.close()
        finally:
            self._free_lock()

    def _free_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            free_lock(fd)

    def _connect(self) -> sqlite3.Connection:
        return connect(self._path, SYNCHRONOUS[self._durability])

    def _prepare(self, connection: sqlite3.Connection) -> bool:
        return prepare(connection, self._path)

    def _error(self, what: str, error: sqlite3.Error) -> JournalError:
        return sqlite_error(self._path, what, error)

    # -- writing ------------------------------------------------------------------------
    def _writable(self) -> sqlite3.Connection:
        connection = self._connection
        if connection is None:
            raise JournalError(f"the journal {self._path!r} is not open")
        if self._broken is not None:
            raise JournalError(
                f"the journal {self._path!r} failed a write ({self._broken}); "
                "reopen it to continue from its last commit"
            )
        return connection

    def _fail(self, connection: sqlite3.Connection, error: BaseException) -> JournalError:
        self._broken = error
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the write failed already; the file keeps its last commit
        return JournalError(f"the journal {self._path!r} could not be written: {error}")

    def commit(
        self,
        body: bytes,
        count: int,
        ids: int,
        clock: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Append one row to the log (``count`` records as the wire's ``body``, with the
        id source's draws and a virtual clock's position after them) and set ``meta``
        values, in one SQLite transaction (one statement when there is no meta).

        Raises:
            JournalError: the journal is closed, or the write failed; after a failed
                write every later one fails too (the file keeps its last commit).
        """
        connection = self._writable()
        try:
            if not meta:
                connection.execute(_INSERT_ROW, (count, ids, clock, body))
            else:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(_INSERT_ROW, (count, ids, clock, body))
                connection.executemany(_SET_META, meta.items())
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._fail(connection, error) from error
        self._log_count += count

    def compact(self, bodies: Iterable[bytes], meta: Mapping[str, str] | None = None) -> None:
        """Replace the snapshot with ``bodies`` (rows of records) and empty the
        log, in one transaction, then give the freed pages back.

        A crash before the commit leaves the journal as it was. If iterating ``bodies``
        raises, nothing changes and the error propagates (the journal stays usable).

        Raises:
            JournalError: as :meth:`commit`.
        """
        connection = self._writable()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("DELETE FROM snapshot")
            try:
                for body in bodies:
                    connection.execute("INSERT INTO snapshot (body) VALUES (?)", (body,))
            except sqlite3.Error:
                raise
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("DELETE FROM log")
            if meta:
                connection.executemany(_SET_META, meta.items())
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._fail(connection, error) from error
        self._log_count = 0
        # Give the freed pages back (nothing is lost if SQLite cannot); executescript
        # steps the pragma to its end, where execute frees one page.
        with contextlib.suppress(sqlite3.Error):
            connection.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")

    def set_meta(self, values: Mapping[str, str]) -> None:
        """Set meta values (text) in their own transaction."""
        connection = self._writable()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_SET_META, values.items())
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._fail(connection, error) from error

    # -- reading ------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """Every meta value: ``format``, ``release`` and what the engine keeps there
        (``ids_drawn`` and ``clock`` as the last log row left them)."""
        connection = self._writable()
        try:
            values = dict(connection.execute("SELECT key, value FROM meta"))
            last = connection.execute(
                "SELECT ids, clock FROM log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except sqlite3.Error as error:
            raise self._error("cannot be read", error) from error
        if last is not None:
            ids, clock = last
            values["ids_drawn"] = str(ids)
            if clock is not None:
                values["clock"] = clock
        return values

    def load(self) -> list[Any]:
        """Decode every record, the snapshot's then the log's, each in ``seq`` order.

        All are decoded before any is returned, so a bad record never leaves a caller
        with part of a journal.

        Raises:
            JournalCorrupted: a row cannot be decoded (naming its table and seq), or
                SQLite finds a damaged page.
        """
        connection = self._writable()
        decode = self._wire.load
        loaded: list[Any] = []
        for table in ("snapshot", "log"):
            seq = None
            try:
                rows = connection.execute(f"SELECT seq, body FROM {table} ORDER BY seq")
                for row_seq, body in rows:
                    seq = row_seq
                    loaded += decode(body)
            except sqlite3.Error as error:
                seq = _row_after(connection, table, seq)  # the row that could not be read
                reason = f"{type(error).__name__}: {error}"
                raise JournalCorrupted(reason, path=self._path, table=table, seq=seq) from error
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                raise JournalCorrupted(reason, path=self._path, table=table, seq=seq) from error
        return loaded


def _row_after(connection: sqlite3.Connection, table: str, seq: int | None) -> int | None:
    """The seq of the row after ``seq`` (the first if None), or None if it cannot be told."""
    try:
        (found,) = connection.execute(
            f"SELECT min(seq) FROM {table} WHERE seq > ?", (-1 if seq is None else seq,)
        ).fetchone()
    except sqlite3.Error:
        return None
    return found if isinstance(found, int) else None
