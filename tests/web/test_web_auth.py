"""Log-in with password and TOTP, lockout and throttling, session cookies and timeouts,
security headers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi.testclient import TestClient

from carewarden.services import accounts
from carewarden.services.roles import Role
from carewarden.web.app import create_app
from conftest import PASSWORD, Web  # type: ignore[import-not-found]


def _login(web: Web, username: str, password: str, code: str, next_: str = "/") -> object:
    form = web.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return web.client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "code": code,
            "csrf_token": token.group(1),
            "next": next_,
        },
    )


def _session_cookie(cookies: list[str], name: str) -> str:
    found = [c for c in cookies if c.startswith(name)]
    assert len(found) == 1, cookies
    return found[0]


def test_login_with_password_and_totp_sets_a_hardened_cookie(web: Web) -> None:
    """Right password and code: a session cookie (HttpOnly, SameSite=Strict), then pages."""
    response = _login(web, "analyst-user", PASSWORD, web.code("analyst-user"), "/alerts")
    assert response.status_code == 303 and response.headers["location"] == "/alerts"
    cookie = _session_cookie(response.headers.get_list("set-cookie"), "cw_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert web.client.get("/alerts").status_code == 200


def test_a_password_without_the_code_is_not_enough(web: Web) -> None:
    """A wrong TOTP code, a replayed code, and a foreign 'next' URL all fail safely."""
    assert _login(web, "analyst-user", PASSWORD, "000000").status_code == 401  # type: ignore[attr-defined]
    code = web.code("analyst-user")
    assert _login(web, "analyst-user", PASSWORD, code).status_code == 303  # type: ignore[attr-defined]
    web.client.cookies.clear()
    assert _login(web, "analyst-user", PASSWORD, code).status_code == 401  # type: ignore[attr-defined]
    hub = web.hub
    hub.flush()
    with hub.reader() as store:
        rows = store.query("SELECT action FROM audit_log ORDER BY seq")
    assert [r[0] for r in rows].count("login.failed") == 2


def test_repeated_failures_lock_the_account(web: Web) -> None:
    """Five failures in a row lock the account: the right password and code then fail too."""
    for _ in range(accounts.MAX_FAILURES):
        _login(web, "auditor-user", "wrong password!!", "123456")
    response = _login(web, "auditor-user", PASSWORD, web.code("auditor-user"))
    assert response.status_code == 401  # type: ignore[attr-defined]
    with web.hub.reader() as store:
        user = accounts.get_user(store, "auditor-user")
    assert user is not None and user.locked_until is not None


def test_failed_logins_from_one_address_are_throttled(web: Web) -> None:
    """Beyond ten failures from one address, log-ins are refused unchecked (429)."""
    for i in range(10):
        _login(web, f"nobody{i}", "x" * 12, "123456")
    response = _login(web, "admin-user", PASSWORD, web.code("admin-user"))
    assert response.status_code == 429  # type: ignore[attr-defined]


def test_login_form_needs_its_csrf_cookie(web: Web) -> None:
    response = web.client.post(
        "/login",
        data={
            "username": "admin-user",
            "password": PASSWORD,
            "code": web.code("admin-user"),
            "csrf_token": "forged",
        },
    )
    assert response.status_code == 400


def test_redirect_after_login_stays_on_this_site(web: Web) -> None:
    response = _login(web, "admin-user", PASSWORD, web.code("admin-user"), "//evil.example/")
    assert response.headers["location"] == "/"  # type: ignore[attr-defined]


def test_idle_and_absolute_timeouts_end_sessions(web: Web) -> None:
    """A session idle past the idle timeout, or older than the absolute one, is gone."""
    web.login_as(Role.ANALYST)
    assert web.client.get("/alerts").status_code == 200
    idle = dt.datetime.now(dt.UTC).replace(tzinfo=None) - accounts.IDLE_TIMEOUT
    web.hub.write(
        lambda s: s.query(
            "UPDATE console_session SET last_seen = ?", [idle - dt.timedelta(seconds=5)]
        )
    )
    assert web.client.get("/alerts").status_code == 303
    web.login_as(Role.ANALYST)
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - accounts.ABSOLUTE_TIMEOUT
    web.hub.write(
        lambda s: s.query(
            "UPDATE console_session SET created_at = ?", [old - dt.timedelta(seconds=5)]
        )
    )
    assert web.client.get("/alerts").status_code == 303


def test_disabling_an_account_ends_its_session_and_tokens(web: Web) -> None:
    web.login_as(Role.ANALYST)
    token, _ = web.hub.write(lambda s: accounts.create_token(s, "analyst-user", ["alerts:read"]))
    web.hub.write(lambda s: accounts.set_disabled(s, "analyst-user"))
    assert web.client.get("/alerts").status_code == 303
    web.client.cookies.clear()
    response = web.client.get("/api/v1/alerts", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_security_headers_on_pages_and_api(web: Web) -> None:
    """CSP without inline script, no framing, no sniffing, no referrer, no caching of PHI."""
    web.login_as(Role.ADMIN)
    for path in ("/login", "/alerts", "/api/v1/alerts", "/nonexistent"):
        headers = web.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_pages_load_nothing_from_the_internet(web: Web) -> None:
    """No CDN: every script and stylesheet is served from the package; no inline script."""
    web.login_as(Role.ADMIN)
    templates = Path(__file__).parents[2] / "src" / "carewarden" / "web" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert " style=" not in text and "<style" not in text, template.name
    assert web.client.get("/static/htmx.min.js").status_code == 200


def test_over_tls_the_cookie_is_secure(web: Web, tmp_path: Path) -> None:
    """Served over TLS: the session cookie is Secure and host-only (__Host- prefix), and
    HSTS is sent."""
    app = create_app(web.hub.path, tls=True, hub=web.hub)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/login")
        assert "strict-transport-security" in form.headers
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        response = client.post(
            "/login",
            data={
                "username": "privacy-officer-user",
                "password": PASSWORD,
                "code": web.code("privacy-officer-user"),
                "csrf_token": token.group(1),
            },
        )
        cookie = _session_cookie(response.headers.get_list("set-cookie"), "__Host-cw_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie


def test_the_console_makes_the_hash_for_unknown_names_as_it_starts(web: Web) -> None:
    """The first log-in with an unknown name must cost a hash verification like any other,
    not a hash made then and a verification: the console makes it as it starts (the
    command line no longer makes it at import)."""
    accounts._dummy_hash.cache_clear()
    app = create_app(web.hub.path, hub=web.hub)
    assert accounts._dummy_hash.cache_info().currsize == 1
    with TestClient(app, follow_redirects=False) as client:
        fresh = Web(client, web.hub, web.secrets)
        response = _login(fresh, "nobody-here", PASSWORD, "000000")
    assert response.status_code != 303  # type: ignore[attr-defined]
    assert accounts._dummy_hash.cache_info().misses == 1  # made once, at the start
