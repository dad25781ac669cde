"""Web fixtures: a small store with alerts and one account per role, copied for each test,
and a TestClient over the app holding it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from carewarden.connectors.fhir import FhirConnector
from carewarden.services import accounts
from carewarden.services.detect import detect
from carewarden.services.ingest import ingest
from carewarden.services.roles import Role
from carewarden.store import Store
from carewarden.web.app import create_app
from carewarden.web.hub import StoreHub

DATA = Path(__file__).parents[1] / "data"
PASSWORD = "a long test password 1"


@dataclass
class Web:
    client: TestClient
    hub: StoreHub
    secrets: dict[str, str]  # user name -> TOTP secret

    def login_as(self, role: Role | str) -> str:
        """Give the client a session of the ``role`` account (as a log-in would); return its
        CSRF token."""
        username = f"{Role(role).value}-user"
        cookie, session = self.hub.write(
            lambda store: accounts.create_session(store, username, "test")
        )
        self.client.cookies.clear()
        self.client.cookies.set("cw_session", cookie)
        return session.csrf_token

    def code(self, username: str) -> str:
        return pyotp.TOTP(self.secrets[username]).now()

    def alert_ids(self) -> list[str]:
        with self.hub.reader() as store:
            return [r[0] for r in store.query("SELECT alert_id FROM alert ORDER BY score DESC")]


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("web") / "store"
    secrets: dict[str, str] = {}
    with Store.open(path) as store:
        ingest(store, FhirConnector(timezone="America/Chicago"), [DATA / "fhir" / "export"])
        detect(store, site_tz="America/Chicago")
        for role in Role:
            name = f"{role.value}-user"
            secrets[name] = accounts.add_user(store, name, role.value, PASSWORD).totp_secret
    return path, secrets


@pytest.fixture
def web(web_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Web]:
    source, secrets = web_template
    path = tmp_path / "store"
    shutil.copytree(source, path)
    hub = StoreHub(path)
    app = create_app(path, hub=hub)
    with TestClient(app, follow_redirects=False) as client:
        yield Web(client, hub, dict(secrets))
    hub.close()
