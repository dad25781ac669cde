"""HIPAA breach assessment (45 CFR 164.400-414): is it a breach, and who must be told by when.

The determination runs in the order the rule is written:

1. **Safe harbor.** Notification applies to *unsecured* PHI only (164.402, 164.404(a)).
   PHI encrypted as HHS's guidance specifies is secured unless the key was compromised too
   (a laptop with its key stored on it is not secured).
2. **Exceptions.** The three exclusions of the breach definition (164.402, paragraph (1) of
   "breach"). Each is refused, conservatively, when the recipient given contradicts it.
3. **Presumption and four-factor test.** Any other impermissible acquisition, access, use
   or disclosure *is presumed* a breach unless a low probability of compromise is
   demonstrated (164.402, paragraph (2)). Carewarden finds that only when the incident was
   mitigated and either the PHI was not actually acquired or viewed, or it went to another
   HIPAA-bound entity (a covered entity or business associate) and held no sensitive
   elements. Everything else stays a breach.

Deadlines ("without unreasonable delay and in no case later than 60 calendar days after
discovery") are outer limits: due = the clock's start + 60 days, day 0 being the start.

Interpretations, so that they can be argued with:

* **Business associate (164.410, 164.404(a)(2)).** ``discovery_date`` is the business
  associate's discovery. A business associate acting as the covered entity's *agent* has
  its knowledge imputed to the covered entity, so the covered entity's clock starts then;
  that is assumed unless ``business_associate_is_agent`` is false, in which case the clock
  starts when the business associate notified the covered entity
  (``business_associate_notified_on``; without it, at the business associate's discovery).
* **Law-enforcement delay (164.412).** The notices are delayed for the period the official
  states (an oral statement: at most 30 days from the statement unless a written one
  follows). Carewarden reads the delay as *tolling*: the clock stops from the statement
  (``law_enforcement_statement_date``, by default the clock's start) to the end of the
  delay, so every deadline still running at the statement moves back by the delay's length.
  The HHS annual log, counted from the year's end, is due on its usual date, or on the day
  the delay ends if that is later. State rules say whether they toll or restart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from carewarden.prepare.calendar import add_days
from carewarden.prepare.incident import Incident, load_incident
from carewarden.prepare.state_rules import StateNotice, StateRules, StateRuleTable, load_state_rules

__all__ = ["Assessment", "Incident", "Obligation", "assess", "load_incident"]

NOTICE_DAYS = 60
ORAL_DELAY_DAYS = 30
HHS_CONTEMPORANEOUS = 500  # 500 or more: notify HHS with the individuals (164.408(b))
MEDIA_MORE_THAN = 500  # more than 500 residents of a State or jurisdiction (164.406)
SUBSTITUTE_WEB_OR_MEDIA = 10  # 10 or more without current contact information (164.404(d)(2))

#: Demographic identifiers alone; any other element makes factor 1 weigh toward compromise.
LOW_SENSITIVITY = frozenset(
    {"name", "address", "date-of-birth", "phone", "email", "mrn", "insurance"}
)
#: Recipients themselves obliged by HIPAA to protect the PHI.
HIPAA_BOUND = frozenset({"covered-entity", "business-associate"})
#: Who each exception can cover (164.402(1)(i)-(iii)); other recipients void it.
EXCEPTION_RECIPIENTS: dict[str, frozenset[str]] = {
    "good-faith-workforce": frozenset({"workforce", "business-associate"}),
    "inadvertent-internal": frozenset({"workforce", "covered-entity", "business-associate"}),
    "unable-to-retain": frozenset(
        {"workforce", "covered-entity", "business-associate", "public", "unknown"}
    ),
}
EXCEPTION_TEXT = {
    "good-faith-workforce": (
        "164.402(1)(i): unintentional acquisition, access or use by a workforce member or "
        "person acting under the entity's authority, in good faith, within the scope of "
        "authority, and not further used or disclosed impermissibly"
    ),
    "inadvertent-internal": (
        "164.402(1)(ii): inadvertent disclosure by a person authorized to access PHI to "
        "another person authorized at the same covered entity, business associate or "
        "organized health care arrangement, and not further used or disclosed impermissibly"
    ),
    "unable-to-retain": (
        "164.402(1)(iii): a good-faith belief that the unauthorized recipient could not "
        "reasonably have retained the information"
    ),
}

ObligationKind = Literal[
    "individual",
    "hhs",
    "hhs-annual-log",
    "media",
    "state-attorney-general",
    "state-health-department",
]
KIND_ORDER: tuple[ObligationKind, ...] = (
    "individual",
    "hhs",
    "hhs-annual-log",
    "media",
    "state-attorney-general",
    "state-health-department",
)

INDIVIDUALS = "affected individuals"
SUBSTITUTE_10_OR_MORE = "substitute notice (10 or more unreachable)"
SUBSTITUTE_FEWER = "substitute notice (fewer than 10 unreachable)"
HHS_SECRETARY = "HHS Secretary"
HHS_LOG = "HHS Secretary (annual log)"


def media_recipient(state: str) -> str:
    return f"prominent media outlets serving {state}"


@dataclass(frozen=True)
class Obligation:
    """One notice that must be given: to whom, by when, and on what authority."""

    kind: ObligationKind
    due: dt.date
    recipient: str
    citation: str
    note: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "due": self.due.isoformat(),
            "recipient": self.recipient,
            "citation": self.citation,
            "note": self.note,
        }

    def sort_key(self) -> tuple[dt.date, int, str]:
        return (self.due, KIND_ORDER.index(self.kind), self.recipient)


@dataclass(frozen=True)
class Assessment:
    """The determination, the reasons for it, and the notices it requires."""

    breach: bool
    determination: str
    reasoning: list[str]
    obligations: list[Obligation]
    clock_start: dt.date
    total_affected: int
    incident: Incident = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "breach": self.breach,
            "determination": self.determination,
            "reasoning": self.reasoning,
            "obligations": [o.as_json() for o in self.obligations],
            "discovery_date": self.incident.discovery_date.isoformat(),
            "clock_start": self.clock_start.isoformat(),
            "total_affected": self.total_affected,
        }


@dataclass(frozen=True)
class Delay:
    """A law-enforcement delay in force from ``start`` until ``until`` (164.412)."""

    start: dt.date
    until: dt.date

    @property
    def days(self) -> int:
        return (self.until - self.start).days

    def toll(self, due: dt.date) -> dt.date:
        """``due`` with the clock stopped while the delay runs (if it was still running)."""
        return due + dt.timedelta(days=self.days) if self.start <= due else due

    def overlaps(self, due: dt.date) -> bool:
        return self.start <= due and self.days > 0


def assess(incident: Incident, rules: StateRuleTable | None = None) -> Assessment:
    """The breach determination for ``incident`` and the obligations with their due dates."""
    table = rules if rules is not None else load_state_rules()
    why: list[str] = []
    clock = _clock_start(incident, why)
    delay = _law_enforcement_delay(incident, clock, why)
    breach, determination, unauthorized = _determine(incident, why)
    individual_due = _toll(delay, add_days(clock, NOTICE_DAYS))
    obligations: list[Obligation] = []
    if breach:
        obligations += _hipaa_obligations(incident, clock, delay, individual_due, why)
    obligations += _state_obligations(
        incident, table, clock, delay, individual_due, breach, unauthorized, why
    )
    obligations.sort(key=Obligation.sort_key)
    if not obligations:
        why.append("No notification obligations follow.")
    return Assessment(
        breach=breach,
        determination=determination,
        reasoning=why,
        obligations=obligations,
        clock_start=clock,
        total_affected=incident.total_affected,
        incident=incident,
    )


def _toll(delay: Delay | None, due: dt.date) -> dt.date:
    return delay.toll(due) if delay is not None else due


def _clock_start(incident: Incident, why: list[str]) -> dt.date:
    discovered = incident.discovery_date
    if not incident.reported_by_business_associate:
        why.append(
            f"Discovered {discovered}: the first day the breach was known, or would have been "
            "known with reasonable diligence, to the covered entity's workforce or agents "
            "(164.404(a)(2)); deadlines count from it."
        )
        return discovered
    ba_due = add_days(discovered, NOTICE_DAYS)
    why.append(
        f"Reported by a business associate that discovered it on {discovered}: it had to "
        f"notify the covered entity without unreasonable delay and by {ba_due} at the latest "
        "(164.410(b))."
    )
    notified = incident.business_associate_notified_on
    if notified is not None and notified > ba_due:
        why.append(f"The business associate's notice on {notified} was late (after {ba_due}).")
    if incident.business_associate_is_agent:
        why.append(
            "The business associate is taken to be the covered entity's agent, so its "
            f"discovery is imputed to the covered entity: the clock starts {discovered} "
            "(164.404(a)(2), federal common law of agency). Set business_associate_is_agent "
            "to false if it is an independent contractor."
        )
        return discovered
    if notified is None:
        why.append(
            "The business associate is an independent contractor, but the date it notified "
            f"the covered entity is not given: counting from its discovery ({discovered}), "
            "which is never late. Give business_associate_notified_on."
        )
        return discovered
    why.append(
        "The business associate is an independent contractor: the covered entity's clock "
        f"starts when it was notified, {notified}."
    )
    return notified


def _law_enforcement_delay(incident: Incident, clock: dt.date, why: list[str]) -> Delay | None:
    until = incident.law_enforcement_delay_until
    if until is None:
        return None
    start = max(incident.law_enforcement_statement_date or clock, clock)
    if incident.law_enforcement_delay_oral:
        cap = add_days(start, ORAL_DELAY_DAYS)
        if until > cap:
            why.append(
                f"The law-enforcement statement was oral: the delay lasts at most 30 days "
                f"from it, to {cap}, unless a written statement follows (164.412(b))."
            )
            until = cap
    delay = Delay(start=start, until=max(until, start))
    why.append(
        f"Law enforcement asked for a delay from {delay.start} until {delay.until} "
        f"(164.412): notices are held until then. Read as tolling, each deadline still running "
        f"on {delay.start} moves back {delay.days} day(s); notify without unreasonable delay "
        "once the delay ends."
    )
    return delay


def _determine(incident: Incident, why: list[str]) -> tuple[bool, str, bool]:
    """(HIPAA breach, determination, unauthorized access for state rules)."""
    if incident.encrypted and not incident.key_compromised:
        why.append(
            "Safe harbor: the PHI was encrypted as HHS's guidance specifies and the key was "
            "not compromised, so it is not unsecured PHI; the breach notification rule "
            "applies to unsecured PHI only (164.402, 164.404(a)). Not a breach."
        )
        return False, "not a breach: encrypted (safe harbor)", False
    if incident.encrypted:
        why.append(
            "Encrypted, but the key was compromised too (for example stored with the device): "
            "the PHI is unsecured and the safe harbor does not apply (164.402)."
        )
    else:
        why.append("Not encrypted per HHS guidance: the PHI is unsecured (164.402).")
    exception = incident.exception
    if exception != "none":
        if incident.recipient in EXCEPTION_RECIPIENTS[exception]:
            why.append(f"Exception applies, so this is not a breach: {EXCEPTION_TEXT[exception]}.")
            return (
                False,
                f"not a breach: exception ({exception})",
                exception != "inadvertent-internal",
            )
        why.append(
            f"The {exception} exception was claimed, but it cannot cover a recipient of kind "
            f"'{incident.recipient}' ({EXCEPTION_TEXT[exception]}); it is not applied."
        )
    if _low_probability(incident, why):
        return False, "not a breach: low probability of compromise", True
    return True, "breach of unsecured PHI", True


def _low_probability(incident: Incident, why: list[str]) -> bool:
    """The four-factor risk assessment of 164.402(2), starting from the presumption."""
    why.append(
        "An impermissible acquisition, access, use or disclosure of PHI is presumed a breach "
        "unless a low probability of compromise is demonstrated by a risk assessment of at "
        "least four factors (164.402(2)):"
    )
    sensitive = sorted(set(incident.phi_types) - LOW_SENSITIVITY)
    types = ", ".join(incident.phi_types)
    if sensitive:
        why.append(
            f"Factor 1, nature and extent of the PHI ({types}): includes "
            f"{', '.join(sensitive)}, which weighs toward compromise."
        )
    else:
        why.append(
            f"Factor 1, nature and extent of the PHI ({types}): demographic identifiers only."
        )
    recipient = incident.recipient
    if recipient in HIPAA_BOUND:
        why.append(
            f"Factor 2, the unauthorized recipient ({recipient}): itself obliged by HIPAA to "
            "protect the PHI, which weighs against compromise."
        )
    elif recipient == "workforce":
        why.append(
            "Factor 2, the unauthorized recipient (a workforce member acting outside their "
            "authority): an impermissible use, not a protected disclosure."
        )
    else:
        why.append(
            f"Factor 2, the unauthorized recipient ({recipient}): under no duty to protect "
            "the PHI, which weighs toward compromise."
        )
    viewed = incident.acquired_or_viewed
    why.append(
        "Factor 3, actually acquired or viewed: "
        + ("yes." if viewed else "no (keep the forensic evidence that shows it).")
    )
    why.append(
        "Factor 4, extent mitigated: "
        + (
            "mitigated (for example returned or destroyed with satisfactory assurances)."
            if incident.mitigated
            else "not mitigated."
        )
    )
    if not incident.mitigated:
        why.append("Not mitigated: a low probability of compromise is not shown. A breach.")
        return False
    if not viewed:
        why.append(
            "Not acquired or viewed, and mitigated: low probability of compromise. Not a "
            "breach; document the assessment (164.530(j))."
        )
        return True
    if recipient in HIPAA_BOUND and not sensitive:
        why.append(
            "Viewed, but only demographic identifiers, by an entity bound by HIPAA, and "
            "mitigated: low probability of compromise. Not a breach; document the assessment "
            "(164.530(j))."
        )
        return True
    why.append(
        "Viewed or acquired, and the recipient or the data does not make compromise unlikely: "
        "the presumption stands. A breach."
    )
    return False


def _hipaa_obligations(
    incident: Incident,
    clock: dt.date,
    delay: Delay | None,
    individual_due: dt.date,
    why: list[str],
) -> list[Obligation]:
    total = incident.total_affected
    found = [
        Obligation(
            "individual",
            individual_due,
            INDIVIDUALS,
            "45 CFR 164.404",
            f"{total:,} individual(s): written notice by first-class mail (or e-mail if "
            "agreed), with the content of 164.404(c); next of kin of the deceased.",
        )
    ]
    why.append(
        f"Individual notice to all {total:,} affected without unreasonable delay and no later "
        f"than {individual_due} (164.404(b))."
    )
    found += _substitute_notice(incident, individual_due, why)
    for state, count in sorted(incident.affected_by_state.items()):
        if count > MEDIA_MORE_THAN:
            found.append(
                Obligation(
                    "media",
                    individual_due,
                    media_recipient(state),
                    "45 CFR 164.406",
                    f"{count:,} residents of {state}: press release to prominent media outlets.",
                )
            )
            why.append(
                f"Media notice in {state}: {count:,} residents, more than 500 (164.406), by "
                f"{individual_due}."
            )
    if total >= HHS_CONTEMPORANEOUS:
        found.append(
            Obligation(
                "hhs",
                individual_due,
                HHS_SECRETARY,
                "45 CFR 164.408(b)",
                "Breach portal, at the same time as the individual notice.",
            )
        )
        why.append(
            f"{total:,} affected, 500 or more: notify HHS contemporaneously with the "
            f"individuals, by {individual_due} (164.408(b))."
        )
    else:
        found.append(_annual_log(clock, delay, total, why))
    return found


def _substitute_notice(incident: Incident, due: dt.date, why: list[str]) -> list[Obligation]:
    unreachable = incident.unreachable_individuals
    if unreachable == 0:
        return []
    if unreachable >= SUBSTITUTE_WEB_OR_MEDIA:
        why.append(
            f"{unreachable:,} individuals lack current contact information, 10 or more: "
            "substitute notice by a conspicuous posting on the home page for 90 days or in "
            "major print or broadcast media where they likely live, with a toll-free number "
            "active for at least 90 days (164.404(d)(2)(ii))."
        )
        return [
            Obligation(
                "individual",
                due,
                SUBSTITUTE_10_OR_MORE,
                "45 CFR 164.404(d)(2)(ii)",
                "Web home page posting for 90 days or major print/broadcast media, plus a "
                "toll-free number active at least 90 days.",
            )
        ]
    why.append(
        f"{unreachable} individual(s) lack current contact information, fewer than 10: "
        "substitute notice by an alternative form of written notice, telephone or other "
        "means (164.404(d)(2)(i))."
    )
    return [
        Obligation(
            "individual",
            due,
            SUBSTITUTE_FEWER,
            "45 CFR 164.404(d)(2)(i)",
            "Alternative written notice, telephone or other means.",
        )
    ]


def _annual_log(clock: dt.date, delay: Delay | None, total: int, why: list[str]) -> Obligation:
    year_end = dt.date(clock.year, 12, 31)
    due = add_days(year_end, NOTICE_DAYS)
    note = ""
    if delay is not None and delay.until > due:
        note = f" (the law-enforcement delay runs past {due})"
        due = delay.until
    why.append(
        f"{total:,} affected, fewer than 500: log it and report it to HHS no later than 60 "
        f"days after the end of {clock.year}, by {due}{note} (164.408(c))."
    )
    return Obligation(
        "hhs-annual-log",
        due,
        HHS_LOG,
        "45 CFR 164.408(c)",
        f"Breach portal submission for breaches under 500 discovered in {clock.year}.",
    )


def _state_obligations(
    incident: Incident,
    table: StateRuleTable,
    clock: dt.date,
    delay: Delay | None,
    individual_due: dt.date,
    breach: bool,
    unauthorized: bool,
    why: list[str],
) -> list[Obligation]:
    found: list[Obligation] = []
    missing: list[str] = []
    for state, count in sorted(incident.affected_by_state.items()):
        if count == 0:
            continue
        rules = table.states.get(state)
        if rules is None:
            missing.append(state)
            continue
        for notice in rules.notices:
            triggered = breach if notice.trigger == "hipaa-breach" else unauthorized
            if not triggered or count < notice.min_residents:
                continue
            due = _state_due(notice, rules, clock, delay, individual_due)
            found.append(
                Obligation(notice.kind, due, notice.recipient, notice.citation, notice.note)
            )
            extra = ""
            if notice.trigger == "unauthorized-access" and not breach:
                extra = (
                    " This state rule has no equivalent of the HIPAA exception or "
                    "low-probability finding above: confirm with counsel."
                )
            why.append(
                f"{rules.name} ({count:,} residents): {notice.recipient} by {due} "
                f"({notice.citation}).{extra}"
            )
    if missing:
        why.append(
            f"No state rules on file for {', '.join(missing)}: check those states' breach "
            f"laws (the table covers {', '.join(table.included)}, reviewed {table.reviewed_on})."
        )
    return found


def _state_due(
    notice: StateNotice,
    rules: StateRules,
    clock: dt.date,
    delay: Delay | None,
    individual_due: dt.date,
) -> dt.date:
    deadline = notice.deadline
    if deadline.days is None:  # due with the HIPAA individual notice
        return individual_due
    days = deadline.days

    def count_from(start: dt.date) -> dt.date:
        if deadline.unit == "business":
            return rules.business_days.calendar().add(start, days)
        return add_days(start, days)

    due = count_from(clock)
    if delay is None or not delay.overlaps(due):
        return due
    if notice.after_law_enforcement_delay == "restart":
        return count_from(delay.until)
    return delay.toll(due)
