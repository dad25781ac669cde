"""Playbooks: the shipped six, the schema's checks, the choice of playbook, the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.prepare.case_settings import load_case_settings
from carewarden.prepare.playbooks import (
    PHASES,
    PLAYBOOK_DIR,
    choose_playbook,
    load_playbook,
    load_playbooks,
)

runner = CliRunner(env={"COLUMNS": "200"})

SHIPPED = {
    "ransomware",
    "phi-snooping",
    "lost-stolen-device",
    "compromised-iomt-device",
    "phishing-credential-theft",
    "business-associate-breach",
}

VALID = """\
id: {id}
title: Test playbook
matches: {{rules: ["test.*"]}}
phases:
  - name: identify
    tasks:
      - id: look
        title: Look at it
        owner_role: security-analyst
        due_hours_after_discovery: 4
        evidence: [notes]
  - name: contain
    tasks:
      - id: stop
        title: Stop it
        owner_role: it-operations
        due_hours_after_discovery: 8
"""


def write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_playbooks_cover_issue_8() -> None:
    """The six playbooks ship, each with the five phases in order, and every task with a
    deadline, an owner role and the evidence it needs."""
    playbooks = load_playbooks()
    assert {p.id for p in playbooks} == SHIPPED
    for playbook in playbooks:
        assert tuple(p.name for p in playbook.phases) == PHASES, playbook.id
        tasks = [t for _, t in playbook.tasks()]
        assert all(t.owner_role and t.due_hours_after_discovery > 0 for t in tasks)
        assert sum(bool(t.evidence) for t in tasks) == len(tasks), playbook.id


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (("name: contain", "name: contian"), ["phases.1.name", "identify"]),
        (("name: identify", "name: recover"), ["phases: out of order"]),
        (("id: stop", "id: look"), ["task id(s) used twice", "look"]),
        (
            ("due_hours_after_discovery: 8", "due_hours_after_discovery: 0"),
            ["phases.1.tasks.0.due_hours_after_discovery", "greater than 0"],
        ),
        (("owner_role: it-operations", "owner_role: IT Ops"), ["phases.1.tasks.0.owner_role"]),
        (
            ("        evidence: [notes]", "        evidence: [notes]\n        owner: me"),
            ["phases.0.tasks.0.owner", "Extra inputs"],
        ),
        (("title: Test playbook", "titel: Test playbook"), ["title: Field required", "titel"]),
        (("phases:", "phases: 3\nx:"), ["phases", "x"]),
    ],
)
def test_invalid_playbook_names_file_and_field(
    tmp_path: Path, change: tuple[str, str], fragments: list[str]
) -> None:
    """Each mistake is a ConfigError that names the file and the field at fault."""
    text = VALID.format(id="mine").replace(*change, 1)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_playbook(path)
    message = str(error.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message


def test_playbook_id_must_match_file_and_yaml_must_parse(tmp_path: Path) -> None:
    """The id is the file's name (so `playbooks show ID` finds it); broken YAML is named."""
    with pytest.raises(ConfigError, match=r"other\.yaml: id: 'mine' differs"):
        load_playbook(write(tmp_path, VALID.format(id="mine"), "other"))
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_playbook(write(tmp_path, "id: [unclosed", "broken"))
    assert load_playbook(write(tmp_path, VALID.format(id="mine"))).tasks()[1][0] == "contain"


def test_choice_by_priority_rule_mapping_and_entity() -> None:
    """The matching playbook of highest priority wins; entity limits apply."""
    playbooks = load_playbooks()

    def chosen(rule: str, mapping: list[str], kind: str) -> str | None:
        found = choose_playbook(playbooks, rule, mapping, kind)
        return found.id if found else None

    assert chosen("privacy.vip", [], "user") == "phi-snooping"
    assert chosen("privacy.vip", [], "host") is None  # PHI snooping is about users
    assert chosen("sigma.email_link", ["T1566.002"], "user") == "phishing-credential-theft"
    # Both ransomware (T1486) and phishing (T1078) match: ransomware's priority is higher.
    assert chosen("sigma.vss_delete", ["T1078", "T1486"], "host") == "ransomware"
    assert chosen("iomt.telnet_open", [], "device") == "compromised-iomt-device"
    assert chosen("iomt.telnet_open", [], "user") is None
    assert chosen("nothing.matches", ["T9999"], "user") is None


def test_settings_add_playbooks_and_refuse_bad_values(tmp_path: Path) -> None:
    """cases.yaml adds the site's playbooks (a repeated id is refused, naming both files),
    and a bad window or entity kind names the file and the field."""
    (tmp_path / "books").mkdir()
    write(tmp_path / "books", VALID.format(id="site-specific"), "site-specific")
    config = write(tmp_path, "playbooks: [books]\n", "cases")
    assert "site-specific" in {p.id for p in load_case_settings(config).playbooks}
    write(tmp_path / "books", VALID.format(id="ransomware"), "ransomware")
    with pytest.raises(ConfigError, match="already defined in"):
        load_case_settings(config)
    bad = write(tmp_path, "correlation_window: 1 week\n", "bad")
    with pytest.raises(ConfigError, match=r"bad\.yaml: correlation_window: expected"):
        load_case_settings(bad)
    kinds = write(tmp_path, "entity_precedence: [user, building]\n", "kinds")
    with pytest.raises(ConfigError, match=r"kinds\.yaml: entity_precedence\.1"):
        load_case_settings(kinds)
    with pytest.raises(ConfigError, match="--window"):
        load_case_settings(window="0d")


def test_playbooks_cli(tmp_path: Path) -> None:
    """`playbooks list|show|validate`: exit 0 when valid, 2 naming file and field when not,
    2 for an unknown id."""
    listed = runner.invoke(app, ["playbooks", "list"])
    assert listed.exit_code == 0 and all(i in listed.output for i in SHIPPED)
    shown = runner.invoke(app, ["playbooks", "show", "ransomware"])
    assert shown.exit_code == 0 and "isolate-hosts" in shown.output and "1 h" in shown.output
    assert runner.invoke(app, ["playbooks", "show", "nope"]).exit_code == 2
    good = write(tmp_path, VALID.format(id="mine"))
    ok = runner.invoke(
        app, ["playbooks", "validate", str(good), str(PLAYBOOK_DIR / "ransomware.yaml")]
    )
    assert ok.exit_code == 0 and "valid playbook mine (2 phases, 2 tasks)" in ok.output
    bad = write(
        tmp_path,
        VALID.format(id="bad").replace("hours_after_discovery: 4", "hours_after_discovery: -4"),
        "bad",
    )
    failed = runner.invoke(app, ["playbooks", "validate", str(bad)])
    assert failed.exit_code == 2
    assert "bad.yaml" in failed.output and "due_hours_after_discovery" in failed.output


def test_readme_examples_load(tmp_path: Path) -> None:
    """The settings and playbook examples in the README's Cases and playbooks section are
    valid as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Cases and playbooks") : readme.index("## Breach assessment")]
    blocks = [part.split("```", 1)[0] for part in section.split("```yaml\n")[1:]]
    settings_text, playbook_text = blocks
    (tmp_path / "our-playbooks").mkdir()
    playbook = write(tmp_path / "our-playbooks", playbook_text, "my-playbook")
    loaded = load_playbook(playbook)
    assert loaded.tasks()[0][1].due_hours_after_discovery == 24
    config = write(tmp_path, settings_text, "cases")
    settings = load_case_settings(config)
    assert "my-playbook" in {p.id for p in settings.playbooks}
    assert settings.entity_precedence == ("user", "host", "device", "patient")
