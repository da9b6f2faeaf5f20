"""docs/queries.md is generated from the saved queries' headers and kept up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from mlmeta.queries import saved_queries

REPO = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_query_docs",
                                                  REPO / "tools" / "gen_query_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_queries_md_is_up_to_date() -> None:
    gen = _generator()
    expected = gen.render(saved_queries())
    actual = (REPO / "docs" / "queries.md").read_text("utf-8")
    assert actual == expected, "docs/queries.md is stale: run python tools/gen_query_docs.py"


def test_the_reference_names_every_query_parameter_and_column() -> None:
    text = (REPO / "docs" / "queries.md").read_text("utf-8")
    for name, q in saved_queries().items():
        assert f"## {name}\n" in text
        for p in q.params:
            assert f"`--{p.name.replace('_', '-')}`" in text
        for c in q.columns:
            assert f"`{c}`" in text


def test_check_mode_fails_on_a_stale_reference(tmp_path: Path) -> None:
    gen = _generator()
    gen.DOC = tmp_path / "queries.md"
    gen.DOC.write_text("# stale\n", "utf-8")
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
