"""Cutting a process's output into lines, in bounded memory and linear time.

:class:`LineSplitter` is fed the chunks a pipe delivers and gives back the complete lines
among them. A line longer than the cap is given back in pieces of at most the cap, cut
at a UTF-8 character boundary, each but the last ending with :data:`LINE_SPLIT_MARKER`,
so a process that writes a gigabyte without a newline costs the reader a cap's worth of
memory, not a gigabyte.
"""

from __future__ import annotations

from typing import Final, final

__all__ = ["DEFAULT_MAX_LINE_BYTES", "LINE_SPLIT_MARKER", "MIN_LINE_BYTES", "LineSplitter"]

#: The longest output line, in bytes, handed on in one piece by default.
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024
#: The smallest cap: any UTF-8 character fits in it.
MIN_LINE_BYTES: Final = 4
#: What ends each piece of an output line that was split for being too long.
LINE_SPLIT_MARKER: Final = " [line split: continued on the next line]"


def _decode_line(raw: bytes | bytearray) -> str:
    """A line cut at its newline, without the carriage return of a CRLF ending."""
    return (raw[:-1] if raw.endswith(b"\r") else raw).decode(errors="replace")


def _boundary(buffer: bytes | bytearray, cap: int) -> int:
    """Where to cut a piece of at most ``cap`` bytes off the front of ``buffer`` without
    splitting a UTF-8 character (the byte at the cut must not be a continuation byte)."""
    cut = cap
    while cut > cap - 3 and cut > 1 and buffer[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


@final
class LineSplitter:
    """Turn chunks of bytes into lines of text, no line longer than ``max_line_bytes``.

    Args:
        max_line_bytes: the most bytes of one line handed on in one piece (at least 4,
            so that any UTF-8 character fits).
    """

    __slots__ = ("_buffer", "_cap", "_scanned")

    def __init__(self, max_line_bytes: int) -> None:
        self._cap = max_line_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline

    def feed(self, chunk: bytes) -> list[str]:
        """Add ``chunk``; return the lines it completes and the over-long pieces."""
        buffer, cap = self._buffer, self._cap
        buffer += chunk
        out: list[str] = []
        last = buffer.rfind(b"\n", self._scanned)
        if last >= 0:
            complete = bytes(buffer[: last + 1])  # the newline included, for CRLF
            del buffer[: last + 1]
            lines = complete[:-1].split(b"\n")
            if last <= cap or max(map(len, lines)) <= cap:
                # The common case, done by the C string methods: no line is too long.
                text = complete.decode(errors="replace").replace("\r\n", "\n")
                out += text.split("\n")[:-1]
            else:
                for line in lines:
                    out.append(_decode_line(line[self._cut(line, out) :]))
        del buffer[: self._cut(buffer, out)]
        self._scanned = len(buffer)
        return out

    def _cut(self, data: bytes | bytearray, out: list[str]) -> int:
        """Append to ``out`` the marked pieces cut off the front of ``data`` while it is
        longer than the cap; return where the rest (at most the cap) starts."""
        start = 0
        while len(data) - start > self._cap:
            cut = start + _boundary(data[start:], self._cap)
            out.append(data[start:cut].decode(errors="replace") + LINE_SPLIT_MARKER)
            start = cut
        return start

    def flush(self) -> list[str]:
        """Return what is left after the last newline (the output ended without one)."""
        rest = [self._buffer.decode(errors="replace")] if self._buffer else []
        self._buffer.clear()
        self._scanned = 0
        return rest
