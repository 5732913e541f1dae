"""Argument checks for work pools, work queues and deployments.

Each function either returns the value in the form the records keep (a tuple for a
command, a fresh dict for a mapping) or raises a clear error naming what was wrong and
what to do; none of them changes anything. Names and limits are checked by the shared
vocabulary of :mod:`orchestrator._core._checks`. Two helpers place queue priorities:
:func:`first_free_priority` picks one, :func:`give_priority` (the only function here
that changes records) assigns one and keeps a pool's priorities unique.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .._core._checks import check_name, check_positive_int
from .._core._errors import ArgumentTypeError, ArgumentValueError, TemplateError
from .._core._models import WorkQueue

__all__ = [
    "check_base_job_template",
    "check_command",
    "check_job_variables",
    "check_name",
    "check_parameters",
    "check_priority",
    "default_base_job_template",
    "first_free_priority",
    "give_priority",
    "merge_job_variables",
]


def check_priority(value: object) -> int:
    """Return a queue priority: an integer >= 1 (a lower number is served first)."""
    return check_positive_int(value, "priority")


def first_free_priority(taken: Iterable[int]) -> int:
    """Return the lowest priority >= 1 not in ``taken`` (the first gap, or max + 1).

    Example:
        >>> first_free_priority([1, 2, 4]), first_free_priority([]), first_free_priority([2])
        (3, 1, 1)
    """
    used = set(taken)
    priority = 1
    while priority in used:
        priority += 1
    return priority


def give_priority(
    queues: Iterable[WorkQueue], queue: WorkQueue, priority: int, now: datetime
) -> None:
    """Give ``queue`` this priority, keeping the priorities of its pool's ``queues`` unique.

    As Prefect does, a queue holding a priority now taken moves down by one, and so on
    down the line (the fewest moves that keep every priority unique, the order of the
    others unchanged); queues that move get ``updated = now``.
    """
    queue.priority = priority
    taken = {priority}
    for other in sorted((q for q in queues if q is not queue), key=lambda q: q.priority):
        wanted = other.priority
        while wanted in taken:
            wanted += 1
        if wanted != other.priority:
            other.priority = wanted
            other.updated = now
        taken.add(wanted)


def default_base_job_template(pool_type: str) -> dict[str, Any]:
    """Return the base job template a new pool of ``pool_type`` starts with.

    The process worker's template for "process" pools; an empty one otherwise.
    """
    if pool_type == "process":
        # Imported here: job configurations belong to the worker layer above the engine.
        from ._process_config import ProcessJobConfiguration

        return ProcessJobConfiguration.default_base_job_template()
    return {"job_configuration": {}, "variables": {"type": "object", "properties": {}}}


def check_base_job_template(template: object, pool_type: str) -> dict[str, Any]:
    """Return a deep copy of a valid base job template.

    A template is a mapping with a ``job_configuration`` mapping and a ``variables``
    mapping (whose ``properties``, if any, map names to schema mappings). For a
    "process" pool it must also render into a process job configuration.

    Raises:
        TemplateError: what is wrong with the template.
    """
    if not isinstance(template, Mapping):
        raise TemplateError(
            "a base job template must be a mapping with 'job_configuration' and 'variables' "
            f"mappings, not {type(template).__name__}; start from the pool type's default"
        )
    job_configuration = template.get("job_configuration")
    variables = template.get("variables")
    if not isinstance(job_configuration, Mapping):
        raise TemplateError(
            f"the base job template's 'job_configuration' must be a mapping, got "
            f"{job_configuration!r}"
        )
    if not isinstance(variables, Mapping):
        raise TemplateError(
            f"the base job template's 'variables' must be a mapping, got {variables!r}"
        )
    properties = variables.get("properties", {})
    if not isinstance(properties, Mapping) or not all(
        isinstance(spec, Mapping) for spec in properties.values()
    ):
        raise TemplateError(
            "the base job template's 'variables.properties' must map each variable name to "
            f"a schema mapping, got {properties!r}"
        )
    result = copy.deepcopy(dict(template))
    if pool_type == "process":
        from ._process_config import ProcessJobConfiguration

        ProcessJobConfiguration.from_template_and_values(result, {}, environ={})
    return result


def _check_env(env: object, where: str) -> None:
    if not isinstance(env, Mapping):
        raise ArgumentTypeError(f"{where} must be a mapping of names to strings, got {env!r}")
    for key, value in env.items():
        if not isinstance(key, str) or not key:
            error = ArgumentValueError if isinstance(key, str) else ArgumentTypeError
            raise error(f"{where} has a name that is not a non-empty string: {key!r}")
        if value is not None and not isinstance(value, str):
            raise ArgumentTypeError(
                f"{where}[{key!r}] must be a string (or None to unset it), got "
                f"{type(value).__name__} {value!r}; quote it, e.g. {str(value)!r}"
            )


def check_job_variables(values: object, what: str = "job_variables") -> dict[str, Any]:
    """Return a copy of job variables: a mapping of names to values, env values strings.

    ``env`` (and dotted ``env.NAME`` keys) must hold strings, or None to unset a
    variable: a number or a structure there is an error, not silently converted.

    Raises:
        InvalidArgument: what is wrong, naming the key.
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ArgumentTypeError(
            f"{what} must be a mapping of variable names to values, got {values!r}"
        )
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            error = ArgumentValueError if isinstance(key, str) else ArgumentTypeError
            raise error(f"{what} has a name that is not a non-empty string: {key!r}")
        if key == "env":
            _check_env(value, f"{what}['env']")
        elif key.startswith("env."):
            _check_env({key[4:]: value}, f"{what}['env']")
    return copy.deepcopy(dict(values))


def merge_job_variables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated with ``override``; ``env`` is merged name by name.

    Example:
        >>> merge_job_variables({"env": {"A": "1"}, "x": 1}, {"env": {"B": "2"}, "x": 2})
        {'env': {'A': '1', 'B': '2'}, 'x': 2}
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if key == "env" and isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = {**current, **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def check_command(command: object) -> tuple[str, ...] | None:
    """Return a command as a tuple of arguments (None for no command).

    Raises:
        InvalidArgument: a string (which would need a shell to split), an empty list,
            or an argument that is not a string.
    """
    if command is None:
        return None
    if isinstance(command, str | bytes):
        raise ArgumentTypeError(
            f"command must be a list of arguments such as ['python', 'flow.py'], not the "
            f"string {command!r}: it is never run through a shell"
        )
    if not isinstance(command, Iterable) or isinstance(command, Mapping):
        raise ArgumentTypeError(f"command must be a list of strings, got {command!r}")
    arguments = tuple(command)
    if not arguments:
        raise ArgumentValueError("command must name a program: the argument list is empty")
    for argument in arguments:
        if not isinstance(argument, str):
            raise ArgumentTypeError(
                f"every command argument must be a string, got {argument!r} in {arguments!r}"
            )
    return arguments


def check_parameters(parameters: object, what: str = "parameters") -> dict[str, Any]:
    """Return a copy of flow-run parameters: a JSON-serialisable mapping with string keys.

    They travel to the flow-run process as JSON, so anything else is refused now
    rather than when a worker starts the run.

    Raises:
        InvalidArgument: not a mapping, a key that is not a string, or a value JSON
            cannot encode.
    """
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ArgumentTypeError(f"{what} must be a mapping of names to values, got {parameters!r}")
    for key in parameters:
        if not isinstance(key, str):
            raise ArgumentTypeError(f"{what} names must be strings, got {key!r}")
    try:
        json.dumps(dict(parameters), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArgumentValueError(
            f"{what} must be JSON-serialisable to reach a flow-run process: {exc}"
        ) from exc
    return copy.deepcopy(dict(parameters))
