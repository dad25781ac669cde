"""Loading the YAML files a hospital edits (policies, mappings) into validated models."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from carewarden.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(model: type[M], path: Path, what: str) -> M:
    """``model`` validated from the YAML file ``path``; every problem is a ConfigError that
    names the file and the field (``what`` names the kind of file in messages)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found", path=str(path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from None
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(problems, path=str(path)) from None
