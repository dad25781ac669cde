"""The decision point as a service: refresh without restart, policy reloads that refuse bad
edits, break the glass raising alerts and review tasks, and continuous verification."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from carewarden.access.break_glass import queue_path
from carewarden.access.decision import AccessRequest, DecisionPoint, RequestError
from carewarden.access.policy_set import SHIPPED, PolicyHolder, load_policies
from carewarden.errors import ConfigError
from carewarden.services.detect import detect
from carewarden.store import Store
from carewarden.testing.fhir import access, add, encounter, patient
from conftest import request

HOLD_STORE = """
import sys
from pathlib import Path
from carewarden.store import Store
with Store.open(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def own_store(hospital_store: Path, tmp_path: Path) -> Path:
    """A private copy of the hand-written hospital's store, to write to."""
    copy = tmp_path / "store"
    shutil.copytree(hospital_store, copy)
    shutil.rmtree(copy / "queue", ignore_errors=True)
    return copy


def test_a_burst_of_unexplained_accesses_forces_a_step_up(own_store: Path, tmp_path: Path) -> None:
    """The attending may read their patient; after the audit log shows them opening 12
    unrelated charts in half an hour, their next request is denied until an MFA newer than
    the burst, then permitted again; an hour later the burst no longer counts."""
    point = DecisionPoint(own_store)
    assert point.refresh() is None
    before = point.evaluate_authzen(request("doc", "pat", mfa_age_s=3600))
    assert before["decision"] and before["context"]["risk"] == 0
    with Store.open(own_store) as store:
        add(store, tmp_path, "burst", *(
            access(f"burst-{n}", "doc", f"p{n:02d}", f"2026-03-02T09:{n * 2:02d}:00Z")
            for n in range(1, 13)
        ))
    assert point.refresh() is None  # the store changed: no restart
    after = point.evaluate_authzen(request("doc", "pat", mfa_age_s=3600))
    assert not after["decision"] and after["context"]["step_up"]["required"]
    assert after["context"]["risk"] == 60  # 12 of the bulk rule's 20 patients an hour
    assert "risk-step-up" in [r["policy"] for r in after["context"]["reasons"]]
    # The last unexplained access was at 09:24: an MFA at 09:50 is a step-up after it.
    stepped = point.evaluate_authzen(request("doc", "pat", mfa_age_s=600))
    assert stepped["decision"], stepped
    later = point.evaluate_authzen(
        request("doc", "pat", mfa_age_s=3600, time="2026-03-02T10:30:00Z")
    )
    assert later["decision"] and later["context"]["risk"] == 0


def test_probing_requests_raise_the_session_risk(point: DecisionPoint) -> None:
    """Requests for charts the user has no relationship with are observed as they arrive:
    after ten of them within the hour, even a request for their own patient needs a step-up
    (searches and break-the-glass requests do not count)."""
    for n in range(1, 11):
        point.evaluate_authzen(request("cover", f"p{n:02d}", "search"))
    assert point.evaluate_authzen(request("cover", "pat"))["decision"]
    for n in range(1, 11):
        denied = point.evaluate_authzen(
            request("cover", f"p{n:02d}", time=f"2026-03-02T09:{n + 40}:00Z")
        )
        assert not denied["decision"]
    answer = point.evaluate_authzen(request("cover", "pat", mfa_age_s=3600))
    assert not answer["decision"] and answer["context"]["risk"] == 50
    assert point.evaluate_authzen(request("cover", "pat", mfa_age_s=60))["decision"]


def test_new_entities_appear_after_a_refresh(own_store: Path, tmp_path: Path) -> None:
    """A patient admitted after the decision point started is unknown until the next
    refresh, then the attending of the new encounter may read the chart."""
    point = DecisionPoint(own_store)
    point.refresh()
    assert not point.evaluate_authzen(request("cover", "newcomer"))["decision"]
    with Store.open(own_store) as store:
        add(store, tmp_path, "admit", patient("newcomer"),
            encounter("e-new", "newcomer", "ed", "2026-03-02T06:00:00Z", None,
                      participants=(("cover", "ATND"),)))
    point.refresh()
    answer = point.evaluate_authzen(request("cover", "newcomer"))
    assert answer["decision"] and answer["context"]["relationship"] == "encounter"


def test_a_busy_store_keeps_the_previous_snapshot(own_store: Path) -> None:
    """While another process holds the store for writing, a refresh reports it and decisions
    continue over the previous snapshot."""
    point = DecisionPoint(own_store)
    point.refresh()
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_STORE, str(own_store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
        problem = point.refresh()
    finally:
        writer.communicate("")
    assert problem is not None and "previous snapshot" in problem
    assert point.evaluate_authzen(request("doc", "pat"))["decision"]


def test_break_the_glass_raises_an_alert_and_a_review_task(own_store: Path) -> None:
    """Every emergency request is queued, permitted or not; the next detect turns each into
    an alert and an open review task, once."""
    point = DecisionPoint(own_store)
    point.refresh()
    permitted = point.evaluate_authzen(
        request("doc", "nobody", purpose_of_use="ETREAT", reason="Code blue on 4 West")
    )
    refused = point.evaluate_authzen(request("doc", "nobody", purpose_of_use="ETREAT"))
    assert permitted["decision"] and not refused["decision"]
    assert permitted["context"]["break_glass"] and refused["context"]["break_glass"]
    lines = queue_path(own_store).read_bytes().splitlines()
    assert [orjson.loads(line)["allowed"] for line in lines] == [True, False]
    with Store.open(own_store) as store:
        assert detect(store).break_glass == 2
        alerts = store.query(
            "SELECT severity, explanation FROM alert WHERE rule_id = 'pdp.break_glass' "
            "ORDER BY severity"
        )
        tasks = store.query("SELECT kind, status, patient_id FROM review_task")
        assert detect(store).break_glass == 0
    assert [a[0] for a in alerts] == ["high", "low"]
    assert "Code blue on 4 West" in alerts[0][1] and "with no reason" in alerts[1][1]
    assert tasks == [("break_glass_review", "open", "nobody")] * 2
    assert not queue_path(own_store).exists()


def test_an_invalid_policy_edit_is_refused_and_the_previous_set_stays(tmp_path: Path,
                                                                      own_store: Path) -> None:
    """A policy that names an attribute the schema lacks is refused with the file and the
    error; decisions keep using the previous set; a valid edit then takes effect."""
    folder = tmp_path / "policies"
    shutil.copytree(SHIPPED, folder)
    point = DecisionPoint(own_store, PolicyHolder(folder))
    point.refresh()
    assert point.evaluate_authzen(request("doc", "pat"))["decision"]
    (folder / "extra.cedar").write_text(
        '@id("nights")\nforbid (principal, action, resource) when { context.shift == "night" };\n'
    )
    problem = point.refresh()
    assert problem is not None and "extra.cedar" in problem and "shift" in problem
    assert point.evaluate_authzen(request("doc", "pat"))["decision"]
    with pytest.raises(ConfigError, match=r"extra\.cedar"):
        load_policies(folder)
    (folder / "extra.cedar").write_text(
        '@id("no-updates")\nforbid (principal, action == Action::"update", resource);\n'
    )
    assert point.refresh() is None
    denied = point.evaluate_authzen(request("doc", "pat", "update"))
    assert not denied["decision"]
    assert denied["context"]["reasons"] == [
        {"policy": "no-updates", "effect": "forbid", "file": "extra.cedar"}
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("permit (principal, action, resource);", "@id"),
        ('@id("x") permit (principal, action, resource) when {', "invalid Cedar policy"),
        ('@id("treatment-read") permit (principal, action, resource);', "also used"),
    ],
)
def test_policy_files_are_checked(tmp_path: Path, text: str, problem: str) -> None:
    """A policy without an @id, one that does not parse, and a duplicate id are refused."""
    folder = tmp_path / "policies"
    shutil.copytree(SHIPPED, folder)
    (folder / "zz.cedar").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_policies(folder)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"subject": {"type": "user", "id": "u"}, "action": {"name": "read"}}, "resource"),
        ({**request("doc", "pat"), "subject": {"type": "group", "id": "x"}}, "subject.type"),
        (request("doc", "pat", mfa_age_s="recent"), "mfa_age_s"),
        (request("doc", "pat", time="yesterday"), "ISO 8601"),
        (request("doc", "pat", device={"managed": "yes"}), "managed"),
        ([], "JSON object"),
    ],
)
def test_malformed_requests_are_refused(body: object, problem: str) -> None:
    """A request missing a part, of the wrong type, or with mistyped context is an error."""
    with pytest.raises(RequestError, match=problem):
        AccessRequest.from_authzen(body)
