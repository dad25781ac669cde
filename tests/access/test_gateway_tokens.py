"""The gateway's pieces on their own: SMART scopes, token validation and key sources, the
classification of FHIR interactions and the patients of a resource."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from gateway_support import AUDIENCE, ISSUER, Keys

from carewarden.access.gateway.interactions import (
    Unsupported,
    classify,
    named_patients,
    patients_in,
)
from carewarden.access.gateway.tokens import (
    CallerError,
    FileKeys,
    Grant,
    TokenError,
    TokenValidator,
    UrlKeys,
    caller_from_claims,
    parse_scopes,
)
from carewarden.errors import ConfigError


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


def _caller(scope: str, **claims: Any) -> Any:
    return caller_from_claims({"sub": "u1", "scope": scope, **claims})


def test_smart_v2_and_v1_scopes() -> None:
    """v2 permissions (cruds) and v1 read/write map to the same grants; other scopes (openid,
    launch) are ignored; a v2 scope with parameters grants only searches carrying them."""
    scopes = parse_scopes("openid fhirUser launch user/Patient.rs patient/Observation.r "
                          "user/*.write user/Condition.s?category=problem-list-item bogus/x.r")
    assert [(s.context, s.resource_type, "".join(sorted(s.permissions))) for s in scopes] == [
        ("user", "Patient", "rs"), ("patient", "Observation", "r"), ("user", "*", "cdu"),
        ("user", "Condition", "s")]
    caller = _caller("user/Patient.rs user/*.read")
    assert caller.grant("Patient", "r") == Grant()
    assert caller.grant("Observation", "s") == Grant()  # v1 read = rs
    assert caller.grant("Patient", "u") is None
    narrow = _caller("user/Condition.s?category=problem-list-item")
    assert narrow.grant("Condition", "s", [("patient", "p")]) is None
    assert narrow.grant("Condition", "s", [("category", "problem-list-item")]) == Grant()
    launch = _caller("patient/*.rs", patient="pat")
    assert launch.grant("Observation", "r") == Grant(patient="pat")
    assert _caller("patient/*.rs").grant("Observation", "r") is None  # no launch patient
    assert _caller("user/Observation.rs").grant_any("s") == Grant()  # a system search
    assert _caller("user/Observation.r").grant_any("s") is None
    assert _caller("user/*.cruds").can_see("Encounter")
    assert not _caller("user/Patient.rs").can_see("Encounter")


def test_caller_claims() -> None:
    """The user is the Practitioner of fhirUser (relative or absolute), else sub; MFA age
    comes from amr and auth_time; the device posture from device_posture."""
    now = 1_800_000_000
    caller = caller_from_claims({
        "sub": "idp-7", "fhirUser": "https://ehr.test/fhir/Practitioner/pr-7",
        "amr": ["pwd", "otp"], "auth_time": now - 120, "device_posture": {"managed": True},
        "client_id": "viewer", "purpose_of_use": "treat",
    }, now)
    assert (caller.user_id, caller.reference) == ("pr-7", "Practitioner/pr-7")
    assert caller.mfa_age_s == 120 and caller.device == {"managed": True}
    assert caller.client_id == "viewer" and caller.purpose == "TREAT"
    password_only = caller_from_claims({"sub": "u", "amr": ["pwd"], "auth_time": now}, now)
    assert password_only.user_id == "u" and password_only.mfa_age_s is None
    with pytest.raises(CallerError):
        caller_from_claims({"sub": "u", "fhirUser": "RelatedPerson/r1"})
    with pytest.raises(TokenError):
        caller_from_claims({"scope": "user/*.rs"})


def _validate(validator: TokenValidator, token: str) -> Any:
    return asyncio.run(validator.validate(f"Bearer {token}"))


def test_token_validation(keys: Keys) -> None:
    """RS256 and ES256 tokens from the JWKS pass; nbf in the future, a missing exp, a key id
    that is not in the set, and a token signed by another key are refused."""
    validator = TokenValidator(FileKeys(keys.path), ISSUER, AUDIENCE)
    for alg in ("RS256", "ES256"):
        caller, claims = _validate(validator, keys.token(alg=alg))
        assert caller.user_id == "doc" and claims["aud"] == AUDIENCE
    with pytest.raises(TokenError, match="not yet valid"):
        _validate(validator, keys.token(nbf=int(time.time()) + 3600))
    with pytest.raises(TokenError, match="exp"):
        _validate(validator, keys.token(exp=None))
    (keys.path.parent / "other").mkdir(exist_ok=True)
    other = Keys(keys.path.parent / "other")
    with pytest.raises(TokenError, match="signature"):
        _validate(validator, other.token())
    with pytest.raises(TokenError, match="no key"):
        _validate(validator, jwt.encode(keys.claims(), keys.rsa, algorithm="RS256",
                                        headers={"kid": "rotated"}))
    with pytest.raises(TokenError, match="not a bearer"):
        asyncio.run(validator.validate("Basic dXNlcjpwdw=="))


def test_verified_tokens_are_remembered_while_their_key_is(tmp_path: Path, keys: Keys,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A token verified once is not verified again; once its key leaves the key set it is
    refused."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.jwks))
    source = FileKeys(path)
    validator = TokenValidator(source, ISSUER, AUDIENCE)
    decoded = []
    real = validator._decode
    monkeypatch.setattr(validator, "_decode", lambda *a: decoded.append(1) or real(*a))
    token = keys.token(alg="ES256")
    for _ in range(3):
        caller, _ = _validate(validator, token)
        assert caller.user_id == "doc" and caller.mfa_age_s is not None
    assert len(decoded) == 1
    path.write_text(json.dumps({"keys": keys.jwks["keys"][:1]}))  # the EC key is withdrawn
    os.utime(path, (time.time() + 5, time.time() + 5))
    source._checked -= 2
    with pytest.raises(TokenError, match="no key"):
        _validate(validator, token)


def test_file_keys_follow_the_file(tmp_path: Path, keys: Keys) -> None:
    """A rewritten JWKS file is picked up (checked at most once a second); a file that is
    not a key set is a configuration error naming it."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys.jwks["keys"][:1]}))  # the RSA key only
    source = FileKeys(path)
    assert asyncio.run(source.key("ec-1")) is None
    path.write_text(json.dumps(keys.jwks))
    os.utime(path, (time.time() + 5, time.time() + 5))
    source._checked -= 2  # as if a second had passed
    assert asyncio.run(source.key("ec-1")) is not None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(ConfigError, match=r"bad\.json"):
        FileKeys(bad)


def test_url_keys_are_cached_and_refetched_on_rotation(keys: Keys) -> None:
    """A JWKS URL is fetched once and cached; a token naming an unknown key id fetches it
    again (the IdP rotated its keys), at most every retry_s."""
    served = {"keys": keys.jwks["keys"][:1]}
    fetches = []

    def jwks(request: httpx.Request) -> httpx.Response:
        fetches.append(str(request.url))
        return httpx.Response(200, json=served)

    async def scenario() -> list[bool]:
        source = UrlKeys("https://idp.test/jwks", retry_s=0.0,
                         client=httpx.AsyncClient(transport=httpx.MockTransport(jwks)))
        found = [await source.key("rsa-1") is not None, await source.key("rsa-1") is not None]
        served["keys"] = keys.jwks["keys"]
        found.append(await source.key("ec-1") is not None)
        await source.aclose()
        return found

    assert asyncio.run(scenario()) == [True, True, True]
    assert len(fetches) == 2


@pytest.mark.parametrize(
    ("method", "path", "params", "expected"),
    [
        ("GET", "/Patient/pat", [], ("read", "Patient", "r", "read", ("pat",))),
        ("HEAD", "/Patient/pat", [], ("read", "Patient", "r", "read", ("pat",))),
        ("GET", "/Patient/pat/_history/2", [], ("vread", "Patient", "r", "read", ("pat",))),
        ("GET", "/Observation/o1/_history", [], ("history-instance", "Observation", "r",
                                                 "read", ())),
        ("GET", "/Observation", [("patient", "pat")], ("search-type", "Observation", "s",
                                                        "read", ("pat",))),
        ("GET", "/Observation", [("subject", "http://x/fhir/Patient/a,Patient/b")],
         ("search-type", "Observation", "s", "read", ("a", "b"))),
        ("GET", "/Observation", [("subject", "Group/g1"), ("subject.name", "Smith")],
         ("search-type", "Observation", "s", "read", ())),
        ("GET", "/Patient", [("_id", "a,b")], ("search-type", "Patient", "s", "search",
                                               ("a", "b"))),
        ("POST", "/Observation/_search", [("patient", "p")], ("search-type", "Observation",
                                                              "s", "read", ("p",))),
        ("GET", "/Patient/pat/Observation", [], ("search-compartment", "Observation", "s",
                                                 "read", ("pat",))),
        ("GET", "/", [("_getpages", "abc")], ("search-system", "*", "s", "read", ())),
        ("POST", "/Observation", [], ("create", "Observation", "c", "update", ())),
        ("PUT", "/Patient/pat", [], ("update", "Patient", "u", "update", ("pat",))),
        ("PATCH", "/Observation/o1", [], ("patch", "Observation", "u", "update", ())),
        ("DELETE", "/Observation/o1", [], ("delete", "Observation", "d", "update", ())),
        ("GET", "/Patient/pat/$everything", [], ("$everything", "*", "r", "export",
                                                 ("pat",))),
        ("GET", "/Patient/$export", [("patient", "a")], ("$export", "*", "r", "export",
                                                         ("a",))),
        ("GET", "/Observation/$lastn", [("patient", "a")], ("$lastn", "Observation", "s",
                                                            "read", ("a",))),
    ],
)
def test_interactions(method: str, path: str, params: list[tuple[str, str]],
                      expected: tuple[Any, ...]) -> None:
    """Each request maps to its interaction, SMART scope, PDP action and named patients."""
    found = classify(method, path, params)
    assert (found.subtype, found.scope_type, found.permission, found.action,
            found.patients) == expected


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/", 403), ("DELETE", "/Observation", 403), ("PUT", "/Observation", 403),
     ("GET", "/Patient/a b", 400), ("GET", "/Patient/../x", 400), ("GET", "/Patient//x", 400),
     ("GET", "/patient/x", 404), ("POST", "/Patient/x", 405), ("GET", "/$export", 403),
     ("POST", "/Observation/$validate", 403), ("GET", "/Patient/x/_history/1/y", 404)],
)
def test_refused_interactions(method: str, path: str, status: int) -> None:
    """Batches, conditional writes, invalid ids or paths, bulk export without patients and
    state-changing operations are refused with a status."""
    with pytest.raises(Unsupported) as refused:
        classify(method, path, [])
    assert refused.value.status == status


def test_patients_of_a_resource() -> None:
    """A resource is about every patient it references at any depth; a Patient is about
    itself; a contained Patient names no registered patient ("#id")."""
    observation = {
        "resourceType": "Observation", "subject": {"reference": "Patient/a"},
        "performer": [{"reference": "Practitioner/p"}],
        "hasMember": [{"reference": "https://ehr.test/fhir/Patient/b/_history/3"}],
        "contained": [{"resourceType": "Patient", "id": "c1"}],
    }
    assert patients_in(observation) == {"a", "b", "#c1"}
    assert patients_in({"resourceType": "Patient", "id": "a",
                        "link": [{"other": {"reference": "Patient/b"}}]}) == {"a"}
    assert patients_in([{"op": "replace", "path": "/subject",
                         "value": {"reference": "Patient/z"}}]) == {"z"}
    assert patients_in({"resourceType": "Practitioner", "id": "p"}) == set()
    assert named_patients("Observation", [("patient:Patient", "x"), ("code", "1")]) == ["x"]
