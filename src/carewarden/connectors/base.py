"""What every connector is: a named reader that turns one source file into store rows."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol, cast

from carewarden.model import Batch, Rejected

# A record larger than this is refused (quarantined), never loaded whole into memory.
MAX_RECORD_BYTES = 1 << 20


class Connector(Protocol):
    """A source format. ``read`` yields rows for store tables and the records it refused.

    A connector never raises for one bad record: it yields :class:`Rejected` and goes on.
    It raises :class:`carewarden.errors.SourceError` only when the whole file is unusable.
    A connector whose parse costs less than the store's write sets the class attribute
    ``bulk_insert = True``: :func:`carewarden.services.ingest.ingest` then inserts its rows
    in large batches on every core instead of overlapping the writes with the parse.
    """

    name: ClassVar[str]

    def discover(self, path: Path) -> list[Path]:
        """The files this connector reads at ``path`` (a file or a folder), in a stable order."""
        ...

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        """Parse one file."""
        ...


class RetryFile(Exception):
    """Raised by a connector that has changed its strategy for a file (e.g. a lenient parse
    after a strict one failed part-way): the ingest rolls back what the file wrote so far and
    reads it again, once."""


def open_binary(path: Path) -> BinaryIO:
    """Open a source file for reading bytes, decompressing ``.gz`` transparently."""
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def walk(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``path`` (or ``path`` itself) whose name ends with one of ``suffixes``."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(path)
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
