"""Loading Sigma rule files (SigmaHQ layout) and compiling each rule for the engine.

Every rule ends up as a :class:`CompiledRule`: either with its route, DuckDB condition and
the columns it reads, or with the reason it cannot be evaluated. No rule is dropped
silently. A condition is checked by DuckDB once (on one row of NULLs) at compile time, so
invalid SQL or a regular expression RE2 refuses is a compile failure, not a runtime one.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule, SigmaRuleBase

from carewarden.sigma.anchors import anchor
from carewarden.sigma.backend import DuckDBBackend, column, referenced_columns
from carewarden.sigma.logsources import UnroutableError, route_of
from carewarden.sigma.pybackend import PythonBackend

# Folders of a SigmaHQ checkout that hold no rules to run.
SKIPPED_DIRS = frozenset({"deprecated", "unsupported", "regression_data", "tests", ".github"})
CORRELATION_TYPES = ("event_count", "value_count", "temporal")
LEVELS = {
    "informational": ("info", 10),
    "low": ("low", 30),
    "medium": ("medium", 50),
    "high": ("high", 75),
    "critical": ("critical", 95),
}


@dataclass
class Correlation:
    """What a correlation rule counts: the rules it references, by group, in a time span."""

    type: str
    rules: list[str]
    group_by: list[str]
    # referenced rule id -> its field name for each group-by name (aliases resolved)
    fields: dict[str, dict[str, str]]
    timespan_s: int
    op: str  # gte | gt | lte | lt | eq | neq
    count: int
    value_field: str | None = None  # value_count: the field whose distinct values count
    generate: bool = False


STORED = ("route", "condition", "columns", "anchors", "python", "patterns", "correlation", "alerts")


@dataclass
class CompiledRule:
    rule_id: str
    title: str
    kind: str  # rule | correlation
    path: str
    author: str | None = None
    level: str | None = None
    status: str | None = None
    tags: list[str] = field(default_factory=list)
    logsource: str = ""
    route: str | None = None
    condition: str | None = None
    columns: list[tuple[str, bool]] = field(default_factory=list)
    # Keys of which an event must hold one to match (see anchors.py); None: no such keys.
    anchors: list[tuple[str, str, str]] | None = None
    # The same condition as a Python expression (see pybackend.py), for anchored rules.
    python: str | None = None
    patterns: list[tuple[str, int]] = field(default_factory=list)
    correlation: Correlation | None = None
    # False for a rule only referenced by correlations (Sigma's ``generate: false``).
    alerts: bool = True
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def severity(self) -> str:
        return LEVELS.get(self.level or "", ("medium", 50))[0]

    @property
    def score(self) -> int:
        return LEVELS.get(self.level or "", ("medium", 50))[1]

    def attack(self) -> list[str]:
        """ATT&CK tags as technique/tactic ids (``T1059.001``, ``TA0002``…) and names."""
        out = []
        for tag in self.tags:
            if tag.startswith("attack."):
                name = tag.removeprefix("attack.")
                out.append(name.upper() if name[:1] in "tTgGsS" and name[1:2].isdigit() else name)
        return out

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k in STORED})

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CompiledRule:
        """A rule as stored in ``sigma_rule`` (see :meth:`to_json`)."""
        compiled = json.loads(row["compiled"]) if row.get("compiled") else {}
        correlation = compiled.get("correlation")
        return cls(
            rule_id=row["rule_id"],
            title=row["title"],
            kind=row["kind"],
            path=row["path"],
            author=row.get("author"),
            level=row.get("level"),
            status=row.get("status"),
            tags=list(row.get("tags") or []),
            logsource=row.get("logsource") or "",
            route=compiled.get("route"),
            condition=compiled.get("condition"),
            columns=[(f, bool(r)) for f, r in compiled.get("columns", [])],
            anchors=(
                [(k, f, v) for k, f, v in compiled["anchors"]]
                if compiled.get("anchors") is not None
                else None
            ),
            python=compiled.get("python"),
            patterns=[(p, int(f)) for p, f in compiled.get("patterns", [])],
            correlation=Correlation(**correlation) if correlation else None,
            alerts=compiled.get("alerts", True),
            error=row.get("error"),
        )


def rule_files(folder: Path) -> list[Path]:
    """The ``.yml`` rule files under ``folder``: in a SigmaHQ checkout, its ``rules*``
    folders; elsewhere every file, recursively. Stable order."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise FileNotFoundError(folder)
    roots = [p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.startswith("rules")]
    files: list[Path] = []
    for root in roots or [folder]:
        for path in sorted(root.rglob("*.yml")) + sorted(root.rglob("*.yaml")):
            parts = set(path.relative_to(folder).parts[:-1])
            if path.is_file() and not parts & SKIPPED_DIRS:
                files.append(path)
    return files


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value)).lower() if hasattr(value, "name") else str(value)


def _base(rule: SigmaRuleBase, path: str, kind: str) -> CompiledRule:
    return CompiledRule(
        rule_id=str(rule.id) if rule.id else (rule.name or f"{path}#{rule.title}"),
        title=rule.title or path,
        kind=kind,
        path=path,
        author=rule.author,
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        tags=[str(t) for t in rule.tags],
    )


def _logsource(rule: SigmaRule) -> str:
    source = rule.logsource
    return "/".join(p or "-" for p in (source.product, source.category, source.service))


class Compiler:
    """Compiles rules with one backend and one DuckDB connection for checking conditions."""

    def __init__(self) -> None:
        self.backend = DuckDBBackend()
        self.python = PythonBackend()
        self.con = duckdb.connect()

    def close(self) -> None:
        self.con.close()

    def check(self, condition: str, columns: Iterable[tuple[str, bool]]) -> None:
        """Run the condition once over a row of NULLs: DuckDB binds it (and RE2 compiles
        its regular expressions) or says why not."""
        cols = ", ".join(f"NULL::VARCHAR AS {column(f, r)}" for f, r in sorted(set(columns)))
        self.con.execute(
            f"SELECT count(*) FROM (SELECT {cols or '1 AS x'}) WHERE {condition}"
        ).fetchall()

    def rule(self, rule: SigmaRule, path: str) -> CompiledRule:
        out = _base(rule, path, "rule")
        out.logsource = _logsource(rule)
        if rule.errors:
            out.error = "; ".join(str(e) for e in rule.errors)
            return out
        try:
            out.route = route_of(
                rule.logsource.product, rule.logsource.category, rule.logsource.service
            )
            # A rule only referenced by a correlation is "not output" for pySigma, which then
            # returns no query: its conversion result is what the correlation needs.
            queries = self.backend.convert_rule(rule) or rule.get_conversion_result()
        except UnroutableError as exc:
            out.error = f"unsupported log source: {exc}"
            return out
        except (SigmaError, NotImplementedError) as exc:
            out.error = f"cannot convert: {exc}"
            return out
        if not queries:
            out.error = "cannot convert: no query"
            return out
        condition = " OR ".join(f"({q})" for q in queries) if len(queries) > 1 else queries[0]
        out.columns = sorted(referenced_columns(condition))
        try:
            self.check(condition, out.columns)
        except duckdb.Error as exc:
            out.error = f"invalid SQL: {str(exc).splitlines()[0]}"
            return out
        out.condition = condition
        found = [anchor(parsed.parsed) for parsed in rule.detection.parsed_condition]
        if all(keys is not None for keys in found):  # else: run on every event of its source
            out.anchors = sorted(set().union(*(keys for keys in found if keys is not None)))
        self.python.patterns = []
        try:
            expressions = self.python.convert_rule(rule) or rule.get_conversion_result()
            out.python = " or ".join(f"({e})" for e in expressions)
            out.patterns = list(self.python.patterns)
        except (SigmaError, NotImplementedError, re.error):
            out.python = None  # evaluated by DuckDB only
        return out

    def correlation(self, rule: SigmaCorrelationRule, path: str) -> CompiledRule:
        out = _base(rule, path, "correlation")
        out.logsource = "correlation"
        kind = rule.type.name.lower() if isinstance(rule.type, SigmaCorrelationType) else ""
        if rule.errors:
            out.error = "; ".join(str(e) for e in rule.errors)
            return out
        if kind not in CORRELATION_TYPES:
            out.error = f"correlation type {kind or rule.type!r} is not supported (only " + (
                ", ".join(CORRELATION_TYPES) + ")"
            )
            return out
        condition = rule.condition
        if not isinstance(condition, SigmaCorrelationCondition):
            out.error = "extended (boolean) correlation conditions are not supported"
            return out
        referenced: list[str] = []
        for reference in rule.rules or []:
            target = getattr(reference, "rule", None)
            if target is None:
                out.error = f"references rule {reference.reference!r}, which was not imported"
                return out
            referenced.append(str(target.id) if target.id else str(target.name))
        group_by = list(rule.group_by or [])
        fields = {ref: {g: g for g in group_by} for ref in referenced}
        for alias in rule.aliases:
            for target_rule, name in alias.mapping.items():
                target = getattr(target_rule, "rule", None)
                key = (
                    str(target.id)
                    if target is not None and target.id
                    else str(getattr(target_rule, "reference", target_rule))
                )
                fields.setdefault(key, {})[alias.alias] = name
        fieldref = condition.fieldref
        out.correlation = Correlation(
            type=kind,
            rules=referenced,
            group_by=group_by,
            fields=fields,
            timespan_s=int(rule.timespan.seconds),
            op=condition.op.name.lower(),
            count=int(condition.count),
            value_field=fieldref if isinstance(fieldref, str) else None,
            generate=bool(rule.generate),
        )
        out.route = "correlation"
        return out


@dataclass
class FileError:
    path: str
    error: str


def load(folder: Path) -> Iterator[CompiledRule | FileError]:
    """Every rule under ``folder`` compiled, or the reason a file could not be read."""
    collections: list[SigmaCollection] = []
    origin: dict[int, str] = {}
    for path in rule_files(folder):
        relative = path.relative_to(folder).as_posix() if folder.is_dir() else path.name
        try:
            collection = SigmaCollection.from_yaml(
                path.read_text(encoding="utf-8"), collect_errors=True, resolve_references=False
            )
        except (SigmaError, UnicodeDecodeError, ValueError) as exc:
            yield FileError(relative, f"not a Sigma rule file: {exc}")
            continue
        except Exception as exc:  # a malformed file must not stop the import
            yield FileError(relative, f"not a Sigma rule file: {type(exc).__name__}: {exc}")
            continue
        for rule in collection:
            origin[id(rule)] = relative
        collections.append(collection)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    with contextlib.suppress(SigmaError):  # each correlation reports its own bad reference
        merged.resolve_rule_references()
    silent: set[str] = set()
    for rule in merged:
        if isinstance(rule, SigmaCorrelationRule) and not rule.generate:
            for reference in rule.rules or []:
                target = getattr(reference, "rule", None)
                if target is not None and target.id:
                    silent.add(str(target.id))
    compiler = Compiler()
    try:
        for rule in merged:
            where = origin.get(id(rule), "?")
            if isinstance(rule, SigmaCorrelationRule):
                yield compiler.correlation(rule, where)
            elif isinstance(rule, SigmaRule):
                compiled = compiler.rule(rule, where)
                compiled.alerts = compiled.rule_id not in silent
                yield compiled
    finally:
        compiler.close()
