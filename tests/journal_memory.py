"""A journal file held in memory, for restore tests that need no SQLite file.

It keeps what a file would (meta, snapshot rows, log rows) as text, so a test can hand
the same object to a second orchestrator to restore from. Records are encoded with
pickle (what the JSON codec of the file layer replaces); encoding happens at append,
so the text is a copy, as in a real journal.
"""

from __future__ import annotations

import base64
import io
import pickle
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any


def _as_dict(mapping: MappingProxyType[Any, Any]) -> tuple[type[dict[Any, Any]], tuple[Any]]:
    return dict, (dict(mapping),)


class MemoryJournal:
    """The journal-file protocol the engine writes to, in memory."""

    def __init__(self) -> None:
        self.meta_values: dict[str, str] = {}
        self.snapshot: list[str] = []
        self.log: list[str] = []
        self.transactions = 0
        self.closed = False
        self.fail_next_write = False

    def encode(self, record: Any) -> str:
        """The record as text."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer)
        # The engine shares one read-only empty mapping among runs; a dict stands in.
        pickler.dispatch_table = {MappingProxyType: _as_dict}
        pickler.dump(record)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def decode(self, text: str) -> Any:
        """The record of ``text``."""
        return pickle.loads(base64.b64decode(text))  # noqa: S301 - our own test data

    def meta(self) -> Mapping[str, str]:
        """The meta values."""
        return dict(self.meta_values)

    def records(self) -> Iterator[str]:
        """Snapshot rows, then log rows."""
        yield from self.snapshot
        yield from self.log

    def write(self, records: Sequence[str], meta: Mapping[str, str]) -> None:
        """Append ``records`` and set ``meta`` (one "transaction")."""
        if self.fail_next_write:
            self.fail_next_write = False
            raise OSError("disk full (simulated)")
        self.log.extend(records)
        self.meta_values.update(meta)
        self.transactions += 1

    def replace(self, records: Sequence[str], meta: Mapping[str, str]) -> None:
        """Make ``records`` the snapshot and empty the log."""
        self.snapshot = list(records)
        self.log = []
        self.meta_values.update(meta)

    def close(self) -> None:
        """Mark closed; the content stays for a reopen."""
        self.closed = True

    def reopen(self) -> MemoryJournal:
        """A copy of the content, as a second process opening the file would see it."""
        other = MemoryJournal()
        other.meta_values = dict(self.meta_values)
        other.snapshot = list(self.snapshot)
        other.log = list(self.log)
        return other
