"""The built-in task-run policies, as factories of fresh :class:`Policy` objects."""

from __future__ import annotations

from .._core._checks import check_positive_int, check_seconds
from .._rules._rule import Policy
from ._background_rules import (
    CopyTaskParametersID,
    EnqueueScheduledTasks,
    PreventPendingTransitions,
)
from ._slot_rules import ReleaseTaskConcurrencySlots, SecureTaskConcurrencySlots
from ._task_rules import (
    CacheInsertion,
    CacheRetrieval,
    HandleTaskTerminalStateTransitions,
    PreventRunningTasksFromStoppedFlows,
    RenameReruns,
    UpdateFlowRunTrackerOnTasks,
)
from ._timing_rules import CopyScheduledTime, RetryFailedTasks, WaitForScheduledTime

__all__ = ["background_task_policy", "core_task_policy", "minimal_task_policy"]


def core_task_policy(
    *, slot_wait_seconds: float = 10.0, max_cache_key_length: int = 2000
) -> Policy:
    """Return the policy for every task-run proposal that is neither forced nor deferred.

    In order: cache retrieval, terminal-state protection, the parent-flow check, tag
    concurrency slots, scheduled time, retries, rerun names, the flow-run tracker,
    cache insertion, then the universal slot release and background enqueueing (a
    background run executes under this policy, and its retries must be queued).

    Args:
        slot_wait_seconds: the longest a run refused a concurrency slot waits.
        max_cache_key_length: longer cache keys are committed but not cached.

    Raises:
        InvalidArgument: a value out of range.

    Example:
        >>> core_task_policy()
        CoreTaskPolicy(CacheRetrieval, HandleTaskTerminalStateTransitions, \
PreventRunningTasksFromStoppedFlows, SecureTaskConcurrencySlots, CopyScheduledTime, \
WaitForScheduledTime, RetryFailedTasks, RenameReruns, UpdateFlowRunTrackerOnTasks, \
CacheInsertion, ReleaseTaskConcurrencySlots, EnqueueScheduledTasks)
    """
    # Checked here so that a refusal names these parameters, not the rules' own.
    check_seconds(slot_wait_seconds, "slot_wait_seconds", positive=True)
    check_positive_int(max_cache_key_length, "max_cache_key_length")
    return Policy(
        CacheRetrieval(),
        HandleTaskTerminalStateTransitions(),
        PreventRunningTasksFromStoppedFlows(),
        SecureTaskConcurrencySlots(wait_seconds=slot_wait_seconds),
        CopyScheduledTime(),
        WaitForScheduledTime(),
        RetryFailedTasks(),
        RenameReruns(),
        UpdateFlowRunTrackerOnTasks(),
        CacheInsertion(max_key_length=max_cache_key_length),
        ReleaseTaskConcurrencySlots(),
        EnqueueScheduledTasks(),
        name="CoreTaskPolicy",
    )


def background_task_policy(*, max_cache_key_length: int = 2000) -> Policy:
    """Return the policy for proposals of deferred (background) task runs.

    Like :func:`core_task_policy` without slots or the parent-flow check, plus the
    claim guard first and stored parameters carried forward; every deferred SCHEDULED
    state it commits is put on its task key's queue.

    Args:
        max_cache_key_length: longer cache keys are committed but not cached.

    Raises:
        InvalidArgument: a value out of range.
    """
    check_positive_int(max_cache_key_length, "max_cache_key_length")
    return Policy(
        PreventPendingTransitions(),
        CacheRetrieval(),
        HandleTaskTerminalStateTransitions(),
        CopyScheduledTime(),
        CopyTaskParametersID(),
        WaitForScheduledTime(),
        RetryFailedTasks(),
        RenameReruns(),
        UpdateFlowRunTrackerOnTasks(),
        CacheInsertion(max_key_length=max_cache_key_length),
        ReleaseTaskConcurrencySlots(),
        EnqueueScheduledTasks(),
        name="BackgroundTaskPolicy",
    )


def minimal_task_policy() -> Policy:
    """Return the policy of forced proposals: only the slot release.

    Example:
        >>> minimal_task_policy()
        MinimalTaskPolicy(ReleaseTaskConcurrencySlots)
    """
    return Policy(ReleaseTaskConcurrencySlots(), name="MinimalTaskPolicy")
