"""Small, frozen records passed between connectors, the store and the services."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Batch:
    """Rows for one store table, produced by a connector from one part of one source file."""

    table: str
    rows: pa.Table


@dataclass(frozen=True)
class Rejected:
    """One bad record: where it was in its file, why it was refused, and its first bytes."""

    line: int | None
    byte_offset: int | None
    error: str
    raw: str | None = None


RAW_PREVIEW_BYTES = 512


def preview(raw: bytes | str | None) -> str | None:
    """The first bytes of a bad record, decoded leniently, for the quarantine table."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw[:RAW_PREVIEW_BYTES].decode("utf-8", errors="backslashreplace")
    return raw[:RAW_PREVIEW_BYTES]
