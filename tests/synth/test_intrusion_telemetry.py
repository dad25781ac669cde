"""The synthetic estate telemetry with its ransomware intrusion: deterministic per seed,
ingested without a rejected record, and, with the built-in Sigma pack, every injected step on
every host raises an alert while the benign background raises no high or critical one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from carewarden.report.html import render_report
from carewarden.services.demo import ingest_telemetry
from carewarden.services.detect import detect
from carewarden.services.ingest import IngestSummary
from carewarden.services.overview import overview
from carewarden.services.rules import BUILTIN_COMMIT
from carewarden.store import Store
from carewarden.synth.intrusion import (
    STEPS,
    IntrusionConfig,
    IntrusionResult,
    generate_intrusion,
    read_truth,
)

CONFIG = IntrusionConfig(seed=3, days=2, clinical_workstations=2, nursing_workstations=2)


@dataclass
class Run:
    result: IntrusionResult
    truth: list[dict[str, Any]]
    ingested: list[IngestSummary]
    store: Store


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Two days of telemetry, the pack imported, everything ingested and detected once."""
    folder = tmp_path_factory.mktemp("intrusion")
    result = generate_intrusion(folder / "telemetry", CONFIG)
    with Store.open(folder / "store") as store:
        ingested = ingest_telemetry(store, result)
        detect(store, site_tz=CONFIG.site_tz)
        yield Run(result, read_truth(result.truth_path), ingested, store)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    """The same configuration writes byte-identical files; another seed does not."""
    a = generate_intrusion(tmp_path / "a", CONFIG)
    b = generate_intrusion(tmp_path / "b", CONFIG)
    c = generate_intrusion(tmp_path / "c", IntrusionConfig(seed=4, days=2))
    assert _files(a.out_dir) == _files(b.out_dir)
    assert _files(a.out_dir)["windows/winlogbeat.jsonl"] != _files(c.out_dir)[
        "windows/winlogbeat.jsonl"
    ]
    assert set(_files(a.out_dir)) == {
        "windows/winlogbeat.jsonl",
        "zeek/conn.log",
        "zeek/smb_mapping.log",
        "zeek/smb_files.log",
        "intrusion_truth.jsonl",
    }


def test_truth_names_every_step_with_host_time_and_technique(run: Run) -> None:
    """Steps 1-2 on the nursing workstation, step 3 on it and both servers, steps 4-5 on both
    servers; each row within the attack day, with ATT&CK technique ids and event ids."""
    by_step: dict[int, set[str]] = {}
    day = CONFIG.start + dt.timedelta(days=CONFIG.days // 2)
    for row in run.truth:
        by_step.setdefault(row["step"], set()).add(row["host"].split(".")[0])
        assert row["techniques"] and all(t.startswith("T1") for t in row["techniques"])
        assert row["event_uids"] and all(u.startswith(row["host"] + "/") for u in row["event_uids"])
        start = dt.datetime.fromisoformat(row["start"])
        assert start <= dt.datetime.fromisoformat(row["end"])
        assert day <= start.date() <= day + dt.timedelta(days=1)
    assert set(by_step) == {n for n, *_ in STEPS}
    workstation = by_step[1].pop()
    assert workstation.startswith("NURS-WS-") and by_step[2] == {workstation}
    assert by_step[3] == {workstation, "FS01", "PACS01"}
    assert by_step[4] == by_step[5] == {"FS01", "PACS01"}


def test_telemetry_ingests_without_rejects(run: Run) -> None:
    """Every Windows event and Zeek record lands; none is quarantined or fails."""
    windows, zeek = run.ingested
    assert windows.total("records") == run.result.events
    assert zeek.total("records") >= run.result.connections
    for summary in run.ingested:
        assert summary.total("quarantined") == 0 and not summary.failed


def test_every_injected_step_raises_an_alert(run: Run) -> None:
    """Recall per step and host: an alert on that host whose evidence holds the step's events."""
    alerts = run.store.query("SELECT host, event_ids FROM alert WHERE host IS NOT NULL")
    missed = []
    for row in run.truth:
        step_events = set(row["event_uids"])
        if not any(host == row["host"] and step_events & set(ids) for host, ids in alerts):
            missed.append((row["step"], row["name"], row["host"]))
    assert not missed


def test_benign_background_raises_no_high_or_critical_alert(run: Run) -> None:
    """Every high or critical Sigma alert's evidence is the intrusion's own events."""
    attack = {uid for row in run.truth for uid in row["event_uids"]}
    rows = run.store.query(
        "SELECT a.title, a.host, a.event_ids FROM alert a JOIN sigma_rule r USING (rule_id) "
        "WHERE a.severity IN ('high', 'critical')"
    )
    assert rows
    benign = [(title, host) for title, host, ids in rows if not set(ids) <= attack]
    assert not benign


def test_detecting_again_adds_no_alert(run: Run) -> None:
    """A second detection over the same events finds the same alerts and adds none."""
    before = run.store.query("SELECT count(*) FROM alert")[0][0]
    detect(run.store, site_tz=CONFIG.site_tz)
    assert run.store.query("SELECT count(*) FROM alert")[0][0] == before


def test_zeek_logs_show_the_smb_lateral_movement(run: Run) -> None:
    """conn records from the compromised workstation to port 445 of both servers, in the hour
    of step 3, and the SMB mappings of their admin shares."""
    lateral = [r for r in run.truth if r["name"] == "lateral-movement"]
    source = next(r["host"] for r in lateral if r["host"].startswith("NURS-WS-"))
    start = min(dt.datetime.fromisoformat(r["start"]) for r in lateral).replace(tzinfo=None)
    end = max(dt.datetime.fromisoformat(r["end"]) for r in lateral).replace(tzinfo=None)
    source_ip = run.store.query(
        "SELECT DISTINCT src_ip FROM security_event WHERE provider = 'zeek/conn' AND "
        "dst_port = '445' AND time BETWEEN ? AND ? AND src_ip LIKE '10.10.30.%'",
        [start, end],
    )
    assert len(source_ip) == 1, source
    targets = {
        ip
        for (ip,) in run.store.query(
            "SELECT DISTINCT dst_ip FROM security_event WHERE provider = 'zeek/conn' AND "
            "dst_port = '445' AND src_ip = ? AND time BETWEEN ? AND ?",
            [source_ip[0][0], start, end],
        )
    }
    assert targets == {"10.10.1.20", "10.10.1.30"}
    shares = {
        raw
        for (raw,) in run.store.query(
            "SELECT raw FROM security_event WHERE provider = 'zeek/smb_mapping' AND src_ip = ?",
            [source_ip[0][0]],
        )
    }
    assert any("\\\\FS01\\\\ADMIN$" in raw for raw in shares), shares


def test_report_lists_findings_by_host_with_credit(run: Run) -> None:
    """The report's section names every attacked host, ATT&CK techniques, each rule's author
    and its SigmaHQ link under the DRL, and fetches nothing from outside."""
    figures = overview(run.store)
    html = render_report(figures)
    assert "Endpoint and network detections" in html
    hosts = {row["host"] for row in run.truth}
    assert {h.host for h in figures.endpoint} == hosts
    for host in hosts:
        assert host in html
    assert f"https://github.com/SigmaHQ/sigma/blob/{BUILTIN_COMMIT}/rules/windows/" in html
    assert "Detection Rule License 1.1" in html and "T1003.001" in html
    for finding in figures.endpoint[0].findings:
        assert finding.author.split(",")[0].split(" (")[0] in html
    assert 'src="http' not in html and 'href="http' not in html



def test_report_shows_the_admin_share_mappings_zeek_saw(run: Run) -> None:
    """The SMB mappings of C$ and ADMIN$ on both servers, from the compromised workstation
    named by its Sysmon network events; no ordinary share, no IPC$."""
    figures = overview(run.store)
    workstation = next(r["host"] for r in run.truth if r["step"] == 1)
    mapped = {(m.source, m.target, m.share) for m in figures.admin_shares}
    assert mapped == {
        (workstation, f"{server}.hosp.example", f"\\\\{server}\\{share}")
        for server in ("FS01", "PACS01")
        for share in ("C$", "ADMIN$")
    }
    html = render_report(figures)
    assert "administrative shares mapped over SMB" in html and "\\\\PACS01\\ADMIN$" in html


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    """An attack day outside the period, or no nursing workstation, is a clear error."""
    with pytest.raises(ValueError, match="attack_day"):
        generate_intrusion(tmp_path, IntrusionConfig(days=2, attack_day=2))
    with pytest.raises(ValueError, match="nursing"):
        generate_intrusion(tmp_path, IntrusionConfig(nursing_workstations=0))


def test_readme_figures_are_those_of_the_demo_estate(tmp_path: Path) -> None:
    """The README's demo line counts the records of seed 1 over 7 days (Windows events plus
    Zeek records) and names 9 hosts."""
    result = generate_intrusion(tmp_path, IntrusionConfig(seed=1, days=7))
    zeek = sum(
        1
        for path in result.zeek_files
        for line in path.read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    )
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    assert (
        f"{result.events + zeek:,} Windows and Zeek records from {len(result.hosts)} hosts"
        in readme
    )
