"""The MLModelScope crawler on the real manifests (../shared/data/mlmodelscope)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from httpdir import HttpDir
from mlmeta.crawlers.crawlcli import CrawlResult, ingest_crawl
from mlmeta.crawlers.mlmodelscope import crawl_mlmodelscope
from mlmeta.crawlers.sources import CrawlWarning, Ledger, Rejected

from mlmeta.cli import cli
from mlmeta.records import ModelRecord
from mlmeta.store import OxigraphStore, Rows

MLM = "https://w3id.org/mlmeta#"
ID = "https://w3id.org/mlmeta/id/"


@pytest.fixture
def manifests(shared_data: Path) -> Path:
    return shared_data / "mlmodelscope"


@pytest.fixture(scope="module")
def stored() -> tuple[OxigraphStore, CrawlResult, list[object]]:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mlmodelscope"
    if not path.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {path})")
    store = OxigraphStore()
    ledger = Ledger()
    items = list(crawl_mlmodelscope([str(path)], ledger=ledger))
    return store, ingest_crawl(store, items, ledger=ledger), items


def _one(store: OxigraphStore, sparql: str) -> list[str]:
    answer = store.query(sparql)
    assert isinstance(answer, Rows)
    return sorted(row[0].value for row in answer.rows if row[0] is not None)


def _model(framework: str, name: str) -> str:
    return f"<{ID}model/mlmodelscope/{framework}%2F{name}%2F1.0>"


def test_every_manifest_is_stored(manifests: Path,
                                  stored: tuple[OxigraphStore, CrawlResult, list[object]]) -> None:
    _, result, _ = stored
    files = sorted(p.name for p in manifests.glob("*.yml"))
    assert sorted(result.files) == files
    assert all((fc.rows, fc.stored, fc.rejected) == (1, 1, 0) for fc in result.files.values())
    assert len(result.report.stored) == len(files)


def test_framework_versions_keep_what_the_manifest_wrote(
        stored: tuple[OxigraphStore, CrawlResult, list[object]]) -> None:
    store, _, _ = stored
    q = "SELECT ?v WHERE {{ {m} <{p}softwareStack>/<{p}{prop}> ?v }}"
    assert _one(store, q.format(m=_model("pytorch", "TorchVision_ResNet_50"), p=MLM,
                                prop="frameworkVersion")) == ["1.2"]
    assert _one(store, q.format(m=_model("mxnet", "AlexNet"), p=MLM,
                                prop="frameworkVersionConstraint")) == [">=1.1.0"]
    assert _one(store, q.format(m=_model("mxnet", "AlexNet"), p=MLM,
                                prop="frameworkVersion")) == []
    images = _one(store, q.format(m=_model("pytorch", "TorchVision_ResNet_50"), p=MLM,
                                  prop="containerImage"))
    assert images == sorted({"raiproject/carml-pytorch:amd64-cpu",
                             "raiproject/carml-pytorch:amd64-gpu",
                             "raiproject/carml-pytorch:ppc64le-gpu"})


def test_messy_training_datasets_meet_their_canonical_dataset(
        stored: tuple[OxigraphStore, CrawlResult, list[object]]) -> None:
    store, _, items = stored
    ssd = _model("caffe", "AI_Matrix_SSD_VGG16")
    assert _one(store, f"SELECT ?d WHERE {{ {ssd} <{MLM}trainedOn> ?d }}") == \
        [f"{ID}dataset/pascal-voc-2007"]
    warned = sorted(w.file for w in items if isinstance(w, CrawlWarning)
                    and "training_dataset is empty" in w.message)
    assert warned == ["dlmodel__3DUNet.yml", "dlmodel__BERT.yml", "tensorflow__AI_Matrix_DIEN.yml"]
    dien = _model("tensorflow", "AI_Matrix_DIEN")
    assert _one(store, f"SELECT ?d WHERE {{ {dien} <{MLM}trainedOn> ?d }}") == []


def test_inputs_keep_preprocessing_in_order(
        stored: tuple[OxigraphStore, CrawlResult, list[object]], manifests: Path) -> None:
    _, _, items = stored
    rec = next(i for i in items if isinstance(i, ModelRecord)
               and i.source_id == "pytorch/TorchVision_ResNet_50/1.0")
    params = yaml.safe_load((manifests / "pytorch__TorchVision_ResNet_50.yml").read_text(
        encoding="utf-8"))["inputs"][0]["parameters"]
    steps = rec.inputs[0].preprocessing
    assert [s.kind for s in steps] == ["data-layout", "color-layout", "resize", "normalize"]
    assert steps[0].data_layout == params["layout"]
    assert steps[1].color_layout == params["color_mode"]
    assert (steps[2].resize_height, steps[2].resize_width) == tuple(params["dimensions"][1:])
    assert steps[3].mean == params["mean"] and steps[3].std == params["scale"]
    out = rec.outputs[0]
    assert out.label_file_url == "http://s3.amazonaws.com/store.carml.org/synsets/imagenet/synset.txt"
    assert out.label_file_checksum == "4d234b5833aca44928065a180db3016a"
    assert [(w.url, w.checksum) for w in rec.weights] == [
        ("https://s3.amazonaws.com/store.carml.org/models/pytorch/resnet50.pt",
         "0aea66ce0fe0e27497ff1b82c0a2f925")]


def test_reported_top1_claims_are_evaluations_on_imagenet(
        stored: tuple[OxigraphStore, CrawlResult, list[object]], manifests: Path) -> None:
    store, _, _ = stored
    attrs = yaml.safe_load((manifests / "mxnet__ResNet50_v1_int8.yml").read_text(
        encoding="utf-8"))["attributes"]
    m = _model("mxnet", "ResNet50_v1_int8")
    got = _one(store, f"""SELECT ?v WHERE {{ ?e <{MLM}evaluatedModel> {m} ;
        <{MLM}metric> <{ID}metric/top1-accuracy> ; <{MLM}value> ?v ;
        <{MLM}onDataset> <{ID}dataset/imagenet-1k> ; <{MLM}resultKind> <{MLM}Reported> }}""")
    assert [float(v) for v in got] == [pytest.approx(attrs["Top1"] / 100)]
    assert _one(store, f"SELECT ?a WHERE {{ {m} <{MLM}architecture> ?a }}") == \
        [f"{ID}architecture/resnet-50"]


def test_embedded_code_is_stored_as_text_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    code = f"open({str(marker)!r}, 'w').write('ran')\n"
    (tmp_path / "m.yml").write_text(yaml.safe_dump({
        "name": "Probe", "version": 1.10,
        "framework": {"name": "PyTorch", "version": "1.10"},
        "inputs": [{"type": "image", "parameters": {"mean": [1, 2, 3], "scale": 2}}],
        "preprocess": code, "postprocess": code,
        "attributes": {"training_dataset": "PASCAL VOCO 2007", "top1": "n/a"},
    }), encoding="utf-8")
    (tmp_path / "broken.yml").write_text("name: [\n", encoding="utf-8")
    (tmp_path / "noname.yml").write_text("framework: {name: MXNet}\n", encoding="utf-8")
    store = OxigraphStore()
    ledger = Ledger()
    items = list(crawl_mlmodelscope([str(tmp_path)], ledger=ledger))
    result = ingest_crawl(store, items, ledger=ledger)
    assert not marker.exists()
    rec = next(i for i in items if isinstance(i, ModelRecord))
    assert rec.source_id == "pytorch/Probe/1.1"  # safe_dump wrote the float 1.10 as 1.1
    assert rec.inputs[0].preprocessing[-1].code == code
    assert rec.outputs[0].postprocess_code == code
    assert rec.inputs[0].preprocessing[0].std == [2.0, 2.0, 2.0]
    assert rec.software[0].version == "1.10"
    assert [(r.file, r.reason.split(":")[0]) for r in items if isinstance(r, Rejected)] == [
        ("broken.yml", "not valid YAML"), ("noname.yml", "no name")]
    assert any("top1 'n/a' is not a number" in w.message for w in items
               if isinstance(w, CrawlWarning))
    assert {k: (fc.stored, fc.rejected) for k, fc in result.files.items()} == {
        "m.yml": (1, 0), "broken.yml": (0, 1), "noname.yml": (0, 1)}
    codes = _one(store, f"SELECT ?c WHERE {{ ?s <{MLM}code> ?c }}")
    assert codes == [code]


def test_a_float_version_keeps_its_text(tmp_path: Path) -> None:
    (tmp_path / "m.yml").write_text("name: V\nversion: 1.10\nframework:\n  name: TensorFlow\n"
                                    "  version: 1.10\n", encoding="utf-8")
    rec = next(i for i in crawl_mlmodelscope([str(tmp_path / "m.yml")])
               if isinstance(i, ModelRecord))
    assert (rec.version, rec.software[0].version) == ("1.10", "1.10")


def test_cli_reads_manifest_urls_over_http(manifests: Path, tmp_path: Path) -> None:
    names = ["pytorch__TorchVision_ResNet_50.yml", "caffe__AI_Matrix_SSD_VGG16.yml"]
    for n in names:
        shutil.copyfile(manifests / n, tmp_path / n)
    store = str(tmp_path / "store")
    with HttpDir(tmp_path) as server:
        result = CliRunner().invoke(cli, ["--store", store, "crawl", "mlmodelscope",
                                          *(server.base_url + n for n in names)])
    assert result.exit_code == 0, result.output
    assert "mlmodelscope: 2 file(s), 2 row(s)/entries; 2 record(s) stored" in result.stderr
    answer = CliRunner().invoke(cli, ["--store", store, "sparql", "--format", "csv",
                                      f"SELECT ?u WHERE {{ ?g <{MLM}sourceUrl> ?u }} ORDER BY ?u"])
    assert answer.stdout.split()[1:] == sorted(server.base_url + n for n in names)
