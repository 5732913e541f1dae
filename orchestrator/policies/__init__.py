"""The built-in orchestration rules and the task-run policies made of them.

A policy is an ordered :class:`Policy` of rules (``orchestrator.Policy``, also importable
from here); the factories return a fresh one each call, ready to be given to an
orchestrator as is or recomposed::

    from orchestrator.policies import Policy, RetryFailedTasks, core_task_policy

    policy = core_task_policy(slot_wait_seconds=2.0).replacing(
        RetryFailedTasks, RetryFailedTasks(jitter=lambda rng, mean, factor: mean)
    )
    assert isinstance(policy, Policy)

Every rule is a frozen value whose fields are its configuration, so two orchestrators
may share rules but never state.

This package holds the rules, one module per family (timing, slots, task runs, flow
runs, background runs), and the policy factories. It may import ``orchestrator._rules``
and ``orchestrator._core`` only. Start with ``_task_policies.py``: each factory lists
its rules in order.
"""

from __future__ import annotations

import contextlib

from .._rules._rule import Policy as Policy
from ._background_rules import CopyTaskParametersID as CopyTaskParametersID
from ._background_rules import EnqueueScheduledTasks as EnqueueScheduledTasks
from ._background_rules import PreventPendingTransitions as PreventPendingTransitions
from ._deployment_slot_rules import (
    SecureDeploymentConcurrencySlots as SecureDeploymentConcurrencySlots,
)
from ._flow_policies import core_flow_policy as core_flow_policy
from ._flow_policies import minimal_flow_policy as minimal_flow_policy
from ._flow_rules import BypassCancellingFlowRunsWithNoInfra as BypassCancellingFlowRunsWithNoInfra
from ._flow_rules import (
    EnforceCancellingToCancelledTransition as EnforceCancellingToCancelledTransition,
)
from ._flow_rules import EnsureOnlyScheduledFlowsMarkedLate as EnsureOnlyScheduledFlowsMarkedLate
from ._flow_rules import HandleFlowTerminalStateTransitions as HandleFlowTerminalStateTransitions
from ._flow_rules import HandlePausingFlows as HandlePausingFlows
from ._flow_rules import HandleResumingPausedFlows as HandleResumingPausedFlows
from ._flow_rules import PreventDuplicateTransitions as PreventDuplicateTransitions
from ._flow_rules import PreventResultDataLoss as PreventResultDataLoss
from ._flow_rules import RetryFailedFlows as RetryFailedFlows
from ._slot_rules import ReleaseTaskConcurrencySlots as ReleaseTaskConcurrencySlots
from ._slot_rules import SecureTaskConcurrencySlots as SecureTaskConcurrencySlots
from ._task_policies import background_task_policy as background_task_policy
from ._task_policies import core_task_policy as core_task_policy
from ._task_policies import minimal_task_policy as minimal_task_policy
from ._task_rules import CacheInsertion as CacheInsertion
from ._task_rules import CacheRetrieval as CacheRetrieval
from ._task_rules import HandleTaskTerminalStateTransitions as HandleTaskTerminalStateTransitions
from ._task_rules import PreventRunningTasksFromStoppedFlows as PreventRunningTasksFromStoppedFlows
from ._task_rules import RenameReruns as RenameReruns
from ._task_rules import UpdateFlowRunTrackerOnTasks as UpdateFlowRunTrackerOnTasks
from ._timing_rules import CopyScheduledTime as CopyScheduledTime
from ._timing_rules import JitterFunction as JitterFunction
from ._timing_rules import RetryFailedTasks as RetryFailedTasks
from ._timing_rules import WaitForScheduledTime as WaitForScheduledTime
from ._timing_rules import clamped_poisson_delay as clamped_poisson_delay
from ._timing_rules import retry_delay_seconds as retry_delay_seconds

__all__ = (
    "BypassCancellingFlowRunsWithNoInfra",
    "CacheInsertion",
    "CacheRetrieval",
    "CopyScheduledTime",
    "CopyTaskParametersID",
    "EnforceCancellingToCancelledTransition",
    "EnqueueScheduledTasks",
    "EnsureOnlyScheduledFlowsMarkedLate",
    "HandleFlowTerminalStateTransitions",
    "HandlePausingFlows",
    "HandleResumingPausedFlows",
    "HandleTaskTerminalStateTransitions",
    "JitterFunction",
    "Policy",
    "PreventDuplicateTransitions",
    "PreventPendingTransitions",
    "PreventResultDataLoss",
    "PreventRunningTasksFromStoppedFlows",
    "ReleaseTaskConcurrencySlots",
    "RenameReruns",
    "RetryFailedFlows",
    "RetryFailedTasks",
    "SecureDeploymentConcurrencySlots",
    "SecureTaskConcurrencySlots",
    "UpdateFlowRunTrackerOnTasks",
    "WaitForScheduledTime",
    "background_task_policy",
    "clamped_poisson_delay",
    "core_flow_policy",
    "core_task_policy",
    "minimal_flow_policy",
    "minimal_task_policy",
    "retry_delay_seconds",
)


def _rewrite_module_names() -> None:
    # Show the rules as ``orchestrator.policies.X`` in reprs and docs.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith(f"{__name__}."):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = __name__


_rewrite_module_names()
del _rewrite_module_names
