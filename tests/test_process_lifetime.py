"""Process lifetime: no process of a cancelled or finished flow run outlives it.

Real ProcessWorkers run real process trees (``sys.executable -c ...``): the flow run's
command starts grandchildren that ignore SIGTERM, stay behind after it exits 0, or leave
its session (``setsid``, directly or through a double fork). The command records every
pid of its tree in a file, and every process of a run carries a marker in its
environment. The tests then read the process table: a process counts as gone when it no
longer exists or is a zombie (state Z: all that is left of an exited process until its
parent reaps it). Waits for exits are event-driven on Linux (pidfds) and bounded.

POSIX only. The ``setsid`` cases, the parent-death signal and the environment-marker scan
of ``/proc`` need Linux: elsewhere a process that leaves the group cannot be found (see
"Platforms and process lifetime" in the README).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from orchestrator import (
    Cancelling,
    FlowRun,
    InvalidArgument,
    Orchestrator,
    ProcessWorker,
    StateType,
    VirtualClock,
)
from orchestrator.workers import _processes as processes
from orchestrator.workers._processes import start_process

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="process groups and signals are POSIX (see the README)"
)
LINUX = sys.platform == "linux"
linux_only = pytest.mark.skipif(
    not LINUX, reason="needs /proc, a subreaper and the parent-death signal (Linux only)"
)

PY = sys.executable
REPO = Path(__file__).resolve().parent.parent
LAUNCHER = REPO / "orchestrator" / "workers" / "_launcher.py"
GRACE = 0.3  # the cancel grace period of these tests, in real seconds

#: A sleeper: prints its pid and sleeps. Flags: ``deaf`` ignores SIGTERM, ``setsid``
#: leaves the session (and process group) it was started in.
SLEEPER = """
import os, signal, sys, time
if "deaf" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "setsid" in sys.argv:
    os.setsid()
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # keep no hold on the run's output
print(os.getpid(), flush=True)
time.sleep(60)
"""

#: A middle process: starts the sleeper of argv[1] with the flags after it, says its
#: pid, and exits at once, leaving it an orphan (the second fork of a daemon).
DETACH = """
import os, subprocess, sys
sleeper = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]], stdout=subprocess.PIPE)
print(sleeper.stdout.readline().decode().strip(), flush=True)
os._exit(0)
"""

#: The flow run's command: ``TREE KINDS THEN``. KINDS, comma-separated, are the
#: grandchildren to start: ``plain``, ``deaf``, ``setsid`` (deaf, out of the session) and
#: ``detached`` (deaf, out of the session, parent gone). It records "its pid, its
#: parent's pid, the grandchildren's pids" in $PIDS, prints "ready", then exits 0
#: (THEN = ``exit``) or sleeps (``wait``).
TREE = f"""
import os, subprocess, sys, time
SLEEPER, DETACH = {SLEEPER!r}, {DETACH!r}
FLAGS = {{"plain": [], "deaf": ["deaf"], "setsid": ["deaf", "setsid"],
          "detached": ["deaf", "setsid"]}}
grandchildren = []
for kind in sys.argv[1].split(","):
    argv = [sys.executable, "-c", SLEEPER, *FLAGS[kind]]
    if kind == "detached":
        argv = [sys.executable, "-c", DETACH, SLEEPER, *FLAGS[kind]]
    started = subprocess.Popen(argv, stdout=subprocess.PIPE)
    grandchildren.append(int(started.stdout.readline()))
    if kind == "detached":
        started.wait()
with open(os.environ["PIDS"], "w") as record:
    print(os.getpid(), os.getppid(), *grandchildren, file=record)
print("ready", flush=True)
if sys.argv[2] == "exit":
    os._exit(0)
time.sleep(60)
"""

#: A whole worker in a process of its own: serves one run of the command in argv[1], with
#: the environment in argv[2], on the anyio backend argv[3]; copies the run's output.
WORKER = """
import json, sys
import anyio
from orchestrator import Orchestrator, ProcessWorker

async def main() -> None:
    orch = Orchestrator()
    orch.create_work_pool("pool")
    flow = orch.create_flow("flow")
    deployment = orch.create_deployment(
        flow.id, "d", work_pool_name="pool", command=json.loads(sys.argv[1]),
        job_variables={"env": json.loads(sys.argv[2])},
    )
    orch.create_flow_run_from_deployment(deployment.id)
    worker = ProcessWorker(orch, "pool", cancel_grace_seconds=0.3)
    await worker.start(printer=lambda line: print(line, flush=True))

anyio.run(main, backend=sys.argv[3])
"""


# -- reading the process table --------------------------------------------------------------------


def process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` in the process table; None if there is none."""
    if LINUX:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        return stat.rsplit(")", 1)[1].split()[0]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "?"  # exists, someone else's
    shown = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return shown.stdout.strip()[:1] or None


def alive(pid: int) -> bool:
    """True when ``pid`` is in the process table and not a zombie."""
    state = process_state(pid)
    return state is not None and state != "Z"


async def wait_for_exit(pid: int) -> None:
    """Wait until ``pid`` has exited (a zombie has): a pidfd on Linux, else ``ps``."""
    if LINUX:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            await anyio.wait_readable(fd)
        finally:
            os.close(fd)
        return
    while alive(pid):  # noqa: ASYNC110 - no pidfd here: look again shortly
        await anyio.sleep(0.02)


async def assert_gone(pids: list[int], seconds: float = 5.0) -> None:
    """Wait (at most ``seconds`` in all) for every process in ``pids`` to be gone."""
    with anyio.move_on_after(seconds):
        for pid in pids:
            await wait_for_exit(pid)
    assert [pid for pid in pids if alive(pid)] == []


class Tree:
    """The pids one flow run's process tree records, and its environment marker."""

    def __init__(self, directory: Path) -> None:
        self.record = directory / "pids"
        self.marker = uuid.uuid4().hex

    def command(self, kinds: str, then: str) -> list[str]:
        """The command that builds the tree (see :data:`TREE`)."""
        return [PY, "-c", TREE, kinds, then]

    @property
    def env(self) -> dict[str, str]:
        """What the run's environment must hold."""
        return {"PIDS": str(self.record), "RUN_MARKER": self.marker}

    def recorded(self) -> tuple[int, int, list[int]]:
        """(the command's pid, its parent's pid, the grandchildren's pids)."""
        command, parent, *grandchildren = map(int, self.record.read_text().split())
        return command, parent, grandchildren

    def run_processes(self) -> list[int]:
        """Every recorded pid of the run: the command, grandchildren, the launcher if any."""
        command, parent, grandchildren = self.recorded()
        launcher = [parent] if parent != os.getpid() else []  # without one, the parent is us
        return [command, *grandchildren, *launcher]

    def marked(self) -> list[int]:
        """The live processes whose environment holds this run's marker (Linux)."""
        needle = f"RUN_MARKER={self.marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environment = (entry / "environ").read_bytes()
            except OSError:
                continue  # gone, or not ours
            if needle in environment.split(b"\0") and alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    def kill_survivors(self) -> None:
        """Clean up after a failed test: SIGKILL whatever of the run is still alive."""
        pids = set(self.marked()) if LINUX else set()
        if self.record.exists():
            pids.update(self.run_processes())
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    made = Tree(tmp_path)
    yield made
    made.kill_survivors()


@pytest.fixture
def orch() -> Orchestrator:
    orchestrator = Orchestrator(clock=VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), seed=3)
    orchestrator.create_work_pool("pool")
    return orchestrator


async def run_tree(
    orch: Orchestrator,
    tree: Tree,
    kinds: str,
    then: str,
    *,
    cancel: bool,
    kill_leftovers: bool = True,
) -> FlowRun:
    """Serve one run of ``tree.command(kinds, then)``; cancel it once ready if ``cancel``."""
    flow = orch.create_flow("flow")
    deployment = orch.create_deployment(
        flow.id,
        f"d-{uuid.uuid4().hex[:8]}",
        work_pool_name="pool",
        command=tree.command(kinds, then),
        job_variables={"env": tree.env},
    )
    run = orch.create_flow_run_from_deployment(deployment.id)
    ready = anyio.Event()

    def printer(line: str) -> None:
        if line == "ready":
            ready.set()

    worker = ProcessWorker(orch, "pool", cancel_grace_seconds=GRACE, kill_leftovers=kill_leftovers)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.start, True, False, printer)  # returns when the run ended
            await ready.wait()
            if cancel:
                orch.set_flow_run_state(run.id, Cancelling())
    return orch.read_flow_run(run.id)


async def assert_nothing_of_the_run_remains(tree: Tree, run: FlowRun) -> None:
    command, _, grandchildren = tree.recorded()
    assert run.infrastructure_pid == str(command)
    assert len(grandchildren) >= 1
    if LINUX:  # the launcher reaped the whole tree before it exited: nothing to wait for
        assert tree.marked() == []
    await assert_gone(tree.run_processes())


# -- through a real ProcessWorker ---------------------------------------------------------------


async def test_a_grandchild_ignoring_sigterm_dies_with_the_cancelled_run(
    orch: Orchestrator, tree: Tree
) -> None:
    run = await run_tree(orch, tree, "deaf", "wait", cancel=True)
    assert run.state_type is StateType.CANCELLED
    await assert_nothing_of_the_run_remains(tree, run)


async def test_a_background_grandchild_dies_when_the_run_exits_0(
    orch: Orchestrator, tree: Tree
) -> None:
    run = await run_tree(orch, tree, "plain,deaf", "exit", cancel=False)
    assert run.state_type is StateType.COMPLETED
    await assert_nothing_of_the_run_remains(tree, run)


@linux_only
@pytest.mark.parametrize("then", ["wait", "exit"])
async def test_setsid_grandchildren_die_with_the_run(
    orch: Orchestrator, tree: Tree, then: str
) -> None:
    # Out of the run's session, one with its parent alive, one orphaned by a double fork.
    run = await run_tree(orch, tree, "setsid,detached", then, cancel=then == "wait")
    assert run.state_type is (StateType.CANCELLED if then == "wait" else StateType.COMPLETED)
    await assert_nothing_of_the_run_remains(tree, run)


async def test_kill_leftovers_false_lets_a_background_grandchild_run_on(
    orch: Orchestrator, tree: Tree
) -> None:
    run = await run_tree(orch, tree, "plain", "exit", cancel=False, kill_leftovers=False)
    assert run.state_type is StateType.COMPLETED
    command, _, [grandchild] = tree.recorded()
    await assert_gone([command])
    assert alive(grandchild)  # the fixture kills it


def test_kill_leftovers_is_checked(orch: Orchestrator) -> None:
    with pytest.raises(InvalidArgument, match="kill_leftovers"):
        ProcessWorker(orch, "pool", kill_leftovers="no")  # type: ignore[arg-type]


@linux_only
async def test_the_worker_dying_takes_its_flow_run_processes_along(
    tree: Tree, anyio_backend: str
) -> None:
    # A real worker, in a process of its own, killed with SIGKILL: it cannot clean up.
    command = tree.command("deaf,setsid,detached", "wait")
    arguments = [PY, "-c", WORKER, json.dumps(command), json.dumps(tree.env), anyio_backend]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    async with await anyio.open_process(
        arguments, stdin=subprocess.DEVNULL, stderr=None, env=environment
    ) as worker:
        assert worker.stdout is not None
        output = b""
        with anyio.fail_after(10):
            async for chunk in worker.stdout:
                output += chunk
                if b"ready\n" in output:
                    break
        assert tree.marked() != []  # the run is running
        worker.kill()
        assert await worker.wait() == -signal.SIGKILL
    await assert_gone(tree.run_processes())
    assert tree.marked() == []


# -- the process itself (on Linux with and without the launcher) -----------------------------------

SUPERVISE = [
    pytest.param(None, id="platform-default"),
    pytest.param(False, id="process-group-only"),
]


@pytest.mark.parametrize("supervise", SUPERVISE)
async def test_stopping_kills_the_group_even_when_the_command_is_gone(
    tmp_path: Path, tree: Tree, supervise: bool | None
) -> None:
    # The command leaves on SIGTERM at once; its deaf grandchild stays, until SIGKILL.
    process = await start_process(
        tree.command("deaf", "wait"),
        cwd=tmp_path,
        env={**os.environ, **tree.env},
        grace_seconds=GRACE,
        supervise=supervise,
    )
    ready = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(process.stream_output, lambda line: ready.set())
            await ready.wait()  # the command has written its record
            assert await process.terminate() == -signal.SIGTERM
            await process.end_leftovers()
    await process.aclose()
    command, parent, [grandchild] = tree.recorded()
    assert process.pid == command
    assert process.supervisor_pid == (parent if LINUX and supervise is None else None)
    await assert_gone([command, grandchild])


@pytest.mark.parametrize("supervise", SUPERVISE)
async def test_leftovers_are_stopped_after_a_normal_exit(
    tmp_path: Path, tree: Tree, supervise: bool | None
) -> None:
    process = await start_process(
        tree.command("plain,deaf", "exit"),
        cwd=tmp_path,
        env={**os.environ, **tree.env},
        capture_output=False,
        grace_seconds=GRACE,
        supervise=supervise,
    )
    with anyio.fail_after(10):
        assert await process.wait() == 0
        await process.end_leftovers()
    await process.aclose()
    command, _, grandchildren = tree.recorded()
    await assert_gone([command, *grandchildren])


@pytest.mark.parametrize("supervise", SUPERVISE)
async def test_arguments_arrive_literally_and_output_is_merged(
    tmp_path: Path, supervise: bool | None
) -> None:
    tricky = ["; echo hi", "$(id)", "`id`", "a b", "*", "|", "&&", "> f", "'\"", "$HOME", ""]
    code = (
        "import os, sys; print(sys.argv[1:]); print('to stderr', file=sys.stderr, flush=True);"
        "print(repr(sys.stdin.read()))"
    )
    process = await start_process(
        [PY, "-c", code, *tricky], cwd=tmp_path, env=dict(os.environ), supervise=supervise
    )
    lines: list[str] = []
    with anyio.fail_after(10):
        await process.stream_output(lines.append)
        assert await process.wait() == 0
    await process.aclose()
    assert sorted(lines) == sorted([repr(tricky), "to stderr", "''"])
    assert not await anyio.Path(tmp_path / "f").exists()  # "> f" was an argument


@pytest.mark.parametrize("supervise", SUPERVISE)
async def test_the_exit_status_is_the_commands(tmp_path: Path, supervise: bool | None) -> None:
    statuses = []
    for code in [
        "import sys; sys.exit(5)",
        "import os, signal; os.kill(os.getpid(), signal.SIGUSR1)",
    ]:
        process = await start_process([PY, "-c", code], cwd=tmp_path, env=dict(os.environ),
                                      capture_output=False, supervise=supervise)  # fmt: skip
        with anyio.fail_after(10):
            statuses.append(await process.wait())
        await process.aclose()
    assert statuses == [5, -signal.SIGUSR1]


async def test_a_run_killed_by_a_signal_crashes_with_it_explained(orch: Orchestrator) -> None:
    flow = orch.create_flow("flow")
    code = "import os, signal; os.kill(os.getpid(), signal.SIGUSR1)"
    deployment = orch.create_deployment(
        flow.id, "d", work_pool_name="pool", command=[PY, "-c", code]
    )
    run = orch.create_flow_run_from_deployment(deployment.id)
    with anyio.fail_after(10):
        await ProcessWorker(orch, "pool").start(run_once=True)
    run = orch.read_flow_run(run.id)
    assert run.state is not None
    assert run.state.type is StateType.CRASHED
    assert run.state.message == (
        f"Flow run infrastructure exited with non-zero status code {-signal.SIGUSR1}. "
        f"The process was stopped by signal {int(signal.SIGUSR1)}."
    )


@linux_only
async def test_a_wedged_launcher_is_killed_with_the_commands_group(
    tmp_path: Path, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "_LAUNCHER_MARGIN_SECONDS", 0.2)
    process = await start_process(
        tree.command("deaf", "wait"),
        cwd=tmp_path,
        env={**os.environ, **tree.env},
        grace_seconds=GRACE,
    )
    ready = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(process.stream_output, lambda line: ready.set())
            await ready.wait()
            assert process.supervisor_pid is not None
            os.kill(process.supervisor_pid, signal.SIGSTOP)  # it can no longer act
            assert await process.terminate() == -signal.SIGKILL
    await process.aclose()
    command, _, grandchildren = tree.recorded()
    await assert_gone([command, *grandchildren])  # the group's last-resort SIGKILL


@linux_only
async def test_the_launcher_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    # The kernel sends the parent-death signal when the *thread* that started a process
    # exits (trio starts processes from worker threads): the launcher must not take that
    # for the worker dying.
    started: list[subprocess.Popen[bytes]] = []
    arguments = [PY, "-I", "-S", str(LAUNCHER), str(os.getpid()), "0.3", "keep", "--",
                 PY, "-c", "import time; print('up', flush=True); time.sleep(60)"]  # fmt: skip

    def start() -> None:
        started.append(subprocess.Popen(arguments, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, cwd=tmp_path))  # fmt: skip

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    [launcher] = started
    try:
        assert launcher.stderr is not None
        assert launcher.stdout is not None
        report = launcher.stderr.read().decode()  # until the launcher closes it
        assert report.startswith("started ")
        command = int(report.split()[1])
        assert launcher.stdout.readline() == b"up\n"
        # The thread's exit has been signalled by now; give the launcher time to act on it.
        await anyio.sleep(0.3)
        assert launcher.poll() is None
        assert alive(command)
        launcher.terminate()
        with anyio.fail_after(5):
            assert await anyio.to_thread.run_sync(launcher.wait) == -signal.SIGTERM
        assert not alive(command)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for stream in (launcher.stdout, launcher.stderr):
            if stream is not None:
                stream.close()
