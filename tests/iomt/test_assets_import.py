"""CMDB/CSV imports: mappings, default headers, quarantine, merging with discovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from assetkit import conn, dhcp, load
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.errors import ConfigError
from carewarden.iomt.cmdb import CmdbMapping
from carewarden.services.assets import import_files, list_assets
from carewarden.store import Store

runner = CliRunner(env={"COLUMNS": "200"})

EXPORT = """Asset Tag,Device Name,MAC,IP,Category,Manufacturer,Model,Room
T-1,PUMP-OLD-7,00-12-21-AA-00-07,,IV Pump,B. Braun,InfuStar 300,3W-12
T-2,CT-SCANNER,,10.50.0.10,Imaging,GE Healthcare,Revo CT 64,Radiology
T-3,bad-mac,00:12:21:zz:00:01,,IV Pump,B. Braun,InfuStar 300,3W
T-4,bad-ip,,10.50.0.999,Imaging,GE,Revo,Radiology
T-5,too,many,fields,,,,,,
T-6,,,,Printer,HP,LaserPro,Lobby
T-7,ARCHIVE-1,,,PACS,ImageVault,ImageVault PACS,Data centre
"""
MAPPING = """columns:
  hostname: Device Name
  mac: MAC
  ip: IP
  class: Category
  vendor: Manufacturer
  model: Model
  location: Room
classes:
  IV Pump: infusion_pump
  Imaging: imaging_modality
"""


def _write(tmp_path: Path, text: str, name: str = "cmdb.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_import_with_mapping_merges_and_quarantines(store: Store, tmp_path: Path) -> None:
    """Rows land as observations: one joins the device discovered with its MAC, one the
    static device of its address, one stands alone; malformed rows are quarantined with
    their file and line; a second import of the same file adds nothing."""
    load(store, tmp_path / "zeek", [
        dhcp(0, "00:12:21:aa:00:07", "10.20.0.100"),
        conn(10, "10.50.0.10", "10.1.2.20", 104),
    ])
    export, mapping = _write(tmp_path, EXPORT), _write(tmp_path, MAPPING, "map.yaml")
    summary = import_files(store, [export], CmdbMapping.load(mapping))
    assert summary.total("records") == 3 and summary.total("quarantined") == 4
    quarantined = store.query(
        "SELECT path, line, error FROM quarantine WHERE kind = 'assets-csv' ORDER BY line"
    )
    assert [(p, line) for p, line, _ in quarantined] == [(str(export.resolve()), n)
                                                          for n in (4, 5, 6, 7)]
    errors = [e for *_, e in quarantined]
    assert "not a MAC address" in errors[0] and "not an IP address" in errors[1]
    assert "fields where the header has" in errors[2] and "no MAC, IP" in errors[3]
    assets = {a["id"]: a for a in list_assets(store)}
    by_name = {a["hostnames"][0] if a["hostnames"] else a["ips"][0]: a for a in assets.values()}
    pump = by_name["pump-old-7"]
    assert pump["macs"] == ["00:12:21:aa:00:07"] and pump["ips"] == ["10.20.0.100"]
    assert pump["class"] == "infusion_pump" and pump["model"] == "InfuStar 300"
    assert pump["zone"] == "3W-12"
    assert any(e["source"].startswith("import:cmdb.csv:2") for e in pump["evidence"])
    ct = by_name["ct-scanner"]
    assert ct["ips"] == ["10.50.0.10"] and ct["class"] == "imaging_modality"
    archive = by_name["archive-1"]
    assert archive["class"] == "pacs" and archive["ips"] == [] and archive["macs"] == []
    again = import_files(store, [export], CmdbMapping.load(mapping))
    assert again.files[0].status == "already ingested"
    assert store.query("SELECT count(*) FROM asset_import") == [(3,)]


def test_default_headers_and_rediscovery_keeps_rows(store: Store, tmp_path: Path) -> None:
    """Without a mapping, common header names are recognised; `assets discover` keeps the
    imported rows."""
    export = _write(tmp_path, "MAC Address,Hostname,Device Type\n"
                              "00:09:5c:00:00:01,MON-2W-001,Patient Monitor\n")
    import_files(store, [export], CmdbMapping())
    from carewarden.services.assets import run_discovery

    run_discovery(store)
    (monitor,) = list_assets(store)
    assert monitor["class"] == "patient_monitor" and monitor["vendor"] == "Philips"


def test_unknown_mapping_column_is_refused(store: Store, tmp_path: Path) -> None:
    """A mapping naming a column the file lacks is refused before anything is written; so is
    a mapping with an unknown field or class (exit code 2 from the command)."""
    export = _write(tmp_path, EXPORT)
    wrong = _write(tmp_path, "columns:\n  mac: Hardware Address\n", "wrong.yaml")
    with pytest.raises(ConfigError, match="'Hardware Address'"):
        import_files(store, [export], CmdbMapping.load(wrong))
    assert store.query("SELECT count(*) FROM source_file") == [(0,)]
    result = runner.invoke(app, ["assets", "import", str(export), "--mapping", str(wrong),
                                 "--store", str(tmp_path / "s2")])
    assert result.exit_code == 2 and "Hardware Address" in result.output
    field = _write(tmp_path, "columns:\n  colour: Category\n", "field.yaml")
    with pytest.raises(ConfigError, match="unknown field"):
        CmdbMapping.load(field)
    klass = _write(tmp_path, "classes:\n  IV Pump: pump\n", "class.yaml")
    with pytest.raises(ConfigError, match="unknown class"):
        CmdbMapping.load(klass)


def test_import_command_exit_codes(tmp_path: Path) -> None:
    """`assets import` exits 1 when rows were quarantined and names file and line."""
    export, mapping = _write(tmp_path, EXPORT), _write(tmp_path, MAPPING, "map.yaml")
    result = runner.invoke(app, ["assets", "import", str(export), "-m", str(mapping),
                                 "--store", str(tmp_path / "s")])
    assert result.exit_code == 1, result.output
    assert f"{export.resolve()}:4: not a MAC address" in result.output.replace("\n", "")
