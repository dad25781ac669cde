"""The incident a breach assessment reads: a validated model and its JSON/YAML loader.

Validation is strict on purpose: an assessment that silently read ``"encrypted": "no"``
as true, a date as a Unix timestamp or a misspelt field as absent would give a wrong
deadline with confidence. Unknown fields are refused; every error names the field.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from carewarden.config import load_yaml_model, validate_model
from carewarden.errors import ConfigError

#: The 50 states, DC and the inhabited territories: HHS's "State or jurisdiction" (164.406).
_CODES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP"
)
JURISDICTIONS = frozenset(_CODES.split(" "))

Recipient = Literal["workforce", "covered-entity", "business-associate", "public", "unknown"]
Exception_ = Literal["none", "good-faith-workforce", "inadvertent-internal", "unable-to-retain"]
PhiType = Literal[
    "name",
    "address",
    "date-of-birth",
    "phone",
    "email",
    "mrn",
    "insurance",
    "ssn",
    "drivers-license",
    "financial",
    "payment-card",
    "diagnosis",
    "medications",
    "lab-results",
    "treatment",
    "images",
    "mental-health",
    "substance-use",
    "hiv",
    "genetic",
    "reproductive-health",
    "other",
]
#: The HHS breach portal's "Type of Breach" choices.
BreachType = Literal[
    "hacking-it-incident",
    "improper-disposal",
    "loss",
    "theft",
    "unauthorized-access-disclosure",
    "other",
]
#: The HHS breach portal's "Location of Breached Information" choices.
Location = Literal[
    "desktop-computer",
    "electronic-medical-record",
    "email",
    "laptop",
    "network-server",
    "other-portable-electronic-device",
    "paper-films",
    "other",
]


def _iso_date(value: object) -> dt.date:
    """A date written YYYY-MM-DD (or a YAML date); never a timestamp or a datetime."""
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date written YYYY-MM-DD, got {value!r}")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Count = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Incident(BaseModel):
    """An incident involving PHI, as the privacy officer describes it.

    ``discovery_date`` is the first day the breach was known, or by exercising reasonable
    diligence would have been known, to the covered entity's workforce or agents
    (164.404(a)(2)); when a business associate reports it, the day the business associate
    discovered it (see ``business_associate_is_agent``).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    discovery_date: IsoDate
    affected_by_state: dict[str, Count] = Field(min_length=1)
    phi_types: list[PhiType] = Field(min_length=1)
    encrypted: bool
    key_compromised: bool | None = None
    recipient: Recipient
    acquired_or_viewed: bool
    mitigated: bool
    exception: Exception_ = "none"
    reported_by_business_associate: bool = False
    business_associate_is_agent: bool = True
    business_associate_notified_on: IsoDate | None = None
    law_enforcement_delay_until: IsoDate | None = None
    law_enforcement_statement_date: IsoDate | None = None
    law_enforcement_delay_oral: bool = False
    unreachable_individuals: Count = 0
    # For the letters and the HHS portal only; none of these changes the determination.
    breach_date: IsoDate | None = None
    breach_end_date: IsoDate | None = None
    entity_name: Text | None = None
    entity_address: Text | None = None
    contact_phone: Text | None = None
    contact_email: Text | None = None
    website: Text | None = None
    description: Text | None = None
    mitigation: Text | None = None
    steps_for_individuals: list[Text] | None = None
    breach_type: BreachType | None = None
    location: list[Location] | None = None

    @property
    def total_affected(self) -> int:
        return sum(self.affected_by_state.values())

    @model_validator(mode="before")
    @classmethod
    def _upper_states(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("affected_by_state"), dict):
            data = dict(data)
            data["affected_by_state"] = {
                k.upper() if isinstance(k, str) else k: v
                for k, v in data["affected_by_state"].items()
            }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Incident:
        unknown = sorted(k for k in self.affected_by_state if k not in JURISDICTIONS)
        if unknown:
            raise ValueError(
                f"affected_by_state: not a two-letter US state or jurisdiction: {unknown}"
            )
        if self.total_affected == 0:
            raise ValueError("affected_by_state: no affected individuals (all counts are 0)")
        if self.encrypted and self.key_compromised is None:
            raise ValueError("key_compromised: required when encrypted is true")
        if self.unreachable_individuals > self.total_affected:
            raise ValueError(
                "unreachable_individuals: more than the affected individuals "
                f"({self.unreachable_individuals} > {self.total_affected})"
            )
        self._check_dates()
        return self

    def _check_dates(self) -> None:
        d = self.discovery_date
        if self.breach_date is not None and self.breach_date > d:
            raise ValueError("breach_date: after discovery_date")
        start, end = self.breach_date, self.breach_end_date
        if start is not None and end is not None and end < start:
            raise ValueError("breach_end_date: before breach_date")
        notified = self.business_associate_notified_on
        if notified is not None:
            if not self.reported_by_business_associate:
                raise ValueError(
                    "business_associate_notified_on: given but reported_by_business_associate "
                    "is false"
                )
            if notified < d:
                raise ValueError(
                    "business_associate_notified_on: before discovery_date (the business "
                    "associate's discovery)"
                )
        until = self.law_enforcement_delay_until
        stated = self.law_enforcement_statement_date
        if until is None and (stated is not None or self.law_enforcement_delay_oral):
            raise ValueError(
                "law_enforcement_delay_until: required when a law-enforcement statement is given"
            )
        if until is not None and until < d:
            raise ValueError("law_enforcement_delay_until: before discovery_date")
        if stated is not None and until is not None:
            if stated < d:
                raise ValueError("law_enforcement_statement_date: before discovery_date")
            if stated > until:
                raise ValueError(
                    "law_enforcement_statement_date: after law_enforcement_delay_until"
                )


def load_incident(path: Path) -> Incident:
    """The incident in a JSON (``.json``) or YAML (any other name) file.

    Every problem is a ConfigError naming the file and the field.
    """
    if path.suffix.lower() != ".json":
        return load_yaml_model(Incident, path, "incident")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("incident file not found", path=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}", path=str(path)) from None
    return validate_model(Incident, data, path)
