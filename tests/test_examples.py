"""Smoke tests of ``examples/``: each example's ``main()`` runs and prints what it should.

The examples run on a virtual clock with fixed seeds, so their output is exact; each
test checks the lines that carry the example's point. The quickstart also runs from the
command line, and the billing application's own tests run under pytest in a subprocess,
with the plugin loaded from the installed entry point.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a fresh module (not registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run an example's ``main()`` (sync, or async under anyio); return its output lines."""
    main: Callable[[], object] = load_example(name).main
    if inspect.iscoroutinefunction(main):
        anyio.run(main)
    else:
        main()
    return capsys.readouterr().out.splitlines()


def test_every_example_is_smoke_tested() -> None:
    tested = {"quickstart", "retries", "concurrency", "caching", "background_tasks"}
    tested.add("flow_deployment")
    tested.add("flows")
    tested.add("from_prefect")
    tested.add("scale_out")
    tested.add("timeline")
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested


def test_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("quickstart", capsys)
    assert lines[:2] == [
        "send-email failed and is AwaitingRetry until 2026-01-01 00:00:33+00:00",
        "backfill: WAIT, Concurrency limit reached for tags: database",
    ]
    assert "2026-01-01T00:00:39+00:00 PENDING -> Running: ACCEPT" in lines
    assert "  backfill     Completed  runs=1 ran  3.0s ended 2026-01-01 00:00:42+00:00" in lines
    assert lines[-1] == "  2026-01-01T00:00:00+00:00   Completed  4"


def test_quickstart_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    in_process = run_example("quickstart", capsys)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == in_process


def test_retries(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("retries", capsys)
    ada = lines[lines.index("email-ada, delays 10, 60, 300 s:") + 1 :][:10]
    assert [line.split()[:2] for line in ada] == [
        ["00:00:00", "Scheduled"],
        ["00:00:00", "Pending"],
        ["00:00:00", "Running"],
        ["00:00:00", "AwaitingRetry"],
        ["00:00:10", "Pending"],
        ["00:00:10", "Retrying"],
        ["00:00:10", "AwaitingRetry"],
        ["00:01:10", "Pending"],
        ["00:01:10", "Retrying"],
        ["00:01:10", "Completed"],
    ]
    assert ada[3] == "  00:00:00         AwaitingRetry  until 00:00:10"
    assert ada[9] == "  00:01:10         Completed      'delivered to ada on attempt 3'"
    assert "  00:00:00         AwaitingRetry  until 00:00:01.937315" in lines
    assert "  00:01:24.536492  Completed      'delivered to bob on attempt 3'" in lines
    assert "  00:00:10         Failed         TimeoutError('SMTP timeout on attempt 2')" in lines
    assert lines[-2:] == [
        "The drain jumped the clock 4 times, to 00:01:24.536492.",
        "Failed: email-eve",
    ]


def test_concurrency(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("concurrency", capsys)
    assert (
        lines[0]
        == "At 00:00:10 the 2 slots are held by load-customers and load-orders. The others:"
    )
    waiting = "WAIT by SecureTaskConcurrencySlots: Concurrency limit reached for tags: warehouse"
    assert lines[1:4] == [
        f"  load-{table}: {waiting}" for table in ("invoices", "payments", "refunds")
    ]
    # First come first served, each started the moment a slot freed (not at a re-check).
    assert lines[6:11] == [
        "  load-orders    00:00:00  00:00:30  0 s",
        "  load-customers 00:00:00  00:00:45  0 s",
        "  load-invoices  00:00:30  00:00:50  30 s",
        "  load-payments  00:00:45  00:00:55  45 s",
        "  load-refunds   00:00:50  00:00:55  50 s",
    ]
    assert lines[-3:] == [
        f"2026-01-01T00:00:20+00:00 PENDING -> Running: WAIT (run is Pending) by {waiting[8:]}",
        "2026-01-01T00:00:30+00:00 PENDING -> Running: ACCEPT",
        "2026-01-01T00:00:50+00:00 RUNNING -> Completed: ACCEPT",
    ]


def test_timeline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written = load_example("timeline").main(tmp_path / "loads.svg")
    assert written == tmp_path / "loads.svg"
    root = ET.parse(written).getroot()
    svg = "{http://www.w3.org/2000/svg}"
    rows = [g for g in root.iter(f"{svg}g") if g.get("class") == "run"]
    assert [g.get("data-name") for g in rows] == [
        f"load-{table}" for table in ("orders", "customers", "invoices", "payments", "refunds")
    ]
    # The concurrency example's story: three loads wait (Pending) for one of the 2 slots.
    waits = [
        (g.get("data-name"), rect.get("data-start"), rect.get("data-end"), rect.get("data-waits"))
        for g in rows
        for rect in g.iter(f"{svg}rect")
        if rect.get("data-state") == "Pending" and rect.get("data-start") != rect.get("data-end")
    ]
    # Told to WAIT when they asked at 00:00:00 and at each 10-second re-check.
    assert waits == [
        ("load-invoices", "2026-01-01 00:00:00Z", "2026-01-01 00:00:30Z", "3"),
        ("load-payments", "2026-01-01 00:00:00Z", "2026-01-01 00:00:45Z", "5"),
        ("load-refunds", "2026-01-01 00:00:00Z", "2026-01-01 00:00:50Z", "5"),
    ]
    tooltip = next(
        rect.findtext(f"{svg}title")
        for rect in rows[2].iter(f"{svg}rect")
        if rect.get("data-waits") == "3"
    )
    assert tooltip == (
        "load-invoices: Pending (PENDING)\n"
        "2026-01-01 00:00:00Z to 2026-01-01 00:00:30Z (30 s)\n"
        "told to WAIT 3 times, last by SecureTaskConcurrencySlots: "
        "Concurrency limit reached for tags: warehouse"
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Timeline: 5 runs, 2026-01-01 00:00:00Z to 2026-01-01 00:00:55Z")
    assert lines[3] == "load-invoices  |" + "P" * 32 + "R" * 22 + "C" + " " * 5 + "|"
    assert lines[-1] == f"Wrote {written} (960x198 pixels)."


def test_caching(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("caching", capsys)
    assert lines[1:8] == [
        "00:00  EUR                      Completed  EUR quote #1",
        "00:10  EUR again                Cached     EUR quote #1",
        "00:10  GBP                      Completed  GBP quote #2",
        "01:05  EUR, entry expired       Completed  EUR quote #3",
        "01:05  GBP, still cached        Cached     GBP quote #2",
        "01:05  GBP, refresh_cache=True  Completed  GBP quote #4",
        "01:05  GBP after the refresh    Cached     GBP quote #4",
    ]
    assert lines[-1] == "The service was called 4 times for 7 runs."


def test_background_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("background_tasks", capsys)
    assert lines[:5] == [
        "4 runs finished at 01:00:00 (virtual time):",
        "  resize-cat.png: 'cat.png at 640px'",
        "  resize-dog.png: 'dog.png at 640px'",
        "  resize-owl.png: 'owl.png at 640px'",
        "  notify-ada: 'told ada: 3 images are ready'",
    ]
    ends = {line.split()[1]: line.split()[5] for line in lines if "Completed" in line}
    assert ends == {
        "resize-cat.png": "00:00:02Z",
        "resize-dog.png": "00:00:02Z",
        "resize-owl.png": "00:00:04Z",
        "notify-ada": "01:00:00Z",
    }
    assert "run_until_idle raised ZeroDivisionError('division by zero')" in lines
    assert lines[-1].startswith("  task run 'divide-")
    assert "ended Failed at 2026-01-01 01:00:00Z" in lines[-1]


def test_flow_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("flow_deployment", capsys)
    assert "ada: Scheduled -> Pending -> Submitting -> Running -> Completed" in lines
    assert "broken: Scheduled -> Pending -> Submitting -> Running -> Crashed" in lines


def test_the_billing_application_tests_pass_under_the_plugin() -> None:
    # A session of its own: without this session's PYTEST_* variables (under xdist they
    # would make the child believe it is an xdist worker too).
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "app"), "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "error" not in summary


def test_flows(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("flows", capsys)
    assert lines[:2] == ["etl: Completed, loaded 378", "virtual time taken: 0:00:30"]
    assert "  extract-2    Pending > Running > AwaitingRetry > Retrying > Completed" in lines
    assert [line for line in lines if line.startswith("  transform-")] == [
        f"  transform-{i}  Pending > Running > Completed" for i in (1, 2, 3)
    ]
    assert lines[-2:] == [
        "  flow etl (flow-run-d23f0824): Completed",
        "  subflow load_all (load-all): Completed",
    ]


def test_from_prefect(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run_example("from_prefect", capsys)
    assert lines == [
        "report: {'rates': [1.08, 1.27], 'rows': 23, 'parse': 'Failed'}",
        "virtual time: 0:00:30",  # two failures each, backed off 10 s then 20 s
        "service calls: 7 (1 for the cached task)",
        "hook: task load: Completed",
        "hook: flow daily_report: Completed",
        "log: 00:00:00 INFO report for EUR, GBP",
        "log: 00:00:00 INFO greeting: hello marvin / hello marvin",  # a print, captured
        "log: 00:00:30 INFO loading 3 rows",
        "parse_rows: Failed after 1 attempt",
    ]


def test_scale_out() -> None:
    # A script, run as users run it: the cluster's workers import its tasks by module name.
    pytest.importorskip("distributed", reason="the example needs the dask extra")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "scale_out.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "primes below [20000, 40000, 60000, 80000] -> [2262, 4203, 6057, 7837]",
        "ran in the cluster's workers: True, here: False",
        "a flow on the cluster counted 20359 primes",
        "first attempt: Crashed -> done on the second attempt",
    ]
