"""The built-in flow-run policies, as factories of fresh :class:`Policy` objects.

What every committed flow-run state does regardless of the policy (bookkeeping, the
subflow's parent task run, the resuming mark) is the engine's job, not a rule's.
"""

from __future__ import annotations

from .._rules._rule import Policy
from ._background_rules import PreventPendingTransitions
from ._deployment_slot_rules import SecureDeploymentConcurrencySlots
from ._flow_rules import (
    BypassCancellingFlowRunsWithNoInfra,
    EnforceCancellingToCancelledTransition,
    EnsureOnlyScheduledFlowsMarkedLate,
    HandleFlowTerminalStateTransitions,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    PreventDuplicateTransitions,
    PreventResultDataLoss,
    RetryFailedFlows,
)
from ._timing_rules import CopyScheduledTime, WaitForScheduledTime

__all__ = ["core_flow_policy", "minimal_flow_policy"]


def core_flow_policy() -> Policy:
    """Return the policy for every flow-run proposal that is not forced.

    In order: replayed transitions, terminal-state protection, cancellation (CANCELLING
    only ends CANCELLED; a run with no infrastructure skips CANCELLING), the claim
    guard, the deployment's concurrency slot, lateness, pausing and resuming, the
    scheduled-time copy and wait, retries.

    Example:
        >>> core_flow_policy()
        CoreFlowPolicy(PreventDuplicateTransitions, HandleFlowTerminalStateTransitions, \
EnforceCancellingToCancelledTransition, BypassCancellingFlowRunsWithNoInfra, \
PreventPendingTransitions, SecureDeploymentConcurrencySlots, \
EnsureOnlyScheduledFlowsMarkedLate, HandlePausingFlows, \
HandleResumingPausedFlows, CopyScheduledTime, WaitForScheduledTime, RetryFailedFlows)
    """
    return Policy(
        PreventDuplicateTransitions(),
        HandleFlowTerminalStateTransitions(),
        EnforceCancellingToCancelledTransition(),
        BypassCancellingFlowRunsWithNoInfra(),
        PreventPendingTransitions(),
        SecureDeploymentConcurrencySlots(),
        EnsureOnlyScheduledFlowsMarkedLate(),
        HandlePausingFlows(),
        HandleResumingPausedFlows(),
        CopyScheduledTime(),
        WaitForScheduledTime(),
        RetryFailedFlows(),
        name="CoreFlowPolicy",
    )


def minimal_flow_policy() -> Policy:
    """Return the policy of forced flow-run proposals.

    A forced completion still keeps an earlier result, and a forced cancellation of a
    run with no infrastructure still ends CANCELLED rather than CANCELLING.

    Example:
        >>> minimal_flow_policy()
        MinimalFlowPolicy(PreventResultDataLoss, BypassCancellingFlowRunsWithNoInfra)
    """
    return Policy(
        PreventResultDataLoss(), BypassCancellingFlowRunsWithNoInfra(), name="MinimalFlowPolicy"
    )
