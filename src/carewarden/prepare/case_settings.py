"""The settings of case correlation: ``cases.yaml`` (shipped defaults, or the site's copy)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carewarden.config import load_yaml_model
from carewarden.errors import ConfigError
from carewarden.prepare.playbooks import EntityKind, Playbook, load_playbooks

DEFAULT_SETTINGS = Path(__file__).parent / "cases.yaml"
DEFAULT_WINDOW = dt.timedelta(days=7)
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_window(text: str) -> dt.timedelta:
    """``7d``, ``36h`` or ``90m`` as a duration of at least a minute."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise ValueError(
            f"expected a number of days, hours or minutes such as 7d, 36h, 90m: {text!r}"
        )
    return dt.timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


class CaseSettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    correlation_window: str = "7d"
    entity_precedence: list[EntityKind] = Field(
        default=["user", "host", "device", "patient"], min_length=1
    )
    playbooks: list[str] = []

    @field_validator("correlation_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("entity_precedence")
    @classmethod
    def _distinct(cls, value: list[EntityKind]) -> list[EntityKind]:
        if len(set(value)) != len(value):
            raise ValueError(f"an entity kind appears twice: {value}")
        return value


@dataclass(frozen=True)
class CaseSettings:
    window: dt.timedelta
    entity_precedence: tuple[EntityKind, ...]
    playbooks: tuple[Playbook, ...]


def load_case_settings(path: Path | None = None, *, window: str | None = None) -> CaseSettings:
    """The settings in ``path`` (default: the shipped ``cases.yaml``), with the window
    replaced by ``window`` when given (the command line's ``--window``)."""
    source = path or DEFAULT_SETTINGS
    loaded = load_yaml_model(CaseSettingsFile, source, "case settings")
    try:
        span = parse_window(window if window is not None else loaded.correlation_window)
    except ValueError as exc:
        raise ConfigError(f"--window: {exc}") from None
    extra = [source.parent / p for p in loaded.playbooks]
    return CaseSettings(span, tuple(loaded.entity_precedence), tuple(load_playbooks(extra)))
