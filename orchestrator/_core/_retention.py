"""Retention: how long an orchestrator keeps finished runs, as a small frozen value.

An :class:`~orchestrator.Orchestrator` made with ``retention=Retention(...)`` deletes
finished runs oldest first, so a process that runs for weeks stays flat; the engine's
``_engine/_retention.py`` applies it. This module only holds the value and its checks.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import final

import attrs

from ._checks import is_number, wrong_type, wrong_value

__all__ = ["Retention"]

_AGE = "None, a timedelta > 0 or a number of seconds > 0"
_COUNT = "None or an integer >= 1"


def _to_max_age(value: timedelta | float | None) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        if value > timedelta(0):
            return value
        raise wrong_value("max_age", value, _AGE)
    if not is_number(value):
        raise wrong_type("max_age", value, _AGE)
    if not (math.isfinite(value) and value > 0):
        raise wrong_value("max_age", value, _AGE)
    try:
        return timedelta(seconds=value)
    except OverflowError:
        raise wrong_value("max_age", value, _AGE) from None


def _check_max_terminal_runs(value: int | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type("max_terminal_runs", value, _COUNT)
    if value < 1:
        raise wrong_value("max_terminal_runs", value, _COUNT)
    return value


@final
@attrs.frozen(kw_only=True)
class Retention:
    """How long an orchestrator keeps finished runs (pass it as ``Orchestrator(retention=)``).

    Args:
        max_age: a finished run is deleted once this long has passed on the
            orchestrator's clock since its terminal state was committed; a
            :class:`~datetime.timedelta` or a number of seconds (> 0), or None for no
            age limit. Kept as a timedelta.
        max_terminal_runs: only the newest this many finished runs are kept; older ones
            are deleted, oldest first. None for no count limit.

    Both None (the default) keeps everything, as an orchestrator without retention does.

    What counts as a finished run, what goes with it and when it is deleted is
    described on :class:`~orchestrator.Orchestrator` (``retention``) and in the README.

    Raises:
        InvalidArgument: ``max_age`` is not None, a positive timedelta or a positive
            finite number of seconds, or ``max_terminal_runs`` is not None or an
            integer >= 1.

    Example:
        >>> Retention(max_age=3600, max_terminal_runs=10_000)
        Retention(max_age=datetime.timedelta(seconds=3600), max_terminal_runs=10000)
    """

    max_age: timedelta | None = attrs.field(default=None, converter=_to_max_age)
    max_terminal_runs: int | None = attrs.field(default=None, converter=_check_max_terminal_runs)

    @property
    def keeps_everything(self) -> bool:
        """True when neither limit is set: nothing is ever deleted."""
        return self.max_age is None and self.max_terminal_runs is None
