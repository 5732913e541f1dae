"""``@flow``: a function whose every call is a flow run in this process.

:func:`flow` turns a function (sync or async) into a :class:`Workflow` (the name
``Flow`` is the flow's record in the store). Calling it creates a flow run on the
current orchestrator (or on a fresh default one, on the system clock, when none is
current), runs the function in this process through the flow policy (retries and their
delays on the orchestrator's clock, a timeout) and returns its value, or the final
state with ``return_state=True``. An async flow's call returns a coroutine to await.
``.fn`` is the plain function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar, Final, Generic, Literal, ParamSpec, TypeVar, final, overload

from .._core import _hook_options as hook_opts
from .._core import _task_options as opts
from .._core._checks import check_bool, check_tags, check_text, wrong_type
from .._core._hook_options import Hook, Hooks
from .._core._models import FlowRunPolicy
from .._core._states import State
from ..executors._base import Executor
from ._executor_runner import ExecutorTaskRunner, is_executor
from ._task_runners import ThreadPoolTaskRunner

__all__ = ["Workflow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")

#: The keyword arguments a flow call takes for itself (refused as parameter names).
RESERVED: Final = ("return_state",)


@final
class Workflow(Generic[P, R], hook_opts.FlowHookMethods):
    """A function whose calls are flow runs; build one with :func:`flow`.

    Args:
        fn: the function, sync or async.
        name: the flow's name (its record's name); the function's name by default.
        flow_run_name: a ``str.format`` template over the parameters, or a function of
            no arguments returning the name; ``<adjective-like hex>`` by default.
        retries: how many times a failed run is retried (0 by default).
        retry_delay_seconds: seconds before each retry (0 by default).
        timeout_seconds: a run taking longer ends TimedOut (on the orchestrator's clock).
        task_runner: where tasks submitted in the flow run; a fresh
            :class:`ThreadPoolTaskRunner` copy per run by default. An
            :class:`ExecutorTaskRunner`, or an executor itself (a
            :class:`~orchestrator.executors.ProcessPoolExecutor`, a
            :class:`~orchestrator.executors.DaskExecutor`), runs their functions in it.
        validate_parameters: check the call's arguments against the signature before
            creating anything (a TypeError names the flow).
        description: shown in reprs; the function's docstring by default.
        version: the flow's version, recorded on its runs.
        tags: tags of every run of the flow.
        on_completion, on_failure, on_cancellation, on_crashed, on_running: lists of
            hooks ``fn(flow, flow_run, state)`` called after the run's state is committed
            (Running: each attempt). A hook runs in the run's context; async hooks are
            awaited; a hook that raises is logged on the run and changes nothing.
        log_prints: ``print`` inside the run (and its tasks, unless a task says otherwise)
            becomes a record of the run's log.

    Raises:
        InvalidArgument: an option out of range or of the wrong kind.
    """

    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, R]

    hook_owner: ClassVar[str] = "flow"
    hook_names: ClassVar[tuple[str, ...]] = hook_opts.FLOW_HOOK_NAMES

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        flow_run_name: str | Callable[[], str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: float | None = None,
        timeout_seconds: float | None = None,
        task_runner: ThreadPoolTaskRunner | ExecutorTaskRunner | Executor | None = None,
        validate_parameters: bool = True,
        description: str | None = None,
        version: str | None = None,
        tags: Iterable[str] | None = None,
        on_completion: Iterable[Hook] | None = None,
        on_failure: Iterable[Hook] | None = None,
        on_cancellation: Iterable[Hook] | None = None,
        on_crashed: Iterable[Hook] | None = None,
        on_running: Iterable[Hook] | None = None,
        log_prints: bool = False,
    ) -> None:
        if not callable(fn):
            raise wrong_type("fn", fn, "a function to decorate with @flow")
        if name is None:
            name = getattr(fn, "__name__", None) or type(fn).__name__
        self.fn: Callable[P, R] = fn
        """The plain function."""
        self.name: str = check_text(name, "name")
        """The flow's name."""
        signature = opts.function_signature(fn)
        for reserved in RESERVED:
            if reserved in signature.parameters:
                raise wrong_type(
                    "fn",
                    fn,
                    f"a function without a parameter named {reserved!r} (the call's own keyword)",
                )
        self.signature: inspect.Signature = signature
        """The function's signature."""
        if not (flow_run_name is None or isinstance(flow_run_name, str) or callable(flow_run_name)):
            raise wrong_type(
                "flow_run_name", flow_run_name, "a string template, a function or None"
            )
        self.flow_run_name: str | Callable[[], str] | None = flow_run_name
        """The run-name template or function, or None."""
        task_policy = opts.check_policy(retries, retry_delay_seconds, None)
        delay = task_policy.retry_delay
        if isinstance(delay, tuple):
            raise wrong_type("retry_delay_seconds", retry_delay_seconds, "a number of seconds")
        self.policy: FlowRunPolicy = FlowRunPolicy(retries=task_policy.retries, retry_delay=delay)
        """The retry policy every run gets."""
        self.timeout_seconds: float | None = opts.check_timeout(timeout_seconds)
        """The longest a run may take, in seconds; None for no limit."""
        runner: ThreadPoolTaskRunner | ExecutorTaskRunner
        if task_runner is None:
            runner = ThreadPoolTaskRunner()
        elif isinstance(task_runner, ThreadPoolTaskRunner | ExecutorTaskRunner):
            runner = task_runner
        elif is_executor(task_runner):
            runner = ExecutorTaskRunner(task_runner)
        else:
            raise wrong_type(
                "task_runner",
                task_runner,
                "a ThreadPoolTaskRunner, an ExecutorTaskRunner, an executor or None",
            )
        self.task_runner: ThreadPoolTaskRunner | ExecutorTaskRunner = runner
        """The runner submitted tasks run on (copied for each flow run)."""
        self.validate_parameters: bool = check_bool(validate_parameters, "validate_parameters")
        """Whether calls are checked against the signature first."""
        self.description: str | None = (
            description if description is not None else inspect.getdoc(fn)
        )
        """The description."""
        self.version: str | None = None if version is None else check_text(version, "version")
        """The flow's version."""
        self.tags: frozenset[str] = check_tags(tags)
        """The tags every run gets."""
        self.is_async: bool = opts.is_async(fn)
        """Whether the function is a coroutine function."""
        self.on_completion_hooks: Hooks = hook_opts.check_hooks(
            on_completion, "on_completion", "flow"
        )
        """Hooks called once a run is Completed."""
        self.on_failure_hooks: Hooks = hook_opts.check_hooks(on_failure, "on_failure", "flow")
        """Hooks called once a run is Failed for good."""
        self.on_cancellation_hooks: Hooks = hook_opts.check_hooks(
            on_cancellation, "on_cancellation", "flow"
        )
        """Hooks called once a run is Cancelled."""
        self.on_crashed_hooks: Hooks = hook_opts.check_hooks(on_crashed, "on_crashed", "flow")
        """Hooks called once a run is Crashed."""
        self.on_running_hooks: Hooks = hook_opts.check_hooks(on_running, "on_running", "flow")
        """Hooks called each time an attempt starts Running."""
        self.log_prints: bool = check_bool(log_prints, "log_prints")
        """Whether ``print`` in a run goes to its log."""
        self._options: dict[str, Any] = {
            "name": self.name,
            "flow_run_name": flow_run_name,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "timeout_seconds": timeout_seconds,
            "task_runner": task_runner,
            "validate_parameters": validate_parameters,
            "description": description,
            "version": version,
            "tags": tags,
            "on_completion": self.on_completion_hooks,
            "on_failure": self.on_failure_hooks,
            "on_cancellation": self.on_cancellation_hooks,
            "on_crashed": self.on_crashed_hooks,
            "on_running": self.on_running_hooks,
            "log_prints": log_prints,
        }
        functools.update_wrapper(self, fn, updated=())

    @property
    def retries(self) -> int:
        """How many times a failed run is retried (Prefect's attribute)."""
        return self.policy.retries or 0

    @property
    def retry_delay_seconds(self) -> float:
        """Seconds before each retry (Prefect's attribute)."""
        return self.policy.retry_delay or 0.0

    def with_options(self, **options: Any) -> Workflow[P, R]:
        """A copy of this flow with some options changed (the same keywords as :func:`flow`).

        Raises:
            InvalidArgument: an unknown option, or a bad value.
        """
        unknown = sorted(set(options) - set(self._options))
        if unknown:
            raise wrong_type("options", unknown, f"options among {sorted(self._options)}")
        return Workflow(self.fn, **{**self._options, **options})

    def bind_parameters(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Bind a call's arguments to the signature, defaults filled in.

        Raises:
            TypeError: the arguments do not fit the signature (the message names the flow).
        """
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"flow {self.name!r} cannot be called with these arguments: {exc}"
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def call_with_parameters(self, parameters: dict[str, Any]) -> R:
        """Call the plain function with bound parameters."""
        bound = inspect.BoundArguments(self.signature, dict(parameters))
        return self.fn(*bound.args, **bound.kwargs)

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(
        self: Workflow[..., Coroutine[Any, Any, Any]],
        *args: Any,
        return_state: Literal[True],
        **kwargs: Any,
    ) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow: a flow run on the current orchestrator; return its value.

        ``return_state=True`` (a keyword of the call, not passed on) returns the final
        State instead. An async flow returns a coroutine to await.

        Raises:
            TypeError: the arguments do not fit the signature (nothing is created).
            Exception: the flow's own exception when the run ends Failed.
        """
        from ._flow_runs import call_flow

        return_state = kwargs.pop("return_state", False)
        check_bool(return_state, "return_state")
        return call_flow(self, args, kwargs, return_state=bool(return_state))

    def __repr__(self) -> str:
        return f"Workflow({self.name!r})"


@overload
def flow(fn: Callable[P, R], /) -> Workflow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    flow_run_name: str | Callable[[], str] | None = None,
    retries: int | None = None,
    retry_delay_seconds: float | None = None,
    timeout_seconds: float | None = None,
    task_runner: ThreadPoolTaskRunner | ExecutorTaskRunner | Executor | None = None,
    validate_parameters: bool = True,
    description: str | None = None,
    version: str | None = None,
    tags: Iterable[str] | None = None,
    on_completion: Iterable[Hook] | None = None,
    on_failure: Iterable[Hook] | None = None,
    on_cancellation: Iterable[Hook] | None = None,
    on_crashed: Iterable[Hook] | None = None,
    on_running: Iterable[Hook] | None = None,
    log_prints: bool = False,
) -> Callable[[Callable[P, R]], Workflow[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    **options: Any,
) -> Workflow[P, R] | Callable[[Callable[P, R]], Workflow[P, R]]:
    """Make a function a flow: ``@flow`` or ``@flow(name=..., retries=...)``.

    Example:
        >>> @flow
        ... def pipeline(x: int) -> int:
        ...     return x + 1
        >>> pipeline.name
        'pipeline'
    """
    if fn is not None:
        return Workflow(fn, **options)

    def decorate(function: Callable[P, R]) -> Workflow[P, R]:
        return Workflow(function, **options)

    return decorate
