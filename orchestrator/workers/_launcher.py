"""The flow-run launcher (Linux): a small supervisor between the worker and a run's command.

The process worker runs this file as a script, ``python -I -S _launcher.py PARENT GRACE
LEFTOVER -- COMMAND...``. It imports only the standard library, never the orchestrator
package, so it starts in about 10 ms. It:

1. asks the kernel for SIGHUP when its parent (the worker) dies (``PR_SET_PDEATHSIG``),
   and to be a *subreaper* (``PR_SET_CHILD_SUBREAPER``): a process of the run whose
   parent dies is re-parented to the launcher instead of init, so a process that left
   the run's session (``setsid``, a double fork) stays in the launcher's subtree;
2. starts COMMAND with ``posix_spawnp`` (no shell) in a session of its own, with stdout
   and stderr both on the launcher's stdout, an empty signal mask and default signal
   handling;
3. reports ``started PID`` (or ``failed ERRNO MESSAGE``) on its stderr, a pipe the
   worker reads once, then points its own stderr at its stdout;
4. waits, every signal it cares about blocked and taken with ``sigwaitinfo``:

   - SIGTERM or SIGINT (the worker stopping the run), or SIGHUP once its parent is gone
     (the worker died): every process of the run gets SIGTERM and SIGCONT, GRACE
     seconds to exit, then SIGKILL, again until none is left;
   - the command exiting: unless LEFTOVER is ``keep``, what it left behind gets the same
     treatment with LEFTOVER seconds of grace;

5. exits as the command did, with its exit code or killed by the same signal, so the
   worker sees the status it would have seen without a launcher.

"Every process of the run" is the command's process group plus every descendant of the
launcher, found by reading each process's parent in ``/proc``. Out of reach: a process
handed to a daemon outside the tree (``systemd-run``, ``at``, a container runtime), and,
if the launcher itself is killed with SIGKILL, the processes re-parented to it (the
worker then kills the command's group, the rest is lost). A pid read from ``/proc`` may
in theory be reused between the read and the signal; only direct children are immune.

A SIGHUP while the parent is still there is ignored: the kernel also sends the
parent-death signal when the *thread* that started the launcher exits (trio starts
processes from a worker thread), which is not the worker dying.
"""

from __future__ import annotations

import ctypes
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable
    from typing import NoReturn
else:
    # The C module behind ``signal``, without its enum wrappers: about 5 ms less per run.
    import _signal

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

#: The signals the launcher takes with ``sigwaitinfo`` (blocked, never handled).
_WATCHED = frozenset(
    {_signal.SIGCHLD, _signal.SIGALRM, _signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP}
)
#: What the launcher receives when its parent dies.
_PARENT_DIED = _signal.SIGHUP
#: Set back to their default action in the command (Python ignores SIGPIPE and SIGXFSZ).
_DEFAULTS = _WATCHED | {_signal.SIGPIPE, _signal.SIGXFSZ}
#: After SIGKILL: how long to wait for an exit before looking again, and how many times.
_KILL_PATIENCE_SECONDS = 0.5
_KILL_ROUNDS = 4
_USAGE = "usage: _launcher.py PARENT_PID GRACE_SECONDS LEFTOVER_GRACE_SECONDS|keep -- COMMAND..."

# What _Run.wait_for_exits saw.
_NONE_LEFT, _SOME_EXITED, _TIMED_OUT = 0, 1, 2


class _Run:
    """The command's process and everything started under the launcher."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        #: The command's wait status once reaped.
        self.status: int | None = None

    def reap(self) -> bool:
        """Collect every child that has exited; True when the launcher has none left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            if pid == self.pid:
                self.status = status

    def signal_all(self, *signals: int) -> None:
        """Send ``signals`` to the command's group and to every live descendant."""
        targets = _descendants(os.getpid())
        for signum in signals:
            if self.status is None:  # unreaped, so its group id cannot have been reused
                _send(os.killpg, self.pid, signum)
            for pid in targets:
                _send(os.kill, pid, signum)

    def wait_for_exits(self, seconds: float, *, first: bool) -> int:
        """Reap children for up to ``seconds``, or until one exits when ``first``."""
        if self.reap():
            return _NONE_LEFT
        if seconds <= 0:
            return _TIMED_OUT
        if seconds != float("inf"):
            _signal.setitimer(_signal.ITIMER_REAL, seconds)
        try:
            while True:
                signum = _signal.sigwaitinfo(_WATCHED).si_signo
                if signum == _signal.SIGALRM:
                    return _TIMED_OUT
                if signum == _signal.SIGCHLD:
                    if self.reap():
                        return _NONE_LEFT
                    if first:
                        return _SOME_EXITED
                # SIGTERM, SIGINT, SIGHUP: already stopping.
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _signal.sigtimedwait({_signal.SIGALRM}, 0)  # drop an alarm that came late

    def end(self, grace: float) -> None:
        """SIGTERM every process of the run, wait up to ``grace`` seconds, then SIGKILL."""
        if self.reap():
            return  # nothing left: a live descendant would have a live child of ours above it
        self.signal_all(_signal.SIGTERM, _signal.SIGCONT)
        if self.wait_for_exits(grace, first=False) != _NONE_LEFT:
            self.kill()

    def kill(self) -> None:
        """SIGKILL every process of the run, again after each exit, until none is left.

        Gives up after a few rounds in which nothing exited (a process the kernel keeps,
        say in uninterruptible sleep).
        """
        rounds = 0
        while rounds < _KILL_ROUNDS:
            self.signal_all(_signal.SIGKILL)
            seen = self.wait_for_exits(_KILL_PATIENCE_SECONDS, first=True)
            if seen == _NONE_LEFT:
                return
            if seen == _TIMED_OUT:
                rounds += 1


def _send(kill: Callable[[int, int], None], pid: int, signum: int) -> None:
    """``kill(pid, signum)``, quietly doing nothing when the process is gone."""
    try:
        kill(pid, signum)
    except OSError:
        return


def _descendants(root: int) -> list[int]:
    """The live (not zombie) descendants of ``root``, read from /proc."""
    children: dict[int, list[int]] = {}
    live: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue  # exited meanwhile
        try:
            stat = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = stat.rsplit(b")", 1)[-1].split()  # the name, in parentheses, may hold ")"
        if len(fields) < 2:
            continue
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        if fields[0] != b"Z":
            live.add(pid)
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child in live:
                found.append(child)
            stack.append(child)
    return found


def _report(message: str) -> None:
    """Tell the worker how the start went; from now on, stderr goes where stdout goes."""
    os.write(2, f"{message}\n".encode(errors="replace"))
    os.dup2(1, 2)


def _exit_as(status: int | None) -> NoReturn:
    """Exit as a process with wait status ``status`` did (killed by SIGKILL if None)."""
    code = -_signal.SIGKILL if status is None else os.waitstatus_to_exitcode(status)
    if code >= 0:
        sys.exit(code)
    signum = -code
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command's core dump, not ours
    if signum not in (_signal.SIGKILL, _signal.SIGSTOP):  # those cannot be handled
        _signal.signal(signum, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    sys.exit(128 + signum)  # a signal that does not end a process: exit as a shell would


def _parse(argv: list[str]) -> tuple[int, float, float | None, list[str]]:
    if len(argv) < 5 or argv[3] != "--":
        raise SystemExit(_USAGE)
    parent, grace, leftover, _, *command = argv
    return int(parent), float(grace), None if leftover == "keep" else float(leftover), command


def main(argv: list[str]) -> NoReturn:
    """Run the command in ``argv`` as the module docstring says, and exit as it did."""
    parent, grace, leftover_grace, command = _parse(argv)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, _WATCHED)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, _PARENT_DIED, 0, 0, 0)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before the parent-death signal was set
        _report(f"failed 0 the worker (pid {parent}) is gone")
        sys.exit(1)
    try:
        pid = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, 1, 2)],
            setsid=True,
            setsigmask=(),
            setsigdef=_DEFAULTS,
        )
    except OSError as exc:
        _report(f"failed {exc.errno or 0} {exc.strerror or exc}")
        sys.exit(127)
    _report(f"started {pid}")
    run = _Run(pid)
    try:
        stopping = False
        while run.status is None and not stopping:
            signum = _signal.sigwaitinfo(_WATCHED).si_signo
            if signum == _signal.SIGCHLD:
                run.reap()
            elif signum == _PARENT_DIED:
                stopping = os.getppid() != parent
            elif signum != _signal.SIGALRM:
                stopping = True  # SIGTERM or SIGINT
        if stopping:
            run.end(grace)
        elif leftover_grace is not None:
            run.end(leftover_grace)
    except BaseException:
        run.kill()
        raise
    _exit_as(run.status)


if __name__ == "__main__":
    main(sys.argv[1:])
