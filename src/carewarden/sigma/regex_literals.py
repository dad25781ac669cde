"""The texts a regular expression cannot match without: anchors for Sigma ``|re`` rules.

``cmd.{0,5}(?:/c|/r).+powershell`` cannot match a value that does not contain
``powershell``; the engine uses such a text to pick a rule's candidate events (see
:mod:`carewarden.sigma.anchors`) instead of running the expression on every event.

The expression is read with the standard library's own parser (``re._parser``: private, but
the one the ``re`` module compiles with; no public parser exists). Anything it refuses, or a
construct this module does not know, gives no anchor, which is always safe: the rule is then
evaluated on every event of its log source.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+
    import re._constants as _constants  # type: ignore[import-not-found]
    import re._parser as _parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older interpreters
    import sre_constants as _constants
    import sre_parse as _parser

LITERAL = _constants.LITERAL
SUBPATTERN = _constants.SUBPATTERN
BRANCH = _constants.BRANCH
REPEATS = {_constants.MAX_REPEAT, _constants.MIN_REPEAT} | (
    {_constants.POSSESSIVE_REPEAT} if hasattr(_constants, "POSSESSIVE_REPEAT") else set()
)
ATOMIC = getattr(_constants, "ATOMIC_GROUP", None)

Option = frozenset[str]  # one of these texts is in every match


def required_literals(pattern: str, flags: int = 0) -> set[str] | None:
    """The best set of texts of which every match contains one, or None.

    The engine compares anchors with lower-cased values. Texts are ASCII, and where the
    expression ignores case they hold no ``i`` or ``s``: those two also match the dotless i
    (U+0131) and the long s (U+017F), whose lower case is not ``i`` or ``s`` (the only
    such ASCII characters)."""
    try:
        parsed = _parser.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    best = _best(_options(list(parsed), bool(parsed.state.flags & re.IGNORECASE)))
    return set(best) if best else None


def _options(items: list[tuple[Any, Any]], ignore_case: bool) -> list[Option]:
    """Every option found in a sequence of regex items."""
    options: list[Option] = []
    run: list[str] = []

    def close() -> None:
        if run:
            options.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        if op is LITERAL or op == LITERAL:
            char = chr(arg)
            if char.isascii() and not (ignore_case and char in "iIsS"):
                run.append(char)
                continue
        close()
        if op == SUBPATTERN:
            _group, add, remove, body = arg
            inner = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            options.extend(_options(list(body), inner))
        elif op in REPEATS and arg[0] >= 1:
            options.extend(_options(list(arg[2]), ignore_case))
        elif ATOMIC is not None and op == ATOMIC:
            options.extend(_options(list(arg), ignore_case))
        elif op == BRANCH:
            alternatives = [_best(_options(list(alt), ignore_case)) for alt in arg[1]]
            if alternatives and all(alternatives):
                options.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
    close()
    return options


def _best(options: list[Option]) -> Option | None:
    """The most selective option: the longest shortest text, then the fewest texts."""
    if not options:
        return None
    return max(options, key=lambda o: (min(len(t) for t in o), -len(o)))
