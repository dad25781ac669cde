"""Connectors for SBOMs and vulnerability data: files in, store rows out.

A document that cannot be read at all (not UTF-8, broken JSON/XML, an unknown format, a
field too large) is quarantined whole with the reason; a bad record inside a good document
(a component without a name, an advisory with a mistyped field) is quarantined alone, with
its JSON pointer or line, and the rest of the document lands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from carewarden.connectors.base import open_binary, walk
from carewarden.iomt import advisories as adv
from carewarden.iomt import sbom as sbom_parser
from carewarden.iomt.documents import DocumentError
from carewarden.iomt.packages import name_key, parse_cpe, parse_purl
from carewarden.model import Batch, Rejected, preview
from carewarden.tables import SCHEMAS

# A document larger than this is refused: real SBOMs and advisory feeds are far smaller
# (the whole EPSS CSV is ~10 MB), and the parsers hold a document in memory.
MAX_DOCUMENT_BYTES = 512 << 20


def batch(table: str, rows: dict[str, list[Any]]) -> Batch:
    return Batch(table, pa.Table.from_pydict(rows, schema=SCHEMAS[table]))


def records_batch(table: str, records: Sequence[Any]) -> Batch:
    """The table's rows from records whose attributes are named as its columns."""
    return batch(table, {n: [getattr(r, n) for r in records] for n in SCHEMAS[table].names})


def _read(path: Path) -> bytes:
    with open_binary(path) as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
    return data


def _reject(message: str, data: bytes | None = None) -> Rejected:
    line: int | None = None
    if message.startswith("line "):
        number = message[5:].split(":", 1)[0].split(" ", 1)[0]
        line = int(number) if number.isdigit() else None
    return Rejected(line, None, message, preview(data))


class SbomConnector:
    """CycloneDX (JSON, XML) and SPDX 2.x (JSON, tag-value) SBOMs."""

    name: ClassVar[str] = "sbom"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".xml", ".spdx", ".cdx", ".json.gz")

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, self.suffixes)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        data: bytes | None = None
        try:
            data = _read(path)
            bom = sbom_parser.parse(data, path.name.split(".", 1)[0])
        except DocumentError as exc:
            yield _reject(str(exc), data)
            return
        for message in bom.rejects:
            yield _reject(message)
        yield from sbom_batches(bom)


def sbom_batches(bom: sbom_parser.Sbom) -> Iterator[Batch]:
    yield batch(
        "sbom",
        {
            "sbom_id": [bom.sbom_id],
            "format": [bom.format],
            "spec_version": [bom.spec_version],
            "serial_number": [bom.serial_number],
            "bom_version": [bom.bom_version],
            "product": [bom.product],
            "product_version": [bom.product_version],
            "product_ref": [bom.product_ref],
            "supplier": [bom.supplier],
            "created": [bom.created],
        },
    )
    yield component_batch(bom.sbom_id, bom.components)
    if bom.vex:
        doc = adv.VexDocument(f"cyclonedx:{bom.sbom_id}", "cyclonedx", bom.product, bom.created)
        for statement in bom.vex:
            row = adv.vex_row(statement, bom.product)
            doc.statements.append(row)
        yield from vex_batches([doc], sbom_id=bom.sbom_id)


def component_batch(sbom_id: str, components: Sequence[sbom_parser.Component]) -> Batch:
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMAS["sbom_component"].names}
    for index, comp in enumerate(components):
        key = parse_purl(comp.purl) if comp.purl else None
        cpe = parse_cpe(comp.cpe) if comp.cpe else None
        columns["sbom_id"].append(sbom_id)
        columns["component_id"].append(f"{sbom_id}#{index}")
        columns["bom_ref"].append(comp.bom_ref)
        columns["is_product"].append(comp.is_product)
        columns["component_type"].append(comp.component_type)
        columns["name"].append(comp.name)
        columns["version"].append(comp.version)
        columns["supplier"].append(comp.supplier)
        columns["purl"].append(comp.purl)
        columns["pkg_key"].append(key.key if key else None)
        columns["pkg_version"].append((key.version if key else None) or comp.version)
        columns["cpe"].append(comp.cpe)
        columns["cpe_key"].append(cpe.key if cpe else None)
        columns["cpe_version"].append((cpe.version if cpe else None) or comp.version)
        columns["name_key"].append(name_key(comp.name))
    return batch("sbom_component", columns)


def vex_batches(docs: Sequence[adv.VexDocument], sbom_id: str | None = None) -> Iterator[Batch]:
    if not docs:
        return
    yield batch(
        "vex_document",
        {
            "doc_id": [d.doc_id for d in docs],
            "source": [d.source for d in docs],
            "product": [d.product for d in docs],
            "modified": [d.modified for d in docs],
        },
    )
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMAS["vex_statement"].names}
    for doc in docs:
        for row in doc.statements:
            target = row.target
            columns["doc_id"].append(doc.doc_id)
            columns["vuln_id"].append(row.vuln_id)
            columns["status"].append(row.status)
            columns["justification"].append(row.justification)
            columns["detail"].append(row.detail)
            columns["product"].append(row.product)
            columns["bom_serial"].append(row.bom_serial)
            columns["bom_version"].append(row.bom_version)
            columns["bom_ref"].append(row.bom_ref)
            local = sbom_id is not None and row.bom_serial is None
            columns["sbom_id"].append(sbom_id if local else None)
            columns["method"].append(target.method if target else None)
            columns["pkg_key"].append(target.pkg_key if target else None)
            columns["scheme"].append(target.scheme if target else None)
            columns["vers"].append(target.vers if target else None)
            columns["versions"].append(list(target.versions) if target else None)
            columns["range_key"].append(target.range_key if target else None)
    yield batch("vex_statement", columns)


class AdvisoryConnector:
    """OSV (JSON/YAML), NVD 2.0, CSAF 2.0, CycloneDX VEX, CISA KEV and EPSS, by content."""

    name: ClassVar[str] = "advisories"
    suffixes: ClassVar[tuple[str, ...]] = (
        ".json",
        ".yaml",
        ".yml",
        ".csv",
        ".json.gz",
        ".csv.gz",
    )

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()

    def discover(self, path: Path) -> list[Path]:
        return walk(path, self.suffixes)

    def read(self, path: Path) -> Iterator[Batch | Rejected]:
        data: bytes | None = None
        try:
            data = _read(path)
            parsed = adv.parse(data, path.name.removesuffix(".gz"))
        except DocumentError as exc:
            yield _reject(str(exc), data)
            return
        self.ignored.update(parsed.ignored)
        for message in parsed.rejects:
            yield _reject(message)
        yield from advisory_batches(parsed.advisories)
        if parsed.kev:
            yield kev_batch(parsed.kev)
        if parsed.epss:
            yield epss_batch(parsed.epss)
        yield from vex_batches(parsed.vex)


def advisory_batches(records: Sequence[adv.Advisory]) -> Iterator[Batch]:
    if not records:
        return
    yield records_batch("advisory", records)
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMAS["advisory_range"].names}
    for record in records:
        for rng in record.ranges:
            columns["advisory_id"].append(record.advisory_id)
            columns["method"].append(rng.method)
            columns["pkg_key"].append(rng.pkg_key)
            columns["scheme"].append(rng.scheme)
            columns["vers"].append(rng.vers)
            columns["versions"].append(list(rng.versions) or None)
            columns["range_key"].append(rng.range_key)
    yield batch("advisory_range", columns)


def kev_batch(entries: Sequence[adv.KevEntry]) -> Batch:
    return records_batch("kev", entries)


def epss_batch(scores: Sequence[adv.EpssScore]) -> Batch:
    return records_batch("epss", scores)
