"""The cases pages and API: the list with filters, a case with its alerts, playbook tasks,
breach assessment and hash-chained history; every view is audited."""

from __future__ import annotations

import datetime as dt
import html

from carewarden.prepare.cases import set_status
from carewarden.services import cases as case_service
from conftest import Web


def _cases(web: Web) -> list[case_service.CaseSummary]:
    with web.hub.reader() as store:
        return case_service.list_cases(store)


def test_the_case_list_shows_the_correlated_cases(web: Web) -> None:
    cases = _cases(web)
    assert cases, "detect opened no case in the web store"
    web.login_as("analyst")
    page = web.client.get("/cases")
    assert page.status_code == 200
    for case in cases:
        assert f'href="/cases/{case.case_id}"' in page.text
    overdue = web.client.get("/cases", params={"overdue": "true"}).text
    expected = [c for c in cases if c.overdue_tasks]
    for case in cases:
        assert (f'href="/cases/{case.case_id}"' in overdue) == (case in expected)


def test_a_case_page_shows_alerts_tasks_and_history(web: Web) -> None:
    case = next(c for c in _cases(web) if c.alerts)
    with web.hub.reader() as store:
        detail = case_service.case_detail(store, case.case_id)
    web.login_as("auditor")
    page = web.client.get(f"/cases/{case.case_id}")
    assert page.status_code == 200
    for alert in detail.alerts:
        assert f'href="/alerts/{alert["alert_id"]}"' in page.text
    for task in detail.tasks:
        assert task.title in html.unescape(page.text)
    assert detail.history and "cases verify" in page.text
    missing = web.client.get("/cases/C-nope")
    assert missing.status_code == 404 and "Traceback" not in missing.text
    web.hub.flush()
    with web.hub.reader() as store:
        views = store.query(
            "SELECT count(*) FROM audit_log WHERE action = 'view.case' AND target = ?",
            [case.case_id],
        )
    assert views[0][0] == 1


def test_the_cases_api_filters_by_status(web: Web) -> None:
    cases = _cases(web)
    closed = cases[0].case_id
    web.hub.write(
        lambda store: set_status(
            store, closed, "closed", actor="test", disposition="false-positive",
            now=dt.datetime(2026, 3, 5),
        )
    )
    web.login_as("analyst")
    everything = web.client.get("/api/v1/cases").json()
    assert everything["total"] == len(cases)
    only_closed = web.client.get("/api/v1/cases", params={"status": "closed"}).json()
    assert [c["case_id"] for c in only_closed["items"]] == [closed]
    one = web.client.get(f"/api/v1/cases/{closed}").json()
    assert one["case"]["status"] == "closed" and one["history"][-1]["kind"]
    assert web.client.get("/api/v1/cases", params={"status": "bogus"}).status_code == 422
    assert web.client.get("/api/v1/cases/C-nope").status_code == 404
