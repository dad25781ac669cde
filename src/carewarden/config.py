"""Loading the YAML files a hospital edits (policies, mappings) into validated models."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

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
    return validate_model(model, data if data is not None else {}, path)


def validate_model(model: type[M], data: object, path: Path) -> M:
    """``model`` validated from ``data`` read from ``path``; a ConfigError names the file
    and every field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(e) for e in exc.errors()), path=str(path)) from None


def _problem(error: ErrorDetails) -> str:
    # A model-level check already names its field in the message ("field: what is wrong").
    message = error["msg"].removeprefix("Value error, ")
    where = ".".join(str(p) for p in error["loc"])
    if where:
        return f"{where}: {message}"
    return message if ": " in message else f"(top): {message}"
