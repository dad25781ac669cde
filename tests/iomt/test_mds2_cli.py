"""``carewarden procurement check`` from the command line: formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from mds2kit import ALL_YES, answers_with, write_csv, write_xlsx
from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "250"})


def test_json_accept(tmp_path: Path) -> None:
    """An all-yes form is accepted: exit 0, JSON with the verdict and every requirement."""
    form = write_xlsx(tmp_path / "acme.xlsx", ALL_YES)
    result = runner.invoke(app, ["procurement", "check", str(form), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "accept"
    assert payload["manufacturer"] == "Acme Medical"
    assert payload["file"] == str(form)
    outcomes = {r["id"]: r["outcome"] for r in payload["requirements"]}
    assert outcomes["encryption-at-rest"] == "pass" and set(outcomes.values()) == {"pass"}
    assert payload["form_issues"] == []


def test_json_reject_exits_one(tmp_path: Path) -> None:
    """No encryption at rest: reject, exit 1, and the reason names question and answer."""
    form = write_csv(tmp_path / "f.csv", answers_with(STCF_1=("No", "planned for v2")))
    result = runner.invoke(app, ["procurement", "check", str(form), "--format", "json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "reject"
    at_rest = next(r for r in payload["requirements"] if r["id"] == "encryption-at-rest")
    assert at_rest["outcome"] == "fail"
    assert at_rest["reasons"][0] == {
        "question_id": "STCF-1",
        "answer": "No",
        "note": "planned for v2",
        "outcome": "fail",
        "why": "expected Yes",
    }


def test_table_and_markdown_conditional(tmp_path: Path) -> None:
    """See Note on SBOM-1: conditional (exit 0), shown in the table and in markdown."""
    form = write_xlsx(tmp_path / "f.xlsx", answers_with(SBOM_1=("See Note", "on request")))
    table = runner.invoke(app, ["procurement", "check", str(form)])
    assert table.exit_code == 0, table.output
    assert "sbom-provided" in table.output and "CONDITIONAL" in table.output
    markdown = runner.invoke(app, ["procurement", "check", str(form), "--format", "markdown"])
    assert markdown.exit_code == 0
    assert "**Verdict: CONDITIONAL**" in markdown.stdout
    assert "| sbom-provided | must | review | SBOM-1 = See Note (note: on request)" in (
        markdown.stdout
    )


def test_custom_baseline(tmp_path: Path) -> None:
    baseline = tmp_path / "b.yaml"
    baseline.write_text(
        "name: Only SBOM\nrequirements:\n"
        "  - {id: sbom, description: SBOM, severity: must, questions: [SBOM-1]}\n",
        encoding="utf-8",
    )
    form = write_xlsx(tmp_path / "f.xlsx", answers_with(STCF_1=("No", "")))
    result = runner.invoke(
        app,
        ["procurement", "check", str(form), "--baseline", str(baseline), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["baseline"] == "Only SBOM" and payload["verdict"] == "accept"


def test_errors_without_traceback(tmp_path: Path) -> None:
    """A file with no question table, a bad baseline and a bad --format are clear errors."""
    junk = tmp_path / "junk.csv"
    junk.write_text("hello,world\n", encoding="utf-8")
    result = runner.invoke(app, ["procurement", "check", str(junk)])
    assert result.exit_code == 1
    assert "junk.csv: no MDS2 question table" in result.output
    assert "Traceback" not in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("requirements:\n  - {id: a, description: d, severity: maybe, questions: [X]}\n")
    form = write_csv(tmp_path / "f.csv", ALL_YES)
    result = runner.invoke(app, ["procurement", "check", str(form), "--baseline", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "severity" in result.output

    result = runner.invoke(app, ["procurement", "check", str(form), "--format", "xml"])
    assert result.exit_code == 2
    assert "--format must be table, json or markdown" in result.output


def test_save_and_list(tmp_path: Path) -> None:
    """--save keeps each evaluation once per form and baseline; list shows them."""
    store = str(tmp_path / "store")
    good = write_xlsx(tmp_path / "good.xlsx", ALL_YES)
    bad = write_csv(tmp_path / "bad.csv", answers_with(SBOM_1=("No", "")))
    saved = runner.invoke(app, ["procurement", "check", str(good), "--store", store, "--save"])
    assert saved.exit_code == 0, saved.output
    assert "saved evaluation mds2:" in saved.output
    again = runner.invoke(app, ["procurement", "check", str(good), "--store", store, "--save"])
    assert again.exit_code == 0
    rejected = runner.invoke(app, ["procurement", "check", str(bad), "--store", store, "--save"])
    assert rejected.exit_code == 1

    listed = runner.invoke(app, ["procurement", "list", "--store", store, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert sorted((r["form_path"], r["verdict"]) for r in rows) == [
        (str(bad), "reject"),
        (str(good), "accept"),
    ]
    reject = next(r for r in rows if r["verdict"] == "reject")
    assert reject["must_fail"] == 1 and reject["device_model"] == "AP-100"

    only = runner.invoke(
        app, ["procurement", "list", "--store", store, "--verdict", "reject", "--format", "json"]
    )
    assert [r["verdict"] for r in json.loads(only.stdout)] == ["reject"]
    table = runner.invoke(app, ["procurement", "list", "--store", store])
    assert table.exit_code == 0 and "2 evaluation(s)" in table.output
    assert "good.xlsx" in table.output and "AP-100" in table.output


def test_store_without_save_is_a_usage_error(tmp_path: Path) -> None:
    form = write_csv(tmp_path / "f.csv", ALL_YES)
    result = runner.invoke(app, ["procurement", "check", str(form), "--store", str(tmp_path)])
    assert result.exit_code == 2 and "--save" in result.output


def test_readme_example(iomt_data: Path) -> None:
    """The worked example of the README: SBOM on request (review), a 45-day patch cycle
    (should, fails): conditional, exit 0."""
    form = iomt_data / "mds2-pump.csv"
    result = runner.invoke(app, ["procurement", "check", str(form), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "conditional"
    outcomes = {r["id"]: r["outcome"] for r in payload["requirements"]}
    assert outcomes.pop("sbom-provided") == "review"
    assert outcomes.pop("patch-window") == "fail"
    assert set(outcomes.values()) == {"pass"}
    assert payload["counts"]["must_review"] == 1 and payload["counts"]["should_fail"] == 1
