"""Tasks: functions with orchestration options, submitted as background task runs.

:func:`task` turns a function (sync or async) into a :class:`Task`. As in Prefect 3,
calling the task is a task run executed inline, and inside a flow :meth:`Task.submit`
and :meth:`Task.map` run it on the flow's task runner (see :mod:`orchestrator._flows`);
``task.fn`` is the plain function. :meth:`Task.delay` and :meth:`Task.apply_async`
create a background run on the current orchestrator (the one of the innermost ``with
orchestrator:`` block), which a TaskWorker serves, and return a
:class:`~orchestrator.TaskRunFuture`; ``orchestrator.submit(task, ...)`` is the explicit
form.

A task's options (retries and their delays, tags, caching, timeout, run names) are
checked once, when the task is built; :meth:`Task.with_options` returns a copy with
some of them changed.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, ParamSpec, Self, TypeVar, final, overload

from . import _hook_options as hook_opts
from . import _task_options as opts
from ._checks import check_bool, check_optional_bool, check_tags, check_text
from ._errors import ArgumentTypeError
from ._models import TaskRunPolicy
from ._task_call import TaskCall
from ._task_function import TaskFunction
from ._task_pickling import load_task, task_reference
from ._task_submission import TaskSubmission

if TYPE_CHECKING:
    from ._hook_options import Hook, Hooks, RetryCondition
    from ._task_options import CacheKeyFunction, RetryDelaySpec, RunNameSpec

__all__ = ["Task", "task"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


#: Marks an option :meth:`Task.with_options` leaves as it was.
_UNSET: Final[Any] = _Unset()

_OPTION_NAMES: Final = (
    "name",
    "task_key",
    "retries",
    "retry_delay_seconds",
    "retry_jitter_factor",
    "tags",
    "cache_key_fn",
    "cache_expiration",
    "timeout_seconds",
    "task_run_name",
    "refresh_cache",
    "retry_condition_fn",
    "on_completion",
    "on_failure",
    "on_running",
    "log_prints",
)


@final
class Task(TaskCall[P, R], TaskSubmission[P, R], TaskFunction[P, R], hook_opts.HookMethods):
    """A function with the options its background runs are orchestrated with.

    Build one with the :func:`task` decorator. Every option is checked here, so a bad
    one fails at import time, not when a worker runs the task.

    Args:
        fn: the function, sync or async.
        name: display name; the function's name by default.
        task_key: the key workers serve the task under; ``<module>.<qualname>`` of the
            function by default (stable across processes).
        retries: how many times a failed run is retried (0 by default).
        retry_delay_seconds: seconds before each retry; a number, a list indexed by
            attempt (the last entry repeats; at most 50), or a function taking
            ``retries`` and returning that list.
        retry_jitter_factor: spreads each delay randomly up to ``delay * (1 + factor)``.
        tags: tags of every run (tag concurrency limits apply to them).
        cache_key_fn: maps the bound parameters to a cache key, or None for no caching.
        cache_expiration: how long a cached result stays valid (a timedelta, or seconds);
            forever when None.
        timeout_seconds: a run taking longer fails as TimedOut (on the orchestrator's
            clock). An async function is cancelled. A sync one runs in a thread, which
            cannot be stopped: its call is left running and its result ignored, and the
            run's next attempt (any later execution of the run, by any worker of the
            orchestrator) starts only after that call has returned; meanwhile the call
            keeps its worker's slot (``TaskWorkerStatus.abandoned``).
        task_run_name: a ``str.format`` template over the parameters (``"add-{x}"``), or
            a function of the parameters dict returning the name.
        refresh_cache: when True, runs never read the cache (they still write it).
        retry_condition_fn: ``fn(task, task_run, state) -> bool``, asked before a failed
            run with retries left is retried; False makes the failure final (the decision
            log says so). A function that raises counts as False (logged on the run).
        on_completion, on_failure, on_running: lists of hooks ``fn(task, task_run,
            state)``, called after the run's state is committed: Completed (Cached too),
            Failed (the final failure, not one that is retried), and Running (each
            attempt). A hook runs in the run's context; async hooks are awaited; a hook
            that raises is logged on the run and changes nothing.
        log_prints: ``print`` inside the run becomes a record of the run's log; None
            takes the setting of the flow the run is in.

    Raises:
        InvalidArgument: an option out of range or of the wrong kind (the message says
            which and why).
    """

    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, R]

    hook_owner: ClassVar[str] = "task"
    hook_names: ClassVar[tuple[str, ...]] = hook_opts.TASK_HOOK_NAMES

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        task_key: str | None = None,
        retries: int | None = None,
        retry_delay_seconds: RetryDelaySpec = None,
        retry_jitter_factor: float | None = None,
        tags: Iterable[str] | None = None,
        cache_key_fn: CacheKeyFunction | None = None,
        cache_expiration: timedelta | float | None = None,
        timeout_seconds: float | None = None,
        task_run_name: RunNameSpec = None,
        refresh_cache: bool = False,
        retry_condition_fn: RetryCondition | None = None,
        on_completion: Iterable[Hook] | None = None,
        on_failure: Iterable[Hook] | None = None,
        on_running: Iterable[Hook] | None = None,
        log_prints: bool | None = None,
    ) -> None:
        if not callable(fn):
            raise ArgumentTypeError(f"@task decorates a function, got {fn!r}")
        if name is None:
            name = getattr(fn, "__name__", None) or type(fn).__name__
        name = check_text(name, "name")
        if task_key is None:
            task_key = opts.default_task_key(fn)
        task_key = check_text(task_key, "task_key")
        check_bool(refresh_cache, "refresh_cache")
        signature = opts.function_signature(fn)
        if "wait_for" in signature.parameters:
            raise ArgumentTypeError(
                f"@task cannot decorate {name!r}: it has a parameter named 'wait_for', "
                "which a task call takes for itself (the runs to wait for); rename it"
            )

        self.fn: Callable[P, R] = fn
        """The plain function."""
        self.name: str = name
        """The display name."""
        self.task_key: str = task_key
        """The key the task is served and queued under."""
        self.policy: TaskRunPolicy = opts.check_policy(
            retries, retry_delay_seconds, retry_jitter_factor
        )
        """The retry policy every run gets (retries, delays, jitter)."""
        self.tags: frozenset[str] = check_tags(tags)
        """The tags every run gets."""
        self.cache_key_fn: CacheKeyFunction | None = opts.check_cache_key_fn(cache_key_fn)
        """The cache key function, or None."""
        self.cache_key_takes_context: bool = cache_key_fn is not None and (
            opts.cache_key_takes_context(cache_key_fn)
        )
        """Whether the cache key function has Prefect's form ``fn(context, parameters)``."""
        self.cache_expiration: timedelta | None = opts.check_cache_expiration(cache_expiration)
        """How long a cached result stays valid; None for forever."""
        self.timeout_seconds: float | None = opts.check_timeout(timeout_seconds)
        """The longest a run may take, in seconds; None for no limit."""
        self.task_run_name: RunNameSpec = opts.check_run_name(task_run_name, signature)
        """The run-name template or function, or None for ``<name>-<8 hex digits>``."""
        self.refresh_cache: bool = refresh_cache
        """Whether runs skip the cache lookup."""
        self.retry_condition_fn: RetryCondition | None = hook_opts.check_retry_condition(
            retry_condition_fn
        )
        """Asked whether a failed run with retries left is retried; None: always retried."""
        self.on_completion_hooks: Hooks = hook_opts.check_hooks(
            on_completion, "on_completion", "task"
        )
        """Hooks called once a run is Completed."""
        self.on_failure_hooks: Hooks = hook_opts.check_hooks(on_failure, "on_failure", "task")
        """Hooks called once a run is Failed for good."""
        self.on_running_hooks: Hooks = hook_opts.check_hooks(on_running, "on_running", "task")
        """Hooks called each time an attempt starts Running."""
        self.log_prints: bool | None = check_optional_bool(log_prints, "log_prints")
        """Whether ``print`` in a run goes to its log; None takes the flow's setting."""
        self.signature: inspect.Signature = signature
        """The function's signature, which arguments are bound against."""
        self.is_async: bool = opts.is_async(fn)
        """Whether the function is a coroutine function (awaited in the event loop)."""
        self.takes_parameters: bool = bool(signature.parameters)
        """Whether the function takes any parameter (so runs store their arguments)."""
        self._plain = opts.plain_parameters(signature)
        # Kept as given, so with_options re-resolves a delay function for new retries.
        self._options: dict[str, Any] = {
            "name": name,
            "task_key": task_key,
            "retries": self.policy.retries,
            "retry_delay_seconds": retry_delay_seconds,
            "retry_jitter_factor": retry_jitter_factor,
            "tags": self.tags,
            "cache_key_fn": self.cache_key_fn,
            "cache_expiration": self.cache_expiration,
            "timeout_seconds": self.timeout_seconds,
            "task_run_name": self.task_run_name,
            "refresh_cache": refresh_cache,
            "retry_condition_fn": self.retry_condition_fn,
            "on_completion": self.on_completion_hooks,
            "on_failure": self.on_failure_hooks,
            "on_running": self.on_running_hooks,
            "log_prints": self.log_prints,
        }
        # Show the function's name and docstring; __wrapped__ lets inspect.signature
        # see through the task. The function's __dict__ is not copied over ours.
        functools.update_wrapper(self, fn, updated=())

    # -- options -------------------------------------------------------------------------
    @property
    def retries(self) -> int:
        """How many times a failed run is retried."""
        return self.policy.retries or 0

    @property
    def retry_delay_seconds(self) -> float | list[float] | None:
        """The retry delay(s) in seconds, as resolved when the task was built (a list of
        delays reads back as a list)."""
        delay = self.policy.retry_delay
        return list(delay) if isinstance(delay, tuple) else delay

    @property
    def retry_jitter_factor(self) -> float | None:
        """The retry jitter factor, or None."""
        return self.policy.retry_jitter_factor

    def with_options(
        self,
        *,
        name: str = _UNSET,
        task_key: str = _UNSET,
        retries: int | None = _UNSET,
        retry_delay_seconds: RetryDelaySpec = _UNSET,
        retry_jitter_factor: float | None = _UNSET,
        tags: Iterable[str] | None = _UNSET,
        cache_key_fn: CacheKeyFunction | None = _UNSET,
        cache_expiration: timedelta | float | None = _UNSET,
        timeout_seconds: float | None = _UNSET,
        task_run_name: RunNameSpec = _UNSET,
        refresh_cache: bool = _UNSET,
        retry_condition_fn: RetryCondition | None = _UNSET,
        on_completion: Iterable[Hook] | None = _UNSET,
        on_failure: Iterable[Hook] | None = _UNSET,
        on_running: Iterable[Hook] | None = _UNSET,
        log_prints: bool | None = _UNSET,
    ) -> Task[P, R]:
        """Return a new task over the same function with the given options changed.

        Options not given keep their values (pass None to clear one); the task key
        stays the same unless given, so both tasks are served under one key. A delay
        function is called again with the new ``retries``.

        Raises:
            InvalidArgument: a bad option (this task is unchanged either way).
        """
        given = {
            "name": name,
            "task_key": task_key,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "retry_jitter_factor": retry_jitter_factor,
            "tags": tags,
            "cache_key_fn": cache_key_fn,
            "cache_expiration": cache_expiration,
            "timeout_seconds": timeout_seconds,
            "task_run_name": task_run_name,
            "refresh_cache": refresh_cache,
            "retry_condition_fn": retry_condition_fn,
            "on_completion": on_completion,
            "on_failure": on_failure,
            "on_running": on_running,
            "log_prints": log_prints,
        }
        merged = dict(self._options)
        merged.update({k: v for k, v in given.items() if v is not _UNSET})
        return Task(self.fn, **merged)

    def __repr__(self) -> str:
        return f"Task({self.name!r}, key={self.task_key!r}, retries={self.retries})"

    # -- pickling: by reference, as a function pickles -----------------------------------
    def __reduce__(self) -> tuple[Callable[[str, str], Any], tuple[str, str]]:
        """Pickle as the module and qualified name of the function (see ``_task_pickling``).

        Raises:
            pickle.PicklingError: a lambda, a local task, or one no module name reaches.
        """
        return load_task, task_reference(self)

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    task_key: str | None = None,
    retries: int | None = None,
    retry_delay_seconds: RetryDelaySpec = None,
    retry_jitter_factor: float | None = None,
    tags: Iterable[str] | None = None,
    cache_key_fn: CacheKeyFunction | None = None,
    cache_expiration: timedelta | float | None = None,
    timeout_seconds: float | None = None,
    task_run_name: RunNameSpec = None,
    refresh_cache: bool = False,
    retry_condition_fn: RetryCondition | None = None,
    on_completion: Iterable[Hook] | None = None,
    on_failure: Iterable[Hook] | None = None,
    on_running: Iterable[Hook] | None = None,
    log_prints: bool | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    **options: Any,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Make a function a :class:`Task`: ``@task`` or ``@task(retries=3, ...)``.

    See :class:`Task` for the options. The task can be called like the function (no
    orchestration), or submitted with ``.submit(...)``/``.delay(...)`` or
    ``orchestrator.submit(task, ...)`` to run in the background on a task worker.

    Example:
        >>> @task(retries=2, retry_delay_seconds=[1, 10])
        ... def add(x: int, y: int) -> int:
        ...     return x + y
        >>> add(1, 2)
        3
        >>> add.policy.retry_delay
        (1.0, 10.0)

    Raises:
        InvalidArgument: a bad option, or an unknown option name.
    """
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise ArgumentTypeError(
            f"unknown @task option(s) {', '.join(unknown)}; the options are "
            f"{', '.join(_OPTION_NAMES)}"
        )
    if fn is not None:
        return Task(fn, **options)

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return Task(function, **options)

    return decorate
