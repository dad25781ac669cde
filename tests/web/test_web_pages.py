"""Console pages and the API over the services: the queue with filters, triage and bulk
actions, the alert page with evidence, investigations, and empty states on an empty store."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from carewarden.services import accounts
from carewarden.services.roles import Role
from carewarden.store import Store
from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub
from conftest import PASSWORD, Web  # type: ignore[import-not-found]

PAGES = ("/", "/alerts", "/cases", "/assets", "/ingestion", "/audit", "/investigate")


def test_empty_store_pages_show_empty_states(tmp_path: Path) -> None:
    """A store with nothing ingested: every page answers 200 with a clear empty state."""
    with Store.open(tmp_path) as store:
        accounts.add_user(store, "root", "admin", PASSWORD)
    hub = StoreHub(tmp_path)
    with TestClient(create_app(tmp_path, hub=hub), follow_redirects=False) as client:
        cookie, _ = hub.write(lambda s: accounts.create_session(s, "root"))
        client.cookies.set("cw_session", cookie)
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, path
            if path != "/audit":  # the views just made are in the audit log
                assert 'class="empty"' in response.text, path
        missing = client.get("/alerts/nope")
        assert missing.status_code == 404 and "Traceback" not in missing.text
        api = client.get("/api/v1/alerts").json()
        assert api["total"] == 0 and api["items"] == []
    hub.close()


def test_queue_filters_and_bulk_triage(web: Web) -> None:
    """Filtering narrows the queue; closing several alerts at once with a disposition moves
    them out of the active queue and records each change."""
    csrf = web.login_as(Role.ANALYST)
    everything = web.client.get("/api/v1/alerts").json()
    assert everything["total"] >= 3
    rule = everything["items"][0]["rule_id"]
    narrowed = web.client.get(f"/api/v1/alerts?rule_id={rule}").json()
    assert 0 < narrowed["total"] <= everything["total"]
    assert all(i["rule_id"] == rule for i in narrowed["items"])
    page = web.client.get(f"/alerts?rule_id={rule}")
    assert page.status_code == 200 and rule in page.text
    ids = [i["alert_id"] for i in everything["items"][:2]]
    refused = web.client.post(
        "/alerts/triage", data={"csrf_token": csrf, "action": "close", "alert_ids": ids}
    )
    assert "disposition" in refused.headers["location"]
    closed = web.client.post(
        "/alerts/triage",
        data={
            "csrf_token": csrf,
            "action": "close",
            "disposition": "false-positive",
            "alert_ids": ids,
            "next": "/alerts",
        },
    )
    assert closed.status_code == 303 and "2+alert" in closed.headers["location"]
    active = web.client.get("/api/v1/alerts?status=active").json()
    assert not {i["alert_id"] for i in active["items"]} & set(ids)
    detail = web.client.get(f"/api/v1/alerts/{ids[0]}").json()
    assert detail["status"] == "closed" and detail["disposition"] == "false-positive"
    assert detail["history"][0]["actor"] == "analyst-user"


def test_api_triage_acknowledge_assign_reopen(web: Web) -> None:
    csrf = {"x-csrf-token": web.login_as(Role.PRIVACY_OFFICER)}
    alert_id = web.alert_ids()[0]
    for body in (
        {"action": "acknowledge"},
        {"action": "assign", "assignee": "pat"},
        {"action": "close", "disposition": "true-positive"},
        {"action": "reopen"},
    ):
        response = web.client.post(
            "/api/v1/alerts/triage", headers=csrf, json={"alert_ids": [alert_id], **body}
        )
        assert response.json() == {"updated": [alert_id]}, body
    detail = web.client.get(f"/api/v1/alerts/{alert_id}").json()
    assert (detail["status"], detail["assignee"], detail["disposition"]) == ("open", "pat", None)
    assert [h["action"] for h in detail["history"]] == ["acknowledge", "assign", "close", "reopen"]
    bad = web.client.post(
        "/api/v1/alerts/triage", headers=csrf, json={"alert_ids": [alert_id], "action": "close"}
    )
    assert bad.status_code == 400


def test_alert_page_shows_explanation_and_evidence(web: Web) -> None:
    web.login_as(Role.AUDITOR)
    detail = web.client.get(f"/api/v1/alerts/{web.alert_ids()[0]}").json()
    assert detail["evidence"], "evidence rows"
    page = web.client.get(f"/alerts/{detail['alert_id']}")
    assert page.status_code == 200
    assert detail["explanation"].split(" ")[0] in page.text
    assert detail["evidence"][0]["event_id"] in page.text
    assert 'action="/alerts/triage"' not in page.text  # read-only role: no triage form


def test_auditor_cannot_close_an_alert(web: Web) -> None:
    csrf = web.login_as(Role.AUDITOR)
    alert_id = web.alert_ids()[0]
    response = web.client.post(
        "/alerts/triage",
        data={
            "csrf_token": csrf,
            "action": "close",
            "disposition": "false-positive",
            "alert_ids": [alert_id],
        },
    )
    assert response.status_code == 403
    assert web.client.get(f"/api/v1/alerts/{alert_id}").json()["status"] == "open"


def test_investigation_pages_explain_each_access(web: Web) -> None:
    web.login_as(Role.PRIVACY_OFFICER)
    page = web.client.get("/investigate/user/pr-alvarez")
    assert page.status_code == 200 and "UNEXPLAINED" in page.text
    api = web.client.get("/api/v1/investigate/patient/pt-maria").json()
    assert api["total"] >= 1 and all("explanation" in r for r in api["rows"])
    unknown = web.client.get("/investigate/user/nobody-here")
    assert unknown.status_code == 200 and "no user" in unknown.text


def test_overview_draws_charts(web: Web) -> None:
    web.login_as(Role.ANALYST)
    page = web.client.get("/")
    assert "<svg" in page.text and "EHR privacy" in page.text
    api = web.client.get("/api/v1/overview").json()
    assert api["total_alerts"] >= 3 and api["layers"][0]["monitored"]
