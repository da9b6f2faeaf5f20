"""Where the zoos meet: ResNet-50 from timm, OpenMMLab, MLModelScope and PyTorch Hub.

All four crawlers load real files into one store (timm: the ResNet-50 rows of every
results and benchmark file; OpenMMLab: the ResNet metafile; MLModelScope and PyTorch
Hub: every manifest and page). One query over the canonical architecture then answers
ImageNet top-1 from every zoo as fractions on ``dataset/imagenet-1k``, and the timm
benchmark rows of the same architecture on named hardware.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import yaml
from click.testing import CliRunner
from mlmeta.crawlers.crawlcli import ingest_crawl
from mlmeta.crawlers.mlmodelscope import crawl_mlmodelscope
from mlmeta.crawlers.openmmlab import crawl_openmmlab
from mlmeta.crawlers.pytorch_hub import crawl_pytorch_hub
from mlmeta.crawlers.sources import Ledger
from mlmeta.crawlers.timm import crawl_timm

from mlmeta.cli import cli
from mlmeta.store import OxigraphStore, Rows

ID = "https://w3id.org/mlmeta/id/"
TIMM_MODELS = ("resnet50.a1_in1k", "resnet50.tv_in1k", "resnet50")

# TODO(lead): switch to a saved query once one takes an architecture (model-evaluations
# takes one model); this is model-evaluations' answer, selected by architecture.
ARCHITECTURE_EVALUATIONS = """
PREFIX mlm: <https://w3id.org/mlmeta#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?model ?task ?dataset ?split ?metric ?value ?unit ?hardware ?source ?kind ?size
WHERE {
  ?model mlm:architecture ?arch .
  ?e mlm:evaluatedModel ?model ; mlm:metric ?metricNode ; mlm:value ?value .
  GRAPH ?g { ?e mlm:metric ?metricNode }
  ?g prov:wasAttributedTo ?zoo .
  BIND(STRAFTER(STR(?zoo), "/id/zoo/") AS ?source)
  BIND(STRAFTER(STR(?metricNode), "/id/metric/") AS ?metric)
  OPTIONAL { ?e mlm:unit ?unitNode }
  OPTIONAL { ?e mlm:onDataset ?datasetNode }
  OPTIONAL { ?e mlm:split ?split }
  OPTIONAL { ?e mlm:task ?taskNode }
  OPTIONAL { ?e mlm:onHardware ?hardwareNode }
  OPTIONAL { ?e mlm:resultKind ?kindNode }
  OPTIONAL { ?e mlm:imageSize ?size }
  BIND(STRAFTER(STR(?unitNode), "/id/unit/") AS ?unit)
  BIND(STRAFTER(STR(?datasetNode), "/id/dataset/") AS ?dataset)
  BIND(STRAFTER(STR(?taskNode), "/id/task/") AS ?task)
  BIND(STRAFTER(STR(?hardwareNode), "/id/hardware/") AS ?hardware)
  BIND(STRAFTER(STR(?kindNode), "#") AS ?kind)
}
"""

DEVICE = {"rtx3090": "rtx3090", "rtx4090": "rtx4090", "4090": "rtx4090", "5090": "rtx5090",
          "pro6000maxq": "rtx-pro-6000-max-q", "i9_10940x": "i9-10940x",
          "i7_12700h": "i7-12700h"}


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def zoos(tmp_path_factory: pytest.TempPathFactory) -> tuple[OxigraphStore, Path, Path]:
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {data})")
    timm = tmp_path_factory.mktemp("timm")
    for path in sorted((data / "timm").glob("*.csv")):
        header, rows = _csv_rows(path)
        with (timm / path.name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(r for r in rows if r[0] in TIMM_MODELS)
    store = OxigraphStore()
    for items_of in (
        lambda led: crawl_timm(str(timm), ledger=led),
        lambda led: crawl_openmmlab(str(data / "pwc" / "mmpretrain-model-index" /
                                        "resnet__metafile.yml"), ledger=led),
        lambda led: crawl_mlmodelscope([str(data / "mlmodelscope")], ledger=led),
        lambda led: crawl_pytorch_hub(str(data / "pytorch-hub"), ledger=led),
    ):
        ledger = Ledger()
        result = ingest_crawl(store, items_of(ledger), ledger=ledger)
        assert result.report.rejected == {}
    return store, data, timm


def _answer(store: OxigraphStore, arch: str) -> list[dict[str, Any]]:
    answer = store.query(ARCHITECTURE_EVALUATIONS,
                         {"arch": ox.NamedNode(f"{ID}architecture/{arch}")})
    assert isinstance(answer, Rows)
    return [{k: (v.value if v is not None else None) for k, v in d.items()}
            for d in answer.dicts()]


def _expected_top1(data: Path) -> dict[str, set[float]]:
    """ResNet-50 ImageNet top-1 per zoo, as fractions, read plainly from the files."""
    out: dict[str, set[float]] = {}
    header, rows = _csv_rows(data / "timm" / "results-imagenet.csv")
    out["timm"] = {float(r[2]) / 100 for r in rows if r[0] in TIMM_MODELS}
    meta = yaml.safe_load((data / "pwc" / "mmpretrain-model-index" / "resnet__metafile.yml")
                          .read_text(encoding="utf-8"))
    out["openmmlab"] = {res["Metrics"]["Top 1 Accuracy"] / 100 for m in meta["Models"]
                        if m["Name"].startswith("resnet50_") for res in m.get("Results") or []
                        if res["Dataset"] == "ImageNet-1k"}
    out["mlmodelscope"] = set()
    for name in ("mxnet__ResNet50_v1_int8.yml", "tensorflow__MLPerf_ResNet50_v1.5.yml"):
        attrs = yaml.safe_load((data / "mlmodelscope" / name).read_text("utf-8"))["attributes"]
        out["mlmodelscope"].add((attrs.get("Top1") or attrs.get("top1")) / 100)
    page = (data / "pytorch-hub" / "pytorch_vision_resnet.md").read_text(encoding="utf-8")
    err = next(line for line in page.splitlines() if line.strip().startswith("|  resnet50 "))
    out["pytorch-hub"] = {1 - float(err.split("|")[2]) / 100}
    return out


def test_resnet50_imagenet_top1_from_every_zoo_in_one_answer(
        zoos: tuple[OxigraphStore, Path, Path]) -> None:
    store, data, _ = zoos
    rows = _answer(store, "resnet-50")
    top1: dict[str, set[float]] = {}
    for r in rows:
        if r["metric"] == "top1-accuracy" and r["dataset"] == "imagenet-1k":
            assert r["unit"] == "fraction"
            top1.setdefault(r["source"], set()).add(round(float(r["value"]), 9))
    expected = {z: {round(v, 9) for v in vs} for z, vs in _expected_top1(data).items()}
    assert top1 == expected
    assert set(top1) == {"timm", "openmmlab", "mlmodelscope", "pytorch-hub"}


def test_timm_benchmarks_of_the_same_architecture_on_named_hardware(
        zoos: tuple[OxigraphStore, Path, Path]) -> None:
    store, data, _ = zoos
    rows = [r for r in _answer(store, "resnet-50")
            if r["source"] == "timm" and r["kind"] == "Measured" and r["hardware"]]
    devices = set()
    for path in (data / "timm").glob("benchmark-*.csv"):
        _, brs = _csv_rows(path)
        if any(r[0] == "resnet50" for r in brs):
            token = path.stem.removesuffix("-dynamo").split("-", 6)[6]
            devices.add(DEVICE[token])
    assert {r["hardware"] for r in rows} == devices
    header, brs = _csv_rows(data / "timm" / "benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv")
    rates = {int(r[header.index("infer_img_size")]): float(r[header.index("infer_samples_per_sec")])
             for r in brs if r[0] == "resnet50"}
    got = {int(r["size"]) for r in rows if r["hardware"] == "rtx4090"
           and r["metric"] == "throughput" and float(r["value"]) in rates.values()}
    assert got == set(rates)
    label = store.query(f"SELECT ?l WHERE {{ <{ID}hardware/rtx4090> "
                        "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    assert isinstance(label, Rows) and label.rows[0][0] is not None
    assert label.rows[0][0].value == "NVIDIA GeForce RTX 4090"


def test_model_evaluations_answers_each_zoo_s_resnet50(
        zoos: tuple[OxigraphStore, Path, Path], tmp_path: Path) -> None:
    """The saved query, per model, through the CLI over an on-disk store."""
    store, _, _ = zoos
    disk = tmp_path / "store"
    with (tmp_path / "all.nq").open("wb") as fh:
        store.dump(fh, ox.RdfFormat.N_QUADS)
    disk_store = OxigraphStore(disk)
    disk_store.raw.bulk_load(path=str(tmp_path / "all.nq"), format=ox.RdfFormat.N_QUADS)
    disk_store.close()
    runner = CliRunner()
    for model, zoo in (("resnet50.a1_in1k", "timm"), ("openmmlab:resnet50_8xb32_in1k",
                                                      "openmmlab"),
                       ("mlmodelscope:mxnet/ResNet50_v1_int8/1.0", "mlmodelscope"),
                       ("pytorch-hub:pytorch_vision_resnet/resnet50", "pytorch-hub")):
        out = runner.invoke(cli, ["--store", str(disk), "query", "model-evaluations",
                                  "--model", model, "--format", "csv"])
        assert out.exit_code == 0, out.output
        got = [r for r in csv.DictReader(out.stdout.splitlines())
               if r["metric"] == "top1-accuracy" and r["dataset"] == "imagenet-1k"]
        assert got and {r["source"] for r in got} == {zoo}, model


def test_models_trained_on_imagenet_above_a_threshold_across_zoos(
        zoos: tuple[OxigraphStore, Path, Path]) -> None:
    """The saved query meets the crawled data: ResNet-50s above 79.5 % top-1."""
    from mlmeta.queries import get_saved_query

    store, data, _ = zoos
    saved = get_saved_query("models-trained-on")
    answer = store.query(saved.text, saved.bind({"dataset": "ImageNet", "metric": "top-1",
                                                 "min": "0.795"}))
    assert isinstance(answer, Rows)
    found = {r["model"].value for r in answer.dicts() if r["model"] is not None}
    resnet50 = {r["model"] for r in _answer(store, "resnet-50")}
    header, rows = _csv_rows(data / "timm" / "results-imagenet.csv")
    expected = {f"{ID}model/timm/{r[0]}" for r in rows
                if r[0] in TIMM_MODELS and float(r[2]) > 79.5}
    meta = yaml.safe_load((data / "pwc" / "mmpretrain-model-index" / "resnet__metafile.yml")
                          .read_text(encoding="utf-8"))
    expected |= {f"{ID}model/openmmlab/{m['Name']}" for m in meta["Models"]
                 if m["Name"].startswith("resnet50_") for res in m.get("Results") or []
                 if res["Dataset"] == "ImageNet-1k"
                 and res["Metrics"]["Top 1 Accuracy"] > 79.5}
    assert len(expected) >= 3
    assert found & resnet50 == expected
