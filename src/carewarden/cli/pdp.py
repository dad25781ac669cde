"""``carewarden pdp``: the zero-trust access decision point (serve, check, policies)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from carewarden.access.decision import DecisionPoint, RequestError
from carewarden.access.policy_set import SHIPPED, PolicyHolder
from carewarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    StoreOption,
    console,
    fail,
    store_path,
    user_errors,
)

app = typer.Typer(
    help="Zero-trust access decisions for patient data (Cedar policies, AuthZEN API).",
    no_args_is_help=True,
)

PoliciesOption = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        help="Folder of *.cedar policies (and schema.cedarschema). Default: the shipped set; "
        "`carewarden pdp policies DIR` writes a copy to edit.",
        show_default=False,
    ),
]
POSTURE = ("managed", "encrypted", "patched")


def load_point(store: Path | None, policies: Path | None) -> DecisionPoint:
    with user_errors():
        point = DecisionPoint(store_path(store), PolicyHolder(policies))
    problem = point.refresh()
    if point.snapshot is None:
        fail(problem or "no store snapshot", EXIT_FINDINGS)
    return point


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8801,
    refresh: Annotated[
        float, typer.Option(help="Seconds between store and policy refreshes (0: never).")
    ] = 60.0,
    store: StoreOption = None,
    policies: PoliciesOption = None,
) -> None:
    """Serve the AuthZEN access evaluation API (POST /access/v1/evaluation and
    /access/v1/evaluations). The store is read in short read-only sessions, refreshed
    without restart; an invalid policy edit is refused and the previous set stays."""
    import uvicorn

    from carewarden.access.authzen import create_app

    point = load_point(store, policies)
    counts = point.snapshot.counts if point.snapshot else {}
    console.print(
        f"[bold]carewarden pdp[/] on http://{host}:{port}/access/v1/evaluation: "
        f"{counts.get('users', 0):,} users, {counts.get('patients', 0):,} patients, "
        f"{len(point.policies.current.files)} policies from {point.policies.folder}"
    )
    uvicorn.run(
        create_app(point, refresh_s=refresh), host=host, port=port, log_level="warning",
        access_log=False,
    )


@app.command()
def check(
    user: Annotated[str, typer.Option("--user", help="User id (FHIR Practitioner id).")],
    patient: Annotated[str, typer.Option("--patient", help="Patient id (FHIR Patient id).")],
    action: Annotated[str, typer.Option(help="read, search, update or export.")] = "read",
    purpose: Annotated[str, typer.Option(help="Purpose of use: TREAT, ETREAT…")] = "TREAT",
    reason: Annotated[str, typer.Option(help="Break-the-glass reason.")] = "",
    device: Annotated[
        str, typer.Option(help="Posture that holds, comma-separated: managed,encrypted,patched.")
    ] = "managed,encrypted,patched",
    patch_age_days: Annotated[int, typer.Option(help="Days since the last patch.")] = 0,
    mfa_age_s: Annotated[int, typer.Option(help="Seconds since the user's last MFA.")] = 0,
    time: Annotated[
        str | None, typer.Option(help="ISO 8601 time of the access (default: now).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the AuthZEN response.")] = False,
    store: StoreOption = None,
    policies: PoliciesOption = None,
) -> None:
    """Decide one request and explain it. Exit 0 when permitted, 1 when denied."""
    holds = {p.strip() for p in device.split(",") if p.strip()}
    if holds - set(POSTURE):
        fail(f"--device takes {', '.join(POSTURE)}; got {sorted(holds - set(POSTURE))}",
             EXIT_USAGE)
    context: dict[str, Any] = {
        "purpose_of_use": purpose,
        "reason": reason,
        "device": {**{p: p in holds for p in POSTURE}, "patch_age_days": patch_age_days},
        "mfa_age_s": mfa_age_s,
    }
    if time:
        context["time"] = time
    body = {
        "subject": {"type": "user", "id": user},
        "action": {"name": action},
        "resource": {"type": "patient", "id": patient},
        "context": context,
    }
    point = load_point(store, policies)
    try:
        answer = point.evaluate_authzen(body)
    except RequestError as exc:
        fail(str(exc), EXIT_USAGE)
    if json:
        typer.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    else:
        _render(answer)
    raise typer.Exit(0 if answer["decision"] else EXIT_FINDINGS)


def _render(answer: dict[str, Any]) -> None:
    context = answer["context"]
    verdict = "[bold green]PERMIT[/]" if answer["decision"] else "[bold red]DENY[/]"
    console.print(f"{verdict} {context['reason_admin']['en']}", highlight=False)
    for hit in context["reasons"]:
        console.print(f"  {hit['effect']:<7}{hit['policy']}  ({hit['file']})", highlight=False)
    console.print(
        f"  relationship: {context['relationship'] or 'none'}; risk: {context['risk']}",
        highlight=False,
    )
    if "step_up" in context:
        console.print("  step-up MFA required", highlight=False)
    if "break_glass" in context:
        console.print("  break the glass: alert and review task queued for the next "
                      "`carewarden detect`", highlight=False)


@app.command()
def policies(
    folder: Annotated[Path, typer.Argument(help="Folder to write the policy files into.")],
) -> None:
    """Write a copy of the shipped policies and schema to edit; use it with --policies."""
    if folder.exists() and any(folder.iterdir()):
        fail(f"{folder} is not empty", EXIT_USAGE)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(SHIPPED.iterdir()):
        if path.suffix in (".cedar", ".cedarschema"):
            shutil.copy2(path, folder / path.name)
    console.print(f"wrote the policies to {folder}; check them with "
                  f"`carewarden pdp check --policies {folder} …`")


