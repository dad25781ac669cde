"""Vulnerability matching: every SBOM component against every advisory, in bulk.

1. Each component offers up to three keys: its purl (``pypi/django`` + version), its CPE
   (``apache:ant`` + version) and its name (for advisories that name devices, as CISA's
   medical advisories do). DuckDB joins them with the advisories' affected ranges on the
   key alone, and keeps the *distinct* (range, version) pairs.
2. Python decides each distinct pair once with univers (:mod:`carewarden.iomt.versions`):
   1,000 SBOMs sharing a library version cost one check per range, not a thousand.
3. DuckDB joins the hits back to components, adds KEV, EPSS and VEX, and rebuilds
   ``vuln_finding``: one row per (component, advisory) with the range that matched, the
   method and source, so every finding is explained.

VEX: a statement applies to a finding when it names the vulnerability (its id or an alias)
and the product or component (a CycloneDX bom-ref, BOM-Link or a CSAF product with a
version range). When statements disagree the least reassuring wins (affected, then
under_investigation, fixed, not_affected); ``not_affected`` and ``fixed`` suppress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from carewarden.iomt.versions import VersionChecker
from carewarden.store import Store

SUPPRESSING = ("not_affected", "fixed")

_COMPONENT_KEYS = """
CREATE OR REPLACE TEMP TABLE _ckey AS
SELECT component_id, 'purl' AS method, pkg_key AS key, coalesce(pkg_version, '') AS version
FROM sbom_component WHERE pkg_key IS NOT NULL
UNION ALL
SELECT component_id, 'cpe', cpe_key, coalesce(cpe_version, '')
FROM sbom_component WHERE cpe_key IS NOT NULL
UNION ALL
SELECT component_id, 'name', name_key, coalesce(version, '')
FROM sbom_component WHERE name_key IS NOT NULL
"""

_RANGES = """
CREATE OR REPLACE TEMP TABLE _ranges AS
SELECT r.advisory_id, r.method, r.pkg_key, r.range_key, r.scheme, r.vers, r.versions
FROM advisory_range r JOIN advisory a USING (advisory_id) WHERE a.withdrawn IS NULL
"""

_PAIRS = """
SELECT DISTINCT range_key, version FROM (
    SELECT r.range_key, k.version FROM _ckey k
    JOIN (SELECT DISTINCT method, pkg_key, range_key FROM _ranges) r
      ON r.method = k.method AND r.pkg_key = k.key
    UNION ALL
    SELECT v.range_key, k.version FROM _ckey k
    JOIN vex_statement v ON v.method = k.method AND v.pkg_key = k.key
    WHERE v.range_key IS NOT NULL
)
"""

_DEFINITIONS = """
SELECT range_key, any_value(scheme) AS scheme, any_value(vers) AS vers,
       any_value(versions) AS versions
FROM (
    SELECT range_key, scheme, vers, versions FROM _ranges
    UNION ALL
    SELECT range_key, scheme, vers, versions FROM vex_statement WHERE range_key IS NOT NULL
)
WHERE range_key IN (SELECT DISTINCT range_key FROM _pairs)
GROUP BY range_key
"""

_FINDINGS = """
CREATE OR REPLACE TEMP TABLE _f AS
WITH hits AS (
    SELECT k.component_id, k.method, k.key, k.version, r.advisory_id, r.vers, r.versions
    FROM _ckey k
    JOIN _ranges r ON r.method = k.method AND r.pkg_key = k.key
    JOIN _hits h ON h.range_key = r.range_key AND h.version = k.version
), best AS (
    SELECT * FROM hits
    QUALIFY row_number() OVER (
        PARTITION BY component_id, advisory_id
        ORDER BY CASE method WHEN 'purl' THEN 0 WHEN 'cpe' THEN 1 ELSE 2 END,
                 vers NULLS LAST
    ) = 1
)
SELECT row_number() OVER () AS fid, b.component_id, c.sbom_id, c.bom_ref,
       (SELECT min(p.component_id) FROM sbom_component p
        WHERE p.sbom_id = c.sbom_id AND p.is_product) AS product_component_id,
       s.product, s.product_version, c.name AS component, c.version AS component_version,
       CASE WHEN c.purl NOT LIKE '%@%' AND c.purl NOT LIKE '%?%' AND c.version IS NOT NULL
            THEN c.purl || '@' || c.version ELSE c.purl END AS component_purl,
       c.cpe AS component_cpe, b.advisory_id, a.vuln_id,
       coalesce(a.aliases, []) AS aliases, a.source, a.summary, b.method,
       b.key AS matched_key,
       coalesce(b.vers, 'versions [' || array_to_string(b.versions[1:8], ', ')
                || CASE WHEN len(b.versions) > 8 THEN ', …' ELSE '' END || ']')
           AS matched_range,
       a.cvss_score AS cvss, a.cvss_vector
FROM best b
JOIN sbom_component c USING (component_id)
JOIN sbom s ON s.sbom_id = c.sbom_id
JOIN advisory a ON a.advisory_id = b.advisory_id
"""

_IDS = """
CREATE OR REPLACE TEMP TABLE _fid AS
SELECT DISTINCT fid, upper(id) AS id FROM (
    SELECT fid, unnest(list_append(aliases, vuln_id)) AS id FROM _f
)
"""

_VEX = """
CREATE OR REPLACE TEMP TABLE _vex AS
WITH applied AS (
    -- CycloneDX: a bom-ref of this SBOM (embedded), of its BOM-Link, or of its product name
    SELECT f.fid, v.status, v.justification
    FROM _f f
    JOIN _fid i ON i.fid = f.fid
    JOIN sbom s ON s.sbom_id = f.sbom_id
    JOIN vex_statement v ON upper(v.vuln_id) = i.id AND v.bom_ref IS NOT NULL
    WHERE (v.bom_ref = s.product_ref OR v.bom_ref = f.bom_ref)
      AND (v.sbom_id = f.sbom_id
           OR (v.bom_serial = s.serial_number
               AND (v.bom_version IS NULL OR v.bom_version = coalesce(s.bom_version, 1)))
           OR (v.sbom_id IS NULL AND v.bom_serial IS NULL AND v.product = s.product))
    UNION ALL
    -- CSAF: a product (purl, CPE or name) whose version range holds the version of the
    -- component or of the SBOM's product (a statement about a device covers its parts)
    SELECT f.fid, v.status, v.justification
    FROM _f f
    JOIN _fid i ON i.fid = f.fid
    JOIN vex_statement v ON upper(v.vuln_id) = i.id AND v.range_key IS NOT NULL
    JOIN _ckey k ON k.component_id IN (f.component_id, f.product_component_id)
                AND k.method = v.method
                AND k.key = v.pkg_key
    JOIN _hits h ON h.range_key = v.range_key AND h.version = k.version
)
SELECT fid,
       arg_min(status, rank) AS status,
       -- the least reassuring status; of its statements, a standard justification code
       -- (code_not_present…) before free text, then alphabetically: the same every run
       first(justification ORDER BY rank,
             NOT regexp_full_match(coalesce(justification, ''), '[a-z_]+'),
             justification NULLS LAST) AS justification
FROM (
    SELECT *, CASE status WHEN 'affected' THEN 0 WHEN 'under_investigation' THEN 1
                          WHEN 'fixed' THEN 2 ELSE 3 END AS rank
    FROM applied
)
GROUP BY fid
"""

_RESULT = """
SELECT f.sbom_id, f.product, f.product_version, f.component_id, f.component,
       f.component_version, f.component_purl, f.component_cpe, f.advisory_id, f.vuln_id,
       f.aliases, f.source, f.summary, f.method, f.matched_key, f.matched_range,
       coalesce(k.kev, false) AS kev, coalesce(k.ransomware, false) AS ransomware,
       e.epss, f.cvss, f.cvss_vector, v.status AS vex_status,
       v.justification AS vex_justification,
       coalesce(v.status IN ('not_affected', 'fixed'), false) AS suppressed,
       -- KEV first, then exploit probability, then severity
       round(100 * coalesce(k.kev, false)::INT + 50 * coalesce(e.epss, 0)
             + 4 * coalesce(f.cvss, 0), 2) AS priority
FROM _f f
LEFT JOIN (
    SELECT i.fid, true AS kev, bool_or(kev.ransomware = 'Known') AS ransomware
    FROM _fid i JOIN kev ON kev.cve_id = i.id GROUP BY i.fid
) k ON k.fid = f.fid
LEFT JOIN (
    SELECT i.fid, max(epss.epss) AS epss FROM _fid i JOIN epss ON epss.cve_id = i.id
    GROUP BY i.fid
) e ON e.fid = f.fid
LEFT JOIN _vex v ON v.fid = f.fid
"""


@dataclass(frozen=True)
class MatchSummary:
    components: int
    pairs: int  # distinct (range, version) pairs checked
    findings: int
    suppressed: int
    seconds: float
    fallbacks: int  # checks univers could not parse, decided by natural ordering

    @property
    def components_per_second(self) -> float:
        return self.components / self.seconds if self.seconds else 0.0


def _check(pairs: pa.Table, definitions: pa.Table) -> tuple[pa.Table, VersionChecker]:
    checker = VersionChecker()
    ranges = {row["range_key"]: row for row in definitions.to_pylist()}
    keys: list[str] = []
    versions: list[str] = []
    for key, version in zip(
        pairs.column("range_key").to_pylist(), pairs.column("version").to_pylist(), strict=True
    ):
        spec = ranges[key]
        if checker.contains(key, spec["scheme"], spec["vers"], spec["versions"], version):
            keys.append(key)
            versions.append(version)
    hits = pa.table(
        {"range_key": pa.array(keys, pa.string()), "version": pa.array(versions, pa.string())}
    )
    return hits, checker


def match(store: Store) -> MatchSummary:
    """Rebuild ``vuln_finding`` from the SBOMs, advisories, KEV, EPSS and VEX in the store."""
    started = time.perf_counter()
    with store.transaction():
        store.query(_COMPONENT_KEYS)
        store.query(_RANGES)
        store.query(f"CREATE OR REPLACE TEMP TABLE _pairs AS {_PAIRS}")
        pairs = store.arrow("SELECT range_key, version FROM _pairs")
        hits, checker = _check(pairs, store.arrow(_DEFINITIONS))
        store.con.register("_hits_arrow", hits)
        try:
            store.query("CREATE OR REPLACE TEMP TABLE _hits AS SELECT * FROM _hits_arrow")
        finally:
            store.con.unregister("_hits_arrow")
        store.query(_FINDINGS)
        store.query(_IDS)
        store.query(_VEX)
        findings = store.rebuild_table("vuln_finding", _RESULT)
        for temp in ("_ckey", "_ranges", "_pairs", "_hits", "_f", "_fid", "_vex"):
            store.query(f"DROP TABLE IF EXISTS {temp}")
    suppressed = store.query("SELECT count(*) FROM vuln_finding WHERE suppressed")[0][0]
    components = store.query("SELECT count(*) FROM sbom_component")[0][0]
    return MatchSummary(
        components=int(components),
        pairs=pairs.num_rows,
        findings=findings,
        suppressed=int(suppressed),
        seconds=time.perf_counter() - started,
        fallbacks=checker.fallbacks,
    )


FINDING_FIELDS = (
    "product",
    "product_version",
    "component",
    "component_version",
    "component_purl",
    "component_cpe",
    "vuln_id",
    "aliases",
    "source",
    "advisory_id",
    "method",
    "matched_key",
    "matched_range",
    "kev",
    "ransomware",
    "epss",
    "cvss",
    "cvss_vector",
    "vex_status",
    "vex_justification",
    "suppressed",
    "priority",
    "summary",
)


def findings(
    store: Store,
    *,
    include_suppressed: bool = False,
    product: str | None = None,
    kev_only: bool = False,
    limit: int = 0,
) -> list[dict[str, Any]]:
    """Stored findings, highest priority first (KEV, then EPSS, then CVSS)."""
    where = ["true"]
    params: list[Any] = []
    if not include_suppressed:
        where.append("NOT suppressed")
    if product:
        where.append("product = ?")
        params.append(product)
    if kev_only:
        where.append("kev")
    sql = (
        f"SELECT {', '.join(FINDING_FIELDS)} FROM vuln_finding WHERE {' AND '.join(where)} "
        "ORDER BY kev DESC, epss DESC NULLS LAST, cvss DESC NULLS LAST, product, component, "
        "vuln_id" + (f" LIMIT {int(limit)}" if limit else "")
    )
    rows: list[dict[str, Any]] = store.arrow(sql, params).to_pylist()
    return rows
