"""The write path: validation before storage, one graph per record, atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from mlmeta.ingest import ingest, stored_versions
from mlmeta.loader import load_file
from mlmeta.records import EvaluationRecord, ModelRecord, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.vocab import MLM

DATA = Path(__file__).parent / "data"


def _quads(store: OxigraphStore) -> set[str]:
    return {str(q) for q in store.quads()}


def _model(version: str, value: float) -> ModelRecord:
    return ModelRecord("org/m", SourceInfo("huggingface", version=version),
                       evaluations=[EvaluationRecord("accuracy", value, dataset="glue")])


def test_rejected_records_leave_the_store_exactly_as_it_was(store: OxigraphStore) -> None:
    records, problems = load_file(DATA / "invalid-shapes.yaml")
    assert not problems
    ingest(store, records[:1])  # the valid one, and the ontology graphs
    before = _quads(store)
    report = ingest(store, records[1:])
    assert report.stored == [] and len(report.rejected) == 2
    assert _quads(store) == before


def test_a_bad_new_version_keeps_the_old_version(store: OxigraphStore) -> None:
    ingest(store, [_model("v1", 0.5)])
    before = _quads(store)
    bad = _model("v2", 0.5)
    bad.parameter_count = -1
    report = ingest(store, [bad])
    assert list(report.rejected) == ["huggingface:org/m"]
    assert _quads(store) == before


def test_replacing_a_record_leaves_no_stale_triples(store: OxigraphStore) -> None:
    ingest(store, [_model("v1", 0.5)])
    n1 = store.count()
    ingest(store, [_model("v2", 0.75)])
    assert store.count() == n1
    answer = store.query("SELECT ?v WHERE { ?e <https://w3id.org/mlmeta#value> ?v }")
    assert isinstance(answer, Rows)
    assert [float(r[0].value) for r in answer.rows] == [0.75]  # type: ignore[union-attr]
    g = ox.NamedNode("https://w3id.org/mlmeta/id/graph/model/huggingface%3Aorg%2Fm")
    assert stored_versions(store, [g]) == {g.value: "v2"}


def test_queries_see_the_union_of_record_graphs(store: OxigraphStore) -> None:
    ingest(store, [_model("v1", 0.5), ModelRecord("org/other", SourceInfo("huggingface"))])
    answer = store.query("SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a ?c }",
                         {"c": MLM.Model})
    assert isinstance(answer, Rows) and answer.rows[0][0].value == "2"  # type: ignore[union-attr]
    graphs = {g.value for g in store.named_graphs()}
    assert "https://w3id.org/mlmeta/id/graph/ontology" in graphs
    assert "https://w3id.org/mlmeta/id/graph/canonical" in graphs


def test_on_disk_store_persists(tmp_path: Path) -> None:
    s = OxigraphStore(tmp_path / "s")
    ingest(s, [_model("v1", 0.5)])
    n = s.count()
    s.close()
    del s
    s2 = OxigraphStore(tmp_path / "s")
    assert s2.count() == n > 0
