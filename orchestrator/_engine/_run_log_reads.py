"""The run-log facet: read the lines runs logged, and build a run's logger from its ids."""

from __future__ import annotations

import uuid

from .._core._checks import check_id, wrong_value
from ._facet import Facet
from ._run_logger import RunLogger
from ._run_logs import RunLog, check_level

__all__ = ["RunLogReads"]


class RunLogReads(Facet):
    """Run logs: ``read_logs``, ``count_dropped_logs`` and ``run_logger``."""

    __slots__ = ()

    def read_logs(
        self,
        task_run_id: uuid.UUID | None = None,
        flow_run_id: uuid.UUID | None = None,
        level: int | str | None = None,
    ) -> list[RunLog]:
        """Return the lines runs logged (``get_run_logger()``, captured prints), oldest first.

        Args:
            task_run_id: only this task run's lines.
            flow_run_id: only this flow run's lines: its own and its task runs' (with
                ``task_run_id`` too, that task run's lines if it is in this flow run).
            level: only lines at this level or above (a number or a name, ``"WARNING"``).

        Neither id reads every run's lines. An id no run has (or a deleted run's) reads
        an empty list. Only the lines the orchestrator kept are there: those at or above
        its ``run_log_level``, the newest ``run_log_limit`` of each run.

        Raises:
            InvalidArgument: an id that is neither a UUID nor its string form, or a level
                that is neither an integer >= 0 nor a level name; the error names the
                parameter.
        """
        task, flow, minimum = _check_selection(task_run_id, flow_run_id, level)
        return self._engine.run_logs.read(task_run_id=task, flow_run_id=flow, level=minimum)

    def count_dropped_logs(
        self, task_run_id: uuid.UUID | None = None, flow_run_id: uuid.UUID | None = None
    ) -> int:
        """How many lines of the runs ``read_logs`` would read were dropped for room.

        Each run keeps its newest ``run_log_limit`` lines; older ones are dropped and
        counted here (lines below ``run_log_level`` are never kept, nor counted).

        Raises:
            InvalidArgument: an id that is neither a UUID nor its string form, naming the
                parameter.
        """
        task, flow, _ = _check_selection(task_run_id, flow_run_id, None)
        return self._engine.run_logs.dropped(task_run_id=task, flow_run_id=flow)

    def run_logger(
        self, *, task_run_id: uuid.UUID | None = None, flow_run_id: uuid.UUID | None = None
    ) -> RunLogger:
        """Return the logger of a task run or flow run, from its id (no run context needed).

        It is the logger ``get_run_logger()`` returns inside the run: for hooks and
        other code that runs on a run's behalf outside its body. A task run's logger
        names its flow run (when it has one) by itself; ``flow_run_id`` alone gives the
        flow run's own logger. A run that is not stored (or has been deleted) still gets
        a logger: its lines go to ``orchestrator.runs`` and are not kept.

        Raises:
            InvalidArgument: neither id, or an id that is neither a UUID nor its string
                form (naming it).
        """
        if task_run_id is None and flow_run_id is None:
            raise wrong_value(
                "task_run_id", None, "a task run's id (or give flow_run_id for a flow run)"
            )
        engine = self._engine
        task_name: str | None = None
        flow_name: str | None = None
        with engine.lock:
            if task_run_id is not None:
                task_run_id = check_id(task_run_id, "task_run_id", text=True)
                run = engine.store.get_task_run(task_run_id)
                if run is not None:
                    task_name = run.name
                    if flow_run_id is None:
                        flow_run_id = run.flow_run_id
            if flow_run_id is not None:
                flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
                flow_run = engine.store.get_flow_run(flow_run_id)
                flow_name = None if flow_run is None else flow_run.name
        return RunLogger(
            engine.run_logs,
            engine.clock,
            task_run_id=task_run_id,
            task_run_name=task_name,
            flow_run_id=flow_run_id,
            flow_run_name=flow_name,
        )


def _check_selection(
    task_run_id: object, flow_run_id: object, level: object
) -> tuple[uuid.UUID | None, uuid.UUID | None, int]:
    task = None if task_run_id is None else check_id(task_run_id, "task_run_id", text=True)
    flow = None if flow_run_id is None else check_id(flow_run_id, "flow_run_id", text=True)
    return task, flow, 0 if level is None else check_level(level, "level")
