"""``carewarden rules import|list``: Sigma rules into the store, compiled once, and the
list of what compiled and why the rest did not.

The built-in pack (``sigma/builtin``: a few dozen SigmaHQ rules copied unchanged, under the
Detection Rule License 1.1) is imported with :func:`import_builtin_rules`; its alerts link
each rule to its file in the SigmaHQ repository at the commit it was taken from.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from carewarden.sigma.compiler import CompiledRule, FileError, load
from carewarden.store import Store
from carewarden.store.store import utcnow


@dataclass
class ImportSummary:
    folder: Path
    compiled: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def total(self) -> int:
        return self.compiled + self.failed


def reason_group(error: str) -> str:
    """A failure reason without its specifics (quoted values), for counting."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", error)[:100]


BUILTIN_PACK = Path(__file__).resolve().parent.parent / "sigma" / "builtin"
BUILTIN_SOURCE = "SigmaHQ"
BUILTIN_COMMIT = "8eaafff1f2845a696050e05e72ba1140ee190698"
BUILTIN_URL = f"https://github.com/SigmaHQ/sigma/blob/{BUILTIN_COMMIT}/"
BUILTIN_NAME = "builtin"


def import_builtin_rules(store: Store) -> ImportSummary:
    """Import the built-in pack; importing it again replaces the same rules (no duplicates)."""
    return import_rules(store, BUILTIN_PACK, BUILTIN_SOURCE, url=BUILTIN_URL)


def import_rules(
    store: Store, folder: Path, source: str | None = None, *, url: str | None = None
) -> ImportSummary:
    """Load, compile and store every rule under ``folder``; a rule imported before with the
    same id is replaced. A rule's reference is ``SOURCE: PATH``, or ``SOURCE: URL+PATH``
    where ``url`` is where the folder is published."""
    label = source or folder.resolve().name
    summary = ImportSummary(folder)
    rows: list[dict[str, object]] = []
    now = utcnow()
    for item in load(folder):
        if isinstance(item, FileError):
            rule = CompiledRule(f"file:{item.path}", item.path, "file", item.path, error=item.error)
        else:
            rule = item
        if rule.ok:
            summary.compiled += 1
        else:
            summary.failed += 1
            summary.reasons[reason_group(rule.error or "")] += 1
            summary.failures.append((rule.path, rule.error or ""))
        rows.append(
            {
                "rule_id": rule.rule_id,
                "title": rule.title,
                "kind": rule.kind,
                "author": rule.author,
                "level": rule.level,
                "status": rule.status,
                "tags": rule.tags,
                "logsource": rule.logsource,
                "path": rule.path,
                "reference": f"{label}: {url or ''}{rule.path}",
                "compiled": rule.to_json() if rule.ok else None,
                "error": rule.error,
                "imported_at": now,
            }
        )
    table = pa.Table.from_pylist(rows, schema=RULE_SCHEMA)
    with store.transaction():
        store.replace_rows("sigma_rule", "rule_id", table)
    return summary


RULE_SCHEMA = pa.schema(
    [
        ("rule_id", pa.string()),
        ("title", pa.string()),
        ("kind", pa.string()),
        ("author", pa.string()),
        ("level", pa.string()),
        ("status", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("logsource", pa.string()),
        ("path", pa.string()),
        ("reference", pa.string()),
        ("compiled", pa.string()),
        ("error", pa.string()),
        ("imported_at", pa.timestamp("us")),
    ]
)


def list_rules(store: Store, *, failed_only: bool = False) -> list[dict[str, object]]:
    where = "WHERE error IS NOT NULL" if failed_only else ""
    rows: list[dict[str, object]] = store.arrow(
        "SELECT rule_id, title, kind, level, author, logsource, path, reference, "
        f"error IS NULL AS compiled, error FROM sigma_rule {where} ORDER BY path, rule_id"
    ).to_pylist()
    return rows
