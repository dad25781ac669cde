"""SBOM parsers: CycloneDX (JSON and XML, 1.2-1.6) and SPDX 2.x (JSON and tag-value).

Each yields one :class:`Sbom`: the product it describes (the metadata component for
CycloneDX, the described package for SPDX), its components, and the VEX statements a
CycloneDX document carries. A bad component is reported in ``rejects`` and skipped; the
rest of the SBOM is kept. The format is detected from the content, not the file name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from blake3 import blake3

from carewarden.iomt.documents import (
    DocumentError,
    decode,
    items,
    load_json,
    load_xml,
    local,
    mapping,
    text,
)


@dataclass(frozen=True)
class Component:
    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    bom_ref: str | None = None
    supplier: str | None = None
    component_type: str | None = None
    is_product: bool = False


@dataclass(frozen=True)
class VexStatement:
    """One CycloneDX ``vulnerabilities[].analysis`` for one ``affects[].ref``."""

    vuln_id: str
    status: str  # not_affected | affected | fixed | under_investigation
    justification: str | None
    detail: str | None
    ref: str  # a bom-ref, or a BOM-Link urn:cdx:serial/version#bom-ref


@dataclass
class Sbom:
    format: str  # cyclonedx | spdx
    spec_version: str | None
    sbom_id: str
    serial_number: str | None
    bom_version: int | None
    product: str
    product_version: str | None
    product_ref: str | None
    supplier: str | None
    created: dt.datetime | None
    components: list[Component] = field(default_factory=list)
    vex: list[VexStatement] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)  # "pointer: reason"


# CycloneDX analysis.state -> VEX status (CISA minimum requirements wording).
CDX_STATES = {
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "exploitable": "affected",
    "in_triage": "under_investigation",
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
}


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time as naive UTC; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def content_id(data: bytes) -> str:
    return "sha:" + blake3(data).hexdigest()[:32]


def parse(data: bytes, fallback_name: str) -> Sbom:
    """Parse an SBOM of any supported format, detected from its content; ``fallback_name``
    names a product the SBOM does not name itself (the file name)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        doc = mapping(load_json(data), "/")
        if doc.get("bomFormat") == "CycloneDX":
            return parse_cyclonedx_json(doc, data, fallback_name)
        if "spdxVersion" in doc:
            return parse_spdx_json(doc, data, fallback_name)
        if "spdx" in str(doc.get("@context", "")).lower():
            raise DocumentError("SPDX 3.0 JSON-LD is not supported yet (SPDX 2.x only)")
        raise DocumentError("JSON that is neither CycloneDX (bomFormat) nor SPDX (spdxVersion)")
    if head.startswith(b"<"):
        if b"cyclonedx.org/schema/bom" not in head:
            raise DocumentError("XML that is not a CycloneDX BOM")
        return parse_cyclonedx_xml(data, fallback_name)
    if re.search(rb"^SPDXVersion:", head, re.MULTILINE):
        return parse_spdx_tag(data, fallback_name)
    decode(data[:65536])  # a clearer error for a file that is not text at all
    raise DocumentError("not a CycloneDX or SPDX 2.x document")


# -- CycloneDX JSON ------------------------------------------------------------------------
def _cdx_supplier(obj: dict[str, Any], where: str) -> str | None:
    for key in ("supplier", "manufacturer", "manufacture"):
        org = obj.get(key)
        if isinstance(org, dict):
            found = text(org.get("name"), f"{where}/{key}/name")
            if found:
                return found
    return text(obj.get("publisher"), f"{where}/publisher") or text(
        obj.get("author"), f"{where}/author"
    )


def _cdx_component(obj: Any, where: str, *, is_product: bool = False) -> Component:
    obj = mapping(obj, where)
    cpe = text(obj.get("cpe"), f"{where}/cpe")
    return Component(
        name=text(obj.get("name"), f"{where}/name", required=True) or "",
        version=text(obj.get("version"), f"{where}/version"),
        purl=text(obj.get("purl"), f"{where}/purl"),
        cpe=cpe,
        bom_ref=text(obj.get("bom-ref"), f"{where}/bom-ref"),
        supplier=_cdx_supplier(obj, where),
        component_type=text(obj.get("type"), f"{where}/type"),
        is_product=is_product,
    )


def _walk_cdx_components(objs: list[Any], where: str, sbom: Sbom) -> None:
    for index, obj in enumerate(objs):
        pointer = f"{where}/{index}"
        try:
            sbom.components.append(_cdx_component(obj, pointer))
            nested = items(obj.get("components"), f"{pointer}/components")
        except DocumentError as exc:
            sbom.rejects.append(str(exc))
            continue
        _walk_cdx_components(nested, f"{pointer}/components", sbom)


def _cdx_vex(vulns: list[Any], sbom: Sbom) -> None:
    for index, obj in enumerate(vulns):
        where = f"/vulnerabilities/{index}"
        try:
            obj = mapping(obj, where)
            analysis = mapping(obj.get("analysis"), f"{where}/analysis")
            state = text(analysis.get("state"), f"{where}/analysis/state")
            if state is None:
                continue  # a VDR entry without analysis says nothing about exploitability
            status = CDX_STATES.get(state)
            if status is None:
                raise DocumentError(f"{where}/analysis/state: unknown state {state!r}")
            vuln_id = text(obj.get("id"), f"{where}/id", required=True) or ""
            for n, affect in enumerate(items(obj.get("affects"), f"{where}/affects")):
                ref = (
                    text(
                        mapping(affect, f"{where}/affects/{n}").get("ref"),
                        f"{where}/affects/{n}/ref",
                        required=True,
                    )
                    or ""
                )
                sbom.vex.append(
                    VexStatement(
                        vuln_id,
                        status,
                        text(analysis.get("justification"), f"{where}/analysis/justification"),
                        text(analysis.get("detail"), f"{where}/analysis/detail"),
                        ref,
                    )
                )
        except DocumentError as exc:
            sbom.rejects.append(str(exc))


def parse_cyclonedx_json(doc: dict[str, Any], data: bytes, fallback_name: str) -> Sbom:
    meta = mapping(doc.get("metadata"), "/metadata")
    product = (
        _cdx_component(meta["component"], "/metadata/component", is_product=True)
        if meta.get("component") is not None
        else None
    )
    serial = text(doc.get("serialNumber"), "/serialNumber")
    version = doc.get("version") if isinstance(doc.get("version"), int) else None
    sbom = Sbom(
        format="cyclonedx",
        spec_version=text(doc.get("specVersion"), "/specVersion"),
        sbom_id=f"{serial}/{version or 1}" if serial else content_id(data),
        serial_number=serial,
        bom_version=version,
        product=product.name if product else fallback_name,
        product_version=product.version if product else None,
        product_ref=product.bom_ref if product else None,
        supplier=(product.supplier if product else None) or _cdx_supplier(meta, "/metadata"),
        created=parse_time(text(meta.get("timestamp"), "/metadata/timestamp")),
    )
    if product:
        sbom.components.append(product)
    _walk_cdx_components(items(doc.get("components"), "/components"), "/components", sbom)
    _cdx_vex(items(doc.get("vulnerabilities"), "/vulnerabilities"), sbom)
    return sbom


# -- CycloneDX XML -------------------------------------------------------------------------
def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if local(child.tag) == name:
            return child
    return None


def _children(element: Element | None, name: str) -> list[Element]:
    return [] if element is None else [c for c in element if local(c.tag) == name]


def _child_text(element: Element | None, name: str, where: str) -> str | None:
    if element is None:
        return None
    found = _child(element, name)
    return None if found is None else text(found.text or "", f"{where}/{name}")


def _xml_supplier(element: Element, where: str) -> str | None:
    for key in ("supplier", "manufacturer", "manufacture"):
        found = _child_text(_child(element, key), "name", f"{where}/{key}")
        if found:
            return found
    return _child_text(element, "publisher", where) or _child_text(element, "author", where)


def _xml_component(element: Element, where: str, *, is_product: bool = False) -> Component:
    return Component(
        name=_child_text(element, "name", where) or _missing(f"{where}/name"),
        version=_child_text(element, "version", where),
        purl=_child_text(element, "purl", where),
        cpe=_child_text(element, "cpe", where),
        bom_ref=text(element.get("bom-ref"), f"{where}/@bom-ref"),
        supplier=_xml_supplier(element, where),
        component_type=text(element.get("type"), f"{where}/@type"),
        is_product=is_product,
    )


def _missing(where: str) -> str:
    raise DocumentError(f"{where}: missing")


def _walk_xml_components(parent: Element | None, where: str, sbom: Sbom) -> None:
    for index, element in enumerate(_children(parent, "component")):
        pointer = f"{where}/component[{index + 1}]"
        try:
            sbom.components.append(_xml_component(element, pointer))
        except DocumentError as exc:
            sbom.rejects.append(str(exc))
            continue
        _walk_xml_components(_child(element, "components"), f"{pointer}/components", sbom)


def _xml_vex(root: Element, sbom: Sbom) -> None:
    vulns = _child(root, "vulnerabilities")
    for index, element in enumerate(_children(vulns, "vulnerability")):
        where = f"/bom/vulnerabilities/vulnerability[{index + 1}]"
        try:
            analysis = _child(element, "analysis")
            state = _child_text(analysis, "state", f"{where}/analysis")
            if state is None:
                continue
            status = CDX_STATES.get(state)
            if status is None:
                raise DocumentError(f"{where}/analysis/state: unknown state {state!r}")
            vuln_id = _child_text(element, "id", where) or _missing(f"{where}/id")
            for target in _children(_child(element, "affects"), "target"):
                ref = _child_text(target, "ref", f"{where}/affects/target")
                if ref:
                    sbom.vex.append(
                        VexStatement(
                            vuln_id,
                            status,
                            _child_text(analysis, "justification", f"{where}/analysis"),
                            _child_text(analysis, "detail", f"{where}/analysis"),
                            ref,
                        )
                    )
        except DocumentError as exc:
            sbom.rejects.append(str(exc))


def parse_cyclonedx_xml(data: bytes, fallback_name: str) -> Sbom:
    root = load_xml(data)
    if local(root.tag) != "bom":
        raise DocumentError(f"root element <{local(root.tag)}>: not a CycloneDX <bom>")
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    meta = _child(root, "metadata")
    product_element = _child(meta, "component") if meta is not None else None
    product = (
        _xml_component(product_element, "/bom/metadata/component", is_product=True)
        if product_element is not None
        else None
    )
    serial = text(root.get("serialNumber"), "/bom/@serialNumber")
    raw_version = root.get("version")
    version = int(raw_version) if raw_version and raw_version.isdigit() else None
    sbom = Sbom(
        format="cyclonedx",
        spec_version=namespace.rsplit("/", 1)[-1] or None,
        sbom_id=f"{serial}/{version or 1}" if serial else content_id(data),
        serial_number=serial,
        bom_version=version,
        product=product.name if product else fallback_name,
        product_version=product.version if product else None,
        product_ref=product.bom_ref if product else None,
        supplier=(product.supplier if product else None)
        or (_xml_supplier(meta, "/bom/metadata") if meta is not None else None),
        created=parse_time(_child_text(meta, "timestamp", "/bom/metadata")),
    )
    if product:
        sbom.components.append(product)
    _walk_xml_components(_child(root, "components"), "/bom/components", sbom)
    _xml_vex(root, sbom)
    return sbom


# -- SPDX 2.x ------------------------------------------------------------------------------
def _spdx_supplier(value: str | None) -> str | None:
    if not value or value.upper() == "NOASSERTION":
        return None
    return value.split(":", 1)[1].strip() if ":" in value else value


def _spdx_version(value: str | None) -> str | None:
    return None if value is None or value.upper() in ("NOASSERTION", "NONE") else value


@dataclass
class _SpdxPackage:
    spdx_id: str | None
    name: str | None
    version: str | None = None
    supplier: str | None = None
    purl: str | None = None
    cpe: str | None = None


def _spdx_ref(pkg: _SpdxPackage, category: str, kind: str, locator: str) -> None:
    kind = kind.lower()
    if kind == "purl" and pkg.purl is None:
        pkg.purl = locator
    elif kind in ("cpe23type", "cpe22type") and pkg.cpe is None:
        pkg.cpe = locator


def _spdx_build(
    packages: list[_SpdxPackage],
    described: list[str],
    *,
    spec: str | None,
    namespace: str | None,
    doc_name: str | None,
    created: str | None,
    data: bytes,
    fallback_name: str,
    rejects: list[str],
) -> Sbom:
    root = next((p for p in packages if p.spdx_id in described), None)
    sbom = Sbom(
        format="spdx",
        spec_version=spec,
        sbom_id=namespace or content_id(data),
        serial_number=None,
        bom_version=None,
        product=(root.name if root else None) or doc_name or fallback_name,
        product_version=root.version if root else None,
        product_ref=root.spdx_id if root else None,
        supplier=root.supplier if root else None,
        created=parse_time(created),
        rejects=rejects,
    )
    for pkg in packages:
        if not pkg.name:
            continue
        sbom.components.append(
            Component(
                name=pkg.name,
                version=pkg.version,
                purl=pkg.purl,
                cpe=pkg.cpe,
                bom_ref=pkg.spdx_id,
                supplier=pkg.supplier,
                component_type="package",
                is_product=pkg is root,
            )
        )
    return sbom


def parse_spdx_json(doc: dict[str, Any], data: bytes, fallback_name: str) -> Sbom:
    spec = text(doc.get("spdxVersion"), "/spdxVersion", required=True)
    if spec is None or not spec.startswith("SPDX-2"):
        raise DocumentError(f"/spdxVersion: {spec!r} is not supported (SPDX 2.x only)")
    packages: list[_SpdxPackage] = []
    rejects: list[str] = []
    for index, obj in enumerate(items(doc.get("packages"), "/packages")):
        where = f"/packages/{index}"
        try:
            obj = mapping(obj, where)
            pkg = _SpdxPackage(
                text(obj.get("SPDXID"), f"{where}/SPDXID"),
                text(obj.get("name"), f"{where}/name", required=True),
                _spdx_version(text(obj.get("versionInfo"), f"{where}/versionInfo")),
                _spdx_supplier(text(obj.get("supplier"), f"{where}/supplier")),
            )
            for n, ref in enumerate(items(obj.get("externalRefs"), f"{where}/externalRefs")):
                ref = mapping(ref, f"{where}/externalRefs/{n}")
                locator = text(ref.get("referenceLocator"), f"{where}/externalRefs/{n}")
                if locator:
                    _spdx_ref(
                        pkg,
                        str(ref.get("referenceCategory", "")),
                        str(ref.get("referenceType", "")),
                        locator,
                    )
            packages.append(pkg)
        except DocumentError as exc:
            rejects.append(str(exc))
    described = [str(x) for x in items(doc.get("documentDescribes"), "/documentDescribes")]
    for rel in items(doc.get("relationships"), "/relationships"):
        if isinstance(rel, dict) and rel.get("relationshipType") == "DESCRIBES":
            described.append(str(rel.get("relatedSpdxElement")))
    info = mapping(doc.get("creationInfo"), "/creationInfo")
    return _spdx_build(
        packages,
        described,
        spec=spec,
        namespace=text(doc.get("documentNamespace"), "/documentNamespace"),
        doc_name=text(doc.get("name"), "/name"),
        created=text(info.get("created"), "/creationInfo/created"),
        data=data,
        fallback_name=fallback_name,
        rejects=rejects,
    )


_TEXT_BLOCK = re.compile(r"<text>(.*?)</text>", re.DOTALL)


def parse_spdx_tag(data: bytes, fallback_name: str) -> Sbom:
    content = _TEXT_BLOCK.sub(lambda m: m.group(1).replace("\n", " "), decode(data))
    header: dict[str, str] = {}
    packages: list[_SpdxPackage] = []
    described: list[str] = []
    rejects: list[str] = []
    current: _SpdxPackage | None = None
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        tag, value = (part.strip() for part in line.split(":", 1))
        try:
            value = text(value, f"line {number}: {tag}") or ""
        except DocumentError as exc:
            rejects.append(str(exc))
            continue
        if tag == "PackageName":
            current = _SpdxPackage(None, value)
            packages.append(current)
        elif tag in ("FileName", "SnippetSPDXID"):
            current = None
        elif tag == "SPDXID" and current is not None:
            current.spdx_id = value
        elif tag == "PackageVersion" and current is not None:
            current.version = _spdx_version(value)
        elif tag == "PackageSupplier" and current is not None:
            current.supplier = _spdx_supplier(value)
        elif tag == "ExternalRef" and current is not None:
            parts = value.split()
            if len(parts) >= 3:
                _spdx_ref(current, parts[0], parts[1], parts[2])
        elif tag == "Relationship":
            parts = value.split()
            if len(parts) == 3 and parts[1] == "DESCRIBES":
                described.append(parts[2])
        elif tag == "DocumentDescribes":
            described.extend(v.strip() for v in value.split(","))
        elif current is None:
            header.setdefault(tag, value)
    spec = header.get("SPDXVersion")
    if not spec or not spec.startswith("SPDX-2"):
        raise DocumentError(f"SPDXVersion {spec!r} is not supported (SPDX 2.x only)")
    return _spdx_build(
        packages,
        described,
        spec=spec,
        namespace=header.get("DocumentNamespace"),
        doc_name=header.get("DocumentName"),
        created=header.get("Created"),
        data=data,
        fallback_name=fallback_name,
        rejects=rejects,
    )
