"""Hand-built stores for the patch-plan tests: devices, SBOM findings and flows as rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from carewarden.store import Store

T0 = dt.datetime(2026, 3, 2, 9, 0)


def device(
    store: Store,
    asset_id: str,
    cls: str,
    model: str | None = None,
    *,
    ips: tuple[str, ...] = (),
    vendor: str | None = None,
    os: str | None = None,
    os_unsupported: bool = False,
) -> None:
    store.query(
        "INSERT INTO asset (asset_id, identity, class, confidence, vendor, model, os, "
        "os_unsupported, macs, ips, hostnames, protocols, sources, discovered_at) "
        "VALUES (?, ?, ?, 0.9, ?, ?, ?, ?, [], ?, [], [], ['import'], ?)",
        [asset_id, f"cmdb:{asset_id}", cls, vendor, model, os, os_unsupported, list(ips), T0],
    )


def finding(
    store: Store,
    product: str,
    vuln_id: str,
    *,
    component: str = "openssl",
    version: str = "1.0.1f",
    kev: bool = False,
    cvss: float | None = None,
    epss: float | None = None,
    matched_range: str = "versions [1.0.1f]",
    suppressed: bool = False,
    supplier: str | None = None,
) -> None:
    sbom_id = f"sbom:{product}"
    if not store.query("SELECT count(*) FROM sbom WHERE sbom_id = ?", [sbom_id])[0][0]:
        store.query(
            "INSERT INTO sbom (sbom_id, format, product, product_version, supplier) "
            "VALUES (?, 'cyclonedx', ?, '1.0', ?)",
            [sbom_id, product, supplier],
        )
    store.query(
        "INSERT INTO vuln_finding (sbom_id, product, component_id, component, "
        "component_version, advisory_id, vuln_id, aliases, source, method, matched_key, "
        "matched_range, kev, ransomware, epss, cvss, suppressed, priority) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, [], 'osv', 'purl', ?, ?, ?, false, ?, ?, ?, 0)",
        [sbom_id, product, f"{sbom_id}#{component}", component, version, f"osv:{vuln_id}",
         vuln_id, f"generic/{component}", matched_range, kev, epss, cvss, suppressed],
    )


def flow(store: Store, src: str, dst: str, port: int, proto: str = "tcp",
         provider: str = "zeek/conn") -> None:
    n = store.query("SELECT count(*) FROM security_event")[0][0]
    store.query(
        "INSERT INTO security_event (event_uid, time, provider, src_ip, dst_ip, dst_port, raw) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [f"e{n}", T0, provider, src, dst, str(port), json.dumps({"proto": proto})],
    )


def open_store(path: Path) -> Store:
    return Store.open(path)
