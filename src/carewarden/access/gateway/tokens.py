"""Bearer tokens: JWT signature and claims, the caller they name, and their SMART scopes.

A token is accepted when it is a JWT signed with an asymmetric algorithm (RS*, PS*, ES*,
EdDSA) by a key of the configured JWKS whose own algorithm is the token's (``alg: none`` and
HMAC are refused whatever the key set holds), and when ``exp`` (required), ``nbf``, ``iss``
and ``aud`` hold (30 s of clock skew allowed).

The caller is the ``fhirUser`` claim when it names a Practitioner (``Practitioner/ID`` or an
absolute URL ending so: the decision point's user ID), else ``sub``. A ``fhirUser`` of another
type (Patient, RelatedPerson) is refused: the decision point decides for the workforce.

Trust model: what the token says was asserted by the identity provider and is trusted: the
user, the scopes, MFA (``amr`` and ``auth_time``), the device posture (``device_posture``)
and a purpose of use the IdP fixed (``purpose_of_use``). What the client application sends
beside the token (the purpose-of-use and break-the-glass headers) is the user's own
statement: it is recorded in the audit and may only narrow what the token allows.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson

from carewarden.errors import ConfigError

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY_S = 30
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "sc", "fpt", "face", "iris", "retina", "vbm"})
"""``amr`` values (RFC 8176) that show a multi-factor or phishing-resistant login."""
POSTURE_CLAIM = "device_posture"
PURPOSE_CLAIM = "purpose_of_use"


class TokenError(Exception):
    """A token that is missing or not acceptable (HTTP 401). ``claims`` holds the verified
    claims when the signature held but a claim did not (an expired token): the user is
    known, so the attempt is audited."""

    def __init__(self, message: str, *, claims: dict[str, Any] | None = None,
                 code: str = "invalid_token", expired: bool = False) -> None:
        super().__init__(message)
        self.claims = claims
        self.code = code
        self.expired = expired


class CallerError(Exception):
    """A valid token for a caller this gateway does not serve (HTTP 403)."""


# -- SMART scopes -----------------------------------------------------------------------------
_SCOPE = re.compile(
    r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)(?:\?(.+))?$"
)
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    context: str  # patient, user or system
    resource_type: str  # a FHIR resource type or "*"
    permissions: frozenset[str]  # of c, r, u, d, s
    params: tuple[tuple[str, str], ...] = ()  # SMART v2 finer-grained: ?category=laboratory

    def covers(self, resource_type: str, permission: str) -> bool:
        return (self.resource_type in ("*", resource_type)) and permission in self.permissions


def parse_scopes(value: Any) -> list[Scope]:
    """SMART v2 (``user/Patient.rs``, ``patient/Observation.rs?category=laboratory``) and v1
    (``user/*.read``, ``patient/*.write``) resource scopes; others (openid, launch…) are
    left out. ``value`` is the ``scope`` claim (space-separated) or ``scp`` (a list)."""
    words = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    scopes = []
    for word in words:
        match = _SCOPE.match(word) if isinstance(word, str) else None
        if match is None or match.group(3) == "":
            continue
        context, rtype, perms, query = match.groups()
        params: list[tuple[str, str]] = []
        if query:
            for part in query.split("&"):
                name, _, wanted = part.partition("=")
                params.append((name, wanted))
        scopes.append(
            Scope(context, rtype, frozenset(_V1.get(perms, perms)), tuple(sorted(params)))
        )
    return scopes


@dataclass(frozen=True)
class Grant:
    """What the scopes allow for one interaction: ``patient`` set when only ``patient/``
    scopes grant it (every patient involved must then be the token's launch patient)."""

    patient: str | None = None


# -- the caller -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    user_id: str
    subject: str  # the token's sub
    client_id: str | None
    scopes: tuple[Scope, ...]
    launch_patient: str | None  # the SMART launch context's `patient` claim
    purpose: str | None  # purpose of use fixed by the IdP
    mfa_age_s: int | None
    device: dict[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"Practitioner/{self.user_id}"

    def grant(self, resource_type: str, permission: str,
              params: list[tuple[str, str]] | None = None) -> Grant | None:
        """The grant for ``permission`` (c, r, u, d or s) on ``resource_type``, or None.

        A scope with SMART v2 parameters grants only searches that carry each of them."""
        restricted = False
        for scope in self.scopes:
            if not scope.covers(resource_type, permission):
                continue
            if scope.params and (
                params is None or any(p not in params for p in scope.params)
            ):
                continue
            if scope.context != "patient":
                return Grant()
            restricted = True
        if restricted and self.launch_patient:
            return Grant(patient=self.launch_patient)
        return None

    def grant_any(self, permission: str) -> Grant | None:
        """The grant for a system-level search or history (and the paging links of servers
        that page there, such as HAPI's ``?_getpages=``): ``permission`` on some type will
        do, as the entries of types the scopes do not open are withheld."""
        restricted = False
        for scope in self.scopes:
            if permission in scope.permissions and not scope.params:
                if scope.context != "patient":
                    return Grant()
                restricted = True
        if restricted and self.launch_patient:
            return Grant(patient=self.launch_patient)
        return None

    def can_see(self, resource_type: str) -> bool:
        """Whether an entry of ``resource_type`` may be returned in a search result."""
        return any(
            s.covers(resource_type, "r") or s.covers(resource_type, "s")
            for s in self.scopes
            if not s.params
        )


def _user_id(claims: dict[str, Any]) -> str:
    fhir_user = claims.get("fhirUser")
    if isinstance(fhir_user, str) and fhir_user:
        parts = fhir_user.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Practitioner" and parts[-1]:
            return parts[-1]
        raise CallerError(
            f"fhirUser {fhir_user!r} is not a Practitioner: this gateway serves the workforce"
        )
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("the token names no user (fhirUser or sub)")
    return sub


def _mfa_age(claims: dict[str, Any], now: float) -> int | None:
    amr = claims.get("amr")
    auth_time = claims.get("auth_time")
    if not isinstance(amr, list) or not MFA_METHODS.intersection(
        a for a in amr if isinstance(a, str)
    ):
        return None
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        return None
    return max(0, int(now - auth_time))


def caller_from_claims(claims: dict[str, Any], now: float | None = None) -> Caller:
    """The caller a verified token names (raises :class:`CallerError`)."""
    moment = time.time() if now is None else now
    scope_claim = claims.get("scope", claims.get("scp"))
    device = claims.get(POSTURE_CLAIM)
    purpose = claims.get(PURPOSE_CLAIM)
    client = claims.get("client_id", claims.get("azp"))
    patient = claims.get("patient")
    return Caller(
        user_id=_user_id(claims),
        subject=str(claims.get("sub", "")),
        client_id=client if isinstance(client, str) else None,
        scopes=tuple(parse_scopes(scope_claim)),
        launch_patient=patient if isinstance(patient, str) and patient else None,
        purpose=purpose.upper() if isinstance(purpose, str) and purpose else None,
        mfa_age_s=_mfa_age(claims, moment),
        device=device if isinstance(device, dict) else {},
    )


# -- keys -------------------------------------------------------------------------------------
def _key_set(data: bytes, where: str) -> dict[str, jwt.PyJWK]:
    """The asymmetric signing keys of a JWKS document, by key id ("" for a key without)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"not a JSON Web Key Set: {exc}", path=where) from None
    raw = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(raw, list):
        raise ConfigError("not a JSON Web Key Set: no `keys` array", path=where)
    keys: dict[str, jwt.PyJWK] = {}
    for item in raw:
        if not isinstance(item, dict) or item.get("kty") == "oct" or item.get("use") == "enc":
            continue
        try:
            key = jwt.PyJWK(item)
        except jwt.PyJWTError:
            continue  # a key type or algorithm this gateway cannot verify with
        if key.algorithm_name in ASYMMETRIC:
            keys[str(item.get("kid") or "")] = key
    if not keys:
        raise ConfigError("the key set holds no usable public signing key", path=where)
    return keys


class KeySource(ABC):
    """Where the public keys come from; :meth:`key` finds the one a token names."""

    @abstractmethod
    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with id ``kid`` (or the only key, when the token names none)."""

    async def aclose(self) -> None:
        return None


def _pick(keys: dict[str, jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
    if kid:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


class FileKeys(KeySource):
    """A local JWKS file, re-read when it changes (checked at most once a second)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = self._stat()
        self._keys = _key_set(self._read(), str(path))
        self._checked = time.monotonic()

    def _read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the key set: {exc.strerror}",
                              path=str(self.path)) from None

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError as exc:
            raise ConfigError(f"cannot read the key set: {exc.strerror}",
                              path=str(self.path)) from None

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                mtime = self._stat()
                if mtime != self._mtime:
                    self._keys = _key_set(self._read(), str(self.path))
                    self._mtime = mtime
            except ConfigError:
                pass  # a key file being rewritten: keep the keys in force
        return _pick(self._keys, kid)


class UrlKeys(KeySource):
    """A JWKS URL, fetched on first use, kept ``ttl_s`` seconds, and fetched again at once
    (at most every ``retry_s``) when a token names a key id it does not hold: the IdP has
    rotated its keys."""

    def __init__(self, url: str, *, ttl_s: float = 300.0, retry_s: float = 30.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.retry_s = retry_s
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -1e18
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    async def _fetch(self) -> None:
        self._fetched = time.monotonic()
        try:
            response = await self._client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            self._keys = _key_set(response.content, self.url)
            self.last_error = None
        except (httpx.HTTPError, ConfigError) as exc:
            self.last_error = f"{self.url}: {exc}"  # keep the keys held so far

    async def key(self, kid: str) -> jwt.PyJWK | None:
        age = time.monotonic() - self._fetched
        found = _pick(self._keys, kid)
        if age >= self.ttl_s or (found is None and age >= self.retry_s):
            async with self._lock:
                if time.monotonic() - self._fetched >= self.retry_s:  # not just fetched
                    await self._fetch()
            found = _pick(self._keys, kid)
        return found

    async def aclose(self) -> None:
        await self._client.aclose()


# -- validation -------------------------------------------------------------------------------
@dataclass
class TokenValidator:
    """Verifies bearer tokens. A token verified once is remembered (up to ``cache_size``)
    with the key that verified it: until it expires, and while the key source still holds
    that very key, the same token is accepted without verifying its signature again."""

    keys: KeySource
    issuer: str | None
    audience: str | None
    now: Callable[[], float] = time.time
    cache_size: int = 10_000
    _cache: dict[str, tuple[Caller, dict[str, Any], str, jwt.PyJWK]] = field(
        default_factory=dict, init=False, repr=False)

    async def validate(self, authorization: str | None) -> tuple[Caller, dict[str, Any]]:
        """The caller and the verified claims of an ``Authorization: Bearer`` header; raises
        :class:`TokenError` (401) or :class:`CallerError` (403)."""
        if not authorization:
            raise TokenError("a bearer token is required", code="")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenError("the Authorization header is not a bearer token",
                             code="invalid_request")
        hit = self._cache.get(token)
        if hit is not None:
            known, verified, used_kid, used_key = hit
            moment = self.now()
            nbf = verified.get("nbf", 0)
            if (verified["exp"] > moment - LEEWAY_S
                    and (not isinstance(nbf, int | float) or nbf <= moment + LEEWAY_S)
                    and await self.keys.key(used_kid) is used_key):
                return replace(known, mfa_age_s=_mfa_age(verified, moment)), verified
            del self._cache[token]  # expired or its key changed: verified again below
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC:
            raise TokenError(f"token algorithm {alg!r} is not accepted (asymmetric only)")
        named = header.get("kid")
        kid = named if isinstance(named, str) else ""
        key = await self.keys.key(kid)
        if key is None:
            raise TokenError(f"no key {kid!r} in the key set")
        options: dict[str, Any] = {"require": ["exp"], "verify_aud": self.audience is not None}
        try:
            claims = self._decode(token, key, alg, options)
        except jwt.InvalidSignatureError:
            raise TokenError("token signature does not verify") from None
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired", claims=self._verified(token, key, alg),
                             expired=True) from None
        except (jwt.ImmatureSignatureError, jwt.InvalidAudienceError,
                jwt.InvalidIssuerError) as exc:
            raise TokenError(f"token refused: {exc}",
                             claims=self._verified(token, key, alg)) from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"token refused: {exc}") from None
        caller = caller_from_claims(claims, self.now())
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[token] = (caller, claims, kid, key)
        return caller, claims

    def _decode(self, token: str, key: jwt.PyJWK, alg: str,
                options: dict[str, Any]) -> dict[str, Any]:
        decoded: dict[str, Any] = jwt.decode(
            token, key=key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
            leeway=LEEWAY_S, options=options,  # type: ignore[arg-type]
        )
        return decoded

    def _verified(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any] | None:
        """The claims of a token whose signature holds though a claim does not."""
        try:
            return self._decode(
                token, key, alg,
                {"verify_exp": False, "verify_nbf": False, "verify_aud": False,
                 "verify_iss": False},
            )
        except jwt.PyJWTError:
            return None
