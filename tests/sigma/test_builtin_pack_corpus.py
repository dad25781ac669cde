"""The synthetic hospital estate against the whole SigmaHQ Windows rule set (when the shared
corpus is present): its benign background raises no high or critical match, so the demo's
intrusion is not lost in noise a real rule set would raise."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from carewarden.sigma.engine import SigmaEngine
from carewarden.synth.intrusion import IntrusionConfig, generate_intrusion, read_truth
from carewarden.telemetry.rows import event_uid
from carewarden.telemetry.winevent import from_json


@pytest.mark.slow
def test_benign_estate_raises_no_high_match_of_the_full_corpus(
    windows_engine: SigmaEngine, tmp_path: Path
) -> None:
    """Two days of the estate: every high or critical match is on an intrusion event."""
    result = generate_intrusion(tmp_path, IntrusionConfig(seed=2, days=2))
    lines = result.windows_files[0].read_bytes().splitlines()
    events = [from_json(orjson.loads(line)) for line in lines]
    uids = [event_uid(event, line) for event, line in zip(events, lines, strict=True)]
    attack = {uid for row in read_truth(result.truth_path) for uid in row["event_uids"]}
    noisy = sorted(
        {
            (m.rule.title, events[m.event].host)
            for m in windows_engine.evaluate(events)
            if m.rule.severity in ("high", "critical") and uids[m.event] not in attack
        }
    )
    assert not noisy
