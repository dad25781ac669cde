"""``carewarden watch``: live mode (tail files, listen for syslog, detect incrementally)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from carewarden.cli.common import (
    QuietOption,
    StoreOption,
    console,
    err_console,
    open_store,
    user_errors,
)
from carewarden.services.detect import detect
from carewarden.services.watch import BatchReport, Status, Watcher, load_config, run_live
from carewarden.store import Store


def _status(quiet: bool) -> Status:
    def show(report: BatchReport) -> None:
        for reject in report.first_rejects:
            err_console.print(f"[yellow]quarantined[/] {reject}", highlight=False)
        if quiet:
            return
        dropped = f", {report.dropped_udp:,} UDP dropped" if report.dropped_udp else ""
        console.print(
            f"{report.at:%H:%M:%S} batch: {report.file_lines:,} lines, "
            f"{report.messages:,} messages → {report.stored:,} stored, "
            f"{report.duplicates:,} duplicates, {report.quarantined:,} quarantined; "
            f"{report.queued:,} queued{dropped}",
            highlight=False,
            soft_wrap=True,
        )

    return show


def _detect(store: Store, quiet: bool) -> None:
    run = detect(store)
    if not quiet:
        console.print(f"detect: {run.alerts.new_alerts:,} new alert(s)", highlight=False)


def watch_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The watch config (YAML).", exists=True)
    ],
    store: StoreOption = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Read what the files hold now, commit, run detection, exit (no listeners).",
        ),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Live mode: tail the configured files (rotation followed) and listen for syslog
    (UDP, TCP with octet-counting or newline framing, TLS with optional client certificates,
    RELP answered once committed), committing micro-batches with their file offsets, and run
    detection every ``detect_every_seconds``.

    A restart (even after kill -9) goes on where the last committed batch ended: no line is
    lost or stored twice. SIGINT or SIGTERM commits what was received and exits 0.
    """
    with user_errors():
        settings = load_config(config)
    show = _status(quiet)
    with open_store(store) as opened, user_errors():
        watcher = Watcher(opened, settings)
        if once:
            for report in watcher.drain_files():
                show(report)
            if settings.detect_every_seconds:
                _detect(opened, quiet)
            return
        asyncio.run(_live(watcher, opened, settings.detect_every_seconds, quiet, show))
        for note, count in watcher.tailer.notes.most_common():
            console.print(f"note {count:,}: {note}", highlight=False)
        if watcher.dropped_udp:
            console.print(f"{watcher.dropped_udp:,} UDP datagrams dropped (queue full)")


async def _live(
    watcher: Watcher, store: Store, every: float, quiet: bool, show: Status
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(bound: list[tuple[str, int]]) -> None:
        if not quiet:
            listening = ", ".join(f"{proto} {port}" for proto, port in bound)
            console.print(f"watching; listening on {listening or 'no port'}", highlight=False)

    await run_live(
        watcher,
        stop,
        status=show,
        detect=(lambda: _detect(store, quiet)) if every else None,
        ready=ready,
    )
