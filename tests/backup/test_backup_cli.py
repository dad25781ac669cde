"""`carewarden backup keygen|create|verify|restore` through the command line: what they
print, the JSON for scripts, and the exit codes (0 done, 1 damaged or wrong key, 2 usage)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from backupkit import PASSPHRASE, table_contents
from typer.testing import CliRunner

from carewarden.cli.main import app

runner = CliRunner(env={"COLUMNS": "200", "CAREWARDEN_BACKUP_PASSPHRASE": None})


def test_keygen_create_verify_restore(hospital: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    made = runner.invoke(app, ["backup", "keygen", "--out", str(key)])
    assert made.exit_code == 0, made.output
    assert "key id" in made.output and stat.S_IMODE(key.stat().st_mode) == 0o600
    again = runner.invoke(app, ["backup", "keygen", "--out", str(key)])
    assert again.exit_code == 2 and "never overwritten" in again.output

    archive = tmp_path / "a.cwb"
    create = runner.invoke(
        app,
        [
            "backup",
            "create",
            "--store",
            str(hospital),
            "--out",
            str(archive),
            "--key-file",
            str(key),
        ],
    )
    assert create.exit_code == 0, create.output
    assert "ehr_access" in create.output and "checksum ok" in create.output
    assert (
        "Archive written" in create.output and "store file queue/break_glass.jsonl" in create.output
    )

    verify = runner.invoke(app, ["backup", "verify", str(archive), "--key-file", str(key)])
    assert verify.exit_code == 0, verify.output
    assert "Archive intact" in verify.output

    target = tmp_path / "restored"
    restore = runner.invoke(
        app, ["backup", "restore", str(archive), "--store", str(target), "--key-file", str(key)]
    )
    assert restore.exit_code == 0, restore.output
    assert f"restored into {target}" in restore.output
    rows = [line for line in restore.output.splitlines() if "ehr_access" in line]
    assert rows and "checksum ok" in rows[0]
    assert table_contents(target) == table_contents(hospital)


def test_json_output(hospital: Path, tmp_path: Path, cheap_scrypt: None) -> None:
    env = {"CAREWARDEN_BACKUP_PASSPHRASE": PASSPHRASE}
    archive = tmp_path / "a.cwb"
    create = runner.invoke(
        app,
        ["backup", "create", "--store", str(hospital), "--out", str(archive), "--format", "json"],
        env=env,
    )
    assert create.exit_code == 0, create.output
    made = json.loads(create.stdout)
    assert made["ok"] and made["key"] == "passphrase" and made["archive_bytes"] > 0
    tables = {t["name"]: t for t in made["tables"]}
    assert tables["ehr_access"]["rows"] > 1000 and tables["ehr_access"]["checksum_ok"]
    verify = runner.invoke(app, ["backup", "verify", str(archive), "--format", "json"], env=env)
    assert verify.exit_code == 0, verify.output
    checked = json.loads(verify.stdout)
    assert checked["tables"] == made["tables"] and checked["rows"] == made["rows"]

    archive.write_bytes(archive.read_bytes()[:-10])
    broken = runner.invoke(app, ["backup", "verify", str(archive), "--format", "json"], env=env)
    assert broken.exit_code == 1
    assert json.loads(broken.stdout) == {"ok": False, "error": json.loads(broken.stdout)["error"]}
    assert "truncated" in json.loads(broken.stdout)["error"]


def test_no_key_is_a_usage_error(hospital: Path, tmp_path: Path) -> None:
    for args in (
        ["create", "--store", str(hospital), "--out", str(tmp_path / "a.cwb")],
        ["verify", str(tmp_path / "a.cwb")],
        ["restore", str(tmp_path / "a.cwb"), "--store", str(tmp_path / "r")],
    ):
        result = runner.invoke(app, ["backup", *args])
        assert result.exit_code == 2, result.output
        assert "no key: pass --key-file" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "a.cwb").exists() and not (tmp_path / "r").exists()


def test_short_passphrase_is_refused_for_new_archives(hospital: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["backup", "create", "--store", str(hospital), "--out", str(tmp_path / "a.cwb")],
        env={"CAREWARDEN_BACKUP_PASSPHRASE": "short"},
    )
    assert result.exit_code == 2 and "shorter than 12" in result.output


@pytest.fixture
def made(hospital: Path, tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "k.key"
    runner.invoke(app, ["backup", "keygen", "--out", str(key)])
    archive = tmp_path / "a.cwb"
    result = runner.invoke(
        app,
        [
            "backup",
            "create",
            "--store",
            str(hospital),
            "--out",
            str(archive),
            "--key-file",
            str(key),
            "-q",
        ],
    )
    assert result.exit_code == 0 and result.output == ""
    return archive, key


def test_damaged_archive_and_wrong_key_exit_1(made: tuple[Path, Path], tmp_path: Path) -> None:
    archive, key = made
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad = tmp_path / "bad.cwb"
    bad.write_bytes(bytes(data))
    result = runner.invoke(app, ["backup", "verify", str(bad), "--key-file", str(key)])
    assert result.exit_code == 1 and "fails authentication" in result.output
    assert "Traceback" not in result.output

    other = tmp_path / "other.key"
    runner.invoke(app, ["backup", "keygen", "--out", str(other)])
    wrong = runner.invoke(app, ["backup", "verify", str(archive), "--key-file", str(other)])
    assert wrong.exit_code == 1 and "wrong key" in wrong.output

    target = tmp_path / "r"
    restore = runner.invoke(
        app, ["backup", "restore", str(bad), "--store", str(target), "--key-file", str(key)]
    )
    assert restore.exit_code == 1 and not target.exists()


def test_usage_errors_exit_2(made: tuple[Path, Path], hospital: Path, tmp_path: Path) -> None:
    archive, key = made
    exists = runner.invoke(
        app,
        [
            "backup",
            "create",
            "--store",
            str(hospital),
            "--out",
            str(archive),
            "--key-file",
            str(key),
        ],
    )
    assert exists.exit_code == 2 and "--force" in exists.output
    forced = runner.invoke(
        app,
        [
            "backup",
            "create",
            "--store",
            str(hospital),
            "--out",
            str(archive),
            "--key-file",
            str(key),
            "--force",
            "-q",
        ],
    )
    assert forced.exit_code == 0, forced.output
    busy = runner.invoke(
        app, ["backup", "restore", str(archive), "--store", str(hospital), "--key-file", str(key)]
    )
    assert busy.exit_code == 2 and "is not empty" in busy.output
    missing = runner.invoke(
        app, ["backup", "verify", str(tmp_path / "x.cwb"), "--key-file", str(key)]
    )
    assert missing.exit_code == 2 and "no such archive" in missing.output
    not_key = runner.invoke(app, ["backup", "verify", str(archive), "--key-file", str(archive)])
    assert not_key.exit_code == 2 and "not a backup key file" in not_key.output


def test_exposed_key_file_is_warned_about(made: tuple[Path, Path]) -> None:
    archive, key = made
    key.chmod(0o644)
    result = runner.invoke(app, ["backup", "verify", str(archive), "--key-file", str(key)])
    assert result.exit_code == 0
    assert "can be read by other users" in result.output
