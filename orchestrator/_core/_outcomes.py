"""Outcomes of a proposal: statuses, their details, and the result the engine returns.

:class:`OrchestrationResult` is what ``set_*_state`` answers: the run's state
afterwards, a :class:`SetStateStatus`, and details whose ``type`` names their kind
(accept, reject with a reason, wait with a delay and what to wait for, abort with a
reason). :class:`SlotOutcome` is what the slot table answers a rule asking for slots,
and :class:`SlotWait` is how a WAIT names a slot it waits for.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, final

import attrs

from ._checks import check_text
from ._states import State

__all__ = [
    "ACCEPTED",
    "AbortDetails",
    "AcceptDetails",
    "Details",
    "OrchestrationResult",
    "RejectDetails",
    "SetStateStatus",
    "SlotOutcome",
    "SlotWait",
    "WaitDetails",
    "new_result",
]


@final
class SetStateStatus(enum.Enum):
    """What became of a proposal."""

    ACCEPT = "ACCEPT"  #: the proposal (possibly renamed or enriched) was committed
    REJECT = "REJECT"  #: another state was committed instead, or nothing (the current state stands)
    WAIT = "WAIT"  #: nothing was committed; propose again after ``delay_seconds`` or a wake-up
    ABORT = "ABORT"  #: nothing was committed; stop orchestrating this run

    def __repr__(self) -> str:
        return f"SetStateStatus.{self.name}"


@final
@attrs.frozen
class AcceptDetails:
    """Details of an ACCEPT: why, when a rule let the proposal through on purpose."""

    reason: str | None = None
    type: Literal["accept_details"] = "accept_details"


@final
@attrs.frozen
class RejectDetails:
    """Details of a REJECT: why."""

    reason: str | None = None
    type: Literal["reject_details"] = "reject_details"


_SLOT_PREFIX: Final = "tag:"


@final
class SlotWait(str):
    """A WAIT target: a free slot on the concurrency-limited tag ``tag``.

    ``SlotWait("db")`` is the string ``"tag:db"`` (it compares and hashes as that
    text), so it fits wherever a target name does, while the engine can recognise it
    by type and read :attr:`tag` instead of parsing the text.
    """

    __slots__ = ()

    def __new__(cls, tag: str) -> SlotWait:
        return super().__new__(cls, _SLOT_PREFIX + check_text(tag, "tag"))

    @property
    def tag(self) -> str:
        """The tag whose slot the run waits for."""
        return self[len(_SLOT_PREFIX) :]

    def __getnewargs__(self) -> tuple[str]:
        # Copies and pickles rebuild the value from its tag, not from its text.
        return (self.tag,)


@final
@attrs.frozen
class WaitDetails:
    """Details of a WAIT: why, and when to propose again.

    ``wait_for`` names what the run waits for: a :class:`SlotWait` (text
    ``"tag:<tag>"``) for a free slot on a concurrency-limited tag.
    :meth:`Orchestrator.wait_for_turn` wakes the waiter as soon as that frees, or after
    ``delay_seconds`` at the latest.
    """

    delay_seconds: float
    reason: str | None = None
    wait_for: tuple[str, ...] = ()
    type: Literal["wait_details"] = "wait_details"


@final
@attrs.frozen
class AbortDetails:
    """Details of an ABORT: why."""

    reason: str | None = None
    type: Literal["abort_details"] = "abort_details"


Details = AcceptDetails | RejectDetails | WaitDetails | AbortDetails
ACCEPTED: Final = AcceptDetails()


@final
@attrs.frozen
class OrchestrationResult:
    """The answer to a proposal: the run's state afterwards, the status, and details."""

    state: State | None
    status: SetStateStatus
    details: Details


_new_result = object.__new__
# The slots' own setters: a frozen class's __init__ goes through object.__setattr__,
# which costs more than twice as much, and a result is built for every proposal.
_set_state = OrchestrationResult.__dict__["state"].__set__
_set_status = OrchestrationResult.__dict__["status"].__set__
_set_details = OrchestrationResult.__dict__["details"].__set__


def new_result(
    state: State | None, status: SetStateStatus, details: Details
) -> OrchestrationResult:
    """Build ``OrchestrationResult(state, status, details)`` the fast way (the engine's)."""
    result = _new_result(OrchestrationResult)
    _set_state(result, state)
    _set_status(result, status)
    _set_details(result, details)
    return result


@final
@attrs.frozen
class SlotOutcome:
    """What :meth:`RuleServices.acquire_slots` did.

    ``acquired`` is True when the run holds a slot on every limited tag, and ``taken``
    names the tags on which this call took a slot (the run already held the others);
    otherwise ``zero_limit`` names a tag whose limit is 0, or ``blocked`` the tags that
    are full. A refusal takes nothing.
    """

    acquired: bool
    blocked: tuple[str, ...] = ()
    zero_limit: str | None = None
    taken: tuple[str, ...] = ()
