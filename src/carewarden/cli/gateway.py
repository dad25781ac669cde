"""``carewarden gateway``: the FHIR gateway (serve), and keys and tokens to try it (keygen,
token)."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer

from carewarden.cli.common import EXIT_USAGE, StoreOption, console, fail, store_path
from carewarden.cli.pdp import POSTURE, PoliciesOption, load_point
from carewarden.errors import CarewardenError

app = typer.Typer(
    help="FHIR gateway: a policy enforcement point in front of a FHIR R4 server (SMART "
    "tokens, per-patient decisions, BALP audit).",
    no_args_is_help=True,
)


@app.command()
def serve(
    upstream: Annotated[str, typer.Option(help="Base URL of the FHIR R4 server to protect.")],
    issuer: Annotated[str, typer.Option(help="Required token issuer (iss).")],
    audience: Annotated[
        str, typer.Option(help="Required token audience (aud): this gateway's FHIR base URL.")
    ],
    jwks: Annotated[
        Path | None, typer.Option("--jwks", help="JWKS file of the token issuer's public keys.")
    ] = None,
    jwks_url: Annotated[
        str | None, typer.Option("--jwks-url", help="JWKS URL (fetched, cached 5 minutes).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8802,
    pdp: Annotated[
        str | None,
        typer.Option("--pdp", help="URL of a remote AuthZEN decision point (`carewarden pdp "
                     "serve`); default: decide in this process from --store."),
    ] = None,
    refresh: Annotated[
        float, typer.Option(help="Seconds between store and policy refreshes (0: never).")
    ] = 60.0,
    audit_fsync: Annotated[
        str, typer.Option(help="Flush each audit record to disk before answering (always) or "
                          "every 50 ms (interval).")
    ] = "interval",
    forward_authorization: Annotated[
        bool, typer.Option(help="Forward the caller's Authorization header upstream.")
    ] = False,
    upstream_timeout: Annotated[float, typer.Option(help="Upstream timeout, seconds.")] = 30.0,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    store: StoreOption = None,
    policies: PoliciesOption = None,
) -> None:
    """Serve the gateway. Every request needs a bearer token from --issuer for --audience,
    signed by a key of --jwks or --jwks-url; each access is decided per patient and audited
    to STORE/queue/gateway_audit.ndjson, which `carewarden detect` ingests."""
    import uvicorn

    from carewarden.access.gateway.app import GatewaySettings, create_app
    from carewarden.access.gateway.deciders import Decider, LocalDecider, RemoteDecider
    from carewarden.access.gateway.spool import AuditSpool
    from carewarden.access.gateway.tokens import FileKeys, KeySource, TokenValidator, UrlKeys

    if (jwks is None) == (jwks_url is None):
        fail("give exactly one of --jwks FILE and --jwks-url URL", EXIT_USAGE)
    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together", EXIT_USAGE)
    if audit_fsync not in ("always", "interval"):
        fail("--audit-fsync is always or interval", EXIT_USAGE)
    if not upstream.startswith(("http://", "https://")):
        fail(f"--upstream must be an http(s) URL, got {upstream!r}", EXIT_USAGE)
    folder = store_path(store)
    keys: KeySource
    try:
        keys = FileKeys(jwks) if jwks is not None else UrlKeys(str(jwks_url))
    except CarewardenError as exc:
        fail(str(exc), EXIT_USAGE)
    decider: Decider
    if pdp:
        if not folder.is_dir():
            fail(f"{folder} is not a store folder (the audit spool is written there)",
                 EXIT_USAGE)
        decider = RemoteDecider(pdp)
        where = f"decisions from {pdp}"
    else:
        point = load_point(store, policies)
        decider = LocalDecider(point, refresh_s=refresh)
        where = f"decisions in process over {folder} ({len(point.policies.current.files)} " \
                "policies)"
    fsync: Literal["always", "interval"] = "always" if audit_fsync == "always" else "interval"
    settings = GatewaySettings(
        upstream=upstream,
        tokens=TokenValidator(keys, issuer, audience),
        decider=decider,
        spool=AuditSpool(folder, fsync=fsync),
        forward_authorization=forward_authorization,
        timeout_s=upstream_timeout,
    )
    scheme = "https" if tls_cert else "http"
    console.print(f"[bold]carewarden gateway[/] on {scheme}://{host}:{port}/ for {upstream}: "
                  f"{where}; audit to {settings.spool.path}")
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level="warning", access_log=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )


# -- keys and tokens to try the gateway -------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(private: Any) -> dict[str, Any]:
    """The public JWK of an EC P-256 key with its RFC 7638 thumbprint as ``kid``."""
    numbers = private.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x.to_bytes(32, "big")),
           "y": _b64(numbers.y.to_bytes(32, "big"))}
    thumbprint = hashlib.sha256(orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS)).digest()
    return {**jwk, "kid": _b64(thumbprint), "alg": "ES256", "use": "sig"}


def _load_key(path: Path) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a PEM private key ({exc})", EXIT_USAGE)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        fail(f"{path}: an EC P-256 key is expected (`carewarden gateway keygen`)", EXIT_USAGE)
    return key


@app.command()
def keygen(
    folder: Annotated[Path, typer.Argument(help="Folder for private.pem and jwks.json.")],
) -> None:
    """Write a signing key (EC P-256, private.pem) and its JWKS (jwks.json) to try the gateway;
    in production the hospital's identity provider signs the tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private_path = folder / "private.pem"
    if private_path.exists():
        fail(f"{private_path} exists; not overwritten", EXIT_USAGE)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    (folder / "jwks.json").write_bytes(
        orjson.dumps({"keys": [_public_jwk(key)]}, option=orjson.OPT_INDENT_2))
    console.print(f"wrote {private_path} (keep it private) and {folder / 'jwks.json'}")


@app.command()
def token(
    key: Annotated[Path, typer.Option(help="private.pem written by `gateway keygen`.")],
    user: Annotated[str, typer.Option(help="Practitioner id (fhirUser Practitioner/ID).")],
    issuer: Annotated[str, typer.Option(help="iss claim.")],
    audience: Annotated[str, typer.Option(help="aud claim.")],
    scope: Annotated[str, typer.Option(help="SMART scopes, space-separated.")] = "user/*.rs",
    minutes: Annotated[int, typer.Option(help="Lifetime in minutes.")] = 60,
    mfa: Annotated[bool, typer.Option(help="amr [pwd, otp] and auth_time now.")] = True,
    device: Annotated[
        str, typer.Option(help="device_posture that holds: managed,encrypted,patched.")
    ] = "managed,encrypted,patched",
    purpose: Annotated[
        str | None, typer.Option(help="purpose_of_use claim fixed by the issuer.")
    ] = None,
) -> None:
    """Print a signed access token to try the gateway (for tests and demonstrations)."""
    import jwt

    holds = {p.strip() for p in device.split(",") if p.strip()}
    if holds - set(POSTURE):
        fail(f"--device takes {', '.join(POSTURE)}", EXIT_USAGE)
    if minutes <= 0:
        fail("--minutes must be positive", EXIT_USAGE)
    private = _load_key(key)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer, "aud": audience, "sub": user, "fhirUser": f"Practitioner/{user}",
        "scope": scope, "iat": now, "exp": now + 60 * minutes,
        "device_posture": {**{p: p in holds for p in POSTURE}, "patch_age_days": 0},
    }
    if mfa:
        claims.update(amr=["pwd", "otp"], auth_time=now)
    if purpose:
        claims["purpose_of_use"] = purpose
    kid = _public_jwk(private)["kid"]
    typer.echo(jwt.encode(claims, private, algorithm="ES256", headers={"kid": kid}))
