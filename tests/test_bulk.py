"""Bulk ingest: the same report and the same store as ``ingest``, through worker processes
and Oxigraph's bulk loader; a marker while loading; failures surface as errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from mlmeta.bulk import MARKER_NAME, STORE_WARNING_KEY, BulkIngestError, bulk_ingest
from mlmeta.cli import cli
from mlmeta.errors import UsageError, Violation
from mlmeta.ingest import ingest, stored_versions
from mlmeta.loader import load_file
from mlmeta.mapping import MappedRecord
from mlmeta.records import EvaluationRecord, ModelRecord, Record, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.vocab import ONTOLOGY_GRAPH

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "examples" / "zoo"
DATA = Path(__file__).parent / "data"
WHEN = datetime(2026, 1, 2, tzinfo=UTC)


def _zoo() -> list[Record]:
    records: list[Record] = []
    for f in sorted(ZOO.glob("*.yaml")):
        recs, problems = load_file(f)
        assert not problems
        records.extend(recs)
    return records


def _quads(store: OxigraphStore) -> set[str]:
    """Every quad but the ontology's, whose OWL blank nodes get new labels on each load."""
    return {str(q) for q in store.quads() if q.graph_name != ONTOLOGY_GRAPH}


def _model(version: str, value: float, name: str = "org/m") -> ModelRecord:
    return ModelRecord(name, SourceInfo("huggingface", version=version),
                       evaluations=[EvaluationRecord("accuracy", value, dataset="glue")])


def _values(store: OxigraphStore) -> list[float]:
    answer = store.query("SELECT ?v WHERE { ?e <https://w3id.org/mlmeta#value> ?v }")
    assert isinstance(answer, Rows)
    return sorted(float(r[0].value) for r in answer.rows)  # type: ignore[union-attr]


def _assert_no_workers_left() -> None:
    assert multiprocessing.active_children() == []


def test_bulk_gives_the_same_store_and_report_as_ingest(tmp_path: Path) -> None:
    records = _zoo()
    assert len(records) > 40
    reference = OxigraphStore()
    expected = ingest(reference, records, batch_size=16, retrieved=WHEN, source="zoo")
    store = OxigraphStore(tmp_path / "s")
    # Small batches and a real worker process, so several batches cross the pipeline.
    report = bulk_ingest(store, records, batch_size=16, retrieved=WHEN, source="zoo",
                         workers=1)
    _assert_no_workers_left()
    assert report.stored == expected.stored and report.quads == expected.quads > 1000
    assert report.rejected == expected.rejected == {}
    assert report.warnings == expected.warnings
    assert _quads(store) == _quads(reference)
    assert len(store.graph_quads(ONTOLOGY_GRAPH)) == len(reference.graph_quads(ONTOLOGY_GRAPH))
    assert not (tmp_path / "s" / MARKER_NAME).exists()


def test_invalid_records_are_rejected_with_the_same_violations_and_not_stored() -> None:
    records, problems = load_file(DATA / "invalid-shapes.yaml")
    assert not problems and len(records) == 3
    reference = OxigraphStore()
    expected = ingest(reference, records, retrieved=WHEN, source="bad.yaml")
    store = OxigraphStore()
    report = bulk_ingest(store, records, retrieved=WHEN, source="bad.yaml", workers=0)
    assert len(report.rejected) == 2 and report.rejected == expected.rejected
    assert all(isinstance(v, Violation) and v.source == "bad.yaml"
               for v in report.violations())
    assert report.stored == expected.stored == ["user:ok/model-a"]
    assert _quads(store) == _quads(reference)
    graphs = {g.value for g in store.named_graphs()}
    assert not any("not%20a%20valid" in g or "prediction/" in g for g in graphs)


def test_a_second_bulk_load_replaces_existing_graphs(tmp_path: Path) -> None:
    store = OxigraphStore(tmp_path / "s")
    bulk_ingest(store, [_model("v1", 0.5), _model("v1", 0.25, "org/other")], retrieved=WHEN)
    n = store.count()
    report = bulk_ingest(store, [_model("v2", 0.75)], retrieved=WHEN)
    assert report.stored == ["huggingface:org/m"]
    assert store.count() == n
    assert _values(store) == [0.25, 0.75]
    g = ox.NamedNode("https://w3id.org/mlmeta/id/graph/model/huggingface%3Aorg%2Fm")
    assert stored_versions(store, [g]) == {g.value: "v2"}


def test_a_record_twice_in_one_load_keeps_the_last_version_like_ingest() -> None:
    records: list[Record] = [_model("v1", 0.5), _model("v1", 0.1, "org/x"), _model("v2", 0.75)]
    reference = OxigraphStore()
    ingest(reference, records, batch_size=2, retrieved=WHEN)
    store = OxigraphStore()
    bulk_ingest(store, records, batch_size=2, retrieved=WHEN, workers=0)
    assert _values(store) == [0.1, 0.75]
    assert _quads(store) == _quads(reference)


def test_a_stale_marker_warns_and_the_marker_goes_after_success(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = OxigraphStore(path)
    (path / MARKER_NAME).write_text(json.dumps({"source": "hub.yaml",
                                                "started": "2026-01-01T00:00:00+00:00"}))
    report = bulk_ingest(store, [_model("v1", 0.5)], retrieved=WHEN)
    (warning,) = report.warnings[STORE_WARNING_KEY]
    assert "did not finish" in warning and "hub.yaml" in warning
    assert "ingest the same records again" in warning
    assert not (path / MARKER_NAME).exists()
    again = bulk_ingest(store, [_model("v2", 0.5)], retrieved=WHEN)
    assert STORE_WARNING_KEY not in again.warnings


def test_a_worker_failure_is_an_error_and_the_next_load_repairs_the_store(
        tmp_path: Path) -> None:
    good = [_model("v1", i / 100, f"org/m{i}") for i in range(30)]
    broken = ModelRecord("org/broken", SourceInfo("huggingface"))
    broken.evaluations = [42]  # type: ignore[list-item]  # a bug upstream of the mapping
    path = tmp_path / "s"
    store = OxigraphStore(path)
    with pytest.raises(BulkIngestError) as info:
        bulk_ingest(store, [*good[:20], broken, *good[20:]], batch_size=5, retrieved=WHEN,
                    workers=1)
    _assert_no_workers_left()
    message = str(info.value)
    assert "batch 5" in message and "failed in a worker" in message
    assert "AttributeError" in message and "run the same ingest again" in message
    assert "mapping" in info.value.worker_traceback
    assert (path / MARKER_NAME).exists()  # the load stopped part-way: say so next time

    report = bulk_ingest(store, good, batch_size=5, retrieved=WHEN, workers=1)
    assert STORE_WARNING_KEY in report.warnings
    assert len(report.stored) == 30 and not (path / MARKER_NAME).exists()
    reference = OxigraphStore()
    ingest(reference, good, retrieved=WHEN)
    assert _quads(store) == _quads(reference)


def exit_abruptly(records: Sequence[MappedRecord], source: str = "",
                  ) -> dict[str, list[Violation]]:
    """A validator that kills its process, as an out-of-memory kill would."""
    os._exit(3)


def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    records = [_model("v1", 0.5, f"org/m{i}") for i in range(4)]
    with pytest.raises(BulkIngestError, match=r"stopped unexpectedly \(exit code 3\)"):
        bulk_ingest(OxigraphStore(), records, batch_size=2, validator=exit_abruptly,
                    workers=1)
    _assert_no_workers_left()


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="cannot be sent to worker processes"):
        bulk_ingest(OxigraphStore(), [_model("v1", 0.5)], workers=1,
                    validator=lambda recs, source: {})
    with pytest.raises(UsageError, match="batch size"):
        bulk_ingest(OxigraphStore(), [], batch_size=0)


def test_cli_add_bulk_end_to_end(tmp_path: Path) -> None:
    files = [str(f) for f in sorted(ZOO.glob("*.yaml"))]
    runner = CliRunner()
    bulk = runner.invoke(cli, ["--store", str(tmp_path / "b"), "add", "--bulk", *files])
    assert bulk.exit_code == 0, bulk.stderr
    plain = runner.invoke(cli, ["--store", str(tmp_path / "p"), "add", *files])
    assert plain.exit_code == 0, plain.stderr
    assert "stored" in bulk.stderr and bulk.stderr.count("stored") == len(files)
    count = ["sparql", "--format", "json", "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g "
             "{ ?s ?p ?o } FILTER(?g != <https://w3id.org/mlmeta/id/graph/ontology>) }"]
    a = runner.invoke(cli, ["--store", str(tmp_path / "b"), *count])
    b = runner.invoke(cli, ["--store", str(tmp_path / "p"), *count])
    assert a.exit_code == b.exit_code == 0
    n = json.loads(a.stdout)["results"]["bindings"][0]["n"]["value"]
    assert int(n) > 1000 and a.stdout == b.stdout
    assert not (tmp_path / "b" / MARKER_NAME).exists()
    # the same with two worker processes, and with none
    for workers in ("2", "0"):
        w = runner.invoke(cli, ["--store", str(tmp_path / f"w{workers}"), "add", "--bulk",
                                "--workers", workers, *files])
        assert w.exit_code == 0, w.stderr
        again = runner.invoke(cli, ["--store", str(tmp_path / f"w{workers}"), *count])
        assert again.stdout == a.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["--workers", "2"], "--workers goes with --bulk"),
    (["--bulk", "--workers", "-1"], "-1 is not in the range"),
    (["--bulk", "--workers", "two"], "'two' is not a valid integer"),
])
def test_cli_add_workers_usage_errors(tmp_path: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "add", *args,
                                      str(ZOO / "timm.yaml")])
    assert result.exit_code == 2 and expected in result.stderr, result.stderr
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_cli_add_bulk_rejects_like_add(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "add", "--bulk",
                                      str(DATA / "invalid-shapes.yaml")])
    assert result.exit_code == 1
    assert "evaluations[0].batchSize" in result.stderr and "Traceback" not in result.stderr


def test_cli_add_bulk_refuses_a_sparql_endpoint() -> None:
    result = CliRunner().invoke(cli, ["--store", "http://127.0.0.1:9/sparql", "add", "--bulk",
                                      str(ZOO / "timm.yaml")])
    assert result.exit_code == 2
    assert "--bulk" in result.stderr and "embedded store" in result.stderr


_INTERRUPTED = """
import sys
from benchmarks.generate import generate
from mlmeta.bulk import bulk_ingest
from mlmeta.store import OxigraphStore

if __name__ == "__main__":
    bulk_ingest(OxigraphStore(sys.argv[1]), generate(20000, 1), batch_size=100, workers=1)
"""


def _workers_of(pid: int) -> list[int]:
    """The multiprocessing workers (not its resource tracker) whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts: nobody has reaped it)."""
    return Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child processes from /proc")
def test_ctrl_c_stops_the_workers_and_leaves_the_marker(tmp_path: Path) -> None:
    script = tmp_path / "load.py"
    script.write_text(_INTERRUPTED)
    store = tmp_path / "s"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(script), str(store)], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and not workers:
            if (store / MARKER_NAME).exists():
                workers = _workers_of(proc.pid)
            time.sleep(0.2)
        assert workers, "the load did not start"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert (store / MARKER_NAME).exists()
    # The parent joins its workers before it exits; allow a moment for /proc to catch up.
    for _ in range(50):
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


def test_only_a_store_with_records_is_searched_for_existing_graphs() -> None:
    from mlmeta.bulk import _holds_records
    from mlmeta.ingest import ensure_initialized

    store = OxigraphStore()
    ensure_initialized(store)
    assert len(list(store.named_graphs())) > 2
    assert not _holds_records(store.raw)  # the setup graphs alone: nothing to look up
    ingest(store, [_model("v1", 0.5)], retrieved=WHEN)
    assert _holds_records(store.raw)
