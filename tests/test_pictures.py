"""Pictures: the timeline of runs and the history chart, read back as a user's tools read them.

The SVG is parsed with :mod:`xml.etree.ElementTree` (as a browser or an image viewer
would take it), the text fallback is compared line by line, and one test renders the
timeline in headless Chromium and checks that the screenshot holds a picture.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import uuid
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import (
    Completed,
    Failed,
    InvalidArgument,
    ObjectNotFound,
    Orchestrator,
    Picture,
    Running,
    VirtualClock,
    history_chart,
    timeline,
)
from orchestrator.testing import make_flow_run, make_task_run

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 1, 1, tzinfo=UTC)


def story() -> tuple[Orchestrator, dict[str, uuid.UUID]]:
    """A flow run with a task run that fails, waits 30 s and retries; then a lone run.

    On the virtual clock: 00:00:00 the flow run and "extract" start; 00:00:10 "extract"
    fails and waits (AwaitingRetry); 00:00:40 it retries; 00:01:00 it completes and
    "standalone" is created; 00:01:05 that one runs; the clock then reads 00:01:20.
    """
    clock = VirtualClock()
    orchestrator = Orchestrator(clock, seed=0)
    flow = make_flow_run(orchestrator, "RUNNING", name="nightly")
    extract = make_task_run(
        orchestrator, "RUNNING", flow_run=flow, name="extract", retries=1, retry_delay=30
    )
    clock.advance(10)
    orchestrator.set_task_run_state(extract.id, Failed(message="db timeout"))
    clock.advance(30)
    orchestrator.set_task_run_state(extract.id, Running())
    clock.advance(20)
    orchestrator.set_task_run_state(extract.id, Completed())
    standalone = make_task_run(orchestrator, name="standalone")
    clock.advance(5)
    orchestrator.set_task_run_state(standalone.id, Running())
    clock.advance(15)
    return orchestrator, {"nightly": flow.id, "extract": extract.id, "standalone": standalone.id}


def parse(picture: Picture) -> ET.Element:
    root = ET.fromstring(picture.svg)
    assert root.tag == f"{SVG}svg"
    return root


def rows(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "run"]


def bars(element: ET.Element) -> list[ET.Element]:
    return [r for r in element.iter(f"{SVG}rect") if r.get("class") == "state"]


def box(rect: ET.Element) -> tuple[float, float, float, float]:
    return tuple(float(rect.get(k, "nan")) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def test_timeline_draws_one_row_per_run_and_one_bar_per_state_in_time_order() -> None:
    orchestrator, ids = story()
    picture = timeline(orchestrator)
    root = parse(picture)
    drawn = rows(root)
    assert [g.get("data-name") for g in drawn] == ["nightly", "extract", "standalone"]
    assert [g.get("data-kind") for g in drawn] == ["flow run", "task run", "task run"]
    expected = {
        "nightly": ["Pending", "Running"],
        "extract": ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"],
        "standalone": ["Pending", "Running"],
    }
    for row in drawn:
        name = row.get("data-name", "")
        run_id = str(ids[name])
        assert row.get("data-run-id") == run_id
        found = bars(row)
        assert [b.get("data-state") for b in found] == expected[name]
        assert {b.get("data-run-id") for b in found} == {run_id}
        xs = [box(b)[0] for b in found]
        assert xs == sorted(xs), name
        ys = {box(b)[1] for b in found}
        assert len(ys) == 1  # one row
    starts = [b.get("data-start") for b in bars(drawn[1])]
    assert starts == [
        "2026-01-01 00:00:00Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01 00:00:10Z",
        "2026-01-01 00:00:40Z",
        "2026-01-01 00:01:00Z",
    ]
    # The ongoing state of an unfinished run reaches the clock's now.
    assert bars(drawn[2])[-1].get("data-end") == "2026-01-01 00:01:20Z"
    rows_y = [box(bars(g)[0])[1] for g in drawn]
    assert rows_y == sorted(rows_y)


def test_every_bar_is_inside_the_picture_and_proportional_to_its_time() -> None:
    orchestrator, _ = story()
    picture = timeline(orchestrator, width=800)
    root = parse(picture)
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert (width, height) == (picture.width, picture.height) == (800, 54 + 3 * 20 + 44)
    every = bars(root)
    assert len(every) == 9
    for rect in every:
        x, y, w, h = box(rect)
        assert x >= 0
        assert x + w <= width
        assert y >= 0
        assert y + h <= height
        assert w > 0
        assert h > 0
    extract = bars(rows(root)[1])
    waiting = box(extract[2])[2]  # AwaitingRetry: 30 s
    running = box(extract[1])[2]  # Running: 10 s
    assert waiting == pytest.approx(3 * running, abs=0.02)


def test_bars_carry_a_tooltip_with_the_state_its_times_and_message() -> None:
    orchestrator, _ = story()
    extract = bars(rows(parse(timeline(orchestrator)))[1])
    titles = [b.findtext(f"{SVG}title") for b in extract]
    assert titles[2] == (
        "extract: AwaitingRetry (SCHEDULED)\n"
        "2026-01-01 00:00:10Z to 2026-01-01 00:00:40Z (30 s)\n"
        "db timeout"
    )
    assert titles[4] == "extract: Completed (COMPLETED)\nat 2026-01-01 00:01:00Z"


def test_the_legend_colours_and_the_axis_are_on_the_orchestrators_clock() -> None:
    orchestrator, _ = story()
    root = parse(timeline(orchestrator))
    legend = [r.get("data-legend") for r in root.iter(f"{SVG}rect") if r.get("data-legend")]
    assert legend == ["AwaitingRetry", "Pending", "Running", "Retrying", "Completed"]
    fills = {r.get("data-legend"): r.get("fill") for r in root.iter(f"{SVG}rect")}
    for rect in bars(root):
        assert rect.get("fill") == fills[rect.get("data-state")]
    labels = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "axis-labels" for t in g]
    assert labels == ["00:00:00", "00:00:10", "00:00:20", "00:00:30", "00:00:40", "00:00:50",
                      "00:01:00", "00:01:10", "00:01:20"]  # fmt: skip
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "time on the orchestrator's virtual clock (UTC)" in texts


def test_the_text_fallback_draws_the_same_rows() -> None:
    orchestrator, _ = story()
    picture = timeline(orchestrator)
    assert str(picture) == repr(picture) == picture.text
    lines = str(picture).splitlines()
    assert lines[0] == (
        "Timeline: 3 runs, 2026-01-01 00:00:00Z to 2026-01-01 00:01:20Z "
        "(virtual clock, UTC); one column is 1.33 s"
    )
    assert lines[1] == "nightly    |" + "R" * 60 + "|"
    assert lines[2] == "  extract  |" + "R" * 7 + "A" * 23 + "r" * 15 + "C" + " " * 14 + "|"
    assert lines[3] == "standalone |" + " " * 45 + "PPP" + "R" * 12 + "|"
    assert lines[-1] == "A AwaitingRetry  P Pending  R Running  r Retrying  C Completed"


def test_chosen_runs_a_window_and_a_cap() -> None:
    orchestrator, ids = story()
    record = orchestrator.read_task_run(ids["extract"])
    only = rows(parse(timeline(orchestrator, [ids["standalone"], record])))
    assert [g.get("data-name") for g in only] == ["extract", "standalone"]  # by first state
    since, until = START + timedelta(seconds=20), START + timedelta(seconds=50)
    window = timeline(orchestrator, [ids["extract"]], start=since, end=until)
    states = [b.get("data-state") for b in bars(parse(window))]
    assert states == ["AwaitingRetry", "Retrying"]  # cut at the window's edges
    capped = timeline(orchestrator, max_runs=2)
    root = parse(capped)
    assert len(rows(root)) == 2
    notes = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["1 more runs not drawn (max_runs=2)"]
    assert capped.text.splitlines()[-1] == "1 more runs not drawn (max_runs=2)"


def test_hundreds_of_runs_stay_readable() -> None:
    clock = VirtualClock()
    orchestrator = Orchestrator(clock, seed=0)
    for index in range(300):
        make_task_run(orchestrator, "COMPLETED", name=f"load-{index:03d}")
        clock.advance(1)
    picture = timeline(orchestrator)
    root = parse(picture)
    assert len(rows(root)) == 200
    assert picture.height == 54 + 200 * 20 + 44 + 18
    assert "overflow: auto" in picture._repr_html_()  # the notebook box scrolls


def test_save_writes_svg_or_an_html_page(tmp_path: Path) -> None:
    orchestrator, _ = story()
    picture = timeline(orchestrator)
    svg = picture.save(tmp_path / "runs.svg")
    assert ET.parse(svg).getroot().tag == f"{SVG}svg"
    page = picture.save(tmp_path / "runs.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert picture.svg in page
    assert picture._repr_svg_() == picture.svg


def test_history_chart_stacks_each_buckets_runs_by_state() -> None:
    orchestrator, _ = story()
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    buckets = orchestrator.task_run_history(
        history_start=START - timedelta(seconds=60),
        history_end=START + timedelta(seconds=90),
        history_interval=30,
    )
    picture = history_chart(buckets)
    root = parse(picture)
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "bucket"]
    assert [(g.get("data-start"), g.get("data-count")) for g in groups] == [
        ("2025-12-31 23:59:00Z", "0"),
        ("2025-12-31 23:59:30Z", "0"),
        ("2026-01-01 00:00:00Z", "1"),
        ("2026-01-01 00:00:30Z", "0"),
        ("2026-01-01 00:01:00Z", "1"),
    ]
    segments = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "segment"]
    found = [
        (r.get("data-bucket-start"), r.get("data-state"), r.get("data-count")) for r in segments
    ]
    assert found == [
        ("2026-01-01 00:00:00Z", "Completed", "1"),
        ("2026-01-01 00:01:00Z", "Running", "1"),
    ]  # fmt: skip
    xs = [box(r)[0] for r in segments]
    assert xs == sorted(xs)
    for rect in segments:
        x, y, w, h = box(rect)
        assert x >= 0
        assert x + w <= picture.width
        assert y >= 0
        assert y + h <= picture.height
    assert str(picture).splitlines()[3:6] == [
        "00:00:00     1  C",
        "00:00:30     0  ",
        "00:01:00     1  R",
    ]


def test_history_chart_of_no_buckets_is_an_empty_picture() -> None:
    picture = history_chart([])
    assert parse(picture) is not None
    assert str(picture).splitlines()[0] == "Run history"


def png_colours(path: Path) -> int:
    """Count the distinct pixel colours of an 8-bit RGB or RGBA PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, header = 8, b""
    chunks: list[bytes] = []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    position = 0
    for _ in range(height):
        filter_type, line = raw[position], bytearray(raw[position + 1 : position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + nearest) & 0xFF
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 7))
        previous = line
    return len(colours)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")
@pytest.mark.timeout(90)
def test_the_timeline_renders_in_headless_chromium(tmp_path: Path) -> None:
    """Render the saved timeline in headless Chromium; the screenshot is not blank.

    How it runs: where a ``chromium`` binary is on PATH (``.ci/run`` installs Debian's
    package with ``apt-get install -y chromium`` first), the timeline is saved as an
    HTML page and Chromium takes a 1200x800 screenshot of it with a throwaway profile,
    no network services and a 60 s limit. The PNG is decoded with zlib and struct: a
    blank page has one colour, the timeline has its white, greys, text and the state
    colours. Without a binary the test is skipped, saying so.
    """
    orchestrator, _ = story()
    page = timeline(orchestrator).save(tmp_path / "timeline.html")
    shot = tmp_path / "timeline.png"
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,800",
        page.as_uri(),
    ]
    environment = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, timeout=60, env=environment, check=False)
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    assert png_colours(shot) > 8


def test_bad_arguments_are_refused_with_their_names() -> None:
    orchestrator, _ = story()
    with pytest.raises(InvalidArgument, match="max_runs"):
        timeline(orchestrator, max_runs=0)
    with pytest.raises(InvalidArgument, match="start"):
        timeline(orchestrator, start=datetime(2026, 1, 1))  # naive
    with pytest.raises(InvalidArgument, match="is before start"):
        timeline(orchestrator, start=START + timedelta(seconds=9), end=START)
    with pytest.raises(ObjectNotFound):
        timeline(orchestrator, [uuid.uuid4()])


def test_a_timeline_on_the_system_clock_says_so_and_reaches_now() -> None:
    orchestrator = Orchestrator(seed=0)
    run = make_task_run(orchestrator, "RUNNING", name="live")
    root = parse(timeline(orchestrator))
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "time on the orchestrator's system clock (UTC)" in texts
    last = bars(rows(root)[0])[-1]
    assert (last.get("data-run-id"), last.get("data-state")) == (str(run.id), "Running")
    assert "still in it" in (last.findtext(f"{SVG}title") or "")
