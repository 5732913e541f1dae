"""The building blocks of the argument checks: the two kinds of refusal, and predicates.

:func:`wrong_type` builds the :class:`~orchestrator.ArgumentTypeError` (also a
``TypeError``) refusing a value of a kind a parameter never takes; :func:`wrong_value`
the :class:`~orchestrator.ArgumentValueError` (also a ``ValueError``) refusing a value
of the right kind, out of range or malformed. :func:`is_integer`, :func:`is_number` and
:func:`is_finite` tell the numeric kinds apart (a ``bool`` is never a number here). The
checks themselves, and the conventions they share, are in ``_checks``, which re-exports
these names.
"""

from __future__ import annotations

import math
from typing import TypeGuard

from ._errors import ArgumentTypeError, ArgumentValueError

__all__ = ["is_finite", "is_integer", "is_number", "wrong_type", "wrong_value"]


# -- the two kinds of refusal -------------------------------------------------------------------
def _message(name: str, value: object, expected: str, context: str, bare_string: bool) -> str:
    got = f"not the string {value!r}" if bare_string else f"got {value!r}"
    where = f" {context}" if context else ""
    return f"{name} must be {expected}, {got}{where}"


def wrong_type(
    name: str, value: object, expected: str, *, context: str = "", bare_string: bool = False
) -> ArgumentTypeError:
    """Return the error refusing ``value`` as a kind of value ``name`` never takes.

    ``expected`` says what to pass (``"an integer >= 0"``); ``context`` is appended after
    the value (``"for tag 'db'"``); ``bare_string`` says the value is a string given
    where a collection of strings belongs. The caller raises it: ``raise wrong_type(...)``.

    Example:
        >>> str(wrong_type("limit", "3", "None or an integer >= 0"))
        "limit must be None or an integer >= 0, got '3'"
        >>> str(wrong_type("tags", "db", "a collection of strings", bare_string=True))
        "tags must be a collection of strings, not the string 'db'"
    """
    return ArgumentTypeError(_message(name, value, expected, context, bare_string))


def wrong_value(
    name: str, value: object, expected: str, *, context: str = ""
) -> ArgumentValueError:
    """Return the error refusing ``value``: the right kind, but out of range or malformed.

    The error is an :class:`~orchestrator.ArgumentValueError`, so also a ``ValueError``.

    Example:
        >>> str(wrong_value("limit", -1, "None or an integer >= 0"))
        'limit must be None or an integer >= 0, got -1'
    """
    return ArgumentValueError(_message(name, value, expected, context, False))


# -- predicates ---------------------------------------------------------------------------------
def is_integer(value: object) -> TypeGuard[int]:
    """Return whether ``value`` is an ``int`` (subclasses included) and not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    """Return whether ``value`` is an ``int`` or a ``float`` and not a ``bool`` (NaN is one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite(value: float) -> bool:
    """Return whether a number is finite and has a float form (``10**400`` has none)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
