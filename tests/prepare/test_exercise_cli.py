"""`carewarden exercise …`: a replayed run written and reported, the interactive session
with a scripted team, a run without a terminal, tampering, and the HTML report's block."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from rich.console import RenderableType
from typer.testing import CliRunner

from carewarden.cli.exercise import conduct, parse_minute
from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.prepare.exercise import (
    RunLog,
    answers_from_log,
    answers_yaml,
    load_answers,
    replay,
    scenario_for,
)
from carewarden.prepare.exercise_runs import get_run, list_runs, record_run
from carewarden.prepare.exercise_scoring import score_exercise
from carewarden.prepare.playbooks import Playbook, load_playbooks
from carewarden.report.html import render_report
from carewarden.services.overview import overview
from carewarden.store import Store
from carewarden.store.store import DB_FILE

runner = CliRunner(env={"COLUMNS": "250", "CAREWARDEN_ACTOR": "facilitator-x"})
ANSWERS = Path(__file__).parents[1] / "data" / "exercise" / "ransomware-answers.yaml"
NOW = dt.datetime(2026, 3, 1, 12, 0)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def playbooks() -> list[Playbook]:
    return load_playbooks()


@pytest.fixture(scope="module")
def ransomware(playbooks: list[Playbook]) -> Playbook:
    return next(p for p in playbooks if p.id == "ransomware")


def _expected_score(ransomware: Playbook, playbooks: list[Playbook]) -> Any:
    """The example answers file scored directly, without the CLI or the store."""
    scenario = scenario_for(ransomware, playbooks)
    answers = load_answers(ANSWERS, scenario, ransomware)
    log = replay(
        answers, scenario, ransomware, facilitator="f", participants=[], clock=lambda: NOW
    )
    return score_exercise(ransomware, scenario, log.answers(), log.tasks_done())


def test_replay_writes_the_run_and_show_reproduces_its_scores(
    tmp_path: Path, ransomware: Playbook, playbooks: list[Playbook]
) -> None:
    """`exercise run --answers` records the run and its timeline; `list` and `show` (json,
    markdown, table) give back the same scores, findings and compliance mapping."""
    store = str(tmp_path / "store")
    expected = _expected_score(ransomware, playbooks)
    # the README's worked example, by hand: tasks 5 + 2 x 0.5 of 9, decisions 6 of 8
    assert (expected.task_score, expected.decision_score) == pytest.approx((600 / 9, 75))
    assert expected.overall == pytest.approx(100 * 12 / 17)
    result = invoke(
        "exercise", "run", "ransomware", "--answers", str(ANSWERS), "--store", store,
        "--participants", "ana, ben,carla",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Recorded EX-0001: overall score {expected.overall:.0f} / 100" in result.output

    listed = invoke("exercise", "list", "--store", store, "--format", "jsonl")
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    assert row["run_id"] == "EX-0001" and row["playbook_id"] == "ransomware"
    assert row["participants"] == ["ana", "ben", "carla"]  # the option overrides the file
    assert row["facilitator"] == "Dana Whitfield (CISO office)"
    assert row["started_at"] == "2026-02-12T14:00:00Z" and row["mode"] == "replay"
    assert row["score"] == pytest.approx(expected.overall)
    assert row["gaps"] == len(expected.gaps)

    shown = invoke("exercise", "show", "EX-0001", "--store", store, "--format", "json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["scores"]["overall"] == pytest.approx(expected.overall)
    assert report["scores"]["phases"] == pytest.approx(expected.phases)
    assert report["scores"]["decision_score"] == pytest.approx(expected.decision_score)
    assert [(g["task_id"], g["owner_role"], g["status"]) for g in report["scores"]["gaps"]] == [
        (g.task_id, g.owner_role, g.status) for g in expected.gaps
    ]
    assert report["integrity"]["ok"] is True
    assert report["playbook"]["revised_since"] is False
    kinds = [e["kind"] for e in report["timeline"]]
    scenario = scenario_for(ransomware, playbooks)
    assert kinds.count("inject") == len(scenario.injects)
    assert kinds.count("decision") == 7 and kinds.count("task-done") == 7
    minutes = [e["scenario_minute"] for e in report["timeline"]]
    assert minutes == sorted(minutes)
    shown_at = next(e for e in report["timeline"] if e["inject_id"] == "confirmed")
    assert shown_at["wall_time"] == "2026-02-12T14:10:00Z"
    controls = {c["control"] for c in report["compliance"]}
    assert {"45 CFR 164.308(a)(7)(ii)(D)", "45 CFR 164.308(a)(6)(ii)", "ID.IM-02",
            "ID.IM-04", "RS.MA"} <= controls  # fmt: skip

    markdown = invoke("exercise", "show", "EX-0001", "--store", store, "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    text = markdown.output
    assert text.startswith("# After-action report: ")
    assert f"**Overall {expected.overall:.0f} / 100**" in text
    assert "| disable-accounts: " in text and "late by 1 min" in text
    assert "| isolate-hosts: " in text and "| T+01:10 | T+01:10 | on time |" in text
    assert "breach-determination" in text and "missed" in text
    assert "HHS 405(d) HICP" in text and "The record is intact" in text

    table = invoke("exercise", "show", "EX-0001", "--store", store)
    assert table.exit_code == 0, table.output
    assert "record intact, scores reproduced" in table.output
    assert "lessons-learned (ciso, post-incident): missed" in table.output


def test_scores_follow_the_timeline_stored(
    tmp_path: Path, ransomware: Playbook, playbooks: list[Playbook]
) -> None:
    """Reading a run back recomputes its scores from the stored playbook, scenario and
    events: they equal the scores recorded."""
    scenario = scenario_for(ransomware, playbooks)
    answers = load_answers(ANSWERS, scenario, ransomware)
    log = replay(answers, scenario, ransomware, facilitator="f", participants=["a"], clock=_now)
    score = score_exercise(ransomware, scenario, log.answers(), log.tasks_done())
    with Store.open(tmp_path / "store") as store:
        run_id = record_run(store, log, score, recorded_by="tester", now=NOW)
        second = record_run(store, log, score, recorded_by="tester", now=NOW)
        stored = get_run(store, run_id)
        assert (run_id, second) == ("EX-0001", "EX-0002")
        assert stored.problems == []
        assert stored.score == score
        assert len(stored.events) == len(log.events)
        assert [r.run_id for r in list_runs(store)] == ["EX-0002", "EX-0001"]


def _now() -> dt.datetime:
    return NOW


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[str]:
    store = str(tmp_path / "store")
    result = invoke("exercise", "run", "ransomware", "--answers", str(ANSWERS), "--store", store)
    assert result.exit_code == 0, result.output
    yield store


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("UPDATE exercise_run SET score = 99", "score: stored 99.0"),
        ("UPDATE exercise_event SET scenario_minute = 9999 WHERE task_id = 'scope-hosts'",
         "record hash differs"),
        ("DELETE FROM exercise_event WHERE kind = 'decision' AND decision_id = 'downtime'",
         "record hash differs"),
    ],
)  # fmt: skip
def test_show_detects_an_altered_run(recorded: str, sql: str, says: str) -> None:
    """A score or an event changed behind Carewarden's back makes `show` exit 1, naming it."""
    con = duckdb.connect(str(Path(recorded) / DB_FILE))
    con.execute(sql)
    con.close()
    result = invoke("exercise", "show", "EX-0001", "--store", recorded)
    assert result.exit_code == 1
    assert says in result.output


def test_non_terminal_run_without_answers_fails_cleanly(tmp_path: Path) -> None:
    """With stdin not a terminal and no --answers, the run stops at once (no prompt, no
    hang), tells to use --answers, exits 2 and records nothing."""
    store = tmp_path / "store"
    result = runner.invoke(app, ["exercise", "run", "ransomware", "--store", str(store)], input="")
    assert result.exit_code == 2
    assert "--answers" in result.output and "not a terminal" in result.output
    assert "Traceback" not in result.output
    assert not (store / DB_FILE).exists()


def test_usage_errors(tmp_path: Path) -> None:
    """An unknown playbook, a scenario of another playbook, an unknown run: exit 2."""
    store = str(tmp_path / "store")
    result = invoke("exercise", "run", "no-such", "--answers", str(ANSWERS), "--store", store)
    assert result.exit_code == 2 and "no playbook 'no-such'" in result.output
    other = Path(__file__).parents[2] / "src/carewarden/prepare/exercises/phi-snooping.yaml"
    result = invoke(
        "exercise", "run", "ransomware", "--scenario", str(other), "--answers", str(ANSWERS),
        "--store", store,
    )  # fmt: skip
    assert result.exit_code == 2 and "exercises playbook phi-snooping" in result.output
    invoke("exercise", "run", "ransomware", "--answers", str(ANSWERS), "--store", store)
    result = invoke("exercise", "show", "EX-0042", "--store", store)
    assert result.exit_code == 2 and "no exercise run 'EX-0042'" in result.output


def _answers(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


BAD_ANSWERS = [
    ({"injects": [{"id": "nope"}]}, "injects.0.id", "no inject 'nope'"),
    ({"injects": [{"id": "confirmed", "decisions": [{"id": "downtime", "choice": "x"}]}]},
     "injects.0.decisions.0.id", "inject confirmed has no decision 'downtime'"),
    ({"injects": [{"id": "confirmed",
                   "decisions": [{"id": "first-containment", "choice": "nuke"}]}]},
     "choice", "['nuke'] not among the options"),
    ({"injects": [{"id": "confirmed", "decisions": [
        {"id": "first-containment", "choice": ["isolate-now", "wait-morning"]}]}]},
     "choice", "takes one option"),
    ({"injects": [{"id": "confirmed",
                   "decisions": [{"id": "first-containment", "choice": "isolate-now",
                                  "at_minutes": 5}]}]},
     "at_minutes", "before the inject"),
    ({"injects": [{"id": "confirmed", "tasks_done": [{"id": "isolate-hosts"},
                                                     {"id": "isolate-hosts"}]}]},
     "tasks_done.1.id", "marked done twice"),
    ({"injects": [{"id": "confirmed", "tasks_done": [{"id": "make-coffee"}]}]},
     "tasks_done.0.id", "no task 'make-coffee'"),
    ({"injects": [{"id": "confirmed", "tasks_done": [{"id": "isolate-hosts",
                                                      "at_minutes": -1}]}]},
     "at_minutes", "greater than or equal to 0"),
    ({"injects": [{"id": "confirmed", "decisions": [{"id": "first-containment", "choice": 5}]}]},
     "decisions.0.choice (line 5)", "valid string"),
    ({"scenario": "phi-snooping"}, "scenario", "not 'ransomware'"),
    ({"injects": [], "surprise": 1}, "surprise", "Extra inputs"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "says"), BAD_ANSWERS)
def test_invalid_answers_name_file_field_and_line(
    tmp_path: Path,
    ransomware: Playbook,
    playbooks: list[Playbook],
    data: Any,
    field: str,
    says: str,
) -> None:
    """An answers file that does not fit the scenario is refused, naming the field and line;
    through the CLI it exits 2 and records nothing."""
    path = _answers(tmp_path, data)
    scenario = scenario_for(ransomware, playbooks)
    with pytest.raises(ConfigError) as caught:
        load_answers(path, scenario, ransomware)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and field in message and says in message
    assert "(line " in message
    store = tmp_path / "store"
    result = invoke("exercise", "run", "ransomware", "--answers", str(path), "--store", str(store))
    assert result.exit_code == 2 and says in result.output
    assert not (store / DB_FILE).exists()


class ScriptedTeam:
    """A prompter answering from a script; the clock moves 5 minutes per question."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.said: list[RenderableType] = []
        self.asked: list[tuple[str, str | None]] = []
        self.now = dt.datetime(2026, 3, 2, 9, 0)

    def clock(self) -> dt.datetime:
        return self.now

    def say(self, message: RenderableType) -> None:
        self.said.append(message)

    def ask(self, question: str, default: str | None = None) -> str:
        self.asked.append((question, default))
        self.now += dt.timedelta(minutes=5)
        reply = self.replies.pop(0)
        return default if reply == "" and default is not None else reply


def test_interactive_session_records_the_timeline(
    tmp_path: Path, ransomware: Playbook, playbooks: list[Playbook]
) -> None:
    """The interactive session shows each inject in order, asks each decision (re-asking a
    bad answer), and the tasks done with their scenario minute (default the inject's); a
    decision takes its inject's minute plus the real minutes the team took. Saved as an
    answers file, the session replays to the same timeline."""
    scenario = scenario_for(ransomware, playbooks)
    replies = [
        "", # night-call: no task done
        "9", "1", "",  # confirmed: a bad option number, then isolate-now; no task
        "1",  # spreading: attacker-account (5 real min -> in time)
        "keep-ehr",  # downtime, wrong
        "isolate-hosts, 1", "70", "",  # two tasks: isolate-hosts at 70, scope-hosts at 45
        "fbi, insurer", "",  # morning-calls: multiple choice; no task
        "rebuild", "",  # forensics
        "clinical-first", "",  # restore
        "presume-breach", "",  # exfiltration
        "review-and-update", "lessons-learned", "T+30d 00:00",  # after-action
    ]  # fmt: skip
    team = ScriptedTeam(replies)
    events = conduct(scenario, ransomware, team, team.clock)
    assert not team.replies
    assert [e.inject_id for e in events if e.kind == "inject"] == [i.id for i in scenario.injects]
    log = RunLog(scenario, ransomware, "f", (), "interactive", NOW, NOW, tuple(events))
    answers = log.answers()
    # shown at 09:00, bad answer at 09:05, good answer at 09:10: 10 real minutes after T+00:10
    assert answers["first-containment"] == (("isolate-now",), 20.0)
    assert answers["downtime"] == (("keep-ehr",), 45 + 10.0)
    assert answers["who-to-notify"] == (("fbi", "insurer"), 300 + 5.0)
    assert log.tasks_done() == {"isolate-hosts": 70.0, "scope-hosts": 45.0,
                                "lessons-learned": 43200.0}  # fmt: skip
    assert any("not among the options" in str(m) for m in team.said)
    assert ("Scenario minute scope-hosts was completed", "45") in team.asked
    score = score_exercise(ransomware, scenario, answers, log.tasks_done())
    assert next(t for t in score.tasks if t.task_id == "lessons-learned").status == "on-time"
    assert next(d for d in score.decisions if d.decision_id == "downtime").credit == 0.0

    # kept as an answers file (--save-answers), it replays to the same timeline
    path = tmp_path / "saved.yaml"
    path.write_text(answers_yaml(answers_from_log(log)), encoding="utf-8")
    again = replay(
        load_answers(path, scenario, ransomware),
        scenario,
        ransomware,
        facilitator="f",
        participants=[],
        clock=lambda: dt.datetime(2030, 1, 1),  # not used: every time is in the file
    )
    assert again.events == log.events
    assert (again.started_at, again.finished_at) == (NOW, NOW)


@pytest.mark.parametrize(
    ("text", "minute"),
    [("90", 90.0), ("12.5", 12.5), ("T+01:30", 90.0), ("T+1d 02:00", 1560.0), ("+00:05", 5.0),
     ("-3", None), ("soon", None)],
)  # fmt: skip
def test_parse_minute(text: str, minute: float | None) -> None:
    assert parse_minute(text) == minute


def test_report_shows_the_exercise_block(
    tmp_path: Path, ransomware: Playbook, playbooks: list[Playbook]
) -> None:
    """The report's preparedness section lists each playbook's last exercise with its date
    and score, and flags those not exercised in the last 12 months."""
    scenario = scenario_for(ransomware, playbooks)
    answers = load_answers(ANSWERS, scenario, ransomware)
    log = replay(answers, scenario, ransomware, facilitator="f", participants=["a"], clock=_now)
    score = score_exercise(ransomware, scenario, log.answers(), log.tasks_done())
    with Store.open(tmp_path / "store") as store:
        empty = render_report(overview(store, now=NOW))
        assert "Tabletop exercises" in empty
        assert "6 of 6 playbook(s) not exercised in the last 12 months" in empty
        assert empty.count("<strong>never exercised</strong>") == 6
        record_run(store, log, score, recorded_by="tester", now=NOW)
        html = render_report(overview(store, now=NOW))
        block = html[html.index("Tabletop exercises") :]
        assert "EX-0001" in block and "2026-02-12" in block and f">{score.overall:.0f}<" in block
        assert "5 of 6 playbook(s) not exercised in the last 12 months" in block
        later = render_report(overview(store, now=NOW + dt.timedelta(days=400)))
        assert "6 of 6 playbook(s) not exercised" in later
        assert later.count("<strong>never exercised</strong>") == 5
        assert "<strong>not exercised in the last 12 months</strong>" in later
        figures = overview(store, now=NOW)
        assert figures.exercises is not None
        ransom = next(p for p in figures.exercises.playbooks if p.playbook_id == "ransomware")
        assert ransom.last is not None and not ransom.stale


def test_saved_answers_replay_to_the_same_scores(tmp_path: Path) -> None:
    """`--save-answers` writes the run as an answers file; replaying it into another store
    gives the same scores and timeline."""
    saved = tmp_path / "saved.yaml"
    first, second = str(tmp_path / "one"), str(tmp_path / "two")
    result = invoke(
        "exercise", "run", "ransomware", "--answers", str(ANSWERS), "--store", first,
        "--save-answers", str(saved),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"answers written to {saved}" in result.output
    result = invoke("exercise", "run", "ransomware", "--answers", str(saved), "--store", second)
    assert result.exit_code == 0, result.output
    reports = [
        json.loads(invoke("exercise", "show", "EX-0001", "--store", s, "--format", "json").output)
        for s in (first, second)
    ]
    assert reports[0]["scores"] == reports[1]["scores"]
    assert reports[0]["timeline"] == reports[1]["timeline"]
    assert reports[0]["started_at"] == reports[1]["started_at"] == "2026-02-12T14:00:00Z"
