"""Is this version in that range? Version ranges as ``vers:`` strings, compared by univers
with the ecosystem's own rules (PEP 440 for PyPI, semver for Go and npm, Maven's ordering…).

Parsing is the expensive part, so ranges and versions are parsed once and cached: matching
checks each distinct (range, version) pair once however many SBOMs repeat it. Versions that
univers cannot parse for a scheme (CPE versions such as ``r0.13``, device firmware names)
fall back to a natural ordering of their numbers and words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from blake3 import blake3
from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange

_COMPARATORS = ("<=", ">=", "!=", "<", ">", "=")
_TOKENS = re.compile(r"\d+|[a-z]+")


def range_key(scheme: str, vers: str | None, versions: Sequence[str] | None) -> str:
    """A short stable id of a range definition (the unit of caching and joining)."""
    text = "\x1f".join([scheme, vers or "", *(versions or ())])
    return blake3(text.encode()).hexdigest()[:24]


def vers_from_events(scheme: str, events: Sequence[tuple[str, str]]) -> str | None:
    """A ``vers:`` range from OSV range events (introduced / fixed / last_affected / limit),
    in order; None when the events describe nothing affected."""
    constraints: list[str] = []
    open_from: str | None = None
    opened = False
    for kind, value in events:
        if kind == "introduced":
            open_from, opened = value, True
        elif kind in ("fixed", "last_affected", "limit") and opened:
            if open_from not in (None, "0"):
                constraints.append(f">={open_from}")
            constraints.append(f"{'<=' if kind == 'last_affected' else '<'}{value}")
            opened, open_from = False, None
    if opened:
        if open_from in (None, "0"):
            return f"vers:{scheme}/*"
        constraints.append(f">={open_from}")
    if not constraints:
        return None
    return f"vers:{scheme}/" + "|".join(constraints)


def vers_from_bounds(
    scheme: str,
    start_including: str | None = None,
    start_excluding: str | None = None,
    end_including: str | None = None,
    end_excluding: str | None = None,
) -> str:
    """A ``vers:`` range from NVD-style bounds (versionStartIncluding …)."""
    parts = []
    if start_including:
        parts.append(f">={start_including}")
    elif start_excluding:
        parts.append(f">{start_excluding}")
    if end_including:
        parts.append(f"<={end_including}")
    elif end_excluding:
        parts.append(f"<{end_excluding}")
    return f"vers:{scheme}/" + ("|".join(parts) if parts else "*")


def natural_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Numbers compare as numbers, words as words; a word sorts before a number
    (``1.0rc1`` < ``1.0.1``)."""
    return tuple(
        (1, int(tok)) if tok.isdigit() else (0, tok) for tok in _TOKENS.findall(version.lower())
    )


def _natural_contains(vers: str, version: str) -> bool:
    """The vers algorithm on natural keys, for versions univers cannot parse."""
    body = vers.split("/", 1)[1] if "/" in vers else vers
    if body.strip() == "*":
        return True
    key = natural_key(version)
    lower_open: tuple[Any, ...] | None = None
    lower_inclusive = True
    in_interval = False
    for raw in body.split("|"):
        raw = raw.strip()
        op = next((c for c in _COMPARATORS if raw.startswith(c)), "=")
        bound = natural_key(raw[len(op) :] if raw.startswith(op) else raw)
        if op == "=":
            if key == bound:
                return True
        elif op == "!=":
            if key == bound:
                return False
        elif op in (">=", ">"):
            lower_open, lower_inclusive, in_interval = bound, op == ">=", True
        else:
            above = (
                lower_open is None or (key > lower_open) or (lower_inclusive and key == lower_open)
            )
            below = key < bound or (op == "<=" and key == bound)
            if above and below:
                return True
            lower_open, in_interval = None, False
    if in_interval and lower_open is not None:
        return key > lower_open or (lower_inclusive and key == lower_open)
    return False


def _normal(scheme: str, version: str) -> str:
    version = version.strip()
    if scheme == "golang":
        return version.removeprefix("v")
    if scheme == "pypi":
        return version.lower().removeprefix("v")
    return version


@dataclass
class VersionChecker:
    """Cached ``contains`` checks; one instance per matching run."""

    _ranges: dict[str, VersionRange | None] = field(default_factory=dict)
    _versions: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lists: dict[str, frozenset[str]] = field(default_factory=dict)
    checks: int = 0
    fallbacks: int = 0

    def _range(self, vers: str) -> VersionRange | None:
        if vers not in self._ranges:
            try:
                self._ranges[vers] = VersionRange.from_string(vers)  # type: ignore[no-untyped-call]
            except Exception:
                self._ranges[vers] = None
        return self._ranges[vers]

    def _version(self, scheme: str, version: str) -> Any:
        cache_key = (scheme, version)
        if cache_key not in self._versions:
            cls = RANGE_CLASS_BY_SCHEMES.get(scheme, RANGE_CLASS_BY_SCHEMES["generic"])
            make: Any = cls.version_class
            try:
                self._versions[cache_key] = make(version)
            except Exception:
                self._versions[cache_key] = None
        return self._versions[cache_key]

    def in_list(self, key: str, scheme: str, versions: Sequence[str], version: str) -> bool:
        listed = self._lists.get(key)
        if listed is None:
            listed = frozenset(_normal(scheme, v) for v in versions)
            self._lists[key] = listed
        if _normal(scheme, version) in listed:
            return True
        if scheme == "pypi":
            parsed = self._version(scheme, version)
            return parsed is not None and any(
                self._version(scheme, v) == parsed for v in versions if v[:1] == version[:1]
            )
        return False

    def contains(
        self,
        key: str,
        scheme: str,
        vers: str | None,
        versions: Sequence[str] | None,
        version: str | None,
    ) -> bool:
        """Whether ``version`` is affected: listed in ``versions`` or inside ``vers``."""
        self.checks += 1
        if vers is not None and vers.endswith("/*"):
            return True  # every version, known or not
        if not version:
            return False
        if versions and self.in_list(key, scheme, versions, version):
            return True
        if not vers:
            return False
        parsed_range = self._range(vers)
        parsed = self._version(scheme, version)
        if parsed_range is not None and parsed is not None:
            try:
                return bool(parsed in parsed_range)
            except Exception:
                pass
        self.fallbacks += 1
        return _natural_contains(vers, version)
