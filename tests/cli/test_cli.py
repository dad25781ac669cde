"""The command line: store resolution, exit codes and output formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "250"})


def test_ingest_status_detect_alerts_round_trip(tmp_path: Path, data: Path) -> None:
    """Ingest, status, detect and alerts work together on one store."""
    store = str(tmp_path / "s")
    result = runner.invoke(app, ["ingest", "fhir", str(data / "fhir" / "export"), "--store", store])
    assert result.exit_code == 0, result.output
    assert "records stored" in result.output
    status = runner.invoke(app, ["status", "--store", store])
    assert status.exit_code == 0
    assert "ehr_access" in status.output and "AuditEvent.ndjson" in status.output
    detect = runner.invoke(app, ["detect", "--store", store, "--tz", "America/Chicago"])
    assert detect.exit_code == 0 and "new alerts" in detect.output
    jsonl = runner.invoke(app, ["alerts", "--store", store, "--format", "jsonl"])
    assert jsonl.exit_code == 0
    alerts = [json.loads(line) for line in jsonl.output.splitlines()]
    assert alerts, "the fixture hospital has planted alerts"
    required = {
        "id",
        "rule_id",
        "severity",
        "score",
        "user_id",
        "patient_id",
        "first_seen",
        "last_seen",
        "event_ids",
        "explanation",
    }
    assert all(required <= set(a) for a in alerts)
    assert [a["score"] for a in alerts] == sorted((a["score"] for a in alerts), reverse=True)
    high = runner.invoke(
        app, ["alerts", "--store", store, "--format", "jsonl", "--min-score", "80"]
    )
    assert all(json.loads(x)["score"] >= 80 for x in high.output.splitlines())
    as_csv = runner.invoke(app, ["alerts", "--store", store, "--format", "csv"])
    assert as_csv.output.splitlines()[0].startswith("id,rule_id,title,severity,score")


def test_store_defaults_to_the_environment_variable(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --store, $CAREWARDEN_STORE is used."""
    monkeypatch.setenv("CAREWARDEN_STORE", str(tmp_path / "env-store"))
    result = runner.invoke(app, ["ingest", "fhir", str(data / "fhir" / "bundle.json"), "-q"])
    assert result.exit_code == 1  # the bundle holds one bad entry: exit 1, records still land
    assert (tmp_path / "env-store" / "carewarden.duckdb").exists()


def test_store_defaults_to_the_current_folder(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --store or the variable, ./carewarden-data is used."""
    monkeypatch.delenv("CAREWARDEN_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    runner.invoke(app, ["ingest", "fhir", str(data / "fhir" / "export"), "-q"])
    assert (tmp_path / "carewarden-data" / "carewarden.duckdb").exists()


def test_quarantine_gives_exit_code_1_and_names_file_and_line(tmp_path: Path) -> None:
    """Records quarantined: exit 1, and the message gives file:line and the reason."""
    path = tmp_path / "AuditEvent.ndjson"
    path.write_text('{"resourceType":"AuditEvent"\n')
    result = runner.invoke(app, ["ingest", "fhir", str(path), "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert f"{path}:1" in result.output.replace("\n", "")
    assert "invalid JSON" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "fhir"],  # missing PATH
        ["ingest", "fhir", "/no/such/path"],
        ["ingest", "access-csv", "x.csv"],  # missing --mapping
        ["alerts", "--format", "xml"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    """Bad usage exits 2."""
    result = runner.invoke(app, [*args])
    assert result.exit_code == 2, result.output


def test_invalid_mapping_is_a_usage_error(tmp_path: Path, data: Path) -> None:
    """A mapping file that does not validate exits 2 with the file named."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("name: x\n")
    result = runner.invoke(
        app,
        [
            "ingest",
            "access-csv",
            str(data / "csv" / "epic_access.csv"),
            "--mapping",
            str(mapping),
            "--store",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 2
    assert "m.yaml" in result.output


def test_status_of_a_missing_store_explains(tmp_path: Path) -> None:
    """status on an empty folder says there is no store, exit 1."""
    result = runner.invoke(app, ["status", "--store", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no store" in result.output


def test_version() -> None:
    """--version prints the version."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("carewarden ")


def test_the_site_time_zone_is_kept_by_the_store(tmp_path: Path, data: Path) -> None:
    """The first detect records the site's zone; detecting again without --tz uses it and adds
    no alert; another --tz is refused (exit 2) instead of repeating alerts per other days."""
    store = str(tmp_path / "s")
    runner.invoke(app, ["ingest", "fhir", str(data / "fhir" / "export"), "--store", store, "-q"])
    first = runner.invoke(app, ["detect", "--store", store, "--tz", "America/Chicago", "-q"])
    assert first.exit_code == 0
    again = runner.invoke(app, ["detect", "--store", store])
    assert again.exit_code == 0 and "0 new alerts" in again.output
    other = runner.invoke(app, ["detect", "--store", store, "--tz", "Asia/Tokyo"])
    assert other.exit_code == 2 and "America/Chicago" in other.output
    bad = runner.invoke(app, ["detect", "--store", str(tmp_path / "t"), "--tz", "Foo/Bar"])
    assert bad.exit_code == 2 and "unknown time zone" in bad.output
