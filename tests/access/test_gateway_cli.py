"""`carewarden gateway keygen`, `token` and the checks `serve` makes before it starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from carewarden.access.gateway.tokens import FileKeys, TokenValidator
from carewarden.cli.main import app as cli


def test_keygen_and_token_make_an_accepted_token(tmp_path: Path) -> None:
    """keygen writes a private key (owner-only) and its JWKS; token signs a token the
    gateway's validator accepts, with the scopes, MFA and posture asked for."""
    runner = CliRunner()
    keys = tmp_path / "keys"
    assert runner.invoke(cli, ["gateway", "keygen", str(keys)]).exit_code == 0
    assert (keys / "private.pem").stat().st_mode & 0o077 == 0
    again = runner.invoke(cli, ["gateway", "keygen", str(keys)])
    assert again.exit_code == 2  # never overwrites a key
    result = runner.invoke(cli, [
        "gateway", "token", "--key", str(keys / "private.pem"), "--user", "doc",
        "--issuer", "https://idp.test", "--audience", "https://gw.test/fhir",
        "--scope", "user/Patient.rs", "--device", "managed,encrypted"])
    assert result.exit_code == 0, result.output
    validator = TokenValidator(FileKeys(keys / "jwks.json"), "https://idp.test",
                               "https://gw.test/fhir")
    caller, _ = asyncio.run(validator.validate(f"Bearer {result.output.strip()}"))
    assert caller.user_id == "doc" and caller.mfa_age_s is not None
    assert caller.device == {"managed": True, "encrypted": True, "patched": False,
                             "patch_age_days": 0}
    assert caller.grant("Patient", "r") is not None and caller.grant("Patient", "u") is None


def test_serve_refuses_bad_options(tmp_path: Path, hospital_store: Path) -> None:
    """serve needs exactly one key source, an http(s) upstream, a readable key set and, to
    decide in process, a store with a snapshot; each mistake is a clear error."""
    runner = CliRunner()
    base = ["gateway", "serve", "--issuer", "https://idp.test", "--audience", "https://gw.test"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    cases = [
        ([*base, "--upstream", "http://fhir.test"], 2, "exactly one"),
        ([*base, "--upstream", "ftp://fhir.test", "--jwks", str(jwks)], 2, "http(s)"),
        ([*base, "--upstream", "http://fhir.test", "--jwks", str(jwks)], 2, "jwks.json"),
    ]
    for args, code, text in cases:
        result = runner.invoke(cli, [*args, "--store", str(hospital_store)])
        assert result.exit_code == code, result.output
        assert text in "".join(result.output.split()) or text in result.output
