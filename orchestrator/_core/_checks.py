"""Argument checks: the one vocabulary public calls use to refuse a bad argument.

Every public call checks what it was given before it changes anything. The checks
here are small named functions, in the spirit of attrs' validators, that each know
one kind of argument (a count, a number of seconds, a name, a set of tags, an id)::

    limit = check_optional_count(limit, "limit")
    lease = check_seconds(lease_seconds, "lease_seconds", positive=True)

Conventions shared by every check:

* The value comes first, then ``name``: the parameter as the user spelled it
  (``"lease_seconds"``), or a short phrase when there is no parameter to name
  (``"a cache key"``).
* A check returns the value in the form the caller keeps: an int stays the int given,
  seconds become a float, tags become a frozenset, a UUID string becomes a UUID.
* A refusal is an :class:`~orchestrator.InvalidArgument` reading
  ``"<name> must be <what to pass>, got <repr of the value>"``. A string given where a
  collection is expected reads ``"..., not the string 'x'"`` instead, because that is the
  mistake to point out.
* ``bool`` is a subclass of ``int``, but ``True`` is never a count, a number of seconds
  or a port: the numeric checks refuse booleans. NaN is never a number of seconds, and
  infinity is one only where a check says so (``finite=False``).
* Strings are never taken for datetimes, numbers or collections: ``"2026-01-01"`` is
  not a datetime, ``"10"`` is not a number of seconds, ``"db"`` is not a set of tags.

Refusals come in two kinds, and each is built by one function: :func:`wrong_type` (a
value of a kind the parameter never takes, such as ``"3"`` for a count) builds an
:class:`~orchestrator.ArgumentTypeError`, also a ``TypeError``; :func:`wrong_value` (the
right kind, out of range, such as ``-1`` for a count) builds an
:class:`~orchestrator.ArgumentValueError`, also a ``ValueError``. Both are
``InvalidArgument``, as Python's own APIs raise ``TypeError`` for ``int([])`` and
``ValueError`` for ``int("x")``. A refusal whose wording is its own (documented before
this vocabulary, or saying more than the shared shape can) raises one of the two classes
directly, choosing it the same way.

Wording: a few calls document a wording older than this vocabulary (tests match it).
The numeric checks take ``expected`` to replace the "what to pass" phrase and
``context`` to add where the value sits (``"for tag 'db'"``); the logic stays shared.

The two refusal builders and the predicates every check shares (:func:`is_integer`,
:func:`is_number`, :func:`is_finite`) live in ``_check_basics``; this module re-exports
them. Checks of values that are not scalars (datetimes, mappings, collections of ids, call
arguments, instances of a class) live beside this module, in ``_checks_objects``.

Checks that belong to one feature (a job template, a filter field, a command line) stay
with that feature; when they refuse a value, :func:`wrong_type` and :func:`wrong_value`
build the error in the same shape.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Final

from ._check_basics import is_finite, is_integer, is_number, wrong_type, wrong_value
from ._errors import ArgumentTypeError, ArgumentValueError

__all__ = [
    "NO_TAGS",
    "UNSET",
    "Unset",
    "check_bool",
    "check_optional_bool",
    "check_count",
    "check_id",
    "check_name",
    "check_names",
    "check_number",
    "check_optional_count",
    "check_optional_int",
    "check_optional_seconds",
    "check_optional_text",
    "check_page",
    "check_port",
    "check_positive_int",
    "check_seconds",
    "check_tags",
    "check_text",
    "is_finite",
    "is_integer",
    "is_number",
    "wrong_type",
    "wrong_value",
]


class Unset(Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this as it is": the default of optional parameters for which None is a real
#: value (``update_*(limit=None)`` removes a limit; leaving ``limit`` out keeps it).
UNSET: Final = Unset.UNSET

#: The tags of everything created without tags (one shared empty set).
NO_TAGS: Final[frozenset[str]] = frozenset()


# -- flags --------------------------------------------------------------------------------------
def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; ``1``, ``"yes"`` and None are refused.

    Example:
        >>> check_bool(False, "paused")
        False
    """
    if isinstance(value, bool):
        return value
    raise wrong_type(name, value, "True or False")


def check_optional_bool(value: object, name: str) -> bool | None:
    """Return ``value`` if it is None, ``True`` or ``False``; anything else is refused."""
    if value is None or isinstance(value, bool):
        return value
    raise wrong_type(name, value, "True, False or None")


# -- whole numbers ------------------------------------------------------------------------------
# The checks below sit on query and submission paths: each accepts in one test and only
# words a refusal (an f-string) once it has one to make.
def _refuse_count(
    value: object, name: str, minimum: int, optional: bool, expected: str | None, context: str
) -> ArgumentTypeError | ArgumentValueError:
    wording = expected or f"{'None or ' if optional else ''}an integer >= {minimum}"
    if is_integer(value):
        return wrong_value(name, value, wording, context=context)
    return wrong_type(name, value, wording, context=context)


def check_count(
    value: object, name: str, *, minimum: int = 0, expected: str | None = None, context: str = ""
) -> int:
    """Return ``value`` if it is an integer >= ``minimum`` (booleans refused).

    Example:
        >>> check_count(3, "retries"), check_count(1, "page", minimum=1)
        (3, 1)
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise _refuse_count(value, name, minimum, False, expected, context)


def check_positive_int(
    value: object, name: str, *, expected: str | None = None, context: str = ""
) -> int:
    """Return ``value`` if it is an integer >= 1 (booleans refused)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _refuse_count(value, name, 1, False, expected, context)


def check_optional_count(
    value: object, name: str, *, minimum: int = 0, expected: str | None = None, context: str = ""
) -> int | None:
    """Return None, or ``value`` if it is an integer >= ``minimum`` (booleans refused).

    For limits, where None means "no limit", and counts that may be left out.
    """
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    ):
        return value
    raise _refuse_count(value, name, minimum, True, expected, context)


def check_optional_int(value: object, name: str) -> int | None:
    """Return None, or ``value`` if it is an integer of any sign (booleans refused): a seed.

    Example:
        >>> check_optional_int(-7, "seed"), check_optional_int(None, "seed")
        (-7, None)
    """
    if value is None or is_integer(value):
        return value
    raise wrong_type(name, value, "None or an integer")


def check_port(value: object, name: str) -> int:
    """Return ``value`` if it is a TCP port number, 0 to 65535 (0 asks for a free port)."""
    if is_integer(value):
        if 0 <= value <= 65535:
            return value
        raise wrong_value(name, value, "a port number 0..65535")
    raise wrong_type(name, value, "a port number 0..65535")


def check_page(limit: object, offset: object) -> tuple[int | None, int]:
    """Return ``(limit, offset)`` of a query: None or an integer >= 0, and an integer >= 0."""
    if (
        (limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0))
        and isinstance(offset, int)
        and not isinstance(offset, bool)
        and offset >= 0
    ):
        return limit, offset  # every query passes here: one test, no calls
    return check_optional_count(limit, "limit"), check_count(offset, "offset")


# -- seconds ------------------------------------------------------------------------------------
def _refuse_seconds(
    value: object, name: str, positive: bool, optional: bool, expected: str | None, context: str
) -> ArgumentTypeError | ArgumentValueError:
    bound = "> 0" if positive else ">= 0"
    wording = expected or f"{'None or ' if optional else ''}a number of seconds {bound}"
    if is_number(value):
        return wrong_value(name, value, wording, context=context)
    return wrong_type(name, value, wording, context=context)


def check_seconds(
    value: object,
    name: str,
    *,
    positive: bool = False,
    finite: bool = True,
    expected: str | None = None,
    context: str = "",
) -> float:
    """Return ``value`` as a float if it is a number of seconds >= 0 (> 0 if ``positive``).

    NaN and booleans are always refused; infinity is refused unless ``finite=False``
    (for waits where "forever" is meaningful). An integer too large for a float is
    refused too (it has no float form).

    Example:
        >>> check_seconds(5, "timeout"), check_seconds(0.5, "wait_seconds", positive=True)
        (5.0, 0.5)
    """
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (value > 0 if positive else value >= 0)  # NaN fails both comparisons
        and (is_finite(value) or (not finite and value == math.inf))
    ):
        return float(value)
    raise _refuse_seconds(value, name, positive, False, expected, context)


def check_optional_seconds(
    value: object,
    name: str,
    *,
    positive: bool = False,
    finite: bool = True,
    expected: str | None = None,
    context: str = "",
) -> float | None:
    """Return None, or ``value`` as a float as :func:`check_seconds` would."""
    if value is None:
        return None
    if (
        is_number(value)
        and (value > 0 if positive else value >= 0)
        and (is_finite(value) or (not finite and value == math.inf))
    ):
        return float(value)
    raise _refuse_seconds(value, name, positive, True, expected, context)


# -- other numbers -----------------------------------------------------------------------------
def check_number(value: object, name: str, *, expected: str | None = None) -> float:
    """Return ``value`` as a float if it is a finite number >= 0 (a factor, a ratio).

    NaN, infinity and booleans are refused: ``retry_jitter_factor=nan`` would only fail
    later, when a delay is drawn from it.

    Example:
        >>> check_number(0.5, "retry_jitter_factor")
        0.5
    """
    if is_number(value) and value >= 0 and is_finite(value):
        return float(value)
    wording = expected or "a finite number >= 0"
    if is_number(value):
        raise wrong_value(name, value, wording)
    raise wrong_type(name, value, wording)


# -- text, names and tags -----------------------------------------------------------------------
def check_text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty string (a key, a display name, a tag)."""
    if isinstance(value, str):
        if value:
            return value
        raise wrong_value(name, value, "a non-empty string")
    raise wrong_type(name, value, "a non-empty string")


def check_optional_text(value: object, name: str, *, empty: bool = False) -> str | None:
    """Return None, or ``value`` if it is a string, non-empty unless ``empty`` is True.

    For optional names and keys (``name=None`` picks a default; ``name=""`` is refused).

    Example:
        >>> check_optional_text(None, "name"), check_optional_text("", "task_version", empty=True)
        (None, '')
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value or empty:
            return value
        raise wrong_value(name, value, "None or a non-empty string")
    raise wrong_type(name, value, "None or a string" if empty else "None or a non-empty string")


def check_name(value: object, name: str) -> str:
    """Return ``value`` if it can name a work pool, a work queue or a worker.

    That is a non-empty string without ``/`` or ``%`` (names appear in paths and URLs).
    """
    text = check_text(value, name)
    if "/" in text or "%" in text:
        raise wrong_value(name, text, "a string without '/' or '%'")
    return text


def check_names(values: object, name: str, *, item: str) -> tuple[str, ...] | None:
    """Return names as a tuple (None stays None), each checked by :func:`check_name`.

    ``item`` names one element in messages (``"a work queue name"``). A bare string is
    refused: ``"default"`` would otherwise read as seven one-letter names.
    """
    if values is None:
        return None
    if isinstance(values, str | Mapping) or not isinstance(values, Iterable):
        raise wrong_type(name, values, "a list of names", bare_string=isinstance(values, str))
    result = tuple(values)
    for value in result:
        check_name(value, item)
    return result


def check_tags(tags: object, name: str = "tags") -> frozenset[str]:
    """Return tags as a frozenset (None: no tags); each tag is a non-empty string.

    A bare string and a mapping are refused: ``"db"`` would read as two one-letter tags,
    and a mapping as its keys only.

    Example:
        >>> sorted(check_tags(["db", "io", "db"])), check_tags(None)
        (['db', 'io'], frozenset())
    """
    if tags is None:
        return NO_TAGS
    if isinstance(tags, str | Mapping) or not isinstance(tags, Iterable):
        expected = "a collection of strings, such as ['db']"
        raise wrong_type(name, tags, expected, bare_string=isinstance(tags, str))
    result = frozenset(tags)
    if not result:
        return NO_TAGS
    for tag in result:
        check_text(tag, "every tag")
    return result


# -- ids ----------------------------------------------------------------------------------------
def check_id(value: object, name: str, *, text: bool = False) -> uuid.UUID:
    """Return ``value`` if it is a UUID; with ``text=True`` its string form is parsed too."""
    if isinstance(value, uuid.UUID):
        return value
    if text and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise wrong_value(name, value, "a UUID (or its string form)") from None
    raise wrong_type(name, value, "a UUID (or its string form)" if text else "a UUID")
