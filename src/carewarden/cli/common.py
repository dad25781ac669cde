"""Pieces every command shares: the --store option, consoles, progress bars, error exits."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from carewarden.errors import CarewardenError, ConfigError, RequestError, StoreBusyError
from carewarden.store import Store

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

DEFAULT_STORE = Path("carewarden-data")

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store folder. Default: $CAREWARDEN_STORE, else ./carewarden-data.",
        show_default=False,
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or summaries, errors only.")
]

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def store_path(option: Path | None) -> Path:
    if option is not None:
        return option
    env = os.environ.get("CAREWARDEN_STORE")
    return Path(env) if env else DEFAULT_STORE


def fail(message: str, code: int = EXIT_FINDINGS) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn Carewarden's errors into a message and an exit code instead of a traceback."""
    try:
        yield
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc) if isinstance(exc, ConfigError) else f"no such file: {exc}", EXIT_USAGE)
    except RequestError as exc:
        fail(str(exc), EXIT_USAGE)
    except StoreBusyError as exc:
        fail(str(exc), EXIT_FINDINGS)
    except CarewardenError as exc:
        fail(str(exc), EXIT_FINDINGS)


def open_store(option: Path | None, *, read_only: bool = False) -> Store:
    with user_errors():
        return Store.open(store_path(option), read_only=read_only)


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stdout.isatty()


@contextmanager
def progress_bar(
    enabled: bool, description: str, total: int | None
) -> Iterator[Callable[..., None]]:
    """A Rich progress bar, or a no-op when stdout is not a terminal or --quiet is set.

    Yields ``update(completed=…, total=…, description=…)``.
    """
    if not enabled:
        yield lambda **_: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)

        def update(**fields: object) -> None:
            progress.update(task, **fields)  # type: ignore[arg-type]

        yield update
