"""Workers: task workers, the process worker and job configuration templating."""

from __future__ import annotations

from ._serve import serve as serve
from ._serve import serve_sync as serve_sync
from ._status import TaskWorkerStatus as TaskWorkerStatus
from ._task_worker import TaskWorker as TaskWorker

__all__ = (
    "TaskWorker",
    "TaskWorkerStatus",
    "serve",
    "serve_sync",
)
