"""What a task does with its function: bind arguments, call, name runs, key the cache.

:class:`TaskFunction` is the half of :class:`~orchestrator.Task` that works on one run's
arguments and states; the options themselves are checked in ``Task.__init__``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from ._errors import ArgumentTypeError, ArgumentValueError

if TYPE_CHECKING:
    from ._run_context import TaskRunContext
    from ._task_options import CacheKeyFunction, RunNameSpec

__all__ = ["TaskFunction"]

P = ParamSpec("P")
R = TypeVar("R")


class TaskFunction(Generic[P, R]):
    """A task's function and the per-run work on its arguments (a base of ``Task``)."""

    __slots__ = ()

    fn: Callable[P, R]
    name: str
    signature: inspect.Signature
    task_run_name: RunNameSpec
    cache_key_fn: CacheKeyFunction | None
    cache_key_takes_context: bool
    _plain: tuple[tuple[str, ...], int, tuple[Any, ...]] | None
    _options: dict[str, Any]

    def bind_parameters(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Bind a call's arguments to the signature, defaults filled in.

        Returns:
            Parameter names mapped to values; ``*args`` and ``**kwargs`` parameters map
            to a tuple and a dict.

        Raises:
            TypeError: the arguments do not fit the signature (the signature's own
                message, for example ``missing a required argument: 'y'``).
        """
        plain = self._plain
        if plain is not None and not kwargs:
            # The common case, positional arguments to a plain signature, without the
            # cost of Signature.bind; anything else (and every error) goes through it.
            names, required, defaults = plain
            count = len(args)
            if required <= count <= len(names):
                parameters = dict(zip(names, args, strict=False))
                if count < len(names):
                    parameters.update(zip(names[count:], defaults[count - required :], strict=True))
                return parameters
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def call_with_parameters(self, parameters: Mapping[str, Any]) -> R:
        """Call the plain function with bound parameters (as :meth:`bind_parameters` made).

        Raises:
            TypeError: the parameters do not fit the signature.
        """
        bound = inspect.BoundArguments(self.signature, dict(parameters))
        return self.fn(*bound.args, **bound.kwargs)

    def render_run_name(self, parameters: Mapping[str, Any]) -> str | None:
        """Return the name of a run with these parameters, or None without a template.

        Raises:
            InvalidArgument: the template cannot be rendered with these parameters, the
                naming function raised (the error is chained), or it did not return a
                non-empty string.
        """
        spec = self.task_run_name
        if spec is None:
            return None
        if isinstance(spec, str):
            try:
                name = spec.format_map(parameters)
            except (KeyError, AttributeError, IndexError, TypeError, ValueError) as exc:
                raise ArgumentValueError(
                    f"task_run_name {spec!r} cannot be rendered with parameters "
                    f"{sorted(parameters)}: {exc!r}"
                ) from None
        else:
            try:
                name = spec(dict(parameters))
            except Exception as exc:
                raise ArgumentValueError(
                    f"the run name of task {self.name!r} cannot be computed: its "
                    f"task_run_name function raised {exc!r}"
                ) from exc
        if not isinstance(name, str) or not name:
            error = ArgumentValueError if isinstance(name, str) else ArgumentTypeError
            raise error(
                f"the task_run_name function of {self.name!r} must return a non-empty "
                f"string, got {name!r}"
            )
        return name

    def cache_key(
        self, parameters: Mapping[str, Any], context: TaskRunContext | None = None
    ) -> str | None:
        """Return the cache key of a run with these parameters, or None for no caching.

        Args:
            parameters: the run's bound parameters.
            context: the run's context, passed first to a cache key function of
                Prefect's form ``fn(context, parameters)`` (its ``task_run`` may not
                exist yet when a background run is being submitted).

        Raises:
            InvalidArgument: the cache key function raised (the error is chained, as
                ``__cause__``) or returned something other than a string or None.
        """
        fn = self.cache_key_fn
        if fn is None:
            return None
        try:
            if self.cache_key_takes_context:
                key = fn(context, dict(parameters))  # type: ignore[call-arg,arg-type]
            else:
                key = fn(dict(parameters))  # type: ignore[call-arg,arg-type]
        except Exception as exc:
            raise ArgumentValueError(
                f"the cache key of task {self.name!r} cannot be computed: its cache_key_fn "
                f"raised {exc!r}"
            ) from exc
        if key is not None and not isinstance(key, str):
            raise ArgumentTypeError(
                f"the cache_key_fn of {self.name!r} must return a string or None, got {key!r}"
            )
        return key
