"""Ingest source files into the store: idempotent per file, atomic per file.

A file is identified by its connector and the BLAKE3 hash of its content: the same content
ingested again adds nothing. Each file lands in one transaction together with its
quarantined records and its ``source_file`` row, so a crash (even ``kill -9``) leaves either
the whole file or none of it, and a rerun finishes the job.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from blake3 import blake3

from carewarden.connectors.base import Connector, RetryFile
from carewarden.errors import CarewardenError
from carewarden.model import Batch, Rejected
from carewarden.pipeline import ReadAhead, read_ahead
from carewarden.store import SourceFile, Store
from carewarden.store.store import APPEND_TABLES, ROW_GROUP_ROWS, utcnow

QUARANTINE_FLUSH = 10_000
COALESCE_ROWS = 1_000_000
# Rows per write of a keyed table while the parse goes on (one row group of the store:
# 30,720 or 122,880 measured no faster). Append-only tables are streamed instead.
OVERLAP_ROWS = ROW_GROUP_ROWS
# How many rows the parse may run ahead of the writes: about two row groups, so that it
# goes on while DuckDB compresses a full one (one row group measured slower, four no faster).
OVERLAP_AHEAD = 2 * ROW_GROUP_ROWS

# progress(file, files_done, files_total, records_in_this_file)
Progress = Callable[[Path, int, int, int], None]


@dataclass
class FileOutcome:
    path: Path
    status: str  # ingested | already ingested | failed
    records: int = 0
    duplicates: int = 0
    quarantined: int = 0
    tables: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    first_rejects: list[Rejected] = field(default_factory=list)


@dataclass
class IngestSummary:
    kind: str
    files: list[FileOutcome] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # kept, but worth telling

    def total(self, attribute: str) -> int:
        return sum(int(getattr(f, attribute)) for f in self.files)

    @property
    def tables(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for f in self.files:
            out.update(f.tables)
        return out

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]


def coalesce(
    items: Iterator[Batch | Rejected],
    rows: int = COALESCE_ROWS,
    passed: Collection[str] = (),
) -> Iterator[Batch | Rejected]:
    """Merge consecutive batches of one table up to ``rows`` rows: DuckDB writes a large
    batch several times faster per row than many small ones (bench/ingest.py). Batches of
    the tables in ``passed`` go through as they come."""
    pending: list[pa.Table] = []
    table: str | None = None
    size = 0
    for item in items:
        if isinstance(item, Batch):
            if table is not None and (item.table != table or size >= rows):
                yield Batch(table, pa.concat_tables(pending))
                table, pending, size = None, [], 0
            if item.table in passed:
                yield item
                continue
            table = item.table
            pending.append(item.rows)
            size += item.rows.num_rows
        else:
            yield item
    if table is not None and pending:
        yield Batch(table, pa.concat_tables(pending))


def _weight(item: Batch | Rejected) -> int:
    return item.rows.num_rows if isinstance(item, Batch) else 1


class _Lookahead:
    """A file's items, one of which can be put back: a streamed run of batches ends at the
    first item it does not take, and the next reader starts with it."""

    def __init__(self, items: Iterator[Batch | Rejected]) -> None:
        self._items = items
        self._back: Batch | Rejected | None = None

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> Batch | Rejected:
        if self._back is not None:
            item, self._back = self._back, None
            return item
        return next(self._items)

    def put_back(self, item: Batch | Rejected) -> None:
        self._back = item


HEAD_BYTES = 1 << 20
HASH_READ_BYTES = 1 << 20


def head_hash(path: Path) -> str:
    with path.open("rb") as handle:
        return blake3(handle.read(HEAD_BYTES)).hexdigest()


class ContentHash:
    """The BLAKE3 hash of a file's content, computed in a background thread.

    BLAKE3 rather than SHA-256: a cryptographic hash is needed (a crafted collision would
    let an attacker get a file skipped as "already ingested"), and BLAKE3 hashes a 4.4 GB
    export in 1.7 s here against 5.0 s for hashlib's SHA-256, which was a fifth of the
    whole FHIR ingest (bench/ingest.py)."""

    def __init__(self, path: Path) -> None:
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        digest = blake3()
        # Read into one small buffer, reused: 20% less CPU than a fresh 8 MiB bytes object a
        # read (the copy lands in pages already mapped, and in the core's cache).
        buffer = bytearray(HASH_READ_BYTES)
        view = memoryview(buffer)
        try:
            with path.open("rb", buffering=0) as handle:
                while read := handle.readinto(buffer):
                    digest.update(view[:read])
        except OSError as exc:
            self._error = exc
            return
        self._digest = digest.hexdigest()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


def discover(connector: Connector, paths: Sequence[Path]) -> list[Path]:
    """Every file the connector reads under ``paths``, each once, in a stable order."""
    seen: dict[Path, None] = {}
    for path in paths:
        for found in connector.discover(path):
            seen.setdefault(found.resolve(), None)
    return list(seen)


def ingest(
    store: Store,
    connector: Connector,
    paths: Sequence[Path],
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest every file the connector finds under ``paths``; one bad file never stops the rest."""
    files = discover(connector, paths)
    summary = IngestSummary(kind=connector.name)
    parses = _Parses(store, connector, files)
    try:
        for index, path in enumerate(files):
            outcome = _ingest_file(store, connector, path, index, parses, progress)
            summary.files.append(outcome)
            if progress:
                progress(path, index + 1, len(files), outcome.records)
    finally:
        parses.close()
    ignored = getattr(connector, "ignored", None)
    if isinstance(ignored, Counter):
        summary.ignored.update(ignored)
    notes = getattr(connector, "notes", None)
    if isinstance(notes, Counter):
        summary.notes.update(notes)
    return summary


@dataclass(frozen=True)
class _Parse:
    path: Path
    items: ReadAhead[Batch | Rejected]
    parsed: threading.Event  # set when the connector has read the whole file

    def close(self) -> None:
        self.items.close()


def _parse(
    connector: Connector, path: Path, then: Callable[[], None] | None = None
) -> _Parse:
    """The file's items, parsed on threads of their own up to about two row groups ahead of
    the writes: batches of append-only tables as they come (they are streamed), the others
    merged up to a row group. ``then`` is called on the parse's thread once the connector
    has read the whole file."""
    parsed = threading.Event()

    def read() -> Iterator[Batch | Rejected]:
        yield from connector.read(path)
        parsed.set()
        if then is not None:
            then()

    merged = coalesce(read(), OVERLAP_ROWS, passed=APPEND_TABLES)
    return _Parse(path, read_ahead(merged, OVERLAP_AHEAD, weigh=_weight), parsed)


class _Parses:
    """The next file's parse, started as soon as this one's has ended: the store then still
    writes this file's last row groups, checks them for repeats and commits them, mostly on
    one core (about 0.4 s a file of full-size Suricata EVE). Not for ``bulk_insert``
    connectors, whose inserts use every core, nor for a file whose size and first MiB are
    those of a file already ingested (it is hashed whole before any parse). A file found
    already ingested at its turn all the same (the same content as the file before it) drops
    its parse.

    The next file is checked before this one's write begins (the store is busy with the
    write after that), and its parse is started from this file's parse thread, the moment
    the connector has read the whole file."""

    def __init__(self, store: Store, connector: Connector, files: Sequence[Path]) -> None:
        self.store, self.connector, self.files = store, connector, files
        self.enabled = not getattr(connector, "bulk_insert", False)
        self._lock = threading.Lock()  # the parse threads start the next parse
        self._ahead: _Parse | None = None  # the next file's parse, started
        self._ready: Path | None = None  # the next file, to start when this one's parse ends
        self._closed = False

    def parse(self, path: Path) -> _Parse:
        """This file's parse, which starts the next file's when it ends (once
        :meth:`prepare_after` has checked that one)."""
        return _parse(self.connector, path, then=self._start_ready)

    def prepare_after(self, current: _Parse, index: int) -> None:
        """Check the file after ``index`` (the store is free: this file's write has not
        begun), so that its parse starts when ``current`` has been read."""
        following = self._following(index)
        with self._lock:
            if following is None or self._ahead is not None or self._closed:
                return
            self._ready = following
        if current.parsed.is_set():  # read already: its thread will not start it
            self._start_ready()

    def _following(self, index: int) -> Path | None:
        if not self.enabled or index + 1 >= len(self.files):
            return None
        following = self.files[index + 1]
        try:
            size, head = following.stat().st_size, head_hash(following)
        except OSError:
            return None  # reported at its turn
        if self.store.may_have_content(self.connector.name, size, head):
            return None
        return following

    def _start_ready(self) -> None:
        with self._lock:
            if self._ready is None or self._ahead is not None or self._closed:
                return
            following, self._ready = self._ready, None
            try:
                self._ahead = self.parse(following)
            except RuntimeError:  # no thread to spare: the file is parsed at its turn
                return

    def take(self, path: Path) -> _Parse | None:
        with self._lock:
            self._ready = None
            if self._ahead is None or self._ahead.path != path:
                return None
            found, self._ahead = self._ahead, None
            return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ahead, self._ahead, self._ready = self._ahead, None, None
        if ahead is not None:  # outside the lock: its thread may be waiting for it
            ahead.close()


def _ingest_file(
    store: Store,
    connector: Connector,
    path: Path,
    index: int,
    parses: _Parses,
    progress: Progress | None,
) -> FileOutcome:
    started = parses.take(path)
    try:
        try:
            size = path.stat().st_size
            head = head_hash(path)
        except OSError as exc:
            error = f"{path}: cannot read: {exc.strerror or exc}"
            return FileOutcome(path, "failed", error=error)
        if store.may_have_content(connector.name, size, head):
            # Same size and first MiB as a file already ingested: hash it all first.
            digest = ContentHash(path)
            if store.has_content(connector.name, digest.result()):
                return FileOutcome(path, "already ingested")
        else:
            # New content for certain: hash it while it is parsed.
            digest = ContentHash(path)
        file = _File(path, f"{connector.name}:{uuid.uuid4().hex}", digest, head, size, index)
        items, started = started, None  # handed over: _write_file closes it
        try:
            return _write_file(store, connector, file, items, parses, progress)
        except RetryFile:
            # The connector asked for a second pass (rolled back already): read it again.
            return _write_file(store, connector, file, None, parses, progress)
    finally:
        if started is not None:
            started.close()


@dataclass(frozen=True)
class _File:
    path: Path
    file_id: str
    digest: ContentHash
    head: str
    size: int
    index: int


def _write_file(
    store: Store,
    connector: Connector,
    file: _File,
    started: _Parse | None,
    parses: _Parses,
    progress: Progress | None,
) -> FileOutcome:
    path, file_id = file.path, file.file_id
    writer = _FileWriter(
        store, connector.name, path, file_id, progress, (file.index, len(parses.files))
    )
    outcome = writer.outcome
    # Most connectors parse slower than DuckDB writes: the writes overlap the parse, row
    # group by row group on one DuckDB thread, each append-only table's rows streamed into
    # one INSERT. One whose parse is cheaper than the write (``bulk_insert``) has its rows
    # inserted in large batches on every core instead.
    bulk = bool(getattr(connector, "bulk_insert", False))
    try:
        with nullcontext() if bulk else store.one_writer_thread(), store.transaction():
            # The file is parsed on threads of its own, ahead of the writes.
            items: ReadAhead[Batch | Rejected]
            if bulk:
                items = read_ahead(coalesce(connector.read(path), COALESCE_ROWS))
            else:
                current = started if started is not None else parses.parse(path)
                items = current.items
                parses.prepare_after(current, file.index)
            started = None
            with closing(items):
                writer.write_all(items, stream=not bulk)
            for table, repeats in store.finish_file(file_id).items():
                outcome.tables[table] -= repeats
                outcome.records -= repeats
                outcome.duplicates += repeats
            store.record_file(
                SourceFile(
                    file_id=file_id,
                    kind=connector.name,
                    path=str(path),
                    content_hash=file.digest.result(),
                    head_hash=file.head,
                    bytes=file.size,
                    records=outcome.records,
                    duplicates=outcome.duplicates,
                    quarantined=outcome.quarantined,
                    ingested_at=utcnow(),
                )
            )
    except RetryFile:
        raise
    except CarewardenError as exc:
        return FileOutcome(path, "failed", error=str(exc))
    except Exception as exc:
        # Rolled back already; report it with its path and keep going with the other files.
        return FileOutcome(path, "failed", error=f"{path}: {type(exc).__name__}: {exc}")
    finally:
        if started is not None:
            started.close()
    return outcome


class _FileWriter:
    """Writes one file's items into the store, inside the file's transaction."""

    def __init__(
        self,
        store: Store,
        kind: str,
        path: Path,
        file_id: str,
        progress: Progress | None,
        position: tuple[int, int],
    ) -> None:
        self.store, self.kind, self.path, self.file_id = store, kind, path, file_id
        self.progress, self.position = progress, position
        self.outcome = FileOutcome(path, "ingested")
        self.pending: list[Rejected] = []

    def write_all(self, items: Iterator[Batch | Rejected], stream: bool) -> None:
        """Every item; with ``stream``, each run of batches of an append-only table (of one
        schema) as one streamed INSERT, the others batch by batch."""
        source = _Lookahead(items)
        for item in source:
            if isinstance(item, Rejected):
                self.reject(item)
            elif stream and item.table in APPEND_TABLES:
                source.put_back(item)
                run = self._run(source, item.table, item.rows.schema)
                written, skipped = self.store.append_stream(
                    item.table, item.rows.schema, run, self.file_id
                )
                self._count(item.table, written, skipped)
            else:
                self._count(item.table, *self.store.write(item.table, item.rows, self.file_id))
            if len(self.pending) >= QUARANTINE_FLUSH:
                self.flush_quarantine()
        self.flush_quarantine()

    def _run(self, source: _Lookahead, table: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """The record batches of the items from ``source`` up to the first that is no batch
        of ``table`` with ``schema`` (put back), or until the quarantine is to be written
        (which can only be done between statements)."""
        streamed = 0
        for item in source:
            if isinstance(item, Rejected):
                self.reject(item)
                if len(self.pending) >= QUARANTINE_FLUSH:
                    return
            elif item.table == table and item.rows.schema == schema:
                yield from item.rows.to_batches()
                streamed += item.rows.num_rows
                if self.progress:
                    self.progress(self.path, *self.position, self.outcome.records + streamed)
            else:
                source.put_back(item)
                return

    def _count(self, table: str, written: int, skipped: int) -> None:
        self.outcome.tables[table] += written
        self.outcome.records += written
        self.outcome.duplicates += skipped
        if self.progress:
            self.progress(self.path, *self.position, self.outcome.records)

    def reject(self, item: Rejected) -> None:
        self.outcome.quarantined += 1
        if len(self.outcome.first_rejects) < 20:
            self.outcome.first_rejects.append(item)
        self.pending.append(item)

    def flush_quarantine(self) -> None:
        self.store.quarantine(self.file_id, self.kind, str(self.path), self.pending)
        self.pending.clear()
