"""Sigma fixtures: the SigmaHQ Windows rules of the shared corpus, compiled once."""

from __future__ import annotations

from pathlib import Path

import pytest

from carewarden.sigma.compiler import CompiledRule, FileError, load
from carewarden.sigma.engine import SigmaEngine

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


@pytest.fixture(scope="session")
def windows_rules() -> list[CompiledRule]:
    """Every SigmaHQ Windows rule of the shared corpus, compiled (about 15 s, once)."""
    folder = CORPORA / "sigma" / "rules" / "windows"
    if not folder.exists():
        pytest.skip("shared SigmaHQ rules not present (../shared/corpora/sigma)")
    return [r for r in load(folder) if not isinstance(r, FileError)]


@pytest.fixture(scope="session")
def windows_engine(windows_rules: list[CompiledRule]) -> SigmaEngine:
    return SigmaEngine(windows_rules)
