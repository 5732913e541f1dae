"""Progress of a drain: counts while it runs, for a callback, a terminal or a notebook.

``run_until_idle(orchestrator, progress=...)`` reports a :class:`DrainProgress`: how many
task runs are done out of how many it drives, how many failed, how long it has run on
the orchestrator's clock (virtual or real) and in real seconds.

* ``progress=callable``: the callable gets a :class:`DrainProgress` each time the
  counts changed (at most once per ``progress_interval`` real seconds) and once at the
  end, with ``final=True`` (also when the drain raises). It runs in the drain's own task,
  never inside a commit, so it may do as it likes (but a slow one slows the drain).
* ``progress=True``: a plain line on stderr, rewritten in place (``\\r``) on a terminal
  and one line per report otherwise (a log file, CI); in a Jupyter kernel, an updating
  display instead. IPython is used only when it is already loaded and a kernel runs:
  it is never a dependency.

Nothing polls. The drain's observer sees every commit; when the counts changed and
``progress_interval`` real seconds have passed since the last report, it wakes the drain,
which reports. Real time is read from a :class:`~orchestrator.SystemClock`, as every
reading of time is.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable
from typing import IO, Any, Final, TypeAlias, final

import attrs

from .._core._checks import check_optional_seconds, wrong_type
from .._core._clock import Clock, SystemClock
from .._core._wakeup import Signal

__all__ = ["DrainProgress", "ProgressCallback", "ProgressReporter", "progress_reporter"]

#: What ``progress=`` takes besides True, False and None.
ProgressCallback: TypeAlias = Callable[["DrainProgress"], object]

#: Real seconds between reports unless told otherwise: a callback, a terminal line.
_INTERVAL: Final = 0.1
#: ... a line per report in a log (no terminal), and a notebook display.
_LOG_INTERVAL: Final = 2.0
_NOTEBOOK_INTERVAL: Final = 0.25
_BAR: Final = 20


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@final
@attrs.frozen(kw_only=True, repr=False)
class DrainProgress:
    """How far a drain has got.

    Attributes:
        done: task runs that reached a terminal state during the drain (as
            :attr:`DrainResult.finished` counts them).
        total: the task runs it drives: those unfinished when it began, plus those
            created since.
        failed: of the done ones, those that ended FAILED or CRASHED.
        elapsed: seconds passed on the orchestrator's clock since the drain began.
        real_seconds: real seconds since the drain began.
        virtual: whether the orchestrator's clock is virtual.
        final: whether this is the drain's last report.
    """

    done: int
    total: int
    failed: int
    elapsed: float
    real_seconds: float
    virtual: bool
    final: bool = False

    def line(self) -> str:
        """Return the progress as one plain line (what ``progress=True`` prints)."""
        filled = _BAR if not self.total else min(_BAR, _BAR * self.done // self.total)
        clock = "virtual" if self.virtual else "elapsed"
        return (
            f"drain [{'#' * filled}{'.' * (_BAR - filled)}] {self.done}/{self.total} done, "
            f"{self.failed} failed | {_duration(self.elapsed)} {clock} | "
            f"{self.real_seconds:.1f} s real{' | finished' if self.final else ''}"
        )

    def __str__(self) -> str:
        return self.line()

    def __repr__(self) -> str:
        return f"<DrainProgress {self.line()}>"

    def _repr_html_(self) -> str:
        text = html.escape(self.line().split("] ", 1)[1])
        return (
            f'<div style="font-family: monospace; white-space: nowrap">'
            f'<progress value="{self.done}" max="{max(self.total, 1)}" '
            f'style="width: 12em; vertical-align: middle"></progress> {text}</div>'
        )


@final
class ProgressReporter:
    """Turns a drain's counts into reports, at most once per ``interval`` real seconds.

    Args:
        clock: the orchestrator's clock (for ``elapsed``).
        callback: what gets each report.
        interval: the least real seconds between two reports (the last one always goes).
        real_clock: where real time comes from (a :class:`SystemClock` by default).
    """

    __slots__ = (
        "_callback",
        "_clock",
        "_interval",
        "_last",
        "_last_real",
        "_real",
        "_real_started",
        "_started",
        "due",
    )

    def __init__(
        self,
        clock: Clock,
        callback: ProgressCallback,
        interval: float,
        real_clock: Clock | None = None,
    ) -> None:
        self._clock = clock
        self._callback = callback
        self._interval = interval
        self._real = SystemClock() if real_clock is None else real_clock
        self._started = clock.now()
        self._real_started = self._real.timestamp()
        self._last_real = -float("inf")
        self._last: tuple[int, int, int] | None = None
        self.due = Signal()
        """Notified (from any thread) when a report is due: the drain then calls report."""

    def changed(self) -> None:
        """Note that counts changed (called in commits): wake the drain if a report is due."""
        if self._real.timestamp() - self._last_real >= self._interval:
            self.due.notify()

    def report(self, done: int, total: int, failed: int, *, final: bool = False) -> None:
        """Report these counts now, unless they are the ones reported last (the final always)."""
        counts = (done, total, failed)
        if counts == self._last and not final:
            return
        now_real = self._real.timestamp()
        self._last, self._last_real = counts, now_real
        self._callback(
            DrainProgress(
                done=done,
                total=total,
                failed=failed,
                elapsed=(self._clock.now() - self._started).total_seconds(),
                real_seconds=max(0.0, now_real - self._real_started),
                virtual=self._clock.is_virtual,
                final=final,
            )
        )


@final
class _Line:
    """``progress=True`` outside a notebook: a line on a stream, rewritten on a terminal."""

    __slots__ = ("_stream", "_tty", "_width")

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._width = 0

    @property
    def interval(self) -> float:
        return _INTERVAL if self._tty else _LOG_INTERVAL

    def __call__(self, progress: DrainProgress) -> None:
        line = progress.line()
        if self._tty:
            pad = " " * max(0, self._width - len(line))
            self._width = len(line)
            self._stream.write(f"\r{line}{pad}" + ("\n" if progress.final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


@final
class _Notebook:
    """``progress=True`` in a Jupyter kernel: one display, updated in place."""

    __slots__ = ("_display", "_handle")

    interval = _NOTEBOOK_INTERVAL

    def __init__(self, display: Callable[..., Any]) -> None:
        self._display = display
        self._handle: Any = None

    def __call__(self, progress: DrainProgress) -> None:
        if self._handle is None:
            self._handle = self._display(progress, display_id=True)
        else:
            self._handle.update(progress)


def _notebook_display() -> Callable[..., Any] | None:
    """IPython's ``display`` when a kernel runs in this process (IPython already loaded)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = getattr(ipython, "get_ipython", lambda: None)()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    display_module = sys.modules.get("IPython.display")
    display = getattr(display_module, "display", None)
    return display if callable(display) else None


def progress_reporter(
    clock: Clock, progress: object, interval: float | None
) -> ProgressReporter | None:
    """Return the reporter ``progress=`` asks for (None for None or False).

    Raises:
        InvalidArgument: ``progress`` is not a bool, None or a callable, or ``interval`` is
            not None or real seconds >= 0.
    """
    interval = check_optional_seconds(
        interval, "progress_interval", expected="None or real seconds >= 0"
    )
    if progress is None or progress is False:
        return None
    if progress is True:
        display = _notebook_display()
        target: _Line | _Notebook = _Line(sys.stderr) if display is None else _Notebook(display)
        chosen = target.interval if interval is None else interval
        return ProgressReporter(clock, target, chosen)
    if not callable(progress):
        raise wrong_type("progress", progress, "True, False, None or a callable")
    return ProgressReporter(clock, progress, _INTERVAL if interval is None else interval)
