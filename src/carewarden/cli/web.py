"""``carewarden serve``, ``carewarden users …`` and ``carewarden audit verify``: the web
console, its accounts (the first admin is created here, never with a default password) and
the check of its audit log."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    StoreOption,
    console,
    fail,
    open_store,
    store_path,
    user_errors,
)
from carewarden.services import accounts, audit
from carewarden.services.roles import Permission, Role

users_app = typer.Typer(
    help="Console accounts: add, list, disable, reset MFA, API tokens.", no_args_is_help=True
)
audit_app = typer.Typer(help="The console's tamper-evident audit log.", no_args_is_help=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def serve_command(
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8800,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    watch: Annotated[
        Path | None,
        typer.Option(
            "--watch", help="Run the live watcher in the server too (a `carewarden watch` config)."
        ),
    ] = None,
) -> None:
    """Serve the web console and the REST API (/api/v1) over the store. The server holds the
    store: `carewarden detect` run meanwhile hands its work to it, and `--watch FILE` runs the
    live watcher inside it."""
    import uvicorn

    from carewarden.web.app import create_app
    from carewarden.web.hub import StoreHub

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together", EXIT_USAGE)
    watching = None
    if watch is not None:
        from carewarden.services.watch import load_config

        with user_errors():
            watching = load_config(watch)
    with open_store(store) as opened:
        if not accounts.list_users(opened):
            fail(
                "no console account yet: create the first admin with "
                "`carewarden users add NAME --role admin`",
                EXIT_USAGE,
            )
    if tls_cert is None and host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            "[yellow]warning:[/] serving without TLS on a non-local address; "
            "session cookies are then not marked Secure. Use --tls-cert/--tls-key."
        )
    with user_errors():
        hub = StoreHub(store_path(store))
    scheme = "https" if tls_cert else "http"
    url = f"{scheme}://{host}:{port}"
    hub.announce(url)
    app = create_app(hub.path, tls=tls_cert is not None, hub=hub, watch=watching)
    console.print(f"Carewarden console on [bold]{url}[/] (store {hub.path})")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            server_header=False,
        )
    finally:
        hub.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("Password (12 characters or more)", hide_input=True)
    again = typer.prompt("Repeat the password", hide_input=True)
    if first != again:
        fail("the passwords differ", EXIT_USAGE)
    return str(first)


def _show_enrolment(enrolment: accounts.Enrolment) -> None:
    console.print(
        "Add this account to an authenticator app [bold]now[/]; the secret is not shown again:",
    )
    console.print(f"  secret: [bold]{enrolment.totp_secret}[/]", highlight=False)
    console.print(f"  URI:    {enrolment.provisioning_uri}", highlight=False, soft_wrap=True)


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The account name.")],
    role: Annotated[str, typer.Option(help="admin, analyst, privacy-officer or auditor.")],
    store: StoreOption = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account (prompts for its password) and print its TOTP secret once."""
    password = _password(password_stdin)
    with open_store(store) as opened, user_errors():
        enrolment = accounts.add_user(opened, username, role, password)
        audit.record(opened, _actor(), "user.add", username, {"role": role})
    console.print(f"Created [bold]{username}[/] ({role}).")
    _show_enrolment(enrolment)


@users_app.command("list")
def users_list(store: StoreOption = None) -> None:
    """Accounts, their roles and state."""
    with open_store(store) as opened:
        users = accounts.list_users(opened)
    table = Table(show_edge=False)
    for column in ("user", "role", "state", "created (UTC)", "last log-in (UTC)"):
        table.add_column(column)
    for u in users:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        table.add_row(
            u.username,
            u.role,
            state,
            f"{u.created_at:%Y-%m-%d %H:%M}",
            f"{u.last_login:%Y-%m-%d %H:%M}" if u.last_login else "never",
        )
    console.print(table)
    if not users:
        console.print("No accounts: `carewarden users add NAME --role admin`.")


@users_app.command("disable")
def users_disable(
    username: str,
    store: StoreOption = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again instead.")] = False,
) -> None:
    """Disable an account (ends its sessions, revokes its tokens), or --enable it again."""
    with open_store(store) as opened, user_errors():
        accounts.set_disabled(opened, username, not enable)
        audit.record(opened, _actor(), "user.enable" if enable else "user.disable", username)
    console.print(f"{username}: {'enabled' if enable else 'disabled'}.")


@users_app.command("reset-mfa")
def users_reset_mfa(username: str, store: StoreOption = None) -> None:
    """Give an account a new TOTP secret (printed once); the old one stops working."""
    with open_store(store) as opened, user_errors():
        enrolment = accounts.reset_mfa(opened, username)
        audit.record(opened, _actor(), "user.reset-mfa", username)
    _show_enrolment(enrolment)


@users_app.command("reset-password")
def users_reset_password(
    username: str, store: StoreOption = None, password_stdin: PasswordStdin = False
) -> None:
    """Set a new password for an account (ends its sessions)."""
    password = _password(password_stdin)
    with open_store(store) as opened, user_errors():
        accounts.set_password(opened, username, password)
        audit.record(opened, _actor(), "user.reset-password", username)
    console.print(f"{username}: password changed.")


@users_app.command("token")
def users_token(
    username: str,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A permission the token grants (repeat): "
            + ", ".join(p.value for p in Permission),
        ),
    ],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until it expires.")] = 90,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    store: StoreOption = None,
) -> None:
    """Create an API token acting as USERNAME, limited to the scopes given (printed once)."""
    with open_store(store) as opened, user_errors():
        token, record = accounts.create_token(
            opened, username, scope, days=days, description=description
        )
        audit.record(
            opened,
            _actor(),
            "token.create",
            record.token_id,
            {"user": username, "scopes": sorted(scope), "days": days},
        )
    console.print(
        f"Token {record.token_id} for {username}, expires {record.expires_at:%Y-%m-%d}"
        " (shown once):"
    )
    console.print(token, highlight=False, soft_wrap=True)


@users_app.command("revoke-token")
def users_revoke_token(token_id: str, store: StoreOption = None) -> None:
    """Revoke an API token by its id."""
    with open_store(store) as opened, user_errors():
        accounts.revoke_token(opened, token_id)
        audit.record(opened, _actor(), "token.revoke", token_id)
    console.print(f"Token {token_id} revoked.")


@audit_app.command("verify")
def audit_verify(store: StoreOption = None) -> None:
    """Recompute the audit log's hash chain; exit 1 if any record was edited, deleted,
    inserted or reordered."""
    with open_store(store, read_only=True) as opened:
        check = audit.verify(opened)
    for problem in check.problems[:50]:
        console.print(f"[red]{problem}[/]", highlight=False)
    if check.ok:
        console.print(f"[green]ok[/]: {check.records:,} records, head {check.head}")
        return
    console.print(
        f"[bold red]audit log tampered with[/]: {len(check.problems)} problem(s) in "
        f"{check.records:,} records"
    )
    raise typer.Exit(EXIT_FINDINGS)


ROLES_HELP = ", ".join(r.value for r in Role)


def delegate_detect(store: Path, tz: str | None, quiet: bool) -> dict[str, Any] | None:
    """Run detection through the server that holds ``store`` (found by its ``serve.json``);
    None when no server announced itself there. Waits for the run and returns its summary."""
    import json
    import ssl
    import time
    import urllib.request

    from carewarden.web.auth import LOCAL_HEADER
    from carewarden.web.hub import SERVER_FILE

    announced = store / SERVER_FILE
    if not announced.exists():
        return None
    server = json.loads(announced.read_text())
    context = ssl.create_default_context()
    if server["url"].startswith("https://"):  # the server's own (often self-signed) cert
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    headers = {LOCAL_HEADER: server["secret"], "content-type": "application/json"}

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            server["url"] + path,
            method=method,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    if not quiet:
        console.print(
            f"The store is held by `carewarden serve` ({server['url']}); running detection there."
        )
    job = call("POST", "/api/v1/jobs/detect", {"site_tz": tz})
    while job["state"] == "running":
        time.sleep(0.5)
        job = call("GET", f"/api/v1/jobs/{job['job_id']}")
    if job["state"] == "failed":
        fail(f"detection failed in the server: {job['error']}")
    return job
