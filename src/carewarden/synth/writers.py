"""FHIR R4 bulk-export NDJSON and CSV writers.

Context resources are serialised with orjson (dict insertion order is fixed, so output is
byte-stable). AuditEvents are the hot path: each record is assembled from prebuilt JSON
fragments (per action, per purpose, per user+workstation) and only free-text reasons go
through orjson for escaping.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from carewarden.synth.access import Event
from carewarden.synth.clinical import Clinical, Encounter
from carewarden.synth.clock import SiteClock
from carewarden.synth.population import DEPARTMENTS, HOSPITAL_NAME, ROLES, Population

SYS_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SYS_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SYS_PART = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SYS_CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SYS_EMP = "urn:oid:2.16.840.1.113883.3.9999.1"  # local employee-id namespace (synthetic)
SYS_MRN = "urn:carewarden:synth:mrn"

ACTIONS: tuple[tuple[str, str, str], ...] = (  # subtype code, FHIR action, CSV action
    ("read", "R", "read"), ("search-type", "E", "search"), ("update", "U", "update"),
    ("create", "C", "create"),
)
PURPOSES: tuple[str, ...] = ("TREAT", "ETREAT", "HPAYMT", "HOPERAT")


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _addr(a: tuple[str, str, str, str, str]) -> dict[str, Any]:
    line = [a[0], a[1]] if a[1] else [a[0]]
    return {"use": "home", "line": line, "city": a[2], "state": a[3], "postalCode": a[4]}


def _ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def write_context(out_dir: Path, pop: Population, clin: Clinical, clock: SiteClock) -> list[Path]:
    """Write Organization, Practitioner, PractitionerRole, Patient, Encounter, CareTeam."""
    files: list[Path] = []

    def open_out(name: str) -> IO[bytes]:
        path = out_dir / name
        files.append(path)
        return path.open("wb")

    with open_out("Organization.ndjson") as f:
        f.write(_line({"resourceType": "Organization", "id": pop.hospital_id, "active": True,
                       "name": HOSPITAL_NAME,
                       "type": [{"coding": [{"system": SYS_ORG_TYPE, "code": "prov",
                                             "display": "Healthcare Provider"}]}]}))
        for i, (_, name, _) in enumerate(DEPARTMENTS):
            f.write(_line({"resourceType": "Organization", "id": pop.dept_ids[i], "active": True,
                           "name": name,
                           "type": [{"coding": [{"system": SYS_ORG_TYPE, "code": "dept",
                                                 "display": "Hospital Department"}]}],
                           "partOf": _ref("Organization", pop.hospital_id)}))
    with open_out("Practitioner.ndjson") as f:
        for s in pop.staff:
            f.write(_line({"resourceType": "Practitioner", "id": s.pid,
                           "identifier": [{"system": SYS_EMP, "value": s.emp_id}],
                           "active": True,
                           "name": [{"use": "official", "family": s.family, "given": [s.given]}],
                           "telecom": [{"system": "phone", "value": s.phone, "use": "home"}],
                           "address": [_addr(s.addr)], "gender": s.gender,
                           "birthDate": s.birth.isoformat()}))
    with open_out("PractitionerRole.ndjson") as f:
        for s in pop.staff:
            _, coding, text = ROLES[s.role]
            code: dict[str, Any] = {"text": text}
            if coding is not None:
                code = {"coding": [{"system": coding[0], "code": coding[1],
                                    "display": coding[2]}], "text": text}
            period = {"start": s.hire.isoformat()}
            if s.term is not None:
                period["end"] = s.term.isoformat()
            f.write(_line({"resourceType": "PractitionerRole", "id": s.role_id,
                           "active": s.term is None,
                           "period": period,
                           "practitioner": _ref("Practitioner", s.pid),
                           "organization": _ref("Organization", pop.dept_ids[s.dept]),
                           "code": [code],
                           "specialty": [{"text": DEPARTMENTS[s.dept][1]}]}))
    with open_out("Patient.ndjson") as f:
        pts = pop.patients
        for p in pts:
            rec: dict[str, Any] = {"resourceType": "Patient", "id": p.pid}
            if p.security:
                rec["meta"] = {"security": [{"system": SYS_CONF, "code": p.security}]}
            rec["identifier"] = [{"type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": SYS_MRN, "value": p.mrn}]
            rec["name"] = [{"use": "official", "family": p.family, "given": [p.given]}]
            rec["telecom"] = [{"system": "phone", "value": p.phone, "use": "home"}]
            rec["gender"] = p.gender
            rec["birthDate"] = p.birth.isoformat()
            if p.deceased is not None:
                rec["deceasedDateTime"] = clock.fmt_utc(p.deceased)
            rec["address"] = [_addr(p.addr)]
            if p.contacts:
                rec["contact"] = [{
                    "relationship": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                        "code": "C"}]}],
                    "name": {"family": pts[c].family, "given": [pts[c].given]},
                    "telecom": [{"system": "phone", "value": pts[c].phone}],
                } for c in p.contacts]
            f.write(_line(rec))
    with open_out("Encounter.ndjson") as f:
        for e in clin.encounters:
            f.write(_line(_encounter(e, pop, clin, clock)))
    with open_out("CareTeam.ndjson") as f:
        for e in clin.encounters:
            if not e.ct_id:
                continue
            done = e.end <= clin.sim_end
            period = {"start": clock.fmt_utc(e.start)}
            if done:
                period["end"] = clock.fmt_utc(e.end)
            f.write(_line({
                "resourceType": "CareTeam", "id": e.ct_id,
                "status": "inactive" if done else "active",
                "subject": _ref("Patient", pop.patients[e.patient].pid),
                "encounter": _ref("Encounter", e.eid), "period": period,
                "participant": [{"role": [{"text": role}],
                                 "member": _ref("Practitioner", pop.staff[m].pid)}
                                for m, role in e.careteam],
                "managingOrganization": [_ref("Organization", pop.dept_ids[e.dept])]}))
    return files


def _encounter(e: Encounter, pop: Population, clin: Clinical, clock: SiteClock) -> dict[str, Any]:
    done = e.end <= clin.sim_end
    parts = []
    for who, code, ps, pe in e.participants:
        if ps >= clin.sim_end:
            continue
        per = {"start": clock.fmt_utc(ps)}
        if pe <= clin.sim_end:
            per["end"] = clock.fmt_utc(pe)
        parts.append({"type": [{"coding": [{"system": SYS_PART, "code": code}]}],
                      "period": per, "individual": _ref("Practitioner", pop.staff[who].pid)})
    period = {"start": clock.fmt_utc(e.start)}
    if done:
        period["end"] = clock.fmt_utc(e.end)
    return {"resourceType": "Encounter", "id": e.eid,
            "status": "finished" if done else "in-progress",
            "class": {"system": SYS_ACT, "code": e.cls},
            "subject": _ref("Patient", pop.patients[e.patient].pid),
            "participant": parts, "period": period,
            "serviceProvider": _ref("Organization", pop.dept_ids[e.dept])}


class EventWriter:
    """Writes sorted day batches of events, assigning ids in time order."""

    def __init__(self, out_dir: Path, fmt: str, pop: Population, clock: SiteClock) -> None:
        self.fmt = fmt
        self.clock = clock
        self.count = 0
        self.path = out_dir / ("AuditEvent.ndjson" if fmt == "fhir" else "access_log.csv")
        self._f = self.path.open("w", encoding="utf-8", newline="")
        self.user_ids = [s.pid for s in pop.staff]
        self.pat_ids = [p.pid for p in pop.patients]
        self.ws = [s.workstations for s in pop.staff]
        self._reason_cache: dict[str, str] = {}
        if fmt == "fhir":
            self.agents = [
                [('"agent":[{"type":{"coding":[{"system":"' + SYS_PART + '","code":"IRCP"}]},'
                  '"who":{"reference":"Practitioner/' + s.pid + '"},"requestor":true,'
                  '"network":{"address":' + orjson.dumps(w).decode() + ',"type":"'
                  + ("2" if w.replace(".", "").isdigit() else "1") + '"}}],')
                 for w in s.workstations] for s in pop.staff]
            self.act_frag = [
                ('"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"'
                 + sub + '"}],"action":"' + act + '","recorded":"') for sub, act, _ in ACTIONS]
            self.purp_frag = [
                ('"outcome":"0","purposeOfEvent":[{"coding":[{"system":'
                 '"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"' + code + '"}]')
                for code in PURPOSES]
        else:
            self._csv = csv.writer(self._f, lineterminator="\n")
            self._csv.writerow(["event_id", "access_time", "user_id", "patient_id", "action",
                                "workstation", "purpose", "reason"])

    def _reason_json(self, reason: str) -> str:
        got = self._reason_cache.get(reason)
        if got is None:
            got = ',"text":' + orjson.dumps(reason).decode()
            if len(self._reason_cache) < 10000:
                self._reason_cache[reason] = got
        return got

    def write_day(self, events: list[Event], labels: dict[int, list[str]]) -> None:
        """Sort by time (stable), assign ids, write; collect ids of violation events."""
        events.sort(key=_first)
        n0 = self.count
        fmt_utc = self.clock.fmt_utc
        pat_ids = self.pat_ids
        chunk: list[str] = []
        if self.fmt == "fhir":
            head = ('{"resourceType":"AuditEvent","id":"ae')
            typ = ('","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type",'
                   '"code":"rest"},')
            tail_src = ('"source":{"observer":{"display":"EHR"}},"entity":[{"what":{"reference":'
                        '"Patient/')
            tail_end = ('"},"type":{"system":"http://terminology.hl7.org/CodeSystem/'
                        'audit-entity-type","code":"1"},"role":{"system":'
                        '"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}\n')
            agents = self.agents
            act_frag = self.act_frag
            purp_frag = self.purp_frag
            for k, (t, u, p, a, w, pu, reason, vi) in enumerate(events):
                eid = f"{n0 + k:010d}"
                if vi >= 0:
                    labels.setdefault(vi, []).append("ae" + eid)
                chunk.append(
                    head + eid + typ + act_frag[a] + fmt_utc(t) + '",' + purp_frag[pu]
                    + (self._reason_json(reason) if reason else "") + "}],"
                    + agents[u][w] + tail_src + pat_ids[p] + tail_end)
                if len(chunk) >= 2000:
                    self._f.write("".join(chunk))
                    chunk.clear()
            self._f.write("".join(chunk))
        else:
            fmt_local = self.clock.fmt_local
            rows: list[tuple[str, str, str, str, str, str, str, str]] = []
            for k, (t, u, p, a, w, pu, reason, vi) in enumerate(events):
                eid = f"ae{n0 + k:010d}"
                if vi >= 0:
                    labels.setdefault(vi, []).append(eid)
                rows.append((eid, fmt_local(t), self.user_ids[u], pat_ids[p], ACTIONS[a][2],
                             self.ws[u][w], PURPOSES[pu], reason))
                if len(rows) >= 2000:
                    self._csv.writerows(rows)
                    rows.clear()
            self._csv.writerows(rows)
        self.count += len(events)

    def close(self) -> None:
        """Flush and close the output file."""
        self._f.close()


def _first(e: Event) -> int:
    return e[0]


def write_labels(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write labels.jsonl."""
    with path.open("wb") as f:
        for r in rows:
            f.write(_line(r))
