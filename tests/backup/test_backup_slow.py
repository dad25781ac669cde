"""The bar: a store of 10 million events goes through backup, verify and restore with every
table's row count and checksum equal, in bounded memory; the same archive with one byte
changed is refused."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from carewarden.backup.crypto import Secret
from carewarden.errors import BackupError
from carewarden.services import backup
from carewarden.store import Store
from carewarden.store.snapshot import catalog, table_digest
from carewarden.testing.bulk import fill_access_log

EVENTS = 10_000_000


@pytest.mark.slow
def test_ten_million_events_round_trip(secret: Secret, tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as store:
        fill_access_log(store, EVENTS)
        source = {t.name: table_digest(store, t) for t in catalog(store)}
    assert source["ehr_access"].rows == EVENTS

    started = time.perf_counter()
    made = backup.create(tmp_path / "store", tmp_path / "store.cwb", secret)
    checked = backup.verify(tmp_path / "store.cwb", secret)
    restored = backup.restore(tmp_path / "store.cwb", tmp_path / "restored", secret)
    seconds = time.perf_counter() - started
    with Store.open(tmp_path / "restored", read_only=True) as store:
        copy = {t.name: table_digest(store, t) for t in catalog(store)}
        (count,) = store.query("SELECT count(*) FROM ehr_access")[0]

    assert count == EVENTS
    assert copy == source
    for report in (made, checked, restored):
        assert {t.name: (t.rows, t.checksum) for t in report.tables} == {
            name: (d.rows, d.checksum) for name, d in source.items()
        }
        assert report.ok
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n10M events: create {made.seconds:.1f} s, verify {checked.seconds:.1f} s, restore "
        f"{restored.seconds:.1f} s (all {seconds:.1f} s); archive "
        f"{made.archive_bytes / 2**20:.1f} MiB; peak RSS {peak_mib:.0f} MiB"
    )
    assert peak_mib < 2048

    archive = tmp_path / "store.cwb"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="fails authentication"):
        backup.verify(archive, secret)
