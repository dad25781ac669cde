"""Ingest is idempotent per file and atomic per file, and one bad file never stops a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pytest

from carewarden.connectors.fhir import FhirConnector
from carewarden.model import Batch, Rejected
from carewarden.services.ingest import ingest
from carewarden.store import SourceFile, Store
from carewarden.store.store import ROW_GROUP_ROWS
from carewarden.tables import SCHEMAS

TEMPLATE = (
    '{{"resourceType":"AuditEvent","id":"ae{i}","recorded":"2026-03-{day:02d}T{h:02d}:{m:02d}:00Z",'
    '"action":"R","agent":[{{"who":{{"reference":"Practitioner/u{u}"}},"requestor":true}}],'
    '"entity":[{{"what":{{"reference":"Patient/p{p}"}}}}]}}\n'
)


def write_events(path: Path, count: int, start: int = 0) -> None:
    with path.open("w") as out:
        for i in range(start, start + count):
            out.write(TEMPLATE.format(i=i, day=2 + i % 7, h=i % 24, m=i % 60, u=i % 97, p=i % 5003))


def test_same_file_twice_adds_nothing(store: Store, data: Path) -> None:
    """The second ingest of identical content is skipped, whatever the path."""
    first = ingest(store, FhirConnector(), [data / "fhir" / "export"])
    counts = store.table_counts()
    second = ingest(store, FhirConnector(), [data / "fhir" / "export"])
    assert {f.status for f in second.files} == {"already ingested"}
    assert store.table_counts() == counts
    assert first.total("records") > 0 and second.total("records") == 0


def test_overlapping_exports_add_each_access_once(store: Store, tmp_path: Path) -> None:
    """Two files that share events (overlapping export windows) store each event once."""
    write_events(tmp_path / "a.ndjson", 1000, start=0)
    write_events(tmp_path / "b.ndjson", 1000, start=500)
    ingest(store, FhirConnector(), [tmp_path / "a.ndjson"])
    summary = ingest(store, FhirConnector(), [tmp_path / "b.ndjson"])
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM ehr_access") == [
        (1500, 1500)
    ]
    assert summary.total("duplicates") == 500


class _Exploding:
    """A connector that yields good rows, then fails mid-file."""

    name: ClassVar[str] = "exploding"

    def discover(self, path: Path) -> list[Path]:
        return sorted(path.glob("*.txt"))

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        schema = SCHEMAS["ehr_access"]
        row = {
            "event_id": [path.stem],
            "time": [pa.scalar(0, pa.timestamp("us")).as_py()],
            "user_id": ["u"],
            "patient_id": ["p"],
            "action": ["read"],
            "outcome": [None],
            "workstation": [None],
            "purpose": [None],
            "reason": [None],
        }
        yield Batch("ehr_access", pa.table(row, schema=schema))
        yield Rejected(2, 10, "bad record")
        if path.stem == "broken":
            raise RuntimeError("parser bug")


def test_a_failing_file_is_rolled_back_and_the_others_land(store: Store, tmp_path: Path) -> None:
    """A connector error mid-file rolls that file back whole (rows and quarantine) and the run
    goes on with the next file."""
    for name in ("a", "broken", "c"):
        (tmp_path / f"{name}.txt").write_text(name)
    summary = ingest(store, _Exploding(), [tmp_path])
    assert [f.status for f in summary.files] == ["ingested", "failed", "ingested"]
    assert "parser bug" in str(summary.files[1].error)
    assert sorted(r[0] for r in store.query("SELECT event_id FROM ehr_access")) == ["a", "c"]
    assert store.query("SELECT count(*) FROM quarantine") == [(2,)]
    assert store.query("SELECT count(*) FROM source_file") == [(2,)]


INGEST_SCRIPT = """
import sys
from pathlib import Path
from carewarden.connectors.fhir import FhirConnector
from carewarden.services.ingest import ingest
from carewarden.store import Store
with Store.open(Path(sys.argv[1])) as store:
    print("open", flush=True)
    ingest(store, FhirConnector(), [Path(sys.argv[2])])
"""


def _counts(folder: Path) -> tuple[int, int, int]:
    with Store.open(folder) as opened:
        row = opened.query(
            "SELECT (SELECT count(*) FROM ehr_access), (SELECT count(*) FROM source_file), "
            "(SELECT count(DISTINCT file_id) FROM ehr_access)"
        )[0]
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_no_partial_batch(tmp_path: Path) -> None:
    """kill -9 at several moments of a multi-file ingest: every file is in the store whole or
    not at all, and a rerun ends with exactly the counts of a clean run."""
    source = tmp_path / "export"
    source.mkdir()
    for n in range(3):
        write_events(source / f"AuditEvent.{n}.ndjson", 120_000, start=n * 120_000)
    clean = tmp_path / "clean"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [sys.executable, "-c", INGEST_SCRIPT, str(clean), str(source)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    expected = _counts(clean)
    assert expected == (360_000, 3, 3)
    interrupted = []
    for delay in (0.4, 1.0, 1.8):
        target = tmp_path / f"killed-{delay}"
        proc = subprocess.Popen(
            [sys.executable, "-c", INGEST_SCRIPT, str(target), str(source)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"open"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rows, files, files_with_rows = _counts(target)
        assert rows == 120_000 * files, f"partial file after kill at {delay}s"
        assert files_with_rows == files
        interrupted.append(files)
        subprocess.run(
            [sys.executable, "-c", INGEST_SCRIPT, str(target), str(source)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        assert _counts(target) == expected
    assert min(interrupted) < 3, "no kill landed before the ingest finished"


def test_an_event_repeated_within_one_file_is_stored_once(store: Store, tmp_path: Path) -> None:
    """The same AuditEvent twice in one export (far apart) lands once, counted as duplicate."""
    path = tmp_path / "AuditEvent.ndjson"
    write_events(path, 3000)
    with path.open("a") as out:
        out.write(TEMPLATE.format(i=7, day=2 + 7 % 7, h=7, m=7, u=7 % 97, p=7 % 5003))
    summary = ingest(store, FhirConnector(), [path])
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM ehr_access") == [
        (3000, 3000)
    ]
    assert summary.total("duplicates") == 1
    assert summary.tables["ehr_access"] == 3000


def test_a_bad_line_late_in_a_clean_looking_file_is_rolled_back_and_retried(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole-file fast path has already written rows when it meets a bad line: the file is
    rolled back and read again line by line, so every good row lands once and the bad line is
    quarantined with its number."""
    from carewarden.connectors import fhir_audit_sql

    monkeypatch.setattr(fhir_audit_sql, "FILE_BATCH_ROWS", 500)
    path = tmp_path / "AuditEvent.ndjson"
    write_events(path, 3000)
    with path.open("a") as out:
        out.write('{"resourceType": "AuditEvent", "id": "broken"\n')
    summary = ingest(store, FhirConnector(), [path])
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM ehr_access") == [
        (3000, 3000)
    ]
    assert summary.total("duplicates") == 0
    assert store.query("SELECT line FROM quarantine") == [(3001,)]


def test_same_size_and_start_but_different_content_is_ingested(
    store: Store, tmp_path: Path
) -> None:
    """Idempotence is by whole content: a file that differs only near its end (same size, same
    first MiB) is new; an identical copy under another name is not."""
    first = tmp_path / "a" / "AuditEvent.ndjson"
    first.parent.mkdir()
    write_events(first, 20_000)
    data = first.read_bytes()
    assert len(data) > (1 << 20)
    changed = tmp_path / "b" / "AuditEvent.ndjson"
    changed.parent.mkdir()
    changed.write_bytes(data[:-3] + b"9}\n" if data[-3:-2] != b"9" else data[:-3] + b"8}\n")
    copy = tmp_path / "copy.ndjson"
    copy.write_bytes(data)
    assert ingest(store, FhirConnector(), [first]).files[0].status == "ingested"
    assert ingest(store, FhirConnector(), [copy]).files[0].status == "already ingested"
    again = ingest(store, FhirConnector(), [changed])
    assert again.files[0].status == "ingested"


def test_an_unreadable_file_fails_alone(
    store: Store, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened is reported as failed with its path; the others land."""
    from carewarden.services import ingest as ingest_module

    real = ingest_module.head_hash

    def refuse_patients(path: Path) -> str:
        if path.name == "Patient.ndjson":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest_module, "head_hash", refuse_patients)
    summary = ingest(store, FhirConnector(), [data / "fhir" / "export"])
    failed = summary.failed
    assert len(failed) == 1 and "Patient.ndjson" in str(failed[0].error)
    assert "Permission denied" in str(failed[0].error)
    assert summary.tables["ehr_access"] == 5


class ManyBatches:
    """Security events in small batches, as the network connectors yield them."""

    name: ClassVar[str] = "test-events"

    def __init__(self, rows: int, batch: int = 5_000) -> None:
        self.rows, self.batch = rows, batch

    def discover(self, path: Path) -> list[Path]:
        return [path]

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        for start in range(0, self.rows, self.batch):
            ids = range(start, min(start + self.batch, self.rows))
            columns = {
                "event_uid": pa.array([f"test:{i}" for i in ids]),
                "time": pa.array([1_760_000_000_000_000 + i for i in ids], pa.timestamp("us")),
                "channel": pa.array(["test"] * len(ids)),
                "class_uid": pa.array([4001] * len(ids), pa.int32()),
                "raw": pa.array([f'{{"n": {i}}}' for i in ids]),
            }
            yield Batch("security_event", pa.table(columns))


class BulkBatches(ManyBatches):
    bulk_insert: ClassVar[bool] = True


def _threads(store: Store) -> int:
    return int(store.query("SELECT current_setting('threads')")[0][0])


def _watch_streams(
    monkeypatch: pytest.MonkeyPatch, note: Callable[[Store, pa.Schema], object]
) -> None:
    """Call ``note(store, schema)`` at each streamed write, before it runs."""
    append_stream = Store.append_stream

    def watched(
        self: Store, table: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], file_id: str
    ) -> tuple[int, int]:
        note(self, schema)
        return append_stream(self, table, schema, batches, file_id)

    monkeypatch.setattr(Store, "append_stream", watched)


def test_writes_overlapping_the_parse_fill_each_row_group_before_the_next(
    store: Store, tmp_path: Path, rows_per_row_group: Callable[[Store, str], list[int]]
) -> None:
    """Small batches from the parse land in full row groups, in order, with only the file's
    last one partly filled: a later checkpoint has nothing to merge and rewrite. DuckDB gets
    back its own thread count afterwards."""
    path = tmp_path / "events.log"
    path.write_text("two and a half row groups of test events\n")
    threads = _threads(store)
    rows = 2 * ROW_GROUP_ROWS + 7_000
    summary = ingest(store, ManyBatches(rows), [path])
    assert summary.total("records") == rows
    assert store.query("SELECT count(DISTINCT event_uid) FROM security_event") == [(rows,)]
    assert rows_per_row_group(store, "security_event") == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 7_000]
    assert _threads(store) == threads


def test_a_bulk_insert_connector_keeps_every_duckdb_thread(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.log"
    path.write_text("test events\n")
    seen: list[int] = []
    write = Store.write

    def spy(self: Store, table: str, rows: pa.Table, file_id: str) -> tuple[int, int]:
        seen.append(_threads(self))
        return write(self, table, rows, file_id)

    monkeypatch.setattr(Store, "write", spy)
    _watch_streams(monkeypatch, lambda opened, schema: seen.append(_threads(opened)))
    store.query("SET threads = 2")
    assert ingest(store, BulkBatches(12_000), [path]).total("records") == 12_000
    assert seen == [2]  # one batch, written with the store's threads
    seen.clear()
    path.write_text("other test events\n")
    assert ingest(store, ManyBatches(12_000, batch=4_000), [path]).total("duplicates") == 12_000
    assert seen and set(seen) == {1}
    assert _threads(store) == 2


def test_one_writer_thread_restores_the_settings_after_a_failure(store: Store) -> None:
    store.query("SET threads = 2")
    with pytest.raises(RuntimeError), store.one_writer_thread():
        assert _threads(store) == 1
        raise RuntimeError("the parse failed")
    assert _threads(store) == 2
    assert store.query("SELECT current_setting('write_buffer_row_group_count')") != [(1,)]
    with store.transaction(), store.one_writer_thread():
        assert _threads(store) == 2  # left alone: a failed transaction could not restore it


class MixedItems(ManyBatches):
    """Batches of security events with rejected lines between them, and a run of batches
    without the ``class_uid`` column in the middle (another schema of the same table)."""

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        for number, item in enumerate(super().read(path)):
            assert isinstance(item, Batch)
            for bad in range(3):
                yield Rejected(number * 3 + bad + 1, None, "not an event", "garbage")
            if number in (2, 3):
                yield Batch(item.table, item.rows.drop_columns(["class_uid"]))
            else:
                yield item


def test_a_streamed_file_writes_its_quarantine_between_statements(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rejects met while a table's rows stream into the store are kept and written once the
    stream pauses (every few of them here), a change of columns starts a new stream, and
    progress is told as the rows arrive: every row and every reject lands once."""
    from carewarden.services import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "QUARANTINE_FLUSH", 4)
    streams: list[int] = []
    _watch_streams(monkeypatch, lambda opened, schema: streams.append(len(schema)))
    told: list[int] = []
    path = tmp_path / "events.log"
    path.write_text("events and garbage\n")
    summary = ingest(store, MixedItems(8 * 500, batch=500), [path], lambda *a: told.append(a[3]))
    assert summary.total("records") == 4_000 and summary.total("quarantined") == 24
    assert store.query("SELECT count(*), count(DISTINCT line) FROM quarantine") == [(24, 24)]
    assert store.query("SELECT count(*), count(class_uid) FROM security_event") == [(4_000, 3_000)]
    assert len(streams) > 3 and set(streams) == {5, 4}  # paused for the quarantine, and
    assert told == sorted(told) and told[-1] == 4_000 and len(set(told)) >= 8  # per batch


def test_rows_already_stored_from_another_file_are_skipped_when_streamed(
    store: Store, tmp_path: Path
) -> None:
    """A file whose events overlap an earlier file's (a re-exported window) adds only the
    new ones and counts the others as duplicates, as the per-batch write does."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("first\n")
    second.write_text("second\n")
    assert ingest(store, ManyBatches(6_000), [first]).total("records") == 6_000
    summary = ingest(store, ManyBatches(9_000, batch=2_000), [second])
    assert (summary.total("records"), summary.total("duplicates")) == (3_000, 6_000)
    assert store.query("SELECT count(*), count(DISTINCT event_uid) FROM security_event") == [
        (9_000, 9_000)
    ]
    counts = store.query("SELECT records, duplicates FROM source_file ORDER BY ingested_at")
    assert counts == [(6_000, 0), (3_000, 6_000)]


class Logged(ManyBatches):
    """Security events, one id range per file (by its name), logging when each file's parse
    starts and ends."""

    def __init__(self, rows: int, log: list[str], batch: int = 5_000) -> None:
        super().__init__(rows, batch)
        self.log = log

    def discover(self, path: Path) -> list[Path]:
        return sorted(path.glob("*.log"))

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        self.log.append(f"read {path.stem}")
        offset = int(path.stem.split("-")[-1]) * self.rows
        try:
            for item in super().read(path):
                assert isinstance(item, Batch)
                uids = [f"test:{offset + int(u.as_py().split(':')[1])}" for u in item.rows[0]]
                yield Batch(item.table, item.rows.set_column(0, "event_uid", pa.array(uids)))
        finally:
            self.log.append(f"closed {path.stem}")


class LoggedBulk(Logged):
    bulk_insert: ClassVar[bool] = True


def _log_commits(monkeypatch: pytest.MonkeyPatch, log: list[str]) -> None:
    record_file = Store.record_file

    def logged(self: Store, source: SourceFile) -> None:
        log.append(f"recorded {Path(source.path).stem}")
        record_file(self, source)

    monkeypatch.setattr(Store, "record_file", logged)


def test_the_next_file_is_parsed_while_this_one_is_committed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file lands whole in its own transaction, and the next file's parse has already
    begun when the previous one is committed; a bulk connector goes one file at a time."""
    for n in range(3):
        (tmp_path / f"part-{n}.log").write_text(f"part {n}\n")
    log: list[str] = []
    _log_commits(monkeypatch, log)
    summary = ingest(store, Logged(12_000, log), [tmp_path])
    assert [f.status for f in summary.files] == ["ingested"] * 3
    assert summary.total("records") == 36_000 and summary.total("duplicates") == 0
    assert log.index("read part-1") < log.index("recorded part-0")
    assert log.index("read part-2") < log.index("recorded part-1")
    assert store.query("SELECT count(*), count(DISTINCT event_uid) FROM security_event") == [
        (36_000, 36_000)
    ]
    assert store.query("SELECT records FROM source_file ORDER BY path") == [(12_000,)] * 3
    log.clear()
    for n in range(3, 5):
        (tmp_path / f"part-{n}.log").write_text(f"part {n}\n")
    ingest(store, LoggedBulk(12_000, log), [tmp_path])
    one_at_a_time = [f"{step} part-{n}" for n in (3, 4) for step in ("read", "closed", "recorded")]
    assert log == one_at_a_time


def test_the_next_file_is_parsed_as_soon_as_this_one_has_been_read(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next file's parse starts when the connector has read this file, before this
    file's rows are all written (its stream ends only after that), so that the parse and
    the end of the write overlap."""
    from carewarden.services import ingest as ingest_module

    for n in range(3):
        (tmp_path / f"part-{n}.log").write_text(f"part {n}\n")
    log: list[str] = []
    parse, append_stream = ingest_module._parse, Store.append_stream

    def logged_parse(connector: Logged, path: Path, *args: object, **kwargs: object) -> object:
        log.append(f"parse {path.stem}")
        return parse(connector, path, *args, **kwargs)  # type: ignore[arg-type]

    def logged_append(self: Store, *args: object, **kwargs: object) -> tuple[int, int]:
        written = append_stream(self, *args, **kwargs)  # type: ignore[arg-type]
        log.append("written")
        return written

    monkeypatch.setattr(ingest_module, "_parse", logged_parse)
    monkeypatch.setattr(Store, "append_stream", logged_append)
    summary = ingest(store, Logged(12_000, log), [tmp_path])
    assert summary.total("records") == 36_000
    events = [e for e in log if e.startswith(("parse", "written"))]
    assert events == [
        "parse part-0", "parse part-1", "written", "parse part-2", "written", "written"
    ]  # fmt: skip


def test_no_thread_for_the_next_parse_leaves_it_to_its_turn(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the next file's parse cannot start ahead, this file still lands, and the next
    is parsed at its turn."""
    from carewarden.services import ingest as ingest_module

    for n in range(3):
        (tmp_path / f"part-{n}.log").write_text(f"part {n}\n")
    parse = ingest_module._Parses.parse
    asked: list[str] = []

    def no_thread_to_spare(self: ingest_module._Parses, path: Path) -> ingest_module._Parse:
        asked.append(path.stem)
        if path.stem != "part-0" and asked.count(path.stem) == 1:  # the start ahead
            raise RuntimeError("can't start new thread")
        return parse(self, path)

    monkeypatch.setattr(ingest_module._Parses, "parse", no_thread_to_spare)
    summary = ingest(store, Logged(12_000, []), [tmp_path])
    assert [f.status for f in summary.files] == ["ingested"] * 3
    assert asked == ["part-0", "part-1", "part-1", "part-2", "part-2"]
    assert store.query("SELECT count(DISTINCT event_uid) FROM security_event") == [(36_000,)]


def test_a_file_parsed_ahead_but_already_ingested_is_skipped(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that looks like one stored before (size and first MiB) is not parsed ahead; one
    that turns out, at its turn, to repeat the file just before it has its parse stopped.
    Both are reported as already ingested, and a file that fails after them fails alone."""
    first = tmp_path / "first"
    first.mkdir()
    (first / "part-0.log").write_text("stored before\n")
    log: list[str] = []
    assert ingest(store, Logged(8_000, log), [first]).total("records") == 8_000
    (tmp_path / "part-1.log").write_text("new\n")
    (tmp_path / "part-2.log").write_text("stored before\n")
    (tmp_path / "part-3.log").write_text("also new\n")
    (tmp_path / "part-4.log").write_text("also new\n")  # the same content as part-3
    (tmp_path / "part-5.log").mkdir()  # cannot be read as a file
    log.clear()
    summary = ingest(store, Logged(8_000, log), [tmp_path])  # not first/: *.log only
    statuses = [(f.path.name, f.status) for f in summary.files]
    assert statuses == [
        ("part-1.log", "ingested"), ("part-2.log", "already ingested"),
        ("part-3.log", "ingested"), ("part-4.log", "already ingested"),
        ("part-5.log", "failed"),
    ]  # fmt: skip
    assert "read part-2" not in log
    assert "read part-4" in log and "closed part-4" in log  # parsed ahead, then stopped
    assert store.query("SELECT count(*), count(DISTINCT event_uid) FROM security_event") == [
        (24_000, 24_000)
    ]


def test_the_content_hash_is_the_files_blake3_across_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blake3 import blake3

    from carewarden.services import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "HASH_READ_BYTES", 1000)
    content = os.urandom(4321)
    for size in (0, 999, 1000, 1001, 4321):
        path = tmp_path / f"f{size}"
        path.write_bytes(content[:size])
        assert ingest_module.ContentHash(path).result() == blake3(content[:size]).hexdigest()
    with pytest.raises(OSError):
        ingest_module.ContentHash(tmp_path / "missing").result()
