"""The console in a real browser: Playwright driving the system's Chromium (no browser download).

Log in with a password and a TOTP code, triage an alert, open a privacy investigation, and
check that an auditor can neither see nor use the triage controls. Screenshots of the main
pages are saved under ``test-artifacts/browser/`` (or ``$CAREWARDEN_TEST_ARTIFACTS``) for a
person to look at.

Skipped, saying why, where Playwright or Chromium is missing (a user's clone); in CI
(``CI`` set) a missing browser fails instead, so a broken install cannot hide the suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn

from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub
from conftest import PASSWORD

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
ARTIFACTS = Path(
    os.environ.get(
        "CAREWARDEN_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"
    )
) / "browser"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    _unavailable("no Chromium on PATH (apt-get install chromium)")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def console(
    web_template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The console served by uvicorn on a free loopback port, over a copy of the web store."""
    source, secrets = web_template
    path = tmp_path_factory.mktemp("browser") / "store"
    shutil.copytree(source, path)
    hub = StoreHub(path)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(path, hub=hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", path, secrets
    finally:
        server.should_exit = True
        thread.join(10)
        hub.close()


@pytest.fixture(scope="module")
def browser(console: tuple[str, Path, dict[str, str]]) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


def _totp(secret: str) -> str:
    """A code for a step no earlier log-in of this account used (the console refuses replays)."""
    totp = pyotp.TOTP(secret)
    remaining = totp.interval - time.time() % totp.interval
    if remaining < 2:  # the code would expire between typing and checking
        time.sleep(remaining + 0.1)
    return totp.now()


def _log_in(browser: Any, base: str, username: str, secret: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", _totp(secret))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def _top_alert(page: Any, base: str) -> str:
    page.goto(f"{base}/alerts")
    link = page.locator("td.explanation a").first
    href = str(link.get_attribute("href"))
    link.click()
    page.wait_for_url(f"{base}{href}")
    return href.rsplit("/", 1)[1]


def test_a_wrong_code_does_not_log_in(
    browser: Any, console: tuple[str, Path, dict[str, str]]
) -> None:
    base, _, _ = console
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "analyst-user")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]")
    assert page.locator("p.error").is_visible()
    page.goto(f"{base}/alerts")
    assert "/login" in page.url
    page.close()


def test_the_privacy_officer_triages_an_alert_and_investigates_its_user(
    browser: Any, console: tuple[str, Path, dict[str, str]]
) -> None:
    base, _, secrets = console
    page = _log_in(browser, base, "privacy-officer-user", secrets["privacy-officer-user"])
    assert page.locator("h1").first.is_visible()
    shots = [_shot(page, "overview")]
    page.goto(f"{base}/alerts")
    shots.append(_shot(page, "alert-queue"))

    alert_id = _top_alert(page, base)
    page.click("button[value=acknowledge]")
    page.wait_for_load_state()
    assert "acknowledged" in page.locator("dl.facts").inner_text()
    page.fill("input[name=assignee]", "privacy-officer-user")
    page.click("button[value=assign]")
    page.wait_for_load_state()
    page.select_option("select[name=disposition]", "true-positive")
    page.fill("input[name=note]", "confirmed with the manager")
    page.click("button[value=close]")
    page.wait_for_load_state()
    facts = page.locator("dl.facts").inner_text()
    assert "closed" in facts and "true-positive" in facts and "privacy-officer-user" in facts
    history = page.locator("table").last.inner_text()
    assert "confirmed with the manager" in history
    shots.append(_shot(page, "alert-closed"))

    answer = page.request.get(f"{base}/api/v1/alerts/{alert_id}")
    assert answer.ok and answer.json()["status"] == "closed"

    user_link = page.locator("dl.facts a[href^='/investigate/user/']")
    user_link.click()
    page.wait_for_url(f"{base}/investigate/user/**")
    assert page.locator("table tbody tr").count() > 0
    assert page.locator("h1").inner_text() == "Privacy investigation"
    shots.append(_shot(page, "investigation-user"))

    for name, route in [("cases", "/cases"), ("assets", "/assets"), ("ingestion", "/ingestion")]:
        page.goto(f"{base}{route}")
        assert page.locator("main").inner_text().strip()
        shots.append(_shot(page, name))
    page.goto(f"{base}/cases")
    page.locator("td a[href^='/cases/']").first.click()
    page.wait_for_url(f"{base}/cases/**")
    assert page.locator("h2", has_text="Playbook tasks").is_visible()
    shots.append(_shot(page, "case"))
    assert all(shot.stat().st_size > 5_000 for shot in shots)
    page.close()


def test_an_analyst_sees_no_investigation_links(
    browser: Any, console: tuple[str, Path, dict[str, str]]
) -> None:
    base, _, secrets = console
    page = _log_in(browser, base, "analyst-user", secrets["analyst-user"])
    _top_alert(page, base)
    assert page.locator("button[value=close]").count() == 1
    assert page.locator("a[href^='/investigate/']").count() == 0
    assert page.request.get(f"{base}/investigate/user/x", max_redirects=0).status == 403
    page.close()


def test_an_auditor_cannot_close_an_alert(
    browser: Any, console: tuple[str, Path, dict[str, str]]
) -> None:
    base, _, secrets = console
    page = _log_in(browser, base, "auditor-user", secrets["auditor-user"])
    alert_id = _top_alert(page, base)
    status_before = page.request.get(f"{base}/api/v1/alerts/{alert_id}").json()["status"]
    assert page.locator("form.triage").count() == 0
    assert page.locator("button[value=close]").count() == 0
    _shot(page, "alert-auditor")

    # The controls are hidden; the server must refuse the request too.
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(
        f"{base}/alerts/triage",
        form={
            "csrf_token": str(csrf),
            "alert_ids": alert_id,
            "action": "close",
            "disposition": "false-positive",
        },
        max_redirects=0,
    )
    assert answer.status == 403
    after = page.request.get(f"{base}/api/v1/alerts/{alert_id}").json()
    assert after["status"] == status_before
    page.close()
