"""The decision point: an access request in, a decision and its reasons out.

Each request is decided by Cedar (``policy_set``) over its own entity slice: the user as at
the request's time (role categories as parents, employment, current risk) and the patient
(registered, restricted, VIP), with the request's context: purpose of use, reason, device
posture, MFA age, and ``relation``/``relationship``, the user's relationship to the patient
at that time as the privacy audit would explain the access (``relations``), which the
decision point sets itself. Only scalar attributes: an entity reference in an attribute
costs Cedar more to parse than the rest of the slice. Nothing is permitted unless a policy
permits it, and a policy that fails to evaluate denies (Cedar skips an erroring policy,
which for a ``forbid`` would permit).
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy
import orjson

from carewarden.access.break_glass import enqueue
from carewarden.access.policy_set import PolicyHolder
from carewarden.access.relations import micros
from carewarden.access.session import NEVER_S, Risk, SessionRisk
from carewarden.access.snapshot import Snapshot
from carewarden.errors import CarewardenError, StoreBusyError
from carewarden.store import Store

ACTIONS = ("read", "search", "update", "export")
EMERGENCY = "ETREAT"
RELATION_OF = {
    "encounter": "assigned",
    "care team": "assigned",
    "department": "covering",
    "colleague": "covering",
    "repeat": "covering",
    "emergency": "emergency",
}
"""``context.relation`` for each audit reason (a service role's reason: ``service``)."""
CATEGORIES = (
    "physician", "nurse", "pharmacist", "laboratory", "radiology", "transport", "billing",
    "him", "registration", "it", "other",
)


class RequestError(CarewardenError):
    """A request that is not a valid access evaluation (HTTP 400)."""


def _utc(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"context.time is not an ISO 8601 time: {text!r}") from None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _field(values: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = values.get(key, default)
    if value is None:
        return default
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise RequestError(f"{where}{key} must be {kind.__name__}, got {value!r}")
    return value


@dataclass(frozen=True)
class AccessRequest:
    user_id: str
    patient_id: str
    action: str
    time: dt.datetime  # naive UTC
    purpose: str = "TREAT"
    reason: str = ""
    managed: bool = False
    encrypted: bool = False
    patched: bool = False
    patch_age_days: int = 0
    mfa_age_s: int | None = None

    @classmethod
    def from_authzen(cls, body: Any, now: dt.datetime | None = None) -> AccessRequest:
        """An AuthZEN access evaluation: subject {type: user, id}, action {name}, resource
        {type: patient, id}, context {purpose_of_use, reason, device, mfa_age_s, time}."""
        if not isinstance(body, dict):
            raise RequestError("an evaluation is a JSON object")
        parts = {}
        for part, kind in (("subject", "user"), ("resource", "patient")):
            value = body.get(part)
            if not isinstance(value, dict) or not isinstance(value.get("id"), str):
                raise RequestError(f"{part} must be an object with a string id")
            if str(value.get("type", "")).lower() != kind:
                raise RequestError(f"{part}.type must be {kind!r}, got {value.get('type')!r}")
            parts[part] = value["id"]
        action = body.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("name"), str):
            raise RequestError("action must be an object with a string name")
        context = body.get("context") or {}
        if not isinstance(context, dict):
            raise RequestError("context must be an object")
        device = context.get("device") or {}
        if not isinstance(device, dict):
            raise RequestError("context.device must be an object")
        when = _field(context, "time", str, None, "context.")
        return cls(
            user_id=parts["subject"],
            patient_id=parts["resource"],
            action=action["name"],
            time=_utc(when) if when else (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)),
            purpose=_field(context, "purpose_of_use", str, "TREAT", "context.").upper(),
            reason=_field(context, "reason", str, "", "context.").strip(),
            managed=_field(device, "managed", bool, False, "context.device."),
            encrypted=_field(device, "encrypted", bool, False, "context.device."),
            patched=_field(device, "patched", bool, False, "context.device."),
            patch_age_days=_field(device, "patch_age_days", int, 0, "context.device."),
            mfa_age_s=_field(context, "mfa_age_s", int, None, "context."),
        )


@dataclass(frozen=True)
class PolicyHit:
    policy: str
    effect: str
    file: str


@dataclass
class Decision:
    allowed: bool
    request: AccessRequest
    decision_id: str
    policies: list[PolicyHit] = field(default_factory=list)
    relationship: str | None = None
    risk: Risk | None = None
    errors: list[str] = field(default_factory=list)
    step_up: bool = False
    break_glass: bool = False

    def summary(self) -> str:
        if self.errors:
            return "denied: a policy could not be evaluated (" + "; ".join(self.errors) + ")"
        named = ", ".join(p.policy for p in self.policies)
        if self.allowed:
            return f"permitted by {named}"
        if not self.policies:
            return "denied by default: no policy permits this request"
        return f"denied by {named}"

    def authzen(self) -> dict[str, Any]:
        """The AuthZEN response: ``decision`` and a ``context`` with the reasons."""
        context: dict[str, Any] = {
            "id": self.decision_id,
            "reason_admin": {"en": self.summary()},
            "reasons": [
                {"policy": p.policy, "effect": p.effect, "file": p.file} for p in self.policies
            ],
            "relationship": self.relationship,
            "risk": self.risk.score if self.risk else None,
        }
        if self.step_up:
            context["step_up"] = {"required": True, "reason": "risk above the step-up threshold"}
        if self.break_glass:
            context["break_glass"] = {"alert": "queued", "review_task": "queued"}
        if self.errors:
            context["errors"] = self.errors
        return {"decision": self.allowed, "context": context}


class DecisionPoint:
    """Policies, a store snapshot and session risk, with decisions over them.

    :meth:`refresh` re-reads the store (read-only, briefly) and re-checks the policy folder;
    the HTTP service calls it periodically from a background thread. Decisions read the
    snapshot in force, swapped whole."""

    def __init__(self, store_path: Path, policies: PolicyHolder | None = None) -> None:
        self.store_path = store_path
        self.policies = policies or PolicyHolder()
        self.snapshot: Snapshot | None = None
        self.session = SessionRisk(20)
        self.last_error: str | None = None
        # The stable part of every slice, parsed once; each request adds its own two entities.
        self._base = cedarpy.Entities.from_json_str(
            orjson.dumps(
                [{"uid": {"type": "Category", "id": c}, "attrs": {}, "parents": []}
                 for c in CATEGORIES]
            ).decode()
        )
        self._refresh_lock = threading.Lock()

    def refresh(self) -> str | None:
        """Reload the policies if their files changed and the store snapshot; return the
        problem when either was refused (the previous one stays in force)."""
        with self._refresh_lock:
            problems = []
            policy_error = self.policies.reload()
            if policy_error:
                problems.append(f"policies refused, previous set in force: {policy_error}")
            try:
                with Store.open(self.store_path, read_only=True) as store:
                    snapshot = Snapshot.load(store)
            except StoreBusyError as exc:
                problems.append(f"store busy, previous snapshot in force: {exc}")
            except Exception as exc:  # a server keeps deciding over the snapshot it has
                problems.append(f"store not read, previous snapshot in force: {exc}")
            else:
                if self.session.bulk != snapshot.bulk_patients_per_hour:
                    self.session = SessionRisk(snapshot.bulk_patients_per_hour)
                self.session.replace_audit(snapshot.unexplained)
                self.snapshot = snapshot
                # Millions of long-lived objects: keep the cyclic collector off them (it would
                # walk them all, pausing decisions); reference counting still frees them.
                gc.freeze()
            self.last_error = "; ".join(problems) or None
            return self.last_error

    def reset_session(self) -> None:
        """Forget the requests observed so far (the store's accesses stay)."""
        self.session = SessionRisk(self.session.bulk)
        if self.snapshot is not None:
            self.session.replace_audit(self.snapshot.unexplained)

    def evaluate(self, request: AccessRequest) -> Decision:
        decision = Decision(False, request, uuid.uuid4().hex)
        snapshot = self.snapshot
        if snapshot is None:
            decision.errors.append("no store snapshot loaded")
            return decision
        if request.action not in ACTIONS:
            decision.errors.append(f"unknown action {request.action!r}; known: {list(ACTIONS)}")
            return decision
        at = micros(request.time)
        user, patient = request.user_id, request.patient_id
        relationship = snapshot.index.explain(user, patient, at, request.purpose)
        employed, categories = snapshot.roles_at(user, at)
        risk = self.session.risk(user, at, snapshot.alert_risk.get(user))
        relation = "" if relationship is None else RELATION_OF.get(relationship, "service")
        restricted = snapshot.restricted.get(patient)
        delta = orjson.dumps(
            [
                {
                    "uid": {"type": "User", "id": user},
                    "attrs": {"employed": employed, "risk": risk.score,
                              "risk_age_s": risk.age_s(at)},
                    "parents": [{"type": "Category", "id": c} for c in categories],
                },
                {
                    "uid": {"type": "Patient", "id": patient},
                    "attrs": {
                        "registered": patient in snapshot.patients,
                        "restricted": restricted is not None,
                        "vip": bool(restricted),
                    },
                    "parents": [],
                },
            ]
        ).decode()
        context = orjson.dumps(
            {
                "purpose_of_use": request.purpose,
                "reason": request.reason,
                "device": {
                    "managed": request.managed,
                    "encrypted": request.encrypted,
                    "patched": request.patched,
                    "patch_age_days": request.patch_age_days,
                },
                "mfa_age_s": NEVER_S if request.mfa_age_s is None else request.mfa_age_s,
                "relation": relation,
                "relationship": relationship or "",
            }
        ).decode()
        bundle = self.policies.current
        result = cedarpy.is_authorized(
            {
                "principal": {"type": "User", "id": user},
                "action": {"type": "Action", "id": request.action},
                "resource": {"type": "Patient", "id": patient},
                "context": context,
            },
            bundle.policies,
            self._base.with_added_json_str(delta),
        )
        diagnostics = result.diagnostics
        names = diagnostics.id_annotations_by_reason
        for policy in diagnostics.reasons:
            name = names.get(policy, policy)
            decision.policies.append(
                PolicyHit(name, bundle.effects.get(name, "?"), bundle.files.get(name, "?"))
            )
        decision.errors.extend(str(e) for e in diagnostics.errors)
        decision.allowed = result.allowed and not decision.errors
        decision.relationship = relationship
        decision.risk = risk
        decision.step_up = any(p.policy == "risk-step-up" for p in decision.policies)
        if relationship is None and request.action != "search" and request.purpose != EMERGENCY:
            self.session.observe(user, patient, at)
        if request.purpose == EMERGENCY:
            decision.break_glass = True
            enqueue(
                self.store_path,
                {
                    "decision_id": decision.decision_id,
                    "time": request.time.isoformat(),
                    "user_id": user,
                    "patient_id": patient,
                    "action": request.action,
                    "reason": request.reason,
                    "relationship": relationship,
                    "allowed": decision.allowed,
                    "policies": [p.policy for p in decision.policies],
                },
            )
        return decision

    def evaluate_authzen(self, body: Any) -> dict[str, Any]:
        return self.evaluate(AccessRequest.from_authzen(body)).authzen()
