"""Vulnerability data parsers, detected by content: OSV (JSON, a JSON list of records, or
YAML), NVD CVE API 2.0, CSAF 2.0 (with VEX product status), CycloneDX VEX, the CISA KEV
catalogue (JSON or CSV) and EPSS scores (CSV).

Everything becomes plain records: :class:`Advisory` with its :class:`AffectedRange` rows,
:class:`KevEntry`, :class:`EpssScore` and :class:`VexDocument`. A bad record lands in
``rejects`` with a JSON pointer (or line) and the others are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from carewarden.iomt import sbom as sbom_parser
from carewarden.iomt.documents import (
    DocumentError,
    decode,
    items,
    load_json,
    load_yaml,
    mapping,
    text,
)
from carewarden.iomt.packages import (
    name_key,
    osv_package_key,
    parse_cpe,
    parse_purl,
)
from carewarden.iomt.sbom import parse_time
from carewarden.iomt.versions import range_key, vers_from_bounds, vers_from_events


@dataclass(frozen=True)
class AffectedRange:
    method: str  # purl | cpe | name
    pkg_key: str
    scheme: str
    vers: str | None
    versions: tuple[str, ...] = ()

    @property
    def range_key(self) -> str:
        return range_key(self.scheme, self.vers, self.versions)


@dataclass
class Advisory:
    advisory_id: str
    vuln_id: str
    source: str
    aliases: list[str] = field(default_factory=list)
    document: str | None = None
    summary: str | None = None
    published: dt.datetime | None = None
    modified: dt.datetime | None = None
    withdrawn: dt.datetime | None = None
    cvss_score: float | None = None
    cvss_vector: str | None = None
    ranges: list[AffectedRange] = field(default_factory=list)


@dataclass(frozen=True)
class KevEntry:
    cve_id: str
    vendor: str | None
    product: str | None
    name: str | None
    date_added: dt.date | None
    due_date: dt.date | None
    ransomware: str | None


@dataclass(frozen=True)
class EpssScore:
    cve_id: str
    epss: float
    percentile: float | None
    score_date: dt.date | None
    model_version: str | None


@dataclass(frozen=True)
class VexRow:
    """One VEX statement: about a bom-ref (CycloneDX) or a package range (CSAF)."""

    vuln_id: str
    status: str
    justification: str | None = None
    detail: str | None = None
    product: str | None = None
    bom_serial: str | None = None
    bom_version: int | None = None
    bom_ref: str | None = None
    target: AffectedRange | None = None


@dataclass
class VexDocument:
    doc_id: str
    source: str
    product: str | None
    modified: dt.datetime | None
    statements: list[VexRow] = field(default_factory=list)


@dataclass
class Parsed:
    kind: str  # osv | nvd | csaf | cyclonedx-vex | kev | epss
    advisories: list[Advisory] = field(default_factory=list)
    kev: list[KevEntry] = field(default_factory=list)
    epss: list[EpssScore] = field(default_factory=list)
    vex: list[VexDocument] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


# -- detection -----------------------------------------------------------------------------
def parse(data: bytes, name: str) -> Parsed:
    """Parse one advisory file of any supported kind, detected from its content."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return parse_json(load_json(data), data, name)
    first = decode(head).split("\n", 1)[0].strip().lower()
    if first.startswith("#model_version") or first.startswith("cve,epss"):
        return parse_epss(decode(data))
    if first.startswith("cveid,vendorproject"):
        return parse_kev_csv(decode(data))
    if name.lower().endswith((".yaml", ".yml")) or re.match(r"^(id|schema_version):", first):
        doc = load_yaml(data)
        parsed = Parsed("osv")
        _add_osv(parsed, mapping(doc, "/"), "")
        return parsed
    raise DocumentError("not OSV, NVD 2.0, CSAF 2.0, CycloneDX VEX, KEV or EPSS data")


def parse_json(doc: Any, data: bytes, name: str) -> Parsed:
    if isinstance(doc, list):
        parsed = Parsed("osv")
        for index, record in enumerate(doc):
            try:
                _add_osv(parsed, mapping(record, f"/{index}"), f"/{index}")
            except DocumentError as exc:
                parsed.rejects.append(str(exc))
        return parsed
    doc = mapping(doc, "/")
    if "catalogVersion" in doc and "vulnerabilities" in doc:
        return parse_kev_json(doc)
    if isinstance(doc.get("document"), dict) and "csaf_version" in doc["document"]:
        return parse_csaf(doc)
    if doc.get("format") == "NVD_CVE" or (
        isinstance(doc.get("vulnerabilities"), list)
        and doc["vulnerabilities"]
        and isinstance(doc["vulnerabilities"][0], dict)
        and isinstance(doc["vulnerabilities"][0].get("cve"), dict)
    ):
        return parse_nvd(doc)
    if doc.get("bomFormat") == "CycloneDX":
        return parse_cyclonedx_vex(doc, data, name)
    if "id" in doc and ("affected" in doc or "modified" in doc):
        parsed = Parsed("osv")
        _add_osv(parsed, doc, "")
        return parsed
    raise DocumentError("JSON that is not OSV, NVD 2.0, CSAF 2.0, CycloneDX VEX or KEV")


# -- CVSS ----------------------------------------------------------------------------------
def cvss_score(vector: str) -> float | None:
    """The base score of a CVSS v2, v3.x or v4.0 vector; None when it does not parse."""
    from cvss import CVSS2, CVSS3, CVSS4

    try:
        if vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            return float(CVSS3(vector).base_score)
        return float(CVSS2(vector).base_score)
    except Exception:
        return None


# -- OSV -----------------------------------------------------------------------------------
def _add_osv(parsed: Parsed, doc: dict[str, Any], where: str) -> None:
    vuln_id = text(doc.get("id"), f"{where}/id", required=True) or ""
    aliases = [
        alias
        for i, raw in enumerate(items(doc.get("aliases"), f"{where}/aliases"))
        if (alias := text(raw, f"{where}/aliases/{i}"))
    ]
    advisory = Advisory(
        advisory_id=f"osv:{vuln_id}",
        vuln_id=vuln_id,
        source="osv",
        aliases=aliases,
        document=vuln_id.split("-", 1)[0],
        summary=text(doc.get("summary"), f"{where}/summary")
        or _first_line(text(doc.get("details"), f"{where}/details")),
        published=parse_time(_time_text(doc.get("published"))),
        modified=parse_time(_time_text(doc.get("modified"))),
        withdrawn=parse_time(_time_text(doc.get("withdrawn"))),
    )
    for index, severity in enumerate(items(doc.get("severity"), f"{where}/severity")):
        score = text(
            mapping(severity, f"{where}/severity/{index}").get("score"),
            f"{where}/severity/{index}/score",
        )
        if score and score.startswith("CVSS:") and advisory.cvss_vector is None:
            advisory.cvss_vector, advisory.cvss_score = score, cvss_score(score)
    for index, affected in enumerate(items(doc.get("affected"), f"{where}/affected")):
        _osv_affected(
            parsed,
            advisory,
            mapping(affected, f"{where}/affected/{index}"),
            f"{where}/affected/{index}",
        )
    parsed.advisories.append(advisory)


def _time_text(value: Any) -> str | None:
    if isinstance(value, dt.datetime):  # YAML loads times as datetimes
        return value.isoformat()
    return value if isinstance(value, str) else None


def _first_line(value: str | None) -> str | None:
    return value.strip().split("\n", 1)[0][:300] if value else None


def _osv_affected(parsed: Parsed, advisory: Advisory, affected: dict[str, Any], where: str) -> None:
    package = mapping(affected.get("package"), f"{where}/package")
    ecosystem = text(package.get("ecosystem"), f"{where}/package/ecosystem")
    name = text(package.get("name"), f"{where}/package/name")
    key = osv_package_key(ecosystem, name) if ecosystem and name else None
    if key is None:
        purl = text(package.get("purl"), f"{where}/package/purl")
        key = parse_purl(purl) if purl else None
    if key is None:
        parsed.ignored.append(f"OSV package without a known ecosystem ({ecosystem or 'none'})")
        return
    versions = tuple(
        v
        for i, raw in enumerate(items(affected.get("versions"), f"{where}/versions"))
        if (v := text(raw, f"{where}/versions/{i}"))
    )
    for index, rng in enumerate(items(affected.get("ranges"), f"{where}/ranges")):
        rng = mapping(rng, f"{where}/ranges/{index}")
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits; the versions list covers them
        events: list[tuple[str, str]] = []
        for n, event in enumerate(items(rng.get("events"), f"{where}/ranges/{index}/events")):
            for kind, value in mapping(event, f"{where}/ranges/{index}/events/{n}").items():
                value_text = text(value, f"{where}/ranges/{index}/events/{n}/{kind}")
                if value_text:
                    events.append((kind, value_text))
        vers = vers_from_events(key.scheme, events)
        if vers:
            advisory.ranges.append(AffectedRange("purl", key.key, key.scheme, vers))
    if versions:
        advisory.ranges.append(AffectedRange("purl", key.key, key.scheme, None, versions))


# -- NVD CVE API 2.0 -----------------------------------------------------------------------
_NVD_METRICS = ("cvssMetricV31", "cvssMetricV40", "cvssMetricV30", "cvssMetricV2")


def parse_nvd(doc: dict[str, Any]) -> Parsed:
    parsed = Parsed("nvd")
    for index, item in enumerate(items(doc.get("vulnerabilities"), "/vulnerabilities")):
        where = f"/vulnerabilities/{index}/cve"
        try:
            cve = mapping(mapping(item, f"/vulnerabilities/{index}").get("cve"), where)
            parsed.advisories.append(_nvd_cve(cve, where))
        except DocumentError as exc:
            parsed.rejects.append(str(exc))
    return parsed


def _nvd_cve(cve: dict[str, Any], where: str) -> Advisory:
    cve_id = text(cve.get("id"), f"{where}/id", required=True) or ""
    summary = next(
        (
            d.get("value")
            for d in items(cve.get("descriptions"), f"{where}/descriptions")
            if isinstance(d, dict) and d.get("lang") == "en"
        ),
        None,
    )
    advisory = Advisory(
        advisory_id=f"nvd:{cve_id}",
        vuln_id=cve_id,
        source="nvd",
        document="NVD",
        summary=_first_line(text(summary, f"{where}/descriptions")),
        published=parse_time(text(cve.get("published"), f"{where}/published")),
        modified=parse_time(text(cve.get("lastModified"), f"{where}/lastModified")),
    )
    if cve.get("vulnStatus") == "Rejected":
        advisory.withdrawn = advisory.modified
    metrics = mapping(cve.get("metrics"), f"{where}/metrics")
    for name in _NVD_METRICS:
        entries = [
            m for m in items(metrics.get(name), f"{where}/metrics/{name}") if isinstance(m, dict)
        ]
        entries.sort(key=lambda m: m.get("type") != "Primary")
        if entries:
            data = mapping(entries[0].get("cvssData"), f"{where}/metrics/{name}/0/cvssData")
            score = data.get("baseScore")
            advisory.cvss_score = float(score) if isinstance(score, int | float) else None
            advisory.cvss_vector = text(data.get("vectorString"), f"{where}/metrics/{name}")
            break
    for c, config in enumerate(items(cve.get("configurations"), f"{where}/configurations")):
        nodes = items(
            mapping(config, f"{where}/configurations/{c}").get("nodes"),
            f"{where}/configurations/{c}/nodes",
        )
        for n, node in enumerate(nodes):
            node_where = f"{where}/configurations/{c}/nodes/{n}"
            node = mapping(node, node_where)
            if node.get("negate"):
                continue
            for m, match in enumerate(items(node.get("cpeMatch"), f"{node_where}/cpeMatch")):
                rng = _nvd_match(
                    mapping(match, f"{node_where}/cpeMatch/{m}"), f"{node_where}/cpeMatch/{m}"
                )
                if rng is not None and rng not in advisory.ranges:
                    advisory.ranges.append(rng)
    return advisory


def _nvd_match(match: dict[str, Any], where: str) -> AffectedRange | None:
    if match.get("vulnerable") is False:
        return None
    criteria = text(match.get("criteria"), f"{where}/criteria", required=True) or ""
    cpe = parse_cpe(criteria)
    if cpe is None:
        raise DocumentError(f"{where}/criteria: not a CPE: {criteria[:80]!r}")
    bounds = [
        text(match.get(k), f"{where}/{k}")
        for k in (
            "versionStartIncluding",
            "versionStartExcluding",
            "versionEndIncluding",
            "versionEndExcluding",
        )
    ]
    if cpe.version is not None and not any(bounds):
        return AffectedRange("cpe", cpe.key, "generic", None, (cpe.version,))
    return AffectedRange("cpe", cpe.key, "generic", vers_from_bounds("generic", *bounds))


# -- CSAF 2.0 ------------------------------------------------------------------------------
# CSAF product_status -> VEX status; "affected" statuses also become affected ranges.
CSAF_STATUS = {
    "known_affected": "affected",
    "first_affected": "affected",
    "last_affected": "affected",
    "known_not_affected": "not_affected",
    "fixed": "fixed",
    "first_fixed": "fixed",
    "under_investigation": "under_investigation",
}


def _csaf_version_target(
    vendor: str | None, product: str | None, version: str | None, version_range: str | None
) -> AffectedRange | None:
    key = name_key(product)
    if key is None:
        return None
    if version_range:
        spec = version_range.replace(" ", "")
        vers = spec if spec.startswith("vers:") else f"vers:generic/{spec}"
        if vers.startswith("vers:all/"):
            vers = "vers:generic/*"
        return AffectedRange("name", key, "generic", vers)
    if version:
        listed = tuple(v.strip() for v in version.split("|") if v.strip())
        return AffectedRange("name", key, "generic", None, listed)
    return AffectedRange("name", key, "generic", "vers:generic/*")


def _helper_target(helper: dict[str, Any], where: str) -> AffectedRange | None:
    purl = text(helper.get("purl"), f"{where}/purl")
    if purl and (key := parse_purl(purl)) is not None:
        if key.version:
            return AffectedRange("purl", key.key, key.scheme, None, (key.version,))
        return AffectedRange("purl", key.key, key.scheme, f"vers:{key.scheme}/*")
    cpe_text = text(helper.get("cpe"), f"{where}/cpe")
    if cpe_text and (cpe := parse_cpe(cpe_text)) is not None:
        if cpe.version:
            return AffectedRange("cpe", cpe.key, "generic", None, (cpe.version,))
        return AffectedRange("cpe", cpe.key, "generic", "vers:generic/*")
    return None


def _csaf_products(tree: dict[str, Any]) -> dict[str, AffectedRange]:
    """product_id -> what it names: a purl or CPE helper if given, else the branch path's
    product name and version (range)."""
    found: dict[str, AffectedRange] = {}

    def full_name(obj: dict[str, Any], where: str, path: dict[str, str]) -> None:
        pid = text(obj.get("product_id"), f"{where}/product_id")
        if not pid:
            return
        helper = mapping(obj.get("product_identification_helper"), f"{where}/helper")
        target = _helper_target(helper, f"{where}/product_identification_helper")
        if target is None:
            target = _csaf_version_target(
                path.get("vendor"),
                path.get("product_name") or text(obj.get("name"), f"{where}/name"),
                path.get("product_version"),
                path.get("product_version_range"),
            )
        if target is not None:
            found[pid] = target

    def walk(branches: list[Any], where: str, path: dict[str, str]) -> None:
        for index, branch in enumerate(branches):
            here = f"{where}/{index}"
            branch = mapping(branch, here)
            category = str(branch.get("category", ""))
            step = {**path, category: text(branch.get("name"), f"{here}/name") or ""}
            if isinstance(branch.get("product"), dict):
                full_name(branch["product"], f"{here}/product", step)
            walk(items(branch.get("branches"), f"{here}/branches"), f"{here}/branches", step)

    walk(items(tree.get("branches"), "/product_tree/branches"), "/product_tree/branches", {})
    for index, obj in enumerate(items(tree.get("full_product_names"), "/product_tree/fpn")):
        full_name(
            mapping(obj, f"/product_tree/full_product_names/{index}"),
            f"/product_tree/full_product_names/{index}",
            {},
        )
    # "component X installed on platform Y" is a product of its own: X is what an SBOM lists.
    for index, rel in enumerate(items(tree.get("relationships"), "/product_tree/relationships")):
        rel = mapping(rel, f"/product_tree/relationships/{index}")
        component = found.get(str(rel.get("product_reference")))
        product = mapping(rel.get("full_product_name"), f"/product_tree/relationships/{index}")
        pid = product.get("product_id")
        if component is not None and isinstance(pid, str) and pid not in found:
            found[pid] = component
    return found


def parse_csaf(doc: dict[str, Any]) -> Parsed:
    parsed = Parsed("csaf")
    document = mapping(doc.get("document"), "/document")
    tracking = mapping(document.get("tracking"), "/document/tracking")
    tracking_id = text(tracking.get("id"), "/document/tracking/id", required=True) or ""
    modified = parse_time(text(tracking.get("current_release_date"), "/document/tracking"))
    published = parse_time(text(tracking.get("initial_release_date"), "/document/tracking"))
    products = _csaf_products(mapping(doc.get("product_tree"), "/product_tree"))
    vex = VexDocument(f"csaf:{tracking_id}", "csaf", None, modified)
    for index, vuln in enumerate(items(doc.get("vulnerabilities"), "/vulnerabilities")):
        where = f"/vulnerabilities/{index}"
        try:
            _csaf_vulnerability(
                parsed,
                vex,
                mapping(vuln, where),
                where,
                tracking_id,
                products,
                published,
                modified,
                text(document.get("title"), "/document/title"),
            )
        except DocumentError as exc:
            parsed.rejects.append(str(exc))
    if vex.statements:
        parsed.vex.append(vex)
    return parsed


def _csaf_vulnerability(
    parsed: Parsed,
    vex: VexDocument,
    vuln: dict[str, Any],
    where: str,
    tracking_id: str,
    products: dict[str, AffectedRange],
    published: dt.datetime | None,
    modified: dt.datetime | None,
    title: str | None,
) -> None:
    cve = text(vuln.get("cve"), f"{where}/cve")
    ids = [
        t
        for i, obj in enumerate(items(vuln.get("ids"), f"{where}/ids"))
        if (t := text(mapping(obj, f"{where}/ids/{i}").get("text"), f"{where}/ids/{i}/text"))
    ]
    vuln_id = cve or (ids[0] if ids else f"{tracking_id}#{where.rsplit('/', 1)[-1]}")
    summary = None
    for i, note in enumerate(items(vuln.get("notes"), f"{where}/notes")):
        note = mapping(note, f"{where}/notes/{i}")
        if note.get("category") in ("summary", "description"):
            summary = _first_line(text(note.get("text"), f"{where}/notes/{i}/text"))
            break
    advisory = Advisory(
        advisory_id=f"csaf:{tracking_id}#{vuln_id}",
        vuln_id=vuln_id,
        source="csaf",
        aliases=[i for i in ids if i != vuln_id],
        document=tracking_id,
        summary=summary or text(vuln.get("title"), f"{where}/title") or title,
        published=parse_time(text(vuln.get("release_date"), f"{where}/release_date")) or published,
        modified=modified,
    )
    for i, score in enumerate(items(vuln.get("scores"), f"{where}/scores")):
        score = mapping(score, f"{where}/scores/{i}")
        for name in ("cvss_v3", "cvss_v2"):
            data = score.get(name)
            if isinstance(data, dict) and advisory.cvss_score is None:
                base = data.get("baseScore")
                advisory.cvss_score = float(base) if isinstance(base, int | float) else None
                advisory.cvss_vector = text(data.get("vectorString"), f"{where}/scores/{i}")
    justification = _csaf_justifications(vuln, where)
    status = mapping(vuln.get("product_status"), f"{where}/product_status")
    for category, vex_status in CSAF_STATUS.items():
        for pid in items(status.get(category), f"{where}/product_status/{category}"):
            target = products.get(str(pid))
            if target is None:
                parsed.ignored.append("CSAF product id not in the product tree")
                continue
            if vex_status == "affected" and target not in advisory.ranges:
                advisory.ranges.append(target)
            vex.statements.append(
                VexRow(vuln_id, vex_status, justification.get(str(pid)), None, target=target)
            )
    parsed.advisories.append(advisory)


def _csaf_justifications(vuln: dict[str, Any], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, flag in enumerate(items(vuln.get("flags"), f"{where}/flags")):
        flag = mapping(flag, f"{where}/flags/{i}")
        label = text(flag.get("label"), f"{where}/flags/{i}/label")
        for pid in items(flag.get("product_ids"), f"{where}/flags/{i}/product_ids"):
            if label:
                found.setdefault(str(pid), label)
    for i, threat in enumerate(items(vuln.get("threats"), f"{where}/threats")):
        threat = mapping(threat, f"{where}/threats/{i}")
        if threat.get("category") == "impact":
            detail = text(threat.get("details"), f"{where}/threats/{i}/details")
            for pid in items(threat.get("product_ids"), f"{where}/threats/{i}/product_ids"):
                if detail:
                    found.setdefault(str(pid), detail[:500])
    return found


# -- CycloneDX VEX -------------------------------------------------------------------------
_BOM_LINK = re.compile(r"^urn:cdx:(?P<serial>[^/#]+)(?:/(?P<version>\d+))?#(?P<ref>.+)$")


def parse_cyclonedx_vex(doc: dict[str, Any], data: bytes, name: str) -> Parsed:
    """A CycloneDX document's ``vulnerabilities[].analysis``: VEX statements about the
    products and components its refs (plain or BOM-Link) name."""
    parsed = Parsed("cyclonedx-vex")
    bom = sbom_parser.parse_cyclonedx_json(doc, data, name)
    parsed.rejects.extend(bom.rejects)
    product = bom.product if any(c.is_product for c in bom.components) else None
    document = VexDocument(f"cyclonedx:{bom.sbom_id}", "cyclonedx", product, bom.created)
    for statement in bom.vex:
        document.statements.append(vex_row(statement, product))
    if document.statements:
        parsed.vex.append(document)
    return parsed


def vex_row(statement: sbom_parser.VexStatement, product: str | None) -> VexRow:
    link = _BOM_LINK.match(statement.ref)
    if link:
        version = link.group("version")
        return VexRow(
            statement.vuln_id,
            statement.status,
            statement.justification,
            statement.detail,
            bom_serial=f"urn:uuid:{link.group('serial')}",
            bom_version=int(version) if version else None,
            bom_ref=link.group("ref"),
        )
    return VexRow(
        statement.vuln_id,
        statement.status,
        statement.justification,
        statement.detail,
        product=product,
        bom_ref=statement.ref,
    )


# -- KEV and EPSS --------------------------------------------------------------------------
def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _kev_entry(row: dict[str, Any], where: str) -> KevEntry:
    cve = text(row.get("cveID"), f"{where}/cveID", required=True) or ""
    if not cve.upper().startswith("CVE-"):
        raise DocumentError(f"{where}/cveID: not a CVE id: {cve[:40]!r}")
    return KevEntry(
        cve.upper(),
        text(row.get("vendorProject"), f"{where}/vendorProject"),
        text(row.get("product"), f"{where}/product"),
        text(row.get("vulnerabilityName"), f"{where}/vulnerabilityName"),
        _date(text(row.get("dateAdded"), f"{where}/dateAdded")),
        _date(text(row.get("dueDate"), f"{where}/dueDate")),
        text(row.get("knownRansomwareCampaignUse"), f"{where}/knownRansomwareCampaignUse"),
    )


def parse_kev_json(doc: dict[str, Any]) -> Parsed:
    parsed = Parsed("kev")
    for index, row in enumerate(items(doc.get("vulnerabilities"), "/vulnerabilities")):
        try:
            parsed.kev.append(
                _kev_entry(mapping(row, f"/vulnerabilities/{index}"), f"/vulnerabilities/{index}")
            )
        except DocumentError as exc:
            parsed.rejects.append(str(exc))
    return parsed


def _csv_rows(content: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content))
    for row in reader:
        yield reader.line_num, row


def parse_kev_csv(content: str) -> Parsed:
    parsed = Parsed("kev")
    for line, row in _csv_rows(content):
        try:
            parsed.kev.append(_kev_entry(row, f"line {line}"))
        except DocumentError as exc:
            parsed.rejects.append(str(exc))
    return parsed


def parse_epss(content: str) -> Parsed:
    """EPSS daily CSV: ``#model_version:…,score_date:…`` then ``cve,epss,percentile``."""
    parsed = Parsed("epss")
    model: str | None = None
    day: dt.date | None = None
    lines = content.splitlines()
    offset = 0
    if lines and lines[0].startswith("#"):
        for part in lines[0].lstrip("#").split(","):
            key, _, value = part.partition(":")
            if key.strip() == "model_version":
                model = value.strip()
            elif key.strip() == "score_date":
                day = _date(value.strip())
        offset = 1
    reader = csv.reader(lines[offset:])
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["cve", "epss"]:
        raise DocumentError(f"line {offset + 1}: expected the header cve,epss,percentile")
    for number, row in enumerate(reader, start=offset + 2):
        try:
            if len(row) < 2 or not row[0].upper().startswith("CVE-"):
                raise DocumentError(f"line {number}: expected CVE-…,score[,percentile]")
            score = float(row[1])
            percentile = float(row[2]) if len(row) > 2 and row[2] else None
            if not 0.0 <= score <= 1.0:
                raise DocumentError(f"line {number}: EPSS {score} outside 0..1")
        except ValueError:
            parsed.rejects.append(f"line {number}: not a number: {','.join(row)[:80]!r}")
            continue
        except DocumentError as exc:
            parsed.rejects.append(str(exc))
            continue
        parsed.epss.append(EpssScore(row[0].strip().upper(), score, percentile, day, model))
    return parsed
