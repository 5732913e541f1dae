"""Validation of the options of :func:`~orchestrator.task`.

Each checker takes what a user passed and returns the normalised value the
:class:`~orchestrator.Task` keeps, or raises :class:`~orchestrator.InvalidArgument`
saying what was wrong and what to pass instead. Nothing here runs per task run: the
options are checked once, when the task is built.
"""

from __future__ import annotations

import inspect
import math
import string
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Final

from ._checks import check_count, check_optional_seconds, is_number, wrong_type
from ._errors import InvalidArgument
from ._models import TaskRunPolicy

__all__ = [
    "CacheKeyFunction",
    "RetryDelaySpec",
    "RunNameSpec",
    "check_cache_expiration",
    "check_cache_key_fn",
    "check_policy",
    "check_run_name",
    "check_timeout",
    "default_task_key",
    "function_signature",
    "is_async",
    "plain_parameters",
]

#: What ``retry_delay_seconds`` accepts: seconds, a list of seconds (indexed by
#: attempt, the last one repeating), or a function of ``retries`` returning that list.
RetryDelaySpec = float | Sequence[float] | Callable[[int], Sequence[float]] | None
#: A cache key function: the bound parameters in, a key (or None for "do not cache") out.
CacheKeyFunction = Callable[[dict[str, Any]], "str | None"]
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
        raise InvalidArgument(
            f"cannot read the signature of {fn!r} ({exc}); wrap it in a plain function"
        ) from None


def _resolve_delays(retries: int, spec: object) -> float | Sequence[float] | None:
    if spec is None or isinstance(spec, int | float):
        return spec  # TaskRunPolicy refuses booleans and negative values
    if callable(spec):
        delays: object = spec(retries)
        if not isinstance(delays, Sequence) or isinstance(delays, str):
            raise InvalidArgument(
                f"retry_delay_seconds({retries}) must return a list of seconds, got {delays!r}"
            )
        return delays
    if isinstance(spec, str) or not isinstance(spec, Iterable):
        raise InvalidArgument(
            "retry_delay_seconds must be seconds, a list of seconds, or a function of the "
            f"number of retries returning a list; got {spec!r}"
        )
    return list(spec)


def check_policy(
    retries: int | None, retry_delay_seconds: RetryDelaySpec, retry_jitter_factor: float | None
) -> TaskRunPolicy:
    """Return the retry policy for these options.

    Raises:
        InvalidArgument: a negative or non-integer ``retries``, a negative delay or
            jitter factor, more than 50 delays, or a delay function that does not return a
            list of seconds.
    """
    retries = check_count(0 if retries is None else retries, "retries")
    if retry_jitter_factor is not None and not is_number(retry_jitter_factor):
        # Only the type here: TaskRunPolicy refuses a negative factor.
        raise wrong_type("retry_jitter_factor", retry_jitter_factor, "a number >= 0 or None")
    delays = _resolve_delays(retries, retry_delay_seconds)
    return TaskRunPolicy(
        retries=retries, retry_delay=delays, retry_jitter_factor=retry_jitter_factor
    )


def check_cache_key_fn(fn: CacheKeyFunction | None) -> CacheKeyFunction | None:
    """Return ``fn`` if it is None or callable.

    Raises:
        InvalidArgument: anything else.
    """
    if fn is not None and not callable(fn):
        raise InvalidArgument(
            f"cache_key_fn must be a function of the parameters dict returning a key, got {fn!r}"
        )
    return fn


def check_cache_expiration(value: timedelta | float | None) -> timedelta | None:
    """Return the expiration as a timedelta (numbers are seconds).

    Raises:
        InvalidArgument: a negative, infinite or non-numeric value.
    """
    if value is None:
        return None
    if isinstance(value, timedelta):
        result = value
    elif is_number(value) and math.isfinite(value):
        result = timedelta(seconds=value)
    else:
        raise InvalidArgument(
            f"cache_expiration must be a timedelta or a number of seconds, got {value!r}"
        )
    if result < timedelta(0):
        raise InvalidArgument(f"cache_expiration must not be negative, got {value!r}")
    return result


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
        raise InvalidArgument(
            f"task_run_name must be a format string or a function of the parameters, got {spec!r}"
        )
    try:
        fields = [field for _, field, _, _ in _FORMATTER.parse(spec) if field is not None]
    except ValueError as exc:
        raise InvalidArgument(
            f"task_run_name {spec!r} is not a valid format string: {exc}"
        ) from None
    params = signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for field in fields:
        head = field.split(".", 1)[0].split("[", 1)[0]
        if not head or head.isdigit():
            raise InvalidArgument(
                f"task_run_name {spec!r} uses a positional field; name a parameter, as in "
                "'add-{x}'"
            )
        if head not in params and not open_ended:
            raise InvalidArgument(
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
