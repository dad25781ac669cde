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

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaCasedString, SigmaNumber, SigmaString, SpecialChars

from carewarden.sigma.backend import ALL_FIELD

Key = tuple[str, str, str]
# An AND takes the cheapest child anchor; more keys than this is no anchor.
MAX_KEYS = 50_000
# A contained text shorter than this would make nearly every event a candidate.
MIN_CONTAINED = 3


def _leaf(cond: ConditionFieldEqualsValueExpression) -> set[Key] | None:
    field = cond.field.lower() if cond.field else None
    value = cond.value
    if field is None:
        return None
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
    if len(longest) >= MIN_CONTAINED:
        return {("c", field, longest.lower())}
    return None


def anchor(cond: object) -> set[Key] | None:
    """The keys of which one must hold for ``cond`` to be true, or None."""
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _leaf(cond)
    if isinstance(cond, ConditionValueExpression) and isinstance(cond.value, SigmaString):
        # A keyword: somewhere in the event's values (the engine's "_all" field).
        literals = [p for p in cond.value.s if isinstance(p, str)]
        longest = max(literals, key=len, default="")
        return {("c", ALL_FIELD, longest.lower())} if len(longest) >= MIN_CONTAINED else None
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


def _cost(keys: set[Key]) -> tuple[int, int, int]:
    # Exact keys before contained texts (a short text matches many events), then fewer keys;
    # among equals, prefer file names and values over event ids.
    contained = [k for k in keys if k[0] == "c"]
    shortest = min((len(k[2]) for k in contained), default=99)
    return (
        len(contained) and 1,
        len(keys) + max(0, 8 - shortest) * 4,
        sum(1 for k in keys if k[1] == "eventid"),
    )
