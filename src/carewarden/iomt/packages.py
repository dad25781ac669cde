"""Package identities: purl and CPE parsed and normalised into join keys.

A component and an advisory meet on a key: ``pypi/django`` (purl type, namespace and name,
normalised the way the ecosystem compares names), ``apache:ant`` (CPE vendor and product)
or ``name:intellivue_mx400`` (a product name, for advisories that name devices only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from packageurl import PackageURL

# OSV ecosystem -> purl type (https://ossf.github.io/osv-schema/#affectedpackage-field).
ECOSYSTEM_TYPES: dict[str, str] = {
    "pypi": "pypi",
    "go": "golang",
    "npm": "npm",
    "maven": "maven",
    "nuget": "nuget",
    "rubygems": "gem",
    "crates.io": "cargo",
    "packagist": "composer",
    "hex": "hex",
    "pub": "pub",
    "debian": "deb",
    "ubuntu": "deb",
    "alpine": "apk",
    "red hat": "rpm",
    "rocky linux": "rpm",
    "almalinux": "rpm",
    "suse": "rpm",
    "opensuse": "rpm",
    "github actions": "github",
    "swifturl": "swift",
    "cran": "cran",
    "conan": "conan",
}

# purl type -> univers versioning scheme; anything else compares as "generic".
SCHEMES: frozenset[str] = frozenset(
    {
        "pypi",
        "golang",
        "npm",
        "maven",
        "nuget",
        "gem",
        "cargo",
        "composer",
        "hex",
        "deb",
        "rpm",
        "apk",
        "conan",
        "github",
    }
)

_PEP503 = re.compile(r"[-_.]+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class PackageKey:
    key: str  # e.g. "pypi/django"
    scheme: str  # univers scheme for its versions
    version: str | None


def scheme_for(purl_type: str) -> str:
    return purl_type if purl_type in SCHEMES else "generic"


def ecosystem_type(ecosystem: str) -> str | None:
    """The purl type of an OSV ecosystem ("Debian:11" is Debian), or None when unknown."""
    base = ecosystem.split(":", 1)[0].strip().lower()
    return ECOSYSTEM_TYPES.get(base)


def package_key(purl_type: str, namespace: str | None, name: str) -> str:
    """The join key of a package: names compared as the ecosystem compares them."""
    kind = purl_type.lower()
    name = name.strip()
    namespace = (namespace or "").strip().strip("/")
    if kind == "pypi":
        name = _PEP503.sub("-", name).lower()
    else:
        # Case-insensitive in npm, NuGet, Maven (by convention), GitHub; Go module paths are
        # case-sensitive but no two real modules differ by case only.
        name = name.lower()
        namespace = namespace.lower()
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


@lru_cache(maxsize=200_000)
def parse_purl(purl: str) -> PackageKey | None:
    """Key, scheme and version of a purl; None when it is not a valid purl."""
    try:
        parsed = PackageURL.from_string(purl.strip())
    except ValueError:
        return None
    key = package_key(parsed.type, parsed.namespace, parsed.name)
    return PackageKey(key, scheme_for(parsed.type.lower()), parsed.version or None)


def osv_package_key(ecosystem: str, name: str) -> PackageKey | None:
    """Key of an OSV ``affected[].package``; Maven names are ``group:artifact``."""
    kind = ecosystem_type(ecosystem)
    if kind is None or not name:
        return None
    namespace: str | None = None
    if kind == "maven" and ":" in name:
        namespace, name = name.split(":", 1)
    elif kind in ("golang", "npm", "composer", "github", "swift") and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return PackageKey(package_key(kind, namespace, name), scheme_for(kind), None)


@dataclass(frozen=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str | None  # None: any ("*") or not applicable ("-")

    @property
    def key(self) -> str:
        return f"{self.vendor}:{self.product}"


def _unescape(field: str) -> str:
    return re.sub(r"\\(.)", r"\1", field)


@lru_cache(maxsize=100_000)
def parse_cpe(cpe: str) -> Cpe | None:
    """A CPE 2.3 formatted string or a CPE 2.2 URI; None when it is neither."""
    text = cpe.strip()
    if text.startswith("cpe:2.3:"):
        fields = re.split(r"(?<!\\):", text)[2:]
    elif text.startswith("cpe:/"):
        fields = text[5:].split(":")
    else:
        return None
    if len(fields) < 3 or not fields[1] or not fields[2]:
        return None
    version = _unescape(fields[3]) if len(fields) > 3 else None
    if version in ("*", "-", ""):
        version = None
    return Cpe(
        fields[0].lower(), _unescape(fields[1]).lower(), _unescape(fields[2]).lower(), version
    )


def name_key(name: str | None) -> str | None:
    """A product name reduced to lower-case words joined by ``_``, for name matching."""
    if not name:
        return None
    words = _NON_WORD.sub("_", name.lower()).strip("_")
    return f"name:{words}" if words else None
