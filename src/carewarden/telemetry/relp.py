"""RELP (rsyslog's Reliable Event Logging Protocol) framing, without I/O.

A frame is ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``: a transaction number (1 to
999,999,999, one more for each frame a client sends), a command of letters (``open``,
``syslog``, ``close``; a server answers each with ``rsp``), the byte length of ``DATA``
(0 and no data for ``close``) and a line feed after the data. ``DATA`` may hold any byte,
line feeds included: only the length delimits it. The answer to a frame carries its
transaction number, ``TXNR rsp LEN 200 OK`` (``500 reason`` for an error); the answer to
``open`` adds the server's offers (``relp_version=0``, ``commands=syslog``) on the lines
after ``200 OK``.

:class:`Decoder` is fed bytes as they arrive and returns the complete frames; a frame that
cannot be RELP raises :class:`RelpError` (the connection is then closed: the client opens
another and sends again what was not answered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER_BYTES = 9 + 1 + 32 + 1 + 9 + 1  # the longest possible header, separator included
SOFTWARE = "carewarden"

_HEADER = re.compile(rb"([0-9]{1,9}) ([A-Za-z]{1,32}) ([0-9]{1,9})([ \n])")
# What a header cut short may look like (a frame still arriving).
_PARTIAL = re.compile(rb"[0-9]{0,9}(?: (?:[A-Za-z]{0,32}(?: [0-9]{0,9})?)?)?")


class RelpError(ValueError):
    """Bytes that are not a RELP frame."""


@dataclass(frozen=True)
class Frame:
    txnr: int
    command: str
    data: bytes = b""

    def encode(self) -> bytes:
        if not self.data:
            return b"%d %s 0\n" % (self.txnr, self.command.encode())
        return b"%d %s %d %s\n" % (self.txnr, self.command.encode(), len(self.data), self.data)


class Decoder:
    """Frames from a byte stream fed in pieces of any size."""

    def __init__(self, max_data: int) -> None:
        self.max_data = max_data
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while (frame := self._next()) is not None:
            frames.append(frame)
        return frames

    def _next(self) -> Frame | None:
        buffer = self._buffer
        match = _HEADER.match(buffer)
        if match is None:
            head = bytes(buffer[:HEADER_BYTES])
            if len(buffer) >= HEADER_BYTES or not _PARTIAL.fullmatch(head):
                raise RelpError(f"not a RELP frame header: {head[:40]!r}")
            return None
        txnr, command, size = int(match[1]), match[2].decode("ascii"), int(match[3])
        if size > self.max_data:
            raise RelpError(f"frame {txnr} announces {size:,} bytes (over {self.max_data:,})")
        if match[4] == b"\n":  # no data: the header's line feed ends the frame
            if size:
                raise RelpError(f"frame {txnr} announces {size} bytes but has none")
            del buffer[: match.end()]
            return Frame(txnr, command)
        start = match.end()
        if len(buffer) < start + size + 1:
            return None
        if buffer[start + size] != ord("\n"):
            raise RelpError(f"frame {txnr} does not end with a line feed after {size} bytes")
        data = bytes(buffer[start : start + size])
        del buffer[: start + size + 1]
        return Frame(txnr, command, data)


def response(txnr: int, code: int = 200, text: str = "OK", extra: bytes = b"") -> bytes:
    """The ``rsp`` frame answering transaction ``txnr``."""
    body = f"{code} {text}".encode() + (b"\n" + extra if extra else b"")
    return Frame(txnr, "rsp", body).encode()


def offers(data: bytes) -> dict[str, str]:
    """The ``name=value`` lines of an ``open`` command (or of its answer)."""
    found: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        name, _, value = line.partition("=")
        if name.strip():
            found[name.strip()] = value.strip()
    return found


def open_answer(txnr: int, asked: dict[str, str]) -> bytes:
    """The answer to ``open``: accepted when the client offers the ``syslog`` command."""
    commands = {c.strip() for c in asked.get("commands", "syslog").split(",")}
    if "syslog" not in commands:
        return response(txnr, 500, "this server supports only the syslog command")
    extra = f"relp_version=0\nrelp_software={SOFTWARE}\ncommands=syslog".encode()
    return response(txnr, extra=extra)
