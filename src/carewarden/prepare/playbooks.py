"""Incident-response playbooks: YAML files validated at load (the schema is in the README).

A playbook names the alerts it answers (``matches``: glob patterns on rule ids and on the
ATT&CK/HIPAA mapping, optionally limited to entity kinds) and lists its tasks by phase, in
the order of NIST SP 800-61 (identify, contain, eradicate, recover, post-incident), each with
the role that owns it, its deadline in hours after discovery and the evidence it needs.
A playbook that matches nothing is opened by hand (``carewarden cases open --playbook``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from carewarden.config import load_yaml_model
from carewarden.errors import ConfigError

PLAYBOOK_DIR = Path(__file__).parent / "playbooks"
PHASES = ("identify", "contain", "eradicate", "recover", "post-incident")
PhaseName = Literal["identify", "contain", "eradicate", "recover", "post-incident"]
EntityKind = Literal["user", "host", "device", "patient"]
ENTITY_KINDS: tuple[EntityKind, ...] = ("user", "host", "device", "patient")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=200)]
HOURS_PER_YEAR = 366 * 24


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaybookTask(_Strict):
    id: Slug
    title: Text
    owner_role: Slug
    due_hours_after_discovery: float = Field(gt=0, le=HOURS_PER_YEAR)
    evidence: list[Text] = []


class PlaybookPhase(_Strict):
    name: PhaseName
    tasks: list[PlaybookTask] = Field(min_length=1)


class PlaybookMatch(_Strict):
    rules: list[Pattern] = []  # glob patterns on alert.rule_id, e.g. privacy.*
    mappings: list[Pattern] = []  # glob patterns on alert.mapping entries, e.g. T1486
    entities: list[EntityKind] = []  # only cases of these entity kinds (empty: any)

    def matches(self, rule_id: str, mapping: Iterable[str], entity_kind: str) -> bool:
        if self.entities and entity_kind not in self.entities:
            return False
        if any(fnmatch.fnmatchcase(rule_id, p) for p in self.rules):
            return True
        return any(fnmatch.fnmatchcase(m, p) for m in mapping for p in self.mappings)


class Playbook(_Strict):
    id: Slug
    title: Text
    description: str = ""
    priority: int = 0  # the highest-priority playbook matching an alert is chosen
    matches: PlaybookMatch = PlaybookMatch()
    phases: list[PlaybookPhase] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Playbook:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phases: a phase appears twice ({names})")
        if names != sorted(names, key=PHASES.index):
            raise ValueError(f"phases: out of order ({names}); the order is {list(PHASES)}")
        ids = [t.id for p in self.phases for t in p.tasks]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"phases: task id(s) used twice: {repeated}")
        return self

    def tasks(self) -> list[tuple[PhaseName, PlaybookTask]]:
        return [(phase.name, task) for phase in self.phases for task in phase.tasks]


def load_playbook(path: Path) -> Playbook:
    """The playbook in ``path``; a ConfigError names the file and every field at fault."""
    playbook = load_yaml_model(Playbook, path, "playbook")
    if playbook.id != path.stem:
        raise ConfigError(
            f"id: {playbook.id!r} differs from the file name {path.stem!r}", path=str(path)
        )
    return playbook


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files of each folder, and each file, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.exists():
            found.append(path)
        else:
            raise ConfigError("playbook file or folder not found", path=str(path))
    return found


def load_playbooks(extra: Sequence[Path] = ()) -> list[Playbook]:
    """The shipped playbooks and those in ``extra``; one id may not appear twice."""
    playbooks: dict[str, tuple[Playbook, Path]] = {}
    for path in playbook_files([PLAYBOOK_DIR, *extra]):
        playbook = load_playbook(path)
        if playbook.id in playbooks:
            raise ConfigError(
                f"id: {playbook.id!r} is already defined in {playbooks[playbook.id][1]}",
                path=str(path),
            )
        playbooks[playbook.id] = (playbook, path)
    return [p for p, _ in playbooks.values()]


def choose_playbook(
    playbooks: Iterable[Playbook], rule_id: str, mapping: Iterable[str], entity_kind: str
) -> Playbook | None:
    """The playbook for an alert: the matching one of highest priority (then lowest id)."""
    mapping = list(mapping)
    matching = [p for p in playbooks if p.matches.matches(rule_id, mapping, entity_kind)]
    return min(matching, key=lambda p: (-p.priority, p.id), default=None)
