"""Records the task queues hand out: per-key and per-orchestrator statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

import attrs

__all__ = ["TaskQueueStatistics", "TaskQueuesStatistics"]


@final
@attrs.frozen(kw_only=True)
class TaskQueueStatistics:
    """One task key's queue at one moment.

    Attributes:
        task_key: the key.
        scheduled: entries waiting in the scheduled part.
        retry: entries waiting in the retry part.
        scheduled_size: the admission bound of the scheduled part.
        retry_size: the nominal bound of the retry part (retries are accepted beyond it).
        delivered: runs handed to getters so far.
        dropped: stale entries dropped instead of being delivered (the run was deleted
            or had left the state it was queued for).
        waiting_getters: getters waiting for a run on this key right now.
        waiting_for_room: submitters waiting for room right now.

    Counts include stale entries that no getter has met yet.
    """

    task_key: str
    scheduled: int
    retry: int
    scheduled_size: int
    retry_size: int
    delivered: int
    dropped: int
    waiting_getters: int
    waiting_for_room: int

    @property
    def queued(self) -> int:
        """Entries waiting in both parts."""
        return self.scheduled + self.retry

    @property
    def has_room(self) -> bool:
        """True when the scheduled part is below its bound."""
        return self.scheduled < self.scheduled_size


@final
@attrs.frozen(kw_only=True)
class TaskQueuesStatistics:
    """All task queues of one orchestrator at one moment.

    Attributes:
        queues: the statistics of each key that has a queue, by key.
        queued: entries waiting across all keys.
        delivered: runs handed to getters across all keys.
        dropped: stale entries dropped across all keys.
    """

    queues: Mapping[str, TaskQueueStatistics]
    queued: int
    delivered: int
    dropped: int
