"""The timm crawler on the real results and benchmark CSVs (../shared/data/timm)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from httpdir import HttpDir
from mlmeta.crawlers.crawlcli import ingest_crawl
from mlmeta.crawlers.sources import (
    CrawlError,
    CrawlWarning,
    Fetcher,
    Ledger,
    Rejected,
    SourceNotFound,
    github_raw_url,
)
from mlmeta.crawlers.timm import (
    KNOWN_FILES,
    BenchmarkSetup,
    crawl_timm,
    parse_benchmark_name,
    torch_version,
)

from mlmeta.cli import cli
from mlmeta.normalize import table
from mlmeta.records import ModelRecord
from mlmeta.store import OxigraphStore


@pytest.fixture
def timm_dir(shared_data: Path) -> Path:
    return shared_data / "timm"


@pytest.fixture(scope="module")
def crawled() -> tuple[list[object], Ledger]:
    """The whole real results folder, crawled once (no store) for the tests that read it."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "timm"
    if not path.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {path})")
    ledger = Ledger()
    return list(crawl_timm(str(path), ledger=ledger)), ledger


def _csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    return rows[0], rows[1:]


def subset(src: Path, dst: Path, keep: Callable[[str, str], bool]) -> Path:
    """Copy every CSV of ``src`` keeping the header and the real rows ``keep(file, model)``
    accepts."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.csv")):
        header, rows = _csv(path)
        with (dst / path.name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(r for r in rows if keep(path.name, r[0]))
    return dst


def _records(items: list[object]) -> dict[str, ModelRecord]:
    return {i.key: i for i in items if isinstance(i, ModelRecord)}


def test_benchmark_file_names_say_how_rows_were_measured() -> None:
    assert parse_benchmark_name("benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv") == \
        BenchmarkSetup("infer", "amp", "NCHW", "2.4.0", "12.4", "rtx3090", False)
    assert parse_benchmark_name("benchmark-infer-fp32-nchw-pt221-cpu-i9_10940x-dynamo.csv") == \
        BenchmarkSetup("infer", "fp32", "NCHW", "2.2.1", None, "i9_10940x", True)
    assert parse_benchmark_name(
        "benchmark-infer-amp_bf16-nchw-pt291-cu130-pro6000maxq-dynamo.csv") == \
        BenchmarkSetup("infer", "amp_bf16", "NCHW", "2.9.1", "13.0", "pro6000maxq", True)
    assert parse_benchmark_name("benchmark-train-amp-nhwc-pt112-cu113-rtx3090.csv") == \
        BenchmarkSetup("train", "amp", "NHWC", "1.12", "11.3", "rtx3090", False)
    assert parse_benchmark_name("benchmark-infer-amp-nchw-rtx3090.csv") is None
    assert torch_version("113") == "1.13"
    assert torch_version("210") == "2.1.0"
    s = parse_benchmark_name("benchmark-infer-amp-nchw-pt291-cu128-4090-dynamo.csv")
    assert s is not None
    assert s.software().extra == {"cuda": "12.8", "compile": "dynamo"}


def test_github_tree_urls_map_to_raw_files() -> None:
    assert github_raw_url(
        "https://github.com/huggingface/pytorch-image-models/tree/main/results") == \
        "https://raw.githubusercontent.com/huggingface/pytorch-image-models/main/results/"
    assert github_raw_url("https://github.com/pytorch/hub") == \
        "https://raw.githubusercontent.com/pytorch/hub/HEAD/"
    assert github_raw_url("https://example.org/results/") == "https://example.org/results/"


def test_every_row_of_every_real_file_is_a_record_or_rejected_with_a_reason(
        timm_dir: Path, crawled: tuple[list[object], Ledger]) -> None:
    # What the files say, read independently of the crawler.
    rows: dict[str, list[list[str]]] = {}
    headers: dict[str, list[str]] = {}
    for path in sorted(timm_dir.glob("*.csv")):
        headers[path.name], rows[path.name] = _csv(path)
    models = {r[0] for n, rs in rows.items() if n.startswith(("results-", "benchmark-"))
              for r in rs}
    expected_rejects: set[tuple[str, int]] = set()
    for name, rs in rows.items():
        if name.startswith("benchmark-"):
            mode = name.split("-")[1]
            col = headers[name].index(f"{mode}_samples_per_sec")
            expected_rejects |= {(name, n) for n, r in enumerate(rs, 2) if not r[col].strip()}
        elif name.startswith("model_metadata"):
            expected_rejects |= {(name, n) for n, r in enumerate(rs, 2) if r[0] not in models}

    items, ledger = crawled
    records = _records(items)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert {(r.file, r.row) for r in rejected} == expected_rejects
    assert all(r.reason for r in rejected)
    counts = ledger.settle(stored=records)
    assert set(counts) == set(rows)
    for name, rs in rows.items():
        fc = counts[name]
        bad = sum(1 for f, _ in expected_rejects if f == name)
        assert (fc.rows, fc.stored, fc.rejected) == (len(rs), len(rs) - bad, bad), name
    # One record per pretrained model and per benchmarked architecture.
    results_models = {r[0] for n, rs in rows.items() if n.startswith("results-") for r in rs}
    assert {k for k in records if "." in k.split(":", 1)[1]} == \
        {f"timm:{m}" for m in results_models}


def test_a_pretrained_model_keeps_every_image_size_and_its_preprocessing(
        timm_dir: Path) -> None:
    header, rs = _csv(timm_dir / "results-imagenet.csv")
    mine = [dict(zip(header, r, strict=True)) for r in rs if r[0] == "resnet50.a1_in1k"]
    assert len(mine) == 2  # evaluated at 224 and 288
    items = list(crawl_timm(str(timm_dir / "results-imagenet.csv")))
    rec = _records(items)["timm:resnet50.a1_in1k"]
    assert rec.architecture == "resnet50"
    assert rec.trained_on == ["in1k"]
    assert rec.parameter_count == round(float(mine[0]["param_count"]) * 1e6)
    got = {(e.metric, e.image_size): e.value for e in rec.evaluations}
    for row in mine:
        assert got[("top1", int(row["img_size"]))] == float(row["top1"])
        assert got[("top5", int(row["img_size"]))] == float(row["top5"])
    assert {e.dataset for e in rec.evaluations} == {"imagenet"}
    crops = {io.dimensions[1]: (io.preprocessing[1].crop_percentage,
                                io.preprocessing[0].interpolation)
             for io in rec.inputs if io.dimensions}
    assert crops == {int(r["img_size"]): (float(r["crop_pct"]), r["interpolation"])
                     for r in mine}


def test_a_bare_architecture_collects_its_benchmark_rows(
        timm_dir: Path, crawled: tuple[list[object], Ledger]) -> None:
    rec = _records(crawled[0])["timm:resnet50"]
    header, rs = _csv(timm_dir / "benchmark-infer-amp-nchw-pt113-cu117-rtx3090.csv")
    row = dict(zip(header, next(r for r in rs if r[0] == "resnet50"), strict=True))
    ev = next(e for e in rec.evaluations
              if e.metric == "infer_samples_per_sec" and e.hardware == "rtx3090"
              and e.software and e.software.version == "1.13"
              and e.image_size == int(row["infer_img_size"]) and e.data_layout == "NCHW")
    assert ev.value == float(row["infer_samples_per_sec"])
    assert ev.batch_size == int(row["infer_batch_size"])
    assert (ev.kind, ev.precision, ev.unit) == ("measured", "amp", "samples/s")
    assert ev.software is not None and ev.software.extra == {"cuda": "11.7"}
    # Every benchmark file with a resnet50 row contributes a throughput for it.
    n_rows = 0
    for path in timm_dir.glob("benchmark-*.csv"):
        _, brs = _csv(path)
        n_rows += sum(1 for r in brs if r[0] == "resnet50")
    rates = [e for e in rec.evaluations if e.metric in ("infer_samples_per_sec",
                                                        "training throughput")]
    assert len(rates) == n_rows
    # Training and inference speed are different canonical metrics.
    train = {table("metric").lookup(e.metric).id for e in rec.evaluations  # type: ignore[union-attr]
             if e.metric_name and e.metric_name.startswith("train_")}
    assert train == {"train-throughput", "train-step-time"}
    assert [h.value for h in rec.hyperparameters if h.name == "default_pretrain"] == ["in1k"]


def _resnet_subset(timm_dir: Path, dst: Path) -> Path:
    """resnet50.a1_in1k, resnet50, and two real rows that are rejected."""
    bad = "benchmark-infer-amp-nchw-pt210-cu121-rtx3090.csv"
    return subset(timm_dir, dst, lambda f, m: m in ("resnet50.a1_in1k", "resnet50", "regnetz_b")
                  or (f == bad and m == "eva02_enormous_patch14_clip_224"))


def test_cli_stores_a_real_subset_and_skips_it_when_unchanged(timm_dir: Path,
                                                               tmp_path: Path) -> None:
    src = _resnet_subset(timm_dir, tmp_path / "results")
    store = str(tmp_path / "store")
    runner = CliRunner()
    first = runner.invoke(cli, ["--store", store, "crawl", "timm", "--source", str(src)])
    assert first.exit_code == 0, first.output
    header, rs = _csv(src / "benchmark-infer-amp-nchw-pt210-cu121-rtx3090.csv")
    line = 2 + [r[0] for r in rs].index("eva02_enormous_patch14_clip_224")
    assert (f"rejected: benchmark-infer-amp-nchw-pt210-cu121-rtx3090.csv:{line} "
            "(eva02_enormous_patch14_clip_224): infer_samples_per_sec '' is not a number"
            ) in first.stderr
    assert "model_metadata-in1k.csv" in first.stderr and "(regnetz_b)" in first.stderr
    n_models = 2  # resnet50.a1_in1k and resnet50: the eva02 row is rejected, regnetz_b too
    assert f"{n_models} record(s) stored" in first.stderr

    answer = runner.invoke(cli, ["--store", store, "query", "model-evaluations", "--model",
                                 "resnet50.a1_in1k", "--format", "csv"])
    assert answer.exit_code == 0, answer.output
    got = list(csv.DictReader(answer.stdout.splitlines()))
    header, rs = _csv(timm_dir / "results-imagenet.csv")
    expected = {round(float(r[2]) / 100, 9) for r in rs if r[0] == "resnet50.a1_in1k"}
    top1 = {round(float(r["value"]), 9) for r in got
            if r["metric"] == "top1-accuracy" and r["dataset"] == "imagenet-1k"}
    assert top1 == expected

    again = runner.invoke(cli, ["--store", store, "crawl", "timm", "--source", str(src)])
    assert again.exit_code == 0, again.output
    assert f"0 record(s) stored (0 quads) from 0 row(s), {n_models} unchanged" in again.stderr
    forced = runner.invoke(cli, ["--store", store, "crawl", "timm", "--source", str(src),
                                 "--force"])
    assert f"{n_models} record(s) stored" in forced.stderr
    strict = runner.invoke(cli, ["--store", store, "crawl", "timm", "--source", str(src),
                                 "--strict"])
    assert strict.exit_code == 1


def test_url_source_over_http_gives_the_same_records(timm_dir: Path, tmp_path: Path) -> None:
    src = _resnet_subset(timm_dir, tmp_path / "results")
    local = _records(list(crawl_timm(str(src))))
    with HttpDir(src, failures={"/results-imagenet.csv": 2}) as server:
        items = list(crawl_timm(server.base_url, fetcher=Fetcher(backoff=0.01)))
        requests = list(server.requests)
    remote = _records(items)
    assert set(remote) == set(local)
    for key, rec in local.items():
        assert [(e.metric, e.value, e.image_size, e.hardware) for e in remote[key].evaluations] \
            == [(e.metric, e.value, e.image_size, e.hardware) for e in rec.evaluations]
        assert remote[key].source.version == rec.source.version
        assert (remote[key].source.url or "").startswith(server.base_url)
    # Every known file was asked for; the two 503s were retried.
    asked = [p for p, _ in requests]
    assert set(asked) == {f"/{n}" for n in KNOWN_FILES}
    assert asked.count("/results-imagenet.csv") == 3
    assert all(ua.startswith("mlmeta/") for _, ua in requests)
    skipped = [w for w in items if isinstance(w, CrawlWarning) and "skipped" in w.message]
    assert skipped == []  # the subset has every known file


def test_fetch_reports_missing_files_and_gives_up_after_retries(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("model\n", encoding="utf-8")
    with HttpDir(tmp_path, failures={"/a.csv": 10}) as server:
        fetcher = Fetcher(retries=2, backoff=0.0)
        with pytest.raises(SourceNotFound, match="404"):
            fetcher.get(server.base_url + "missing.csv")
        with pytest.raises(CrawlError, match=r"a\.csv: HTTP 503"):
            fetcher.get(server.base_url + "a.csv")
        assert [p for p, _ in server.requests].count("/a.csv") == 3


def test_a_missing_source_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", ":memory:", "crawl", "timm", "--source",
                                      str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no such directory or file" in result.output


@pytest.mark.slow
def test_all_of_timm_crawls_into_memory(timm_dir: Path) -> None:
    """The whole results folder (about 43k rows): every row stored or rejected."""
    ledger = Ledger()
    store = OxigraphStore()
    result = ingest_crawl(store, crawl_timm(str(timm_dir), ledger=ledger), ledger=ledger)
    for name, fc in result.files.items():
        assert fc.accounted == fc.rows, name
    assert result.report.rejected == {}
    assert result.rows_rejected == 5  # 2 rows without a throughput, 3 unknown architectures
    n = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?e <https://w3id.org/mlmeta#onHardware> "
                    "?h }")
    assert not isinstance(n, bool) and not isinstance(n, list)
    value = n.rows[0][0]
    assert isinstance(value, ox.Literal) and int(value.value) > 50_000


def test_results_rows_are_keyed_by_model_and_image_size(tmp_path: Path) -> None:
    (tmp_path / "results-imagenet.csv").write_text(
        "model,img_size,top1,top1_err,top5,top5_err,param_count,crop_pct,interpolation\n"
        "m.a_in1k,224,80.0,20.0,95.0,5.0,\"1,014.45\",0.875,bicubic\n"
        "m.a_in1k,288,81.0,19.0,95.5,4.5,\"1,014.45\",1.150,bicubic\n"
        "m.a_in1k,224,79.0,21.0,94.0,6.0,1.0,0.875,bicubic\n"
        ",224,1,1,1,1,1,1,bicubic\n"
        "m.b_in1k,224,n/a,,,,,,\n", encoding="utf-8")
    items = list(crawl_timm(str(tmp_path)))
    assert [(r.row, r.reason.split(":")[0]) for r in items if isinstance(r, Rejected)] == [
        (4, "duplicate of line 2"), (5, "no model name"), (6, "top1 'n/a' is not a number")]
    rec = _records(items)["timm:m.a_in1k"]
    assert rec.parameter_count == 1_014_450_000
    assert sorted((e.image_size, e.value) for e in rec.evaluations if e.metric == "top1") == \
        [(224, 80.0), (288, 81.0)]
    # crop_pct above 1 is not a crop fraction: kept in the description, with a warning.
    crop288 = next(io.preprocessing[1] for io in rec.inputs if io.dimensions == [3, 288, 288])
    assert crop288.crop_percentage is None and "1.15" in (crop288.description or "")
    assert any("crop_pct 1.15" in w.message for w in items if isinstance(w, CrawlWarning))
