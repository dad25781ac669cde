"""MAC addresses and their vendors (the IEEE OUI of the first three bytes).

The shipped table (``iomt/data/oui.csv``, the IEEE CSV format: Registry, Assignment,
Organization Name, Organization Address) is a compact extract of the public IEEE MA-L
registry for makers of medical devices (infusion pumps, monitors, imaging, laboratory,
nurse call) and of the IT found in hospitals (PCs, servers, printers, virtual machines,
embedded network modules). The full registry cannot be fetched here: pass the IEEE file
(``oui.csv`` from standards-oui.ieee.org) with ``--oui FILE`` to extend the table.

Organisation names are shortened to one vendor name per maker ("Philips Medical Systems -
Cardiac and Monitoring Systems (CM" and "Philips Healthcare PCCI" are both ``Philips``), so
evidence rules name vendors, not registry spellings.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from carewarden.errors import ConfigError

_HEX = re.compile(r"[^0-9a-f]")

# Organisation name (regular expression, case-insensitive) -> the vendor shown.
VENDOR_NAMES: tuple[tuple[str, str], ...] = (
    (r"philips", "Philips"),
    (r"\bGE (healthcare|medical)", "GE Healthcare"),
    (r"nihon kohden", "Nihon Kohden"),
    (r"dr(ae|ä)ger", "Draeger"),
    (r"spacelabs", "Spacelabs"),
    (r"welch allyn", "Welch Allyn"),
    (r"masimo", "Masimo"),
    (r"mindray", "Mindray"),
    (r"icu medical", "ICU Medical"),
    (r"b\.? ?braun", "B. Braun"),
    (r"baxter", "Baxter"),
    (r"alaris|carefusion|becton", "BD"),
    (r"smiths medical", "Smiths Medical"),
    (r"fresenius", "Fresenius"),
    (r"abbott", "Abbott"),
    (r"roche", "Roche"),
    (r"sysmex", "Sysmex"),
    (r"beckman", "Beckman Coulter"),
    (r"bio-rad", "Bio-Rad"),
    (r"siemens healthcare diagnostics", "Siemens Healthineers (diagnostics)"),
    (r"siemens health", "Siemens Healthineers"),
    (r"rauland", "Rauland"),
    (r"hill-rom|hillrom", "Hillrom"),
    (r"ascom", "Ascom"),
    (r"vocera", "Vocera"),
    (r"carestream", "Carestream"),
    (r"fujifilm", "Fujifilm"),
    (r"varian", "Varian"),
    (r"agfa", "Agfa"),
    (r"hologic", "Hologic"),
    (r"^dell\b", "Dell"),
    (r"hewlett packard enterprise|aruba", "HPE"),
    (r"hewlett", "HP"),
    (r"lenovo", "Lenovo"),
    (r"intel corporate", "Intel"),
    (r"vmware", "VMware"),
    (r"microsoft", "Microsoft"),
    (r"super micro", "Supermicro"),
    (r"lexmark", "Lexmark"),
    (r"zebra", "Zebra"),
    (r"brother", "Brother"),
    (r"xerox", "Xerox"),
    (r"lantronix", "Lantronix"),
    (r"silex", "Silex"),
    (r"cisco", "Cisco"),
)
_VENDOR_PATTERNS = tuple((re.compile(p, re.IGNORECASE), name) for p, name in VENDOR_NAMES)


def vendor_name(organization: str) -> str:
    """The short vendor name of an IEEE organisation name (itself, trimmed, when unknown)."""
    for pattern, name in _VENDOR_PATTERNS:
        if pattern.search(organization):
            return name
    return organization.strip().rstrip(".,")


def normalise_mac(value: str) -> str | None:
    """``00:09:5c:12:34:56`` from any common spelling (``00-09-5C-…``, ``0009.5c12.3456``,
    ``00095C123456``); None when it is not a MAC address."""
    digits = _HEX.sub("", value.strip().lower())
    stripped = re.sub(r"[\s:.\-]", "", value.strip().lower())
    if len(digits) != 12 or len(stripped) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def locally_administered(mac: str) -> bool:
    """A randomised or locally assigned MAC (second-lowest bit of the first byte set): it
    has no vendor, and phones and laptops rotate it."""
    return bool(int(mac[:2], 16) & 0x02)


@dataclass(frozen=True)
class OuiTable:
    """OUI (six upper-case hex digits) -> vendor name."""

    vendors: dict[str, str]

    def vendor(self, mac: str) -> str | None:
        if locally_administered(mac):
            return None
        return self.vendors.get(mac.replace(":", "")[:6].upper())

    def extended(self, path: Path) -> OuiTable:
        """This table plus the entries of an IEEE-format CSV file (its entries win)."""
        try:
            content = path.read_text("utf-8-sig")
        except FileNotFoundError:
            raise ConfigError("OUI file not found", path=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the OUI file: {exc}", path=str(path)) from None
        return OuiTable({**self.vendors, **parse_ieee_csv(content, str(path))})


def parse_ieee_csv(content: str, where: str) -> dict[str, str]:
    """Assignment -> vendor from the IEEE registry CSV (MA-L rows; MA-M/MA-S rows are keyed
    by their first six digits too, a coarser but useful vendor)."""
    reader = csv.DictReader(io.StringIO(content))
    fields = set(reader.fieldnames or ())
    if not {"Assignment", "Organization Name"} <= fields:
        raise ConfigError(
            "not an IEEE OUI CSV file (columns Assignment and Organization Name expected)",
            path=where,
        )
    out: dict[str, str] = {}
    for row in reader:
        assignment = _HEX.sub("", (row.get("Assignment") or "").lower()).upper()
        organization = (row.get("Organization Name") or "").strip()
        if len(assignment) >= 6 and organization:
            out.setdefault(assignment[:6], vendor_name(organization))
    return out


@cache
def builtin_table() -> OuiTable:
    content = resources.files("carewarden.iomt").joinpath("data/oui.csv").read_text("utf-8")
    return OuiTable(parse_ieee_csv(content, "carewarden/iomt/data/oui.csv"))


def load_table(extra: Path | None = None) -> OuiTable:
    table = builtin_table()
    return table.extended(extra) if extra is not None else table
