"""The entry points: serve() from plain code, serve_sync's start line and its Ctrl-C."""

from __future__ import annotations

import functools
import logging
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    SystemClock,
    TaskWorker,
    VirtualClock,
    WorkerError,
    task,
)
from orchestrator.workers import serve, serve_sync

ROOT = Path(__file__).resolve().parent.parent


@task(task_key="add")
def add(x: int, y: int) -> int:
    return x + y


def test_serve_from_plain_code_fails_at_once_naming_serve_sync() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    with pytest.raises(WorkerError) as caught:
        serve(add, orchestrator=orch)  # type: ignore[unused-coroutine]
    assert str(caught.value) == (
        "serve(...) was called outside an event loop, where it can only return an "
        "awaitable that nobody awaits, and would serve nothing. From plain code call "
        "serve_sync(add, ...), which runs the event loop and blocks; from async code "
        "write `await serve(...)`"
    )
    assert orch.activity.workers == ()


def test_serve_from_plain_code_checks_its_options_first() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    with pytest.raises(InvalidArgument, match="timeout"):
        serve(add, orchestrator=orch, timeout=-1)  # type: ignore[unused-coroutine]


@pytest.mark.anyio
async def test_await_serve_still_serves_until_its_timeout() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch:
        start = clock.now()
        future = orch.submit(add, 1, 2)
        await serve(add, orchestrator=orch, timeout=30)
        assert clock.now() == start + timedelta(seconds=30)
    assert future.result() == 3


@pytest.mark.anyio
async def test_serve_started_in_a_task_group_reports_its_worker() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    async with anyio.create_task_group() as group:
        worker = await group.start(functools.partial(serve, add, orchestrator=orch))
        assert isinstance(worker, TaskWorker)
        worker.stop()


def test_serve_sync_says_what_it_serves(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator.workers")
    orch = Orchestrator(clock=SystemClock(), seed=1)
    serve_sync(add, orchestrator=orch, limit=4, timeout=0.01)
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert line.startswith("orchestrator: task worker ")
    assert line.endswith(" serving add (limit 4); press Ctrl-C to stop")
    started = [r.getMessage() for r in caplog.records if "started" in r.getMessage()]
    assert len(started) == 1
    assert started[0].endswith("started: serving add (limit 4)")


SCRIPT = textwrap.dedent(
    """
    import sys
    from orchestrator import Orchestrator, SystemClock, task
    from orchestrator.workers import serve_sync

    @task(task_key="add")
    def add(x: int, y: int) -> int:
        return x + y

    try:
        serve_sync(add, orchestrator=Orchestrator(SystemClock()), backend=sys.argv[1])
    finally:
        print("finally ran", file=sys.stderr)
    print("not reached", file=sys.stderr)
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_ends_serve_sync_with_a_short_message_and_status_130(
    backend: str, tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), backend],
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    watchdog = threading.Timer(60, process.kill)  # bounded even if it never starts
    watchdog.start()
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.endswith(" serving add (limit 10); press Ctrl-C to stop\n"), first
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    assert rest == "orchestrator: interrupted, task worker stopped\nfinally ran\n"
    assert process.returncode == 130
