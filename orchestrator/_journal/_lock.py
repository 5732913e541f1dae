"""The ownership lock of a journal: ``fcntl.flock`` on ``<path>.lock``.

The lock file holds the owner's pid as text, for the error a second opener gets. The
operating system frees a flock when the last descriptor of its open file goes, so an
owner that exits or is SIGKILLed frees it; the file itself may stay, harmlessly. The
descriptor is close-on-exec, so programs the owner starts never hold it.
"""

from __future__ import annotations

import fcntl
import os

from ._errors import JournalError, JournalLocked

__all__ = ["free_lock", "take_lock"]


def take_lock(path: str) -> int:
    """Lock the journal at ``path`` for this process; return the lock's descriptor.

    Raises:
        JournalLocked: another process, or another descriptor in this one, holds it;
            the error names the pid written in the lock file.
        JournalError: the lock file cannot be opened or locked.
    """
    lock_path = f"{path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise JournalError(f"cannot open the lock file {lock_path!r}: {error}") from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        raise JournalLocked(path, int(text) if text.isdigit() else None) from None
    except OSError as error:
        os.close(fd)
        raise JournalError(f"cannot lock {lock_path!r}: {error}") from error
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def free_lock(fd: int) -> None:
    """Free the lock taken by :func:`take_lock` (closing its only descriptor)."""
    os.close(fd)
