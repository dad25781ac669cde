"""Behaviour of the seeded synthetic hospital generator."""

from __future__ import annotations

import csv
import hashlib
import json
import tracemalloc
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carewarden.synth import KINDS, SynthConfig, SynthResult, generate
from carewarden.synth.config import derive_scale
from conftest import (
    SMALL,
    audit_rows,
    explained,
    linked,
    load_context,
    read_labels,
    read_ndjson,
    ts,
)

CONTEXT_FILES = ("Organization.ndjson", "Practitioner.ndjson", "PractitionerRole.ndjson",
                 "Patient.ndjson", "Encounter.ndjson", "CareTeam.ndjson")


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    """Two runs with one config write byte-identical files; another seed writes others."""
    cfg = replace(SMALL, days=1)
    a = generate(tmp_path / "a", cfg)
    b = generate(tmp_path / "b", cfg)
    c = generate(tmp_path / "c", replace(cfg, seed=cfg.seed + 1))
    da, db, dc = _digests(a.out_dir), _digests(b.out_dir), _digests(c.out_dir)
    assert da == db
    assert set(da) == {*CONTEXT_FILES, "AuditEvent.ndjson", "labels.jsonl",
                       "dr_inventory.yaml"}
    assert da["Practitioner.ndjson"] != dc["Practitioner.ndjson"]
    assert da["AuditEvent.ndjson"] != dc["AuditEvent.ndjson"]


def test_result_counts_match_files_and_progress_reports_each_day(tmp_path: Path) -> None:
    """The result's counts match the files and progress is called once per simulated day."""
    calls: list[tuple[int, int]] = []
    r = generate(tmp_path, SMALL, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]
    assert r.accesses == sum(1 for _ in read_ndjson(r.out_dir / "AuditEvent.ndjson"))
    assert r.patients == sum(1 for _ in read_ndjson(r.out_dir / "Patient.ndjson"))
    assert r.staff == sum(1 for _ in read_ndjson(r.out_dir / "Practitioner.ndjson"))
    assert r.encounters == sum(1 for _ in read_ndjson(r.out_dir / "Encounter.ndjson"))
    assert r.violations == len(read_labels(r.out_dir))
    assert all(p.exists() for p in r.files) and r.labels_path in r.files


def test_default_scale_follows_beds() -> None:
    """Defaults derive from beds: ~5.5 staff, ~40 patients seen/week, 150 accesses/day a bed."""
    s = derive_scale(SynthConfig())
    assert s.staff == 1100 and s.accesses_per_day == 30000 and s.seen == 8000
    assert s.registry > s.seen
    o = derive_scale(SynthConfig(staff=5000, patients=200000, accesses_per_day=714000))
    assert (o.staff, o.registry, o.accesses_per_day) == (5000, 200000, 714000)


def test_label_event_ids_exist_and_match_user_and_patients(small_run: SynthResult) -> None:
    """Every labelled event exists, was made by the labelled user on a labelled patient,
    and lies within the label's start/end."""
    labels = read_labels(small_run.out_dir)
    assert labels
    events = {eid: (u, p, t) for eid, u, p, t, _, _ in audit_rows(small_run.out_dir)}
    for lab in labels:
        assert lab["kind"] in KINDS
        assert isinstance(lab["repeat"], bool)
        assert lab["event_ids"]
        for eid in lab["event_ids"]:
            u, p, t = events[eid]
            assert u == lab["user"]
            assert p in lab["patients"]
            assert ts(lab["start"]) <= t <= ts(lab["end"])


def test_every_kind_planted_at_default_rate(tmp_path: Path) -> None:
    """A default 200-bed, 7-day run plants at least 3 violations of every kind, and some
    violating users are repeat offenders."""
    r = generate(tmp_path, SynthConfig())
    labels = read_labels(r.out_dir)
    kinds = Counter(lab["kind"] for lab in labels)
    for kind in KINDS:
        assert kinds[kind] >= 3, kinds
    repeaters = Counter(lab["user"] for lab in labels if lab["repeat"])
    assert repeaters and all(n >= 2 for n in repeaters.values())
    bulk = [lab for lab in labels if lab["kind"] == "bulk"]
    assert all(50 <= len(set(lab["patients"])) <= 300 for lab in bulk)


def test_violations_have_no_documented_relationship(small_run: SynthResult) -> None:
    """Violating accesses have no encounter/care-team link and no other explanation; the
    kind-defined signals (termination date, break-the-glass purpose, deceased) hold."""
    out = small_run.out_dir
    ctx = load_context(out)
    events = {eid: (u, p, t, pu) for eid, u, p, t, pu, _ in audit_rows(out)}
    labels = read_labels(out)
    assert len({lab["kind"] for lab in labels}) >= 8
    for lab in labels:
        for eid in lab["event_ids"]:
            u, p, t, pu = events[eid]
            assert not linked(ctx, u, p), lab
            assert not explained(ctx, u, p, t, pu), lab
            if lab["kind"] == "terminated":
                end = datetime.fromisoformat(ctx.role_end[u]).date()
                assert datetime.fromtimestamp(t, ZoneInfo(SMALL.site_tz)).date() > end
            if lab["kind"] == "btg_abuse":
                assert pu == "ETREAT"
            if lab["kind"] == "deceased":
                assert ts(ctx.patients[p]["deceasedDateTime"]) < t
            if lab["kind"] == "vip":
                assert ctx.patients[p]["meta"]["security"][0]["code"] in ("R", "V")


def test_legitimate_accesses_are_mostly_but_not_all_explained(small_run: SynthResult) -> None:
    """At least 95% of unlabelled accesses have a documented explanation (encounter
    participant, care team, same department, ancillary or administrative role), and a few
    do not (as in real logs)."""
    out = small_run.out_dir
    ctx = load_context(out)
    bad = {eid for lab in read_labels(out) for eid in lab["event_ids"]}
    n = ok = 0
    for eid, u, p, t, pu, _ in audit_rows(out):
        if eid in bad:
            continue
        n += 1
        ok += explained(ctx, u, p, t, pu)
    assert n > 1000
    assert 0.95 <= ok / n < 1.0


def test_special_patients_share_attributes_with_staff(small_run: SynthResult) -> None:
    """Employees-as-patients copy name, birth date, address and phone; relatives share the
    surname and the address or phone; neighbours share the building but not the surname;
    VIPs, deceased patients and emergency contacts exist."""
    ctx = load_context(small_run.out_dir)

    def key(r: dict[str, object]) -> tuple[str, str, str, str, str]:
        name = r["name"][0]  # type: ignore[index]
        addr = r["address"][0]  # type: ignore[index]
        return (name["family"], name["given"][0], r["birthDate"], addr["line"][0],  # type: ignore[return-value]
                r["telecom"][0]["value"])  # type: ignore[index]

    staff_keys = {key(p) for p in ctx.practitioners.values()}
    employees = [p for p in ctx.patients.values() if key(p) in staff_keys]
    assert len(employees) >= 3
    staff_by_surname: dict[str, list[dict[str, object]]] = {}
    for s in ctx.practitioners.values():
        staff_by_surname.setdefault(s["name"][0]["family"], []).append(s)
    relatives = neighbours = 0
    for p in ctx.patients.values():
        if key(p) in staff_keys:
            continue
        line = p["address"][0]["line"]
        for s in staff_by_surname.get(p["name"][0]["family"], []):
            if (s["address"][0]["line"] == line  # type: ignore[index]
                    or s["telecom"][0]["value"] == p["telecom"][0]["value"]):  # type: ignore[index]
                relatives += 1
                break
    buildings = {(s["address"][0]["line"][0], s["address"][0]["postalCode"]):
                 s["name"][0]["family"] for s in ctx.practitioners.values()
                 if len(s["address"][0]["line"]) == 2}
    for p in ctx.patients.values():
        a = p["address"][0]
        fam = buildings.get((a["line"][0], a["postalCode"]))
        if fam is not None and fam != p["name"][0]["family"]:
            neighbours += 1
    assert relatives >= 10 and neighbours >= 3
    assert any("meta" in p for p in ctx.patients.values())
    assert any("deceasedDateTime" in p for p in ctx.patients.values())
    with_contact = [p for p in ctx.patients.values() if "contact" in p]
    assert with_contact
    assert all(c["relationship"][0]["coding"][0]["code"] == "C"
               for p in with_contact for c in p["contact"])


def test_audit_events_are_utc_time_ordered_and_well_formed(small_run: SynthResult) -> None:
    """AuditEvents are compact BALP-style records with UTC 'Z' timestamps in time order and
    references to existing Practitioners and Patients."""
    out = small_run.out_dir
    ctx = load_context(out)
    last = 0.0
    ids: set[str] = set()
    for r in read_ndjson(out / "AuditEvent.ndjson"):
        assert r["resourceType"] == "AuditEvent" and r["outcome"] == "0"
        assert r["recorded"].endswith("Z") and len(r["recorded"]) == 20
        t = ts(r["recorded"])
        assert t >= last
        last = t
        assert r["id"] not in ids
        ids.add(r["id"])
        assert r["agent"][0]["who"]["reference"].split("/")[1] in ctx.practitioners
        assert r["entity"][0]["what"]["reference"].split("/")[1] in ctx.patients
        assert (r["action"], r["subtype"][0]["code"]) in {
            ("R", "read"), ("E", "search-type"), ("U", "update"), ("C", "create")}


def test_csv_and_fhir_describe_the_same_accesses_across_dst(tmp_path: Path) -> None:
    """CSV and FHIR runs of one config hold the same accesses; CSV local times (which cross
    the 2026-03-08 DST change) convert back to the FHIR UTC instants."""
    cfg = replace(SMALL, start=date(2026, 3, 7), days=2)
    f = generate(tmp_path / "f", cfg)
    c = generate(tmp_path / "c", replace(cfg, format="csv"))
    assert not (c.out_dir / "AuditEvent.ndjson").exists()
    for name in (*CONTEXT_FILES, "labels.jsonl"):
        assert (f.out_dir / name).read_bytes() == (c.out_dir / name).read_bytes()
    raw = (c.out_dir / "access_log.csv").read_bytes()
    assert b"\r\n" not in raw
    tz = ZoneInfo(cfg.site_tz)
    actions = {"read": "R", "search": "E", "update": "U", "create": "C"}
    fhir = {r["id"]: r for r in read_ndjson(f.out_dir / "AuditEvent.ndjson")}
    offsets = set()
    with (c.out_dir / "access_log.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["event_id", "access_time", "user_id", "patient_id", "action",
                             "workstation", "purpose", "reason"]
    assert len(rows) == len(fhir)
    for row in rows:
        ev = fhir[row["event_id"]]
        local = datetime.strptime(row["access_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
        offsets.add(local.utcoffset())
        assert local.timestamp() == ts(ev["recorded"])
        assert row["user_id"] == ev["agent"][0]["who"]["reference"].split("/")[1]
        assert row["patient_id"] == ev["entity"][0]["what"]["reference"].split("/")[1]
        assert actions[row["action"]] == ev["action"]
        assert row["workstation"] == ev["agent"][0]["network"]["address"]
        assert row["purpose"] == ev["purposeOfEvent"][0]["coding"][0]["code"]
        assert row["reason"] == ev["purposeOfEvent"][0].get("text", "")
    assert len(offsets) == 2  # both CST and CDT appear


def _traced_run(out: Path, cfg: SynthConfig) -> tuple[int, int, int]:
    tracemalloc.start()
    try:
        r = generate(out, cfg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sum(p.stat().st_size for p in r.files), r.accesses


def test_memory_stays_bounded_versus_output(tmp_path: Path) -> None:
    """Events stream to disk: a ~50k-access run's traced heap peak is far below its output
    size, and doubling the days (and the output) barely moves the peak."""
    cfg = SynthConfig(beds=20, days=3, seed=3, accesses_per_day=8000)
    peak3, _, _ = _traced_run(tmp_path / "a", cfg)
    peak6, size6, n6 = _traced_run(tmp_path / "b", replace(cfg, days=6))
    assert n6 >= 40000
    assert peak6 < size6 / 3, (peak6, size6)
    assert peak6 < 1.3 * peak3, (peak3, peak6)


def test_labels_jsonl_is_valid_json_lines(small_run: SynthResult) -> None:
    """labels.jsonl holds one object per line with exactly the documented keys."""
    lines = small_run.labels_path.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert set(obj) == {"kind", "user", "patients", "event_ids", "start", "end", "repeat"}


def test_rejects_bad_config(tmp_path: Path) -> None:
    """Nonsensical sizes are refused."""
    with pytest.raises(ValueError):
        generate(tmp_path, SynthConfig(days=0))
