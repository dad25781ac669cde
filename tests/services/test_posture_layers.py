"""The posture overview puts each alert and each monitored source in its defense layer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from carewarden.services.posture import posture
from carewarden.store import Store

T0 = dt.datetime(2026, 3, 1, 9, 0)


def _alert(store: Store, alert_id: str, rule_id: str, status: str = "open") -> None:
    store.query(
        "INSERT INTO alert (alert_id, rule_id, title, severity, score, first_seen, last_seen, "
        "event_ids, explanation, created_at, status) "
        "VALUES (?, ?, 't', 'high', 70, ?, ?, [], 'because', ?, ?)",
        [alert_id, rule_id, T0, T0, T0, status],
    )


def _sigma_rule(store: Store, rule_id: str, logsource: str) -> None:
    store.query(
        "INSERT INTO sigma_rule (rule_id, title, kind, logsource, path, imported_at) "
        "VALUES (?, 't', 'rule', ?, 'r.yml', ?)",
        [rule_id, logsource, T0],
    )


def _event(store: Store, uid: str, class_uid: int | None) -> None:
    store.query(
        "INSERT INTO security_event (event_uid, time, class_uid, raw) VALUES (?, ?, ?, '{}')",
        [uid, T0, class_uid],
    )


def test_sigma_alerts_fall_in_the_layer_of_their_log_source(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s") as store:
        _sigma_rule(store, "5b6d-win", "windows/process_creation/")
        _sigma_rule(store, "9c1e-zeek", "zeek/dns/")
        _sigma_rule(store, "77aa-fw", "/firewall/")
        _alert(store, "a1", "5b6d-win")
        _alert(store, "a2", "9c1e-zeek")
        _alert(store, "a3", "77aa-fw")
        _alert(store, "a4", "privacy.snooping")
        _alert(store, "a5", "segmentation.flow_not_allowed")
        _alert(store, "a6", "privacy.snooping", status="closed")
        _event(store, "n1", 4001)
        _event(store, "n2", 4003)
        _event(store, "e1", 1007)
        _event(store, "e2", None)
        found = posture(store)
    layers = {layer.key: layer for layer in found.layers}
    assert set(layers) == {"privacy", "iomt", "network", "endpoint", "dr"}  # none per rule id
    assert layers["endpoint"].open_alerts == 1
    assert layers["network"].open_alerts == 3
    assert layers["privacy"].open_alerts == 1
    assert layers["network"].rows == {"network events": 2}
    assert layers["endpoint"].rows == {"endpoint events": 2}
    assert layers["network"].monitored and layers["endpoint"].monitored
    assert not layers["iomt"].monitored and "ingest sbom" in layers["iomt"].note
    assert not layers["dr"].monitored and "dr import" in layers["dr"].note
    assert found.open_by_severity == {"high": 5}
