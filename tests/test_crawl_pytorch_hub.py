"""The PyTorch Hub crawler on the real model pages (../shared/data/pytorch-hub)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from httpdir import HttpDir
from mlmeta.crawlers.crawlcli import CrawlResult, ingest_crawl
from mlmeta.crawlers.pytorch_hub import KNOWN_PAGES, EntryPoint, crawl_pytorch_hub, entry_points
from mlmeta.crawlers.sources import Ledger, Rejected

from mlmeta.cli import cli
from mlmeta.records import ModelRecord
from mlmeta.store import OxigraphStore, Rows

MLM = "https://w3id.org/mlmeta#"
ID = "https://w3id.org/mlmeta/id/"


@pytest.fixture
def hub(shared_data: Path) -> Path:
    return shared_data / "pytorch-hub"


@pytest.fixture(scope="module")
def stored() -> tuple[OxigraphStore, CrawlResult, list[object]]:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pytorch-hub"
    if not path.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {path})")
    store = OxigraphStore()
    ledger = Ledger()
    items = list(crawl_pytorch_hub(str(path), ledger=ledger))
    return store, ingest_crawl(store, items, ledger=ledger), items


def _topk_rows(text: str) -> list[int]:
    """Line numbers of the data rows of tables with a top-1 / top-5 column, read plainly."""
    lines = text.splitlines()
    out: list[int] = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|") and re.search(r"top[\s_-]*[15]\b", line, re.I) and \
                i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                out.append(j + 1)
                j += 1
    return out


def test_every_page_and_result_row_is_stored_or_rejected(
        hub: Path, stored: tuple[OxigraphStore, CrawlResult, list[object]]) -> None:
    _, result, items = stored
    pages = sorted(p.name for p in hub.glob("*.md") if p.name != "PROVENANCE.md")
    assert sorted(result.files) == pages == sorted(KNOWN_PAGES)
    for name in pages:
        rows = 1 + len(_topk_rows((hub / name).read_text(encoding="utf-8")))
        fc = result.files[name]
        assert (fc.rows, fc.accounted) == (rows, rows), name
    rejected = {(r.file, r.row) for r in items if isinstance(r, Rejected)}
    # The semi-supervised page names its rows by architecture and supervision, not by
    # entry point: every one of its 12 rows is reported.
    semi = "facebookresearch_semi-supervised-ImageNet1K-models_resnext.md"
    assert {(semi, n) for n in _topk_rows((hub / semi).read_text(encoding="utf-8"))} <= rejected
    assert result.report.rejected == {}


def test_resnet50_entry_point_record(
        hub: Path, stored: tuple[OxigraphStore, CrawlResult, list[object]]) -> None:
    store, _, items = stored
    rec = next(i for i in items if isinstance(i, ModelRecord)
               and i.source_id == "pytorch_vision_resnet/resnet50")
    assert rec.entry_points == ["resnet50"] and rec.version == "v0.10.0"
    assert rec.code_url == "https://github.com/pytorch/vision/blob/main/torchvision/models/resnet.py"
    assert rec.trained_on == ["ImageNet"] and "vision" in rec.tags
    text = (hub / "pytorch_vision_resnet.md").read_text(encoding="utf-8")
    row = re.search(r"^\|\s*resnet50\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", text, re.M)
    assert row is not None
    top1_err, top5_err = float(row.group(1)), float(row.group(2))
    m = f"<{ID}model/pytorch-hub/pytorch_vision_resnet%2Fresnet50>"
    answer = store.query(f"""SELECT ?metric ?v WHERE {{ ?e <{MLM}evaluatedModel> {m} ;
        <{MLM}metric> ?mn ; <{MLM}value> ?v ; <{MLM}onDataset> <{ID}dataset/imagenet-1k> .
        BIND(STRAFTER(STR(?mn), "/metric/") AS ?metric) }}""")
    assert isinstance(answer, Rows)
    got = {r[0].value: float(r[1].value) for r in answer.rows if r[0] and r[1]}
    assert got == pytest.approx({"top1-error": top1_err / 100, "top5-error": top5_err / 100,
                                 "top1-accuracy": 1 - top1_err / 100,
                                 "top5-accuracy": 1 - top5_err / 100})
    assert store.query(f"ASK {{ {m} <{MLM}architecture> <{ID}architecture/resnet-50> }}") is True
    labels = (hub / "imagenet_classes.txt").read_bytes()
    assert rec.outputs[0].label_file_checksum == hashlib.sha256(labels).hexdigest()


def test_entry_points_from_calls_comments_keywords_and_variables() -> None:
    body = """
```python
model = torch.hub.load('pytorch/vision:v0.10.0', 'resnet18', pretrained=True)
# model = torch.hub.load('pytorch/vision:v0.10.0', 'resnet50', pretrained=True)
model, decoder, utils = torch.hub.load(repo_or_dir='snakers4/silero-models',
                                       model='silero_stt',
                                       language='en', # also 'de'
                                       device=device)
model_type = "DPT_Large"     # large
#model_type = "DPT_Hybrid"   # hybrid
midas = torch.hub.load("intel-isl/MiDaS", model_type)
utils = torch.hub.load('NVIDIA/DeepLearningExamples:torchhub', 'nvidia_convnets_processing_utils')
```"""
    assert entry_points(body) == [
        EntryPoint("pytorch/vision", "v0.10.0", "resnet18"),
        EntryPoint("pytorch/vision", "v0.10.0", "resnet50"),
        EntryPoint("snakers4/silero-models", None, "silero_stt"),
        EntryPoint("intel-isl/MiDaS", None, "DPT_Large"),
        EntryPoint("intel-isl/MiDaS", None, "DPT_Hybrid"),
        EntryPoint("NVIDIA/DeepLearningExamples", "torchhub", "nvidia_convnets_processing_utils"),
    ]


def test_a_page_without_front_matter_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    (tmp_path / "ok.md").write_text("---\ntitle: X\nsummary: s\n---\nbody\n", encoding="utf-8")
    items = list(crawl_pytorch_hub(str(tmp_path)))
    assert [(r.file, r.row, r.reason) for r in items if isinstance(r, Rejected)] == [
        ("broken.md", 1, "no YAML front matter")]
    rec = next(i for i in items if isinstance(i, ModelRecord))
    assert (rec.source_id, rec.name, rec.entry_points) == ("ok", "X", [])


def test_cli_url_form_over_http(hub: Path, tmp_path: Path) -> None:
    with HttpDir(hub) as server:
        result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "crawl",
                                          "pytorch-hub", "--source", server.base_url])
        asked = {p for p, _ in server.requests}
    assert result.exit_code == 0, result.output
    assert asked == {f"/{p}" for p in KNOWN_PAGES} | {"/imagenet_classes.txt"}
    n_pages = len(KNOWN_PAGES)
    assert f"pytorch-hub: {n_pages} file(s)" in result.stderr
    assert "rejected: pytorch_vision_snnmlp.md:80 (SNNMLP Tiny): the table row names no model " \
           "entry point of the page" in result.stderr
