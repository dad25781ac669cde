"""The privacy policy: relationship windows, service roles and the role-code mapping.

One YAML file a hospital can edit (the default, ``privacy_policy.yaml`` beside this module,
documents every field). Loading validates it and reports the file and field at fault.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carewarden.config import load_yaml_model

DEFAULT_POLICY = Path(__file__).parent / "privacy_policy.yaml"

Category = Literal[
    "physician",
    "nurse",
    "pharmacist",
    "laboratory",
    "radiology",
    "transport",
    "billing",
    "him",
    "registration",
    "it",
    "other",
]


class Relationships(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant_hours_before: float = Field(default=24, ge=0)
    participant_days_after: float = Field(default=7, ge=0)
    department_hours_before: float = Field(default=24, ge=0)
    department_days_after: float = Field(default=3, ge=0)
    colleague_cover: bool = True
    emergency_hours_around: float = Field(default=2, ge=0)
    repeat_days: float = Field(default=30, ge=0)


class ServiceRole(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relationship: Literal["active_encounter", "after_discharge", "at_admission"]
    hours_before: float = Field(default=0, ge=0)
    days_after: float = Field(default=0, ge=0)
    hours_after: float = Field(default=0, ge=0)


class PrivacyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relationships: Relationships = Relationships()
    service_roles: dict[Category, ServiceRole] = {}
    role_codes: dict[str, Category] = {}
    role_words: dict[Category, list[str]] = {}
    thresholds: dict[str, float | int | str | list[str]] = {}

    @model_validator(mode="after")
    def _codes_have_a_system(self) -> PrivacyPolicy:
        bad = [key for key in self.role_codes if "|" not in key]
        if bad:
            raise ValueError(f"role_codes keys must be 'system|code', got {bad[:3]}")
        return self

    @classmethod
    def load(cls, path: Path | None = None) -> PrivacyPolicy:
        return load_yaml_model(cls, path or DEFAULT_POLICY, "policy")

    def word_patterns(self) -> list[tuple[Category, re.Pattern[str]]]:
        """(category, pattern) in file order. A word matches at the start of a word of the
        role text (normalised by ``roles.words_of``); one written with a trailing space ("lab ")
        matches that whole word only."""
        out = []
        for category, words in self.role_words.items():
            alternatives = "|".join(re.escape(w.lower()) for w in words)
            out.append((category, re.compile(rf"(?<![a-z0-9])(?:{alternatives})")))
        return out
