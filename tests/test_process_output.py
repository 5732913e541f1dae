"""A flow-run process's output: cut into lines in bounded memory, whatever it writes.

The splitter is checked against a brute-force reference on arbitrary bytes cut into
arbitrary chunks; real processes check the whole path (pipe, splitter, printer),
including a 100 MB line with no newline, whose cost in memory is measured with
``tracemalloc`` (its time is measured by ``bench/bench_output.py``).
"""

from __future__ import annotations

import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import InvalidArgument, Orchestrator, VirtualClock
from orchestrator.workers import LINE_SPLIT_MARKER
from orchestrator.workers._output import LineSplitter
from orchestrator.workers._process_worker import ProcessWorker
from orchestrator.workers._processes import start_process

PY = sys.executable


def split(data: bytes, cuts: list[int], cap: int) -> list[str]:
    """Feed ``data`` to a splitter in chunks ending at ``cuts``; return what it gives."""
    splitter = LineSplitter(cap)
    out: list[str] = []
    start = 0
    for cut in sorted({min(c, len(data)) for c in cuts} | {len(data)}):
        out += splitter.feed(data[start:cut])
        start = cut
    return out + splitter.flush()


def rejoin(pieces: list[str]) -> list[str]:
    """Glue each split line back together (a piece ending with the marker continues)."""
    lines: list[str] = []
    carry = ""
    for piece in pieces:
        if piece.endswith(LINE_SPLIT_MARKER):
            carry += piece.removesuffix(LINE_SPLIT_MARKER)
        else:
            lines.append(carry + piece)
            carry = ""
    assert carry == "", "the last piece of a line never carries the marker"
    return lines


def reference_lines(text: str) -> list[str]:
    """What a reader with unbounded memory gives: lines without their endings."""
    *lines, last = text.split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    return lines + ([last] if last else [])


@given(
    text=st.text(alphabet=st.sampled_from("ab\r\n é€😀"), max_size=300),
    cuts=st.lists(st.integers(0, 1300), max_size=12),
    cap=st.integers(4, 24),
)
def test_lines_survive_any_chunking_and_no_piece_exceeds_the_cap(
    text: str, cuts: list[int], cap: int
) -> None:
    pieces = split(text.encode(), cuts, cap)
    assert rejoin(pieces) == reference_lines(text)
    for piece in pieces:
        assert len(piece.removesuffix(LINE_SPLIT_MARKER).encode()) <= cap


def test_a_long_line_is_split_at_the_cap_with_a_marker() -> None:
    pieces = split(b"x" * 12 + b"\nshort\n", [3, 7], 5)
    assert pieces == [
        "xxxxx" + LINE_SPLIT_MARKER,
        "xxxxx" + LINE_SPLIT_MARKER,
        "xx",
        "short",
    ]


def test_a_character_is_never_cut_in_half() -> None:
    # "€" is three bytes: a cap of 4 fits one, never one and a third.
    assert split("€€€".encode(), [], 4) == ["€" + LINE_SPLIT_MARKER] * 2 + ["€"]


def test_undecodable_bytes_are_replaced() -> None:
    assert split(b"ok\xff\n", [], 16) == ["ok\ufffd"]


async def test_a_100_mb_line_without_newline_costs_little_memory(tmp_path: Path) -> None:
    megabytes = 100
    code = (
        "import sys\n"
        "block = b'y' * (1 << 20)\n"
        f"for _ in range({megabytes}):\n"
        "    sys.stdout.buffer.write(block)\n"
    )
    process = await start_process([PY, "-c", code], cwd=tmp_path, env={})
    received = 0
    pieces = 0

    def printer(line: str) -> None:
        nonlocal received, pieces
        received += len(line.removesuffix(LINE_SPLIT_MARKER))
        pieces += 1

    tracemalloc.start()
    try:
        with anyio.fail_after(60):
            await process.stream_output(printer)
            assert await process.wait() == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await process.aclose()
    assert received == megabytes << 20
    assert pieces == (megabytes << 20) // (64 * 1024)
    assert peak < 20 << 20, f"peak {peak / 2**20:.1f} MiB"


@pytest.fixture
def orch() -> Orchestrator:
    orchestrator = Orchestrator(clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    orchestrator.create_work_pool("pool")
    return orchestrator


async def test_the_worker_splits_lines_longer_than_its_cap(orch: Orchestrator) -> None:
    flow = orch.create_flow("flow")
    code = "print('a' * 10 + 'b' * 3); print('end')"
    deployment = orch.create_deployment(
        flow.id, "d", work_pool_name="pool", command=[PY, "-c", code]
    )
    orch.create_flow_run_from_deployment(deployment.id)
    lines: list[str] = []
    with anyio.fail_after(30):
        await ProcessWorker(orch, "pool", max_output_line_bytes=5).start(
            run_once=True, printer=lines.append
        )
    assert lines == [
        "aaaaa" + LINE_SPLIT_MARKER,
        "aaaaa" + LINE_SPLIT_MARKER,
        "bbb",
        "end",
    ]


@pytest.mark.parametrize("cap", [3, 0, -1, 1.5, "64", True, None])
def test_a_cap_too_small_or_not_an_integer_is_refused(orch: Orchestrator, cap: object) -> None:
    with pytest.raises(InvalidArgument, match="max_output_line_bytes"):
        ProcessWorker(orch, "pool", max_output_line_bytes=cap)  # type: ignore[arg-type]
