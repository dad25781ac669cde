"""The manifest of a backup: the first entry of the archive, listing what it holds and how to
check it (row counts and checksums of the tables, SHA-256 of every file)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from carewarden.errors import BackupError
from carewarden.store.snapshot import Column, TableInfo

MANIFEST_NAME = "manifest.json"
TABLES_DIR = "tables"
FILES_DIR = "files"
MAX_MANIFEST_BYTES = 64 << 20
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def safe_relative(path: str) -> str:
    """``path`` if it is a plain relative POSIX path inside its folder, else ValueError."""
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\0" in path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise ValueError(f"unsafe path {path!r}")
    return path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestColumn(_Model):
    name: str
    type: str


class ManifestTable(_Model):
    name: str
    rows: int
    checksum: str  # 32 hex digits (see carewarden.store.snapshot)
    file: str  # the entry holding its rows: tables/<name>.parquet
    create_sql: str
    columns: list[ManifestColumn]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _TABLE_NAME.match(value):
            raise ValueError(f"not a table name: {value!r}")
        return value

    def info(self) -> TableInfo:
        return TableInfo(
            self.name, self.create_sql, tuple(Column(c.name, c.type) for c in self.columns)
        )


class ManifestFile(_Model):
    path: str  # entry name in the archive: tables/… or files/<path in the store folder>
    kind: Literal["table", "store-file"]
    bytes: int
    sha256: str
    mode: int = 0o600  # permission bits a store file is restored with

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return safe_relative(value)


class Manifest(_Model):
    format: Literal["carewarden-backup"] = "carewarden-backup"
    format_version: Literal[1] = 1
    carewarden_version: str
    duckdb_version: str  # the DuckDB whose hash() made the checksums
    schema_version: int
    created_at: dt.datetime
    source: str  # the store folder it was made from
    checksum: str = "count(*) and sum(hash(columns cast to their types)) in DuckDB, 128-bit hex"
    tables: list[ManifestTable]
    views: dict[str, str] = {}
    files: list[ManifestFile]

    def file(self, path: str) -> ManifestFile | None:
        return next((f for f in self.files if f.path == path), None)

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise BackupError(
                f"the archive's manifest is not valid: {where}: {first['msg']}"
            ) from None
