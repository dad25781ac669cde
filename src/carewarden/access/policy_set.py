"""The Cedar policy set: every ``*.cedar`` file of a folder, validated against the folder's
``schema.cedarschema`` (the shipped one when the folder has none) before it is used.

A folder that does not parse or validate is refused with the file and the error; the holder
keeps the set in force until a valid one replaces it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cedarpy

from carewarden.errors import ConfigError

SHIPPED = Path(__file__).parent / "policies"
SCHEMA_FILE = "schema.cedarschema"
_ID = re.compile(r'@id\(\s*"([^"]+)"\s*\)')


@dataclass(frozen=True)
class PolicyBundle:
    """A parsed, validated policy set and where each policy came from."""

    folder: Path
    policies: cedarpy.PolicySet
    schema: cedarpy.Schema
    files: dict[str, str]  # policy @id -> file name
    effects: dict[str, str]  # policy @id -> permit | forbid
    signature: tuple[tuple[str, int, int], ...]  # (file, mtime_ns, size): to notice edits


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    files = [*sorted(folder.glob("*.cedar")), folder / SCHEMA_FILE]
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists()
    )


def load_policies(folder: Path | None = None) -> PolicyBundle:
    """Parse and validate the policies of ``folder`` (default: the shipped set); raise
    :class:`ConfigError` naming the file and the problem."""
    folder = folder or SHIPPED
    if not folder.is_dir():
        raise ConfigError("no such policy folder", path=str(folder))
    schema_path = folder / SCHEMA_FILE if (folder / SCHEMA_FILE).exists() else SHIPPED / SCHEMA_FILE
    try:
        schema = cedarpy.Schema.from_str(schema_path.read_text("utf-8"))
    except ValueError as exc:
        raise ConfigError(f"invalid Cedar schema: {exc}", path=str(schema_path)) from None
    texts: list[str] = []
    files: dict[str, str] = {}
    effects: dict[str, str] = {}
    paths = sorted(folder.glob("*.cedar"))
    if not paths:
        raise ConfigError("no *.cedar policy files", path=str(folder))
    for path in paths:
        text = path.read_text("utf-8")
        try:
            parsed = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:
            raise ConfigError(f"invalid Cedar policy: {exc}", path=str(path)) from None
        result = cedarpy.validate_policies(text, schema)
        if not result.validation_passed:
            problems = "; ".join(str(e) for e in result.errors)
            raise ConfigError(f"policy does not match the schema: {problems}", path=str(path))
        ids = _ID.findall(text)
        if len(ids) != len(parsed):
            raise ConfigError(
                'every policy needs an @id("...") annotation, so decisions can name it',
                path=str(path),
            )
        for policy_id, effect in zip(ids, _effects(text), strict=True):
            if policy_id in files:
                raise ConfigError(
                    f"policy id {policy_id!r} is also used in {files[policy_id]}", path=str(path)
                )
            files[policy_id] = path.name
            effects[policy_id] = effect
        texts.append(text)
    policies = cedarpy.PolicySet.from_str("\n".join(texts))
    return PolicyBundle(folder, policies, schema, files, effects, _signature(folder))


def _effects(text: str) -> list[str]:
    """permit/forbid of each policy, in order (comments removed first)."""
    code = re.sub(r"//[^\n]*", "", text)
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', code)
    return re.findall(r"\b(permit|forbid)\s*\(", code)


class PolicyHolder:
    """The policy set in force. :meth:`reload` swaps in a newer valid set; an invalid one is
    refused, its error kept in :attr:`last_error`, and the previous set stays in force."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or SHIPPED
        self.current = load_policies(self.folder)
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def changed(self) -> bool:
        return _signature(self.folder) != self.current.signature

    def reload(self, *, force: bool = False) -> str | None:
        """Load the folder again if it changed (or ``force``); return the error that refused
        it, None when the set in force is the folder's."""
        with self._lock:
            if not force and not self.changed():
                return self.last_error
            try:
                self.current = load_policies(self.folder)
            except ConfigError as exc:
                self.last_error = str(exc)
            else:
                self.last_error = None
            return self.last_error
