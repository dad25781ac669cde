"""Sigma semantics of compiled rules. Both backends (DuckDB SQL, and the Python expression
used on anchored candidates) must match exactly the same events."""

from __future__ import annotations

import pytest

from carewarden.sigma.logsources import UnroutableError, route_of
from carewarden.sigma.testing import compile_yaml, event, fired

HEAD = """
title: t
id: 11111111-2222-3333-4444-555555555555
status: test
logsource: {product: windows, category: process_creation}
level: high
"""


def rule(detection: str) -> str:
    return HEAD + "detection:\n" + detection


def check(text: str, events: list, expected: set[int]) -> None:  # type: ignore[type-arg]
    compiled = compile_yaml(text)
    assert compiled.ok, compiled.error
    fast, slow = fired(compiled, events)
    assert fast == expected, "python path"
    assert slow == expected, "sql path"


def test_like_wildcards_in_values_are_literal() -> None:
    """`_` and `%` in a value are characters, not LIKE wildcards (0.1.4's false positives)."""
    text = rule("  sel:\n    CommandLine|contains: 'a_b%c'\n  condition: sel\n")
    check(
        text,
        [event(CommandLine="x a_b%c y"), event(CommandLine="xaXbYYc"), event(CommandLine="a1b%c")],
        {0},
    )
    inner = rule("  sel:\n    CommandLine: 'run*_x?.exe'\n  condition: sel\n")
    check(inner, [event(CommandLine="RUN me _xZ.EXE"), event(CommandLine="run me ax1.exe")], {0})


def test_matching_is_case_insensitive_even_for_exact_values() -> None:
    """Exact, prefix, suffix and IN matches ignore case; |cased does not."""
    text = rule(
        "  sel:\n    Image|endswith: '\\\\CertUtil.EXE'\n    User: 'NT AUTHORITY\\\\SYSTEM'\n"
        "  condition: sel\n"
    )
    check(
        text,
        [
            event(Image="C:\\windows\\system32\\certutil.exe", User="nt authority\\system"),
            event(Image="C:\\x\\certutil.exe", User="someone"),
        ],
        {0},
    )
    cased = rule("  sel:\n    CommandLine|cased|contains: 'IEX'\n  condition: sel\n")
    check(cased, [event(CommandLine="iex (x)"), event(CommandLine="IEX (x)")], {1})
    listed = rule(
        "  sel:\n    OriginalFileName:\n      - 'PowerShell.EXE'\n      - 'pwsh.dll'\n"
        "  condition: sel\n"
    )
    check(
        listed, [event(OriginalFileName="powershell.exe"), event(OriginalFileName="cmd.exe")], {0}
    )


def test_negated_filter_with_a_missing_field_still_fires() -> None:
    """`not filter` holds when the filter's field is absent (NULL-safe negation)."""
    text = rule(
        "  sel:\n    Image|endswith: '\\\\rundll32.exe'\n  filter:\n"
        "    ParentImage|endswith: '\\\\explorer.exe'\n  condition: sel and not filter\n"
    )
    check(
        text,
        [
            event(Image="C:\\w\\rundll32.exe"),
            event(Image="C:\\w\\rundll32.exe", ParentImage="C:\\w\\explorer.exe"),
            event(Image="C:\\w\\rundll32.exe", ParentImage="C:\\w\\cmd.exe"),
        ],
        {0, 2},
    )


def test_regex_contains_all_windash_base64offset_cidr() -> None:
    """Modifiers: re (case-sensitive unless |i), contains|all, windash, base64offset, cidr."""
    check(
        rule("  sel:\n    CommandLine|re: 'Invoke-[A-Z]\\w+'\n  condition: sel\n"),
        [event(CommandLine="x Invoke-Mimikatz"), event(CommandLine="invoke-mimikatz")],
        {0},
    )
    check(
        rule("  sel:\n    CommandLine|re|i: 'invoke-[a-z]+'\n  condition: sel\n"),
        [event(CommandLine="INVOKE-X"), event(CommandLine="other")],
        {0},
    )
    check(
        rule(
            "  sel:\n    CommandLine|contains|all:\n      - ' -enc'\n      - 'hidden'\n"
            "  condition: sel\n"
        ),
        [event(CommandLine="ps -Enc AA -w Hidden"), event(CommandLine="ps -enc AA")],
        {0},
    )
    check(
        rule("  sel:\n    CommandLine|windash|contains: ' -urlcache '\n  condition: sel\n"),
        [
            event(CommandLine="certutil /urlcache -f"),
            event(CommandLine="certutil -urlcache x"),
            event(CommandLine="certutil urlcache"),
        ],
        {0, 1},
    )
    check(
        rule("  sel:\n    CommandLine|base64offset|contains: 'http://'\n  condition: sel\n"),
        [event(CommandLine="powershell -e aHR0cDovL2V2aWw="), event(CommandLine="plain")],
        {0},
    )
    net = HEAD.replace("process_creation", "network_connection") + (
        "detection:\n  sel:\n    DestinationIp|cidr: '10.0.0.0/8'\n  condition: sel\n"
    )
    ev = [event(event_id=3, DestinationIp="10.1.2.3"), event(event_id=3, DestinationIp="110.1.2.3")]
    check(net, ev, {0})


def test_lists_of_one_field_grouped_into_one_test() -> None:
    """Lists of ends-with, starts-with and contains values of one field (one call, the
    value read once, in the Python path) mixed with other tests, missing and empty values."""
    text = rule(
        "  images:\n    Image|endswith:\n      - '\\\\a.exe'\n      - '\\\\B.EXE'\n"
        "  starts:\n    CommandLine|startswith:\n      - 'run '\n      - 'GO '\n"
        "  words:\n    CommandLine|contains:\n      - 'secret'\n      - 'TOKEN'\n"
        "  other:\n    User: 'svc'\n"
        "  condition: images or starts or words or other\n"
    )
    events = [
        event(Image="C:\\x\\A.exe"),  # 0: ends-with, another case
        event(Image="C:\\x\\b.exe.bak"),  # not at the end
        event(CommandLine="Go home"),  # 2: starts-with
        event(CommandLine="a Token here"),  # 3: contains
        event(CommandLine=""),  # empty value
        event(),  # no such fields
        event(User="SVC"),  # 6: the other test
        event(Image="b.exe"),  # no backslash before the name
        event(CommandLine="say go now"),  # an anchor's text, but neither test holds
    ]
    check(text, events, {0, 2, 3, 6})


def test_exists_null_numbers_and_keywords() -> None:
    """|exists, null, numeric comparison and keywords over every value."""
    check(
        rule("  sel:\n    Hashes|exists: true\n  condition: sel\n"),
        [event(Hashes="MD5=1"), event()],
        {0},
    )
    check(
        rule("  sel:\n    ParentImage: null\n  condition: sel\n"),
        [event(ParentImage=""), event(), event(ParentImage="x")],
        {0, 1},
    )
    check(
        rule("  sel:\n    TerminalSessionId|gte: 2\n  condition: sel\n"),
        [
            event(TerminalSessionId="3"),
            event(TerminalSessionId="1"),
            event(TerminalSessionId="n/a"),
        ],
        {0},
    )
    check(
        rule("  keywords:\n    - 'sekurlsa::logonpasswords'\n  condition: keywords\n"),
        [event(CommandLine="mimikatz SEKURLSA::LogonPasswords exit"), event(Image="x")],
        {0},
    )


def test_rules_only_see_their_log_source() -> None:
    """A process-creation rule reads Sysmon 1 and Security 4688 (mapped), nothing else."""
    text = rule("  sel:\n    Image|endswith: '\\\\whoami.exe'\n  condition: sel\n")
    events = [
        event(Image="C:\\w\\whoami.exe"),
        event(event_id=3, Image="C:\\w\\whoami.exe"),
        event(channel="Security", event_id=4688, NewProcessName="C:\\w\\whoami.exe"),
        event(channel="Security", event_id=4624, NewProcessName="C:\\w\\whoami.exe"),
    ]
    check(text, events, {0, 2})


def test_unroutable_and_invalid_rules_say_why() -> None:
    """A rule that cannot run has a stated reason, never a silent drop."""
    with pytest.raises(UnroutableError):
        route_of("macos", "process_creation", None)
    with pytest.raises(UnroutableError, match="no Linux event source"):
        route_of("linux", "image_load", None)
    macos = compile_yaml(
        HEAD.replace("windows", "macos") + "detection:\n  s:\n    a: b\n  condition: s\n"
    )
    assert macos.error and "only Windows and Linux rules" in macos.error
    bad_re = compile_yaml(rule("  sel:\n    CommandLine|re: '(?!x)y'\n  condition: sel\n"))
    assert bad_re.error and "invalid" in bad_re.error
    placeholder = compile_yaml(rule("  sel:\n    User|expand: '%admins%'\n  condition: sel\n"))
    assert placeholder.error and "placeholder" in placeholder.error
