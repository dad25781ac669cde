"""Injected, labelled privacy violations.

Base rates
----------
* Protenus, *Breach Barometer* / *Health Data Privacy Report* series (2019-2022): hospitals
  using automated privacy monitoring confirm roughly 3.4 violations per 1,000 employees per
  quarter; snooping on family members is the most common category, followed by co-workers,
  neighbours and VIPs.
* Fabbri, D. and LeFevre, K., "Explanation-based auditing", PVLDB 5(1), 2011 (VLDB 2012):
  more than 94% of accesses in a hospital EHR log are explained by a documented relationship
  (appointments, encounters, departments), so the unexplained remainder is small but not zero.

At 3.4 / 1,000 / quarter a 1,100-person hospital commits ~0.3 violations a week, so a default
run *oversamples*: the expected number of violations is

    base (3.4e-3 / 91 per employee-day) x staff x days x OVERSAMPLE x violation_rate

with OVERSAMPLE = 250, split by KIND_SHARES (family the largest share). The smallest share
(4.5%) still yields >= 3 violations of every kind for the default 200-bed, 7-day run;
``violation_rate`` scales everything (1.0 = the default oversampled rate, 1/250 = real life).

Every violation is an access (or several) with no documented relationship between the user
and the patient: no encounter participation or care-team membership, no encounter of that
patient in the user's department, and for ancillary/administrative users no active or
recently discharged encounter - except where the kind defines it (``terminated``: access
after PractitionerRole.period.end; ``btg_abuse``: break-the-glass with an empty, boilerplate
or repeated reason, or on a patient with no encounter then or later). About 12% of violating
users are repeat offenders with several labelled violations (``"repeat": true``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from carewarden.synth.access import ETREAT, READ, SEARCH, TREAT, Event
from carewarden.synth.clinical import Clinical
from carewarden.synth.clock import DAY, SiteClock, day_number
from carewarden.synth.config import sub_rng
from carewarden.synth.population import Population, Staff, employed

BASE_PER_EMPLOYEE_DAY = 3.4 / 1000 / 91
OVERSAMPLE = 250.0
KIND_SHARES: dict[str, float] = {
    "family": 0.30, "coworker": 0.13, "neighbour": 0.07, "vip": 0.08, "self": 0.06,
    "deceased": 0.055, "terminated": 0.07, "bulk": 0.045, "slow_drip": 0.06,
    "btg_abuse": 0.13,
}
KINDS: tuple[str, ...] = tuple(KIND_SHARES)
ANCILLARY = frozenset({"pharmacist", "lab_tech", "radiologist", "teleradiologist", "rad_tech",
                       "billing", "him", "registration", "transport", "float_nurse"})
CLINICAL = ("attending", "resident", "nurse")
BOILERPLATE = ("", "", "emergency", "patient care", "btg", "n/a", ".", "need access", "test")


@dataclass
class Violation:
    """One labelled violation; ``events`` are (utc, patient, action, ws, purpose, reason)."""

    kind: str
    user: int
    patients: list[int]
    events: list[tuple[int, int, int, int, int, str]] = field(default_factory=list)
    repeat: bool = False
    event_ids: list[str] = field(default_factory=list)


def plan_counts(seed: int, staff: int, days: int, violation_rate: float) -> dict[str, int]:
    """How many violations of each kind to plant (stochastic rounding, seeded)."""
    rng = sub_rng(seed, "violation-counts")
    total = BASE_PER_EMPLOYEE_DAY * staff * days * OVERSAMPLE * max(0.0, violation_rate)
    out: dict[str, int] = {}
    for k in KINDS:
        x = total * KIND_SHARES[k]
        n = math.floor(x)
        out[k] = n + (1 if rng.random() < x - n else 0)
    return out


class Planner:
    """Chooses users, patients and times for each violation."""

    def __init__(self, seed: int, pop: Population, clin: Clinical, clock: SiteClock,
                 start: date, days: int) -> None:
        self.rng = sub_rng(seed, "violations")
        self.pop = pop
        self.clin = clin
        self.clock = clock
        self.start = start
        self.start_dn = day_number(start)
        self.days = days
        self.no_enc = [p.idx for p in pop.patients
                       if p.idx not in clin.pat_encs and p.deceased is None]
        self.vips = [p.idx for p in pop.patients if p.security]
        self.dead = [p.idx for p in pop.patients if p.deceased is not None]
        self.emp_by_dept: dict[int, list[int]] = {}
        for st in pop.staff:
            if st.patient >= 0:
                self.emp_by_dept.setdefault(st.dept, []).append(st.idx)

    # -- helpers -----------------------------------------------------------------------
    def unrelated(self, u: int, p: int, t: int) -> bool:
        s = self.pop.staff[u]
        if p == s.patient or u in self.clin.links.get(p, ()):
            return False
        anc = s.role in ANCILLARY
        for ei in self.clin.pat_encs.get(p, ()):
            e = self.clin.encounters[ei]
            if e.dept == s.dept:
                return False
            if anc and e.start - DAY <= t <= e.end + 31 * DAY:
                return False
        return True

    def time_for(self, s: Staff, after: date | None = None, day: int | None = None,
                 off_hours: float = 0.15) -> int:
        rng = self.rng
        for _ in range(30):
            dn = day if day is not None else self.start_dn + rng.randrange(self.days)
            d = date(1970, 1, 1) + timedelta(days=dn)
            if after is not None and d <= after:
                if day is not None:
                    break
                continue
            if after is None and not employed(s, d):
                if day is not None:
                    break
                continue
            mask = s.duty[d.weekday()]
            hours = [h for h in range(24) if (mask >> h) & 1]
            if not hours or rng.random() < off_hours:
                hours = [19, 20, 21, 22, 23]
            h = rng.choice(hours)
            return self.clock.local_to_utc(dn, h * 3600 + rng.randrange(3000))
        dn = day if day is not None else self.start_dn + self.days - 1
        return self.clock.local_to_utc(dn, 21 * 3600)

    def random_unrelated(self, u: int, t: int, exclude: set[int]) -> int:
        n = len(self.pop.patients)
        for _ in range(60):
            p = self.rng.randrange(n)
            if p not in exclude and self.unrelated(u, p, t):
                return p
        return -1

    def ws(self, u: int) -> int:
        return self.rng.randrange(len(self.pop.staff[u].workstations))

    def burst(self, v: Violation, p: int, t: int, n: int, spread: int,
              purpose: int = TREAT, reasons: list[str] | None = None) -> None:
        rng = self.rng
        ws = self.ws(v.user)
        times = sorted(t + rng.randrange(0, max(1, spread)) for _ in range(n))
        times[0] = t
        for k, tt in enumerate(times):
            action = SEARCH if k == 0 and rng.random() < 0.4 else READ
            reason = reasons[k % len(reasons)] if reasons else ""
            v.events.append((tt, p, action, ws, purpose, reason))
        if p not in v.patients:
            v.patients.append(p)

    # -- kinds -------------------------------------------------------------------------
    def plan(self, kind: str, user: int | None) -> Violation | None:
        fn = getattr(self, "_" + kind)
        for _ in range(8):
            v: Violation | None = fn(user)
            if v is not None and v.events:
                v.events.sort()
                return v
        return None

    def _pick(self, cands: list[int], user: int | None) -> int | None:
        if user is not None:
            return user if user in cands else None
        return self.rng.choice(cands) if cands else None

    def _family(self, user: int | None) -> Violation | None:
        u = self._pick([s.idx for s in self.pop.staff if s.relatives and s.term is None], user)
        if u is None:
            return None
        s = self.pop.staff[u]
        t = self.time_for(s)
        rels = [r for r in s.relatives if self.unrelated(u, r, t)]
        if not rels:
            return None
        v = Violation("family", u, [])
        for p in self.rng.sample(rels, 2 if len(rels) > 1 and self.rng.random() < 0.2 else 1):
            self.burst(v, p, t + self.rng.randrange(0, 900), self.rng.randrange(1, 7), 2400)
        return v

    def _coworker(self, user: int | None) -> Violation | None:
        ebd = self.emp_by_dept
        cands = [s.idx for s in self.pop.staff if s.term is None
                 and any(o != s.idx for o in ebd.get(s.dept, ()))]
        u = self._pick(cands, user)
        if u is None:
            return None
        s = self.pop.staff[u]
        t = self.time_for(s)
        targets = [self.pop.staff[o].patient for o in ebd.get(s.dept, ()) if o != u
                   and self.unrelated(u, self.pop.staff[o].patient, t)]
        if not targets:
            return None
        v = Violation("coworker", u, [])
        self.burst(v, self.rng.choice(targets), t, self.rng.randrange(1, 5), 1800)
        return v

    def _neighbour(self, user: int | None) -> Violation | None:
        u = self._pick([s.idx for s in self.pop.staff if s.neighbours and s.term is None], user)
        if u is None:
            return None
        s = self.pop.staff[u]
        t = self.time_for(s)
        targets = [p for p in s.neighbours if self.unrelated(u, p, t)]
        if not targets:
            return None
        v = Violation("neighbour", u, [])
        self.burst(v, self.rng.choice(targets), t, self.rng.randrange(1, 5), 1800)
        return v

    def _vip(self, user: int | None) -> Violation | None:
        if not self.vips:
            return None
        p = self.rng.choice(self.vips)
        cands = [s.idx for s in self.pop.staff if s.term is None and s.role != "it"]
        u = self._pick(cands, user)
        if u is None:
            return None
        s = self.pop.staff[u]
        t = self.time_for(s)
        encs = [self.clin.encounters[i] for i in self.clin.pat_encs.get(p, ())]
        live = [e for e in encs if e.end > self.clin.sim_start and e.start < self.clin.sim_end]
        if live and user is None:
            e = self.rng.choice(live)
            lo = max(e.start, self.clin.sim_start)
            hi = min(e.end, self.clin.sim_end)
            t = lo + self.rng.randrange(max(1, hi - lo))
        if not self.unrelated(u, p, t):
            return None
        v = Violation("vip", u, [])
        self.burst(v, p, t, self.rng.randrange(1, 6), 3600)
        return v

    def _self(self, user: int | None) -> Violation | None:
        u = self._pick([s.idx for s in self.pop.staff if s.patient >= 0 and s.term is None],
                       user)
        if u is None:
            return None
        s = self.pop.staff[u]
        t = self.time_for(s)
        if u in self.clin.links.get(s.patient, ()):
            return None
        v = Violation("self", u, [])
        self.burst(v, s.patient, t, self.rng.randrange(1, 4), 1200)
        return v

    def _deceased(self, user: int | None) -> Violation | None:
        cands = [s.idx for s in self.pop.staff if s.term is None]
        u = self._pick(cands, user)
        if u is None or not self.dead:
            return None
        t = self.time_for(self.pop.staff[u])
        targets = [p for p in self.rng.sample(self.dead, min(20, len(self.dead)))
                   if (self.pop.patients[p].deceased or 0) < t and self.unrelated(u, p, t)]
        if not targets:
            return None
        v = Violation("deceased", u, [])
        self.burst(v, targets[0], t, self.rng.randrange(1, 4), 1200)
        return v

    def _terminated(self, user: int | None) -> Violation | None:
        last = self.start + timedelta(days=self.days - 1)
        cands = [s.idx for s in self.pop.staff if s.term is not None and s.term < last]
        u = self._pick(cands, user)
        if u is None:
            return None
        s = self.pop.staff[u]
        assert s.term is not None
        t = self.time_for(s, after=s.term, off_hours=0.5)
        v = Violation("terminated", u, [])
        used: set[int] = set()
        for _ in range(self.rng.randrange(1, 5)):
            p = self.random_unrelated(u, t, used)
            if p < 0:
                continue
            used.add(p)
            self.burst(v, p, t, self.rng.randrange(1, 4), 900)
            t += self.rng.randrange(60, 1800)
        return v

    def _bulk(self, user: int | None) -> Violation | None:
        cands = [s.idx for s in self.pop.staff if s.term is None]
        u = self._pick(cands, user)
        if u is None:
            return None
        rng = self.rng
        t = self.time_for(self.pop.staff[u])
        n_pat = len(self.pop.patients)
        k = min(rng.randrange(50, 301), max(10, n_pat // 4))
        dur = rng.randrange(3600, 7200)
        chosen: list[int] = []
        used: set[int] = set()
        if rng.random() < 0.4:
            pos = rng.randrange(n_pat)
            for step in range(n_pat):
                p = self.pop.mrn_order[(pos + step) % n_pat]
                if self.unrelated(u, p, t):
                    chosen.append(p)
                    used.add(p)
                    if len(chosen) >= k:
                        break
        else:
            for _ in range(k):
                p = self.random_unrelated(u, t, used)
                if p >= 0:
                    chosen.append(p)
                    used.add(p)
        if len(chosen) < 10:
            return None
        v = Violation("bulk", u, [])
        ws = self.ws(u)
        step_t = dur / len(chosen)
        for i, p in enumerate(chosen):
            tt = t + int(i * step_t) + rng.randrange(max(1, int(step_t)))
            v.events.append((tt, p, READ if rng.random() < 0.9 else SEARCH, ws, TREAT, ""))
            v.patients.append(p)
        return v

    def _slow_drip(self, user: int | None) -> Violation | None:
        cands = [s.idx for s in self.pop.staff if s.term is None and s.role != "it"]
        u = self._pick(cands, user)
        if u is None:
            return None
        rng = self.rng
        s = self.pop.staff[u]
        first = self.start_dn + rng.randrange(max(1, self.days // 3))
        last = min(self.start_dn + self.days - 1, first + 28)
        v = Violation("slow_drip", u, [])
        used: set[int] = set()
        for dn in range(first, last + 1):
            if rng.random() < 0.2:
                continue
            for _ in range(rng.randrange(2, 6)):
                t = self.time_for(s, day=dn, off_hours=0.1)
                p = self.random_unrelated(u, t, used)
                if p >= 0:
                    used.add(p)
                    self.burst(v, p, t, 1, 1)
        return v if len(v.patients) >= 2 else None

    def _btg_abuse(self, user: int | None) -> Violation | None:
        cands = [s.idx for s in self.pop.staff if s.term is None and s.role in CLINICAL]
        u = self._pick(cands, user)
        if u is None:
            return None
        rng = self.rng
        t = self.time_for(self.pop.staff[u])
        mode = rng.randrange(3)
        if mode == 0:
            reasons = [rng.choice(BOILERPLATE)]
        elif mode == 1:
            reasons = [rng.choice(("Patient care - urgent", "Emergency access required",
                                   "Clinical need"))]
        else:
            reasons = ["Reviewing chart for continuity of care"]
        v = Violation("btg_abuse", u, [])
        used: set[int] = set()
        for _ in range(rng.randrange(1, 4)):
            if self.no_enc and rng.random() < 0.6:
                p = rng.choice(self.no_enc)
                if p in used or not self.unrelated(u, p, t):
                    continue
            else:
                p = self.random_unrelated(u, t, used)
            if p < 0:
                continue
            used.add(p)
            self.burst(v, p, t, rng.randrange(1, 4), 1500, purpose=ETREAT, reasons=reasons)
            t += rng.randrange(300, 4 * 3600)
        return v


def plan_violations(seed: int, pop: Population, clin: Clinical, clock: SiteClock,
                    start: date, days: int, counts: dict[str, int]) -> list[Violation]:
    """Plan every violation of the run (sorted by first event)."""
    planner = Planner(seed, pop, clin, clock, start, days)
    rng = planner.rng
    left = dict(counts)
    out: list[Violation] = []
    total = sum(counts.values())
    n_repeat = round(0.12 * total)
    if n_repeat and left.get("family", 0) > 0:
        cands = [s.idx for s in pop.staff if s.relatives and s.term is None]
        for u in rng.sample(cands, min(n_repeat, len(cands))):
            if left["family"] <= 0:
                break
            first = planner.plan("family", u)
            if first is None:
                continue
            mine = [first]
            left["family"] -= 1
            extra = [k for k in ("vip", "deceased", "slow_drip", "btg_abuse", "family",
                                 "neighbour", "self", "bulk") if left.get(k, 0) > 0]
            for k in rng.sample(extra, min(len(extra), rng.randrange(1, 3))):
                v = planner.plan(k, u)
                if v is not None:
                    mine.append(v)
                    left[k] -= 1
            if len(mine) > 1:
                for v in mine:
                    v.repeat = True
            out.extend(mine)
    for k in KINDS:
        for _ in range(left.get(k, 0)):
            v = planner.plan(k, None)
            if v is not None:
                out.append(v)
    per_user: dict[int, int] = {}
    for v in out:
        per_user[v.user] = per_user.get(v.user, 0) + 1
    for v in out:
        if per_user[v.user] > 1:
            v.repeat = True
    lo, hi = clin.sim_start, clin.sim_end - 1
    for v in out:
        v.events = [(min(hi, max(lo, e[0])), *e[1:]) for e in v.events]
        v.events.sort()
    out.sort(key=lambda v: (v.events[0][0], v.kind, v.user))
    return out


def violation_events(viols: list[Violation], clock: SiteClock) -> dict[int, list[Event]]:
    """Bucket violation events by site-local day number, tagged with their violation index."""
    out: dict[int, list[Event]] = {}
    for vi, v in enumerate(viols):
        for t, p, action, ws, purpose, reason in v.events:
            dn = day_number(clock.local_date(t))
            out.setdefault(dn, []).append((t, v.user, p, action, ws, purpose, reason, vi))
    return out

