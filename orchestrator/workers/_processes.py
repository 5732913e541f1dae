"""Flow-run processes: start one from an argument list, stream its output, stop it.

A process is started with :func:`anyio.open_process` from a list of arguments, never
through a shell, in its own session (process group) on POSIX, so that stopping it
also stops whatever it started. Stopping is graceful first: SIGTERM, a grace period
in real time (the process lives in real time, whatever clock the orchestrator reads),
then SIGKILL.

:func:`explain_exit_code` turns an exit status into the sentence a crashed flow run
carries.
"""

from __future__ import annotations

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
    "FlowRunProcess",
    "crash_message",
    "explain_exit_code",
    "start_process",
]

#: A print-like function the worker reports to (one line per call).
Printer = Callable[..., None]

_POSIX: Final = sys.platform != "win32"
_SIGKILL: Final[signal.Signals] = getattr(signal, "SIGKILL", signal.SIGTERM)

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
    """A started flow-run process.

    Attributes:
        pid: the operating system's process id.
    """

    __slots__ = ("_own_group", "_process", "pid")

    def __init__(self, process: anyio.abc.Process, *, own_group: bool) -> None:
        self._process = process
        self._own_group = own_group
        self.pid: int = process.pid

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

    def _signal(self, signum: signal.Signals) -> None:
        try:
            if self._own_group:
                os.killpg(self.pid, signum)
            else:
                self._process.send_signal(signum)
        except ProcessLookupError:
            pass  # already gone

    async def terminate(self, grace_seconds: float) -> int:
        """Stop the process: SIGTERM, up to ``grace_seconds`` to exit, then SIGKILL.

        The signals go to the process's whole group when it has its own, so what it
        started stops too. Shielded from cancellation: once begun, it finishes.

        Returns:
            The exit status.
        """
        with anyio.CancelScope(shield=True):
            if self._process.returncode is None:
                self._signal(signal.SIGTERM)
                with anyio.move_on_after(grace_seconds) as grace:
                    await self._process.wait()
                if grace.cancelled_caught:
                    self._signal(_SIGKILL)
            status = await self._process.wait()
        return status

    async def aclose(self) -> None:
        """Release the process's pipes (the process must have exited)."""
        with anyio.CancelScope(shield=True):
            await self._process.aclose()


async def start_process(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    capture_output: bool = True,
) -> FlowRunProcess:
    """Start ``command`` (program and arguments) without a shell.

    Args:
        command: the argument list; a plain string is refused, since it would be run
            through a shell.
        cwd: the working directory; it must exist.
        env: the whole environment of the process.
        capture_output: pipe stdout and stderr (merged) for
            :meth:`FlowRunProcess.stream_output`; otherwise discard them.

    Raises:
        WorkerError: ``command`` is a string or empty, the working directory is missing,
            or the command cannot be started (not found, not executable, ...); the
            message names the command and the reason.
    """
    if isinstance(command, str | bytes) or not command:
        raise WorkerError(
            f"a flow-run command is a non-empty list of arguments, got {command!r}; it is "
            "never run through a shell"
        )
    if not await anyio.Path(cwd).is_dir():
        raise WorkerError(f"the working directory {str(cwd)!r} does not exist")
    output = subprocess.PIPE if capture_output else subprocess.DEVNULL
    try:
        process = await anyio.open_process(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if capture_output else subprocess.DEVNULL,
            cwd=cwd,
            env=dict(env),
            start_new_session=_POSIX,
        )
    except FileNotFoundError as exc:
        raise WorkerError(
            f"the command {command[0]!r} was not found ({exc.strerror}); check the "
            "deployment's command and the PATH"
        ) from exc
    except PermissionError as exc:
        raise WorkerError(
            f"the command {command[0]!r} could not be executed ({exc.strerror}); check "
            "its permissions"
        ) from exc
    except OSError as exc:
        raise WorkerError(f"the command {command[0]!r} could not be started: {exc}") from exc
    return FlowRunProcess(process, own_group=_POSIX)
