"""The task-run identity index: ``(flow_run_id, task_key, dynamic_key)`` -> the run.

Filed by dynamic key first, since that key is nearly always unique on its own (the
engine draws ``"<task key>-<hex id>"`` when none is given): a dynamic key held by one
run maps straight to that run, with no key tuple built or kept per run. A dynamic key
shared by runs of different flow runs or tasks (``"0"`` in every flow run, say) maps to
a dict by ``(flow_run_id, task_key)``, which folds back into the run when one is left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import final

from .._core._indexes import shrink
from .._core._models import TaskRun, has_drawn_key

__all__ = ["TaskKey", "TaskKeys", "drawn_key_run"]

#: A task run's identity: (flow_run_id, task_key, dynamic_key).
TaskKey = tuple[uuid.UUID | None, str, str]
_Shared = dict[tuple[uuid.UUID | None, str], TaskRun]


@final
class TaskKeys:
    """Task runs by identity, filed by dynamic key (see the module docstring)."""

    __slots__ = ("_by_dynamic_key", "_count")

    def __init__(self) -> None:
        self._by_dynamic_key: dict[str, TaskRun | _Shared] = {}
        self._count = 0

    def __len__(self) -> int:
        """How many runs are filed. O(1)."""
        return self._count

    def get(self, key: TaskKey) -> TaskRun | None:
        """Return the run with this identity, or None. O(1)."""
        flow_run_id, task_key, dynamic_key = key
        filed = self._by_dynamic_key.get(dynamic_key)
        if filed is None:
            return None
        if isinstance(filed, TaskRun):
            if filed.task_key == task_key and filed.flow_run_id == flow_run_id:
                return filed
            return None
        return filed.get((flow_run_id, task_key))

    def __contains__(self, key: TaskKey) -> bool:
        """Whether a run has this identity. O(1)."""
        return self.get(key) is not None

    def add(self, run: TaskRun) -> None:
        """File ``run`` under its identity, which must be free. O(1)."""
        by_dynamic_key = self._by_dynamic_key
        dynamic_key = run.dynamic_key
        filed = by_dynamic_key.get(dynamic_key)
        if filed is None:
            by_dynamic_key[dynamic_key] = run
        elif isinstance(filed, TaskRun):
            by_dynamic_key[dynamic_key] = {
                (filed.flow_run_id, filed.task_key): filed,
                (run.flow_run_id, run.task_key): run,
            }
        else:
            filed[(run.flow_run_id, run.task_key)] = run
        self._count += 1

    def __delitem__(self, key: TaskKey) -> None:
        """Forget the run with this identity. O(1).

        Raises:
            KeyError: no run has it.
        """
        flow_run_id, task_key, dynamic_key = key
        by_dynamic_key = self._by_dynamic_key
        filed = by_dynamic_key.get(dynamic_key)
        if isinstance(filed, TaskRun) and self.get(key) is filed:
            del by_dynamic_key[dynamic_key]
        elif isinstance(filed, dict) and (flow_run_id, task_key) in filed:
            del filed[(flow_run_id, task_key)]
            if len(filed) == 1:
                by_dynamic_key[dynamic_key] = next(iter(filed.values()))
        else:
            raise KeyError(key)
        self._count -= 1

    def runs(self) -> Iterator[TaskRun]:
        """Every filed run (for checks). O(n)."""
        for filed in self._by_dynamic_key.values():
            if isinstance(filed, TaskRun):
                yield filed
            else:
                yield from filed.values()

    def compact(self) -> None:
        """Rebuild the map so its memory fits what it holds (after mass deletes). O(n)."""
        shrink(self._by_dynamic_key)


def drawn_key_run(
    runs: Mapping[uuid.UUID, TaskRun], task_key: str, dynamic_key: str
) -> TaskRun | None:
    """The run of ``runs`` (by id) whose drawn dynamic key is ``dynamic_key``, or None. O(1).

    ``dynamic_key`` must spell ``"<task_key>-<32 lower-case hex digits>"``, the digits the
    run's id, and that run's key must be a drawn one of that task key.
    """
    if len(dynamic_key) != len(task_key) + 33 or dynamic_key[-33] != "-":
        return None
    hex_id = dynamic_key[-32:]
    if not dynamic_key.startswith(task_key):
        return None
    try:
        value = int(hex_id, 16)
    except ValueError:
        return None
    if f"{value:032x}" != hex_id:  # int() also takes signs, "_" and capitals
        return None
    run = runs.get(uuid.UUID(int=value))
    if run is None or run.task_key != task_key or not has_drawn_key(run):
        return None
    return run
