"""Sort orders for task-run and flow-run queries.

Every order is total and deterministic: runs are ordered by the sort key, ties by the
creation sequence (the order the store received the runs: oldest first for an
ascending sort, newest first for a descending one), and runs whose key is None come
last, in creation order again (oldest first ascending, newest first descending).
"""

from __future__ import annotations

import enum
from typing import final

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


@final
class TaskRunSort(_Sort):
    """How ``query_task_runs`` orders its result; ``ID_DESC`` is the default."""

    ID_DESC = "ID_DESC"
    EXPECTED_START_TIME_ASC = "EXPECTED_START_TIME_ASC"
    EXPECTED_START_TIME_DESC = "EXPECTED_START_TIME_DESC"
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    NEXT_SCHEDULED_START_TIME_ASC = "NEXT_SCHEDULED_START_TIME_ASC"
    END_TIME_DESC = "END_TIME_DESC"


@final
class FlowRunSort(_Sort):
    """How ``query_flow_runs`` orders its result; ``ID_DESC`` is the default."""

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
