"""The AuthZEN HTTP API and the ``carewarden pdp`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from carewarden.access.authzen import create_app
from carewarden.access.decision import DecisionPoint
from carewarden.cli.main import app as cli
from conftest import DAY, request


@pytest.fixture
def client(point: DecisionPoint) -> Iterator[TestClient]:
    with TestClient(create_app(point, refresh_s=0)) as opened:
        yield opened


def test_one_evaluation(client: TestClient) -> None:
    """POST /access/v1/evaluation answers the decision with its reasons and echoes the
    request id."""
    response = client.post(
        "/access/v1/evaluation", json=request("doc", "pat"), headers={"X-Request-ID": "r-1"}
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "r-1"
    body = response.json()
    assert body["decision"] is True
    assert body["context"]["reasons"] == [
        {"policy": "treatment-read", "effect": "permit", "file": "treatment.cedar"}
    ]
    assert body["context"]["relationship"] == "encounter"
    denied = client.post("/access/v1/evaluation", json=request("it", "pat")).json()
    assert denied["decision"] is False
    assert denied["context"]["reason_admin"]["en"].startswith("denied by default")


def test_batch_evaluations_take_defaults_and_semantics(client: TestClient) -> None:
    """Top-level parts are defaults each item replaces; answers come in order; with
    deny_on_first_deny the batch stops at the first denial."""
    base = request("doc", "pat")
    body = {
        "subject": base["subject"],
        "resource": base["resource"],
        "context": base["context"],
        "evaluations": [
            {"action": {"name": "read"}},
            {"action": {"name": "export"}},
            {"action": {"name": "update"}},
            {"action": {"name": "read"}, "resource": {"type": "patient", "id": "nobody"}},
        ],
    }
    answers = client.post("/access/v1/evaluations", json=body).json()["evaluations"]
    assert [a["decision"] for a in answers] == [True, False, True, False]
    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    answers = client.post("/access/v1/evaluations", json=body).json()["evaluations"]
    assert [a["decision"] for a in answers] == [True, False]
    body["options"] = {"evaluations_semantic": "permit_on_first_permit"}
    assert len(client.post("/access/v1/evaluations", json=body).json()["evaluations"]) == 1


def test_malformed_requests_are_400(client: TestClient) -> None:
    """Invalid JSON or a request that is not an evaluation is a 400 with the error; a bad
    item in a batch is a denial with its error."""
    assert client.post("/access/v1/evaluation", content=b"{").status_code == 400
    response = client.post("/access/v1/evaluation", json={"subject": {"id": "doc"}})
    assert response.status_code == 400 and "subject" in response.json()["error"]
    batch = {"evaluations": [request("doc", "pat"), {"subject": 1}]}
    answers = client.post("/access/v1/evaluations", json=batch).json()["evaluations"]
    assert answers[0]["decision"] and not answers[1]["decision"]
    assert answers[1]["context"]["error"]["status"] == 400


def test_discovery_and_health(client: TestClient) -> None:
    """The AuthZEN metadata names both endpoints; /healthz reports the snapshot."""
    meta = client.get("/.well-known/authzen-configuration").json()
    assert meta["access_evaluation_endpoint"].endswith("/access/v1/evaluation")
    assert meta["access_evaluations_endpoint"].endswith("/access/v1/evaluations")
    health = client.get("/healthz").json()
    assert health["ready"] and health["counts"]["patients"] >= 20 and health["problem"] is None


def test_pdp_check_exit_codes(hospital_store: Path) -> None:
    """`pdp check` exits 0 when permitted, 1 when denied (naming the policy), 2 on misuse."""
    runner = CliRunner()
    common = ["--store", str(hospital_store), "--time", DAY, "--mfa-age-s", "60"]
    permitted = runner.invoke(cli, ["pdp", "check", "--user", "doc", "--patient", "pat", *common])
    assert permitted.exit_code == 0, permitted.output
    assert "PERMIT" in permitted.output and "treatment-read" in permitted.output
    denied = runner.invoke(
        cli, ["pdp", "check", "--user", "doc", "--patient", "pat", "--device", "managed",
              *common, "--json"]
    )
    assert denied.exit_code == 1
    answer = orjson.loads(denied.output)
    assert not answer["decision"]
    assert [r["policy"] for r in answer["context"]["reasons"]] == ["device-posture"]
    misuse = runner.invoke(
        cli, ["pdp", "check", "--user", "doc", "--patient", "pat", "--device", "shiny", *common]
    )
    assert misuse.exit_code == 2


def test_pdp_policies_writes_an_editable_copy(tmp_path: Path, hospital_store: Path) -> None:
    """`pdp policies DIR` writes the shipped files; `--policies DIR` uses them, and an
    invalid folder is a usage error naming the file."""
    runner = CliRunner()
    folder = tmp_path / "mine"
    assert runner.invoke(cli, ["pdp", "policies", str(folder)]).exit_code == 0
    assert (folder / "schema.cedarschema").exists() and (folder / "treatment.cedar").exists()
    (folder / "treatment.cedar").write_text('@id("t") permit (principal, action, resource) '
                                            "when { principal.nickname == \"x\" };")
    result = runner.invoke(
        cli, ["pdp", "check", "--user", "doc", "--patient", "pat", "--store",
              str(hospital_store), "--policies", str(folder)]
    )
    assert result.exit_code == 2 and "treatment.cedar" in "".join(result.output.split())
