"""A small FHIR R4 server for the gateway tests, signing keys, tokens and the gateway under
test. The server serves tests/data/gateway/upstream.ndjson (ids of the hand-written hospital
of conftest.py) and counts every request it receives."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from carewarden.access.decision import DecisionPoint
from carewarden.access.gateway.app import GatewaySettings, create_app
from carewarden.access.gateway.deciders import Decider, LocalDecider
from carewarden.access.gateway.spool import AuditSpool
from carewarden.access.gateway.tokens import FileKeys, TokenValidator

DATA = Path(__file__).resolve().parents[1] / "data" / "gateway" / "upstream.ndjson"
UPSTREAM = "http://upstream.test/fhir"
FOREIGN = "https://elsewhere.example/fhir"
ISSUER = "https://idp.hospital.test"
AUDIENCE = "https://gateway.hospital.test/fhir"
AT = dt.datetime(2026, 3, 2, 10, 0)  # conftest.DAY: pat, vip and res are in the ICU
FHIR_JSON = "application/fhir+json"
COMPLIANT = {"managed": True, "encrypted": True, "patched": True, "patch_age_days": 3}


# -- the upstream FHIR server -----------------------------------------------------------------
@dataclass
class FhirServer:
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path?query)

    @classmethod
    def load(cls) -> FhirServer:
        server = cls()
        for line in DATA.read_text().splitlines():
            resource = json.loads(line)
            server.resources[(resource["resourceType"], resource["id"])] = resource
        return server

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.requests if method is None or m == method)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/fhir/{path:path}", self.handle,
                                       methods=["GET", "HEAD", "POST", "PUT", "PATCH",
                                                "DELETE"])])

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"].strip("/")
        query = request.url.query
        self.requests.append((request.method, path + (f"?{query}" if query else "")))
        parts = path.split("/") if path else []
        params = list(request.query_params.multi_items())
        if request.method == "GET" and parts == ["metadata"]:
            return _json({"resourceType": "CapabilityStatement", "status": "active",
                          "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]})
        if request.method == "GET" and len(parts) == 1:
            return self.search(parts[0], params, None)
        if request.method == "GET" and len(parts) == 3 and parts[0] == "Patient":
            if parts[2] == "$everything":
                return self.everything(parts[1])
            return self.search(parts[2], params, parts[1])
        if request.method == "GET" and len(parts) in (2, 4):
            found = self.resources.get((parts[0], parts[1]))
            if found is None:
                return _outcome(404, "not-found", f"{parts[0]}/{parts[1]} is not known")
            return _json(found)
        if request.method == "POST" and len(parts) == 1:
            resource = orjson.loads(await request.body())
            resource["id"] = uuid.uuid4().hex[:12]
            self.resources[(parts[0], resource["id"])] = resource
            location = f"{UPSTREAM}/{parts[0]}/{resource['id']}/_history/1"
            return _json(resource, 201, {"Location": location})
        if request.method == "PUT" and len(parts) == 2:
            resource = orjson.loads(await request.body())
            existed = (parts[0], parts[1]) in self.resources
            self.resources[(parts[0], parts[1])] = resource
            return _json(resource, 200 if existed else 201)
        if request.method == "DELETE" and len(parts) == 2:
            self.resources.pop((parts[0], parts[1]), None)
            return Response(status_code=204)
        return _outcome(400, "not-supported", f"{request.method} {path}")

    def _about(self, resource: dict[str, Any], patient: str) -> bool:
        if resource["resourceType"] == "Patient":
            return bool(resource["id"] == patient)
        return f'"Patient/{patient}"' in json.dumps(resource)

    def search(self, rtype: str, params: list[tuple[str, str]], patient: str | None) -> Response:
        matches = [r for (t, _), r in sorted(self.resources.items()) if t == rtype]
        count, offset = 50, 0
        for name, value in params:
            if name in ("patient", "subject"):
                wanted = value.removeprefix("Patient/")
                matches = [r for r in matches if self._about(r, wanted)]
            elif name == "_id":
                matches = [r for r in matches if r["id"] in value.split(",")]
            elif name == "_count":
                count = int(value)
            elif name == "_offset":
                offset = int(value)
        if patient:
            matches = [r for r in matches if self._about(r, patient)]
        page = matches[offset:offset + count]
        base = [(k, v) for k, v in params if k != "_offset"]
        where = f"{UPSTREAM}/{'Patient/' + patient + '/' if patient else ''}{rtype}"
        links = [{"relation": "self", "url": where + _query(params)},
                 {"relation": "alternate", "url": f"{FOREIGN}/{rtype}" + _query(params)}]
        if offset + count < len(matches):
            links.append({"relation": "next",
                          "url": where + _query([*base, ("_offset", str(offset + count))])})
        return _json(_bundle(page, len(matches), links))

    def everything(self, patient: str) -> Response:
        found = [copy.deepcopy(r) for r in self.resources.values() if self._about(r, patient)]
        return _json(_bundle(found, len(found), []))


def _query(params: list[tuple[str, str]]) -> str:
    return "?" + str(httpx.QueryParams(params)) if params else ""


def _bundle(resources: list[dict[str, Any]], total: int,
            links: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
        "entry": [{"fullUrl": f"{UPSTREAM}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    return _json({"resourceType": "OperationOutcome",
                  "issue": [{"severity": "error", "code": code, "diagnostics": text}]}, status)


# -- keys and tokens --------------------------------------------------------------------------
class Keys:
    """An RSA and an EC signing key, their JWKS file, and tokens signed with them."""

    def __init__(self, folder: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = []
        for kid, key, alg in (("rsa-1", self.rsa, "RS256"), ("ec-1", self.ec, "ES256")):
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(
                key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        self.jwks = {"keys": keys}
        self.path = folder / "jwks.json"
        self.path.write_text(json.dumps(self.jwks))

    def claims(self, user: str = "doc", scope: str = "user/*.cruds",
               **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": f"idp-{user}",
            "fhirUser": f"Practitioner/{user}",
            "scope": scope, "iat": now, "exp": now + 600, "amr": ["pwd", "otp"],
            "auth_time": now - 60, "device_posture": COMPLIANT, "azp": "ehr-viewer",
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, user: str = "doc", scope: str = "user/*.cruds", alg: str = "RS256",
              **extra: Any) -> str:
        key, kid = (self.rsa, "rsa-1") if alg == "RS256" else (self.ec, "ec-1")
        return jwt.encode(self.claims(user, scope, **extra), key, algorithm=alg,
                          headers={"kid": kid})

    def headers(self, user: str = "doc", scope: str = "user/*.cruds", **extra: Any
                ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, scope, **extra)}",
                "Accept": FHIR_JSON}


# -- the gateway under test -------------------------------------------------------------------
@dataclass
class Harness:
    client: TestClient
    server: FhirServer
    spool: AuditSpool
    keys: Keys

    def audit(self) -> list[dict[str, Any]]:
        """Every AuditEvent spooled so far."""
        path = self.spool.path
        return [orjson.loads(line) for line in path.read_bytes().splitlines()] if (
            path.exists()) else []

    def get(self, url: str, user: str = "doc", scope: str = "user/*.cruds",
            headers: dict[str, str] | None = None, **claims: Any) -> httpx.Response:
        return self.client.get(url, headers={**self.keys.headers(user, scope, **claims),
                                             **(headers or {})})


@contextmanager
def gateway(point: DecisionPoint, spool_dir: Path, keys: Keys, *,
            decider: Decider | None = None,
            transport: httpx.AsyncBaseTransport | None = None,
            server: FhirServer | None = None) -> Iterator[Harness]:
    """The gateway in front of a fresh FhirServer, deciding at AT, spooling to spool_dir."""
    server = server or FhirServer.load()
    spool = AuditSpool(spool_dir, fsync="always")
    settings = GatewaySettings(
        upstream=UPSTREAM,
        tokens=TokenValidator(FileKeys(keys.path), ISSUER, AUDIENCE),
        decider=decider or LocalDecider(point, refresh_s=0),
        spool=spool,
        clock=lambda: AT,
        upstream_transport=transport or httpx.ASGITransport(app=server.app()),
    )
    with TestClient(create_app(settings), client=("10.1.2.3", 50000)) as client:
        yield Harness(client, server, spool, keys)
