"""The table of state breach-notification rules (``state_breach_rules.yaml``), validated."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carewarden.config import load_yaml_model
from carewarden.prepare.calendar import FEDERAL_HOLIDAYS, BusinessDays, HolidayName

DEFAULT_RULES = Path(__file__).with_name("state_breach_rules.yaml")

StateNoticeKind = Literal["individual", "state-attorney-general", "state-health-department"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadline(_Strict):
    """``days`` calendar or business days from discovery, or due with another notice."""

    days: Annotated[int, Field(ge=1)] | None = None
    unit: Literal["calendar", "business"] = "calendar"
    with_: Literal["hipaa-individual"] | None = Field(default=None, alias="with")

    @model_validator(mode="after")
    def _one_form(self) -> Deadline:
        if (self.days is None) == (self.with_ is None):
            raise ValueError("deadline: give either days (and unit) or with")
        return self


class StateNotice(_Strict):
    kind: StateNoticeKind
    recipient: str = Field(min_length=1)
    trigger: Literal["hipaa-breach", "unauthorized-access"]
    min_residents: Annotated[int, Field(ge=1)]
    deadline: Deadline
    after_law_enforcement_delay: Literal["toll", "restart"]
    citation: str = Field(min_length=1)
    confidence: Literal["high", "medium"]
    note: str = ""


class BusinessDaysRule(_Strict):
    holidays: list[HolidayName] = Field(default_factory=lambda: list(FEDERAL_HOLIDAYS))
    saturday_to_friday: bool = True

    def calendar(self) -> BusinessDays:
        return BusinessDays(tuple(self.holidays), self.saturday_to_friday)


class StateRules(_Strict):
    name: str
    business_days: BusinessDaysRule = Field(default_factory=BusinessDaysRule)
    notices: list[StateNotice] = Field(min_length=1)


class StateRuleTable(_Strict):
    schema_version: Literal[1]
    reviewed_on: dt.date
    reviewed_by: str
    applies_to: str
    included: list[str]
    not_included: str
    states: dict[str, StateRules]

    @model_validator(mode="after")
    def _included_matches(self) -> StateRuleTable:
        if sorted(self.included) != sorted(self.states):
            raise ValueError(f"included: {self.included} does not list the states in states")
        return self


@cache
def load_state_rules(path: Path = DEFAULT_RULES) -> StateRuleTable:
    """The state rule table (the shipped one by default), validated once per path."""
    return load_yaml_model(StateRuleTable, path, "state breach rules")
