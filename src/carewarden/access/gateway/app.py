"""The gateway itself: a reverse proxy that decides every FHIR request before and after the
upstream server answers, and audits it.

For each request: verify the bearer token (401 if not acceptable); classify the interaction
(``interactions``); check the SMART scopes (403 ``insufficient_scope``); decide, before
anything is forwarded, every patient the request names (``Patient/ID``, a compartment,
``patient``/``subject``/``_id`` search parameters) and, for writes, every patient the new
content references and, for an update, patch or delete of another type, every patient the
current version references (read from upstream first: a read has no side effect); any denial
is a 403 OperationOutcome and the request never reaches upstream. Then forward, and decide
what comes back: a resource is returned only when every patient it references is permitted
(reads of Observation/1 and the like are therefore decided after the fetch; a denial returns
403 without the body); a Bundle (search, history, ``$everything``) keeps only the entries the
user may see (``total`` reduced by the matches withheld), with upstream URLs in ``link`` and
``fullUrl`` rewritten to the gateway and links elsewhere dropped. Every request with a
verified token writes one AuditEvent (``audit``) to the spool before its response leaves.

Only FHIR JSON is inspected: a response that must be inspected and is not JSON is refused
(403); a client asking for XML where inspection is needed gets 406.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from carewarden.access.decision import AccessRequest
from carewarden.access.gateway.audit import MINOR, SERIOUS, AuditRecord, build_event
from carewarden.access.gateway.deciders import Decider, DecisionUnavailable, Verdict
from carewarden.access.gateway.interactions import Interaction, Unsupported, classify, patients_in
from carewarden.access.gateway.spool import AuditSpool
from carewarden.access.gateway.tokens import (
    Caller,
    CallerError,
    Grant,
    TokenError,
    TokenValidator,
    caller_from_claims,
)

log = logging.getLogger("carewarden.gateway")

FHIR_JSON = "application/fhir+json"
PUBLIC = frozenset({"/metadata", "/.well-known/smart-configuration"})
PURPOSE_HEADER = "x-purpose-of-use"
REASON_HEADER = "x-break-glass-reason"
MAX_REASON = 500
MAX_BODY = 16 << 20
_PURPOSE = re.compile(r"^[A-Z][A-Z0-9]{1,19}$")
REQUEST_HEADERS = ("accept", "accept-language", "content-type", "if-match", "if-none-match",
                   "if-modified-since", "if-none-exist", "prefer", "x-request-id")
RESPONSE_HEADERS = ("content-type", "etag", "last-modified", "location", "content-location",
                    "x-request-id", "x-progress", "retry-after", "expires")
SINGLE = frozenset({"read", "vread", "create", "update", "patch", "delete"})
"""Interactions answered by one resource: returned whole or not at all (a Bundle included)."""
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class GatewaySettings:
    upstream: str
    tokens: TokenValidator
    decider: Decider
    spool: AuditSpool
    clock: Callable[[], dt.datetime] = utc_now  # naive UTC: decision and audit time
    observer: str = field(default_factory=lambda: f"carewarden-gateway@{socket.gethostname()}")
    forward_authorization: bool = False
    timeout_s: float = 30.0
    upstream_transport: httpx.AsyncBaseTransport | None = None


class Refusal(Exception):
    """An answer given instead of forwarding (an OperationOutcome)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers


def operation_outcome(status: int, code: str, diagnostics: str,
                      headers: dict[str, str] | None = None) -> Response:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}
    return Response(orjson.dumps(body), status, headers, media_type=FHIR_JSON)


def _bearer_challenge(error: str, description: str) -> dict[str, str]:
    text = description.replace('"', "'").encode("latin-1", "replace").decode("latin-1")
    value = 'Bearer realm="carewarden"'
    if error:
        value += f', error="{error}", error_description="{text}"'
    return {"WWW-Authenticate": value}


@dataclass
class _Request:
    """One request's state: who asks, under which grant and purpose, decisions made."""

    caller: Caller
    grant: Grant
    purpose: str
    reason: str
    time: dt.datetime
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstream = settings.upstream.rstrip("/")
        self.client: httpx.AsyncClient | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=64,
                                keepalive_expiry=30.0),
            transport=self.settings.upstream_transport,
            follow_redirects=False,
            trust_env=False,
        )
        self.settings.spool.start()
        await self.settings.decider.start()

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.settings.decider.aclose()
        await self.settings.tokens.keys.aclose()
        self.settings.spool.close()

    # -- entry point --------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if path in PUBLIC and request.method in ("GET", "HEAD"):
            return await self._public(request, path)
        if path == "/healthz" and request.method == "GET":
            return self._health()
        record = AuditRecord(address=request.client.host if request.client else None)
        try:
            response = await self._handle(request, path, record)
        except Refusal as refusal:
            record.outcome = MINOR if refusal.status < 500 else SERIOUS
            record.description = str(refusal)
            record.status = refusal.status
            response = operation_outcome(refusal.status, refusal.code, str(refusal),
                                         refusal.headers)
        except Exception as exc:
            log.exception("gateway error on %s %s", request.method, path)
            record.outcome, record.status = SERIOUS, 500
            record.description = f"gateway error: {type(exc).__name__}"
            response = operation_outcome(500, "exception", "the gateway failed on this request")
        except BaseException:  # cancelled (client gone, shutdown): still audited
            if record.user is not None:
                record.outcome, record.description = SERIOUS, "request cancelled"
                self._audit_now(record)
            raise
        if record.user is not None:
            try:
                await self._audit(record)
            except OSError as exc:
                log.error("AUDIT FAILED (%s); the response was withheld: %s", exc,
                          orjson.dumps(self._event(record)).decode())
                return operation_outcome(500, "exception",
                                         "the access could not be audited; nothing is returned")
        return response

    def _event(self, record: AuditRecord) -> dict[str, Any]:
        return build_event(record, self.settings.clock(), self.settings.observer, self.upstream)

    def _audit_now(self, record: AuditRecord) -> None:
        self.settings.spool.append(self._event(record))

    async def _audit(self, record: AuditRecord) -> None:
        if self.settings.spool.fsync == "always":
            await asyncio.to_thread(self._audit_now, record)
        else:
            self._audit_now(record)

    # -- the pipeline -------------------------------------------------------------------------
    async def _handle(self, request: Request, path: str, record: AuditRecord) -> Response:
        url_params = parse_qsl(request.url.query, keep_blank_values=True)
        caller = await self._caller(request, path, url_params, record)
        body = await _body(request) if request.method in ("POST", "PUT", "PATCH") else b""
        params = list(url_params)
        if path.endswith("/_search") and "form" in request.headers.get("content-type", ""):
            params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            interaction = classify(request.method, path, params)
        except Unsupported as exc:
            record.interaction = "unknown"
            raise Refusal(exc.status, exc.code, str(exc)) from None
        record.interaction = interaction.subtype
        record.action = interaction.audit_action
        record.resource = interaction.reference
        if interaction.is_search or interaction.operation:
            record.query = path + (f"?{request.url.query}" if request.url.query else "")
        purpose, reason = self._purpose(request, caller)
        record.purpose, record.reason = purpose, reason or None
        if interaction.kind in ("search-system", "history-system"):
            grant = caller.grant_any(interaction.permission)
        else:
            grant = caller.grant(interaction.scope_type, interaction.permission, params)
        if grant is None:
            record.patients = dict.fromkeys(interaction.patients, "")
            needed = f"user/{interaction.scope_type}.{interaction.permission}"
            raise Refusal(403, "forbidden", f"insufficient scope: this {interaction.subtype} "
                          f"needs {needed} (or patient/ for the launch patient)",
                          _bearer_challenge("insufficient_scope", f"needs {needed}"))
        if _wants_xml(request, params):
            raise Refusal(406, "not-supported", "the gateway serves FHIR JSON only "
                          "(Accept: application/fhir+json)")
        state = _Request(caller, grant, purpose, reason, self.settings.clock())
        before = list(interaction.patients)
        if interaction.is_write:
            before += await self._write_patients(interaction, body)
        if before:
            verdicts = await self._decide(state, before, interaction.action)
            record.patients.update((p, v.decision_id) for p, v in verdicts.items())
            denied = {p: v for p, v in verdicts.items() if not v.allowed}
            if denied:
                raise Refusal(403, "forbidden", _denial(denied))
        upstream = await self._forward(request, interaction, body, url_params)
        return await self._respond(request, interaction, state, upstream, record)

    async def _caller(self, request: Request, path: str, params: list[tuple[str, str]],
                      record: AuditRecord) -> Caller:
        try:
            caller, _ = await self.settings.tokens.validate(request.headers.get("authorization"))
        except TokenError as exc:
            if exc.claims is not None:  # signature held: the user is known, audit it
                try:
                    known = caller_from_claims(exc.claims)
                except (CallerError, TokenError):
                    pass
                else:
                    self._fill_caller(record, known)
                    try:
                        interaction = classify(request.method, path, params)
                    except Unsupported:
                        pass
                    else:
                        record.interaction = interaction.subtype
                        record.action = interaction.audit_action
                        record.resource = interaction.reference
                        record.patients = dict.fromkeys(interaction.patients, "")
            log.info("token refused on %s %s: %s", request.method, path, exc)
            code = "expired" if exc.expired else "login"
            raise Refusal(401, code, f"authentication failed: {exc}",
                          _bearer_challenge(exc.code, str(exc))) from None
        except CallerError as exc:
            log.warning("caller refused on %s %s: %s", request.method, path, exc)
            raise Refusal(403, "forbidden", str(exc)) from None
        self._fill_caller(record, caller)
        return caller

    @staticmethod
    def _fill_caller(record: AuditRecord, caller: Caller) -> None:
        record.user = caller.reference
        record.subject = caller.subject
        record.client_id = caller.client_id

    @staticmethod
    def _purpose(request: Request, caller: Caller) -> tuple[str, str]:
        header = request.headers.get(PURPOSE_HEADER, "").strip().upper()
        if header and not _PURPOSE.match(header):
            raise Refusal(400, "value", f"{PURPOSE_HEADER} must be a purpose-of-use code "
                          "(TREAT, ETREAT, HPAYMT…)")
        if caller.purpose and header and header != caller.purpose:
            raise Refusal(403, "forbidden", f"the token fixes the purpose of use to "
                          f"{caller.purpose}; {PURPOSE_HEADER} {header} is refused")
        reason = request.headers.get(REASON_HEADER, "").strip()
        if len(reason) > MAX_REASON:
            raise Refusal(400, "value", f"{REASON_HEADER} is over {MAX_REASON} characters")
        return caller.purpose or header or "TREAT", reason

    async def _decide(self, state: _Request, patients: Iterable[str],
                      action: str) -> dict[str, Verdict]:
        """The verdict for each patient (decided once per request and action)."""
        wanted = list(dict.fromkeys(patients))
        todo = []
        for patient in wanted:
            key = (patient, action)
            if key in state.verdicts:
                continue
            if state.grant.patient is not None and patient != state.grant.patient:
                state.verdicts[key] = Verdict(
                    False, f"the token's patient/ scopes open patient {state.grant.patient} "
                    "only")
            else:
                todo.append(patient)
        if todo:
            caller, device = state.caller, state.caller.device
            requests = [
                AccessRequest(
                    user_id=caller.user_id, patient_id=patient, action=action, time=state.time,
                    purpose=state.purpose, reason=state.reason,
                    managed=device.get("managed") is True,
                    encrypted=device.get("encrypted") is True,
                    patched=device.get("patched") is True,
                    patch_age_days=_int(device.get("patch_age_days")),
                    mfa_age_s=caller.mfa_age_s,
                )
                for patient in todo
            ]
            try:
                verdicts = await self.settings.decider.decide(requests)
            except DecisionUnavailable as exc:
                raise Refusal(503, "transient", str(exc)) from None
            for patient, verdict in zip(todo, verdicts, strict=True):
                state.verdicts[(patient, action)] = verdict
        return {p: state.verdicts[(p, action)] for p in wanted}

    async def _write_patients(self, interaction: Interaction, body: bytes) -> list[str]:
        """Patients a write touches: those of the new content and, for an update, patch or
        delete of a type other than Patient, those of the current version."""
        found: list[str] = []
        if interaction.kind != "delete":
            try:
                content = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                raise Refusal(415, "not-supported", "the gateway decides on FHIR JSON: send "
                              "the resource as application/fhir+json") from None
            # a Patient write names its patient in the path, a create in its content
            if interaction.resource_type != "Patient" or interaction.kind == "create":
                found += sorted(patients_in(content))
        if interaction.resource_id and interaction.resource_type != "Patient":
            found += sorted(await self._current_patients(interaction))
        return found

    async def _current_patients(self, interaction: Interaction) -> set[str]:
        assert self.client is not None and interaction.reference is not None
        try:
            response = await self.client.get(f"{self.upstream}/{interaction.reference}",
                                             headers={"Accept": FHIR_JSON})
        except httpx.HTTPError as exc:
            raise Refusal(502, "transient", f"upstream server unreachable: {exc}") from None
        if response.status_code in (404, 410):
            return set()
        if response.status_code != 200:
            raise Refusal(502, "transient", f"upstream answered {response.status_code} reading "
                          f"the current {interaction.reference}")
        try:
            return patients_in(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            raise Refusal(502, "transient", "upstream answered invalid JSON") from None

    async def _forward(self, request: Request, interaction: Interaction, body: bytes,
                       url_params: list[tuple[str, str]]) -> httpx.Response:
        assert self.client is not None
        headers = {k: v for k in REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        if self.settings.forward_authorization and "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        if request.client:
            prior = request.headers.get("x-forwarded-for")
            headers["x-forwarded-for"] = (f"{prior}, " if prior else "") + request.client.host
        headers["x-forwarded-proto"] = request.url.scheme
        headers["x-forwarded-host"] = request.headers.get("host", "")
        url = self.upstream + interaction.path
        if url_params:
            url += "?" + urlencode(url_params)
        # HEAD is sent as GET: what it would reveal (existence, version) is decided on the
        # body like a read's, and the server leaves the body out of the answer
        method = "GET" if request.method == "HEAD" else request.method
        upstream_request = self.client.build_request(method, url, headers=headers,
                                                     content=body or None)
        try:
            return await self.client.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            raise Refusal(502, "transient",
                          f"upstream server unreachable: {type(exc).__name__}") from None

    async def _respond(self, request: Request, interaction: Interaction, state: _Request,
                       upstream: httpx.Response, record: AuditRecord) -> Response:
        status = upstream.status_code
        record.status = status
        if status >= 500:
            record.outcome, record.description = SERIOUS, f"upstream answered {status}"
        elif status >= 400:
            record.outcome, record.description = MINOR, f"upstream answered {status}"
        base = str(request.base_url).rstrip("/")
        headers = self._response_headers(upstream, base)
        content_type = upstream.headers.get("content-type", "")
        if "json" not in content_type:
            pre_decided = interaction.resource_type == "Patient" and interaction.kind in (
                "read", "vread")
            if status < 300 and not (pre_decided or interaction.is_write):
                await upstream.aclose()
                raise Refusal(403, "forbidden", "the response is not FHIR JSON, so the gateway "
                              "cannot decide on it; ask for application/fhir+json")
            if "content-encoding" in upstream.headers:
                headers["content-encoding"] = upstream.headers["content-encoding"]
            return StreamingResponse(upstream.aiter_raw(), status, headers,
                                     background=BackgroundTask(upstream.aclose))
        try:
            raw = await upstream.aread()
        except httpx.HTTPError as exc:
            raise Refusal(502, "transient",
                          f"upstream failed while answering: {type(exc).__name__}") from None
        finally:
            await upstream.aclose()
        if not raw:
            return Response(raw, status, headers)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refusal(502, "transient", "upstream answered invalid JSON") from None
        if interaction.kind not in SINGLE and isinstance(document, dict) and (
            document.get("resourceType") == "Bundle"
        ):
            await self._filter_bundle(document, interaction, state, record, base)
            return Response(orjson.dumps(document), status, headers)
        action = _entry_action(interaction, None)
        patients = patients_in(document)
        verdicts = await self._decide(state, patients, action)
        denied = {p: v for p, v in verdicts.items() if not v.allowed}
        record.patients.update((p, v.decision_id) for p, v in verdicts.items())
        if denied:
            raise Refusal(403, "forbidden", _denial(denied))
        return Response(raw, status, headers)

    async def _filter_bundle(self, bundle: dict[str, Any], interaction: Interaction,
                             state: _Request, record: AuditRecord, base: str) -> None:
        entries = bundle.get("entry")
        entries = entries if isinstance(entries, list) else []
        plan: list[tuple[str, set[str]] | None] = []
        wanted: dict[str, set[str]] = {}
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            if isinstance(rtype, str) and rtype != "OperationOutcome" and not (
                state.caller.can_see(rtype)
            ):
                plan.append(None)  # a type the scopes do not open
                continue
            action = _entry_action(interaction, rtype)
            patients = patients_in(resource) if resource is not None else set()
            plan.append((action, patients))
            wanted.setdefault(action, set()).update(patients)
        for action, patients in wanted.items():
            await self._decide(state, sorted(patients), action)
        kept: list[Any] = []
        withheld = withheld_matches = 0
        for entry, planned in zip(entries, plan, strict=True):
            allowed = planned is not None and all(
                state.verdicts[(p, planned[0])].allowed for p in planned[1])
            if not allowed:
                withheld += 1
                mode = (entry.get("search") or {}).get("mode") if isinstance(entry, dict) else None
                withheld_matches += mode != "include" and mode != "outcome"
                continue
            assert planned is not None
            for patient in sorted(planned[1]):
                record.patients.setdefault(patient, state.verdicts[(patient, planned[0])]
                                           .decision_id)
            if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str):
                entry["fullUrl"] = self._rewrite(entry["fullUrl"], base) or entry["fullUrl"]
            kept.append(entry)
        if entries:
            if kept:
                bundle["entry"] = kept
            else:
                del bundle["entry"]
        links = bundle.get("link")
        paged = False
        if isinstance(links, list):
            rewritten = []
            for link in links:
                url = link.get("url") if isinstance(link, dict) else None
                new = self._rewrite(url, base) if isinstance(url, str) else None
                if new is not None:
                    rewritten.append({**link, "url": new})
                    paged = paged or link.get("relation") in ("next", "previous", "prev")
            bundle["link"] = rewritten
        total = bundle.get("total")
        if withheld_matches and isinstance(total, int):
            if paged:
                del bundle["total"]  # the other pages' withheld matches are not known
            else:
                bundle["total"] = max(0, total - withheld_matches)
        record.returned = len(kept)
        record.withheld = withheld
        if record.query is None:  # a history: the query entity carries the counts
            record.query = interaction.path

    def _rewrite(self, url: str, base: str) -> str | None:
        """An upstream URL moved to the gateway; a relative one kept; any other: None."""
        upstream = self.upstream
        if url == upstream or url.startswith((upstream + "/", upstream + "?")):
            return base + url[len(upstream):]
        if url.startswith((base + "/", base + "?")) or url == base:
            return url
        if "://" not in url:
            return url
        return None

    def _response_headers(self, upstream: httpx.Response, base: str) -> dict[str, str]:
        headers = {"cache-control": "no-store"}
        for name in RESPONSE_HEADERS:
            value = upstream.headers.get(name)
            if value is None:
                continue
            if name in ("location", "content-location"):
                moved = self._rewrite(value, base)
                if moved is None:
                    continue
                value = moved
            headers[name] = value
        return headers

    # -- public and health --------------------------------------------------------------------
    async def _public(self, request: Request, path: str) -> Response:
        """The CapabilityStatement and SMART configuration: public, as SMART requires."""
        assert self.client is not None
        try:
            answer = await self.client.get(self.upstream + path,
                                           headers={"Accept": request.headers.get(
                                               "accept", FHIR_JSON)})
        except httpx.HTTPError as exc:
            return operation_outcome(502, "transient",
                                     f"upstream server unreachable: {type(exc).__name__}")
        headers = {k: v for k in ("content-type", "etag", "last-modified")
                   if (v := answer.headers.get(k)) is not None}
        return Response(answer.content, answer.status_code, headers)

    def _health(self) -> Response:
        decider = self.settings.decider.health()
        body = {"upstream": self.upstream, **decider,
                "audit_spool": str(self.settings.spool.path),
                "audited": self.settings.spool.written}
        return Response(orjson.dumps(body), 200 if decider.get("ready") else 503,
                        media_type="application/json")


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past MAX_BODY without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refusal(413, "too-costly", f"request body over {MAX_BODY:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refusal(413, "too-costly", f"request body over {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _entry_action(interaction: Interaction, rtype: str | None) -> str:
    """The decision for an entry or a returned resource: Patient entries of a Patient search
    are ``search`` (finding patients); otherwise the interaction's own action, a search's
    clinical entries being ``read``."""
    if interaction.action == "search":
        return "search" if rtype == "Patient" else "read"
    return interaction.action


def _denial(denied: dict[str, Verdict]) -> str:
    return "; ".join(f"access to patient {p} {v.reason}" if v.reason.startswith("denied")
                     else f"access to patient {p} denied: {v.reason}"
                     for p, v in denied.items())


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _wants_xml(request: Request, params: list[tuple[str, str]]) -> bool:
    formats = [v for k, v in params if k == "_format"]
    if formats:
        return any("xml" in f for f in formats)
    accept = request.headers.get("accept", "")
    return "xml" in accept and "json" not in accept


def create_app(settings: GatewaySettings) -> Starlette:
    """The gateway as an ASGI app; the upstream client, the spool and the decision point's
    refresh run for the app's lifetime."""
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.aclose()

    app = Starlette(routes=[Route("/{path:path}", gateway.handle, methods=METHODS)],
                    lifespan=lifespan)
    app.state.gateway = gateway
    return app
