"""`carewarden watch`: file tailing (growth, partial lines, rotation, truncation), offsets
committed with the rows, the config, and ``--once`` from the command line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.services.watch import (
    CHECKPOINT_KEY,
    BatchSpec,
    FileSpec,
    WatchConfig,
    Watcher,
    load_config,
)
from carewarden.store import Store

SEQ = re.compile(r"seq=(\d+)")


def line(n: int) -> str:
    return f"<38>Nov 28 10:{n // 60 % 60:02d}:{n % 60:02d} host1 app[7]: event seq={n}\n"


def append(path: Path, numbers: range, partial: str = "") -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line(n) for n in numbers) + partial)


def seqs(store: Store) -> list[int]:
    rows = store.query("SELECT raw FROM security_event WHERE channel = 'syslog'")
    return sorted(int(m.group(1)) for (raw,) in rows if (m := SEQ.search(raw)))


def watcher(store: Store, pattern: Path | str, max_records: int = 5000) -> Watcher:
    config = WatchConfig(
        files=[FileSpec(path=str(pattern), kind="syslog")],
        batch=BatchSpec(max_records=max_records),
        detect_every_seconds=0,
    )
    return Watcher(store, config)


def drain(store: Store, pattern: Path | str, max_records: int = 5000) -> int:
    """A fresh watcher each time, as a restarted process would be."""
    return sum(r.file_lines for r in watcher(store, pattern, max_records).drain_files())


def test_growing_file_no_loss_no_duplicate(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(0, 100))
    assert drain(store, log) == 100
    append(log, range(100, 250))
    assert drain(store, log, max_records=40) == 150  # several batches
    assert drain(store, log) == 0  # nothing new: nothing read
    assert seqs(store) == list(range(250))
    marks = orjson.loads(store.setting(CHECKPOINT_KEY) or "{}")["files"]
    assert [m["offset"] for m in marks] == [log.stat().st_size]


def test_partial_last_line_waits_until_complete(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(3), partial="<38>Nov 28 10:00:09 host1 app[7]: event se")
    assert drain(store, log) == 3
    assert seqs(store) == [0, 1, 2]
    with log.open("a") as handle:
        handle.write("q=3\n")
    assert drain(store, log) == 1
    assert seqs(store) == [0, 1, 2, 3]


def test_rotation_rename_then_new_file(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(0, 50))
    assert drain(store, log) == 50
    append(log, range(50, 80))  # written after the last batch, before rotation
    log.rename(tmp_path / "app.log.1")
    append(log, range(80, 120))
    assert drain(store, log) == 70
    assert seqs(store) == list(range(120))
    # the old file is released: later batches follow only the new one
    append(log, range(120, 130))
    assert drain(store, log) == 10
    assert seqs(store) == list(range(130))


def test_rotation_seen_by_a_glob_reads_each_inode_once(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(0, 20))
    assert drain(store, tmp_path / "app.log*") == 20
    append(log, range(20, 30))
    log.rename(tmp_path / "app.log.1")
    append(log, range(30, 35))
    assert drain(store, tmp_path / "app.log*") == 15
    assert seqs(store) == list(range(35))


def test_copy_truncate_reads_from_the_start(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(0, 30))
    assert drain(store, log) == 30
    log.write_text("")  # truncated in place (same inode)
    append(log, range(30, 35))
    assert drain(store, log) == 5
    assert seqs(store) == list(range(35))


def test_replaced_file_with_reused_inode_is_read_from_the_start(
    store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    append(log, range(0, 10))
    assert drain(store, log) == 10
    # same inode, new content longer than the offset: only the fingerprint tells
    with log.open("r+") as handle:
        handle.write("".join(line(n) for n in range(100, 130)))
    assert drain(store, log) == 30
    assert seqs(store) == [*range(10), *range(100, 130)]


def test_rows_and_offsets_commit_together(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.log"
    append(log, range(10))
    w = watcher(store, log)

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(store, "set_setting", broken)
        with pytest.raises(RuntimeError):
            w.step([])
    assert seqs(store) == []  # rolled back with the checkpoint that could not be written
    assert store.setting(CHECKPOINT_KEY) is None
    assert drain(store, log) == 10
    assert seqs(store) == list(range(10))


def test_bad_lines_are_quarantined_and_passed(store: Store, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_text(
        '{"timestamp": "2024-03-01T09:00:01Z", "event_type": "flow", "src_ip": "10.1.2.3"}\n'
        '{"timestamp": "2024-03-01T09:00:02Z", "event_type": \n'
        '{"timestamp": "2024-03-01T09:00:03Z", "event_type": "flow", "src_ip": "10.1.2.4"}\n'
    )
    config = WatchConfig(files=[FileSpec(path=str(eve), kind="suricata")])
    reports = list(Watcher(store, config).drain_files())
    assert [r.quarantined for r in reports] == [1]
    assert store.query("SELECT count(*) FROM security_event")[0][0] == 2
    (path, error) = store.query("SELECT path, error FROM quarantine")[0]
    assert path == str(eve) and "JSON" in error


def test_zeek_tsv_later_lines_get_the_header(store: Store, tmp_path: Path) -> None:
    conn = tmp_path / "conn.log"
    header = (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        "#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\n"
    )
    conn.write_text(header + "1709283600.5\tC1\t10.1.2.3\t49152\t203.0.113.9\t443\ttcp\n")
    config = WatchConfig(files=[FileSpec(path=str(conn), kind="zeek")])
    assert sum(r.stored for r in Watcher(store, config).drain_files()) == 1
    with conn.open("a") as handle:
        handle.write("1709283601.5\tC2\t10.1.2.4\t49153\t203.0.113.9\t443\ttcp\n")
    reports = list(Watcher(store, config).drain_files())
    assert [(r.stored, r.quarantined) for r in reports] == [(1, 0)]
    assert store.query("SELECT count(*) FROM security_event")[0][0] == 2


def test_config_is_strict_and_relative_to_its_folder(tmp_path: Path) -> None:
    good = tmp_path / "watch.yaml"
    good.write_text("files:\n  - {path: logs/*.log, kind: syslog}\nsyslog: {udp: 5514}\n")
    config = load_config(good)
    assert config.files[0].path == str(tmp_path / "logs" / "*.log")
    assert config.syslog is not None and config.syslog.host == "127.0.0.1"
    bad = tmp_path / "bad.yaml"
    bad.write_text("files:\n  - {path: a.log, kind: nginx}\nbatch: {max_records: 0}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert "bad.yaml" in str(caught.value)


def test_cli_once_then_again(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, range(40))
    config = tmp_path / "watch.yaml"
    config.write_text("files:\n  - {path: app.log, kind: syslog}\ndetect_every_seconds: 0\n")
    args = ["watch", "--config", str(config), "--store", str(tmp_path / "s"), "--once"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "40 lines" in first.output and "40 stored" in first.output
    append(log, range(40, 45))
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "5 stored" in second.output
    with Store.open(tmp_path / "s", read_only=True) as opened:
        assert seqs(opened) == list(range(45))
    bad = tmp_path / "bad.yaml"
    bad.write_text("files: 3\n")
    refused = runner.invoke(app, ["watch", "--config", str(bad), "--store", str(tmp_path / "s")])
    assert refused.exit_code == 2 and "bad.yaml" in refused.output


def test_cli_once_runs_detection(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "".join(
            f"<38>Nov 28 10:00:{i:02d} web1 sshd[9]: Failed password for root from "
            f"203.0.113.7 port {40000 + i} ssh2\n"
            for i in range(30)
        )
    )
    config = tmp_path / "watch.yaml"
    config.write_text("files:\n  - {path: auth.log, kind: syslog}\n")
    result = CliRunner().invoke(
        app, ["watch", "--config", str(config), "--store", str(tmp_path / "s"), "--once"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"detect: \d+ new alert", result.output)
    assert os.path.exists(tmp_path / "s")
