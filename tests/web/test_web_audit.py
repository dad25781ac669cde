"""The audit log: views of patient data and administrative actions are recorded, and
`carewarden audit verify` finds any edited, deleted, inserted or reordered record."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services import audit
from carewarden.services.roles import Role
from carewarden.store import Store
from conftest import Web  # type: ignore[import-not-found]

runner = CliRunner(env={"COLUMNS": "200"})


def _chain(path: Path, n: int = 5) -> None:
    with Store.open(path) as store:
        for i in range(n):
            audit.record(store, "tester", "view.alert", f"a{i}", {"patient": f"pt{i}"})


def _verify(path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--store", str(path)])
    return result.exit_code, result.output


def test_views_of_patient_data_are_recorded(web: Web) -> None:
    """Opening an alert, a timeline or the queue appends a record naming who and what."""
    alert_id = web.alert_ids()[0]
    web.login_as(Role.PRIVACY_OFFICER)
    web.client.get(f"/alerts/{alert_id}")
    web.client.get("/investigate/patient/pt-maria")
    web.client.get("/api/v1/alerts")
    web.hub.flush()
    with web.hub.reader() as store:
        rows = store.query("SELECT actor, action, target FROM audit_log ORDER BY seq")
        assert audit.verify(store).ok
    assert ("privacy-officer-user", "view.alert", alert_id) in rows
    assert ("privacy-officer-user", "view.timeline.patient", "pt-maria") in rows
    assert ("privacy-officer-user", "view.alerts", None) in rows


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    _chain(tmp_path)
    code, output = _verify(tmp_path)
    assert code == 0 and "ok" in output and "5 records" in output


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3",
        'UPDATE audit_log SET detail = \'{"patient":"pt9"}\' WHERE seq = 2',
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 4 WHEN 4 THEN 2 ELSE seq END",
        "UPDATE audit_log SET recorded_at = recorded_at + INTERVAL 1 HOUR WHERE seq = 1",
    ],
    ids=["edit-actor", "edit-detail", "delete-middle", "delete-last", "reorder", "edit-time"],
)
def test_any_tampering_is_detected(tmp_path: Path, tamper: str) -> None:
    """Edited, deleted or reordered records make `audit verify` exit 1 and say where."""
    _chain(tmp_path)
    with Store.open(tmp_path) as store:
        store.query(tamper)
    code, output = _verify(tmp_path)
    assert code == 1, output
    assert "tampered" in output


def test_users_cli_creates_the_first_admin_without_a_default_password(tmp_path: Path) -> None:
    """`users add` asks for a password, prints the TOTP secret once; list, disable,
    reset-mfa work and are audited; `serve` refuses to start with no account."""
    store = str(tmp_path)
    refused = runner.invoke(app, ["serve", "--store", store])
    assert refused.exit_code == 2 and "users add" in refused.output
    short = runner.invoke(
        app,
        ["users", "add", "root", "--role", "admin", "--password-stdin", "--store", store],
        input="short\n",
    )
    assert short.exit_code != 0 and "12 characters" in short.output
    added = runner.invoke(
        app,
        ["users", "add", "root", "--role", "admin", "--password-stdin", "--store", store],
        input="a very long password\n",
    )
    assert added.exit_code == 0, added.output
    assert "otpauth://totp/Carewarden:root" in added.output
    listed = runner.invoke(app, ["users", "list", "--store", store])
    assert "root" in listed.output and "admin" in listed.output and "active" in listed.output
    reset = runner.invoke(app, ["users", "reset-mfa", "root", "--store", store])
    assert reset.exit_code == 0 and "secret:" in reset.output
    disabled = runner.invoke(app, ["users", "disable", "root", "--store", store])
    assert disabled.exit_code == 0
    assert "disabled" in runner.invoke(app, ["users", "list", "--store", store]).output
    token = runner.invoke(
        app, ["users", "token", "root", "--scope", "alerts:read", "--store", store]
    )
    assert token.exit_code == 1 and "disabled" in token.output  # no token for it
    with Store.open(tmp_path, read_only=True) as opened:
        actions = [r[0] for r in opened.query("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["user.add", "user.reset-mfa", "user.disable"]
    code, _ = _verify(tmp_path)
    assert code == 0
