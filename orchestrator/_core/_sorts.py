"""Sort orders for task-run and flow-run queries (public in ``orchestrator.filters``).

The ordering rules are spelled out on the public enums themselves (``_ORDER_RULES``), so
that ``help(TaskRunSort)`` shows them.
"""

from __future__ import annotations

import enum
import inspect
from typing import Final, final

__all__ = ["FlowRunSort", "TaskRunSort"]


class _Sort(enum.Enum):
    """Common behaviour: a member's value is ``"<FIELD>_<ASC|DESC>"``."""

    @property
    def field(self) -> str:
        """The run attribute the order is by (``id``, ``name``, ``start_time``, ...)."""
        value: str = self.value
        return value.rsplit("_", 1)[0].lower()

    @property
    def descending(self) -> bool:
        """True for the ``*_DESC`` orders."""
        value: str = self.value
        return value.endswith("_DESC")

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


_ORDER_RULES: Final = """
    Every order is total and deterministic:

    * runs are ordered by the member's field (``NAME_ASC`` by ``name``, ``ID_DESC`` by
      the id's value, as the reference does);
    * ties (equal keys) go in creation order: the order the orchestrator created the
      runs, oldest first for an ``*_ASC`` order and newest first for a ``*_DESC`` one;
    * runs whose key is None (under ``END_TIME_DESC``, a run that has not ended) come
      last, in either direction, in creation order again (oldest first ascending,
      newest first descending).

    So a query with ``limit`` and ``offset`` pages through the same order every time.
"""


@final
class TaskRunSort(_Sort):
    """How ``Orchestrator.read_task_runs`` and ``paginate_task_runs`` order their result.

    Pass it as ``sort=``; ``ID_DESC`` is the default. Example::

        orchestrator.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=10)
    """

    ID_DESC = "ID_DESC"
    EXPECTED_START_TIME_ASC = "EXPECTED_START_TIME_ASC"
    EXPECTED_START_TIME_DESC = "EXPECTED_START_TIME_DESC"
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    NEXT_SCHEDULED_START_TIME_ASC = "NEXT_SCHEDULED_START_TIME_ASC"
    END_TIME_DESC = "END_TIME_DESC"


@final
class FlowRunSort(_Sort):
    """How ``Orchestrator.read_flow_runs`` and ``paginate_flow_runs`` order their result.

    Pass it as ``sort=``; ``ID_DESC`` is the default. The start-time orders read
    ``effective_start_time`` (see :attr:`field`).
    """

    ID_DESC = "ID_DESC"
    START_TIME_ASC = "START_TIME_ASC"
    START_TIME_DESC = "START_TIME_DESC"
    EXPECTED_START_TIME_ASC = "EXPECTED_START_TIME_ASC"
    EXPECTED_START_TIME_DESC = "EXPECTED_START_TIME_DESC"
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    NEXT_SCHEDULED_START_TIME_ASC = "NEXT_SCHEDULED_START_TIME_ASC"
    END_TIME_DESC = "END_TIME_DESC"

    @property
    def field(self) -> str:
        """The run attribute the order is by.

        The start-time orders sort by ``effective_start_time`` (the start time, or the
        expected start time of a run that has not started), as the reference does.
        """
        name = super().field
        return "effective_start_time" if name == "start_time" else name


def _with_order_rules(doc: str | None) -> str:
    # Dedented apart, then joined: Python 3.13 dedents docstrings when it compiles them,
    # but not other strings, so joining the raw texts would mix two indentations.
    return f"{inspect.cleandoc(doc or '')}\n\n{inspect.cleandoc(_ORDER_RULES)}\n"


TaskRunSort.__doc__ = _with_order_rules(TaskRunSort.__doc__)
FlowRunSort.__doc__ = _with_order_rules(FlowRunSort.__doc__)
