"""``carewarden backup keygen|create|verify|restore``: encrypted, checksummed archives of the
store (see :mod:`carewarden.services.backup`).

The key is a key file (``--key-file``, made by ``keygen``) or a passphrase read from the
environment variable ``CAREWARDEN_BACKUP_PASSPHRASE``, never from the command line (where
other users and the shell history would see it). Exit codes: 0 done (or intact); 1 the
archive is damaged, the key is wrong, a checksum differs, the store is held; 2 usage (no
key, an existing output, a non-empty restore target).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from carewarden.backup.crypto import (
    MIN_PASSPHRASE,
    PASSPHRASE_ENV,
    Secret,
    generate_key_file,
    key_file_exposed,
    load_key_file,
    passphrase_secret,
)
from carewarden.cli.common import (
    EXIT_USAGE,
    QuietOption,
    StoreOption,
    console,
    err_console,
    fail,
    progress_bar,
    show_progress,
    store_path,
    user_errors,
)
from carewarden.errors import CarewardenError
from carewarden.services import backup
from carewarden.services.backup import BackupReport

app = typer.Typer(
    help="Encrypted, checksummed backups of the store: keygen, create, verify, restore.",
    no_args_is_help=True,
)

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help=f"Key file made by `carewarden backup keygen`. Without it: the passphrase in "
        f"${PASSPHRASE_ENV}.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    Literal["table", "json"], typer.Option("--format", help="table, or json for scripts.")
]
ArchiveArgument = Annotated[Path, typer.Argument(help="The archive.", show_default=False)]


def _secret(key_file: Path | None, *, creating: bool) -> Secret:
    """The key to use: the key file if given, else the passphrase from the environment."""
    if key_file is not None:
        with user_errors():
            secret = load_key_file(key_file)
        if key_file_exposed(key_file):
            err_console.print(
                f"[yellow]warning:[/] {key_file} can be read by other users: "
                f"`chmod 600 {key_file}`",
                highlight=False,
            )
        return secret
    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    if not passphrase:
        fail(
            f"no key: pass --key-file KEYFILE (make one with `carewarden backup keygen --out "
            f"KEYFILE`) or set {PASSPHRASE_ENV}",
            EXIT_USAGE,
        )
    if creating and len(passphrase) < MIN_PASSPHRASE:
        fail(
            f"the passphrase in {PASSPHRASE_ENV} is shorter than {MIN_PASSPHRASE} characters; "
            "use a longer one or a key file",
            EXIT_USAGE,
        )
    return passphrase_secret(passphrase)


@contextmanager
def _progress(quiet: bool, json_out: bool) -> Iterator[Callable[[str, int, int], None]]:
    with progress_bar(show_progress(quiet) and not json_out, "backup", None) as update:

        def report(stage: str, done: int, total: int) -> None:
            update(description=stage, completed=done, total=total)

        yield report


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _render(report: BackupReport, format: str, quiet: bool) -> None:
    if format == "json":
        sys.stdout.write(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    if quiet:
        return
    table = Table(title=escape(f"{report.action}: {report.archive}"), title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("checksum")
    for check in report.tables:
        state = "[green]checksum ok[/]" if check.ok else "[red]MISMATCH[/]"
        table.add_row(
            check.name, f"{check.rows:,}", state + (f" ({check.note})" if check.note else "")
        )
    console.print(table)
    manifest = report.manifest
    for entry in report.files:
        console.print(f"store file {escape(entry.path)} ({_size(entry.bytes)})", highlight=False)
    for skipped in report.skipped:
        console.print(f"[yellow]not carried:[/] {escape(skipped)}", highlight=False)
    console.print(
        f"{len(report.tables)} tables, {report.rows:,} rows, {len(report.files)} store "
        f"file{'' if len(report.files) == 1 else 's'}; "
        f"schema version {manifest.schema_version}, made {manifest.created_at:%Y-%m-%d %H:%M} "
        f"UTC by Carewarden {manifest.carewarden_version}",
        highlight=False,
    )
    verb = {"create": "written", "verify": "intact", "restore": "restored"}[report.action]
    where = f" into {escape(str(report.store))}" if report.action == "restore" else ""
    upgraded = f"; schema upgraded to version {report.upgraded_to}" if report.upgraded_to else ""
    console.print(
        f"[bold green]Archive {verb}[/]{where}: {_size(report.archive_bytes)}, "
        f"{report.key}, {report.seconds:.1f} s{upgraded}",
        highlight=False,
    )


@contextmanager
def _errors(format: str) -> Iterator[None]:
    """Errors as ``user_errors`` does; with ``--format json`` also a JSON object on stdout."""
    if format != "json":
        with user_errors():
            yield
        return
    try:
        yield
    except (CarewardenError, FileNotFoundError) as exc:
        sys.stdout.write(orjson.dumps({"ok": False, "error": str(exc)}).decode() + "\n")
        with user_errors():
            raise


@app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="The new key file (never overwritten).")],
) -> None:
    """Write a new random 256-bit backup key to a new file, readable by its owner only. Keep
    a copy away from the archives: without it they cannot be read."""
    with user_errors():
        identity = generate_key_file(out)
    console.print(f"Key written to {out} (mode 0600), key id {identity}.", highlight=False)


@app.command("create")
def create_command(
    out: Annotated[Path, typer.Option("--out", help="The archive to write.")],
    store: StoreOption = None,
    key_file: KeyFileOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
    format: FormatOption = "table",
    quiet: QuietOption = False,
) -> None:
    """Write an encrypted archive of the store: every table (Parquet, with its row count and
    checksum) and the store's other files (the break-the-glass queue). The store is only
    read; a store held by a running server or ingest must be freed first."""
    secret = _secret(key_file, creating=True)
    with _errors(format), _progress(quiet, format == "json") as report:
        result = backup.create(store_path(store), out, secret, force=force, progress=report)
    _render(result, format, quiet)


@app.command("verify")
def verify_command(
    archive: ArchiveArgument,
    key_file: KeyFileOption = None,
    format: FormatOption = "table",
    quiet: QuietOption = False,
) -> None:
    """Check an archive without restoring it: decrypt and authenticate every chunk, check
    every file's SHA-256, and recount every table's rows and checksum. Exit 0 when intact,
    1 with the reason when not."""
    secret = _secret(key_file, creating=False)
    with _errors(format), _progress(quiet, format == "json") as report:
        result = backup.verify(archive, secret, progress=report)
    _render(result, format, quiet)


@app.command("restore")
def restore_command(
    archive: ArchiveArgument,
    store: StoreOption = None,
    key_file: KeyFileOption = None,
    format: FormatOption = "table",
    quiet: QuietOption = False,
) -> None:
    """Restore an archive into a new or empty store folder. Every table is loaded and checked
    against the archive (rows and checksum) before the folder appears; a failed restore
    leaves nothing behind."""
    secret = _secret(key_file, creating=False)
    with _errors(format), _progress(quiet, format == "json") as report:
        result = backup.restore(archive, store_path(store), secret, progress=report)
    _render(result, format, quiet)
