"""``log_prints``: ``print`` inside a run becomes a line of the run's log.

While a run whose task or flow says ``log_prints=True`` executes, a ``print(...)`` to
standard output in that run's context (``file`` left out, None, or ``sys.stdout``) is not
written: its text (the values joined by ``sep``, without ``end``) is handed to the sink
the run entered with :func:`capturing_prints`, which logs it at INFO on the run.

``print`` is a builtin, shared by the whole process, so this is the one piece of
process-wide state in the package, kept as small as it can be: while at least one run
captures prints, ``builtins.print`` is a wrapper that looks up this context's sink (a
:class:`contextvars.ContextVar`, so threads and tasks started inside a run inherit it, and
code outside any capturing run is untouched) and calls the original ``print`` when
there is none. A count under a lock installs the wrapper for the first capturing run and
puts the original back when the last one ends; nothing polls.
"""

from __future__ import annotations

import builtins
import contextvars
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, final

__all__ = ["PRINT_PATCH", "PRINT_SINK", "capturing_prints", "prints_captured"]

#: Where a print in this context goes instead of standard output (None: it is printed).
PrintSink = Callable[[str], None]

_SINK: Final[contextvars.ContextVar[PrintSink | None]] = contextvars.ContextVar(
    "orchestrator_print_sink", default=None
)


def prints_captured() -> bool:
    """Whether a ``print`` in this context would be captured (by an enclosing run)."""
    return _SINK.get() is not None


@contextmanager
def capturing_prints(sink: PrintSink | None) -> Iterator[None]:
    """Send the block's prints to standard output to ``sink`` (None: print them).

    Nested blocks replace the sink for their extent: a run that says
    ``log_prints=False`` inside a capturing one passes None.
    """
    token = _SINK.set(sink)
    if sink is None:
        try:
            yield
        finally:
            _SINK.reset(token)
        return
    _PATCH.acquire()
    try:
        yield
    finally:
        _SINK.reset(token)
        _PATCH.release()


@final
class _PrintPatch:
    """Installs the capturing ``print`` while some run needs it (a lock and a count)."""

    __slots__ = ("_count", "_lock", "original")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.original: Callable[..., None] = builtins.print

    def acquire(self) -> None:
        with self._lock:
            if self._count == 0 and builtins.print is not _capturing_print:
                self.original = builtins.print
                builtins.print = _capturing_print
            self._count += 1

    def release(self) -> None:
        with self._lock:
            self._count -= 1
            # Put the original back only if nobody replaced the wrapper meanwhile: their
            # print still reaches ours, which prints through the original when no sink.
            if self._count == 0 and builtins.print is _capturing_print:
                builtins.print = self.original


_PATCH: Final = _PrintPatch()

#: The context's print sink and the patch, for a caller that enters a capture without a
#: generator (:func:`~orchestrator._core._run_context.run_context`, entered twice a run):
#: set the sink, then ``acquire()`` the patch when it is not None; ``release()`` it after
#: resetting the sink, as :func:`capturing_prints` does.
PRINT_SINK: Final = _SINK
PRINT_PATCH: Final = _PATCH


def _capturing_print(*values: object, **options: object) -> None:
    """``print``, except that prints to stdout in a capturing run go to its sink."""
    sink = _SINK.get()
    sep = options.get("sep", " ")
    target = options.get("file")
    if (
        sink is None
        or (target is not None and target is not sys.stdout)
        or not (sep is None or isinstance(sep, str))
        or not set(options) <= {"sep", "end", "file", "flush"}
    ):
        _PATCH.original(*values, **options)
        return
    token = _SINK.set(None)  # whatever the sink prints, say a handler, is printed
    try:
        sink((" " if sep is None else sep).join(map(str, values)))
    finally:
        _SINK.reset(token)
