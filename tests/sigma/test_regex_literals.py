"""Texts a regular expression cannot match without (anchors of ``|re`` rules)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carewarden.sigma.regex_literals import required_literals

CASES = [
    (r"cmd.{0,5}(?:/c|/r).+powershell.+(?:\$\{?input\}?|noexit)", {"powershell"}),
    (r"\\sessionresume_[a-zA-Z]{8}$", {"\\sessionresume_"}),
    (r"\$PSHome\[\s*\d{1,3}\s*\]", {"$PSHome["}),
    (r"(abc|xyzw)q", {"abc", "xyzw"}),  # one of the alternatives, whichever
    (r"a{0,3}bcd", {"bcd"}),  # an optional repeat is not required
    (r"(?:xyz)+tail", {"tail"}),
    (r"(?:longer_text)+t", {"longer_text"}),  # a repeat of at least once is required
    (r"(?i)powershell", {"power", "hell"}),  # no s or i when case is ignored
    (r"(?i:abc)power", {"power"}),
    (r"[a-z]+\d*", None),
    (r"ab(", None),  # not an expression: no anchor, never an error
    (r"(?:ab|\w)cd", {"cd"}),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES)
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    found = required_literals(pattern)
    if expected is None:
        assert found is None
    elif pattern == r"(?i)powershell":
        assert found is not None and found <= expected and len(found) == 1
    else:
        assert found == expected


PATTERNS = [
    r"cmd.{0,5}(?:/c|/r).+powershell",
    r"(?i)echo.*clip.*&&.*(Clipboard|i`?n`?v`?o`?k`?e`?)",
    r"\\Windows\\__1\d{9}\.\d{1,7}$",
    r"(abc|xyzw)q+(?:zz|yy)?",
    r"(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input)",
    r"(?i)[KS]ey_(?:Vault|Store)\d",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_holds_a_required_text(data: st.DataObject) -> None:
    """Whatever a pattern matches, its lower-cased text contains one of the anchors, also for
    case-insensitive patterns and non-ASCII look-alikes (Hypothesis draws any Unicode)."""
    pattern = data.draw(st.sampled_from(PATTERNS))
    texts = required_literals(pattern)
    assert texts is not None
    value = data.draw(st.from_regex(re.compile(pattern), fullmatch=False))
    assert re.search(pattern, value)
    assert any(t.lower() in value.lower() for t in texts), (pattern, value, texts)
