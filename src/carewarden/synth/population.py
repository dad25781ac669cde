"""Departments, workforce (roles, shifts, homes, employment) and the patient registry.

Special patients: employees-as-patients (same name, birth date, address and phone as the
Practitioner), relatives of employees (same surname and same address or phone, some listed as
each other's emergency contact), neighbours of employees (same apartment building: same street
line and postal code, other unit, other surname), VIPs (confidentiality R or V) and deceased
patients (some long ago).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from carewarden.synth.clock import DAY, day_number
from carewarden.synth.config import Scale, sub_rng
from carewarden.synth.names import (
    STREET_TYPES,
    STREETS,
    TOWN_WEIGHTS,
    TOWNS,
    pick_given,
    pick_surname,
)

Address = tuple[str, str, str, str, str]  # line1, line2 ("" = none), city, state, postalCode

HOSPITAL_NAME = "Sangamon Valley Medical Center"

# code, display name, kind ("ward" hosts encounters; "anc" ancillary; "admin")
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("ED", "Emergency Department", "ward"),
    ("ICU", "Intensive Care Unit", "ward"),
    ("3W", "Medical-Surgical Unit 3 West", "ward"),
    ("4E", "Medical-Surgical Unit 4 East", "ward"),
    ("CARD", "Cardiology", "ward"),
    ("ONC", "Oncology", "ward"),
    ("PEDS", "Pediatrics", "ward"),
    ("OB", "Obstetrics and Gynecology", "ward"),
    ("SURG", "Surgery and Operating Rooms", "ward"),
    ("RAD", "Radiology", "anc"),
    ("LAB", "Laboratory", "anc"),
    ("PHARM", "Pharmacy", "anc"),
    ("BILL", "Patient Financial Services (Billing and Coding)", "admin"),
    ("HIM", "Health Information Management", "admin"),
    ("REG", "Patient Access and Registration", "admin"),
    ("TRANS", "Patient Transport", "admin"),
    ("IT", "Information Technology", "admin"),
    ("FLOAT", "Nursing Float Pool", "ward"),
)
DEPT_INDEX: dict[str, int] = {c: i for i, (c, _, _) in enumerate(DEPARTMENTS)}
WARDS: tuple[int, ...] = tuple(DEPT_INDEX[c] for c in
                               ("ED", "ICU", "3W", "4E", "CARD", "ONC", "PEDS", "OB", "SURG"))
CLINICAL_STAFF_WEIGHTS: tuple[int, ...] = (18, 12, 14, 14, 10, 8, 7, 9, 8)
TEACHING: frozenset[int] = frozenset(DEPT_INDEX[c] for c in ("ED", "ICU", "3W", "4E", "SURG"))

SYS_PR = "http://terminology.hl7.org/CodeSystem/practitioner-role"
SYS_SCT = "http://snomed.info/sct"

# role key -> (weight, (system, code, display) or None, text, ancillary?)
ROLES: dict[str, tuple[float, tuple[str, str, str] | None, str]] = {
    "attending": (0.10, (SYS_PR, "doctor", "Doctor"), "Attending physician"),
    "resident": (0.05, (SYS_PR, "doctor", "Doctor"), "Resident physician"),
    "nurse": (0.40, (SYS_PR, "nurse", "Nurse"), "Registered nurse"),
    "float_nurse": (0.04, (SYS_PR, "nurse", "Nurse"), "Float pool registered nurse"),
    "pharmacist": (0.03, (SYS_PR, "pharmacist", "Pharmacist"), "Pharmacist"),
    "lab_tech": (0.05, (SYS_SCT, "159282002", "Medical laboratory technician"),
                 "Laboratory technician"),
    "radiologist": (0.012, (SYS_SCT, "66862007", "Radiologist"), "Radiologist"),
    "teleradiologist": (0.006, (SYS_SCT, "66862007", "Radiologist"),
                        "Teleradiologist (remote reader)"),
    "rad_tech": (0.03, None, "Radiologic technologist"),
    "billing": (0.04, None, "Billing and coding specialist"),
    "him": (0.025, None, "Health information management analyst"),
    "registration": (0.045, None, "Patient registration clerk"),
    "transport": (0.035, None, "Patient transporter"),
    "it": (0.02, None, "EHR application analyst"),
}
ROLE_DEPT: dict[str, str] = {
    "float_nurse": "FLOAT", "pharmacist": "PHARM", "lab_tech": "LAB", "radiologist": "RAD",
    "teleradiologist": "RAD", "rad_tech": "RAD", "billing": "BILL", "him": "HIM",
    "registration": "REG", "transport": "TRANS", "it": "IT",
}
ROLE_MIN: dict[str, int] = {
    "attending": 9, "resident": 2, "nurse": 9, "float_nurse": 1, "pharmacist": 2,
    "lab_tech": 2, "radiologist": 1, "teleradiologist": 1, "rad_tech": 1, "billing": 2,
    "him": 1, "registration": 3, "transport": 1, "it": 1,
}

# shift templates: (local start hour, hours)
SHIFTS: dict[str, tuple[int, int]] = {
    "day12": (7, 12), "night12": (19, 12), "res_day": (6, 12), "res_night": (18, 12),
    "phys": (7, 10), "day8": (7, 8), "eve8": (15, 8), "night8": (23, 8),
    "office": (8, 9), "rad_day": (8, 9), "telerad": (22, 9),
}


@dataclass(slots=True)
class Staff:
    """One member of the workforce (a Practitioner with one PractitionerRole)."""

    idx: int
    pid: str
    role_id: str
    emp_id: str
    family: str
    given: str
    gender: str
    birth: date
    addr: Address
    phone: str
    role: str
    dept: int
    shift: str
    workdays: int  # bit w set: works the shift starting on weekday w (Mon=0)
    hire: date
    term: date | None
    workstations: tuple[str, ...]
    remote: bool
    duty: tuple[int, ...] = ()  # per weekday: 24-bit mask of local hours on duty
    patient: int = -1  # own Patient record (employee-as-patient) or -1
    relatives: list[int] = field(default_factory=list)
    neighbours: list[int] = field(default_factory=list)


@dataclass(slots=True)
class PatientRec:
    """One Patient resource."""

    idx: int
    pid: str
    mrn: str
    family: str
    given: str
    gender: str
    birth: date
    addr: Address
    phone: str
    deceased: int | None = None  # UTC epoch
    security: str = ""
    contacts: list[int] = field(default_factory=list)
    tag: str = "general"
    staff: int = -1  # the employee this patient is (or is related to / lives next to)


@dataclass
class Population:
    """Everything about people; held in memory for the whole run."""

    staff: list[Staff]
    patients: list[PatientRec]
    by_role: dict[str, list[int]]
    by_dept_role: dict[tuple[int, str], list[int]]
    mrn_order: list[int]  # patient indices sorted by MRN
    hospital_id: str
    dept_ids: list[str]


def _duty_masks(shift: str, workdays: int) -> tuple[int, ...]:
    start, hours = SHIFTS[shift]
    masks = [0] * 7
    for w in range(7):
        if not (workdays >> w) & 1:
            continue
        for h in range(start, start + hours):
            if h < 24:
                masks[w] |= 1 << h
            else:
                masks[(w + 1) % 7] |= 1 << (h - 24)
    return tuple(masks)


def _random_days(rng: random.Random, n: int) -> int:
    mask = 0
    for w in rng.sample(range(7), n):
        mask |= 1 << w
    return mask


def _shift_for(rng: random.Random, role: str, dept_code: str) -> tuple[str, int]:
    weekdays = 0b0011111
    if role in ("nurse", "float_nurse"):
        days = rng.choice((3, 3, 4))
        return ("day12" if rng.random() < 0.6 else "night12"), _random_days(rng, days)
    if role == "attending":
        if dept_code in ("ED", "ICU"):
            return ("day12" if rng.random() < 0.65 else "night12"), _random_days(rng, 4)
        mask = weekdays | (0b1100000 if rng.random() < 0.3 else 0)
        return "phys", mask
    if role == "resident":
        return ("res_day" if rng.random() < 0.7 else "res_night"), _random_days(rng, 6)
    if role in ("pharmacist", "lab_tech", "rad_tech", "transport", "registration"):
        r = rng.random()
        sh = "day8" if r < 0.5 else ("eve8" if r < 0.8 else "night8")
        return sh, _random_days(rng, 5)
    if role == "radiologist":
        return "rad_day", weekdays | (0b1100000 if rng.random() < 0.3 else 0)
    if role == "teleradiologist":
        return "telerad", _random_days(rng, rng.choice((4, 5)))
    return "office", weekdays


class _AddressBook:
    def __init__(self, rng: random.Random, n_staff: int, n_patients: int) -> None:
        self.rng = rng
        self.staff_buildings = [self._street_line(rng, building=True)
                                for _ in range(max(3, n_staff // 25))]
        self.other_buildings = [self._street_line(rng, building=True)
                                for _ in range(max(3, n_patients // 60))]
        self.used_units: dict[tuple[str, str], set[str]] = {}

    @staticmethod
    def _street_line(rng: random.Random, building: bool) -> tuple[str, str, str, str]:
        ti = rng.choices(range(len(TOWNS)), TOWN_WEIGHTS)[0]
        town, state, zp = TOWNS[ti]
        si = rng.randrange(len(STREETS))
        ty = rng.randrange(len(STREET_TYPES))
        num = rng.randrange(100, 4000) if building else rng.randrange(1, 9999)
        postal = f"{zp}{(si * 7 + ty * 3 + ti) % 100:02d}"
        return f"{num} {STREETS[si]} {STREET_TYPES[ty]}", town, state, postal

    def unit(self, line: str, postal: str) -> str:
        used = self.used_units.setdefault((line, postal), set())
        floors = 12 + len(used) // 4  # big buildings get more floors; never runs out
        while True:
            u = f"Apt {self.rng.randrange(1, floors)}{'ABCDEF'[self.rng.randrange(6)]}"
            if u not in used:
                used.add(u)
                return u

    def in_building(self, b: tuple[str, str, str, str]) -> Address:
        line, town, state, postal = b
        return (line, self.unit(line, postal), town, state, postal)

    def new(self, staff: bool) -> Address:
        r = self.rng.random()
        if r < 0.3:
            pool = self.staff_buildings if staff else (
                self.other_buildings if self.rng.random() < 0.85 else self.staff_buildings)
            return self.in_building(self.rng.choice(pool))
        line, town, state, postal = self._street_line(self.rng, building=False)
        return (line, "", town, state, postal)


def _phone(rng: random.Random) -> str:
    return f"217-{rng.randrange(200, 1000)}-{rng.randrange(10000):04d}"


def _birth(rng: random.Random, ref: date, lo: int, hi: int) -> date:
    return ref - timedelta(days=rng.randrange(lo * 365, hi * 365))


def _alloc_roles(n: int) -> list[str]:
    keys = list(ROLES)
    total = sum(ROLES[k][0] for k in keys)
    counts = {k: max(ROLE_MIN[k], math.floor(n * ROLES[k][0] / total)) for k in keys}
    # absorb the remainder (or excess) into nurses
    counts["nurse"] = max(ROLE_MIN["nurse"], counts["nurse"] + n - sum(counts.values()))
    out: list[str] = []
    for k in keys:
        out.extend([k] * counts[k])
    return out


def build_population(seed: int, scale: Scale, start: date, min_terminated: int) -> Population:
    """Build departments, staff and the patient registry (deterministic for the seed)."""
    rng = sub_rng(seed, "population")
    hospital_id = f"org{rng.randrange(10**6, 10**7)}"
    dept_ids = [f"org{rng.randrange(10**6, 10**7)}{i:02d}" for i in range(len(DEPARTMENTS))]
    book = _AddressBook(rng, scale.staff, scale.registry)
    roles = _alloc_roles(scale.staff)
    rng.shuffle(roles)
    n = len(roles)
    id_nums = rng.sample(range(1_000_000, 9_999_999), n)
    role_nums = rng.sample(range(1_000_000, 9_999_999), n)
    ward_codes = [DEPARTMENTS[w][0] for w in WARDS]
    ws_pool: dict[int, int] = {}
    staff: list[Staff] = []
    for i, role in enumerate(roles):
        if role in ROLE_DEPT:
            dept = DEPT_INDEX[ROLE_DEPT[role]]
        elif role == "resident":
            dept = rng.choice(sorted(TEACHING))
        else:
            dept = WARDS[rng.choices(range(len(WARDS)), CLINICAL_STAFF_WEIGHTS)[0]]
        code = DEPARTMENTS[dept][0]
        ws_pool[dept] = ws_pool.get(dept, 0) + 1
        gender = "female" if rng.random() < (0.85 if "nurse" in role else 0.5) else "male"
        shift, mask = _shift_for(rng, role, code)
        remote = role == "teleradiologist"
        if remote:
            wss: tuple[str, ...] = (f"198.51.100.{rng.randrange(2, 250)}",
                                    f"203.0.113.{rng.randrange(2, 250)}")
        elif role == "float_nurse":
            wss = tuple(f"{rng.choice(ward_codes)}-WS{rng.randrange(1, 40):03d}"
                        for _ in range(3))
        else:
            width = max(4, scale.staff // 60)
            wss = tuple(sorted({f"{code}-WS{rng.randrange(1, width + 1):03d}" for _ in range(2)}))
        lo, hi = (28, 68) if role in ("attending", "radiologist", "teleradiologist") else (
            (26, 35) if role == "resident" else (21, 66))
        st = Staff(
            idx=i, pid=f"pr{id_nums[i]:07d}", role_id=f"prr{role_nums[i]:07d}",
            emp_id=f"E{rng.randrange(100000, 999999)}", family=pick_surname(rng), given="",
            gender=gender, birth=_birth(rng, start, lo, hi), addr=book.new(staff=True),
            phone=_phone(rng), role=role, dept=dept, shift=shift, workdays=mask,
            hire=start - timedelta(days=rng.randrange(20, 25 * 365)), term=None,
            workstations=wss, remote=remote,
        )
        st.given = pick_given(rng, gender)
        st.duty = _duty_masks(shift, mask)
        staff.append(st)
    # terminations: ~3% of staff, half before the period, half during it
    n_term = max(min_terminated, math.ceil(0.03 * n))
    term_ids = rng.sample(range(n), min(n_term, n // 4))
    for k, i in enumerate(sorted(term_ids)):
        s = staff[i]
        if k % 2 == 0 or scale.days < 2:
            s.term = start - timedelta(days=rng.randrange(1, 120))
        else:
            s.term = start + timedelta(days=rng.randrange(0, max(1, scale.days - 1)))
        if s.hire >= s.term:
            s.hire = s.term - timedelta(days=rng.randrange(60, 3000))

    patients: list[PatientRec] = []

    def add(family: str, given: str, gender: str, birth: date, addr: Address, phone: str,
            tag: str, staff_idx: int) -> PatientRec:
        p = PatientRec(idx=len(patients), pid="", mrn="", family=family, given=given,
                       gender=gender, birth=birth, addr=addr, phone=phone, tag=tag,
                       staff=staff_idx)
        patients.append(p)
        return p

    for s in staff:
        rel: list[PatientRec] = []
        own: PatientRec | None = None
        if rng.random() < 0.18:
            own = add(s.family, s.given, s.gender, s.birth, s.addr, s.phone, "employee", s.idx)
            s.patient = own.idx
        if rng.random() < 0.35:
            for _ in range(rng.choice((1, 1, 2, 3))):
                g = "female" if rng.random() < 0.5 else "male"
                kind = rng.random()
                if kind < 0.4:
                    b = s.birth + timedelta(days=rng.randrange(-5 * 365, 5 * 365))
                elif kind < 0.75:
                    b = s.birth + timedelta(days=rng.randrange(20 * 365, 38 * 365))
                    b = min(b, start - timedelta(days=30))
                else:
                    b = s.birth - timedelta(days=rng.randrange(22 * 365, 36 * 365))
                same_home = rng.random() < 0.75
                addr = s.addr if same_home else book.new(staff=False)
                r = add(s.family, pick_given(rng, g), g, b, addr, s.phone, "relative", s.idx)
                rel.append(r)
                s.relatives.append(r.idx)
        if s.addr[1] and rng.random() < 0.5:
            line, _, town, state, postal = s.addr
            for _ in range(rng.choice((1, 1, 2))):
                fam = pick_surname(rng)
                while fam == s.family:
                    fam = pick_surname(rng)
                g = "female" if rng.random() < 0.5 else "male"
                nb = add(fam, pick_given(rng, g), g, _birth(rng, start, 1, 90),
                         (line, book.unit(line, postal), town, state, postal), _phone(rng),
                         "neighbour", s.idx)
                s.neighbours.append(nb.idx)
        for r in rel:
            if rng.random() < 0.6:
                others = [o for o in rel if o is not r]
                if own is not None:
                    r.contacts.append(own.idx)
                    own.contacts.append(r.idx)
                elif others:
                    r.contacts.append(others[0].idx)
    n_generic = max(0, scale.registry - len(patients))
    for _ in range(n_generic):
        g = "female" if rng.random() < 0.52 else "male"
        addr = book.new(staff=False)
        add(pick_surname(rng), pick_given(rng, g), g, _birth(rng, start, 0, 95), addr,
            _phone(rng), "general", -1)
    generic = [p for p in patients if p.tag == "general"]
    n_vip = max(6, round(0.004 * len(patients)))
    for p in rng.sample(generic, min(n_vip, len(generic))):
        p.tag = "vip"
        p.security = "V" if rng.random() < 0.3 else "R"
    generic = [p for p in patients if p.tag == "general"]
    n_dead = max(6, round(0.025 * len(patients)))
    start_epoch = day_number(start) * DAY
    for p in rng.sample(generic, min(n_dead, len(generic))):
        p.tag = "deceased"
        back = rng.randrange(2 * DAY, 30 * 365 * DAY)
        p.deceased = start_epoch - back + rng.randrange(DAY)
    # ids and MRNs carry no meaning: shuffle, then number; MRNs follow a separate permutation
    order = list(range(len(patients)))
    rng.shuffle(order)
    pt_nums = rng.sample(range(1_000_000, 9_999_999), len(patients))
    mrn_base = rng.randrange(10_000_000, 40_000_000)
    remap = {old: new for new, old in enumerate(order)}
    shuffled = [patients[old] for old in order]
    for new, p in enumerate(shuffled):
        p.idx = new
        p.pid = f"pt{pt_nums[new]:07d}"
        p.contacts = [remap[c] for c in p.contacts]
    mrn_perm = list(range(len(shuffled)))
    rng.shuffle(mrn_perm)
    for pos, pi in enumerate(mrn_perm):
        shuffled[pi].mrn = str(mrn_base + pos)
    for s in staff:
        if s.patient >= 0:
            s.patient = remap[s.patient]
        s.relatives = [remap[r] for r in s.relatives]
        s.neighbours = [remap[r] for r in s.neighbours]
    by_role: dict[str, list[int]] = {}
    by_dept_role: dict[tuple[int, str], list[int]] = {}
    for s in staff:
        by_role.setdefault(s.role, []).append(s.idx)
        by_dept_role.setdefault((s.dept, s.role), []).append(s.idx)
    return Population(staff=staff, patients=shuffled, by_role=by_role,
                      by_dept_role=by_dept_role, mrn_order=mrn_perm, hospital_id=hospital_id,
                      dept_ids=dept_ids)


def employed(s: Staff, d: date) -> bool:
    """Whether ``s`` works for the hospital on local date ``d`` (the term date is the last day)."""
    return s.hire <= d and (s.term is None or d <= s.term)


class Rosters:
    """Who is on duty, per local day, department+role and local hour (cached per day)."""

    def __init__(self, pop: Population, start: date) -> None:
        self.pop = pop
        self.start_dn = day_number(start)
        self._cache: dict[int, dict[tuple[int, str], list[list[int]]]] = {}

    def day(self, dn: int) -> dict[tuple[int, str], list[list[int]]]:
        got = self._cache.get(dn)
        if got is not None:
            return got
        d = date(1970, 1, 1) + timedelta(days=dn)
        wd = d.weekday()
        prev = d - timedelta(days=1)
        out: dict[tuple[int, str], list[list[int]]] = {}
        for s in self.pop.staff:
            mask = s.duty[wd]
            if not mask:
                continue
            ok_today = employed(s, d)
            ok_prev = employed(s, prev)
            if not (ok_today or ok_prev):
                continue
            start_h = SHIFTS[s.shift][0]
            key = (s.dept, s.role)
            hours = out.get(key)
            if hours is None:
                hours = [[] for _ in range(24)]
                out[key] = hours
            for h in range(24):
                # hours before the shift start belong to yesterday's overnight shift
                # ... and nobody works past the local midnight ending their last day.
                if (mask >> h) & 1 and ((ok_prev and ok_today) if h < start_h else ok_today):
                    hours[h].append(s.idx)
        self._cache[dn] = out
        return out

    def drop_before(self, dn: int) -> None:
        """Forget cached days before ``dn`` (bounded memory)."""
        for k in [k for k in self._cache if k < dn]:
            del self._cache[k]

    def on_duty(self, dn: int, dept: int, role: str, hour: int) -> list[int]:
        """Staff of ``dept``/``role`` on duty at local ``hour`` of day ``dn``."""
        hours = self.day(dn).get((dept, role))
        return hours[hour] if hours is not None else []
