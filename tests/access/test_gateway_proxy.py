"""The FHIR gateway in front of a small FHIR server: decisions before and after the upstream
answers, the responses, and an audit record for every request."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from gateway_support import FHIR_JSON, UPSTREAM, Harness, Keys, gateway

from carewarden.access.authzen import create_app as authzen_app
from carewarden.access.break_glass import queue_path
from carewarden.access.decision import DecisionPoint
from carewarden.access.gateway.deciders import RemoteDecider


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def gw(point: DecisionPoint, tmp_path: Path, keys: Keys) -> Iterator[Harness]:
    with gateway(point, tmp_path / "spool-store", keys) as harness:
        yield harness


def _issues(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert response.headers["content-type"].startswith(FHIR_JSON)
    issues: list[dict[str, Any]] = body["issue"]
    return issues


def _patients(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", [])
            if e.get("role", {}).get("code") == "1"]


def _query_entity(event: dict[str, Any]) -> dict[str, Any]:
    (query,) = [e for e in event["entity"] if e["role"]["code"] == "24"]
    return query


def test_permitted_read_passes_through_unchanged(gw: Harness) -> None:
    """A permitted Patient read returns the upstream bytes unchanged and is audited as a BALP
    patient read: outcome 0, the user as requestor with the client's address, the patient."""
    response = gw.get("/Patient/pat")
    assert response.status_code == 200, response.text
    assert response.content == orjson.dumps(gw.server.resources[("Patient", "pat")])
    assert response.headers["content-type"] == FHIR_JSON
    assert response.headers["cache-control"] == "no-store"
    assert gw.server.requests == [("GET", "Patient/pat")]
    (event,) = gw.audit()
    assert event["resourceType"] == "AuditEvent" and event["type"]["code"] == "rest"
    assert event["subtype"][0]["code"] == "read" and event["action"] == "R"
    assert event["outcome"] == "0" and event["recorded"].startswith("2026-03-02T10:00:00")
    user = event["agent"][0]
    assert user["who"]["reference"] == "Practitioner/doc" and user["requestor"] is True
    assert user["network"]["address"] == "10.1.2.3"
    assert user["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"
    assert _patients(event) == ["Patient/pat"]
    assert event["entity"][0]["detail"][0]["type"] == "decision"
    assert event["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientRead")
    assert "gateway" in event["source"]["observer"]["display"]


def test_denied_read_never_reaches_upstream(gw: Harness) -> None:
    """A Patient read the decision point denies is a 403 OperationOutcome naming the reason;
    the upstream server receives nothing; the denial is audited (outcome 4)."""
    response = gw.get("/Patient/pat", user="it")
    assert response.status_code == 403
    (issue,) = _issues(response)
    assert issue["code"] == "forbidden" and "denied by default" in issue["diagnostics"]
    assert gw.server.count() == 0
    (event,) = gw.audit()
    assert event["outcome"] == "4" and _patients(event) == ["Patient/pat"]
    assert "denied" in event["outcomeDesc"]


def test_device_posture_and_mfa_come_from_the_token(gw: Harness) -> None:
    """The device posture and MFA age are the token's claims: an unmanaged device or no MFA
    in `amr` is denied by the zero-trust policies, before the upstream is asked."""
    unmanaged = gw.get("/Patient/pat", device_posture={"managed": False})
    assert unmanaged.status_code == 403
    assert "device-posture" in _issues(unmanaged)[0]["diagnostics"]
    no_mfa = gw.get("/Patient/pat", amr=["pwd"])
    assert no_mfa.status_code == 403 and "mfa-age" in _issues(no_mfa)[0]["diagnostics"]
    assert gw.server.count() == 0
    assert [e["outcome"] for e in gw.audit()] == ["4", "4"]


def test_denied_writes_never_reach_upstream(gw: Harness) -> None:
    """Writes are decided before forwarding on the patients of the new content (and, for an
    update of another type, of the current version): a denied create or update sends no
    write upstream; a permitted one does."""
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": "Heart rate"}, "subject": {"reference": "Patient/nobody"}}
    headers = {**gw.keys.headers(), "Content-Type": FHIR_JSON}
    created = gw.client.post("/Observation", content=orjson.dumps(observation), headers=headers)
    assert created.status_code == 403 and "nobody" in _issues(created)[0]["diagnostics"]
    moved = dict(gw.server.resources[("Observation", "obs-pat-hr")],
                 subject={"reference": "Patient/p01"})
    updated = gw.client.put("/Observation/obs-pat-hr", content=orjson.dumps(moved),
                            headers=headers)
    assert updated.status_code == 403 and "p01" in _issues(updated)[0]["diagnostics"]
    patient = gw.client.put("/Patient/pat", content=orjson.dumps(
        gw.server.resources[("Patient", "pat")]), headers=gw.keys.headers(user="bill"))
    assert patient.status_code == 403
    assert gw.server.count("POST") == gw.server.count("PUT") == 0
    assert gw.server.count() == 1  # the current obs-pat-hr, read to learn its patient
    allowed = dict(observation, subject={"reference": "Patient/pat"})
    ok = gw.client.post("/Observation", content=orjson.dumps(allowed), headers=headers)
    assert ok.status_code == 201, ok.text
    assert ok.headers["location"].startswith("http://testserver/Observation/")
    assert gw.server.count("POST") == 1
    events = gw.audit()
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("C", "4"), ("U", "4"), ("U", "4"), ("C", "0")]
    assert _patients(events[1]) == ["Patient/p01", "Patient/pat"]


def test_delete_is_decided_on_the_current_version(gw: Harness) -> None:
    """A delete names no patient in its path: the gateway reads the current version first
    and decides on its patient; denied, the DELETE is never sent."""
    denied = gw.client.delete("/Observation/obs-nobody-glucose", headers=gw.keys.headers())
    assert denied.status_code == 403 and gw.server.count("DELETE") == 0
    done = gw.client.delete("/Observation/obs-pat-bp", headers=gw.keys.headers())
    assert done.status_code == 204 and gw.server.count("DELETE") == 1
    assert [(e["action"], e["outcome"]) for e in gw.audit()] == [("D", "4"), ("D", "0")]


def test_read_of_another_type_is_decided_after_the_fetch(gw: Harness) -> None:
    """Observation/ID names no patient: the gateway fetches it (a read has no side effect),
    decides on the patient it references, and on a denial returns 403 without the body."""
    response = gw.get("/Observation/obs-nobody-glucose")
    assert response.status_code == 403 and b"Glucose" not in response.content
    assert gw.server.count() == 1
    assert gw.get("/Observation/obs-pat-hr").json()["id"] == "obs-pat-hr"
    head = gw.client.head("/Observation/obs-nobody-glucose", headers=gw.keys.headers())
    assert head.status_code == 403  # HEAD is decided like the read it stands for
    events = gw.audit()
    assert [e["outcome"] for e in events] == ["4", "0", "4"]
    assert _patients(events[0]) == ["Patient/nobody"]
    assert any(e["what"]["reference"] == "Observation/obs-nobody-glucose"
               for e in events[0]["entity"])


def test_search_results_are_filtered(gw: Harness) -> None:
    """A search returns only the entries about patients the user may read: total is reduced
    by the matches withheld, and the audit lists the patients returned and the count
    withheld."""
    response = gw.get("/Observation")
    assert response.status_code == 200
    bundle = response.json()
    ids = sorted(e["resource"]["id"] for e in bundle["entry"])
    assert ids == ["obs-pat-bp", "obs-pat-hr", "obs-vip-hr"]
    assert bundle["total"] == 3
    assert all(e["fullUrl"].startswith("http://testserver/Observation/") for e in bundle["entry"])
    (event,) = gw.audit()
    assert event["subtype"][0]["code"] == "search-type" and event["action"] == "E"
    assert sorted(_patients(event)) == ["Patient/pat", "Patient/vip"]
    query = _query_entity(event)
    assert base64.b64decode(query["query"]).decode() == "/Observation"
    details = {d["type"]: d["valueString"] for d in query["detail"]}
    assert details == {"returned": "3", "withheld": "2"}


def test_search_naming_a_denied_patient_is_not_forwarded(gw: Harness) -> None:
    """A search whose patient/subject parameter names a patient the user may not read is
    denied before forwarding; a compartment search is decided on its patient too."""
    for url in ("/Observation?patient=nobody", "/Observation?subject=Patient/nobody",
                "/Patient/nobody/Observation", "/Patient?_id=nobody,pat"):
        response = gw.get(url)
        assert response.status_code == 403, url
        assert "nobody" in _issues(response)[0]["diagnostics"]
    assert gw.server.count() == 0
    compartment = gw.get("/Patient/pat/Observation").json()
    assert sorted(e["resource"]["id"] for e in compartment["entry"]) == [
        "obs-pat-bp", "obs-pat-hr"]
    assert [e["outcome"] for e in gw.audit()] == ["4", "4", "4", "4", "0"]


def test_paging_links_point_at_the_gateway(gw: Harness) -> None:
    """Bundle links to the upstream are rewritten to the gateway, links elsewhere dropped;
    following `next` through the gateway works and is filtered too. With more pages and
    withheld entries, total is left out (the other pages' withheld count is unknown)."""
    first = gw.get("/Observation?_count=3").json()
    relations = {link["relation"]: link["url"] for link in first["link"]}
    assert set(relations) == {"self", "next"}  # the link to another server is dropped
    assert relations["next"].startswith("http://testserver/Observation?")
    assert "total" not in first  # two entries were withheld on this page
    assert [e["resource"]["id"] for e in first["entry"]] == ["obs-pat-bp"]
    second = gw.get(relations["next"].removeprefix("http://testserver")).json()
    assert [e["resource"]["id"] for e in second["entry"]] == ["obs-pat-hr", "obs-vip-hr"]
    assert gw.server.requests[1] == ("GET", "Observation?_count=3&_offset=3")


def test_patient_search_uses_the_search_action(gw: Harness) -> None:
    """Finding patients is the decision point's `search` action: registration may search
    registered patients (registration-search) but not the restricted and VIP ones, and
    reads none of their charts."""
    found = gw.get("/Patient", user="reg").json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == [
        "nobody", "p01", "pat", "walkin"]
    assert found["total"] == 4
    clinical = gw.get("/Observation", user="reg").json()
    assert "entry" not in clinical and clinical["total"] == 0
    read = gw.get("/Patient/nobody", user="reg")
    assert read.status_code == 403


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"exp": 1_000_000}, "expired"),
        ({"aud": "https://another-server.test/fhir"}, "login"),
        ({"iss": "https://rogue-idp.test"}, "login"),
    ],
)
def test_refused_tokens_are_401_and_audited(gw: Harness, change: dict[str, Any],
                                            code: str) -> None:
    """An expired token or one for another audience or issuer is a 401; its signature held,
    so the user is known and the attempt is audited (outcome 4). Nothing is forwarded."""
    response = gw.get("/Patient/pat", **change)
    assert response.status_code == 401
    assert _issues(response)[0]["code"] == code
    assert response.headers["www-authenticate"].startswith('Bearer realm="carewarden"')
    assert gw.server.count() == 0
    (event,) = gw.audit()
    assert event["outcome"] == "4" and _patients(event) == ["Patient/pat"]
    assert event["agent"][0]["who"]["reference"] == "Practitioner/doc"


def test_unverifiable_tokens_are_401(gw: Harness, keys: Keys) -> None:
    """No token, alg none, an HMAC token keyed with the public key, a tampered signature, an
    unknown key: 401, nothing forwarded, nothing audited (no user is known)."""
    claims = keys.claims()
    public_pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    valid = keys.token()
    tokens = [
        None,
        f"{header}.{body}.",
        _hmac_token(claims, public_pem),
        valid[:-6] + ("AAAAAA" if not valid.endswith("AAAAAA") else "BBBBBB"),
        jwt.encode(claims, keys.rsa, algorithm="RS256", headers={"kid": "unknown"}),
    ]
    for token in tokens:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = gw.client.get("/Patient/pat", headers=headers)
        assert response.status_code == 401, token
        assert _issues(response)[0]["code"] == "login"
    assert gw.server.count() == 0 and gw.audit() == []


def _hmac_token(claims: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = part(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}') + "." + part(
        orjson.dumps(claims))
    signature = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + part(signature)


def test_insufficient_scope_is_403_before_the_decision(gw: Harness) -> None:
    """SMART scopes are checked per interaction before the decision point: a token for
    Observations only cannot read a Patient, a read-only token cannot write; each refusal
    is a 403 with insufficient_scope and an audit record."""
    response = gw.get("/Patient/pat", scope="user/Observation.rs")
    assert response.status_code == 403
    assert "insufficient scope" in _issues(response)[0]["diagnostics"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    write = gw.client.put("/Patient/pat", content=b"{}", headers={
        **gw.keys.headers(scope="user/*.read"), "Content-Type": FHIR_JSON})
    assert write.status_code == 403
    assert gw.get("/Observation/obs-pat-hr", scope="user/*.read").status_code == 200  # v1
    assert gw.server.requests == [("GET", "Observation/obs-pat-hr")]
    events = gw.audit()
    assert [e["outcome"] for e in events] == ["4", "4", "0"]
    assert "insufficient scope" in events[0]["outcomeDesc"]


def test_scopes_filter_search_entries_by_type(gw: Harness) -> None:
    """Entries of a type the scopes do not open (an Observation in a Patient $everything for
    a token with Patient and Encounter scopes only) are withheld."""
    response = gw.get("/Observation?patient=pat", scope="user/Patient.rs user/Observation.s")
    assert response.status_code == 200 and len(response.json()["entry"]) == 2
    narrow = gw.get("/Encounter", scope="user/Encounter.rs").json()
    assert [e["resource"]["id"] for e in narrow["entry"]] == ["e-icu", "e-vip"]


def test_patient_scopes_open_the_launch_patient_only(gw: Harness) -> None:
    """With patient/ scopes only the token's launch patient is opened, whatever the decision
    point would allow: another patient is a 403 before forwarding, and searches keep the
    launch patient's entries."""
    scope = "patient/*.rs"
    assert gw.get("/Patient/pat", scope=scope, patient="pat").status_code == 200
    other = gw.get("/Patient/vip", scope=scope, patient="pat")
    assert other.status_code == 403 and "patient/ scopes" in _issues(other)[0]["diagnostics"]
    assert gw.get("/Patient/pat", scope=scope).status_code == 403  # no launch patient
    found = gw.get("/Observation", scope=scope, patient="pat").json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == ["obs-pat-bp", "obs-pat-hr"]


def test_break_the_glass_is_permitted_with_a_reason_and_queued(
    gw: Harness, hospital_store: Path
) -> None:
    """A nurse with no relationship reads a chart with X-Purpose-Of-Use ETREAT and a reason:
    permitted, queued for review like any break-the-glass decision, and audited with the
    purpose and the reason. Without a reason it is denied."""
    queue = queue_path(hospital_store)
    before = queue.read_bytes().count(b"\n") if queue.exists() else 0
    glass = {"X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "Code blue in ED bay 4"}
    response = gw.get("/Patient/nobody", user="ednurse", headers=glass)
    assert response.status_code == 200, response.text
    lines = queue.read_bytes().splitlines()
    assert len(lines) == before + 1
    queued = orjson.loads(lines[-1])
    assert queued["user_id"] == "ednurse" and queued["patient_id"] == "nobody"
    assert queued["allowed"] is True and queued["reason"] == "Code blue in ED bay 4"
    no_reason = gw.get("/Patient/nobody", user="ednurse", headers={"X-Purpose-Of-Use": "ETREAT"})
    assert no_reason.status_code == 403
    assert "break-glass-needs-reason" in _issues(no_reason)[0]["diagnostics"]
    first, second = gw.audit()
    purpose = first["agent"][0]["purposeOfUse"][0]
    assert purpose["coding"][0]["code"] == "ETREAT" and purpose["text"] == "Code blue in ED bay 4"
    assert first["outcome"] == "0" and second["outcome"] == "4"
    assert first["entity"][0]["detail"][0]["valueString"] == queued["decision_id"]


def test_token_purpose_cannot_be_overridden(gw: Harness) -> None:
    """A purpose of use fixed by the token is authoritative: a header asking for another is
    refused (and audited)."""
    response = gw.get("/Patient/pat", purpose_of_use="HPAYMT",
                      headers={"X-Purpose-Of-Use": "ETREAT"})
    assert response.status_code == 403 and gw.server.count() == 0
    assert gw.audit()[0]["outcome"] == "4"


def test_everything_is_an_export(gw: Harness) -> None:
    """$everything is decided as an export of the patient (only health information
    management exports): a physician is refused before forwarding."""
    response = gw.get("/Patient/pat/$everything")
    assert response.status_code == 403 and gw.server.count() == 0
    assert "denied by default" in _issues(response)[0]["diagnostics"]
    (event,) = gw.audit()
    assert event["subtype"][0]["code"] == "$everything" and event["action"] == "E"


def test_unsupported_requests_are_refused_and_audited(gw: Harness) -> None:
    """Batches, conditional deletes, bad ids and unknown paths are refused before forwarding,
    each with an OperationOutcome and an audit record."""
    headers = gw.keys.headers()
    answers = [
        gw.client.post("/", content=b'{"resourceType":"Bundle"}', headers=headers),
        gw.client.delete("/Observation?code=8867-4", headers=headers),
        gw.client.get("/Patient/bad%20id", headers=headers),
        gw.client.get("/Patient/pat/..%2F..%2Fadmin", headers=headers),
        gw.client.get("/patient/pat", headers=headers),
        gw.client.get("/Patient/pat", headers={**headers, "Accept": "application/fhir+xml"}),
    ]
    answers.append(gw.client.post("/Observation", content=b" " * (16 << 20 | 1),
                                  headers=headers))
    assert [a.status_code for a in answers] == [403, 403, 400, 400, 404, 406, 413]
    assert all(_issues(a) for a in answers)
    assert gw.server.count() == 0
    assert len(gw.audit()) == len(answers)


def test_upstream_failure_is_502_and_audited(point: DecisionPoint, tmp_path: Path,
                                             keys: Keys) -> None:
    """An unreachable upstream is a 502 OperationOutcome, audited as a serious failure."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with gateway(point, tmp_path, keys, transport=httpx.MockTransport(refuse)) as gw:
        response = gw.get("/Patient/pat")
        assert response.status_code == 502 and _issues(response)[0]["code"] == "transient"
        (event,) = gw.audit()
        assert event["outcome"] == "8"


def test_an_access_that_cannot_be_audited_returns_nothing(
    gw: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the audit record cannot be written (disk full), the response is withheld: a 500
    OperationOutcome instead of the patient's data."""
    def full(event: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gw.spool, "append", full)
    response = gw.get("/Patient/pat")
    assert response.status_code == 500 and b"Okafor" not in response.content
    assert "could not be audited" in _issues(response)[0]["diagnostics"]


def test_public_metadata_needs_no_token(gw: Harness) -> None:
    """The CapabilityStatement is public (SMART discovery) and not audited; /healthz reports
    the decision point."""
    assert gw.client.get("/metadata").json()["resourceType"] == "CapabilityStatement"
    health = gw.client.get("/healthz").json()
    assert health["ready"] is True and health["upstream"] == UPSTREAM
    assert gw.audit() == []


def test_remote_decision_point(point: DecisionPoint, tmp_path: Path, keys: Keys) -> None:
    """With --pdp the gateway asks an AuthZEN service (here `pdp serve`'s app): the same
    decisions, searches filtered with one batch; a PDP that cannot answer denies (503)."""
    remote = RemoteDecider("http://pdp.test",
                           transport=httpx.ASGITransport(app=authzen_app(point, refresh_s=0)))
    with gateway(point, tmp_path, keys, decider=remote) as gw:
        assert gw.get("/Patient/pat").status_code == 200
        assert gw.get("/Patient/pat", user="it").status_code == 403
        found = gw.get("/Observation").json()
        assert len(found["entry"]) == 3
    broken = RemoteDecider("http://pdp.test", transport=httpx.MockTransport(
        lambda request: httpx.Response(500)))
    with gateway(point, tmp_path / "b", keys, decider=broken) as gw:
        response = gw.get("/Patient/pat")
        assert response.status_code == 503 and gw.server.count() == 0


def test_every_request_with_a_known_user_is_audited(gw: Harness) -> None:
    """One AuditEvent per request that carries a verified token, whatever its fate."""
    urls = ["/Patient/pat", "/Patient/vip", "/Patient/res", "/Patient/nobody", "/Observation",
            "/Observation/obs-vip-hr", "/Encounter/e-icu", "/Practitioner/doc",
            "/Patient/missing", "/Observation?patient=pat", "/Patient/pat/_history/1"]
    statuses = [gw.get(url).status_code for url in urls]
    assert statuses == [200, 200, 200, 403, 200, 200, 200, 200, 403, 200, 200]
    events = gw.audit()
    assert len(events) == len(urls)
    assert len({e["id"] for e in events}) == len(urls)
    assert all(e["agent"][0]["who"]["reference"] == "Practitioner/doc" for e in events)


def test_es256_tokens_and_the_sub_fallback(gw: Harness) -> None:
    """ES256 tokens are accepted; without fhirUser the user is `sub`; a fhirUser that is not
    a Practitioner is refused (403)."""
    assert gw.get("/Patient/pat", alg="ES256").status_code == 200
    sub_only = gw.get("/Patient/pat", fhirUser=None, sub="doc")
    assert sub_only.status_code == 200
    patient_user = gw.get("/Patient/pat", fhirUser="Patient/pat")
    assert patient_user.status_code == 403
    assert [e["agent"][0]["who"]["reference"] for e in gw.audit()] == [
        "Practitioner/doc", "Practitioner/doc"]
