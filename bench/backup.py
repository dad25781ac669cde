"""Backup, verify and restore of a large store: seconds per step, archive size, peak memory.

    python bench/backup.py [--events 10000000] [--passphrase]

Builds a store holding ``--events`` EHR accesses (in SQL, see carewarden.testing.bulk), then
runs ``backup create``, ``verify`` and ``restore`` in this process and checks that every
table's row count and checksum in the restored store equal the source's. Prints one line
per step (wall clock, and CPU time of all the process's threads, which a busy machine does
not inflate) and the process's peak resident memory (DuckDB included).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from carewarden.backup import crypto
from carewarden.services import backup
from carewarden.store import Store
from carewarden.store.snapshot import catalog, table_digest
from carewarden.testing.bulk import fill_access_log


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_since(start: float) -> float:
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--passphrase", action="store_true", help="scrypt instead of a key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        with Store.open(root / "store") as store:
            fill_access_log(store, args.events)
            source = {t.name: table_digest(store, t) for t in catalog(store)}
        print(f"build: {args.events:,} events in {time.perf_counter() - started:.1f} s")
        db_size = (root / "store" / "carewarden.duckdb").stat().st_size
        if args.passphrase:
            secret = crypto.passphrase_secret("a benchmark passphrase")
        else:
            crypto.generate_key_file(root / "k.key")
            secret = crypto.load_key_file(root / "k.key")
        archive = root / "store.cwb"
        cpu = time.process_time()
        made = backup.create(root / "store", archive, secret)
        print(
            f"create: {made.seconds:.1f} s ({cpu_since(cpu):.1f} s CPU), "
            f"archive {made.archive_bytes / 2**20:,.1f} MiB "
            f"(database {db_size / 2**20:,.1f} MiB), peak RSS {peak_mib():,.0f} MiB"
        )
        cpu = time.process_time()
        checked = backup.verify(archive, secret)
        print(
            f"verify: {checked.seconds:.1f} s ({cpu_since(cpu):.1f} s CPU), "
            f"peak RSS {peak_mib():,.0f} MiB"
        )
        cpu = time.process_time()
        restored = backup.restore(archive, root / "restored", secret)
        print(
            f"restore: {restored.seconds:.1f} s ({cpu_since(cpu):.1f} s CPU), "
            f"peak RSS {peak_mib():,.0f} MiB"
        )
        with Store.open(root / "restored", read_only=True) as store:
            copy = {t.name: table_digest(store, t) for t in catalog(store)}
        same = copy == source
        rows = sum(d.rows for d in copy.values())
        print(f"round trip: {rows:,} rows in {len(copy)} tables, checksums equal: {same}")
        print(
            f"events/s: create {args.events / made.seconds:,.0f}, verify "
            f"{args.events / checked.seconds:,.0f}, restore {args.events / restored.seconds:,.0f}"
        )
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
