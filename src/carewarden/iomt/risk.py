"""Device risk: a 0-100 score from documented, configurable factors, each contribution kept.

``score = Σ weight[f] * fraction[f]`` over four factors (weights from ``risk.yaml`` beside
this module, overridable with ``--config FILE``; they add up to 100):

* **exploitability**: of the device's worst finding, 1 (* ``kev``) when the vulnerability is in
  CISA's KEV catalogue, else ``max(EPSS * epss_scale, CVSS / 10 * cvss_scale)``; 0 without one.
* **exposure**: ``internet`` (flows to or from a public address, or a segmentation policy that
  lets the device reach the internet) + ``cleartext`` (a cleartext protocol served or used:
  Telnet, FTP, HTTP, HL7 MLLP or DICOM without TLS…) + ``default_credentials`` (the device is
  listed as keeping its default password), capped at 1.
* **clinical impact**: the weight of the device's class (infusion pumps and patient monitors 1).
* **unsupported OS**: 1 when the device's operating system is past end of support.

Also here: the remediation deadline of a finding (KEV 14 days, then by CVSS band), the first
fixed version a ``vers:`` range names, and the compensating actions of a device class where
no fix is known. Everything is pure: the services gather the facts.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carewarden.config import load_yaml_model
from carewarden.iomt.classify import CLASSES
from carewarden.iomt.versions import VersionChecker, range_key

DEFAULT_CONFIG = Path(__file__).parent / "risk.yaml"
FACTORS: tuple[str, ...] = ("exploitability", "exposure", "clinical_impact", "unsupported_os")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)



class Weights(_Strict):
    exploitability: float = Field(default=40, ge=0, le=100)
    exposure: float = Field(default=25, ge=0, le=100)
    clinical_impact: float = Field(default=25, ge=0, le=100)
    unsupported_os: float = Field(default=10, ge=0, le=100)

    @model_validator(mode="after")
    def _total(self) -> Weights:
        total = sum(getattr(self, f) for f in FACTORS)
        if abs(total - 100) > 1e-9:
            raise ValueError(f"the four weights must add up to 100 (they add up to {total:g})")
        return self


class ExploitabilityConfig(_Strict):
    kev: float = Field(default=1.0, ge=0, le=1)
    epss_scale: float = Field(default=1.0, ge=0, le=1)
    cvss_scale: float = Field(default=0.7, ge=0, le=1)


class ExposureConfig(_Strict):
    internet: float = Field(default=0.6, ge=0, le=1)
    cleartext: float = Field(default=0.3, ge=0, le=1)
    default_credentials: float = Field(default=0.4, ge=0, le=1)


class CleartextPort(_Strict):
    port: int = Field(ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    name: str = Field(min_length=1)


class SlaBand(_Strict):
    name: str = Field(min_length=1)
    min_cvss: float = Field(ge=0, le=10)
    days: int = Field(ge=0)


class SlaConfig(_Strict):
    kev_days: int = Field(default=14, ge=0)
    bands: list[SlaBand] = Field(default_factory=list)
    unscored_days: int = Field(default=180, ge=0)

    @field_validator("bands")
    @classmethod
    def _ordered(cls, value: list[SlaBand]) -> list[SlaBand]:
        scores = [b.min_cvss for b in value]
        if scores != sorted(scores, reverse=True):
            raise ValueError("bands must be listed from the highest min_cvss down")
        return value


class RiskConfig(_Strict):
    """``risk.yaml``: weights, factor settings, SLA days and compensating actions."""

    version: Literal[1]
    weights: Weights = Weights()
    exploitability: ExploitabilityConfig = ExploitabilityConfig()
    exposure: ExposureConfig = ExposureConfig()
    cleartext_ports: list[CleartextPort] = Field(default_factory=list)
    clinical_impact: dict[str, float] = Field(default_factory=dict)
    default_credentials: list[str] = Field(default_factory=list)
    sla: SlaConfig = SlaConfig()
    compensating: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("clinical_impact")
    @classmethod
    def _impact(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if name not in CLASSES:
                raise ValueError(f"unknown class {name!r}; use one of {', '.join(CLASSES)}")
            if not 0 <= weight <= 1:
                raise ValueError(f"{name}: the weight must be between 0 and 1")
        return value

    @field_validator("compensating")
    @classmethod
    def _actions(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = {"default", *CLASSES}
        fields = {"devices", "model", "vendor", "component", "vuln", "zone"}
        for name, actions in value.items():
            if name not in known:
                raise ValueError(
                    f"unknown class {name!r}; use default or one of {', '.join(CLASSES)}"
                )
            for action in actions:
                used = {f for _, f, _, _ in string.Formatter().parse(action) if f is not None}
                if used - fields:
                    raise ValueError(
                        f"{name}: unknown placeholder(s) {sorted(used - fields)} in {action!r}; "
                        f"use {sorted(fields)}"
                    )
        return value

    @property
    def ports(self) -> dict[tuple[int, str], str]:
        return {(p.port, p.transport): p.name for p in self.cleartext_ports}


def load_config(path: Path | None = None) -> RiskConfig:
    """The risk settings of ``path`` (default: the shipped ``risk.yaml``)."""
    return load_yaml_model(RiskConfig, path or DEFAULT_CONFIG, "risk config")


def normal(text: str | None) -> str:
    """A name compared without case, spaces or punctuation (``InfuStar300`` is ``InfuStar 300``)."""
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


# -- facts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """The exploitability facts of one vulnerability on a device."""

    vuln_id: str
    kev: bool = False
    epss: float | None = None
    cvss: float | None = None
    component: str = ""  # e.g. "openssl 1.0.1f"


@dataclass(frozen=True)
class Device:
    """What the score needs to know of a device."""

    asset_id: str
    cls: str = "unknown"
    os: str | None = None
    os_unsupported: bool = False
    internet: str | None = None  # why it is internet-reachable, None when it is not
    cleartext: tuple[str, ...] = ()  # e.g. ("HTTP tcp/80",)
    default_credentials: bool = False


@dataclass(frozen=True)
class Contribution:
    factor: str
    points: float
    max_points: float
    why: str


@dataclass(frozen=True)
class Risk:
    score: int
    contributions: tuple[Contribution, ...] = field(default_factory=tuple)

    def why(self) -> str:
        """The factors that add points, largest first: ``KEV CVE-… (+40); …``."""
        parts = sorted((c for c in self.contributions if c.points > 0), key=lambda c: -c.points)
        return "; ".join(f"{c.why} (+{c.points:g})" for c in parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "factors": {
                c.factor: {"points": c.points, "max": c.max_points, "why": c.why}
                for c in self.contributions
            },
        }


# -- the factors ---------------------------------------------------------------------------
def exploitability(finding: Finding | None, config: RiskConfig) -> tuple[float, str]:
    """The fraction (0-1) a finding gives, and why."""
    if finding is None:
        return 0.0, "no known vulnerability"
    settings = config.exploitability
    where = f" in {finding.component}" if finding.component else ""
    if finding.kev:
        return settings.kev, f"{finding.vuln_id}{where} is in CISA KEV (exploited)"
    by_epss = (finding.epss or 0.0) * settings.epss_scale
    by_cvss = (finding.cvss or 0.0) / 10 * settings.cvss_scale
    if finding.epss is not None and by_epss >= by_cvss:
        return min(1.0, by_epss), f"{finding.vuln_id}{where}: EPSS {finding.epss:.3f}"
    if finding.cvss is not None:
        return min(1.0, by_cvss), f"{finding.vuln_id}{where}: CVSS {finding.cvss:.1f}"
    return 0.0, f"{finding.vuln_id}{where}: not scored"


def worst(findings: Iterable[Finding], config: RiskConfig) -> Finding | None:
    """The finding with the highest exploitability (then CVSS, then id)."""
    ranked = sorted(
        findings,
        key=lambda f: (-exploitability(f, config)[0], -(f.cvss or 0.0), f.vuln_id),
    )
    return ranked[0] if ranked else None


def exposure(device: Device, config: RiskConfig) -> tuple[float, str]:
    settings = config.exposure
    total = 0.0
    why: list[str] = []
    if device.internet:
        total += settings.internet
        why.append(f"internet: {device.internet}")
    if device.cleartext:
        total += settings.cleartext
        why.append("cleartext " + ", ".join(device.cleartext))
    if device.default_credentials:
        total += settings.default_credentials
        why.append("default credentials")
    return min(1.0, total), "; ".join(why) or "no exposure flag"


def clinical_impact(cls: str, config: RiskConfig) -> float:
    table = config.clinical_impact
    return table.get(cls, table.get("unknown", 0.0))


def score(device: Device | None, finding: Finding | None, config: RiskConfig) -> Risk:
    """The risk of ``device`` (None: a product no device is known to run) with ``finding``
    as its exploitability (normally its worst finding)."""
    weights = config.weights
    parts: list[tuple[str, float, str]] = []
    fraction, why = exploitability(finding, config)
    parts.append(("exploitability", fraction, why))
    if device is not None:
        fraction, why = exposure(device, config)
        parts.append(("exposure", fraction, why))
        impact = clinical_impact(device.cls, config)
        parts.append(("clinical_impact", impact, f"class {device.cls}"))
        unsupported = 1.0 if device.os_unsupported else 0.0
        os_why = (
            f"{device.os or 'operating system'} past end of support"
            if device.os_unsupported
            else f"{device.os or 'operating system'} supported or unknown"
        )
        parts.append(("unsupported_os", unsupported, os_why))
    contributions = tuple(
        Contribution(name, round(getattr(weights, name) * frac, 1), getattr(weights, name), why)
        for name, frac, why in parts
    )
    total = sum(getattr(weights, name) * frac for name, frac, _ in parts)
    return Risk(max(0, min(100, int(total + 0.5))), contributions)  # half rounds up


# -- deadlines, fixes, compensating actions ------------------------------------------------
def severity(cvss: float | None, config: RiskConfig) -> str:
    """The CVSS band's name (critical, high…), ``unscored`` without a score."""
    if cvss is None:
        return "unscored"
    for band in config.sla.bands:
        if cvss >= band.min_cvss:
            return band.name
    return "none"


def sla_days(finding: Finding, config: RiskConfig) -> tuple[int, str]:
    """Days to remediate from first detection, and the rule that set them."""
    sla = config.sla
    if finding.kev:
        return sla.kev_days, f"KEV: {sla.kev_days} days"
    if finding.cvss is None:
        return sla.unscored_days, f"no CVSS score: {sla.unscored_days} days"
    for band in sla.bands:
        if finding.cvss >= band.min_cvss:
            return band.days, f"{band.name} (CVSS {finding.cvss:.1f}): {band.days} days"
    return sla.unscored_days, f"CVSS {finding.cvss:.1f}: {sla.unscored_days} days"


_CHECKER = VersionChecker()


def fixed_version(matched_range: str | None, version: str | None) -> str | None:
    """The first fixed version of ``version`` in a ``vers:`` range: the first upper bound
    ``<X`` above it (``vers:pypi/>=1.0|<1.2.3`` fixes 1.1 in 1.2.3). None when the range has
    no such bound (``<=X``, ``*``, an explicit list of versions): no fix is known."""
    if not matched_range or not matched_range.startswith("vers:") or "/" not in matched_range:
        return None
    head, body = matched_range.split("/", 1)
    scheme = head.removeprefix("vers:")
    for raw in body.split("|"):
        raw = raw.strip()
        if raw.startswith("<") and not raw.startswith("<="):
            bound = raw[1:].strip()
            if not version:
                return bound
            below = f"vers:{scheme}/<{bound}"
            if _CHECKER.contains(range_key(scheme, below, None), scheme, below, None, version):
                return bound
    return None


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def compensating(cls: str, context: Mapping[str, object], config: RiskConfig) -> list[str]:
    """The compensating actions for a device class, placeholders filled from ``context``."""
    actions: Sequence[str] = config.compensating.get(cls) or config.compensating.get("default", [])
    values = _Blank({k: str(v) for k, v in context.items() if v not in (None, "")})
    return [action.format_map(values) for action in actions]
