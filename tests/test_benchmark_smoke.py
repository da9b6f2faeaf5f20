"""The benchmark harness end to end at 1k models, so it cannot rot. No timings asserted."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from benchmarks import ingest_bench, query_bench, recrawl_bench, report, run
from benchmarks.generate import count_records, generate, model_key
from mlmeta.queries import saved_queries
from mlmeta.records import DatasetRecord, ModelRecord

N = 1000


def test_generator_is_deterministic_and_shaped() -> None:
    a = list(generate(300, seed=3))
    b = list(generate(300, seed=3))
    assert [r.key for r in a] == [r.key for r in b]
    assert [r.source.version for r in a] == [r.source.version for r in b]
    assert len(a) == count_records(300)
    models = [r for r in a if isinstance(r, ModelRecord)]
    assert len(models) == 300
    assert sum(isinstance(r, DatasetRecord) for r in a) == 300 // 25
    keys = {m.key for m in models}
    # every base a lineage names is a model of the zoo, named before its descendant
    bases = [lin.base for m in models for lin in m.derived_from]
    assert bases and all(b in keys for b in bases)
    relations = {lin.relation for m in models for lin in m.derived_from}
    assert relations >= {"finetune", "adapter", "quantized"}
    assert any(e.hardware for m in models for e in m.evaluations)
    assert any(m.label_space for m in models) and any(m.concepts for m in models)
    assert model_key(3, 0) == models[0].key


def test_changed_fraction_changes_that_share_of_versions() -> None:
    before = list(generate(2000, seed=5))
    after = list(generate(2000, seed=5, changed=0.05))
    changed = sum(a.source.version != b.source.version
                  for a, b in zip(before, after, strict=True))
    assert 0.02 * len(before) < changed < 0.08 * len(before)
    assert [a.key for a in before] == [b.key for b in after]


def test_sizes_parse() -> None:
    assert [run.parse_size(s) for s in ("10k", "100k", "1M", "500")] == [
        10_000, 100_000, 1_000_000, 500]
    with pytest.raises(ValueError):
        run.parse_size("ten")


def test_harness_end_to_end(tmp_path: Path) -> None:
    bulk = ingest_bench.run_bulk(N, tmp_path)
    assert bulk["records"] == count_records(N) and bulk["quads"] > 20 * N
    nq = Path(bulk["nquads_file"])
    assert sum(1 for _ in ox.parse(path=str(nq), format=ox.RdfFormat.N_QUADS)) == bulk["quads"]

    ingest = ingest_bench.run_ingest(N, tmp_path, validator="sparql", writer="bulk",
                                     batch_size=500)
    assert ingest["stored"] == count_records(N) and ingest["rejected"] == 0
    assert ingest["quads"] == bulk["quads"]
    store_dir = Path(ingest["store_dir"])

    store = ingest_bench.OxigraphStore(store_dir, read_only=True)
    n_models = store.query("SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { "
                           "?m a <https://w3id.org/mlmeta#Model> ; "
                           "<https://w3id.org/mlmeta#sourceId> ?id }")
    assert int(n_models.rows[0][0].value) == N  # type: ignore[union-attr]
    # budget 0: every query runs once (twice when probe values replace the defaults)
    results = query_bench.bench_queries(store, N, repeat=1, budget_s=0.0)
    names = {r["query"] for r in results}
    assert names == set(saved_queries())
    for r in results:
        assert "error" not in r, r
        if "skipped" not in r:
            assert r["runs"] >= 1 and r["median_ms"] >= 0
    store.close()

    again = recrawl_bench.run_recrawl(store_dir, N, tmp_path, changed=0.05)
    assert again["unchanged"]["ingested"] == 0
    assert again["unchanged_batched"]["ingested"] == 0
    assert again["changed"]["ingested"] == again["expected_changed"] > 0


def test_update_writer_and_stages(tmp_path: Path) -> None:
    out = ingest_bench.run_ingest(200, tmp_path, validator="sparql", writer="update",
                                  batch_size=100, keep=False)
    assert out["stored"] == count_records(200) and out["store_quads"] >= out["quads"] > 0
    stages = ingest_bench.run_stages(200, tmp_path, batch_size=100, pyshacl_limit=100)
    assert stages["pyshacl_records"] == 100
    assert set(stages["seconds"]) == {"map", "validate_sparql", "validate_pyshacl",
                                      "update_text", "store_update"}


def test_report_renders_between_markers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "1k-bulk-0.json").write_text(
        '{"quads": 100, "load_s": 1.0, "models_per_s": 1000, "triples_per_s": 100, '
        '"peak_rss_mb": 10, "store_bytes": 1000000}')
    for name, seconds, workers in (("sparql-bulk-0", 4.0, 1), ("sparql-bulk-w2-0", 2.0, 2)):
        (out / f"1k-ingest-{name}.json").write_text(
            f'{{"quads": 100, "seconds": {seconds}, "triples_per_s": {100 / seconds}, '
            f'"models_per_s": 250, "batch_size": 1000, "workers": {workers}, '
            '"peak_rss_mb": 10, "store_bytes": 1000000}')
    doc = tmp_path / "B.md"
    doc.write_text("intro\n<!-- bench:ingest -->\nold\n<!-- /bench:ingest -->\nend\n")
    report.render(out, doc)
    text = doc.read_text()
    rows = {line.split("|")[2].strip(): line for line in text.splitlines()
            if line.startswith("| 1k | ingest")}
    # each variant from its own files: 2 workers at 0.50 of the bulk load, 1 worker at 0.25
    two = rows["ingest: SPARQL shapes + bulk pipeline, 2 workers (mlmeta add --bulk "
               "--workers 2) (batch 1000, 2 workers; load —)"]
    one = rows["ingest: SPARQL shapes + bulk pipeline (mlmeta add --bulk) (batch 1000, "
               "1 worker; load —)"]
    assert "| 0.50 |" in two and "| 0.25 |" in one
    assert text.startswith("intro\n") and text.rstrip().endswith("<!-- /bench:recrawl -->")
    assert "old" not in text and "raw `Store.bulk_load`" in text
    assert "Not measured in this run: 10k, 100k, 1M" in text
