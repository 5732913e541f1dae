"""The journal's options and releases: checks that refuse a bad option by its name."""

from __future__ import annotations

import os
from importlib import metadata
from typing import Final, Literal

from .._core._checks import (
    check_bool,
    check_optional_count,
    check_positive_int,
    check_seconds,
    wrong_type,
    wrong_value,
)
from ._serializers import Serializer

__all__ = ["SYNCHRONOUS", "Durability", "checked_options", "current_release", "release_key"]

Durability = Literal["normal", "full", "batch"]
SYNCHRONOUS: Final[dict[str, str]] = {"normal": "NORMAL", "full": "FULL", "batch": "NORMAL"}


def current_release() -> str:
    """The package's release, as its distribution metadata says (``"0"`` if not installed)."""
    try:
        return metadata.version("inproc-orchestrator")
    except metadata.PackageNotFoundError:
        return "0"


def release_key(release: str) -> tuple[int, ...]:
    """``"1.10.2"`` -> ``(1, 10, 2)``; the leading digits of each part only."""
    key = []
    for part in release.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        key.append(int(digits) if digits else 0)
    return tuple(key)


def checked_options(
    path: object,
    durability: object,
    serializer: object,
    batch_window: object,
    batch_size: object,
    keep_decisions: object,
    compact_threshold: object,
) -> str:
    """Check :class:`SQLiteJournal`'s options; return the path as a str.

    Raises:
        ArgumentTypeError, ArgumentValueError: an option, named, that is refused.
    """
    if not isinstance(path, str | os.PathLike):
        raise wrong_type("path", path, "a file name (str or os.PathLike)")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise wrong_value("path", path, "a non-empty file name")
    if durability.__class__ is not str:
        raise wrong_type("durability", durability, "'normal', 'full' or 'batch'")
    if durability not in SYNCHRONOUS:
        raise wrong_value("durability", durability, "'normal', 'full' or 'batch'")
    if serializer is not None and not isinstance(serializer, Serializer):
        expected = "None or an object with dumps(value) -> bytes and loads(data)"
        raise wrong_type("serializer", serializer, expected)
    check_seconds(batch_window, "batch_window", positive=True)
    check_positive_int(batch_size, "batch_size")
    check_bool(keep_decisions, "keep_decisions")
    check_optional_count(compact_threshold, "compact_threshold", minimum=1)
    return text
