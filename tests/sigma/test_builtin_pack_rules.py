"""The built-in Sigma pack: every rule compiles, each file is SigmaHQ's own (unchanged, credited
in the NOTICE under the Detection Rule License), and `rules import --builtin` is idempotent."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from carewarden.cli.main import app
from carewarden.services.rules import (
    BUILTIN_COMMIT,
    BUILTIN_PACK,
    import_builtin_rules,
    list_rules,
)
from carewarden.sigma.compiler import FileError, load, rule_files
from carewarden.store import Store

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "sigma"
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner(env={"COLUMNS": "200"})


def pack_files() -> list[Path]:
    return rule_files(BUILTIN_PACK)


def test_every_rule_of_the_pack_compiles() -> None:
    """15 to 40 rules, each compiled with a route and a condition, none failing."""
    compiled = list(load(BUILTIN_PACK))
    assert 15 <= len(compiled) <= 40
    failures = [c for c in compiled if isinstance(c, FileError) or not c.ok]
    assert not failures, failures
    assert len(compiled) == len(pack_files())
    for rule in compiled:
        assert not isinstance(rule, FileError)
        assert rule.route and rule.condition and rule.author, rule.path
        assert rule.path.startswith("rules/windows/"), rule.path


def test_pack_keeps_sigmahq_metadata_and_credits_every_rule() -> None:
    """Each file keeps its id, author and references; the NOTICE names every rule path, its
    author, SigmaHQ and the commit; the DRL 1.1 text ships beside it."""
    notice = (BUILTIN_PACK / "NOTICE.md").read_text("utf-8")
    licence = (BUILTIN_PACK / "LICENSE.Detection.Rules.md").read_text("utf-8")
    assert licence.startswith("# Detection Rule License (DRL) 1.1")
    assert "messages based on matches with the Rules must retain" in licence
    assert "SigmaHQ" in notice and BUILTIN_COMMIT in notice
    for path in pack_files():
        doc = yaml.safe_load(path.read_text("utf-8"))
        assert doc["id"] and doc["author"] and doc["references"], path
        relative = path.relative_to(BUILTIN_PACK).as_posix()
        assert f"`{relative}`" in notice
        assert str(doc["author"]) in notice and doc["id"] in notice


def test_pack_files_are_sigmahq_files_unchanged() -> None:
    """Byte for byte the files of the SigmaHQ checkout they came from (when it is present)."""
    if not (CORPUS / "rules").exists():
        pytest.skip("shared SigmaHQ corpus not present (../shared/corpora/sigma)")
    for path in pack_files():
        original = CORPUS / path.relative_to(BUILTIN_PACK)
        assert original.read_bytes() == path.read_bytes(), path


def test_pack_is_package_data() -> None:
    """pyproject ships the rules, the NOTICE and the licence with the package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["carewarden"]
    assert "sigma/builtin/*.md" in patterns and "sigma/builtin/rules/**/*.yml" in patterns


def test_builtin_import_is_idempotent_and_links_each_rule(store: Store) -> None:
    """Importing the pack twice stores each rule once; each reference links to the rule's
    file in SigmaHQ's repository at the commit it was taken from."""
    first = import_builtin_rules(store)
    second = import_builtin_rules(store)
    assert first.compiled == second.compiled == len(pack_files()) and second.failed == 0
    rows = list_rules(store)
    assert len(rows) == len(pack_files())
    url = f"SigmaHQ: https://github.com/SigmaHQ/sigma/blob/{BUILTIN_COMMIT}/rules/windows/"
    for row in rows:
        assert row["compiled"] and str(row["reference"]).startswith(url), row
        assert str(row["reference"]).endswith(str(row["path"]))


def test_rules_import_builtin_command(tmp_path: Path) -> None:
    """`rules import --builtin` twice, then `rules list`: every rule once, compiled; a folder
    and --builtin together, or neither, is a usage error (exit 2)."""
    store = str(tmp_path / "store")
    for _ in range(2):
        result = runner.invoke(app, ["rules", "import", "--builtin", "--store", store])
        assert result.exit_code == 0, result.output
        assert f"{len(pack_files())} rules: {len(pack_files())} compiled" in result.output
    listed = runner.invoke(app, ["rules", "list", "--store", store, "--format", "jsonl"])
    rows = [orjson.loads(line) for line in listed.output.splitlines() if line.strip()]
    assert len(rows) == len(pack_files()) and all(r["compiled"] for r in rows)
    neither = runner.invoke(app, ["rules", "import", "--store", store])
    both = runner.invoke(app, ["rules", "import", str(tmp_path), "--builtin", "--store", store])
    assert neither.exit_code == both.exit_code == 2


def test_readme_counts_the_pack() -> None:
    """The README's worked example prints the pack's real size."""
    readme = (ROOT / "README.md").read_text("utf-8")
    count = len(pack_files())
    assert f"{count} rules: {count} compiled (100.0%), 0 failed." in readme
    assert f"Built-in Sigma pack: {count} SigmaHQ rules" in readme
