"""Workers: the runtime that executes runs, in this process or in subprocesses.

Holds the task worker (``TaskWorker``, ``serve``: background task runs, with their
claims, slots, calls and status server; its options and status in
``_task_worker_base.py``) and the process worker (``ProcessWorker``: the
flow runs of a work pool as local subprocesses, and what a child process reads back).

May import: every wing below it (the engine through the ``Orchestrator``'s public
methods, never another object's private attributes); never ``orchestrator.testing``.

Start with ``_task_worker.py``, then ``_execution.py``; for processes,
``_process_worker.py``.
"""

from __future__ import annotations

from ._output import LINE_SPLIT_MARKER as LINE_SPLIT_MARKER
from ._serve import serve as serve
from ._serve import serve_sync as serve_sync
from ._status import TaskWorkerStatus as TaskWorkerStatus
from ._task_worker import TaskWorker as TaskWorker

__all__ = (
    "LINE_SPLIT_MARKER",
    "TaskWorker",
    "TaskWorkerStatus",
    "serve",
    "serve_sync",
)
