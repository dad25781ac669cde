"""Reading a document's bytes: UTF-8 text, JSON, YAML and XML with errors that say where.

Every parser of :mod:`carewarden.iomt` reads through these, so a file that is not UTF-8,
not well-formed, or holds a field too large to be real fails the same way: a
:class:`DocumentError` naming the position, which the connector quarantines.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

import orjson
import yaml
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

# No single string in an SBOM or advisory is this long; a larger one is refused (it would
# bloat the store and the terminal, and hints at a hostile or corrupted file).
MAX_FIELD_CHARS = 64 * 1024


class DocumentError(ValueError):
    """A document (or one record of it) cannot be used; the message says where and why."""


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start})") from None


def load_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if isinstance(exc.__cause__, UnicodeDecodeError) or "utf-8" in str(exc).lower():
            decode(data)  # raises with the byte offset
        raise DocumentError(f"invalid JSON: {exc}") from None


def load_yaml(data: bytes) -> Any:
    text = decode(data)
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from None


def load_xml(data: bytes) -> Element:
    try:
        return ElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise DocumentError(f"refused XML construct: {type(exc).__name__}") from None
    except ElementTree.ParseError as exc:
        raise DocumentError(f"invalid XML: {exc}") from None


def text(value: Any, where: str, *, required: bool = False) -> str | None:
    """A string field: None when absent (or blank), an error when mistyped or huge."""
    if value is None:
        if required:
            raise DocumentError(f"{where}: missing")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DocumentError(f"{where}: expected a string, got {type(value).__name__}")
    if len(value) > MAX_FIELD_CHARS:
        raise DocumentError(
            f"{where}: field of {len(value):,} characters (limit {MAX_FIELD_CHARS:,})"
        )
    stripped: str = value.strip()
    if not stripped:
        if required:
            raise DocumentError(f"{where}: empty")
        return None
    return stripped


def mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DocumentError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DocumentError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]
