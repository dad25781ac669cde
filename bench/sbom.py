"""Vulnerability matching throughput: synthetic SBOMs against a synthetic OSV database.

    python bench/sbom.py [--sboms 1000] [--components 200] [--advisories 250000]
                         [--repeat 3] [--workdir DIR] [--seed 1]

Generates (in a temporary folder unless --workdir) ``--sboms`` CycloneDX JSON SBOMs of
``--components`` components each, drawn with a popularity skew from a pool of PyPI, npm, Go
and Maven packages, and an OSV database of ``--advisories`` records (JSON lists of 10,000)
with ECOSYSTEM ranges and, for one in five, an explicit versions list. Ingests both into a
fresh store, then times ``carewarden vulns``'s matching (the median of ``--repeat`` runs)
and prints components/s. Not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from carewarden.iomt.connectors import AdvisoryConnector, SbomConnector
from carewarden.services.ingest import ingest
from carewarden.services.vulns import match
from carewarden.store import Store

ECOSYSTEMS = (
    ("PyPI", "pypi", 0.6),
    ("npm", "npm", 0.2),
    ("Go", "golang", 0.1),
    ("Maven", "maven", 0.1),
)
RECORDS_PER_FILE = 10_000


def package_pool(rng: random.Random, size: int) -> list[tuple[str, str, str]]:
    """(OSV ecosystem, purl type, name) for ``size`` packages."""
    pool = []
    shares = [share for _, _, share in ECOSYSTEMS]
    for i in range(size):
        ecosystem, kind, _ = rng.choices(ECOSYSTEMS, weights=shares)[0]
        if kind == "golang":
            name = f"github.com/org{i % 97}/mod{i}"
        elif kind == "maven":
            name = f"org.example{i % 89}:artifact-{i}"
        else:
            name = f"pkg-{i}"
        pool.append((ecosystem, kind, name))
    return pool


def versions_of(index: int) -> list[str]:
    """Fifteen releases per package, in order."""
    major = index % 4
    return [f"{major + m // 5}.{m % 5}.{p}" for m in range(5) for p in range(3)]


def purl(kind: str, name: str, version: str) -> str:
    if kind == "maven":
        group, artifact = name.split(":")
        return f"pkg:maven/{group}/{artifact}@{version}"
    if kind == "golang":
        return f"pkg:golang/{name}@v{version}"
    return f"pkg:{kind}/{name}@{version}"


def write_sboms(
    folder: Path, rng: random.Random, pool: list[tuple[str, str, str]], sboms: int, components: int
) -> None:
    # SBOMs draw from the first 30,000 packages, a few of them popular.
    used = min(len(pool), 30_000)
    weights = [1.0 / (i + 50) for i in range(used)]
    for n in range(sboms):
        picked = set(rng.choices(range(used), weights=weights, k=components * 2))
        chosen = list(picked)[:components]
        comps = []
        for index in chosen:
            _, kind, name = pool[index]
            version = rng.choice(versions_of(index)[-8:])  # SBOMs ship recent-ish releases
            comps.append(
                {
                    "type": "library",
                    "name": name,
                    "version": version,
                    "purl": purl(kind, name, version),
                }
            )
        doc = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "serialNumber": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
            "metadata": {
                "component": {"type": "device", "name": f"Device model {n}", "version": "1.0"}
            },
            "components": comps,
        }
        (folder / f"device-{n:04d}.cdx.json").write_bytes(orjson.dumps(doc))


def write_advisories(
    folder: Path, rng: random.Random, pool: list[tuple[str, str, str]], count: int
) -> None:
    # Advisories spread over the whole pool (most packages have none or a few).
    targets = [rng.randrange(len(pool)) for _ in range(count)]
    for start in range(0, count, RECORDS_PER_FILE):
        records = []
        for n in range(start, min(start + RECORDS_PER_FILE, count)):
            index = targets[n]
            ecosystem, _, name = pool[index]
            releases = versions_of(index)
            lo = rng.randrange(len(releases) - 1)
            hi = min(len(releases) - 1, lo + rng.randint(1, 3))
            affected: dict[str, object] = {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0" if lo == 0 else releases[lo]},
                            {"fixed": releases[hi]},
                        ],
                    }
                ],
            }
            if n % 5 == 0:
                affected["versions"] = releases[lo:hi]
            records.append(
                {
                    "id": f"BENCH-{n:07d}",
                    "modified": "2025-01-01T00:00:00Z",
                    "aliases": [f"CVE-2099-{n:07d}"],
                    "affected": [affected],
                }
            )
        (folder / f"osv-{start // RECORDS_PER_FILE:03d}.json").write_bytes(orjson.dumps(records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sboms", type=int, default=1000)
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--advisories", type=int, default=250_000)
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        rng = random.Random(args.seed)
        pool = package_pool(rng, args.packages)
        (root / "sboms").mkdir()
        (root / "osv").mkdir()
        started = time.perf_counter()
        write_sboms(root / "sboms", rng, pool, args.sboms, args.components)
        write_advisories(root / "osv", rng, pool, args.advisories)
        print(f"generated in {time.perf_counter() - started:.1f} s")
        with Store.open(root / "store") as store:
            started = time.perf_counter()
            loaded = ingest(store, SbomConnector(), [root / "sboms"])
            print(
                f"ingest sbom: {loaded.tables['sbom_component']:,} components in "
                f"{time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            loaded = ingest(store, AdvisoryConnector(), [root / "osv"])
            print(
                f"ingest advisories: {loaded.tables['advisory']:,} records, "
                f"{loaded.tables['advisory_range']:,} ranges in "
                f"{time.perf_counter() - started:.1f} s"
            )
            runs = [match(store) for _ in range(args.repeat)]
    seconds = statistics.median(r.seconds for r in runs)
    last = runs[-1]
    print(
        f"match: {last.components:,} components, {last.pairs:,} distinct (range, version) "
        f"checks, {last.findings:,} findings; runs {', '.join(f'{r.seconds:.1f}' for r in runs)} s"
    )
    print(f"median {seconds:.1f} s: {last.components / seconds:,.0f} components/s")


if __name__ == "__main__":
    main()
