"""The journal's file layer: the codec, the serializers, and the SQLite file with its lock.

What a user of a journal relies on, tested without an engine: every record and value
comes back as it went in (same types, a drawn key still drawn); a value the serializer
cannot store is refused with an error naming where it was; one process owns a journal
at a time and a killed owner frees it; a journal from an unknown format or a newer
release is refused; a transaction torn by a crash is dropped whole; damaged bytes are
reported, never half read. Real processes are started with timeouts and always reaped.
"""

from __future__ import annotations

import decimal
import fractions
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator._core._drawn_keys import DRAWN_KEY
from orchestrator._core._models import FlowRun, TaskRun, TaskRunPolicy, has_drawn_key
from orchestrator._core._state_record import State, StateDetails, StateType
from orchestrator._journal._codec import Codec
from orchestrator._journal._errors import (
    JournalCorrupted,
    JournalError,
    JournalLocked,
    JournalSerializationError,
    JournalVersionError,
)
from orchestrator._journal._serializers import JsonSerializer, PickleSerializer
from orchestrator._journal._sqlite import SQLiteJournal

PACKAGE_ROOT = str(Path(orchestrator.__file__).resolve().parent.parent)
TIMEOUT = 30  # seconds any helper process may take

# -- strategies -----------------------------------------------------------------------------
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min])
times = st.datetimes(timezones=ZONES)
aware = st.datetimes(timezones=st.just(UTC))
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | times
    | st.timedeltas()
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.sets(hashables, max_size=4)
    ),
    max_leaves=12,
)
maybe_ids = st.none() | st.uuids()
details = st.builds(
    StateDetails,
    flow_run_id=maybe_ids,
    task_run_id=maybe_ids,
    scheduled_time=st.none() | aware,
    cache_key=st.none() | st.text(max_size=8),
    cache_expiration=st.none() | aware,
    refresh_cache=st.none() | st.booleans(),
    deferred=st.booleans(),
    run_input_keyset=st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4)),
    retriable=st.none() | st.booleans(),
    task_parameters_id=maybe_ids,
)
states = st.builds(
    State,
    type=st.sampled_from(StateType),
    name=st.text(max_size=10),
    timestamp=st.none() | aware,
    message=st.none() | st.text(max_size=10),
    data=values,
    details=details,
    id=maybe_ids,
)
task_runs = st.builds(
    TaskRun,
    id=st.uuids(),
    name=st.text(max_size=10),
    task_key=st.text(max_size=10),
    dynamic_key=st.just(DRAWN_KEY) | st.text(max_size=10),
    flow_run_id=maybe_ids,
    empirical_policy=st.builds(
        TaskRunPolicy,
        retries=st.none() | st.integers(0, 5),
        retry_delay=st.none() | st.integers(0, 60),
    ),
    tags=st.frozensets(st.text(max_size=5), max_size=3),
    labels=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    state=st.none() | states,
    run_count=st.integers(0, 10),
    start_time=st.none() | aware,
    total_run_time=st.floats(0, 1e6),
    created=aware,
    updated=aware,
)


def same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (``1 == 1.0 == True`` is not enough)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, datetime):
        return bool(left == right and left.tzinfo == right.tzinfo)
    return bool(left == right)


def fields(record: Any) -> dict[str, Any]:
    """A record's fields as its class keeps them (a drawn key as the marker)."""
    state: dict[str, Any] = record.__getstate__()
    if isinstance(record, TaskRun) and has_drawn_key(record):
        state["dynamic_key"] = DRAWN_KEY
    return state


# -- the codec ------------------------------------------------------------------------------
@given(values)
def test_a_value_comes_back_equal_and_of_the_same_types(value: Any) -> None:
    codec = Codec()
    assert same(codec.decode(codec.encode(value)), value)


@given(states)
def test_a_state_with_details_comes_back_equal(state: State) -> None:
    codec = Codec()
    back = codec.decode(codec.encode(state))
    assert back == state
    assert back.id == state.id
    assert back.details == state.details


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(task_runs)
def test_a_task_run_comes_back_with_every_field_and_its_drawn_key(run: TaskRun) -> None:
    codec = Codec()
    back = codec.decode(codec.encode(run))
    assert type(back) is TaskRun
    assert has_drawn_key(back) == has_drawn_key(run)
    assert back.dynamic_key == run.dynamic_key
    assert fields(back) == fields(run)


def test_a_flow_run_round_trips() -> None:
    codec = Codec()
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    run = FlowRun(
        id=uuid.uuid4(),
        name="nightly",
        flow_id=uuid.uuid4(),
        parameters={"x": (1, 2.5), "when": now},
        created=now,
        updated=now,
        inputs={"approve": True},
    )
    back = codec.decode(codec.encode(run))
    assert fields(back) == fields(run)


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("1.10"),
        fractions.Fraction(1, 3),
        b"\x00bytes",
        complex(1, 2),
        date(2026, 1, 1),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),
        {"nested": [decimal.Decimal("2")]},
    ],
)
def test_a_value_with_no_tag_goes_through_the_serializer(value: Any) -> None:
    codec = Codec(PickleSerializer())
    text = codec.encode(value)
    assert '"$v"' in text
    back = codec.decode(text)
    assert same(back, value)
    if isinstance(value, datetime):
        assert back.tzinfo == value.tzinfo  # the named zone, not a fixed offset


def test_an_unserialisable_value_names_where_it_was_and_what_it_is() -> None:
    codec = Codec()
    state = State(type=StateType.COMPLETED, name="Completed", data={"rows": [1, lambda: 2]})
    with pytest.raises(JournalSerializationError) as caught:
        codec.encode(state, where="the result of task run 42")
    error = caught.value
    assert isinstance(error, TypeError)
    assert isinstance(error, JournalError)
    assert isinstance(error, orchestrator.OrchestratorError)
    assert "the result of task run 42 at .data['rows'][1]" in str(error)
    assert error.value_type == "builtins.function"


def test_the_json_serializer_refuses_what_json_cannot_say() -> None:
    codec = Codec(JsonSerializer())
    assert codec.decode(codec.encode({"a": 1})) == {"a": 1}
    with pytest.raises(JournalSerializationError, match=r"decimal\.Decimal"):
        codec.encode({"price": decimal.Decimal("1.5")})
    with pytest.raises(JournalSerializationError):
        codec.encode(b"bytes")


def test_the_json_serializer_keeps_json_values() -> None:
    serializer = JsonSerializer()
    value = {"a": [1, 2.5, None, True, "x"]}
    assert serializer.loads(serializer.dumps(value)) == value


def test_a_record_of_an_unknown_class_or_tag_is_refused_when_decoded() -> None:
    codec = Codec()
    with pytest.raises(ValueError, match="unknown class"):
        codec.decode('{"$a": "Nope", "f": {}}')
    with pytest.raises(ValueError, match="unknown tag"):
        codec.decode('{"$zz": 1}')
    with pytest.raises(ValueError, match="do not match"):
        codec.decode('{"$a": "StateDetails", "f": {"color": 1}}')


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


def test_records_and_meta_come_back_in_order_after_a_reopen(path: Path) -> None:
    first = SQLiteJournal(path, durability="full")
    assert first.open() is True
    codec = first.codec
    first.commit([codec.encode(n) for n in range(3)], {"clock": "2026-01-01T00:00:00+00:00"})
    first.commit([codec.encode(("four", uuid.UUID(int=4)))])
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
    encode = journal.codec.encode
    journal.commit([encode(n) for n in range(5)])
    journal.compact([encode("image")], {"ids_drawn": "7"})
    assert journal.log_count == 0
    journal.commit([encode("after")])
    assert journal.load() == ["image", "after"]
    assert journal.meta()["ids_drawn"] == "7"

    def failing() -> Iterator[str]:
        yield encode("half")
        raise RuntimeError("the image could not be built")

    with pytest.raises(RuntimeError):
        journal.compact(failing())
    assert journal.load() == ["image", "after"]  # unchanged, and still writable
    journal.commit([encode("more")])
    assert journal.load() == ["image", "after", "more"]


def test_a_closed_journal_refuses_writes(path: Path) -> None:
    journal = SQLiteJournal(path)
    with pytest.raises(JournalError, match="not open"):
        journal.commit(["1"])


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
    [("format", "2", "format '2'"), ("release", "999.0.0", "newer than this one")],
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
for n in range(5):
    journal.commit([journal.codec.encode(["small", n])])
print(os.path.getsize(wal), flush=True)
journal.commit([journal.codec.encode(["big", n, "x" * 2000]) for n in range(150)])
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
    assert open_and_load(path) == [["small", n] for n in range(5)]


@pytest.mark.parametrize("fill", [b"\xff", b"#", b"\x00"])
@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_bytes_overwritten_in_the_middle_are_reported_never_half_read(
    path: Path, fill: bytes, where: float
) -> None:
    journal = SQLiteJournal(path)
    journal.open()
    encode = journal.codec.encode
    journal.commit([encode({"n": n, "pad": "p" * 150}) for n in range(2000)])
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
    ['\'{"$a": "Nope", "f": {}}\'', "'[1, 2'", "CAST(x'ff22' AS TEXT)", '\'{"$v": "!!"}\''],
)
def test_a_record_that_cannot_be_read_is_reported_by_table_and_seq(path: Path, damage: str) -> None:
    journal = SQLiteJournal(path)
    journal.open()
    journal.commit([journal.codec.encode(n) for n in range(5)])
    journal.close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"UPDATE log SET record = {damage} WHERE seq = 3")
    raw.close()
    with pytest.raises(JournalCorrupted, match="log record 3 of the journal") as caught:
        open_and_load(path)
    assert caught.value.table == "log"
    assert caught.value.seq == 3


def test_a_file_that_is_not_sqlite_is_reported(path: Path) -> None:
    path.write_bytes(b"not a database at all " * 400)
    with pytest.raises(JournalCorrupted):
        SQLiteJournal(path).open()
