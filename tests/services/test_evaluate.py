"""`carewarden evaluate`: matching alerts to planted labels, the figures, the command."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from carewarden.cli.evaluate import evaluate_command
from carewarden.cli.main import app as main_app
from carewarden.errors import ConfigError
from carewarden.services.evaluate import Label, evaluate, load_labels
from carewarden.store import Store
from carewarden.synth import KINDS

runner = CliRunner(env={"COLUMNS": "200"})

T0 = dt.datetime(2026, 3, 3, 12, 0, 0)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("evaluate")(evaluate_command)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps `evaluate` a named subcommand
        """Unused."""

    return app


def label(
    kind: str = "family",
    user: str = "u1",
    patients: tuple[str, ...] = ("p1",),
    events: tuple[str, ...] = ("e1",),
    start: dt.datetime = T0,
    end: dt.datetime | None = None,
) -> Label:
    return Label(kind, user, patients, events, start, end or start)


def add_alert(
    store: Store,
    alert_id: str,
    *,
    user: str | None = "u1",
    patient: str | None = "p1",
    first: dt.datetime = T0,
    last: dt.datetime | None = None,
    events: tuple[str, ...] = (),
    score: int = 50,
    rule: str = "privacy.test",
) -> None:
    store.query(
        "INSERT INTO alert (alert_id, rule_id, title, severity, score, user_id, patient_id, "
        "first_seen, last_seen, event_ids, explanation, created_at) "
        "VALUES (?, ?, 'test', 'medium', ?, ?, ?, ?, ?, ?, 'because', ?)",
        [alert_id, rule, score, user, patient, first, last or first, list(events), T0],
    )


def add_accesses(store: Store, count: int) -> None:
    store.query(
        "INSERT INTO ehr_access (event_id, time, user_id, patient_id, file_id) "
        "SELECT 'a' || i, ?, 'u' || (i % 7), 'p' || (i % 11), 'test:f' FROM range(?) t(i)",
        [T0, count],
    )


def write_labels(path: Path, labels: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in labels), "utf-8")
    return path


LABEL_JSON: dict[str, Any] = {
    "kind": "self",
    "user": "u1",
    "patients": ["p1"],
    "event_ids": ["e1"],
    "start": "2026-03-03T12:00:00Z",
    "end": "2026-03-03T12:30:00Z",
    "repeat": False,
}


@contextmanager
def store_at(path: Path) -> Iterator[Store]:
    """A writable store that is closed afterwards, so the command can open it read-only."""
    with Store.open(path) as opened:
        yield opened


# -- matching ----------------------------------------------------------------------------


def test_shared_event_id_matches_whatever_the_patient_and_time(store: Store) -> None:
    """An alert of the label's user sharing an event id matches, even with another patient
    and a time far outside the label's span; it is a true positive and detects the label."""
    add_alert(store, "a1", patient="p9", first=T0 + 30 * DAY, events=("e0", "e2"))
    result = evaluate(store, [label(events=("e1", "e2"))], budget=10)
    assert (result.detected, result.recall) == (1, 1.0)
    assert (result.true_positives, result.precision) == (1, 1.0)


def test_patient_and_widened_time_match(store: Store) -> None:
    """Without a shared event, an alert matches on a label patient when its span overlaps the
    label's span widened by one day; a day and a second away, or another patient, does not."""
    planted = [label(patients=("p1", "p2"), events=("x",), start=T0, end=T0 + HOUR)]
    add_alert(store, "inside", patient="p2", first=T0 + HOUR + DAY, last=T0 + 3 * DAY)
    add_alert(store, "before", patient="p1", first=T0 - 3 * DAY, last=T0 - DAY)
    add_alert(store, "too-late", patient="p1", first=T0 + HOUR + DAY + dt.timedelta(seconds=1))
    add_alert(store, "other-patient", patient="p3", first=T0)
    result = evaluate(store, planted, budget=10)
    assert result.detected == 1
    assert result.true_positives == 2  # "inside" (touches the widened end) and "before"
    assert result.precision == pytest.approx(2 / 4)


def test_user_level_alert_matches_on_time_only(store: Store) -> None:
    """A user-level alert (no patient) matches a label of its user when its span overlaps the
    label's widened span, and not when it lies outside it."""
    planted = [label(kind="bulk", start=T0, end=T0 + HOUR)]
    add_alert(store, "near", patient=None, first=T0 - 2 * DAY, last=T0 - DAY + HOUR)
    add_alert(store, "far", patient=None, first=T0 + 3 * DAY)
    result = evaluate(store, planted, budget=10)
    assert result.detected == 1
    assert result.true_positives == 1
    assert result.by_rule[0].precision == pytest.approx(0.5)


def test_alert_for_another_user_is_a_false_positive(store: Store) -> None:
    """Same patient, same events, same time but another user (or no user): no match, the
    label stays undetected and both alerts count against precision."""
    add_alert(store, "a1", user="u2", events=("e1",))
    add_alert(store, "a2", user=None, events=("e1",))
    result = evaluate(store, [label()], budget=10)
    assert (result.detected, result.recall) == (0, 0.0)
    assert (result.alerts, result.true_positives, result.precision) == (2, 0, 0.0)


# -- figures -----------------------------------------------------------------------------


def test_recall_per_kind_and_overall(store: Store) -> None:
    """Recall is detected/planted per kind and overall; every generator kind is listed, with
    no recall when none was planted."""
    planted = [
        label("family", "u1", events=("f1",)),
        label("family", "u2", events=("f2",)),
        label("family", "u3", events=("f3",)),
        label("vip", "u4", events=("v1",)),
        label("self", "u5", events=("s1",)),
    ]
    add_alert(store, "a1", user="u1", events=("f1",))
    add_alert(store, "a2", user="u2", events=("f2",))
    add_alert(store, "a3", user="u5", events=("s1",))
    result = evaluate(store, planted, budget=10)
    kinds = {k.kind: (k.planted, k.detected, k.recall) for k in result.by_kind}
    assert [k.kind for k in result.by_kind] == list(KINDS)
    assert kinds["family"][:2] == (3, 2) and kinds["family"][2] == pytest.approx(2 / 3)
    assert kinds["vip"] == (1, 0, 0.0)
    assert kinds["self"] == (1, 1, 1.0)
    assert kinds["bulk"] == (0, 0, None)
    assert (result.labels, result.detected) == (5, 3)
    assert result.recall == pytest.approx(3 / 5)


def test_one_alert_can_detect_several_labels_and_counts_once(store: Store) -> None:
    """An alert matching two labels detects both but is one true-positive alert."""
    planted = [label("family", events=("e1",)), label("coworker", events=("e2",))]
    add_alert(store, "a1", events=("e1", "e2"))
    result = evaluate(store, planted, budget=10)
    assert (result.detected, result.true_positives, result.alerts) == (2, 1, 1)


def test_precision_at_budget_ranks_by_score_then_first_seen_then_id(store: Store) -> None:
    """The budget takes the highest scores first; equal scores go earliest first_seen first,
    then lowest alert_id; fewer alerts than the budget divide by the alerts there are."""
    planted = [label(events=("hit",), start=T0 + 100 * DAY)]
    add_alert(store, "top", score=90, events=("miss",))
    add_alert(store, "b-tie", score=70, first=T0, events=("hit",))
    add_alert(store, "a-tie", score=70, first=T0, events=("miss",))
    add_alert(store, "early", score=70, first=T0 - HOUR, events=("miss",))
    add_alert(store, "low", score=10, events=("hit",))
    ranks = {budget: evaluate(store, planted, budget) for budget in (1, 3, 4, 5, 50)}
    assert [(r.budget_alerts, r.budget_true_positives) for r in ranks.values()] == [
        (1, 0),  # top
        (3, 0),  # top, early, a-tie
        (4, 1),  # ... b-tie
        (5, 2),  # ... low
        (5, 2),  # budget above the number of alerts
    ]
    assert ranks[4].precision_at_budget == pytest.approx(1 / 4)
    assert ranks[50].precision_at_budget == ranks[50].precision == pytest.approx(2 / 5)


def test_alerts_per_thousand_accesses(store: Store) -> None:
    """Alerts per 1,000 accesses is alerts / ehr_access rows * 1000; None without accesses."""
    for i in range(3):
        add_alert(store, f"a{i}")
    assert evaluate(store, [], budget=5).alerts_per_1000_accesses is None
    add_accesses(store, 1500)
    result = evaluate(store, [], budget=5)
    assert result.accesses == 1500
    assert result.alerts_per_1000_accesses == pytest.approx(2.0)
    assert result.recall is None and result.precision == 0.0


def test_per_rule_alerts_and_precision(store: Store) -> None:
    """Each rule reports its alerts and their precision, most alerts first."""
    add_alert(store, "a1", rule="r.one", events=("e1",))
    add_alert(store, "a2", rule="r.one", user="u9")
    add_alert(store, "a3", rule="r.one", user="u9")
    add_alert(store, "a4", rule="r.two", events=("e1",))
    result = evaluate(store, [label()], budget=10)
    assert [(r.rule_id, r.alerts, r.true_positives) for r in result.by_rule] == [
        ("r.one", 3, 1),
        ("r.two", 1, 1),
    ]
    assert [r.precision for r in result.by_rule] == [pytest.approx(1 / 3), 1.0]


def test_empty_store_has_no_ratios(store: Store) -> None:
    """No alerts and no labels: counts are zero and every ratio is None, not a crash."""
    result = evaluate(store, [], budget=20)
    assert (result.alerts, result.labels, result.budget_alerts) == (0, 0, 0)
    assert result.recall is result.precision is result.precision_at_budget is None


# -- labels ------------------------------------------------------------------------------


def test_load_labels_reads_times_as_naive_utc_and_skips_blank_lines(tmp_path: Path) -> None:
    """Labels load with UTC times made naive (offsets converted), tuples, and blank lines
    skipped."""
    path = tmp_path / "labels.jsonl"
    other = {**LABEL_JSON, "start": "2026-03-03T06:00:00-06:00", "end": "2026-03-03T13:00:00Z"}
    path.write_text(json.dumps(LABEL_JSON) + "\n\n" + json.dumps(other) + "\n", "utf-8")
    labels = load_labels(path)
    assert labels[0] == Label("self", "u1", ("p1",), ("e1",), T0, T0 + HOUR / 2, False)
    assert labels[1].start == T0 and labels[1].end == T0 + HOUR


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "malformed JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({**LABEL_JSON, "user": None}), "'user'"),
        (json.dumps({**LABEL_JSON, "event_ids": "e1"}), "'event_ids'"),
        (json.dumps({**LABEL_JSON, "start": "yesterday"}), "'start'"),
        (json.dumps({k: v for k, v in LABEL_JSON.items() if k != "end"}), "'end'"),
        (json.dumps({**LABEL_JSON, "end": "2026-03-01T00:00:00Z"}), "before"),
    ],
)
def test_bad_labels_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    """A bad line is a ConfigError naming file:line and what is wrong with it."""
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(LABEL_JSON) + "\n\n" + line + "\n", "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_labels(path)
    assert str(raised.value).startswith(f"{path}:3: ")
    assert reason in str(raised.value)


# -- the command -------------------------------------------------------------------------


def test_command_prints_table_and_json(tmp_path: Path) -> None:
    """The command prints per-kind and per-rule tables and the summary lines; --format json
    prints one object with the same figures; exit code 0 even with misses."""
    with store_at(tmp_path / "s") as opened:
        add_alert(opened, "a1", events=("e1",), rule="privacy.self_access")
        add_alert(opened, "a2", user="u2", rule="privacy.self_access")
        add_accesses(opened, 500)
    labels = write_labels(
        tmp_path / "labels.jsonl", [LABEL_JSON, {**LABEL_JSON, "kind": "vip", "user": "u3"}]
    )
    args = ["evaluate", "--labels", str(labels), "--store", str(tmp_path / "s")]
    table = runner.invoke(make_app(), args)
    assert table.exit_code == 0, table.output
    assert "recall by violation kind" in table.output and "precision by rule" in table.output
    assert "Recall: 50.0% (1 of 2 planted violations detected)" in table.output
    assert "Precision: 50.0% (1 of 2 alerts match a label)" in table.output
    assert (
        "Precision at budget 1: 100.0% (1 of the top 1 alerts)"
        in runner.invoke(make_app(), [*args, "--budget", "1"]).output
    )
    assert "Alerts per 1,000 accesses: 4.00" in table.output
    as_json = runner.invoke(make_app(), [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.output)
    assert figures["recall"] == 0.5 and figures["precision"] == 0.5
    assert figures["budget"] == 20 and figures["alerts_per_1000_accesses"] == 4.0
    assert {"kind": "vip", "planted": 1, "detected": 0, "recall": 0.0} in figures["by_kind"]
    assert figures["by_rule"] == [
        {"rule_id": "privacy.self_access", "alerts": 2, "true_positives": 1, "precision": 0.5}
    ]


def test_command_exit_codes(tmp_path: Path) -> None:
    """Missing labels file, bad labels line or bad --format: exit 2 with the file (and line);
    a missing store: exit 1."""
    with store_at(tmp_path / "s"):
        pass
    store = ["--store", str(tmp_path / "s")]
    good = write_labels(tmp_path / "labels.jsonl", [LABEL_JSON])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(LABEL_JSON) + "\n{oops\n", "utf-8")
    missing = runner.invoke(make_app(), ["evaluate", "--labels", str(tmp_path / "no.jsonl")])
    assert missing.exit_code == 2 and "no.jsonl" in missing.output
    malformed = runner.invoke(make_app(), ["evaluate", "--labels", str(bad), *store])
    assert malformed.exit_code == 2 and "bad.jsonl:2:" in malformed.output
    wrong_format = runner.invoke(
        make_app(), ["evaluate", "--labels", str(good), *store, "--format", "xml"]
    )
    assert wrong_format.exit_code == 2
    no_store = runner.invoke(
        make_app(), ["evaluate", "--labels", str(good), "--store", str(tmp_path / "none")]
    )
    assert no_store.exit_code == 1 and "no store" in no_store.output
    ok = runner.invoke(make_app(), ["evaluate", "--labels", str(good), *store])
    assert ok.exit_code == 0, ok.output


# -- end to end --------------------------------------------------------------------------


def _brute_force_match(alert: dict[str, Any], lab: dict[str, Any]) -> bool:
    """The matching rule, written out again independently of the service."""

    def utc(text: str) -> dt.datetime:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")

    if alert["user_id"] != lab["user"]:
        return False
    if set(alert["event_ids"]) & set(lab["event_ids"]):
        return True
    lo, hi = utc(lab["start"]) - DAY, utc(lab["end"]) + DAY
    overlaps = not (alert["last_seen"] < lo or alert["first_seen"] > hi)
    return overlaps and (alert["patient_id"] is None or alert["patient_id"] in lab["patients"])


def test_end_to_end_on_a_generated_hospital(tmp_path: Path) -> None:
    """synth -> ingest -> detect -> evaluate on a small hospital: the figures are ratios in
    [0, 1] and equal a brute-force recount of matches from the files and the store."""
    hospital, store = str(tmp_path / "h"), str(tmp_path / "s")
    rate = ["--violation-rate", "4"]  # a few more planted violations to find
    steps = [
        ["synth", "--out", hospital, "--beds", "30", "--days", "2", "--seed", "3", *rate],
        ["ingest", "fhir", hospital, "--tz", "America/Chicago", "--store", store, "--quiet"],
        ["detect", "--store", store, "--tz", "America/Chicago", "--quiet"],
    ]
    for step in steps:
        done = runner.invoke(main_app, step)
        assert done.exit_code == 0, done.output
    labels_path = tmp_path / "h" / "labels.jsonl"
    result = runner.invoke(
        make_app(),
        ["evaluate", "--labels", str(labels_path), "--store", store, "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)

    labels = [json.loads(x) for x in labels_path.read_text("utf-8").splitlines() if x.strip()]
    with Store.open(Path(store), read_only=True) as opened:
        alerts = opened.arrow(
            "SELECT alert_id, rule_id, score, user_id, patient_id, first_seen, last_seen, "
            "event_ids FROM alert"
        ).to_pylist()
        accesses = opened.query("SELECT count(*) FROM ehr_access")[0][0]
    assert labels and alerts, "the generated hospital has planted and alerted violations"
    positive = [any(_brute_force_match(a, lab) for lab in labels) for a in alerts]
    detected = [any(_brute_force_match(a, lab) for a in alerts) for lab in labels]

    assert figures["labels"] == len(labels) and figures["alerts"] == len(alerts)
    assert figures["precision"] == pytest.approx(sum(positive) / len(alerts))
    assert figures["recall"] == pytest.approx(sum(detected) / len(labels))
    assert 0 < figures["recall"] <= 1 and 0 <= figures["precision"] <= 1
    for kind in figures["by_kind"]:
        of_kind = [
            d for d, lab in zip(detected, labels, strict=True) if lab["kind"] == kind["kind"]
        ]
        assert (kind["planted"], kind["detected"]) == (len(of_kind), sum(of_kind))
        assert kind["recall"] is None or 0 <= kind["recall"] <= 1
    ranked = sorted(
        zip(alerts, positive, strict=True),
        key=lambda ap: (-ap[0]["score"], ap[0]["first_seen"], ap[0]["alert_id"]),
    )[:20]
    assert figures["budget_true_positives"] == sum(p for _, p in ranked)
    assert figures["alerts_per_1000_accesses"] == pytest.approx(len(alerts) / accesses * 1000)
    assert sum(r["alerts"] for r in figures["by_rule"]) == len(alerts)
    assert sum(r["true_positives"] for r in figures["by_rule"]) == sum(positive)
