"""State hooks and retry conditions as options of tasks and flows, checked once.

A hook is a function called after a run's state is committed: a task's hooks take
``(task, task_run, state)``, a flow's ``(flow, flow_run, state)``. Each option takes a
list of them, as in Prefect (``on_completion=[notify]``); a single function, a string or
a mapping is refused with an error that is also a ``TypeError``. Which hooks a state
calls is :func:`hook_name_for`: Completed (Cached too) calls ``on_completion``, Failed
``on_failure``, Cancelled ``on_cancellation`` and Crashed ``on_crashed`` (flows only);
``on_running`` is called each time an attempt starts.

A retry condition, ``retry_condition_fn(task, task_run, state) -> bool``, is asked
before a failed task run with retries left is retried; False makes the failure final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, TypeVar

from ._checks import wrong_type
from ._errors import ArgumentTypeError
from ._states import StateType

__all__ = [
    "FLOW_HOOK_NAMES",
    "FlowHookMethods",
    "HookMethods",
    "TASK_HOOK_NAMES",
    "Hook",
    "Hooks",
    "RetryCondition",
    "check_hooks",
    "check_retry_condition",
    "hook_name_for",
]

#: A state hook: ``(task or flow, run record, state)``; may return an awaitable.
Hook = Callable[[Any, Any, Any], Any]
#: The hooks of one option, in the order they are called.
Hooks = tuple[Hook, ...]
#: ``retry_condition_fn``: ``(task, task_run, state)`` in, retry or not out.
RetryCondition = Callable[[Any, Any, Any], Any]

#: The hook options of tasks and of flows.
TASK_HOOK_NAMES: Final = ("on_completion", "on_failure", "on_running")
FLOW_HOOK_NAMES: Final = (
    "on_completion",
    "on_failure",
    "on_cancellation",
    "on_crashed",
    "on_running",
)

_BY_TYPE: Final = {
    StateType.COMPLETED: "on_completion",
    StateType.FAILED: "on_failure",
    StateType.CANCELLED: "on_cancellation",
    StateType.CRASHED: "on_crashed",
    StateType.RUNNING: "on_running",
}


def hook_name_for(state_type: StateType) -> str | None:
    """The hook option a committed state of ``state_type`` calls, or None."""
    return _BY_TYPE.get(state_type)


def check_hooks(value: Iterable[Hook] | None, name: str, owner: str) -> Hooks:
    """Return the hooks of option ``name`` as a tuple (empty for None).

    Args:
        value: what the user passed.
        name: the option (``on_completion``, ...).
        owner: ``"task"`` or ``"flow"``, for the message's example.

    Raises:
        InvalidArgument: not a list (or tuple) of functions; the error is also a TypeError.
    """
    if value is None:
        return ()
    signature = f"({owner}, {owner}_run, state)"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise wrong_type(
            name,
            value,
            f"a list of functions {signature}, as in @{owner}({name}=[hook])",
        )
    hooks = tuple(value)
    for hook in hooks:
        if not callable(hook):
            raise ArgumentTypeError(
                f"every hook in {name} must be a function {signature}, got {hook!r}"
            )
    return hooks


def check_retry_condition(fn: RetryCondition | None) -> RetryCondition | None:
    """Return ``fn`` if it is None or callable.

    Raises:
        InvalidArgument: anything else (also a TypeError).
    """
    if fn is not None and not callable(fn):
        raise wrong_type(
            "retry_condition_fn",
            fn,
            "a function (task, task_run, state) returning whether to retry, or None",
        )
    return fn


H = TypeVar("H", bound=Hook)


class HookMethods:
    """The hook decorators and lookup of tasks and flows (a base class).

    ``@my_task.on_completion`` adds the decorated function to the task's
    ``on_completion_hooks`` (and to the options its copies are made with) and returns it.
    """

    __slots__ = ()

    #: ``"task"`` or ``"flow"``: the first argument every hook is called with.
    hook_owner: ClassVar[str]
    #: The hook options this kind of object has.
    hook_names: ClassVar[tuple[str, ...]]
    _options: dict[str, Any]

    def hooks_for(self, state_type: StateType) -> Hooks:
        """The hooks a committed state of ``state_type`` calls (empty when none)."""
        name = hook_name_for(state_type)
        if name is None or name not in self.hook_names:
            return ()
        hooks: Hooks = getattr(self, f"{name}_hooks")
        return hooks

    def _add_hook(self, name: str, fn: H) -> H:
        (hook,) = check_hooks([fn], name, self.hook_owner)
        setattr(self, f"{name}_hooks", (*getattr(self, f"{name}_hooks"), hook))
        self._options[name] = (*self._options[name], hook)
        return fn

    def on_completion(self, fn: H) -> H:
        """Add ``fn`` to the completion hooks; usable as a decorator."""
        return self._add_hook("on_completion", fn)

    def on_failure(self, fn: H) -> H:
        """Add ``fn`` to the failure hooks; usable as a decorator."""
        return self._add_hook("on_failure", fn)

    def on_running(self, fn: H) -> H:
        """Add ``fn`` to the running hooks; usable as a decorator."""
        return self._add_hook("on_running", fn)


class FlowHookMethods(HookMethods):
    """:class:`HookMethods` with the hooks only flows have."""

    __slots__ = ()

    def on_cancellation(self, fn: H) -> H:
        """Add ``fn`` to the cancellation hooks; usable as a decorator."""
        return self._add_hook("on_cancellation", fn)

    def on_crashed(self, fn: H) -> H:
        """Add ``fn`` to the crash hooks; usable as a decorator."""
        return self._add_hook("on_crashed", fn)
