"""``carewarden breach``: JSON and text output, exit codes, letter files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})

INCIDENT: dict[str, Any] = {
    "discovery_date": "2024-12-31",
    "affected_by_state": {"CA": 501, "OR": 4},
    "phi_types": ["name", "lab-results"],
    "encrypted": False,
    "recipient": "public",
    "acquired_or_viewed": True,
    "mitigated": False,
}


def write(tmp_path: Path, data: dict[str, Any], name: str = "incident.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_assess_json(tmp_path: Path) -> None:
    """JSON output: breach, reasoning and {kind, due, recipient} obligations; exit 0."""
    result = runner.invoke(
        app, ["breach", "assess", "--input", str(write(tmp_path, INCIDENT)), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["breach"] is True
    assert out["reasoning"] and all(isinstance(r, str) for r in out["reasoning"])
    kinds = {(o["kind"], o["due"]) for o in out["obligations"]}
    # 2024-12-31 + 60 = 2025-03-01; CA: 15 business days skipping New Year and MLK Day.
    assert ("individual", "2025-03-01") in kinds
    assert ("hhs", "2025-03-01") in kinds
    assert ("media", "2025-03-01") in kinds
    assert ("state-health-department", "2025-01-23") in kinds
    allowed = {
        "individual",
        "hhs",
        "hhs-annual-log",
        "media",
        "state-attorney-general",
        "state-health-department",
    }
    for obligation in out["obligations"]:
        assert obligation["kind"] in allowed
        assert isinstance(obligation["recipient"], str) and obligation["recipient"]


def test_assess_text_from_yaml(tmp_path: Path) -> None:
    """Text output from a YAML file: the determination, reasons and the obligation table."""
    path = tmp_path / "incident.yaml"
    path.write_text(
        "discovery_date: 2025-03-03\naffected_by_state: {NY: 3}\nphi_types: [name]\n"
        "encrypted: true\nkey_compromised: false\nrecipient: unknown\n"
        "acquired_or_viewed: true\nmitigated: false\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["breach", "assess", "--input", str(path)])
    assert result.exit_code == 0, result.output
    assert "Not a breach: encrypted (safe harbor)" in result.output
    assert "Safe harbor" in result.output and "not legal advice" in result.output
    breach = runner.invoke(app, ["breach", "assess", "--input", str(write(tmp_path, INCIDENT))])
    assert breach.exit_code == 0
    assert "Breach of unsecured PHI" in breach.output
    assert "Obligations" in breach.output and "2025-01-23" in breach.output


def test_invalid_input_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    """A bad field: exit 2 and a message with the file and the field."""
    path = write(tmp_path, {**INCIDENT, "recipient": "neighbour"}, "bad-incident.json")
    result = runner.invoke(app, ["breach", "assess", "--input", str(path), "--format", "json"])
    assert result.exit_code == 2
    assert "bad-incident.json" in result.output and "recipient" in result.output


def test_missing_file_and_bad_format_exit_2(tmp_path: Path) -> None:
    """A missing incident file and an unknown --format are usage errors."""
    missing = runner.invoke(app, ["breach", "assess", "--input", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml" in missing.output
    path = str(write(tmp_path, INCIDENT))
    fmt = runner.invoke(app, ["breach", "assess", "--input", path, "--format", "xml"])
    assert fmt.exit_code == 2


def test_letters_to_folder(tmp_path: Path) -> None:
    """--out writes the letter, the portal fields as text and as JSON."""
    out = tmp_path / "drafts"
    path = str(write(tmp_path, {**INCIDENT, "contact_email": "privacy@example.org"}))
    result = runner.invoke(app, ["breach", "letters", "--input", path, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "hhs_portal.json",
        "hhs_portal.txt",
        "individual_notice.txt",
    ]
    assert "privacy@example.org" in (out / "individual_notice.txt").read_text(encoding="utf-8")
    portal = json.loads((out / "hhs_portal.json").read_text(encoding="utf-8"))
    assert portal["approximate_number_of_individuals_affected"] == 505
    assert portal["type_of_phi_involved"] == {"Demographic": ["Name"], "Clinical": ["Lab Results"]}


def test_letters_printed_or_none(tmp_path: Path) -> None:
    """Without --out the drafts are printed; a non-breach has nothing to draft."""
    printed = runner.invoke(app, ["breach", "letters", "--input", str(write(tmp_path, INCIDENT))])
    assert printed.exit_code == 0
    assert "What information was involved" in printed.output
    # Outside California (whose 1280.15 reports even HIPAA's exceptions) nothing is due.
    not_a_breach = {"exception": "unable-to-retain", "affected_by_state": {"OR": 4}}
    none = runner.invoke(
        app,
        [
            "breach",
            "letters",
            "--input",
            str(write(tmp_path, {**INCIDENT, **not_a_breach}, "x.json")),
        ],
    )
    assert none.exit_code == 0
    assert "no notice to draft" in none.output


def test_readme_example_incident_runs(tmp_path: Path) -> None:
    """The incident file shown in the README's Breach assessment section is valid."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Breach assessment") :]
    example = section[
        section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml"))
    ]
    path = tmp_path / "incident.yaml"
    path.write_text(example, encoding="utf-8")
    result = runner.invoke(app, ["breach", "assess", "--input", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["breach"] is True
