"""Executors: where task functions run when they leave the orchestrating process.

Holds the executor seam (``Executor``, ``RemoteCall``, ``ExecutorLost``, in
``_base.py``), the stdlib process pool (``ProcessPoolExecutor``) and the Dask executor
(``DaskExecutor``, importing ``distributed`` only when one is made). Orchestration
(states, policies, queues, slots) never leaves the process: only the call does.

May import: ``_core`` only.

Start with ``_base.py``.
"""

from __future__ import annotations

import contextlib

from ._base import Executor as Executor
from ._base import ExecutorLost as ExecutorLost
from ._base import RemoteCall as RemoteCall
from ._base import remote_traceback as remote_traceback
from ._dask import DaskExecutor as DaskExecutor
from ._process_pool import ProcessPoolExecutor as ProcessPoolExecutor

__all__ = (
    "DaskExecutor",
    "Executor",
    "ExecutorLost",
    "ProcessPoolExecutor",
    "RemoteCall",
    "remote_traceback",
)


def _rewrite_module_names() -> None:
    # Show the executors as ``orchestrator.executors.X`` in reprs and docs.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith(f"{__name__}."):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = __name__


_rewrite_module_names()
del _rewrite_module_names
