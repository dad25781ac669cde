"""Encounters (ED visits, inpatient stays, outpatient visits), participants and care teams.

Volumes per day (our judgement for a US community hospital): inpatient admissions
~= beds / 6 (75% occupancy, mean length of stay ~4.5 days), ED visits ~= 0.55 x beds, and
outpatient visits fill the rest of the patients-seen budget. 20% of ED visits become an
admission. Inpatients admitted up to 20 days before the period are included (the initial
census, and recent discharges that billing and HIM still work on).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date

from carewarden.synth.clock import DAY, SiteClock, day_number
from carewarden.synth.config import Scale, sub_rng
from carewarden.synth.population import DEPT_INDEX, TEACHING, Population, Rosters

ED = DEPT_INDEX["ED"]
FLOAT = DEPT_INDEX["FLOAT"]
IMP_DEPTS: tuple[tuple[str, int], ...] = (
    ("ICU", 10), ("3W", 22), ("4E", 22), ("CARD", 14), ("ONC", 8), ("PEDS", 6), ("OB", 10),
    ("SURG", 8),
)
AMB_DEPTS: tuple[tuple[str, int], ...] = (
    ("CARD", 25), ("ONC", 20), ("PEDS", 15), ("OB", 20), ("SURG", 10), ("3W", 10),
)
PRE_DAYS = 20

Participant = tuple[int, str, int, int]  # staff idx, ParticipationType code, start, end (UTC)


@dataclass(slots=True)
class Encounter:
    """One Encounter (and, for inpatients, its CareTeam)."""

    idx: int
    eid: str
    cls: str  # IMP, EMER, AMB
    patient: int
    dept: int
    start: int
    end: int
    attending: int
    resident: int = -1
    consultant: int = -1
    participants: list[Participant] = field(default_factory=list)
    nurses: dict[int, int] = field(default_factory=dict)  # 12h block key -> nurse
    careteam: list[tuple[int, str]] = field(default_factory=list)
    ct_id: str = ""


@dataclass
class Clinical:
    """All encounters plus the indexes the access generator needs."""

    encounters: list[Encounter]
    by_day: dict[int, list[int]]  # local day number -> encounters active that day
    starts: dict[int, list[int]]  # local day number -> encounters starting that day
    post: dict[int, list[tuple[int, str]]]  # day -> (encounter, "billing"|"him") work items
    links: dict[int, set[int]]  # patient -> staff documented on any of its encounters
    pat_encs: dict[int, list[int]]  # patient -> encounters
    sim_start: int
    sim_end: int


def block_key(dn: int, local_sec: int) -> int:
    """12-hour nursing block (07-19 day, 19-07 night) containing a local time."""
    if local_sec < 7 * 3600:
        return (dn - 1) * 2 + 1
    if local_sec < 19 * 3600:
        return dn * 2
    return dn * 2 + 1


class _Builder:
    def __init__(self, pop: Population, rosters: Rosters, clock: SiteClock,
                 rng: random.Random) -> None:
        self.pop = pop
        self.rosters = rosters
        self.clock = clock
        self.rng = rng
        self.encs: list[Encounter] = []

    def local(self, t: int) -> tuple[int, int]:
        lt = t + self.clock.utc_offset_at(t)
        return lt // DAY, lt % DAY

    def pick_on_duty(self, dept: int, role: str, t: int, fallback: bool = True) -> int:
        dn, sec = self.local(t)
        cands = self.rosters.on_duty(dn, dept, role, sec // 3600)
        if cands:
            return self.rng.choice(cands)
        if not fallback:
            return -1
        pool = self.pop.by_dept_role.get((dept, role), [])
        return self.rng.choice(pool) if pool else -1

    def physician(self, dept: int, t: int) -> int:
        a = self.pick_on_duty(dept, "attending", t, fallback=False)
        if a < 0:
            pool = self.pop.by_dept_role.get((dept, "attending"))
            if not pool:
                pool = self.pop.by_role["attending"]
            a = self.rng.choice(pool)
        return a

    def assign_nurses(self, e: Encounter) -> None:
        t = e.start
        seen: set[int] = set()
        while t < e.end:
            dn, sec = self.local(t)
            key = block_key(dn, sec)
            bdn, night = divmod(key, 2)
            bstart_local = 19 * 3600 if night else 7 * 3600
            bstart = self.clock.local_to_utc(bdn, bstart_local)
            bend = self.clock.local_to_utc(bdn, bstart_local + 12 * 3600) if not night else \
                self.clock.local_to_utc(bdn + 1, 7 * 3600)
            probe = max(t, bstart) + 60
            nurse = -1
            if self.rng.random() < 0.12:
                nurse = self.pick_on_duty(FLOAT, "float_nurse", probe, fallback=False)
            if nurse < 0:
                nurse = self.pick_on_duty(e.dept, "nurse", probe)
            if nurse >= 0:
                e.nurses[key] = nurse
                e.participants.append((nurse, "PART", max(e.start, bstart), min(e.end, bend)))
                if nurse not in seen and len(seen) < 3:
                    seen.add(nurse)
                    e.careteam.append((nurse, "Primary nurse"))
            t = bend

    def make(self, cls: str, patient: int, dept: int, start: int, end: int) -> Encounter:
        rng = self.rng
        att = self.physician(dept, start)
        e = Encounter(idx=len(self.encs), eid="", cls=cls, patient=patient, dept=dept,
                      start=start, end=end, attending=att)
        if cls == "IMP":
            adm = att if rng.random() < 0.7 else self.physician(dept, start)
            e.participants.append((adm, "ADM", start, start + 1800))
        e.participants.append((att, "ATND", start, end))
        e.careteam.append((att, "Attending physician"))
        if dept in TEACHING and rng.random() < (0.7 if cls == "IMP" else 0.35):
            r = self.pick_on_duty(dept, "resident", start)
            if r >= 0:
                e.resident = r
                e.participants.append((r, "PPRF", start, end))
                e.careteam.append((r, "Resident physician"))
        if cls != "AMB" and rng.random() < (0.3 if cls == "IMP" else 0.1):
            other = [d for d, _ in IMP_DEPTS if DEPT_INDEX[d] != dept]
            cdept = DEPT_INDEX[rng.choice(other)]
            pool = self.pop.by_dept_role.get((cdept, "attending"))
            if pool:
                c = rng.choice(pool)
                e.consultant = c
                cs = start + rng.randrange(0, max(1, (end - start) // 2))
                e.participants.append((c, "CON", cs, end))
                e.careteam.append((c, "Consulting physician"))
        if cls == "AMB":
            if rng.random() < 0.6:
                n = self.pick_on_duty(dept, "nurse", start)
                if n >= 0:
                    dn, sec = self.local(start)
                    e.nurses[block_key(dn, sec)] = n
                    e.participants.append((n, "PART", start, end))
        else:
            self.assign_nurses(e)
        if cls == "IMP":
            ph = self.pop.by_role.get("pharmacist", [])
            if ph:
                e.careteam.append((rng.choice(ph), "Clinical pharmacist"))
            e.participants.append((att, "DIS", end - 1800, end))
        self.encs.append(e)
        return e


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> int:
    return DEPT_INDEX[rng.choices([d for d, _ in table], [w for _, w in table])[0]]


def build_clinical(seed: int, pop: Population, scale: Scale, beds: int, start: date,
                   clock: SiteClock, rosters: Rosters) -> Clinical:
    """Generate every encounter of the period (plus the pre-period census)."""
    rng = sub_rng(seed, "clinical")
    b = _Builder(pop, rosters, clock, rng)
    start_dn = day_number(start)
    sim_start = clock.local_to_utc(start_dn, 0)
    sim_end = clock.local_to_utc(start_dn + scale.days, 0)
    living = [p.idx for p in pop.patients if p.deceased is None]
    seen_pool = living[: max(1, round(len(living) * scale.seen / max(1, len(pop.patients))))]
    rng.shuffle(seen_pool)
    prior_pool = living[len(seen_pool):] or seen_pool
    imp_day = max(1.0, beds / 6)
    emer_day = max(2.0, 0.55 * beds)
    amb_day = max(2.0, scale.seen * 1.1 / scale.days - imp_day - emer_day)
    seen_i = 0

    def next_seen() -> int:
        nonlocal seen_i
        if seen_i < len(seen_pool):
            p = seen_pool[seen_i]
            seen_i += 1
            return p
        return rng.choice(seen_pool)

    def los_days() -> int:
        return max(1, min(30, round(rng.lognormvariate(math.log(3.6), 0.6))))

    def n_today(rate: float) -> int:
        base = math.floor(rate)
        return base + (1 if rng.random() < rate - base else 0)

    for dn in range(start_dn - PRE_DAYS, start_dn + scale.days):
        in_period = dn >= start_dn
        wd = (dn + 3) % 7  # 1970-01-01 was a Thursday
        pick = next_seen if in_period else (lambda: rng.choice(prior_pool))
        for _ in range(n_today(emer_day * (1.1 if wd >= 5 else 1.0))):
            h = rng.choices(range(24), (2, 1, 1, 1, 1, 2, 3, 4, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6,
                                        6, 5, 4, 3, 2))[0]
            s = clock.local_to_utc(dn, h * 3600 + rng.randrange(3600))
            e = b.make("EMER", pick(), ED, s, s + rng.randrange(2 * 3600, 8 * 3600))
            if rng.random() < 0.2:
                dept = _weighted(rng, IMP_DEPTS)
                dd, _ = b.local(e.end)
                end = clock.local_to_utc(dd + los_days(), rng.randrange(10 * 3600, 17 * 3600))
                b.make("IMP", e.patient, dept, e.end, max(end, e.end + 6 * 3600))
        for _ in range(n_today(imp_day * 0.8 * (0.5 if wd >= 5 else 1.2))):
            dept = _weighted(rng, IMP_DEPTS)
            s = clock.local_to_utc(dn, rng.randrange(7 * 3600, 18 * 3600))
            end = clock.local_to_utc(dn + los_days(), rng.randrange(10 * 3600, 17 * 3600))
            b.make("IMP", pick(), dept, s, end)
        if in_period:
            for _ in range(n_today(amb_day * (0.15 if wd >= 5 else 1.3))):
                dept = _weighted(rng, AMB_DEPTS)
                s = clock.local_to_utc(dn, rng.randrange(8 * 3600, 17 * 3600))
                b.make("AMB", pick(), dept, s, s + rng.randrange(20 * 60, 70 * 60))
    _confounders(b, pop, clock, start_dn, scale.days)
    encs = [e for e in b.encs if e.end > sim_start - 35 * DAY]
    ids = rng.sample(range(10**8, 10**9), 2 * len(encs))
    by_day: dict[int, list[int]] = {}
    starts: dict[int, list[int]] = {}
    post: dict[int, list[tuple[int, str]]] = {}
    links: dict[int, set[int]] = {}
    pat_encs: dict[int, list[int]] = {}
    last_dn = start_dn + scale.days - 1
    encs.sort(key=lambda e: (e.start, e.idx))
    for i, e in enumerate(encs):
        e.idx = i
        e.eid = f"enc{ids[2 * i]}"
        if e.cls == "IMP":
            e.ct_id = f"ct{ids[2 * i + 1]}"
        sdn, _ = b.local(e.start)
        edn, _ = b.local(e.end - 1)
        for dn in range(max(sdn, start_dn), min(edn, last_dn) + 1):
            by_day.setdefault(dn, []).append(i)
        if start_dn <= sdn <= last_dn:
            starts.setdefault(sdn, []).append(i)
        if e.end < sim_end:
            edn2, _ = b.local(e.end)
            work = [("billing", rng.randrange(1, 8))]
            if e.cls == "IMP" and rng.random() < 0.5:
                work.append(("him", rng.randrange(2, 26)))
            if e.cls == "AMB" and rng.random() < 0.6:
                work = []
            for kind, lag in work:
                dn = edn2 + lag
                while (dn + 3) % 7 >= 5:
                    dn += 1
                if start_dn <= dn <= last_dn:
                    post.setdefault(dn, []).append((i, kind))
        ls = links.setdefault(e.patient, set())
        ls.update(p[0] for p in e.participants)
        ls.update(m for m, _ in e.careteam)
        pat_encs.setdefault(e.patient, []).append(i)
    return Clinical(encounters=encs, by_day=by_day, starts=starts, post=post, links=links,
                    pat_encs=pat_encs, sim_start=sim_start, sim_end=sim_end)


def _confounders(b: _Builder, pop: Population, clock: SiteClock, start_dn: int,
                 days: int) -> None:
    """Legitimate look-alikes: same-surname and same-building clinician/patient pairs."""
    rng = b.rng
    # staff living in the same building who treat each other through an encounter
    by_building: dict[tuple[str, str], list[int]] = {}
    for s in pop.staff:
        if s.addr[1] and s.patient >= 0:
            by_building.setdefault((s.addr[0], s.addr[4]), []).append(s.idx)
    clinicians = {s.idx for s in pop.staff if s.role in ("attending", "nurse")}
    made = 0
    for key in sorted(by_building):
        for pi in by_building[key]:
            patient_staff = pop.staff[pi]
            for s in pop.staff:
                if (s.idx in clinicians and s.idx != pi and s.addr[0] == key[0]
                        and s.addr[4] == key[1] and s.term is None and made < 6):
                    dn = start_dn + rng.randrange(days)
                    t = clock.local_to_utc(dn, rng.randrange(9 * 3600, 16 * 3600))
                    e = b.make("AMB", patient_staff.patient, s.dept, t, t + 3600)
                    if e.attending != s.idx:
                        e.participants.append((s.idx, "PART", t, t + 3600))
                        e.careteam.append((s.idx, "Treating clinician"))
                        e.nurses[block_key(*b.local(t))] = s.idx
                    made += 1
                    break
    # Smith treats Smith: an encounter whose attending shares the patient's surname
    by_surname: dict[str, list[int]] = {}
    for p in pop.patients:
        if p.deceased is None and p.tag == "general":
            by_surname.setdefault(p.family, []).append(p.idx)
    atts = [i for i in pop.by_role["attending"] if pop.staff[i].term is None]
    made = 0
    for a in atts:
        fam = pop.staff[a].family
        if fam in by_surname and made < 8:
            s = pop.staff[a]
            dn = start_dn + rng.randrange(days)
            t = clock.local_to_utc(dn, rng.randrange(9 * 3600, 16 * 3600))
            cls = "AMB" if s.dept != ED else "EMER"
            e = b.make(cls, rng.choice(by_surname[fam]), s.dept, t, t + 3600)
            e.participants = [(a if c == "ATND" else x, c, st, en)
                              for x, c, st, en in e.participants]
            e.careteam = [(a if r == "Attending physician" else m, r) for m, r in e.careteam]
            e.attending = a
            made += 1
