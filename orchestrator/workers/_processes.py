"""Flow-run processes: start one from an argument list, stream its output, stop it.

A process is started from a list of arguments, never through a shell, and nothing it
starts is meant to outlive its flow run:

* On Linux the command runs under a small launcher (:mod:`._launcher`), a separate
  ``python -I -S`` process that puts the command in a session of its own, is told by
  the kernel when the worker dies (parent-death signal), and, as a subreaper, keeps
  even the processes that leave the session (``setsid``, double forks) in its
  subtree. Stopping a run sends SIGTERM to the launcher, which gives every process of
  the run SIGTERM, the grace period, then SIGKILL; when the command exits on its own,
  the launcher stops what it left behind the same way, with a short grace
  (:data:`LEFTOVER_GRACE_SECONDS` at most), unless ``kill_leftovers`` is False. Should
  the launcher not be gone some seconds after the grace period, the worker kills it
  and the command's process group itself.
* On other POSIX systems (macOS, the BSDs) the command runs in a session of its own
  and signals go to its process group: SIGTERM, the grace period, then SIGKILL to the
  whole group whether or not the command is still alive; after a normal exit,
  SIGTERM, the short grace, SIGKILL to what is left of the group. A process that
  leaves the group (``setsid``) is out of reach there.
* On Windows the command runs in a new process group (``CREATE_NEW_PROCESS_GROUP``)
  and stopping terminates that one process; what it started is not tracked (untested).

The run's ``infrastructure_pid`` is the command's own process id everywhere; on Linux
its parent is the launcher (:attr:`FlowRunProcess.supervisor_pid`). Grace periods run
in real time: processes live in real time, whatever clock the orchestrator reads.

:func:`explain_exit_code` turns an exit status into the sentence a crashed flow run
carries.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, final

import anyio
import anyio.abc

from .._core._errors import WorkerError
from ._output import DEFAULT_MAX_LINE_BYTES, LineSplitter

__all__ = [
    "LEFTOVER_GRACE_SECONDS",
    "FlowRunProcess",
    "crash_message",
    "explain_exit_code",
    "start_process",
]

#: A print-like function the worker reports to (one line per call).
Printer = Callable[..., None]

_POSIX: Final = sys.platform != "win32"
_SIGKILL: Final[signal.Signals] = getattr(signal, "SIGKILL", signal.SIGTERM)
#: The launcher script; runs only on Linux (it needs prctl and /proc).
_LAUNCHER: Final = Path(__file__).with_name("_launcher.py")
_LAUNCHER_AVAILABLE: Final = (
    sys.platform == "linux" and bool(sys.executable) and _LAUNCHER.is_file()
)
#: Windows: a process group of its own, so the worker's console signals do not reach it.
_CREATION_FLAGS: Final[int] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
#: How much longer than the grace period the worker waits for the launcher to be gone
#: before it kills the launcher and the command's group itself.
_LAUNCHER_MARGIN_SECONDS: Final = 5.0
#: The most a launcher writes about its start that the worker reads.
_REPORT_LIMIT: Final = 16_384
#: The longest grace, in real seconds, of what a flow run's command left running when it
#: exited on its own (the cancel grace period when that is shorter).
LEFTOVER_GRACE_SECONDS: Final = 2.0

_EXPLANATIONS: Final[dict[int, str]] = {
    0: "The process exited cleanly.",
    1: "The process exited with a general error; its output should say why.",
    -9: "The process was killed (SIGKILL), possibly because it ran out of memory.",
    137: "The process was killed (SIGKILL), possibly because it ran out of memory.",
    -15: "The process was terminated (SIGTERM) by someone or something outside it.",
    143: "The process was terminated (SIGTERM) by someone or something outside it.",
    125: "The container running the process could not be started.",
    126: "The command was found but could not be executed; check its permissions.",
    127: "The command was not found; check the command and the PATH.",
    247: "The process ran out of memory.",
}


def explain_exit_code(status_code: int) -> str:
    """Return one sentence saying what an exit status usually means.

    Example:
        >>> explain_exit_code(127)
        'The command was not found; check the command and the PATH.'
    """
    explanation = _EXPLANATIONS.get(status_code)
    if explanation is not None:
        return explanation
    if status_code < 0:
        return f"The process was stopped by signal {-status_code}."
    return "The process exited with an unexpected status; its output should say why."


def crash_message(status_code: int) -> str:
    """Return the message of the CRASHED state of a run whose process exited non-zero.

    Example:
        >>> crash_message(3)
        'Flow run infrastructure exited with non-zero status code 3. The process exited \
with an unexpected status; its output should say why.'
    """
    return (
        f"Flow run infrastructure exited with non-zero status code {status_code}. "
        f"{explain_exit_code(status_code)}"
    )


@final
class FlowRunProcess:
    """A started flow-run process (see the module docstring for how it is stopped).

    Attributes:
        pid: the command's process id (the run's ``infrastructure_pid``).
        supervisor_pid: the launcher's process id on Linux, else None.
    """

    __slots__ = ("_grace", "_leftover_grace", "_own_group", "_process", "pid", "supervisor_pid")

    def __init__(
        self,
        process: anyio.abc.Process,
        *,
        own_group: bool,
        grace_seconds: float = 30.0,
        leftover_grace_seconds: float | None = None,
        command_pid: int | None = None,
    ) -> None:
        self._process = process
        self._own_group = own_group
        self._grace = grace_seconds
        self._leftover_grace = leftover_grace_seconds
        self.pid: int = process.pid if command_pid is None else command_pid
        self.supervisor_pid: int | None = None if command_pid is None else process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has exited, else None."""
        return self._process.returncode

    async def stream_output(
        self, printer: Printer, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> None:
        """Give every line the process writes (stdout and stderr) to ``printer``, until EOF.

        Output is read in chunks and cut at newlines; lines are decoded as UTF-8
        (undecodable bytes replaced) and passed without their line ending. A line longer
        than ``max_line_bytes`` is passed in pieces of at most that many bytes (cut at a
        character boundary), each but the last followed by :data:`~._output.LINE_SPLIT_MARKER`, so
        memory stays bounded and the work linear whatever the process writes. Returns at
        once when the output is not captured.
        """
        stream = self._process.stdout
        if stream is None:
            return
        lines = LineSplitter(max_line_bytes)
        async for chunk in stream:
            for line in lines.feed(chunk):
                printer(line)
        for line in lines.flush():
            printer(line)

    async def wait(self) -> int:
        """Wait for the process to exit and return its status."""
        return await self._process.wait()

    def _signal(self, signum: signal.Signals) -> bool:
        """Signal the command's group (or the command alone); False when nothing got it."""
        try:
            if self._own_group:
                os.killpg(self.pid, signum)
            else:
                self._process.send_signal(signum)
        except OSError:
            return False  # already gone (or, for a group, none of it is ours to signal)
        return True

    def _group_alive(self) -> bool:
        """True when the command's group has a member left (the command or another)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # there, but not ours to signal
        return True

    async def terminate(self) -> int:
        """Stop the process and what it started: SIGTERM, the grace period, SIGKILL.

        Under the launcher, SIGTERM goes to the launcher, which does the rest; if it is
        still there :data:`_LAUNCHER_MARGIN_SECONDS` after the grace period, the worker
        kills it and the command's group. Otherwise the signals go to the command's
        group: when the command exits early, the rest of the group still gets the rest
        of the grace period (unless it is infinite), then SIGKILL. Shielded from
        cancellation: once begun, it finishes.

        Returns:
            The exit status.
        """
        with anyio.CancelScope(shield=True):
            if self._process.returncode is None:
                supervised = self.supervisor_pid is not None
                if supervised:
                    self._process.send_signal(signal.SIGTERM)
                else:
                    self._signal(signal.SIGTERM)
                patience = self._grace + (_LAUNCHER_MARGIN_SECONDS if supervised else 0.0)
                with anyio.move_on_after(patience) as grace:
                    await self._process.wait()
                if supervised:
                    if grace.cancelled_caught:
                        self._process.kill()
                        self._signal(_SIGKILL)
                elif grace.cancelled_caught:
                    self._signal(_SIGKILL)
                elif self._own_group and self._group_alive() and grace.deadline != math.inf:
                    await anyio.sleep_until(grace.deadline)
                    self._signal(_SIGKILL)
            status = await self._process.wait()
        return status

    async def aclose(self) -> None:
        """Release the process's pipes (the process must have exited)."""
        with anyio.CancelScope(shield=True):
            await self._process.aclose()

    async def end_leftovers(self) -> None:
        """Stop what the command left in its group after it exited on its own.

        Only without the launcher (which does this itself) and when leftovers are to be
        killed: SIGTERM to the group, the leftover grace, SIGKILL. The grace is waited
        in full when anything got the SIGTERM: the worker cannot wait for processes
        that are not its children. Shielded from cancellation.
        """
        grace = self._leftover_grace
        if self.supervisor_pid is not None or not self._own_group or grace is None:
            return
        with anyio.CancelScope(shield=True):
            if self._signal(signal.SIGTERM):
                await anyio.sleep(grace)
                self._signal(_SIGKILL)


async def start_process(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    capture_output: bool = True,
    grace_seconds: float = 30.0,
    kill_leftovers: bool = True,
    supervise: bool | None = None,
) -> FlowRunProcess:
    """Start ``command`` (program and arguments) without a shell.

    Args:
        command: the argument list; a plain string is refused, since it would be run
            through a shell.
        cwd: the working directory; it must exist.
        env: the whole environment of the process.
        capture_output: pipe stdout and stderr (merged) for
            :meth:`FlowRunProcess.stream_output`; otherwise discard them.
        grace_seconds: real seconds between SIGTERM and SIGKILL when the process is
            stopped (infinity: wait however long it takes).
        kill_leftovers: when the command exits on its own, stop what it left running
            (SIGTERM, ``min(grace_seconds, LEFTOVER_GRACE_SECONDS)``, SIGKILL).
        supervise: run the command under the launcher; None means where there is one
            (Linux). False on Linux gives what other POSIX systems get.

    Raises:
        WorkerError: ``command`` is a string or empty, the working directory is missing,
            or the command cannot be started (not found, not executable, ...); the
            message names the command and the reason. Also ``supervise=True`` off Linux.
    """
    if isinstance(command, str | bytes) or not command:
        raise WorkerError(
            f"a flow-run command is a non-empty list of arguments, got {command!r}; it is "
            "never run through a shell"
        )
    if not await anyio.Path(cwd).is_dir():
        raise WorkerError(f"the working directory {str(cwd)!r} does not exist")
    launcher = _LAUNCHER_AVAILABLE if supervise is None else supervise
    if launcher and not _LAUNCHER_AVAILABLE:
        raise WorkerError("the flow-run launcher runs only on Linux; pass supervise=None")
    leftover_grace = min(grace_seconds, LEFTOVER_GRACE_SECONDS) if kill_leftovers else None
    output = subprocess.PIPE if capture_output else subprocess.DEVNULL
    arguments = list(command)
    errors = subprocess.STDOUT if capture_output else subprocess.DEVNULL
    if launcher:
        leftover = "keep" if leftover_grace is None else repr(leftover_grace)
        arguments = [sys.executable, "-I", "-S", str(_LAUNCHER), str(os.getpid()),
                     repr(grace_seconds), leftover, "--", *arguments]  # fmt: skip
        errors = subprocess.PIPE  # where the launcher reports how the start went
    try:
        process = await anyio.open_process(
            arguments,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=errors,
            cwd=cwd,
            env=dict(env),
            start_new_session=_POSIX,
            creationflags=_CREATION_FLAGS,
        )
    except OSError as exc:
        raise _start_error(arguments[0], exc.errno, exc.strerror or str(exc)) from exc
    command_pid = await _started_pid(process, command[0]) if launcher else None
    return FlowRunProcess(
        process,
        own_group=_POSIX,
        grace_seconds=grace_seconds,
        leftover_grace_seconds=leftover_grace,
        command_pid=command_pid,
    )


async def _started_pid(process: anyio.abc.Process, program: str) -> int:
    """Read the launcher's report: the command's pid, or why it did not start."""
    stream = process.stderr
    assert stream is not None
    report = bytearray()
    with anyio.CancelScope(shield=True):  # the launcher reports within milliseconds
        async for chunk in stream:  # until the launcher points its stderr elsewhere
            report += chunk
            if len(report) >= _REPORT_LIMIT:
                break
    text = report.decode(errors="replace").strip()
    word, _, rest = text.partition(" ")
    if word == "started" and rest.isdigit():
        return int(rest)
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            process.kill()
        await process.wait()
        await process.aclose()
    code, _, reason = rest.partition(" ")
    if word == "failed" and code.isdigit():
        raise _start_error(program, int(code), reason)
    raise WorkerError(
        f"the flow-run launcher could not start {program!r}: {text[-2000:] or 'no report'}"
    )


def _start_error(program: str, code: int | None, reason: str) -> WorkerError:
    """The error saying why ``program`` could not be started (``code`` an errno)."""
    if code == errno.ENOENT:
        return WorkerError(
            f"the command {program!r} was not found ({reason}); check the deployment's "
            "command and the PATH"
        )
    if code in (errno.EACCES, errno.EPERM):
        return WorkerError(
            f"the command {program!r} could not be executed ({reason}); check its permissions"
        )
    return WorkerError(f"the command {program!r} could not be started: [Errno {code}] {reason}")
