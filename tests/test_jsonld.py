"""User records in JSON-LD with our context: validated, stored per record, or rejected."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mlmeta.cli import cli
from mlmeta.jsonld import ingest_jsonld
from mlmeta.store import OxigraphStore, Rows

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def test_jsonld_example_is_stored_in_its_own_graph(store: OxigraphStore) -> None:
    report = ingest_jsonld(store, REPO / "examples" / "records" / "my-classifier.jsonld")
    assert report.stored == ["jsonld:https://example.org/models/acme-mobilenet-edge"]
    answer = store.query(
        "PREFIX mlm: <https://w3id.org/mlmeta#> SELECT ?g ?p WHERE { GRAPH ?g { "
        "<https://example.org/models/acme-mobilenet-edge> mlm:parameterCount ?p } }")
    assert isinstance(answer, Rows) and len(answer) == 1
    g, p = answer.rows[0]
    assert g is not None and g.value.startswith("https://w3id.org/mlmeta/id/graph/model/")
    assert p is not None and p.value == "3504872"


def test_invalid_jsonld_is_rejected_and_store_unchanged(tmp_path: Path) -> None:
    s = str(tmp_path / "s")
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", s, "init"]).exit_code == 0
    before = runner.invoke(cli, ["--store", s, "export", "--format", "nq"]).stdout
    result = runner.invoke(cli, ["--store", s, "add", str(DATA / "invalid-model.jsonld")])
    assert result.exit_code == 1
    assert "parameterCount" in result.stderr and "name" in result.stderr
    after = runner.invoke(cli, ["--store", s, "export", "--format", "nq"]).stdout
    assert sorted(before.splitlines()) == sorted(after.splitlines())


def test_unknown_type_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(DATA / "invalid-type.jsonld")])
    assert result.exit_code == 1
    assert "@type must be one of" in result.stderr and "Traceback" not in result.stderr
