"""Recording tabletop-exercise runs in the store, and reading them back as evidence.

A run (``EX-0001``, ``EX-0002`` …) keeps the playbook and the scenario exactly as exercised
(their JSON and SHA-256), who facilitated and took part, when, its scores, and its
timeline (``exercise_event``). The run and its events are written in one transaction, with
a SHA-256 over all of them (``record_hash``), so a report read later can show that neither
the timeline nor the scores were changed, and that the scores follow from the timeline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from carewarden.errors import RequestError
from carewarden.prepare.exercise import Event, RunLog, Scenario, canonical, content_hash
from carewarden.prepare.exercise_scoring import ExerciseScore, score_exercise
from carewarden.prepare.playbooks import Playbook
from carewarden.store import Store
from carewarden.store.store import utcnow

RUN_COLUMNS = (
    "run_id",
    "playbook_id",
    "playbook_hash",
    "playbook",
    "scenario_id",
    "scenario_title",
    "scenario_hash",
    "scenario",
    "facilitator",
    "participants",
    "mode",
    "started_at",
    "finished_at",
    "recorded_at",
    "recorded_by",
    "score",
    "task_score",
    "decision_score",
    "phase_scores",
    "tasks_on_time",
    "tasks_late",
    "tasks_missed",
    "decisions",
    "decisions_expected",
)
JSON_COLUMNS = ("playbook", "scenario", "phase_scores")
EVENT_COLUMNS = (
    "seq",
    "kind",
    "scenario_minute",
    "wall_time",
    "inject_id",
    "decision_id",
    "task_id",
    "choice",
)


def run_id_of(number: int) -> str:
    return f"EX-{number:04d}"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def record_hash(run: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """SHA-256 over a run's columns (JSON columns parsed) and its events, canonically."""
    body = {
        "run": {k: _plain(run[k]) for k in RUN_COLUMNS},
        "events": [{k: _plain(e[k]) for k in EVENT_COLUMNS} for e in events],
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def _event_row(seq: int, event: Event) -> dict[str, Any]:
    return {
        "seq": seq,
        "kind": event.kind,
        "scenario_minute": float(event.minute),
        "wall_time": event.wall_time,
        "inject_id": event.inject_id,
        "decision_id": event.decision_id,
        "task_id": event.task_id,
        "choice": list(event.choice) if event.kind == "decision" else None,
    }


def record_run(
    store: Store,
    log: RunLog,
    score: ExerciseScore,
    *,
    recorded_by: str,
    now: dt.datetime | None = None,
) -> str:
    """Write the run, its timeline and its scores in one transaction; return its id."""
    counts = score.counts()
    with store.transaction():
        found = store.query("SELECT max(CAST(substr(run_id, 4) AS BIGINT)) FROM exercise_run")
        run_id = run_id_of(int(found[0][0] or 0) + 1)
        run: dict[str, Any] = {
            "run_id": run_id,
            "playbook_id": log.playbook.id,
            "playbook_hash": content_hash(log.playbook),
            "playbook": log.playbook.model_dump(mode="json"),
            "scenario_id": log.scenario.id,
            "scenario_title": log.scenario.title,
            "scenario_hash": content_hash(log.scenario),
            "scenario": log.scenario.model_dump(mode="json"),
            "facilitator": log.facilitator,
            "participants": list(log.participants),
            "mode": log.mode,
            "started_at": log.started_at,
            "finished_at": log.finished_at,
            "recorded_at": now or utcnow(),
            "recorded_by": recorded_by,
            "score": score.overall,
            "task_score": score.task_score,
            "decision_score": score.decision_score,
            "phase_scores": score.phases,
            "tasks_on_time": counts["on-time"],
            "tasks_late": counts["late"],
            "tasks_missed": counts["missed"],
            "decisions": counts["decisions"],
            "decisions_expected": counts["decisions-expected"],
        }
        events = [_event_row(seq, e) for seq, e in enumerate(log.events, 1)]
        digest = record_hash(run, events)
        values = [
            orjson.dumps(run[k]).decode() if k in JSON_COLUMNS else run[k] for k in RUN_COLUMNS
        ]
        store.query(
            f"INSERT INTO exercise_run ({', '.join(RUN_COLUMNS)}, record_hash) "
            f"VALUES ({', '.join('?' for _ in RUN_COLUMNS)}, ?)",
            [*values, digest],
        )
        for event in events:
            store.query(
                f"INSERT INTO exercise_event (run_id, {', '.join(EVENT_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in EVENT_COLUMNS)})",
                [run_id, *(event[k] for k in EVENT_COLUMNS)],
            )
    return run_id


@dataclass(frozen=True)
class StoredRun:
    """A run read back: its columns, its events, and what checking them found."""

    row: dict[str, Any]  # the columns of exercise_run (JSON columns parsed)
    events: list[dict[str, Any]]
    playbook: Playbook
    scenario: Scenario
    score: ExerciseScore  # recomputed from the stored playbook, scenario and timeline
    problems: list[str]  # empty when the record is intact and its scores reproduce

    @property
    def run_id(self) -> str:
        return str(self.row["run_id"])


def _parse_row(names: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(names, values, strict=True))
    for k in JSON_COLUMNS:
        if k in row and isinstance(row[k], str):
            row[k] = orjson.loads(row[k])
    if "participants" in row:
        row["participants"] = list(row["participants"] or [])
    return row


def get_run(store: Store, run_id: str) -> StoredRun:
    """The run ``run_id``, its timeline, and its scores recomputed and checked."""
    found = store.query(
        f"SELECT {', '.join(RUN_COLUMNS)}, record_hash FROM exercise_run WHERE run_id = ?",
        [run_id],
    )
    if not found:
        raise RequestError(f"no exercise run {run_id!r} in this store (see `exercise list`)")
    row = _parse_row([*RUN_COLUMNS, "record_hash"], found[0])
    events = [
        _parse_row(list(EVENT_COLUMNS), r)
        for r in store.query(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM exercise_event WHERE run_id = ? ORDER BY seq",
            [run_id],
        )
    ]
    for event in events:
        event["choice"] = list(event["choice"]) if event["choice"] is not None else None
    playbook = Playbook.model_validate(row["playbook"])
    scenario = Scenario.model_validate(row["scenario"], strict=False)
    answers = {
        e["decision_id"]: (tuple(e["choice"] or ()), e["scenario_minute"])
        for e in events
        if e["kind"] == "decision"
    }
    done = {e["task_id"]: e["scenario_minute"] for e in events if e["kind"] == "task-done"}
    score = score_exercise(playbook, scenario, answers, done)
    return StoredRun(row, events, playbook, scenario, score, _problems(row, events, score))


def _problems(row: dict[str, Any], events: list[dict[str, Any]], score: ExerciseScore) -> list[str]:
    problems = []
    if record_hash(row, events) != row["record_hash"]:
        problems.append(
            "the run or its timeline was changed after it was recorded (record hash differs)"
        )
    for name, model in (("playbook", Playbook), ("scenario", Scenario)):
        data = row[name]
        if content_hash(model.model_validate(data, strict=False)) != row[f"{name}_hash"]:
            problems.append(f"the stored {name} does not match its hash")
    stored = {
        "score": row["score"],
        "task_score": row["task_score"],
        "decision_score": row["decision_score"],
        "phase_scores": row["phase_scores"],
    }
    recomputed = {
        "score": score.overall,
        "task_score": score.task_score,
        "decision_score": score.decision_score,
        "phase_scores": score.phases,
    }
    for key, value in stored.items():
        if not _same(value, recomputed[key]):
            problems.append(f"{key}: stored {value!r} but the timeline scores {recomputed[key]!r}")
    return problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) < 1e-9
    return bool(a == b)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    playbook_id: str
    scenario_id: str
    scenario_title: str
    facilitator: str
    participants: list[str]
    mode: str
    started_at: dt.datetime
    finished_at: dt.datetime
    score: float
    task_score: float
    decision_score: float | None
    tasks_on_time: int
    tasks_late: int
    tasks_missed: int
    decisions: int
    decisions_expected: int

    @property
    def gaps(self) -> int:
        return self.tasks_late + self.tasks_missed

    def as_json(self) -> dict[str, Any]:
        data = {k: _plain(v) for k, v in self.__dict__.items()}
        for key in ("started_at", "finished_at"):
            data[key] += "Z"
        data["gaps"] = self.gaps
        return data


SUMMARY_FIELDS = list(RunSummary.__dataclass_fields__)


def list_runs(store: Store, *, playbook_id: str | None = None) -> list[RunSummary]:
    """The recorded runs, newest first."""
    where, params = ("WHERE playbook_id = ?", [playbook_id]) if playbook_id else ("", [])
    rows = store.query(
        f"SELECT {', '.join(SUMMARY_FIELDS)} FROM exercise_run {where} "
        "ORDER BY started_at DESC, run_id DESC",
        params,
    )
    return [RunSummary(**_parse_row(SUMMARY_FIELDS, r)) for r in rows]


def last_runs(store: Store) -> dict[str, RunSummary]:
    """playbook id -> its most recent run."""
    found: dict[str, RunSummary] = {}
    for run in list_runs(store):
        found.setdefault(run.playbook_id, run)
    return found
