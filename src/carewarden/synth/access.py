"""Legitimate EHR access patterns, generated one local day at a time.

Who opens a chart, and why (each with its documented explanation):

* treating clinicians of the encounter (attending, resident, the nurse of the current 12-hour
  block, consultants added as CON participants) - encounter participation / care team;
* covering physicians of the same department when the attending is off duty - same department;
* float nurses assigned to a ward block - participation;
* pharmacists, laboratory, radiology (on-site by day, teleradiologists from off-site
  addresses at night) and transport for patients with an active encounter - ancillary role;
* registration at the start of an encounter; billing/coding and HIM on business days within
  ~30 days after discharge - administrative role;
* legitimate ED break-the-glass (ETREAT, specific varied reason, patient in the ED then);
* a small unexplained remainder: nurses of another ward looking up a patient about to be
  transferred in (~1% of clinical accesses).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from carewarden.synth.clinical import ED, Clinical, Encounter, block_key
from carewarden.synth.clock import DAY, SiteClock
from carewarden.synth.population import DEPT_INDEX, WARDS, Population, Rosters, employed

# event tuple: (utc, staff, patient, action, workstation index, purpose, reason, violation)
Event = tuple[int, int, int, int, int, int, str, int]

READ, SEARCH, UPDATE, CREATE = 0, 1, 2, 3
TREAT, ETREAT, HPAYMT, HOPERAT = 0, 1, 2, 3

# access rate per second of encounter activity (relative; scaled to the daily budget)
_RATE = {"IMP": 50 / DAY, "EMER": 6 / 3600, "AMB": 8 / 3600}
# categories: n nurse, a attending/covering, r resident, c consultant, p pharmacy, l lab,
# x radiology, t transport, u unexplained, g ED break-the-glass
_CATS: dict[str, tuple[tuple[str, float], ...]] = {
    "IMP": (("n", 0.44), ("a", 0.17), ("r", 0.08), ("c", 0.04), ("p", 0.09), ("l", 0.07),
            ("x", 0.05), ("t", 0.02), ("u", 0.012)),
    "EMER": (("n", 0.40), ("a", 0.25), ("r", 0.06), ("c", 0.03), ("p", 0.05), ("l", 0.08),
             ("x", 0.08), ("t", 0.02), ("u", 0.01), ("g", 0.012)),
    "AMB": (("a", 0.5), ("n", 0.3), ("l", 0.08), ("x", 0.05), ("p", 0.04), ("u", 0.01)),
}
_CUM: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {}
for _k, _tab in _CATS.items():
    _acc = 0.0
    _cs: list[float] = []
    for _c, _w in _tab:
        _acc += _w
        _cs.append(_acc)
    _CUM[_k] = (tuple(x / _acc for x in _cs), tuple(c for c, _ in _tab))

BTG_REASONS: tuple[str, ...] = (
    "Trauma activation - reviewing allergies and anticoagulants",
    "Stroke alert, need last known well and med list",
    "Pt unresponsive on arrival, reviewing prior history",
    "Cardiology consult requested verbally by ED attending",
    "Code blue response in ED bay {bay}",
    "Sepsis alert - checking prior cultures and antibiotic history",
    "Overdose, need prior psych and medication history",
    "Pediatric resuscitation bay {bay}, checking weight and allergies",
    "Chest pain, comparing with prior ECG and cath report",
    "Anesthesia pre-eval for emergent OR case",
    "GI bleed, reviewing prior endoscopy findings",
    "Transfer-in from outside hospital, reconciling medications",
)
PHYS_ROLES = ("attending", "resident")


class AccessGenerator:
    """Produces the legitimate events of one local day."""

    def __init__(self, seed: int, pop: Population, clin: Clinical, rosters: Rosters,
                 clock: SiteClock, accesses_per_day: int) -> None:
        self.rng = random.Random(f"carewarden-synth/{seed}/access")
        self.pop = pop
        self.clin = clin
        self.rosters = rosters
        self.clock = clock
        self.apd = accesses_per_day
        self.nws = [len(s.workstations) for s in pop.staff]
        self.rad = DEPT_INDEX["RAD"]
        self.lab = DEPT_INDEX["LAB"]
        self.pharm = DEPT_INDEX["PHARM"]
        self.reg = DEPT_INDEX["REG"]
        self.trans = DEPT_INDEX["TRANS"]
        self.bill = DEPT_INDEX["BILL"]
        self.him = DEPT_INDEX["HIM"]
        self.duty = [s.duty for s in pop.staff]
        self.wards = [w for w in WARDS if w != ED]
        self._working_day = -1
        self.own_chart = {p.idx: p.staff for p in pop.patients if p.tag == "employee"}
        self._working_flags = bytearray()

    def _working(self, dn: int) -> bytearray:
        """1 for each staff member employed on local day ``dn`` (an encounter's attending may
        leave the hospital before the patient does; colleagues cover from then on)."""
        if self._working_day != dn:
            d = date(1970, 1, 1) + timedelta(days=dn)
            self._working_flags = bytearray(employed(s, d) for s in self.pop.staff)
            self._working_day = dn
        return self._working_flags

    def _ws(self, s: int) -> int:
        n = self.nws[s]
        return 0 if n == 1 else int(self.rng.random() * n)

    def day(self, dn: int) -> list[Event]:
        """All legitimate events of local day ``dn`` (unsorted)."""
        rng = self.rng
        clock = self.clock
        clin = self.clin
        encs = clin.encounters
        out: list[Event] = []
        app = out.append
        d0 = clock.local_to_utc(dn, 0)
        d1 = clock.local_to_utc(dn + 1, 0)
        on_duty = self.rosters.on_duty
        # registration at encounter start
        for ei in clin.starts.get(dn, ()):
            e = encs[ei]
            h = self._hour(dn, e.start)
            cands = on_duty(dn, self.reg, "registration", h)
            if not cands:
                continue
            clerk = rng.choice(cands)
            t = e.start
            for k in range(rng.randrange(1, 4)):
                t += rng.randrange(20, 400)
                app((t, clerk, e.patient, CREATE if k == 0 else UPDATE, self._ws(clerk),
                     HOPERAT, "", -1))
        # billing/coding and HIM after discharge (office hours)
        for ei, kind in clin.post.get(dn, ()):
            e = encs[ei]
            dept = self.bill if kind == "billing" else self.him
            role = "billing" if kind == "billing" else "him"
            h = rng.randrange(8, 17)
            cands = on_duty(dn, dept, role, h)
            if not cands:
                continue
            u = rng.choice(cands)
            t = clock.local_to_utc(dn, h * 3600 + rng.randrange(3600))
            purpose = HPAYMT if kind == "billing" else HOPERAT
            for _ in range(rng.randrange(1, 5)):
                app((t, u, e.patient, UPDATE if rng.random() < 0.3 else READ, self._ws(u),
                     purpose, "", -1))
                t += rng.randrange(15, 600)
        budget = max(0, self.apd - len(out))
        active = clin.by_day.get(dn, [])
        spans: list[tuple[int, int, float]] = []
        total = 0.0
        for ei in active:
            e = encs[ei]
            lo = max(e.start, d0)
            hi = min(e.end, d1)
            w = _RATE[e.cls] * max(0, hi - lo)
            spans.append((lo, hi, w))
            total += w
        if total <= 0:
            return self._without_self_access(out)
        scale = budget / total
        for ei, (lo, hi, w) in zip(active, spans, strict=True):
            x = w * scale
            n = int(x)
            if rng.random() < x - n:
                n += 1
            if n and hi > lo:
                self._encounter_events(dn, encs[ei], lo, hi, n, out)
        return self._without_self_access(out)

    def _without_self_access(self, events: list[Event]) -> list[Event]:
        """An employee who is the patient is never given their own chart by the rosters: many
        hospitals forbid it, so the only self-accesses are the planted ones."""
        own = self.own_chart
        return [ev for ev in events if own.get(ev[2]) != ev[1]]

    def _hour(self, dn: int, t: int) -> int:
        sec = t + self.clock.utc_offset_at(t) - dn * DAY
        return 0 if sec < 0 else (23 if sec >= DAY else sec // 3600)

    def _encounter_events(self, dn: int, e: Encounter, lo: int, hi: int, n: int,
                          out: list[Event]) -> None:
        rng = self.rng
        rand = rng.random
        on_duty = self.rosters.on_duty
        duty = self.duty
        cum, cats = _CUM[e.cls]
        span = hi - lo
        off_at = self.clock.utc_offset_at
        base = dn * DAY
        wd = (dn + 3) % 7
        app = out.append
        pat = e.patient
        night_thin = e.cls == "IMP"
        working = self._working(dn)
        for _ in range(n):
            t = lo + int(rand() * span)
            sec = t + off_at(t) - base
            if night_thin and sec < 6 * 3600 and rand() < 0.5:
                t = lo + int(rand() * span)
                sec = t + off_at(t) - base
            h = 0 if sec < 0 else (23 if sec >= DAY else sec // 3600)
            r = rand()
            i = 0
            while cum[i] < r:
                i += 1
            cat = cats[i]
            user = -1
            purpose = TREAT
            reason = ""
            if cat == "r":
                if e.resident >= 0 and working[e.resident] and (duty[e.resident][wd] >> h) & 1:
                    user = e.resident
                else:
                    cat = "a"
            if cat == "c":
                if (e.consultant >= 0 and working[e.consultant]
                        and (duty[e.consultant][wd] >> h) & 1):
                    user = e.consultant
                else:
                    cat = "a"
            if cat == "a":
                if working[e.attending] and (duty[e.attending][wd] >> h) & 1:
                    user = e.attending
                else:
                    c = on_duty(dn, e.dept, "attending", h) or on_duty(dn, e.dept, "resident", h)
                    if c:
                        user = c[int(rand() * len(c))]
                    else:
                        cat = "n"
            if cat == "n":
                user = e.nurses.get(block_key(dn, sec), -1)
                if user >= 0 and not working[user]:
                    user = -1
                if user < 0:
                    c = on_duty(dn, e.dept, "nurse", h)
                    if c:
                        user = c[int(rand() * len(c))]
            elif cat in "plxt":
                if cat == "p":
                    c = on_duty(dn, self.pharm, "pharmacist", h)
                elif cat == "l":
                    c = on_duty(dn, self.lab, "lab_tech", h)
                elif cat == "t":
                    c = on_duty(dn, self.trans, "transport", h)
                else:
                    c = on_duty(dn, self.rad, "teleradiologist", h) if (h < 7 or h >= 22) \
                        else []
                    if not c:
                        c = on_duty(dn, self.rad, "radiologist", h) if rand() < 0.6 else \
                            on_duty(dn, self.rad, "rad_tech", h)
                if c:
                    user = c[int(rand() * len(c))]
            elif cat == "u":
                ward = self.wards[int(rand() * len(self.wards))]
                if ward != e.dept:
                    c = on_duty(dn, ward, "nurse", h)
                    if c:
                        user = c[int(rand() * len(c))]
            elif cat == "g":
                ward = self.wards[int(rand() * len(self.wards))]
                c = on_duty(dn, ward, "attending", h)
                if c and e.dept == ED:
                    user = c[int(rand() * len(c))]
                    purpose = ETREAT
                    reason = BTG_REASONS[int(rand() * len(BTG_REASONS))].replace(
                        "{bay}", str(1 + int(rand() * 24)))
            if user < 0:
                continue
            r2 = rand()
            if cat in "nar":
                action = READ if r2 < 0.78 else (UPDATE if r2 < 0.95 else
                                                 (SEARCH if r2 < 0.98 else CREATE))
            else:
                action = READ if r2 < 0.85 else (UPDATE if r2 < 0.97 else SEARCH)
            nw = self.nws[user]
            app((t, user, pat, action, 0 if nw == 1 else int(rand() * nw), purpose, reason, -1))
