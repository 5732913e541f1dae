"""Assertions over a run's state history and the decision log.

Each helper takes the orchestrator and a run, given as its id (a UUID or its string), the
record (:class:`~orchestrator.TaskRun` or :class:`~orchestrator.FlowRun`) or a task-run
future. On failure they raise :class:`AssertionError` with a message that shows what was
expected, the run's whole state history with its (virtual) times and offsets from the
first state, and every decision taken on the run, so a failing test says why the run is
where it is.

State specs: a string matches a state's *name* (``"Scheduled"``, ``"AwaitingRetry"``,
``"Cached"``), a :class:`~orchestrator.StateType` matches its *type*
(``StateType.SCHEDULED`` matches ``"AwaitingRetry"`` too).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from .._core._checks import check_seconds, is_number
from .._core._checks_objects import check_instance
from .._core._errors import ArgumentTypeError, ArgumentValueError, ObjectNotFound
from .._core._events import Decision
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import SetStateStatus
from .._core._states import State, StateType
from .._display import decisions_table, format_time, states_table
from .._engine._orchestrator import Orchestrator
from .._rules._rule import Rule

__all__ = [
    "RunRef",
    "StateSpec",
    "assert_decided",
    "assert_state_times",
    "assert_states",
    "find_decisions",
    "state_times",
]


class _HasTaskRunId(Protocol):
    @property
    def task_run_id(self) -> uuid.UUID: ...


#: How the helpers accept a run: its id, its record, or a future of it.
RunRef = uuid.UUID | str | TaskRun | FlowRun | _HasTaskRunId
#: A state name (``"AwaitingRetry"``) or a state type (``StateType.SCHEDULED``).
StateSpec = str | StateType


def _run_id(run: RunRef) -> uuid.UUID:
    if isinstance(run, TaskRun | FlowRun):
        return run.id
    if isinstance(run, uuid.UUID):
        return run
    if isinstance(run, str):
        try:
            return uuid.UUID(run)
        except ValueError:
            pass
    else:
        run_id = getattr(run, "task_run_id", None)
        if isinstance(run_id, uuid.UUID):
            return run_id
    error = ArgumentValueError if isinstance(run, str) else ArgumentTypeError
    raise error(f"expected a run: its id, a TaskRun, a FlowRun or a task-run future; got {run!r}")


def _lookup(orchestrator: Orchestrator, run: RunRef) -> tuple[TaskRun | FlowRun, list[State]]:
    check_instance(orchestrator, Orchestrator, "orchestrator")
    run_id = _run_id(run)
    try:
        return orchestrator.read_task_run(run_id), orchestrator.read_task_run_states(run_id)
    except ObjectNotFound:
        pass
    try:
        return orchestrator.read_flow_run(run_id), orchestrator.read_flow_run_states(run_id)
    except ObjectNotFound:
        raise ObjectNotFound(
            "run", run_id, "it is neither a task run nor a flow run of this orchestrator"
        ) from None


def _check_spec(spec: object) -> StateSpec:
    if isinstance(spec, StateType | str):
        return spec
    raise ArgumentTypeError(
        f"a state is given by its name (a str such as 'AwaitingRetry') or its StateType, "
        f"got {spec!r}"
    )


def _matches(spec: StateSpec, state_type: StateType | None, name: str | None) -> bool:
    if isinstance(spec, StateType):
        return spec is state_type
    return spec == name


def _spec_text(spec: StateSpec) -> str:
    return repr(spec) if isinstance(spec, StateType) else spec


def _describe(run: TaskRun | FlowRun) -> str:
    kind = "task run" if isinstance(run, TaskRun) else "flow run"
    return f"{kind} {run.name!r} ({run.id})"


def _context(orchestrator: Orchestrator, run: TaskRun | FlowRun, states: list[State]) -> str:
    decisions = orchestrator.read_decisions(run.id)
    parts = [states_table(states, title="State history (oldest first)").text()]
    if decisions:
        parts.append(decisions_table(decisions, title="Decision log").text())
    else:
        parts.append("Decision log: empty (was the orchestrator built with keep_decisions=False?)")
    return "\n\n".join(parts)


def state_times(orchestrator: Orchestrator, run: RunRef) -> list[tuple[str, datetime]]:
    """Return ``[(state name, timestamp), ...]`` for every state of a run, oldest first.

    Under a :class:`~orchestrator.VirtualClock` the timestamps are exact, so a test can
    compare this list with ``==``.

    Raises:
        ObjectNotFound: the orchestrator has no task run or flow run with that id.
        InvalidArgument: ``run`` is not a run, an id or a future.
    """
    _, states = _lookup(orchestrator, run)
    return [(s.name, s.timestamp) for s in states if s.timestamp is not None]


def assert_states(
    orchestrator: Orchestrator, run: RunRef, expected: Sequence[StateSpec]
) -> list[State]:
    """Assert that a run's whole state history, oldest first, is ``expected``.

    Example::

        assert_states(orchestrator, future, ["Scheduled", "Pending", "Running", "Completed"])
        assert_states(orchestrator, run.id, [StateType.PENDING, StateType.RUNNING])

    Args:
        orchestrator: the orchestrator that holds the run.
        run: the run, its id, or a future of it.
        expected: one spec per state: a name (str) or a :class:`~orchestrator.StateType`.

    Returns:
        The run's states, for further checks.

    Raises:
        AssertionError: the history differs; the message shows both lists, the first
            difference, the history with times and the decision log.
        ObjectNotFound: no such run.
        InvalidArgument: ``expected`` holds something that is neither a str nor a StateType.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    if isinstance(expected, str):
        raise ArgumentTypeError(
            f"expected is a list of states, not the string {expected!r}; write [{expected!r}]"
        )
    specs = [_check_spec(spec) for spec in expected]
    record, states = _lookup(orchestrator, run)
    mismatch = next(
        (
            i
            for i, (spec, state) in enumerate(zip(specs, states, strict=False))
            if not _matches(spec, state.type, state.name)
        ),
        None,
    )
    if mismatch is None and len(specs) == len(states):
        return states
    if mismatch is not None:
        where = (
            f"first difference at #{mismatch}: expected {_spec_text(specs[mismatch])}, "
            f"got {states[mismatch].name} ({states[mismatch].type.value})"
        )
    elif len(specs) > len(states):
        where = f"the run has {len(states)} states; expected {len(specs)}"
    else:
        where = f"the run has {len(states)} states; expected only {len(specs)}"
    message = (
        f"{_describe(record)} went through other states than expected\n"
        f"  expected: {', '.join(_spec_text(s) for s in specs) or '(none)'}\n"
        f"  actual:   {', '.join(s.name for s in states) or '(none)'}\n"
        f"  {where}\n\n{_context(orchestrator, record, states)}"
    )
    raise AssertionError(message)


def assert_state_times(
    orchestrator: Orchestrator,
    run: RunRef,
    expected: Sequence[tuple[StateSpec, datetime | float]],
) -> None:
    """Assert a run's states and exactly when each was committed.

    Each entry pairs a state spec with a time: an aware datetime is compared as is; a
    number is seconds after the run's *first* state (so ``0`` is the first state's
    time). Times are compared to the microsecond, with no tolerance: run the test on a
    :class:`~orchestrator.VirtualClock`.

    Example::

        assert_state_times(orchestrator, run, [
            ("Scheduled", 0), ("Pending", 0), ("Running", 0),
            ("AwaitingRetry", 0), ("Retrying", 600), ("Completed", 600),
        ])

    Raises:
        AssertionError: a state or a time differs; the message lists expected and actual
            side by side, then the history and the decision log.
        ObjectNotFound: no such run.
        InvalidArgument: a malformed entry.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    checked: list[tuple[StateSpec, datetime | timedelta]] = []
    for entry in expected:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ArgumentTypeError(f"each expected entry is a (state, time) pair, got {entry!r}")
        spec, time = _check_spec(entry[0]), entry[1]
        if isinstance(time, datetime):
            if time.tzinfo is None:
                raise ArgumentValueError(f"expected time {time.isoformat()} has no timezone")
            checked.append((spec, time))
        elif is_number(time):
            seconds = check_seconds(
                time, "an expected time", expected="a finite number of seconds >= 0"
            )
            checked.append((spec, timedelta(seconds=seconds)))
        else:
            raise ArgumentTypeError(
                f"an expected time is an aware datetime or seconds after the first state, "
                f"got {time!r}"
            )
    record, states = _lookup(orchestrator, run)
    ok = len(checked) == len(states)
    lines = []
    for i in range(max(len(checked), len(states))):
        want = "-"
        if i < len(checked):
            want = _expected_text(*checked[i])
        got = "-"
        if i < len(states):
            got, same = _actual_text(states, i, checked[i] if i < len(checked) else None)
            ok = ok and same
        lines.append(f"  #{i}: expected {want:<40} got {got}")
    if ok:
        return
    message = (
        f"{_describe(record)}: states or times differ\n"
        + "\n".join(lines)
        + f"\n\n{_context(orchestrator, record, states)}"
    )
    raise AssertionError(message)


def _expected_text(spec: StateSpec, when: datetime | timedelta) -> str:
    shown = f"+{when.total_seconds():g} s" if isinstance(when, timedelta) else format_time(when)
    return f"{_spec_text(spec)} at {shown}"


def _actual_text(
    states: list[State], index: int, check: tuple[StateSpec, datetime | timedelta] | None
) -> tuple[str, bool]:
    """Describe state ``index`` and say whether it meets ``check`` (True when none)."""
    state, first = states[index], states[0].timestamp
    when = state.timestamp
    assert when is not None
    assert first is not None  # committed states carry their timestamps
    text = f"{state.name} at {format_time(when)} (+{(when - first).total_seconds():g} s)"
    if check is None:
        return text, True
    spec, expected = check
    actual = when - first if isinstance(expected, timedelta) else when
    if _matches(spec, state.type, state.name) and actual == expected:
        return text, True
    return text + "   <-- differs", False


def _rule_name(rule: str | Rule | type[Rule]) -> str:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, Rule):
        return rule.name
    if isinstance(rule, type) and issubclass(rule, Rule):
        return rule.__name__
    raise ArgumentTypeError(f"rule is a rule's name, a Rule or a Rule class, got {rule!r}")


def _status(status: SetStateStatus | str) -> SetStateStatus:
    if isinstance(status, SetStateStatus):
        return status
    if isinstance(status, str) and status.upper() in SetStateStatus.__members__:
        return SetStateStatus[status.upper()]
    error = ArgumentValueError if isinstance(status, str) else ArgumentTypeError
    raise error(
        f"status is a SetStateStatus or one of 'ACCEPT', 'REJECT', 'WAIT', 'ABORT'; got {status!r}"
    )


def _criteria_text(criteria: Mapping[str, object]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in criteria.items()) or "anything"


def find_decisions(
    orchestrator: Orchestrator,
    run: RunRef,
    *,
    status: SetStateStatus | str | None = None,
    rule: str | Rule | type[Rule] | None = None,
    proposed: StateSpec | None = None,
    state: StateSpec | None = None,
    reason: str | None = None,
) -> list[Decision]:
    """Return the decisions on a run's proposals that match every given criterion.

    Args:
        orchestrator: the orchestrator that holds the run.
        run: the run, its id, or a future of it.
        status: the outcome: a :class:`~orchestrator.SetStateStatus` or its name.
        rule: the deciding rule: its name, the rule, or its class.
        proposed: the proposed state's name or type.
        state: the run's state after the decision, by name or type.
        reason: a substring of the deciding rule's reason.

    Returns:
        The matching decisions, oldest first (empty when none match).

    Raises:
        ObjectNotFound: no such run.
        InvalidArgument: a criterion of the wrong kind.
    """
    want_status = None if status is None else _status(status)
    want_rule = None if rule is None else _rule_name(rule)
    want_proposed = None if proposed is None else _check_spec(proposed)
    want_state = None if state is None else _check_spec(state)
    record, _ = _lookup(orchestrator, run)
    return [
        d
        for d in orchestrator.read_decisions(record.id)
        if (want_status is None or d.status is want_status)
        and (want_rule is None or d.rule == want_rule)
        and (want_proposed is None or _matches(want_proposed, d.proposed_type, d.proposed_name))
        and (want_state is None or _matches(want_state, d.state_type, d.state_name))
        and (reason is None or (d.reason is not None and reason in d.reason))
    ]


def assert_decided(
    orchestrator: Orchestrator,
    run: RunRef,
    *,
    status: SetStateStatus | str | None = None,
    rule: str | Rule | type[Rule] | None = None,
    proposed: StateSpec | None = None,
    state: StateSpec | None = None,
    reason: str | None = None,
) -> Decision:
    """Assert that some decision on a run matches every given criterion; return the latest.

    Example::

        decision = assert_decided(orchestrator, run, status="WAIT", rule=SecureTaskConcurrencySlots)
        assert decision.reason == "..."

    Takes the criteria of :func:`find_decisions`.

    Raises:
        AssertionError: no decision matches; the message shows the criteria, the state
            history and the whole decision log.
        ObjectNotFound: no such run.
        InvalidArgument: a criterion of the wrong kind.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    found = find_decisions(
        orchestrator, run, status=status, rule=rule, proposed=proposed, state=state, reason=reason
    )
    if found:
        return found[-1]
    criteria = {
        key: value
        for key, value in (
            ("status", status),
            ("rule", None if rule is None else _rule_name(rule)),
            ("proposed", proposed),
            ("state", state),
            ("reason", reason),
        )
        if value is not None
    }
    record, states = _lookup(orchestrator, run)
    raise AssertionError(
        f"no decision on {_describe(record)} matches {_criteria_text(criteria)}\n\n"
        f"{_context(orchestrator, record, states)}"
    )
