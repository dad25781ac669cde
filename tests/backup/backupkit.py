"""Helpers for the backup tests: compare stores, forge archives that authenticate."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carewarden.backup.crypto import DecryptingReader, EncryptingWriter, Secret
from carewarden.store import Store
from carewarden.store.snapshot import catalog

PASSPHRASE = "correct horse battery staple"


def table_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store at ``path``, in a stable order."""
    with Store.open(path, read_only=True, allow_older=True) as store:
        return {
            table.name: store.query(f'SELECT * FROM "{table.name}" ORDER BY ALL')
            for table in catalog(store)
        }


def store_files(path: Path) -> dict[str, bytes]:
    """The store folder's files other than the database, by relative path."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.name.startswith("carewarden.duckdb")
    }


Edit = Callable[[dict[str, bytes]], None]


def rewrite_archive(archive: Path, secret: Secret, edit: Edit, out: Path) -> None:
    """Decrypt ``archive``, let ``edit`` change its entries (name -> content, in order), and
    encrypt the result with the same key into ``out``: a forged archive that authenticates,
    to test the checks behind the encryption."""
    entries: dict[str, bytes] = {}
    with (
        archive.open("rb") as raw,
        tarfile.open(fileobj=io.BufferedReader(DecryptingReader(raw, secret)), mode="r|") as tar,
    ):
        while (member := tar.next()) is not None:
            source = tar.extractfile(member)
            assert source is not None
            entries[member.name] = source.read()
    edit(entries)
    with out.open("wb") as raw:
        writer = EncryptingWriter(raw, secret)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, body in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
        writer.finish()
