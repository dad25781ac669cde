"""Correctness on real data (../shared/corpora): SigmaHQ's regression samples must fire their
rule; attack samples fire the rule of their technique; a benign baseline raises no high or
critical alert."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
import yaml

from carewarden.sigma.compiler import CompiledRule
from carewarden.sigma.engine import SigmaEngine
from carewarden.telemetry.evtx import iter_events
from carewarden.telemetry.winevent import WinEvent, from_json

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
REGRESSION = CORPORA / "sigma" / "regression_data"
ATTACK = CORPORA / "evtx" / "EVTX-ATTACK-SAMPLES"
BASELINE = Path(__file__).parent / "benign_baseline.jsonl"


def read_evtx(path: Path) -> list[WinEvent]:
    return [item[0] for item in iter_events(path) if isinstance(item, tuple)]


def fired_per_file(engine: SigmaEngine, paths: list[Path]) -> dict[Path, set[str]]:
    """The rule ids that fire on each file, all files evaluated as one batch."""
    events: list[WinEvent] = []
    owner: list[Path] = []
    for path in paths:
        read = read_evtx(path)
        events.extend(read)
        owner.extend([path] * len(read))
    out: dict[Path, set[str]] = {p: set() for p in paths}
    for match in engine.evaluate(events):
        out[owner[match.event]].add(match.rule.rule_id)
    return out


def test_every_regression_sample_fires_its_rule(
    windows_rules: list[CompiledRule], windows_engine: SigmaEngine
) -> None:
    """Each info.yml names a rule and an EVTX sample; every such rule that is in
    sigma/rules/ fires on its own sample."""
    if not REGRESSION.exists():
        pytest.skip("shared regression data not present")
    known = {r.rule_id: r for r in windows_rules}
    expected: list[tuple[str, Path]] = []
    for info_path in sorted(REGRESSION.rglob("info.yml")):
        info = yaml.safe_load(info_path.read_text())
        rule_id = info["rule_metadata"][0]["id"]
        if rule_id not in known:
            continue  # rules-emerging-threats / threat-hunting / non-Windows: not in rules/windows
        for test in info["regression_tests_info"]:
            if test.get("type") == "evtx":
                expected.append((rule_id, REGRESSION.parent / test["path"]))
    fired = fired_per_file(windows_engine, sorted({p for _, p in expected}))
    missed = [
        f"{known[rule_id].path} on {sample.name}: {known[rule_id].error}"
        for rule_id, sample in expected
        if rule_id not in fired[sample]
    ]
    assert len(expected) >= 190
    assert missed == []


# (sample under EVTX-ATTACK-SAMPLES, the SigmaHQ rule of the technique it demonstrates)
ATTACK_PAIRS = [
    ("Command and Control/DE_RDP_Tunnel_5156.evtx", "5bed80b6-b3e8-428e-a3ae-d3c757589e41"),
    (
        "Credential Access/4794_DSRM_password_change_t1098.evtx",
        "53ad8e36-f573-46bf-97e4-15ba5bf4bb51",
    ),
    ("Credential Access/CA_DCSync_4662.evtx", "17d619c1-e020-4347-957e-1d1207455c93"),
    (
        "Credential Access/CA_Mimikatz_Memssp_Default_Logs_Sysmon_11.evtx",
        "9e099d99-44c2-42b6-a6d8-54c3545cab29",
    ),
    (
        "Credential Access/CA_hashdump_4663_4656_lsass_access.evtx",
        "4a1b6da0-d94f-4fc3-98fc-2d9cb9e5ee76",
    ),
    ("Credential Access/CA_keefarce_keepass_credump.evtx", "77564cc2-7382-438b-a7f6-395c2ae53b9a"),
    (
        "Credential Access/CA_keepass_KeeThief_Get-KeePassDatabaseKey.evtx",
        "77564cc2-7382-438b-a7f6-395c2ae53b9a",
    ),
    (
        "Credential Access/MSSQL_multiple_failed_logon_EventID_18456.evtx",
        "218d2855-2bba-4f61-9c85-81d0ea63ac71",
    ),
    (
        "Credential Access/dc_applog_ntdsutil_dfir_325_326_327.evtx",
        "e6e88853-5f20-4c4a-8d26-cd469fd8d31f",
    ),
    ("Credential Access/sysmon_10_11_lsass_memdump.evtx", "a5a2d357-1ab8-4675-a967-ef9990a59391"),
    (
        "Credential Access/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx",
        "93d94efc-d7ad-4161-ad7d-1638c4f908d8",
    ),
    (
        "Credential Access/sysmon_10_1_memdump_comsvcs_minidump.evtx",
        "646ea171-dded-4578-8a4d-65e9822892e3",
    ),
    (
        "Credential Access/sysmon_2x10_lsass_with_different_pid_RtlCreateProcessReflection.evtx",
        "5ef9853e-4d0e-4a70-846f-a9ca37d876da",
    ),
    (
        "Credential Access/sysmon_rdrleakdiag_lsass_dump.evtx",
        "edadb1e5-5919-4e4c-8462-a9e643b02c4b",
    ),
    ("Defense Evasion/DE_104_system_log_cleared.evtx", "100ef69e-3327-481c-8e5c-6d80d9507556"),
    ("Defense Evasion/DE_1102_security_log_cleared.evtx", "d99b79d2-0a6f-4f46-ad8b-260b6e17f982"),
    ("Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx", "48437c39-9e5f-47fb-af95-3d663c3f2919"),
    (
        "Defense Evasion/DE_xp_cmdshell_enabled_MSSQL_EID_15457.evtx",
        "d08dd86f-681e-4a00-a92c-1db218754417",
    ),
    (
        "Defense Evasion/Sysmon_10_Evasion_Suspicious_NtOpenProcess_CallTrace.evtx",
        "3f3f3506-1895-401b-9cc3-e86b16e630d0",
    ),
    (
        "Defense Evasion/de_PsScriptBlockLogging_disabled_sysmon12_13.evtx",
        "fecfd1a1-cc78-4313-a1ea-2ee2e8ec27a7",
    ),
    (
        "Defense Evasion/de_hiding_files_via_attrib_cmdlet.evtx",
        "4281cb20-2994-4580-aa63-c8b86d019934",
    ),
    (
        "Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx",
        "782d6f3e-4c5d-4b8c-92a3-1d05fed72e63",
    ),
    (
        "Defense Evasion/sideloading_wwlib_sysmon_7_1_11.evtx",
        "e2e01011-5910-4267-9c3b-4149ed5479cf",
    ),
    (
        "Defense Evasion/sysmon_13_rdp_settings_tampering.evtx",
        "a2863fbc-d5cb-48d5-83fb-d976d4b1743b",
    ),
    ("Execution/exec_msxsl_xsl_sysmon_1_7.evtx", "9e50a8b3-dd05-4eb8-9153-bdb6b79d50b0"),
    (
        "Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
        "cc7abbd0-762b-41e3-8a26-57ad50d2eea3",
    ),
    (
        "Execution/exec_sysmon_1_11_lolbin_rundll32_openurl_FileProtocolHandler.evtx",
        "e593cf51-88db-4ee1-b920-37e89012a3c9",
    ),
    ("Execution/exec_sysmon_1_lolbin_pcalua.evtx", "0955e4e1-c281-4fb9-9ee1-5ee7b4b754d2"),
    ("Execution/exec_sysmon_lobin_regsvr32_sct.evtx", "ab37a6ec-6068-432b-a64e-2c7bf95b1d22"),
    (
        "Execution/sysmon_11_1_lolbas_downldr_desktopimgdownldr.evtx",
        "fc4f4817-0c53-4683-a4ee-b17a64bc1039",
    ),
    ("Execution/sysmon_lolbin_bohops_vshadow_exec.evtx", "d7c75059-2901-4578-b209-8837fd31c6a8"),
    ("Execution/sysmon_zipexec.evtx", "90dcf730-1b71-4ae7-9ffc-6fcf62bd0132"),
    (
        "Lateral Movement/LM_DCOM_MSHTA_LethalHTA_Sysmon_3_1.evtx",
        "ed5d72a6-f8f4-479d-ba79-02f6a80d7471",
    ),
    (
        "Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx",
        "10c14723-61c7-4c75-92ca-9af245723ad2",
    ),
    (
        "Lateral Movement/LM_wmiexec_impacket_sysmon_whoami.evtx",
        "10c14723-61c7-4c75-92ca-9af245723ad2",
    ),
    ("Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx", "7f103213-a04e-4d59-8261-213dddf22314"),
    ("Lateral Movement/LM_tsclient_startup_folder.evtx", "2aa0a6b4-a865-495b-ab51-c28249537b75"),
    (
        "Lateral Movement/remote task update 4624 4702 same logonid.evtx",
        "614cf376-6651-47c4-9dcc-6b9527f749f4",
    ),
    (
        "Persistence/DACL_DCSync_Right_Powerview_ Add-DomainObjectAcl.evtx",
        "2c99737c-585d-4431-b61a-c911d86ff32f",
    ),
    (
        "Persistence/Network_Service_Guest_added_to_admins_4732.evtx",
        "c265cf08-3f99-46c1-8d59-328247057d57",
    ),
    (
        "Persistence/persistence_SilentProcessExit_ImageHijack_sysmon_13_1.evtx",
        "36803969-5421-41ec-b92f-8500f79c23b0",
    ),
    (
        "Persistence/persistence_hidden_local_account_sysmon.evtx",
        "460479f3-80b7-42da-9c43-2cc1d54dbccd",
    ),
    (
        "Persistence/persistence_startup_UserShellStartup_Folder_Changed_sysmon_13.evtx",
        "9c226817-8dc9-46c2-a58d-66655aafd7dc",
    ),
    (
        "Persistence/persistence_sysmon_11_13_1_shime_appfix.evtx",
        "dfb5b4e8-91d0-4291-b40a-e3b0d3942c45",
    ),
    (
        "Privilege Escalation/EfsPotato_sysmon_17_18_privesc_seimpersonate_to_system.evtx",
        "637f689e-b4a5-4a86-be0e-0100a0a33ba2",
    ),
    (
        "Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
        "674202d0-b22a-4af4-ae5f-2eda1f3da1af",
    ),
    ("Privilege Escalation/Sysmon_UACME_22.evtx", "d38d2fa4-98e6-4a24-aff1-410b0c9ad177"),
]


def test_attack_samples_fire_the_rule_of_their_technique(windows_engine: SigmaEngine) -> None:
    """At least 40 (rule, sample) pairs where the sample demonstrates the rule's technique."""
    if not ATTACK.exists():
        pytest.skip("shared EVTX attack samples not present")
    assert len(ATTACK_PAIRS) >= 40
    fired = fired_per_file(windows_engine, sorted({ATTACK / s for s, _ in ATTACK_PAIRS}))
    missed = [(s, rule_id) for s, rule_id in ATTACK_PAIRS if rule_id not in fired[ATTACK / s]]
    assert missed == []


def test_benign_baseline_raises_no_high_or_critical(windows_engine: SigmaEngine) -> None:
    """A day of ordinary hospital workstation activity (tests/sigma/benign_baseline.jsonl,
    written by hand) raises no high or critical alert, and the rules did see it."""
    events = [
        from_json(orjson.loads(line)) for line in BASELINE.read_text().splitlines() if line.strip()
    ]
    assert len(events) >= 40
    matches = windows_engine.evaluate(events)
    severe = sorted(
        {(m.rule.title, m.rule.level) for m in matches if m.rule.level in ("high", "critical")}
    )
    assert severe == []
    assert windows_engine.events_routed > 0


def test_whole_attack_corpus_fires_many_rules(windows_engine: SigmaEngine) -> None:
    """Over the whole attack corpus, at least as many distinct rules fire as the reference
    SQLite engine reports (330)."""
    if not ATTACK.exists():
        pytest.skip("shared EVTX attack samples not present")
    fired = fired_per_file(windows_engine, sorted(ATTACK.rglob("*.evtx")))
    rules = set().union(*fired.values())
    assert len(rules) >= 330


def test_anchored_engine_matches_exactly_what_sql_alone_matches(
    windows_rules: list[CompiledRule],
) -> None:
    """Anchors only pick candidates: over the whole attack corpus and the benign baseline,
    the engine (anchors, Python predicates) and every rule's SQL on every event of its log
    source find the same (rule, event) pairs."""
    if not ATTACK.exists():
        pytest.skip("shared EVTX attack samples not present")
    events = [e for path in sorted(ATTACK.rglob("*.evtx")) for e in read_evtx(path)]
    events += [from_json(orjson.loads(line)) for line in BASELINE.read_text().splitlines()]
    compiled = [r for r in windows_rules if r.ok]
    fast = {(m.rule.rule_id, m.event) for m in SigmaEngine(compiled).evaluate(events)}
    sql_only = [dataclasses.replace(r, anchors=None, python=None) for r in compiled]
    slow = {(m.rule.rule_id, m.event) for m in SigmaEngine(sql_only).evaluate(events)}
    assert len(fast) > 1000
    assert fast == slow
