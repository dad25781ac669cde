"""Reading the backup inventory: YAML and CSV, strict, bad rows quarantined with their line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from carewarden.errors import ConfigError, SourceError
from carewarden.prepare.dr_inventory import (
    FIELDS,
    REQUIRED,
    InventoryCsvMapping,
    read_inventory,
)

NOW = dt.datetime(2026, 3, 10, 0, 0)

GOOD_YAML = """\
as_of: 2026-03-09T06:00:00-06:00
timezone: America/Chicago
defaults:
  restore_test_interval_days: 120
  encrypted: true
backup_sets:
  - system: Epic EHR
    system_kind: EHR
    set: Chronicles nightly
    tier: 1
    rpo_hours: 24
    rto_hours: 8
    last_successful_backup: 2026-03-09T01:30:00
    last_restore_test: 2026-02-01
    last_restore_test_result: Success
    restore_duration_hours: 6.5
    immutable_copy: yes
    offline_copy: no
    copies: 2
    offsite: true
  - system: Active Directory
    system_kind: directory
    tier: Tier 1
    rpo_hours: 24
    rto_hours: 4
    restore_test_interval_days: 180
    immutable_copy: true
    offline_copy: true
    copies: 3
    offsite: true
    encrypted: false
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_inventory_reads_times_defaults_and_lines(tmp_path: Path) -> None:
    """Naive times are in the file's zone and kept in UTC (a date is its midnight); the file's
    defaults fill what a row leaves out; each set keeps its line; as_of is the time."""
    inventory = read_inventory(_write(tmp_path, "inv.yaml", GOOD_YAML), now=NOW)
    assert inventory.format == "yaml" and not inventory.rejected
    assert inventory.taken_at == dt.datetime(2026, 3, 9, 12, 0)
    (line_ehr, ehr), (line_ad, ad) = inventory.sets
    assert (line_ehr, line_ad) == (7, 21)
    assert ehr.system_kind == "ehr" and ehr.last_restore_test_result == "success"
    assert ehr.last_successful_backup == dt.datetime(2026, 3, 9, 6, 30)  # 01:30 CDT
    assert ehr.last_restore_test == dt.datetime(2026, 2, 1, 6, 0)
    assert ehr.restore_test_interval_days == 120 and ehr.encrypted is True
    assert ad.name == "Active Directory" and ad.tier == 1  # the set defaults to the system
    assert ad.restore_test_interval_days == 180 and ad.encrypted is False
    assert ad.last_successful_backup is None and ad.last_restore_test is None


def test_interval_precedence_row_then_file_then_option_then_90(tmp_path: Path) -> None:
    """The restore-test interval: the row's, else the file's defaults, else the option,
    else 90 days."""
    path = _write(tmp_path, "inv.yaml", GOOD_YAML)
    with_option = read_inventory(path, interval_days=30, now=NOW)
    assert [s.restore_test_interval_days for _, s in with_option.sets] == [120, 180]
    bare = _write(
        tmp_path, "bare.yaml", GOOD_YAML.replace("  restore_test_interval_days: 120\n", "")
    )
    assert [s.restore_test_interval_days for _, s in read_inventory(bare, now=NOW).sets] == [
        90,
        180,
    ]
    assert [
        s.restore_test_interval_days
        for _, s in read_inventory(bare, interval_days=30, now=NOW).sets
    ] == [30, 180]


def test_at_overrides_as_of_and_changes_the_snapshot(tmp_path: Path) -> None:
    """--at is the snapshot's time; the same file at the same time is the same snapshot."""
    path = _write(tmp_path, "inv.yaml", GOOD_YAML)
    first = read_inventory(path, now=NOW)
    again = read_inventory(path, now=NOW + dt.timedelta(days=3))
    later = read_inventory(path, at=dt.datetime(2026, 3, 9, 18, 0), now=NOW)
    assert first.snapshot_id == again.snapshot_id
    assert later.taken_at == dt.datetime(2026, 3, 9, 18, 0)
    assert later.snapshot_id != first.snapshot_id


def test_bad_yaml_rows_are_quarantined_with_their_line(tmp_path: Path) -> None:
    """Each bad row is refused with its line and every problem named; the good rows stay."""
    text = GOOD_YAML + (
        "  - system: PACS\n"  # line 32
        "    system_kind: radiology\n"
        "    tier: 4\n"
        "    rpo_hours: true\n"
        "    rto_hours: 8\n"
        "    immutable_copy: maybe\n"
        "    offline_copy: false\n"
        "    copies: 1\n"
        "    offsite: true\n"
        "    colour: red\n"
        "  - just a string\n"  # line 42
        "  - system: Lab\n"  # line 43
        "    system_kind: lab\n"
        "    tier: 1\n"
        "    rpo_hours: 12\n"
        "    rto_hours: 8\n"
        "    last_restore_test: 2026-01-05\n"
        "    immutable_copy: true\n"
        "    offline_copy: false\n"
        "    copies: 2\n"
        "    offsite: true\n"
        "  - system: Epic EHR\n"  # line 53: a repeat of line 7's set
        "    system_kind: ehr\n"
        "    set: Chronicles nightly\n"
        "    tier: 1\n"
        "    rpo_hours: 4\n"
        "    rto_hours: 8\n"
        "    last_successful_backup: 2026-03-09T23:00:00Z\n"
        "    immutable_copy: true\n"
        "    offline_copy: false\n"
        "    copies: 2\n"
        "    offsite: true\n"
    )
    inventory = read_inventory(_write(tmp_path, "inv.yaml", text), now=NOW)
    assert [s.system for _, s in inventory.sets] == ["Epic EHR", "Active Directory"]
    errors = {r.line: r.error for r in inventory.rejected}
    assert sorted(errors) == [32, 42, 43, 53]
    for expected in (
        "system_kind: Input should be",
        "tier: Input should be less than or equal to 3",
        "rpo_hours: expected a number, not true/false",
        "immutable_copy: Input should be a valid boolean",
        "colour: unknown field",
    ):
        assert expected in errors[32]
    assert errors[42] == "expected a mapping of inventory fields"
    assert errors[43] == "last_restore_test_result: required with last_restore_test"
    assert "is after the inventory's time" in errors[53]
    assert all(r.raw for r in inventory.rejected)


def test_repeated_backup_set_is_quarantined(tmp_path: Path) -> None:
    """Two rows for one set: the second is refused, naming the first's line."""
    lines = GOOD_YAML.splitlines(keepends=True)
    text = "".join(lines) + "".join(lines[6:20])  # the Epic EHR row again, at line 32
    inventory = read_inventory(_write(tmp_path, "inv.yaml", text), now=NOW)
    (reject,) = inventory.rejected
    assert reject.line == 32
    assert (
        reject.error == "backup set 'Epic EHR / Chronicles nightly' appears twice (first at line 7)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("backup_sets: [\n  {system: x\n", "not valid YAML"),
        ("- a list\n", "expected a mapping with a backup_sets list"),
        ("backup_sets: []\n", "backup_sets: List should have at least 1 item"),
        ("backup_set:\n  - system: x\n", "backup_set: unknown field"),
        ("timezone: Mars/Olympus\nbackup_sets: [{}]\n", "unknown time zone 'Mars/Olympus'"),
        ("defaults: {colour: red}\nbackup_sets: [{}]\n", "unknown inventory field(s) ['colour']"),
        ("as_of: yesterday\nbackup_sets: [{}]\n", "as_of: 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_unusable_yaml_file_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    """A problem with the whole file refuses it, naming the file (and the line for YAML
    syntax)."""
    path = _write(tmp_path, "inv.yaml", text)
    with pytest.raises((ConfigError, SourceError)) as caught:
        read_inventory(path, now=NOW)
    assert str(path) in str(caught.value) and message in str(caught.value)
    if message == "not valid YAML":
        assert f"{path}:3:" in str(caught.value)


CSV_HEADER = (
    "System,System_Kind,set,tier,rpo_hours,rto_hours,last_successful_backup,last_restore_test,"
    "last_restore_test_result,restore_duration_hours,immutable_copy,offline_copy,copies,"
    "offsite,encrypted,owner,notes\n"
)


def test_csv_with_documented_headers(tmp_path: Path) -> None:
    """Headers are the field names (any case, Excel's BOM allowed); empty cells are absent;
    a quoted cell may span lines and a bad row is quarantined at the line it starts on."""
    text = (
        "\ufeff"
        + CSV_HEADER
        + (
            "Epic EHR,ehr,nightly,1,24,8,2026-03-09T01:00:00Z,2026-02-01,success,6,yes,no,2,"
            'yes,,Epic team,"two lines\nof notes"\n'  # lines 2-3
            "PACS,pacs,images,1,24,72,2026-03-09 02:00,,,,No,No,1,Yes,true,,\n"  # line 4
            "Lab,lab,db,one,12,8,,,,,yes,no,2,yes,,,\n"  # line 5
            "short,row\n"  # line 6
            "\n"
        )
    )
    inventory = read_inventory(
        _write(tmp_path, "export.csv", text), site_zone="America/Chicago", now=NOW
    )
    assert inventory.format == "csv" and inventory.taken_at == NOW
    (l1, ehr), (l2, pacs) = inventory.sets
    assert (l1, l2) == (2, 4)
    assert ehr.notes == "two lines of notes" and ehr.encrypted is None
    assert ehr.last_successful_backup == dt.datetime(2026, 3, 9, 1, 0)
    assert pacs.last_successful_backup == dt.datetime(2026, 3, 9, 7, 0)  # site zone, CDT
    assert pacs.immutable_copy is False and pacs.last_restore_test is None
    assert {r.line: r.error for r in inventory.rejected} == {
        5: "tier: Input should be a valid integer, unable to parse string as an integer",
        6: "expected 17 cells, found 2",
    }


def test_csv_unknown_column_is_refused_clearly(tmp_path: Path) -> None:
    """A column that is no inventory field refuses the file at line 1, naming the column and
    the fields, and pointing to --mapping."""
    path = _write(tmp_path, "export.csv", CSV_HEADER.replace("copies", "Copy Count") + "\n")
    with pytest.raises(SourceError) as caught:
        read_inventory(path, now=NOW)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: unknown column(s) ['Copy Count']")
    assert "--mapping" in message and "'immutable_copy'" in message


def test_csv_missing_required_column_is_refused(tmp_path: Path) -> None:
    """Without a required field's column every row would fail: the file is refused."""
    path = _write(tmp_path, "export.csv", CSV_HEADER.replace(",offsite", "") + "\n")
    with pytest.raises(SourceError, match=r"required field\(s\) \['offsite'\] have no column"):
        read_inventory(path, now=NOW)


MAPPING = """\
name: backup-tool-report
columns:
  system: Application
  set: Job Name
  system_kind: Category
  tier: Criticality
  rpo_hours: RPO (h)
  rto_hours: RTO (h)
  last_successful_backup: Last Success
  last_restore_test: Last Restore Test
  last_restore_test_result: Restore Result
  restore_duration_hours: Restore Hours
  immutable_copy: Immutable
  copies: Copies
values:
  last_restore_test_result: {Succeeded: success, Warning: partial, Failed: failed}
  system_kind: {Imaging: pacs, Clinical: ehr}
time_format: "%m/%d/%Y %I:%M %p"
timezone: America/New_York
ignore: [Job Id, Size (GB)]
defaults:
  offline_copy: false
  offsite: true
"""

EXPORT = """\
Job Id,Application,Job Name,Category,Criticality,RPO (h),RTO (h),Last Success,\
Last Restore Test,Restore Result,Restore Hours,Immutable,Copies,Size (GB)
17,Epic,Chronicles,Clinical,Tier 1,24,8,03/09/2026 01:00 AM,02/01/2026 10:00 PM,Succeeded,\
7.5,Yes,2,900
18,PACS,Images,Imaging,Tier 1,24,72,03/09/2026 02:00 AM,02/11/2026 09:00 AM,Warning,,No,1,\
51000
19,PACS,Database,Imaging,T1,24,8,2026-03-09,02/11/2026 09:00 AM,Succeeded,3,Yes,2,12
"""


def test_csv_export_with_a_column_mapping(tmp_path: Path) -> None:
    """A mapping names the export's columns, translates values and times, ignores listed
    columns and supplies defaults for fields the export lacks."""
    mapping = InventoryCsvMapping.load(_write(tmp_path, "map.yaml", MAPPING))
    inventory = read_inventory(_write(tmp_path, "report.csv", EXPORT), mapping=mapping, now=NOW)
    (_, epic), (_, images) = inventory.sets
    assert (epic.system, epic.name, epic.system_kind, epic.tier) == ("Epic", "Chronicles", "ehr", 1)
    assert epic.last_successful_backup == dt.datetime(2026, 3, 9, 5, 0)  # 01:00 EDT
    assert epic.last_restore_test == dt.datetime(2026, 2, 2, 3, 0)
    assert epic.restore_duration_hours == 7.5 and epic.offsite and not epic.offline_copy
    assert images.last_restore_test_result == "partial" and images.copies == 1
    (reject,) = inventory.rejected
    assert reject.line == 4
    assert reject.error == (
        "last_successful_backup: '2026-03-09' is not the format '%m/%d/%Y %I:%M %p'"
    )


def test_mapping_refuses_unmapped_columns_and_unknown_fields(tmp_path: Path) -> None:
    """An export column neither mapped nor ignored refuses the file; a mapping naming a
    field the inventory lacks is refused, naming the mapping file."""
    mapping = InventoryCsvMapping.load(
        _write(tmp_path, "map.yaml", MAPPING.replace("ignore: [Job Id, Size (GB)]", "ignore: []"))
    )
    with pytest.raises(SourceError, match=r"unknown column\(s\) \['Job Id', 'Size \(GB\)'\]"):
        read_inventory(_write(tmp_path, "report.csv", EXPORT), mapping=mapping, now=NOW)
    bad = _write(tmp_path, "bad.yaml", MAPPING.replace("  copies: Copies", "  copys: Copies"))
    with pytest.raises(ConfigError) as caught:
        InventoryCsvMapping.load(bad)
    assert str(bad) in str(caught.value) and "unknown inventory field(s) ['copys']" in str(
        caught.value
    )
    missing = InventoryCsvMapping.load(
        _write(tmp_path, "m2.yaml", MAPPING.replace("Job Name", "Job Title"))
    )
    with pytest.raises(SourceError, match=r"names column\(s\) \['Job Title'\] that the header"):
        read_inventory(_write(tmp_path, "report.csv", EXPORT), mapping=missing, now=NOW)


def test_format_from_extension_or_option(tmp_path: Path) -> None:
    """The format comes from the extension, or --format; a mapping is for CSV only."""
    odd = _write(tmp_path, "inventory.export", GOOD_YAML)
    with pytest.raises(ConfigError, match=r"give --format yaml\|csv"):
        read_inventory(odd, now=NOW)
    assert len(read_inventory(odd, format="yaml", now=NOW).sets) == 2
    mapping = InventoryCsvMapping.load(_write(tmp_path, "map.yaml", MAPPING))
    with pytest.raises(ConfigError, match="CSV files only"):
        read_inventory(odd, format="yaml", mapping=mapping, now=NOW)
    with pytest.raises(ConfigError, match="not found"):
        read_inventory(tmp_path / "none.yaml", now=NOW)


def test_field_lists_are_the_documented_ones() -> None:
    """The file format is a contract: the fields and the required ones are as documented."""
    assert FIELDS == (
        "system",
        "system_kind",
        "set",
        "component",
        "tier",
        "rpo_hours",
        "rto_hours",
        "last_successful_backup",
        "last_restore_test",
        "last_restore_test_result",
        "restore_duration_hours",
        "restore_test_interval_days",
        "immutable_copy",
        "offline_copy",
        "copies",
        "media",
        "offsite",
        "encrypted",
        "owner",
        "notes",
    )
    assert REQUIRED == (
        "system",
        "system_kind",
        "tier",
        "rpo_hours",
        "rto_hours",
        "immutable_copy",
        "offline_copy",
        "copies",
        "offsite",
    )


def test_times_that_are_no_text_are_refused(tmp_path: Path) -> None:
    """A number where a time belongs (YAML reads 1700000000 as one) is refused, not read as
    a Unix time."""
    text = GOOD_YAML.replace("2026-03-09T01:30:00", "1700000000")
    inventory = read_inventory(_write(tmp_path, "inv.yaml", text), now=NOW)
    (reject,) = inventory.rejected
    assert reject.line == 7
    assert reject.error == "last_successful_backup: expected an ISO 8601 time, not 1700000000"


VALUES = st.sampled_from(
    ["", "1", "-1", "x", "true", "no", "2026-03-09", "2026-13-40", "1e400", '"', "\x00", "[", ":"]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["yaml", "csv"]),
    cuts=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 30), VALUES), max_size=6),
)
@example(kind="yaml", cuts=[(0, 0, "\t")])
@example(kind="csv", cuts=[(10, 0, '"')])
def test_mangled_inventories_never_crash(
    tmp_path: Path, kind: str, cuts: list[tuple[int, int, str]]
) -> None:
    """Whatever is cut out of or put into an inventory, reading it either refuses the file
    with a Carewarden error or keeps the good rows and gives a line for each refused one."""
    data = (
        GOOD_YAML
        if kind == "yaml"
        else CSV_HEADER
        + (
            "Epic EHR,ehr,nightly,1,24,8,2026-03-09T01:00:00Z,2026-02-01,success,6,"
            "yes,no,2,yes,,,\n"
            "PACS,pacs,images,1,24,72,2026-03-09T02:00:00Z,,,,no,no,1,yes,,,\n"
        )
    )
    for position, length, value in cuts:
        at = position % (len(data) + 1)
        data = data[:at] + value + data[at + length :]
    path = tmp_path / f"inv.{kind}"
    path.write_text(data, encoding="utf-8")
    try:
        inventory = read_inventory(path, now=NOW)
    except (ConfigError, SourceError):
        return
    assert all(r.line is not None and r.line >= 1 for r in inventory.rejected)
    assert all(line is not None for line, _ in inventory.sets)
