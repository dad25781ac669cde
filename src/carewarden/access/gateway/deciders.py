"""The decision point the gateway asks: in process (default) or a remote AuthZEN service.

In process, the gateway holds a :class:`~carewarden.access.decision.DecisionPoint` loaded
from the store like ``carewarden pdp serve`` (short read-only sessions, refreshed by a
background thread; the store is never held for writing). Remotely, it posts AuthZEN
``evaluations`` batches to ``carewarden pdp serve`` (or any AuthZEN PDP); a PDP that cannot
be reached or answers nonsense denies (the gateway fails closed).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from carewarden.access.decision import AccessRequest, DecisionPoint


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    decision_id: str = ""
    break_glass: bool = False
    step_up: bool = False


class DecisionUnavailable(Exception):
    """The decision point could not decide (HTTP 503; nothing is forwarded)."""


class Decider(ABC):
    """Decides requests for the gateway: in this process, or through an AuthZEN endpoint."""

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    @abstractmethod
    async def decide(self, requests: Sequence[AccessRequest]) -> list[Verdict]:
        """One verdict per request, in order."""

    def health(self) -> dict[str, Any]:
        return {}


class LocalDecider(Decider):
    """Decisions in this process; ``refresh_s`` > 0 re-reads the store and the policies that
    often from a background thread."""

    def __init__(self, point: DecisionPoint, refresh_s: float = 60.0) -> None:
        self.point = point
        self.refresh_s = refresh_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        if self.point.snapshot is None:
            self.point.refresh()
        if self.refresh_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._refresher, name="gateway-pdp-refresh",
                                            daemon=True)
            self._thread.start()

    def _refresher(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.point.refresh()

    async def aclose(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def decide(self, requests: Sequence[AccessRequest]) -> list[Verdict]:
        # Each decision takes well under a millisecond: made on the event loop, as the
        # AuthZEN service does.
        verdicts = []
        for request in requests:
            decision = self.point.evaluate(request)
            verdicts.append(Verdict(decision.allowed, decision.summary(), decision.decision_id,
                                    decision.break_glass, decision.step_up))
        return verdicts

    def health(self) -> dict[str, Any]:
        snapshot = self.point.snapshot
        return {
            "decision_point": "in process",
            "ready": snapshot is not None,
            "snapshot_loaded_at": snapshot.loaded_at.isoformat() + "Z" if snapshot else None,
            "problem": self.point.last_error,
        }


def authzen_body(request: AccessRequest) -> dict[str, Any]:
    return {
        "subject": {"type": "user", "id": request.user_id},
        "action": {"name": request.action},
        "resource": {"type": "patient", "id": request.patient_id},
        "context": {
            "purpose_of_use": request.purpose,
            "reason": request.reason,
            "device": {"managed": request.managed, "encrypted": request.encrypted,
                       "patched": request.patched, "patch_age_days": request.patch_age_days},
            "mfa_age_s": request.mfa_age_s,
            "time": request.time.isoformat() + "Z",
        },
    }


class RemoteDecider(Decider):
    """An AuthZEN PDP at ``url`` (``POST {url}/access/v1/evaluations``)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=timeout_s, transport=transport,
            limits=httpx.Limits(max_keepalive_connections=32, keepalive_expiry=30),
        )
        self.last_error: str | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def decide(self, requests: Sequence[AccessRequest]) -> list[Verdict]:
        if not requests:
            return []
        body = {"evaluations": [authzen_body(r) for r in requests]}
        try:
            response = await self._client.post(f"{self.url}/access/v1/evaluations", json=body)
            response.raise_for_status()
            answers = response.json()["evaluations"]
            if not isinstance(answers, list) or len(answers) != len(requests):
                raise ValueError("the answer does not hold one evaluation per request")
            verdicts = [_verdict(a) for a in answers]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise DecisionUnavailable(f"the decision point at {self.url} did not decide: "
                                      f"{self.last_error}") from None
        self.last_error = None
        return verdicts

    def health(self) -> dict[str, Any]:
        return {"decision_point": self.url, "ready": True, "problem": self.last_error}


def _verdict(answer: Any) -> Verdict:
    if not isinstance(answer, dict):
        raise ValueError("an evaluation is not an object")
    context = answer.get("context") or {}
    reason = (context.get("reason_admin") or {}).get("en") or (
        "permitted" if answer.get("decision") is True else "denied")
    return Verdict(
        allowed=answer.get("decision") is True,
        reason=str(reason),
        decision_id=str(context.get("id", "")),
        break_glass="break_glass" in context,
        step_up="step_up" in context,
    )
