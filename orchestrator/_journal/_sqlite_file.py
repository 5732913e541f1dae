"""Opening an SQLite journal file: connecting, checking, creating its tables.

A journal is opened in WAL mode (``synchronous`` per its durability), with incremental
auto-vacuum on a new file and a cap on the WAL file's size after a checkpoint, and
checked with ``PRAGMA quick_check``; a new one gets its tables and the format, release
and layout it is written with, an existing one is refused unless those are this
release's.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ._errors import JournalCorrupted, JournalError, JournalVersionError
from ._options import current_release, release_key
from ._wire import LAYOUTS

__all__ = ["FORMAT", "connect", "prepare", "sqlite_error"]

#: The file format this release writes and reads.
FORMAT: Final = 1
_WAL_LIMIT: Final = 64 * 1024 * 1024  # bytes a checkpointed WAL file is cut back to
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snapshot (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
    " ids INTEGER NOT NULL, clock TEXT, body BLOB NOT NULL)",
)


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """Open the file at ``path`` in WAL mode with ``synchronous`` and check it.

    Raises:
        JournalCorrupted: the file is not an SQLite database or fails its check.
        JournalError: it cannot be opened, or cannot use WAL mode.
    """
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise sqlite_error(path, "cannot be opened", error) from error
    try:
        # Only a new file takes it (before WAL mode writes its first page).
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"the journal {path!r} cannot use WAL mode ({mode})")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.Error as error:
        connection.close()
        raise sqlite_error(path, "cannot be read", error) from error
    except BaseException:
        connection.close()
        raise
    if problems != ["ok"]:
        connection.close()
        raise JournalCorrupted("; ".join(map(str, problems[:5])), path=path)
    return connection


def prepare(connection: sqlite3.Connection, path: str) -> bool:
    """Create the journal's tables in a new file, or check an existing one's format,
    release and layout; return True when created.

    Raises:
        JournalVersionError: not a journal, an unknown format, a newer release or
            another layout.
        JournalCorrupted: a table is missing.
    """
    try:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        }
        if not tables:
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("format", str(FORMAT)),
                    ("release", current_release()),
                    ("layout", LAYOUTS),
                ],
            )
            connection.execute("COMMIT")
            return True
        if "meta" not in tables:
            raise JournalVersionError(
                f"{path!r} is an SQLite file but not a journal (it has no meta table)"
            )
        meta = dict(connection.execute("SELECT key, value FROM meta"))
    except sqlite3.Error as error:
        raise sqlite_error(path, "cannot be read", error) from error
    found = meta.get("format")
    if found != str(FORMAT):
        raise JournalVersionError(
            f"the journal {path!r} has format {found!r}; this release reads format {FORMAT!r} only"
        )
    release, ours = meta.get("release", "0"), current_release()
    if release_key(release) > release_key(ours):
        raise JournalVersionError(
            f"the journal {path!r} was written by release {release}, newer than "
            f"this one ({ours}); open it with that release or a later one"
        )
    if meta.get("layout") != LAYOUTS:
        raise JournalVersionError(
            f"the journal {path!r} records runs and states with fields this "
            f"release does not have (layout {meta.get('layout')!r}, this release's is "
            f"{LAYOUTS!r}); open it with the release that wrote it ({release})"
        )
    if not {"snapshot", "log"} <= tables:
        raise JournalCorrupted("its snapshot or log table is missing", path=path)
    return False


def sqlite_error(path: str, what: str, error: sqlite3.Error) -> JournalError:
    """The journal error for an SQLite ``error`` (corruption named as such)."""
    name = getattr(error, "sqlite_errorname", "")
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT"):
        return JournalCorrupted(f"{error}", path=path)
    return JournalError(f"the journal {path!r} {what}: {error}")
