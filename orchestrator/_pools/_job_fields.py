"""Field conversion for job configurations: each setting in the one shape the worker uses.

Converters turn what a template renders (strings, lists, numbers, None) into the typed
value of a field, and refuse anything else with :class:`~orchestrator.InvalidArgument`
naming the field and the key, so a bad template fails before a process is started.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import attrs

from .._core._checks import wrong_type, wrong_value
from .._core._errors import ArgumentTypeError, ArgumentValueError

__all__ = [
    "env_repr",
    "flag_validator",
    "job_name_validator",
    "to_command",
    "to_env",
    "to_env_names",
    "to_labels",
    "to_working_dir",
]


def to_command(value: str | Sequence[object] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value)) or None
        except ValueError as exc:
            raise ArgumentValueError(
                f"command {value!r} cannot be split into arguments ({exc}); "
                "check its quotes, or give the command as a list of arguments"
            ) from exc
    if not isinstance(value, list | tuple):
        raise ArgumentTypeError(
            f"command must be a list of arguments or a string, not {type(value).__name__}"
        )
    arguments: list[str] = []
    for index, argument in enumerate(value):
        if isinstance(argument, bool) or not isinstance(argument, str | int | float | PurePath):
            raise ArgumentTypeError(
                f"command argument {index} is {argument!r}; every argument must be a string"
            )
        arguments.append(str(argument))
    return tuple(arguments) or None


def _to_str_mapping(value: object, what: str, none_means: str) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{what} must be a mapping of names to strings, not {value!r}")
    result: dict[str, str | None] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            error = ArgumentValueError if isinstance(key, str) else ArgumentTypeError
            raise error(f"{what} name {key!r} must be a non-empty string without '='")
        if item is None and none_means:
            result[key] = None
        elif isinstance(item, str) and "\0" not in item:
            result[key] = item
        elif isinstance(item, bool | int | float):
            result[key] = str(item)
        else:
            kind = type(item).__name__
            error = ArgumentValueError if isinstance(item, str) else ArgumentTypeError
            raise error(
                f"{what} value for {key!r} is {item!r} ({kind}); it must be a string, "
                f"a number, a boolean{none_means}"
            )
    return result


def to_env(value: Mapping[str, object] | None) -> dict[str, str | None]:
    return _to_str_mapping(value, "env", " or None (None unsets the variable)")


def env_repr(env: Mapping[str, str | None]) -> str:
    """Show an env's names but not its values, which may be secrets, in reprs and logs."""
    shown = (f"{key!r}: {'None' if value is None else '***'}" for key, value in env.items())
    return "{" + ", ".join(shown) + "}"


def to_env_names(value: Iterable[str] | None) -> tuple[str, ...] | None:
    """Check a list of environment variable names; None stays None (no restriction).

    Returns the names as a tuple in the order given, each once (a set is sorted).
    """
    if value is None:
        return None
    expected = "None or a list of environment variable names"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise wrong_type(
            "inherit_env_names",
            value,
            f"{expected}, such as ['PATH', 'HOME']",
            bare_string=isinstance(value, str),
        )
    items = list(value)
    for index, name in enumerate(items):
        where = f"at index {index}"
        if not isinstance(name, str):
            raise wrong_type("inherit_env_names", name, expected, context=where)
        if not name or "=" in name or "\0" in name:
            raise wrong_value(
                "inherit_env_names", name, "a list of non-empty names without '='", context=where
            )
    return tuple(sorted(items) if isinstance(value, set | frozenset) else dict.fromkeys(items))


def to_labels(value: Mapping[str, object] | None) -> dict[str, str]:
    return {key: str(item) for key, item in _to_str_mapping(value, "labels", "").items()}


def to_working_dir(value: str | os.PathLike[str] | None) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise ArgumentTypeError(f"working_dir must be a path or None, not {value!r}")
    path = Path(value)
    return path if path.is_absolute() else path.resolve()


# The two attrs validators below word their refusals like the converters above ("..., not
# <value>"), the style of every job-configuration message, rather than the "got" of
# _core/_checks; tests pin both wordings.
def job_name_validator(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Accept None or a string as a job's ``name``."""
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"name must be a string or None, not {value!r}")


def flag_validator(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Accept only True or False (a template may render ``"yes"`` or ``1``)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{attribute.name} must be true or false, not {value!r}")
