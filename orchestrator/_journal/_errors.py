"""The journal's errors: every one is a :class:`JournalError`, an ``OrchestratorError``.

::

    OrchestratorError
    └── JournalError                              the journal cannot be used
        ├── JournalLocked                         another process owns the file
        ├── JournalVersionError                   an unknown format or a newer release
        ├── JournalCorrupted                      the file fails a check or a record
        └── JournalSerializationError (TypeError) a value the serializer refuses
"""

from __future__ import annotations

from typing import final

from .._core._errors import OrchestratorError

__all__ = [
    "JournalCorrupted",
    "JournalError",
    "JournalLocked",
    "JournalSerializationError",
    "JournalVersionError",
]


class JournalError(OrchestratorError):
    """A journal could not be opened, read or written."""


@final
class JournalLocked(JournalError):
    """Another process (or another journal in this one) owns the file.

    Attributes:
        path: the journal's path.
        pid: the owner's process id, or None when it could not be read.
    """

    def __init__(self, path: str, pid: int | None) -> None:
        owner = "an unknown process" if pid is None else f"process {pid}"
        super().__init__(
            f"the journal {path!r} is in use by {owner}; one process owns a journal at a time"
        )
        self.path = path
        self.pid = pid


@final
class JournalVersionError(JournalError):
    """The file was written in an unknown format or by a newer release of the package."""


@final
class JournalCorrupted(JournalError):
    """The file fails SQLite's check, is not a journal, or holds a record that cannot be read.

    Attributes:
        path: the journal's path.
        table: ``"snapshot"`` or ``"log"`` when one row is to blame, else None.
        seq: that row's sequence number in its table, else None.
    """

    def __init__(
        self, message: str, *, path: str, table: str | None = None, seq: int | None = None
    ) -> None:
        where = f"{table} row {seq} of " if seq is not None else ""
        super().__init__(f"{where}the journal {path!r} is corrupted: {message}")
        self.path = path
        self.table = table
        self.seq = seq


@final
class JournalSerializationError(JournalError, TypeError):
    """A value the journal's serializer cannot turn into bytes.

    Attributes:
        where: what held the value (``"the result of task run <id>"``, a field path).
        value_type: the qualified name of the value's type.
    """

    def __init__(self, where: str, value_type: str, reason: str) -> None:
        super().__init__(f"{where} cannot be journaled: a {value_type} ({reason})")
        self.where = where
        self.value_type = value_type
