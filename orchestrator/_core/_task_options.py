"""Validation of the options of :func:`~orchestrator.task`.

Each checker takes what a user passed and returns the normalised value the
:class:`~orchestrator.Task` keeps, or raises :class:`~orchestrator.InvalidArgument`
saying what was wrong and what to pass instead. Nothing here runs per task run: the
options are checked once, when the task is built.
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from ._checks import (
    check_count,
    check_number,
    check_optional_seconds,
    is_finite,
    is_number,
    wrong_type,
    wrong_value,
)
from ._errors import ArgumentTypeError, ArgumentValueError
from ._run_policies import TaskRunPolicy, normalise_retry_delays

if TYPE_CHECKING:
    from ._run_context import TaskRunContext

__all__ = [
    "CacheKeyFunction",
    "RetryDelaySpec",
    "RunNameSpec",
    "cache_key_takes_context",
    "check_cache_expiration",
    "check_cache_key_fn",
    "check_policy",
    "check_run_name",
    "check_timeout",
    "default_task_key",
    "exponential_backoff",
    "function_signature",
    "is_async",
    "plain_parameters",
]

#: What ``retry_delay_seconds`` accepts: seconds, a list of seconds (indexed by
#: attempt, the last one repeating), or a function of ``retries`` returning that list.
RetryDelaySpec = float | Sequence[float] | Callable[[int], Sequence[float]] | None
#: A cache key function: the bound parameters in, a key (or None for "do not cache")
#: out; or Prefect's form, ``(context, parameters)``, told apart by its arity.
CacheKeyFunction = (
    Callable[[dict[str, Any]], "str | None"]
    | Callable[["TaskRunContext", dict[str, Any]], "str | None"]
)
#: A run-name template (``str.format`` over the parameters) or a function of the parameters.
RunNameSpec = str | Callable[[dict[str, Any]], str] | None

_FORMATTER: Final = string.Formatter()


def default_task_key(fn: Callable[..., Any]) -> str:
    """Return ``<module>.<qualname>`` of ``fn``: stable across processes and runs."""
    module = getattr(fn, "__module__", None) or "__main__"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


def function_signature(fn: Callable[..., Any]) -> inspect.Signature:
    """Return the signature arguments are bound against.

    Raises:
        InvalidArgument: the callable has no signature Python can read.
    """
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"cannot read the signature of {fn!r} ({exc}); wrap it in a plain function"
        ) from None


def _resolve_delays(retries: int, spec: object) -> float | Sequence[float] | None:
    if spec is None or isinstance(spec, int | float):
        return spec
    if callable(spec):
        delays: object = spec(retries)
        if not isinstance(delays, Sequence) or isinstance(delays, str):
            raise ArgumentTypeError(
                f"retry_delay_seconds({retries}) must return a list of seconds, got {delays!r}"
            )
        return delays
    if isinstance(spec, str | Mapping) or not isinstance(spec, Iterable):
        raise ArgumentTypeError(
            "retry_delay_seconds must be seconds, a list of seconds, or a function of the "
            f"number of retries returning a list; got {spec!r}"
        )
    return list(spec)


def check_policy(
    retries: int | None, retry_delay_seconds: RetryDelaySpec, retry_jitter_factor: float | None
) -> TaskRunPolicy:
    """Return the retry policy for these options.

    Every value is checked here, when the task is defined, so a delay or a jitter
    factor that could not be used (NaN, infinity) never reaches a run's first failure.

    Raises:
        InvalidArgument: a negative or non-integer ``retries``, a delay or jitter factor
            that is not a finite number >= 0, more than 50 delays, or a delay function
            that does not return a list of seconds.
    """
    retries = check_count(0 if retries is None else retries, "retries")
    jitter = None
    if retry_jitter_factor is not None:
        jitter = check_number(
            retry_jitter_factor, "retry_jitter_factor", expected="None or a finite number >= 0"
        )
    delays = normalise_retry_delays(
        _resolve_delays(retries, retry_delay_seconds), "retry_delay_seconds"
    )
    return TaskRunPolicy(retries=retries, retry_delay=delays, retry_jitter_factor=jitter)


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Retry delays that double: ``backoff_factor * 2**n`` seconds before retry ``n + 1``.

    For ``retry_delay_seconds``: ``@task(retries=3, retry_delay_seconds=exponential_backoff(10))``
    waits 10, 20 and 40 seconds. Combine with ``retry_jitter_factor`` to spread retries.

    Raises:
        InvalidArgument: ``backoff_factor`` is not a finite number >= 0.
    """
    factor = check_number(backoff_factor, "backoff_factor", expected="a finite number >= 0")

    def delays(retries: int) -> list[float]:
        return [factor * 2**attempt for attempt in range(retries)]

    return delays


def cache_key_takes_context(fn: Callable[..., Any]) -> bool:
    """Whether a cache key function has Prefect's form, ``fn(context, parameters)``.

    Told apart by arity when the task is defined: two positional parameters, or a
    variadic ``*args`` (``lambda *_: key``, common in Prefect code), take the context
    first; one takes the parameters alone.
    """
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): one argument
        return False
    positional = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def check_cache_key_fn(fn: CacheKeyFunction | None) -> CacheKeyFunction | None:
    """Return ``fn`` if it is None or callable.

    Raises:
        InvalidArgument: anything else.
    """
    if fn is not None and not callable(fn):
        raise wrong_type(
            "cache_key_fn",
            fn,
            "a function of the parameters dict (or of the run context and the parameters) "
            "returning a key, or None",
        )
    return fn


def check_cache_expiration(value: timedelta | float | None) -> timedelta | None:
    """Return the expiration as a timedelta (numbers are seconds).

    A negative expiration (as in Prefect) means already expired: the result is cached
    with an expiration in the past, so no later run reads it.

    Raises:
        InvalidArgument: an infinite, NaN, too large or non-numeric value.
    """
    if value is None:
        return None
    expected = "a timedelta or a number of seconds"
    if isinstance(value, timedelta):
        result = value
    elif is_number(value):
        if not is_finite(value):
            raise wrong_value("cache_expiration", value, expected)
        try:
            result = timedelta(seconds=value)
        except OverflowError:
            expected = f"{expected} that fits a timedelta"
            raise wrong_value("cache_expiration", value, expected) from None
    else:
        raise wrong_type("cache_expiration", value, expected)
    return result  # a negative expiration is allowed: the entry is already expired


def check_timeout(value: float | None) -> float | None:
    """Return the timeout in seconds.

    Raises:
        InvalidArgument: a value that is not a finite number > 0.
    """
    return check_optional_seconds(
        value, "timeout_seconds", positive=True, expected="a number of seconds > 0 (or None)"
    )


def check_run_name(spec: RunNameSpec, signature: inspect.Signature) -> RunNameSpec:
    """Check a run-name template against the function's parameters.

    A template may only name parameters of the function (``{x}``, ``{x.attr}``,
    ``{x[0]}``), unless the function takes ``**kwargs``; positional fields (``{}``,
    ``{0}``) are refused because templates are rendered over names.

    Raises:
        InvalidArgument: not a string or a callable, a malformed template, or a field
            naming no parameter.
    """
    if spec is None or callable(spec):
        return spec
    if not isinstance(spec, str):
        raise wrong_type("task_run_name", spec, "a format string or a function of the parameters")
    try:
        fields = [field for _, field, _, _ in _FORMATTER.parse(spec) if field is not None]
    except ValueError as exc:
        raise ArgumentValueError(
            f"task_run_name {spec!r} is not a valid format string: {exc}"
        ) from None
    params = signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for field in fields:
        head = field.split(".", 1)[0].split("[", 1)[0]
        if not head or head.isdigit():
            raise ArgumentValueError(
                f"task_run_name {spec!r} uses a positional field; name a parameter, as in "
                "'add-{x}'"
            )
        if head not in params and not open_ended:
            raise ArgumentValueError(
                f"task_run_name {spec!r} names {head!r}, which is not a parameter of the "
                f"function; its parameters are {', '.join(params) or 'none'}"
            )
    return spec


def plain_parameters(
    signature: inspect.Signature,
) -> tuple[tuple[str, ...], int, tuple[Any, ...]] | None:
    """Describe a signature of positional-or-keyword parameters only, for fast binding.

    Returns:
        ``(names, how many are required, the defaults of the rest)``, or None when the
        signature has any other kind of parameter.
    """
    params = list(signature.parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    defaults = tuple(p.default for p in params if p.default is not inspect.Parameter.empty)
    return tuple(p.name for p in params), len(params) - len(defaults), defaults


def is_async(fn: Callable[..., Any]) -> bool:
    """Return whether calling ``fn`` returns a coroutine (an async function or ``__call__``)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)
