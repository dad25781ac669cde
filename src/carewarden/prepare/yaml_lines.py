"""Loading a YAML file into a model with every error naming the file, the field and its line.

:func:`carewarden.config.load_yaml_model` names the file and the field; the files a team
writes by hand for an exercise (scenarios, answers) are long enough that the line matters
too, so these loaders look each error's field up in the YAML node tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from carewarden.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = Sequence[int | str]


class YamlDocument:
    """A YAML file's text, parsed data and node tree (for the line of a field)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{what} file not found", path=str(path)) from None
        except (UnicodeDecodeError, IsADirectoryError) as exc:
            raise ConfigError(f"cannot read the {what} file: {exc}", path=str(path)) from None
        try:
            self.data: object = yaml.safe_load(text)
            self.root: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from None
        if self.data is None:
            self.data = {}

    def line(self, loc: Loc) -> int | None:
        """The 1-based line of the field at ``loc`` (the deepest part of it found)."""
        node = self.root
        if node is None:
            return None
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                child = node.value[part] if 0 <= part < len(node.value) else None
            if child is None:
                break
            node = child
        return int(node.start_mark.line) + 1

    def problem(self, loc: Loc, message: str) -> str:
        """``field (line N): message``."""
        where = ".".join(str(p) for p in loc) or "(top)"
        line = self.line(loc)
        return f"{where} (line {line}): {message}" if line else f"{where}: {message}"

    def error(self, problems: Sequence[str]) -> ConfigError:
        return ConfigError("; ".join(problems), path=str(self.path))

    def validate(self, model: type[M]) -> M:
        """``model`` validated from the document; a ConfigError names every field at fault."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            problems = []
            for e in exc.errors():
                message = e["msg"].removeprefix("Value error, ")
                problems.append(self.problem(_field_path(e["loc"]), message))
            raise self.error(problems) from None


def _field_path(loc: Loc) -> list[int | str]:
    """The error's location without pydantic's union-member tags (``str``, ``list[str]``)."""
    return [p for p in loc if isinstance(p, int) or ("[" not in p and p not in _TAGS)]


_TAGS = {"str", "constrained-str", "int", "float", "bool", "list", "dict"}
