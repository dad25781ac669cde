"""Anchors: for a rule, a set of exact keys of which an event must hold at least one for the
rule to be able to match. The engine finds the candidate (rule, event) pairs with one hash
join on these keys, then evaluates each rule's full condition on its candidates only: most
rules name the program they are about (``Image|endswith: '\\\\x.exe'``,
``OriginalFileName: x.exe``, ``EventID: 4624``), so a batch costs a few key look-ups per
event instead of every rule on every event.

A key is (kind, field, value): kind ``f`` is the field's lower-cased value, kind ``b`` its
last ``\\``-separated component (a file name), kind ``c`` a text the lower-cased value
contains (found for all rules at once by an Aho-Corasick automaton per field). A condition
that is true only if one of the keys holds has those keys as anchor; ``None`` means no such
set was found (the rule is then evaluated on every event of its log source).
"""

from __future__ import annotations

import re

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from carewarden.sigma.backend import ALL_FIELD
from carewarden.sigma.regex_literals import required_literals

Key = tuple[str, str, str]
# An AND takes the cheapest child anchor; more keys than this is no anchor.
MAX_KEYS = 50_000
# A contained text shorter than this would make nearly every event a candidate.
MIN_CONTAINED = 3


def _leaf(cond: ConditionFieldEqualsValueExpression) -> set[Key] | None:
    if not cond.field:
        return None
    return _value_keys(cond.field.lower(), cond.value)


def _value_keys(field: str, value: object) -> set[Key] | None:
    if isinstance(value, SigmaExpansion):  # base64offset, windash …: one of the variants
        keys: set[Key] = set()
        for variant in value.values:
            found = _value_keys(field, variant)
            if found is None:
                return None
            keys |= found
        return keys
    if isinstance(value, SigmaRegularExpression):
        ignore_case = SigmaRegularExpressionFlag.IGNORECASE in value.flags
        texts = required_literals(str(value.to_plain()), re.IGNORECASE if ignore_case else 0)
        if texts is None or not all(_long_enough(t) for t in texts):
            return None
        return {("c", field, t.lower()) for t in texts}
    if isinstance(value, SigmaNumber):
        return {("f", field, str(value.number).lower())}
    if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
        return None
    parts = value.s
    if not any(isinstance(p, SpecialChars) for p in parts):
        if any(not isinstance(p, str) for p in parts):
            return None
        return {("f", field, "".join(p for p in parts if isinstance(p, str)).lower())}
    if (
        len(parts) == 2
        and parts[0] == SpecialChars.WILDCARD_MULTI
        and isinstance(parts[1], str)
        and "\\" in parts[1]
    ):
        name = parts[1].rsplit("\\", 1)[1].lower()
        if name:
            return {("b", field, name)}
    literals = [p for p in parts if isinstance(p, str)]
    if len(literals) != sum(1 for p in parts if not isinstance(p, SpecialChars)):
        return None  # a placeholder
    longest = max(literals, key=len, default="")
    if _long_enough(longest):
        return {("c", field, longest.lower())}
    return None


def _long_enough(text: str) -> bool:
    """A contained text selective enough to be an anchor: three characters, or one that is
    not ASCII (a homoglyph, an emoji, a right-to-left override: rare in event fields)."""
    return len(text) >= MIN_CONTAINED or (bool(text) and not text.isascii())


def anchor(cond: object) -> set[Key] | None:
    """The keys of which one must hold for ``cond`` to be true, or None."""
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _leaf(cond)
    if isinstance(cond, ConditionValueExpression) and isinstance(cond.value, SigmaString):
        # A keyword: somewhere in the event's values (the engine's "_all" field).
        literals = [p for p in cond.value.s if isinstance(p, str)]
        longest = max(literals, key=len, default="")
        return {("c", ALL_FIELD, longest.lower())} if _long_enough(longest) else None
    if isinstance(cond, ConditionOR):
        keys: set[Key] = set()
        for arg in cond.args:
            found = anchor(arg)
            if found is None:
                return None
            keys |= found
        return keys if len(keys) <= MAX_KEYS else None
    if isinstance(cond, ConditionAND):
        best: set[Key] | None = None
        for arg in cond.args:
            found = anchor(arg)
            if found is not None and (best is None or _cost(found) < _cost(best)):
                best = found
        return best
    return None  # NOT, keywords, anything else: no anchor


# Fields with few distinct values on a Windows host: ``IntegrityLevel: High`` or
# ``Company: Microsoft Corporation`` holds for a large share of process events, so an anchor on
# them selects little. Another condition of the same AND is preferred, even a contained text.
LOW_CARDINALITY = frozenset(
    {
        "eventid",
        "integritylevel",
        "company",
        "product",
        "logontype",
        "level",
        "user",
        "parentuser",
        "subjectusername",
        "subjectusersid",
        "currentdirectory",
        "provider_name",
        "status",
        "accesses",
        "grantedaccess",
        "logonid",
        "objecttype",
        "objectserver",
        "initiated",
        "signed",
        "signaturestatus",
        "protocol",
    }
)
# Texts that nearly every file path or command line on Windows contains.
COMMON_PATHS = (
    "c:\\windows\\system32\\",
    "c:\\windows\\syswow64\\",
    "c:\\program files (x86)\\",
    "c:\\programdata\\",
    "c:\\users\\public\\",
    ".exe ",
    ".dll,",
    "nt authority\\system",
)


# Programs that start or parent a large share of all processes: ``ParentImage|endswith:
# '\\cmd.exe'`` selects far more events than the program a rule is about.
COMMON_PROGRAMS = frozenset(
    {
        "cmd.exe",
        "powershell.exe",
        "pwsh.exe",
        "explorer.exe",
        "svchost.exe",
        "services.exe",
        "conhost.exe",
        "rundll32.exe",
        "wmiprvse.exe",
        "msiexec.exe",
        "taskeng.exe",
        "taskhostw.exe",
        "userinit.exe",
        "winlogon.exe",
        "w3wp.exe",
        "wscript.exe",
        "cscript.exe",
        "mshta.exe",
        "regsvr32.exe",
    }
)


def _weight(key: Key) -> int:
    kind, field, value = key
    if kind == "c":
        common = any(value in path for path in COMMON_PATHS)
        return 4 + max(0, 8 - len(value)) * 4 + (40 if common else 0)
    if field in LOW_CARDINALITY or value in ("true", "false"):
        return 40
    if value in COMMON_PROGRAMS:
        return 8
    return 2 if field.startswith("parent") else 1


def _cost(keys: set[Key]) -> tuple[int, int]:
    """How many events an anchor is expected to select, in relative units: exact keys on
    selective fields first, then contained texts (a short or common text selects many),
    keys on low-cardinality fields last; among equals, fewer event-id keys."""
    return (sum(_weight(k) for k in keys), sum(1 for k in keys if k[1] == "eventid"))
