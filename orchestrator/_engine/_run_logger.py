"""A run's logger: a :class:`logging.LoggerAdapter` that keeps each line on its run.

:class:`RunLogger` does two things with every call (``logger.info(...)`` and the rest,
which all go through :meth:`RunLogger.log`):

1. it keeps the line on its run in the orchestrator's :class:`~._run_logs.RunLogs`,
   stamped with the orchestrator's clock, whatever the stdlib levels and handlers say
   (the orchestrator's own threshold, ``run_log_level``, decides);
2. it hands the call on to the stdlib logger ``orchestrator.runs``, as any adapter does,
   so handlers and pytest's ``caplog`` see it, subject to the usual levels. The record's
   ``extra`` carries ``task_run_id``, ``flow_run_id``, ``task_run_name``,
   ``flow_run_name`` (None when the run has none) and ``clock_time``, the orchestrator's
   time of the line; the caller's own ``extra`` is kept beside them.
"""

from __future__ import annotations

import logging
import sys
import traceback
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias, final

from .._core._checks import is_integer, wrong_type
from ._run_logs import RUNS_LOGGER_NAME, RunLog, RunLogs

if TYPE_CHECKING:
    from .._core._clock import Clock

__all__ = ["RunLogger"]

_SysExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)
#: What ``exc_info=`` takes, as :meth:`logging.Logger.log` does.
ExcInfo: TypeAlias = bool | _SysExcInfo | BaseException | None


@final
class RunLogger(logging.LoggerAdapter[logging.Logger]):
    """The logger of one task run or flow run (what ``get_run_logger()`` returns).

    Use it as a :class:`logging.Logger`: ``logger.info("fetched %d rows", n)``. Every line
    at or above the orchestrator's ``run_log_level`` is kept on the run (read it back with
    ``read_logs``), and every line goes on to the ``orchestrator.runs`` logger.

    Args:
        logs: where the orchestrator keeps run lines.
        clock: the orchestrator's clock, which stamps each line.
        task_run_id, task_run_name: the task run logging, or None for a flow run's logger.
        flow_run_id, flow_run_name: the flow run (a task run's, or the one logging).
    """

    def __init__(
        self,
        logs: RunLogs,
        clock: Clock,
        *,
        task_run_id: uuid.UUID | None,
        task_run_name: str | None,
        flow_run_id: uuid.UUID | None,
        flow_run_name: str | None,
    ) -> None:
        super().__init__(
            logging.getLogger(RUNS_LOGGER_NAME),
            {
                "task_run_id": task_run_id,
                "flow_run_id": flow_run_id,
                "task_run_name": task_run_name,
                "flow_run_name": flow_run_name,
            },
        )
        self._logs = logs
        self._clock = clock
        self._task_run_id = task_run_id
        self._flow_run_id = flow_run_id

    @property
    def task_run_id(self) -> uuid.UUID | None:
        """The task run whose lines this logger keeps, or None for a flow run's logger."""
        return self._task_run_id

    @property
    def flow_run_id(self) -> uuid.UUID | None:
        """The flow run the lines belong to, or None for a task run outside any flow."""
        return self._flow_run_id

    def log(
        self,
        level: int,
        msg: object,
        *args: object,
        exc_info: ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
        **kwargs: object,
    ) -> None:
        """Keep the line on the run, then log it on ``orchestrator.runs``.

        Raises:
            ArgumentTypeError: ``level`` is not an integer (also a TypeError).
        """
        if not is_integer(level):
            raise wrong_type("level", level, "a logging level number, such as logging.INFO")
        now = self._clock.now()
        if self._logs.keeps(level):
            self._logs.add(
                RunLog(
                    timestamp=now,
                    level=level,
                    message=_message(msg, args, exc_info),
                    task_run_id=self._task_run_id,
                    flow_run_id=self._flow_run_id,
                )
            )
        if self.logger.isEnabledFor(level):
            merged = {**(extra or {}), **(self.extra or {}), "clock_time": now}
            # One more level: the caller is above this method, not in it.
            self.logger.log(
                level,
                msg,
                *args,
                exc_info=exc_info,
                stack_info=stack_info,
                stacklevel=stacklevel + 1,
                extra=merged,
                **kwargs,  # as LoggerAdapter.log passes them on
            )

    def __repr__(self) -> str:
        run = (
            f"task_run_id={self._task_run_id}"
            if self._task_run_id is not None
            else f"flow_run_id={self._flow_run_id}"
        )
        return f"<RunLogger {run}>"


def _message(msg: object, args: tuple[object, ...], exc_info: ExcInfo) -> str:
    """The line as a handler's ``record.getMessage()`` shows it, with any traceback after."""
    record = logging.LogRecord(RUNS_LOGGER_NAME, 0, "", 0, msg, args, None)
    try:
        text = record.getMessage()
    except Exception as exc:  # a handler would print a logging error; keep what we can
        text = f"{msg!s} % {args!r} (could not format: {exc!r})"
    error = _exception(exc_info)
    if error is None:
        return text
    return text + "\n" + "".join(traceback.format_exception(error)).rstrip("\n")


def _exception(exc_info: ExcInfo) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, tuple):
        return exc_info[1]
    return None
