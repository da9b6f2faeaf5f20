"""The OpenMMLab crawler on the real mmpretrain metafiles (../shared/data/pwc)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import yaml
from click.testing import CliRunner
from httpdir import HttpDir
from mlmeta.crawlers.crawlcli import CrawlResult, ingest_crawl
from mlmeta.crawlers.openmmlab import architecture_of, crawl_openmmlab
from mlmeta.crawlers.sources import Ledger, Rejected

from mlmeta.cli import cli
from mlmeta.records import ModelRecord
from mlmeta.store import OxigraphStore, Rows

MLM = "https://w3id.org/mlmeta#"
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ID = "https://w3id.org/mlmeta/id/"


@pytest.fixture
def mmpretrain(shared_data: Path) -> Path:
    return shared_data / "pwc" / "mmpretrain-model-index"


@pytest.fixture(scope="module")
def stored() -> tuple[OxigraphStore, CrawlResult]:
    """Every real metafile crawled into one in-memory store (shared by the tests here)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pwc" / \
        "mmpretrain-model-index"
    if not path.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {path})")
    store = OxigraphStore()
    ledger = Ledger()
    result = ingest_crawl(store, crawl_openmmlab(str(path), ledger=ledger), ledger=ledger)
    return store, result


def _models(path: Path) -> list[Any]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    return list(doc.get("Models") or [])


def _rows(store: OxigraphStore, sparql: str) -> list[tuple[str, ...]]:
    answer = store.query(sparql)
    assert isinstance(answer, Rows)
    return [tuple(t.value if t is not None else "" for t in row) for row in answer.rows]


def test_every_models_entry_of_every_metafile_is_stored(
        mmpretrain: Path, stored: tuple[OxigraphStore, CrawlResult]) -> None:
    store, result = stored
    files = sorted(mmpretrain.glob("*metafile.yml"))
    assert len(files) == len(result.files)
    for f in files:
        fc = result.files[f.name]
        assert (fc.rows, fc.stored, fc.rejected) == (len(_models(f)), len(_models(f)), 0), f.name
    names = {m["Name"] for f in files for m in _models(f)}
    stored_ids = {r[0] for r in _rows(store, f"""
        SELECT ?id WHERE {{ ?m <{MLM}sourceZoo> <{ID}zoo/openmmlab> ; <{MLM}sourceId> ?id }}""")}
    assert stored_ids == names


def test_resnet50_results_metadata_and_links(
        mmpretrain: Path, stored: tuple[OxigraphStore, CrawlResult]) -> None:
    store, _ = stored
    entry = next(m for m in _models(mmpretrain / "resnet__metafile.yml")
                 if m["Name"] == "resnet50_8xb32_in1k")
    m = f"<{ID}model/openmmlab/resnet50_8xb32_in1k>"
    values = dict(_rows(store, f"""
        SELECT ?metric ?v WHERE {{ ?e <{MLM}evaluatedModel> {m} ; <{MLM}metric> ?mn ;
            <{MLM}value> ?v ; <{MLM}onDataset> <{ID}dataset/imagenet-1k> .
            BIND(STRAFTER(STR(?mn), "/metric/") AS ?metric) }}"""))
    metrics = entry["Results"][0]["Metrics"]
    assert float(values["top1-accuracy"]) == pytest.approx(metrics["Top 1 Accuracy"] / 100)
    assert float(values["top5-accuracy"]) == pytest.approx(metrics["Top 5 Accuracy"] / 100)
    facts = _rows(store, f"""
        SELECT ?arch ?params ?flops ?config ?weights ?trained WHERE {{
          {m} <{MLM}architecture> ?arch ; <{MLM}parameterCount> ?params ; <{MLM}flops> ?flops ;
             <{MLM}configUrl> ?config ; <{MLM}weightsFile>/<{MLM}downloadUrl> ?weights ;
             <{MLM}trainedOn> ?trained }}""")
    assert facts == [(f"{ID}architecture/resnet-50", str(entry["Metadata"]["Parameters"]),
                      str(entry["Metadata"]["FLOPs"]),
                      "https://github.com/open-mmlab/mmpretrain/blob/main/" + entry["Config"],
                      entry["Weights"], f"{ID}dataset/imagenet-1k")]


def test_a_model_without_results_is_still_a_model(
        mmpretrain: Path, stored: tuple[OxigraphStore, CrawlResult]) -> None:
    store, _ = stored
    no_results = [m["Name"] for m in _models(mmpretrain / "barlowtwins__metafile.yml")
                  if not m.get("Results")]
    assert no_results
    for name in no_results:
        assert store.query(f"ASK {{ <{ID}model/openmmlab/{name}> a <{MLM}Model> }}") is True


def test_downstream_models_are_finetuned_from_their_upstream(
        mmpretrain: Path, stored: tuple[OxigraphStore, CrawlResult]) -> None:
    store, _ = stored
    pairs = [(m["Name"], d) for m in _models(mmpretrain / "beit__metafile.yml")
             for d in m.get("Downstream") or []]
    assert pairs
    for up, down in pairs:
        assert store.query(f"ASK {{ <{ID}model/openmmlab/{down}> <{MLM}finetunedFrom> "
                           f"<{ID}model/openmmlab/{up}> }}") is True


def test_architectures_come_from_known_name_tokens() -> None:
    assert architecture_of("resnet50_8xb32_in1k") == "resnet50"
    assert architecture_of("barlowtwins_resnet50_8xb256-coslr-300e_in1k") == "resnet50"
    assert architecture_of("blip2_3rdparty_retrieval") == "blip2"


def test_bad_entries_are_reported_and_good_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "a__metafile.yml").write_text(yaml.safe_dump({
        "Collections": [{"Name": "C", "Metadata": {"Training Data": "ImageNet-1k"}}],
        "Models": [
            {"Name": "good_model", "In Collection": "C", "Metadata": {"FLOPs": None},
             "Results": [{"Task": "Image Classification", "Dataset": "ImageNet-1k",
                          "Metrics": {"Top 1 Accuracy": None, "Accuracy (testA)": 80.5}}]},
            {"Metadata": {}},
            "not a mapping",
            {"Name": "good_model"},
        ]}), encoding="utf-8")
    (tmp_path / "b__metafile.yml").write_text("Models: [\n", encoding="utf-8")
    ledger = Ledger()
    items = list(crawl_openmmlab(str(tmp_path), ledger=ledger))
    rejected = [(r.file, r.row, r.reason) for r in items if isinstance(r, Rejected)]
    assert [(f, row) for f, row, _ in rejected] == [
        ("a__metafile.yml", 2), ("a__metafile.yml", 3), ("a__metafile.yml", 4),
        ("b__metafile.yml", None)]
    assert "duplicate Name" in rejected[2][2] and "not valid YAML" in rejected[3][2]
    rec = next(i for i in items if isinstance(i, ModelRecord))
    assert rec.trained_on == ["ImageNet-1k"]  # the collection's
    assert [(e.metric, e.value, e.split) for e in rec.evaluations] == [("Accuracy", 80.5,
                                                                        "testA")]


def test_url_form_reads_model_index_imports_over_http(mmpretrain: Path, tmp_path: Path) -> None:
    # Lay the copies out as the repository does: model-index.yml + configs/<x>/metafile.yml.
    index = yaml.safe_load((mmpretrain / "model-index.yml").read_text(encoding="utf-8"))
    for imp in index["Import"]:
        folder = imp.split("/")[1]
        dst = tmp_path / imp
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mmpretrain / f"{folder}__metafile.yml", dst)
    shutil.copyfile(mmpretrain / "model-index.yml", tmp_path / "model-index.yml")
    local = {i.key: i for i in crawl_openmmlab(str(mmpretrain)) if isinstance(i, ModelRecord)}
    with HttpDir(tmp_path) as server:
        remote = {i.key: i for i in crawl_openmmlab(server.base_url)
                  if isinstance(i, ModelRecord)}
        result = CliRunner().invoke(cli, ["--store", ":memory:", "crawl", "openmmlab",
                                          "--source", server.base_url + "configs/resnet/"
                                          "metafile.yml"])
    assert set(remote) == set(local)
    r50 = remote["openmmlab:resnet50_8xb32_in1k"]
    assert [(e.metric, e.value) for e in r50.evaluations] == \
        [(e.metric, e.value) for e in local["openmmlab:resnet50_8xb32_in1k"].evaluations]
    assert (r50.source.url or "").endswith("/configs/resnet/metafile.yml")
    # A URL that is not a repository root has no model-index.yml: a one-line error.
    assert result.exit_code == 1
    assert "no model-index.yml" in result.output


def test_cli_on_a_real_metafile(mmpretrain: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", ":memory:", "crawl", "openmmlab", "--source",
                                      str(mmpretrain / "resnet__metafile.yml")])
    n = len(_models(mmpretrain / "resnet__metafile.yml"))
    assert result.exit_code == 0, result.output
    assert f"openmmlab: 1 file(s), {n} row(s)/entries; {n} record(s) stored" in result.stderr


def test_stored_values_are_fractions(stored: tuple[OxigraphStore, CrawlResult]) -> None:
    store, _ = stored
    out = store.query(f"""SELECT (MAX(?v) AS ?max) WHERE {{
        ?e <{MLM}metric> <{ID}metric/top1-accuracy> ; <{MLM}value> ?v }}""")
    assert isinstance(out, Rows)
    top = out.rows[0][0]
    assert isinstance(top, ox.Literal) and 0.5 < float(top.value) <= 1.0
