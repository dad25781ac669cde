"""Exercise scenarios: the shipped six, and every check a scenario file gets at load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.prepare.exercise import (
    SCENARIO_DIR,
    clock_text,
    duration_text,
    load_scenario,
    scenario_for,
    shipped_scenarios,
)
from carewarden.prepare.playbooks import Playbook, load_playbooks

runner = CliRunner(env={"COLUMNS": "200"})

VALID = """\
id: drill
playbook: ransomware
title: A short drill
narrative: Something is encrypting files.
discovery_at_minutes: 10
injects:
  - id: start
    at_minutes: 0
    title: The call
    message: A nurse calls.
  - id: confirmed
    at_minutes: 10
    title: Confirmed
    message: It is ransomware.
    decisions:
      - id: contain
        question: What first?
        options:
          - {id: isolate, text: Isolate the hosts}
          - {id: wait, text: Wait}
        expected: [isolate]
        within_minutes: 30
        tasks: [isolate-hosts]
"""


@pytest.fixture(scope="module")
def playbooks() -> list[Playbook]:
    return load_playbooks()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_one_shipped_scenario_per_shipped_playbook(playbooks: list[Playbook]) -> None:
    """Every shipped playbook has a scenario named after it that loads and exercises it,
    with decisions tied to its tasks, and a discovery time within the scenario."""
    scenarios = shipped_scenarios(playbooks)
    assert sorted(s.playbook for s in scenarios) == sorted(p.id for p in playbooks)
    for playbook in playbooks:
        scenario = scenario_for(playbook, playbooks)
        assert scenario.playbook == playbook.id
        assert (SCENARIO_DIR / f"{playbook.id}.yaml").exists()
        times = [i.at_minutes for i in scenario.injects]
        assert times == sorted(times)
        assert scenario.decisions(), playbook.id
        named = {t for _, d in scenario.decisions() for t in d.tasks}
        assert named <= {t.id for _, t in playbook.tasks()}
        # every deadline can be met within the scenario: tasks are asked about up to the end
        assert named, playbook.id


def test_a_valid_scenario_loads(tmp_path: Path, playbooks: list[Playbook]) -> None:
    """The documented minimum loads, with its decision's deadline and task."""
    scenario = load_scenario(_write(tmp_path, VALID), playbooks)
    inject, decision = scenario.decision("contain")
    assert (inject.id, decision.within_minutes, decision.tasks) == (
        "confirmed",
        30,
        ["isolate-hosts"],
    )


BAD = [
    # (what to replace, by what, the field named, the line, what the message says)
    ("tasks: [isolate-hosts]", "tasks: [isolate-hostz]", "tasks.0", 23, "no task 'isolate-hostz'"),
    ("playbook: ransomware", "playbook: ransomwar", "playbook", 2, "no playbook 'ransomwar'"),
    ("at_minutes: 10\n    title: Confirmed", "at_minutes: -5\n    title: Confirmed",
     "at_minutes", 12, "greater than or equal to 0"),
    ("at_minutes: 0\n", "at_minutes: 20\n", "injects.1.at_minutes", 12,
     "before the previous inject's 20"),
    ("discovery_at_minutes: 10", "discovery_at_minutes: 600", "discovery_at_minutes", 5,
     "after the last inject"),
    ("at_minutes: 0\n", "at_minutes: 1.5\n", "injects.0.at_minutes", 8, "valid integer"),
    ("within_minutes: 30", "within_minutes: 0", "within_minutes", 22, "greater than 0"),
    ("expected: [isolate]", "expected: [isolate, nuke]", "expected", 21, "['nuke'] not among"),
    ("id: confirmed", "id: start", "injects.1.id", 11, "used twice"),
    ("{id: wait, text: Wait}", "{id: isolate, text: Wait}", "options", 19, "used twice"),
    ("narrative: Something is encrypting files.\n", "", "narrative", None, "Field required"),
    ("title: A short drill", "title: A short drill\nseverity: high", "severity", 4,
     "Extra inputs are not permitted"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "field", "line", "says"), BAD)
def test_invalid_scenarios_name_file_field_and_line(
    tmp_path: Path,
    playbooks: list[Playbook],
    old: str,
    new: str,
    field: str,
    line: int | None,
    says: str,
) -> None:
    """Each mistake is a ConfigError naming the file, the field, its line and the reason."""
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, playbooks)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert field in message and says in message
    if line is not None:
        assert f"(line {line})" in message


def test_not_yaml_and_missing_file(tmp_path: Path, playbooks: list[Playbook]) -> None:
    """A file that is not YAML, or not there, is named in the error."""
    path = _write(tmp_path, "id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_scenario(path, playbooks)
    with pytest.raises(ConfigError, match="scenario file not found"):
        load_scenario(tmp_path / "absent.yaml", playbooks)


def test_every_problem_is_reported_at_once(tmp_path: Path, playbooks: list[Playbook]) -> None:
    """Two semantic problems in one file give one error listing both."""
    text = VALID.replace("tasks: [isolate-hosts]", "tasks: [nope]").replace(
        "discovery_at_minutes: 10", "discovery_at_minutes: 900"
    )
    with pytest.raises(ConfigError) as caught:
        load_scenario(_write(tmp_path, text), playbooks)
    assert "no task 'nope'" in str(caught.value)
    assert "after the last inject" in str(caught.value)


def test_validate_command(tmp_path: Path) -> None:
    """`exercise validate` accepts a valid file (exit 0) and rejects a bad one (exit 2)."""
    good = _write(tmp_path, VALID)
    result = runner.invoke(app, ["exercise", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid scenario drill of playbook ransomware (2 injects, 1 decisions)" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("[isolate-hosts]", "[isolate-hostz]"), encoding="utf-8")
    result = runner.invoke(app, ["exercise", "validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "isolate-hostz" in result.output
    assert "Traceback" not in result.output


def test_scenarios_command_lists_the_six() -> None:
    """`exercise scenarios` lists each shipped scenario with its playbook."""
    result = runner.invoke(app, ["exercise", "scenarios"])
    assert result.exit_code == 0, result.output
    for path in SCENARIO_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["id"] in result.output and data["title"] in result.output


@pytest.mark.parametrize(
    ("minute", "text"),
    [(0, "T+00:00"), (70, "T+01:10"), (1440, "T+1d 00:00"), (43210.7, "T+30d 00:10")],
)
def test_clock_text(minute: float, text: str) -> None:
    assert clock_text(minute) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(1, "1 min"), (0.2, "1 min"), (170, "2 h 50 min"), (120, "2 h"), (1500, "1 d 1 h")],
)
def test_duration_text(minutes: float, text: str) -> None:
    assert duration_text(minutes) == text


def test_readme_examples_load(tmp_path: Path, playbooks: list[Playbook]) -> None:
    """The scenario and answers examples in the README's Tabletop exercises section are
    valid as written (the answers against the shipped ransomware scenario)."""
    from carewarden.prepare.exercise import load_answers

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Tabletop exercises")
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks = [part.split("```", 1)[0] for part in section.split("```yaml\n")[1:]]
    answers_text, scenario_text = blocks
    scenario = load_scenario(_write(tmp_path, scenario_text), playbooks)
    assert scenario.decision("first-containment")[1].tasks == ["isolate-hosts"]
    ransomware = next(p for p in playbooks if p.id == "ransomware")
    answers_path = tmp_path / "answers.yaml"
    answers_path.write_text(answers_text, encoding="utf-8")
    answers = load_answers(answers_path, scenario_for(ransomware, playbooks), ransomware)
    assert answers.injects[0].tasks_done[0].at_minutes == 70
