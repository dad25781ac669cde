"""FHIR R4 REST interactions: what a request is, which patients it names, and which patients
a resource is about.

A request is classified from its method and path (``[type][/id][/_history[/vid]]``,
``/_search``, compartments ``Patient/id/Type``, operations ``$name``) into the FHIR
interaction recorded in the audit (``restful-interaction`` codes), the SMART permission it
needs (c, r, u, d, s), the decision point's action (read, search, update, export) and the
patients it names before anything is forwarded: ``Patient/{id}`` in the path, the patient of a
compartment, and the ``patient``, ``subject`` (``Patient/x`` or an id) and, on Patient,
``_id`` search parameters. Paths are rebuilt from validated segments (types
``[A-Z][A-Za-z]+``, ids ``[A-Za-z0-9-.]{1,64}``) so the upstream server sees the request the
gateway decided on, never a differently decoded one.

A resource is about every patient it references (``reference`` values ``Patient/id``, at any
depth, contained resources included); a Patient resource is about itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
OPERATION = re.compile(r"^\$[A-Za-z][A-Za-z0-9\-_]{0,63}$")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
PATIENT_PARAMS = frozenset({"patient", "subject", "patient:Patient", "subject:Patient"})
EXPORT_OPERATIONS = frozenset({"$everything", "$export"})

# interaction -> audit action code (IHE BALP: reads R, queries and operations E)
AUDIT_ACTION = {
    "read": "R", "vread": "R", "history-instance": "R", "history-type": "E",
    "history-system": "E", "search-type": "E", "search-system": "E", "search-compartment": "E",
    "create": "C", "update": "U", "patch": "U", "delete": "D", "operation": "E",
}


class Unsupported(Exception):
    """A request the gateway does not forward; ``status`` and the OperationOutcome ``code``."""

    def __init__(self, message: str, status: int = 400, code: str = "not-supported") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Interaction:
    kind: str  # a restful-interaction code (see AUDIT_ACTION)
    method: str
    path: str  # the canonical path forwarded upstream, e.g. /Patient/pat
    resource_type: str | None = None  # the type the path names (None: system level)
    resource_id: str | None = None
    operation: str | None = None  # $everything, $export, $lastn…
    scope_type: str = "*"  # the resource type whose SMART scope is needed
    permission: str = "r"  # c, r, u, d or s
    action: str = "read"  # the decision point's action for the patients it names
    patients: tuple[str, ...] = ()  # patients named before forwarding
    params: list[tuple[str, str]] = field(default_factory=list)

    @property
    def audit_action(self) -> str:
        return "E" if self.operation else AUDIT_ACTION[self.kind]

    @property
    def subtype(self) -> str:
        """The audit subtype: the interaction, or the operation's name."""
        return self.operation or self.kind

    @property
    def is_write(self) -> bool:
        return self.kind in ("create", "update", "patch", "delete")

    @property
    def is_search(self) -> bool:
        return self.kind.startswith("search") or self.kind in ("history-type", "history-system")

    @property
    def reference(self) -> str | None:
        """``Type/id`` of the resource the path names, if one."""
        if self.resource_type and self.resource_id:
            return f"{self.resource_type}/{self.resource_id}"
        return None


def patient_id(value: str, bare: bool = True) -> str | None:
    """The patient id of a reference (``Patient/x``, an absolute URL ending so) or, with
    ``bare``, of a plain id; None for a reference to another type."""
    value = value.strip()
    found = _PATIENT_REF.search(value)
    if found:
        return found.group(1)
    if bare and ID.match(value):
        return value
    return None


def named_patients(resource_type: str | None, params: Iterable[tuple[str, str]]) -> list[str]:
    """Patients a search names: ``patient``/``subject`` values (comma means or) and, on
    Patient, ``_id``. A chained (``subject.name``) or other-typed value names none."""
    found: list[str] = []
    for name, value in params:
        if name in PATIENT_PARAMS or (resource_type == "Patient" and name == "_id"):
            for item in value.split(","):
                pid = patient_id(item, bare=True)
                if pid and pid not in found:
                    found.append(pid)
    return found


def _check_type(segment: str) -> str:
    if not TYPE.match(segment):
        raise Unsupported(f"{segment!r} is not a FHIR resource type", 404, "not-found")
    return segment


def _check_id(segment: str) -> str:
    if not ID.match(segment):
        raise Unsupported(f"{segment!r} is not a valid FHIR id", 400, "value")
    return segment


def classify(method: str, path: str, params: list[tuple[str, str]]) -> Interaction:
    """The interaction of a request (raises :class:`Unsupported`)."""
    method = method.upper()
    if method == "HEAD":
        method = "GET"
    parts = path.strip("/").split("/") if path.strip("/") else []
    if any(p in ("", ".", "..") for p in parts):
        raise Unsupported(f"malformed path {path!r}", 400, "value")
    n = len(parts)
    if n == 0:
        if method == "GET" and params:
            return _search("search-system", method, "/", None, params)
        if method == "POST":
            raise Unsupported("batch and transaction Bundles are not forwarded: send each "
                              "interaction on its own", 403)
        raise Unsupported(f"{method} / is not a FHIR interaction", 405)
    head = parts[0]
    if head == "_history" and n == 1 and method == "GET":
        return _search("history-system", method, "/_history", None, params)
    if head == "_search" and n == 1 and method == "POST":
        return _search("search-system", method, "/_search", None, params)
    if head.startswith("$") and n == 1:
        return _operation(method, head, None, None, params)
    rtype = _check_type(head)
    if n == 1:
        if method == "GET":
            return _search("search-type", method, f"/{rtype}", rtype, params)
        if method == "POST":
            return Interaction("create", method, f"/{rtype}", rtype, scope_type=rtype,
                               permission="c", action="update", params=params)
        raise Unsupported(f"conditional {method} ({method} /{rtype}?…) is not forwarded: "
                          "name the resource by id", 403)
    second = parts[1]
    if n == 2 and second == "_search" and method in ("GET", "POST"):
        return _search("search-type", method, f"/{rtype}/_search", rtype, params)
    if n == 2 and second == "_history" and method == "GET":
        return _search("history-type", method, f"/{rtype}/_history", rtype, params)
    if n == 2 and second.startswith("$"):
        return _operation(method, second, rtype, None, params)
    rid = _check_id(second)
    base = f"/{rtype}/{rid}"
    named = (rid,) if rtype == "Patient" else ()
    if n == 2:
        kinds = {"GET": ("read", "r"), "PUT": ("update", "u"), "PATCH": ("patch", "u"),
                 "DELETE": ("delete", "d")}
        if method not in kinds:
            raise Unsupported(f"{method} {base} is not a FHIR interaction", 405)
        kind, permission = kinds[method]
        return Interaction(kind, method, base, rtype, rid, scope_type=rtype,
                           permission=permission,
                           action="read" if method == "GET" else "update",
                           patients=named, params=params)
    third = parts[2]
    if method == "GET" and third == "_history" and n in (3, 4):
        if n == 4:
            version = _check_id(parts[3])
            return Interaction("vread", method, f"{base}/_history/{version}", rtype, rid,
                               scope_type=rtype, patients=named, params=params)
        return Interaction("history-instance", method, f"{base}/_history", rtype, rid,
                           scope_type=rtype, patients=named, params=params)
    if n == 3 and third.startswith("$"):
        return _operation(method, third, rtype, rid, params)
    if n == 3 and method == "GET" and (third == "*" or TYPE.match(third)):
        target = "*" if third == "*" else third
        return Interaction("search-compartment", method, f"{base}/{third}", rtype, rid,
                           scope_type=target, permission="s", action="read", patients=named,
                           params=params)
    raise Unsupported(f"{method} {path} is not a FHIR interaction this gateway forwards", 404,
                      "not-found")


def _search(kind: str, method: str, path: str, rtype: str | None,
            params: list[tuple[str, str]]) -> Interaction:
    patients = named_patients(rtype, params)
    return Interaction(
        kind, method, path, rtype, scope_type=rtype or "*", permission="s",
        # finding patients is the PDP's `search`; searching a patient's clinical data
        # reads their chart
        action="search" if rtype == "Patient" else "read",
        patients=tuple(patients), params=params,
    )


def _operation(method: str, name: str, rtype: str | None, rid: str | None,
               params: list[tuple[str, str]]) -> Interaction:
    if not OPERATION.match(name):
        raise Unsupported(f"{name!r} is not an operation name", 400, "value")
    path = "/".join(["", *(p for p in (rtype, rid) if p), name])
    named = [rid] if rtype == "Patient" and rid else named_patients("Patient", [
        (k if k != "_id" else "patient", v) for k, v in params])
    if name in EXPORT_OPERATIONS:
        if not named:
            raise Unsupported(f"{name} must name its patients (Patient/ID/{name} or "
                              "?patient=): the decision point decides per patient", 403,
                              "forbidden")
        return Interaction("operation", method, path, rtype, rid, operation=name,
                           scope_type="*", permission="r", action="export",
                           patients=tuple(named), params=params)
    if method != "GET":
        raise Unsupported(f"POST {name} is not forwarded (operations that change state "
                          "cannot be decided per patient)", 403)
    kind_type = rtype or "*"
    return Interaction("operation", method, path, rtype, rid, operation=name,
                       scope_type=kind_type, permission="r" if rid else "s", action="read",
                       patients=tuple(named), params=params)


# -- patients of a resource -------------------------------------------------------------------
def patients_in(resource: Any) -> set[str]:
    """Every patient a resource (or a JSON Patch, or a Parameters) is about."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
        pid = resource.get("id")
        return {pid} if isinstance(pid, str) and pid else set()
    found: set[str] = set()
    _walk(resource, found)
    return found


def _walk(node: Any, found: set[str], contained: bool = False) -> None:
    if isinstance(node, dict):
        if node.get("resourceType") == "Patient":
            pid = node.get("id")
            if isinstance(pid, str) and pid:
                # a contained Patient has a local id: "#id" names no registered patient,
                # so the decision point denies it (patient-must-exist)
                found.add(f"#{pid}" if contained else pid)
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                pid = patient_id(value, bare=False)
                if pid:
                    found.add(pid)
            elif isinstance(value, dict | list):
                _walk(value, found, key == "contained")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _walk(item, found, contained)
