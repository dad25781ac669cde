"""Configuration, derived scale and seeded random streams for the synthetic hospital.

Scale ratios (per licensed bed; our judgement from AHA "Fast Facts" style figures for US
community hospitals, rounded so the numbers are easy to reason about):

* staff ~= 5.5 x beds (FTE-to-bed ratios of US community hospitals run ~5-6);
* patients *seen* in the simulated period ~= 40 x beds per 7 days (ED visits, admissions
  and outpatient visits; most patients have one encounter);
* the Patient registry holds 2.5 x the patients seen: the rest are a resident population of
  prior patients (charts that exist but have no encounter in the period; they are the
  favourite targets of snooping);
* EHR accesses ~= 150 x beds per day (a 200-bed hospital writes ~30k audit rows a day).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

STAFF_PER_BED = 5.5
PATIENTS_SEEN_PER_BED_WEEK = 40.0
REGISTRY_PER_SEEN = 2.5
ACCESSES_PER_BED_DAY = 150


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. ``staff``/``patients``/``accesses_per_day`` override the bed ratios.

    ``patients`` is the size of the Patient registry (all Patient resources written); about
    40% of them (1 / REGISTRY_PER_SEEN) have an encounter in the period.
    """

    beds: int = 200
    days: int = 7
    seed: int = 1
    format: Literal["fhir", "csv"] = "fhir"
    start: date = date(2026, 3, 2)
    site_tz: str = "America/Chicago"
    violation_rate: float = 1.0
    staff: int | None = None
    patients: int | None = None
    accesses_per_day: int | None = None


@dataclass(frozen=True)
class SynthResult:
    """What :func:`carewarden.synth.generate` wrote."""

    out_dir: Path
    files: list[Path]
    accesses: int
    patients: int
    staff: int
    encounters: int
    violations: int
    labels_path: Path
    dr_inventory: Path | None = None  # the backup inventory (dr_inventory.yaml)


@dataclass(frozen=True)
class Scale:
    """Concrete sizes derived from a :class:`SynthConfig`."""

    staff: int
    registry: int
    seen: int
    accesses_per_day: int
    days: int


def derive_scale(cfg: SynthConfig) -> Scale:
    """Turn beds (and overrides) into concrete sizes."""
    if cfg.days < 1:
        raise ValueError("days must be >= 1")
    if cfg.beds < 1:
        raise ValueError("beds must be >= 1")
    staff = cfg.staff if cfg.staff is not None else round(STAFF_PER_BED * cfg.beds)
    staff = max(staff, 40)
    if cfg.patients is not None:
        registry = cfg.patients
        seen = max(1, round(registry / REGISTRY_PER_SEEN))
    else:
        seen = max(20, round(PATIENTS_SEEN_PER_BED_WEEK * cfg.beds * cfg.days / 7))
        registry = round(seen * REGISTRY_PER_SEEN)
    registry = max(registry, 50)
    apd = (
        cfg.accesses_per_day
        if cfg.accesses_per_day is not None
        else ACCESSES_PER_BED_DAY * cfg.beds
    )
    return Scale(staff=staff, registry=registry, seen=seen, accesses_per_day=apd, days=cfg.days)


def sub_rng(seed: int, stream: str) -> random.Random:
    """An independent, reproducible random stream (str seeds hash with SHA-512, not hash())."""
    return random.Random(f"carewarden-synth/{seed}/{stream}")
