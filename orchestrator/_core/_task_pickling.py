"""Pickling a task by reference: its function's module and qualified name, never its code.

A :class:`~orchestrator.Task` is what ``@task`` leaves under the function's name, so the
function itself cannot be pickled by reference (that name now holds the task). The task
pickles as ``(module, qualname)`` instead, and loads back as whatever that name holds in
the loading process: the same task, imported there. That is how a task ships to a pool
process or a Dask worker: the receiving side imports the module, as for any function.

A task that no module name reaches (a lambda, a task made inside a function, one kept
under another name) cannot ship: pickling it raises :class:`pickle.PicklingError`
saying so, before anything is sent. Copying a task (``copy.copy``, ``copy.deepcopy``)
gives the task itself, as for a function.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from typing import Any

__all__ = ["load_task", "task_reference"]


def _lookup(module: Any, qualname: str) -> Any:
    found = module
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def load_task(module: str, qualname: str) -> Any:
    """The object named ``qualname`` in ``module``, imported (how a pickled task loads)."""
    return _lookup(importlib.import_module(module), qualname)


def task_reference(task: Any) -> tuple[str, str]:
    """The ``(module, qualname)`` a task pickles as.

    Raises:
        pickle.PicklingError: no importable name reaches the task (the message says why
            and what to do).
    """
    fn = task.fn
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise pickle.PicklingError(
            f"task {task.name!r} cannot be pickled: its function {fn!r} has no module "
            "and qualified name to be imported by"
        )
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise pickle.PicklingError(
            f"task {task.name!r} cannot be pickled: {module}.{qualname} is a lambda or is "
            "defined inside a function, so another process cannot import it; define the "
            "task at the top level of an importable module"
        )
    loaded = sys.modules.get(module)
    if loaded is not None:
        try:
            found = _lookup(loaded, qualname)
        except AttributeError:
            found = None
        if found is not task and getattr(found, "fn", None) is not fn:
            raise pickle.PicklingError(
                f"task {task.name!r} cannot be pickled: {module}.{qualname} does not name it "
                f"(it names {found!r}); keep the task under its function's name at the top "
                "level of its module"
            )
    return module, qualname
