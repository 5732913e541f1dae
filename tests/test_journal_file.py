"""The journal's file: the SQLite journal and its lock, tested without an engine.

What a user of a journal relies on: records and meta values come back in order after a
reopen; compaction replaces snapshot and log at once; one process owns a journal at a
time and a killed owner frees it; a journal from an unknown format or a newer release is
refused; a transaction torn by a crash is dropped whole; damaged bytes are reported,
never half read. Real processes are started with timeouts and always reaped. The codec
is tested in ``test_journal_codec.py``.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import orchestrator
from orchestrator._journal._errors import (
    JournalCorrupted,
    JournalError,
    JournalLocked,
    JournalVersionError,
)
from orchestrator._journal._sqlite import SQLiteJournal

PACKAGE_ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)
TIMEOUT = 30  # seconds any helper process may take


# -- the file -------------------------------------------------------------------------------
@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def journal(path: Path) -> Iterator[SQLiteJournal]:
    opened = SQLiteJournal(path)
    assert opened.open() is True
    yield opened
    opened.close()


def write(
    journal: SQLiteJournal, values: Iterable[Any], meta: dict[str, str] | None = None
) -> None:
    """Commit ``values`` (as records) in one log row."""
    journal.commit(body(journal, values), len(list(values)), 0, None, meta)


def body(journal: SQLiteJournal, values: Iterable[Any]) -> bytes:
    """The bytes of a row holding ``values``."""
    return journal.wire.body([journal.codec.tree(value) for value in values])


def test_records_and_meta_come_back_in_order_after_a_reopen(path: Path) -> None:
    first = SQLiteJournal(path, durability="full")
    assert first.open() is True
    write(first, range(3), {"clock": "2026-01-01T00:00:00+00:00"})
    write(first, [("four", uuid.UUID(int=4))])
    assert first.log_count == 4
    first.close()
    first.close()  # idempotent
    again = SQLiteJournal(path)
    assert again.open() is False
    assert again.load() == [0, 1, 2, ("four", uuid.UUID(int=4))]
    assert again.meta()["clock"] == "2026-01-01T00:00:00+00:00"
    assert again.meta()["format"] == "1"
    again.close()


def test_compaction_replaces_snapshot_and_log_at_once(journal: SQLiteJournal) -> None:
    write(journal, range(5))
    journal.compact([body(journal, ["image"])], {"ids_drawn": "7"})
    assert journal.log_count == 0
    assert journal.meta()["ids_drawn"] == "7"
    write(journal, ["after"])
    assert journal.load() == ["image", "after"]
    assert journal.meta()["ids_drawn"] == "0"  # the last row's

    def failing() -> Iterator[bytes]:
        yield body(journal, ["half"])
        raise RuntimeError("the image could not be built")

    with pytest.raises(RuntimeError):
        journal.compact(failing())
    assert journal.load() == ["image", "after"]  # unchanged, and still writable
    write(journal, ["more"])
    assert journal.load() == ["image", "after", "more"]


def test_a_closed_journal_refuses_writes(path: Path) -> None:
    journal = SQLiteJournal(path)
    with pytest.raises(JournalError, match="not open"):
        journal.commit(b"", 1, 0)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"durability": "fast"}, "durability"),
        ({"batch_window": 0}, "batch_window"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"compact_threshold": 0}, "compact_threshold"),
        ({"keep_decisions": 1}, "keep_decisions"),
        ({"serializer": object()}, "serializer"),
    ],
)
def test_a_bad_option_is_refused_by_name(path: Path, options: dict[str, Any], name: str) -> None:
    with pytest.raises(orchestrator.InvalidArgument, match=name):
        SQLiteJournal(path, **options)
    assert not path.exists()


# -- ownership ------------------------------------------------------------------------------
OWNER = """
import sys
from orchestrator._journal._sqlite import SQLiteJournal
journal = SQLiteJournal(sys.argv[1])
journal.open()
print("ready", flush=True)
sys.stdin.readline()
"""


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_second_opener_is_refused_with_the_owners_pid_until_the_owner_is_killed(
    path: Path,
) -> None:
    owner = run_python(OWNER, str(path))
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "ready"
        with pytest.raises(JournalLocked) as caught:
            SQLiteJournal(path).open()
        assert caught.value.pid == owner.pid
        assert f"process {owner.pid}" in str(caught.value)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=TIMEOUT)
    finally:
        owner.kill()
        owner.wait(timeout=TIMEOUT)
        assert owner.stdin is not None
        assert owner.stdout is not None
        owner.stdin.close()
        owner.stdout.close()
    journal = SQLiteJournal(path)
    assert journal.open() is False  # the killed owner's lock is gone; its journal stays
    journal.close()


def test_a_second_journal_object_in_the_same_process_is_refused(journal: SQLiteJournal) -> None:
    with pytest.raises(JournalLocked) as caught:
        SQLiteJournal(journal.path).open()
    assert caught.value.pid == os.getpid()


# -- versions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("format", "2", "format '2'"),
        ("release", "999.0.0", "newer than this one"),
        ("layout", "0123456789abcdef", "fields this release does not have"),
    ],
)
def test_an_unknown_format_or_a_newer_release_is_refused(
    journal: SQLiteJournal, key: str, value: str, message: str
) -> None:
    journal.set_meta({key: value})
    journal.close()
    with pytest.raises(JournalVersionError, match=message):
        SQLiteJournal(journal.path).open()
    SQLiteJournal(journal.path).close()  # the refusal left the lock free
    with pytest.raises(JournalVersionError):
        SQLiteJournal(journal.path).open()


def test_an_sqlite_file_that_is_not_a_journal_is_refused(path: Path) -> None:
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE things (x)")
    other.close()
    with pytest.raises(JournalVersionError, match="not a journal"):
        SQLiteJournal(path).open()


# -- crashes and damage ---------------------------------------------------------------------
WRITER = """
import os, signal, sys
from orchestrator._journal._sqlite import SQLiteJournal
journal = SQLiteJournal(sys.argv[1])
journal.open()
wal = sys.argv[1] + "-wal"
def write(values):
    journal.commit(journal.wire.body([journal.codec.tree(v) for v in values]), len(values), 0)
for n in range(5):
    write([("small", n)])
print(os.path.getsize(wal), flush=True)
write([("big", n, f"{n:05d}" * 400) for n in range(150)])  # distinct: no sharing
print(os.path.getsize(wal), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_torn_final_transaction_is_dropped_whole(path: Path) -> None:
    writer = run_python(WRITER, str(path))
    try:
        out, _ = writer.communicate(timeout=TIMEOUT)
    finally:
        writer.kill()
        writer.wait(timeout=TIMEOUT)
    assert writer.returncode == -signal.SIGKILL
    before, after = map(int, out.split())
    assert after > before + 100_000  # the big transaction spans many WAL frames
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size == after  # nothing checkpointed it
    with wal.open("r+b") as torn:
        torn.truncate((before + after) // 2)  # a crash in the middle of its write
    assert open_and_load(path) == [("small", n) for n in range(5)]


@pytest.mark.parametrize("fill", [b"\xff", b"#", b"\x00"])
@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_bytes_overwritten_in_the_middle_are_reported_never_half_read(
    path: Path, fill: bytes, where: float
) -> None:
    journal = SQLiteJournal(path)
    journal.open()
    write(journal, [{"n": n, "pad": f"{n:05d}" * 30} for n in range(2000)])
    journal.close()  # checkpoints the WAL into the file
    size = path.stat().st_size
    assert size > 300_000
    with path.open("r+b") as damaged:
        damaged.seek(int(size * where))
        damaged.write(fill * 1024)
    with pytest.raises(JournalCorrupted, match="corrupted"):
        open_and_load(path)  # all or nothing: it raises, returning no record


def open_and_load(path: Path) -> list[Any]:
    """Open the journal at ``path``, read every record, and close it."""
    journal = SQLiteJournal(path)
    try:
        journal.open()
        return journal.load()
    finally:
        journal.close()


@pytest.mark.parametrize(
    "damage",
    [
        pickle.dumps(({"$a": "Nope", "f": {}},)),  # an unknown class
        pickle.dumps(({"$v": "!!"},)),  # a value that is not base64
        pickle.dumps((1, 2))[:-3],  # cut short
        b"\xff\x22",  # not a row at all
        pickle.dumps((uuid.UUID(int=1),)),  # names a class: refused, never unpickled
        "[1, 2]",  # text, not a row
    ],
)
def test_a_record_that_cannot_be_read_is_reported_by_table_and_seq(
    path: Path, damage: bytes | str
) -> None:
    journal = SQLiteJournal(path)
    journal.open()
    for n in range(5):
        write(journal, [n])
    journal.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE log SET body = ? WHERE seq = 3", (damage,))
    raw.close()
    with pytest.raises(JournalCorrupted, match="log row 3 of the journal") as caught:
        open_and_load(path)
    assert caught.value.table == "log"
    assert caught.value.seq == 3


def test_a_file_that_is_not_sqlite_is_reported(path: Path) -> None:
    path.write_bytes(b"not a database at all " * 400)
    with pytest.raises(JournalCorrupted):
        SQLiteJournal(path).open()
