"""Incident files: strict validation with errors that name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carewarden.errors import ConfigError
from carewarden.prepare.incident import Incident, load_incident

GOOD: dict[str, Any] = {
    "discovery_date": "2025-03-03",
    "affected_by_state": {"ca": 3, "NY": 2},
    "phi_types": ["name"],
    "encrypted": False,
    "recipient": "public",
    "acquired_or_viewed": True,
    "mitigated": False,
}


def write(tmp_path: Path, data: dict[str, Any], name: str = "incident.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_json_and_yaml_load_alike(tmp_path: Path) -> None:
    """The same incident read from JSON and from YAML (with bare dates) is equal."""
    from_json = load_incident(write(tmp_path, GOOD))
    yaml_file = tmp_path / "incident.yaml"
    yaml_file.write_text(
        "discovery_date: 2025-03-03\naffected_by_state: {CA: 3, NY: 2}\nphi_types: [name]\n"
        "encrypted: false\nrecipient: public\nacquired_or_viewed: true\nmitigated: false\n",
        encoding="utf-8",
    )
    assert load_incident(yaml_file) == from_json
    assert from_json.affected_by_state == {"CA": 3, "NY": 2}
    assert from_json.total_affected == 5


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"discovery_date": "2025-02-30"}, "discovery_date", "YYYY-MM-DD"),
        ({"discovery_date": 1735689600}, "discovery_date", "YYYY-MM-DD"),
        ({"discovery_date": "2025-03-03T10:00:00"}, "discovery_date", "YYYY-MM-DD"),
        ({"encrypted": "no"}, "encrypted", "boolean"),
        ({"recipient": "friend"}, "recipient", "workforce"),
        ({"exception": "oops"}, "exception", "good-faith-workforce"),
        ({"phi_types": []}, "phi_types", "at least 1"),
        ({"phi_types": ["shoe-size"]}, "phi_types.0", "name"),
        ({"affected_by_state": {"XX": 3}}, "affected_by_state", "XX"),
        ({"affected_by_state": {"CA": -1}}, "affected_by_state.CA", "greater than or equal"),
        ({"affected_by_state": {"CA": 0}}, "affected_by_state", "no affected individuals"),
        ({"affected_by_state": {"CA": "3"}}, "affected_by_state.CA", "integer"),
        ({"encrypted": True}, "key_compromised", "required when encrypted"),
        ({"unreachable_individuals": 6}, "unreachable_individuals", "more than the affected"),
        ({"breach_date": "2025-03-04"}, "breach_date", "after discovery_date"),
        (
            {"law_enforcement_delay_until": "2025-03-01"},
            "law_enforcement_delay_until",
            "before discovery_date",
        ),
        (
            {"law_enforcement_delay_oral": True},
            "law_enforcement_delay_until",
            "required when",
        ),
        (
            {"business_associate_notified_on": "2025-03-05"},
            "business_associate_notified_on",
            "reported_by_business_associate is false",
        ),
    ],
)
def test_bad_fields_are_named(
    tmp_path: Path, change: dict[str, Any], field: str, message: str
) -> None:
    """Each bad input is refused with the file, the field and the reason."""
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(ConfigError) as caught:
        load_incident(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert f"{field}: " in text
    assert message in text


def test_missing_required_field(tmp_path: Path) -> None:
    """A missing required field is named."""
    data = dict(GOOD)
    del data["mitigated"]
    with pytest.raises(ConfigError, match="mitigated: Field required"):
        load_incident(write(tmp_path, data))


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    """Broken JSON and a missing file are ConfigErrors naming the file."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON"):
        load_incident(broken)
    with pytest.raises(ConfigError, match=r"nothing\.json: incident file not found"):
        load_incident(tmp_path / "nothing.json")


def test_incident_is_immutable() -> None:
    """An assessed incident cannot be changed afterwards."""
    incident = Incident.model_validate(GOOD)
    with pytest.raises(ValueError, match="frozen"):
        incident.mitigated = True  # type: ignore[misc]
