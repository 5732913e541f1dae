"""Ready-made cache key functions, in Prefect's ``fn(context, parameters)`` form.

:func:`task_input_hash` keys a run by its task and its arguments, so code written for
Prefect (``@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(days=1))``)
runs unchanged.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._run_context import TaskRunContext

__all__ = ["task_input_hash"]


def task_input_hash(context: TaskRunContext | None, parameters: Mapping[str, Any]) -> str | None:
    """A cache key from the task's key and the run's arguments (a SHA-256 hex digest).

    Two runs of one task with equal arguments share the key; other tasks never do. The
    arguments are hashed through their pickled form, with the parameter names sorted: the
    key is the same in every process for numbers, strings, bytes, and lists, tuples and
    dicts of them (not for sets of strings, whose order varies with the process's hash
    seed). Arguments that cannot be pickled (a lock, a socket) give None: that run is not
    cached.
    """
    task_key = "" if context is None else context.task.task_key
    try:
        payload = pickle.dumps((task_key, sorted(parameters.items())), protocol=4)
    except Exception:  # any object may refuse pickling in its own way
        return None
    return hashlib.sha256(payload).hexdigest()
