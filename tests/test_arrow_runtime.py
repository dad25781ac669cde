"""pyarrow's per-conversion probe for python-dateutil stays cheap where it is missing."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from carewarden.arrow_runtime import DATEUTIL_MODULE, remember_missing


class CountingFinder(importlib.abc.MetaPathFinder):
    """Counts the searches for one module that reach the import system's finders."""

    def __init__(self, module: str) -> None:
        self.module, self.searches = module, 0

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.module or self.module.startswith(fullname + "."):
            self.searches += 1
        return None


def _searches_during_conversions(monkeypatch: pytest.MonkeyPatch) -> int:
    finder = CountingFinder(DATEUTIL_MODULE)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    column = pa.array(["a", "", "b"])
    for _ in range(20):
        assert pc.equal(column, "").to_pylist() == [False, True, False]
    return finder.searches


def test_conversions_no_longer_search_for_a_missing_dateutil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if sys.modules.get(DATEUTIL_MODULE) is not None:
        pytest.skip("python-dateutil is installed here: pyarrow finds it once and keeps it")
    assert sys.modules[DATEUTIL_MODULE] is None  # recorded by `import carewarden`
    assert _searches_during_conversions(monkeypatch) == 0
    monkeypatch.delitem(sys.modules, DATEUTIL_MODULE)  # as without the fix
    assert _searches_during_conversions(monkeypatch) >= 20


def test_only_a_module_that_cannot_be_imported_is_recorded_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = "carewarden_no_such_package.sub"
    monkeypatch.delitem(sys.modules, missing, raising=False)
    assert remember_missing(missing)
    assert sys.modules[missing] is None
    with pytest.raises(ImportError):
        importlib.import_module(missing)
    monkeypatch.delitem(sys.modules, missing)
    monkeypatch.delitem(sys.modules, "json.tool", raising=False)
    assert not remember_missing("json.tool")  # importable: left to the import system
    assert "json.tool" not in sys.modules
    assert not remember_missing("json")  # already imported
