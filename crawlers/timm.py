"""Crawl PyTorch Image Models (timm): its validation results and benchmark CSVs.

Files (the ``results/`` folder of huggingface/pytorch-image-models):

- ``results-<dataset>.csv``: one row per (pretrained model, image size) with top-1 / top-5
  accuracy in percent, parameter count in millions, and the evaluation pre-processing
  (crop percentage, interpolation). The dataset comes from the file name.
- ``benchmark-<infer|train>-<precision>-<layout>-pt<torch>-<cu<cuda>|cpu>-<device>[-dynamo].csv``:
  one row per (architecture, image size) with throughput, step time, batch size and
  (inference) GMACs, measured on the device the file name names.
- ``model_metadata-in1k.csv``: the pretraining data of each architecture's default
  weights, in the architecture names of older timm releases.

Records:

- one :class:`ModelRecord` per pretrained model (``resnet50.a1_in1k``), collecting its rows
  of every results file: top-1 / top-5 evaluations (reported, percent, one per file and
  image size), one input per (image size, crop, interpolation) with its pre-processing,
  and ``trained_on`` from the dataset tokens of the pretrained tag (``in1k``,
  ``in22k_ft_in1k``);
- one :class:`ModelRecord` per bare architecture (``resnet50``), collecting its rows of
  every benchmark file as measured evaluations (throughput, step time; GMACs and
  activations once per image size) on the named hardware, with the PyTorch / CUDA
  versions, precision, data layout and ``torch.compile`` from the file name, and the
  default pretraining from ``model_metadata-in1k.csv``.

One graph per model keeps a re-crawl clean (the whole model is replaced) and bounds
what one bad row can take with it: a row that cannot be read is rejected on its own,
before any record is built. A record's ``source.version`` is a hash of the rows that
made it, so an unchanged model can be skipped on the next crawl.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import click

from mlmeta.clikit import State, pass_state
from mlmeta.errors import CrawlError
from mlmeta.normalize import table
from mlmeta.records import (
    EvaluationRecord,
    Hyperparameter,
    ModelIO,
    ModelRecord,
    PreprocessStep,
    SoftwareStack,
    SourceInfo,
)

from .crawlcli import crawl_options, run_crawl, source_option
from .sources import (
    CrawlItem,
    CrawlWarning,
    Fetcher,
    Ledger,
    Rejected,
    SourceFile,
    open_source,
    read_files,
)

ZOO = "timm"
DEFAULT_SOURCE = "https://raw.githubusercontent.com/huggingface/pytorch-image-models/main/results/"
CODE_URL = "https://github.com/huggingface/pytorch-image-models"
PATTERNS = ("results-*.csv", "benchmark-*.csv", "model_metadata-*.csv")

# The CSVs of the results folder (huggingface/pytorch-image-models@aa4b5850): what a URL
# source is asked for, as a URL has no directory listing.
KNOWN_FILES = (
    "benchmark-infer-amp-nchw-pt113-cu117-rtx3090.csv",
    "benchmark-infer-amp-nchw-pt210-cu121-rtx3090.csv",
    "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv",
    "benchmark-infer-amp-nchw-pt240-cu124-rtx4090-dynamo.csv",
    "benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv",
    "benchmark-infer-amp-nchw-pt291-cu128-4090-dynamo.csv",
    "benchmark-infer-amp-nchw-pt291-cu128-4090.csv",
    "benchmark-infer-amp-nchw-pt291-cu130-5090-dynamo.csv",
    "benchmark-infer-amp-nchw-pt291-cu130-5090.csv",
    "benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq-dynamo.csv",
    "benchmark-infer-amp-nchw-pt291-cu130-pro6000maxq.csv",
    "benchmark-infer-amp-nhwc-pt113-cu117-rtx3090.csv",
    "benchmark-infer-amp-nhwc-pt210-cu121-rtx3090.csv",
    "benchmark-infer-amp-nhwc-pt240-cu124-rtx3090.csv",
    "benchmark-infer-amp-nhwc-pt240-cu124-rtx4090.csv",
    "benchmark-infer-amp_bf16-nchw-pt291-cu130-pro6000maxq-dynamo.csv",
    "benchmark-infer-bf16-nchw-pt291-cu130-pro6000maxq-dynamo.csv",
    "benchmark-infer-fp32-nchw-pt221-cpu-i9_10940x-dynamo.csv",
    "benchmark-infer-fp32-nchw-pt240-cpu-i7_12700h-dynamo.csv",
    "benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv",
    "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv",
    "benchmark-train-amp-nhwc-pt112-cu113-rtx3090.csv",
    "model_metadata-in1k.csv",
    "results-imagenet-a-clean.csv",
    "results-imagenet-a.csv",
    "results-imagenet-r-clean.csv",
    "results-imagenet-r.csv",
    "results-imagenet-real.csv",
    "results-imagenet.csv",
    "results-imagenetv2-matched-frequency.csv",
    "results-sketch.csv",
)

# Results sets that are the ImageNet-1k validation images (README of the results folder).
_VALIDATION_SETS = {"imagenet", "imagenet-real"}

_BENCH_RE = re.compile(
    r"^benchmark-(?P<mode>infer|train)-(?P<precision>[a-z0-9_]+)-(?P<layout>nchw|nhwc)"
    r"-pt(?P<torch>\d+)-(?:cu(?P<cuda>\d+)|(?P<cpu>cpu))-(?P<device>.+?)(?P<dynamo>-dynamo)?"
    r"\.csv$")

# Metric names for training benchmarks, so that training and inference throughput stay
# two metrics (the CSV header is kept as the metric's display name).
_TRAIN_METRIC = {"samples_per_sec": "training throughput", "step_time": "training step time"}


@dataclass(frozen=True)
class BenchmarkSetup:
    """What a benchmark file name says about how its rows were measured."""

    mode: str  # infer / train
    precision: str  # amp, amp_bf16, bf16, fp32
    layout: str  # NCHW / NHWC
    torch: str  # 2.4.0
    cuda: str | None  # 12.4, None on CPU
    device: str  # rtx3090, 4090, pro6000maxq, i9_10940x
    compiled: bool  # -dynamo: torch.compile

    def software(self) -> SoftwareStack:
        extra = {"cuda": self.cuda} if self.cuda else {"device": "cpu"}
        if self.compiled:
            extra["compile"] = "dynamo"
        return SoftwareStack("PyTorch", version=self.torch, extra=extra)


def parse_benchmark_name(name: str) -> BenchmarkSetup | None:
    """The setup a benchmark file name encodes, or None when it does not follow the form."""
    m = _BENCH_RE.match(name.rsplit("/", 1)[-1])
    if not m:
        return None
    cuda = m.group("cuda")
    return BenchmarkSetup(
        mode=m.group("mode"), precision=m.group("precision"), layout=m.group("layout").upper(),
        torch=torch_version(m.group("torch")),
        cuda=f"{cuda[:-1]}.{cuda[-1]}" if cuda else None,
        device=m.group("device"), compiled=bool(m.group("dynamo")))


def torch_version(digits: str) -> str:
    """``pt240`` -> ``2.4.0``, ``pt291`` -> ``2.9.1``; PyTorch 1 had two-digit minors, so
    ``pt113`` -> ``1.13`` and ``pt112`` -> ``1.12``."""
    if len(digits) < 2:
        return digits
    if digits[0] == "1":
        return f"1.{int(digits[1:])}"
    return ".".join([digits[0], digits[1], *([digits[2:]] if digits[2:] else [])])


def results_dataset(name: str) -> str | None:
    """``results-imagenet-real.csv`` -> ``imagenet-real`` (the dataset as timm spells it)."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("results-") and base.endswith(".csv"):
        return base[len("results-"):-len(".csv")]
    return None


def _number(text: str | None) -> float | None:
    """A CSV number: ``"1,014.45"``, ``"+1.088"``, ``"80.382"``; None when empty or not one."""
    if text is None:
        return None
    t = text.strip().replace(",", "")
    if not t:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _integer(text: str | None) -> int | None:
    v = _number(text)
    if v is None or v != int(v):
        return None
    return int(v)


def pretrained_datasets(model: str) -> list[str]:
    """The datasets a pretrained tag names, as spelled there: ``in22k_ft_in1k`` ->
    ``["in22k", "in1k"]``; tokens the dataset table does not know are left out."""
    _, _, tag = model.partition(".")
    out: list[str] = []
    for token in tag.split("_"):
        if token and table("dataset").lookup(token) is not None and token not in out:
            out.append(token)
    return out


@dataclass
class _Model:
    """What the rows of every file say about one model, gathered before it is emitted."""

    name: str
    pretrained: bool
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    first_url: str | None = None
    param_millions: float | None = None
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    inputs: dict[tuple[int, float | None, str | None], ModelIO] = field(default_factory=dict)
    compute_seen: set[int] = field(default_factory=set)
    hyperparameters: list[Hyperparameter] = field(default_factory=list)

    def feed(self, file: SourceFile, row: list[str]) -> None:
        self.hasher.update(file.name.encode())
        self.hasher.update("\x1f".join(row).encode())
        self.hasher.update(b"\x1e")
        if self.first_url is None:
            self.first_url = file.url

    def record(self) -> ModelRecord:
        name = self.name
        arch = name.split(".", 1)[0]
        params = (int(round(self.param_millions * 1_000_000))
                  if self.param_millions is not None else None)
        return ModelRecord(
            source_id=name,
            source=SourceInfo(ZOO, url=self.first_url, version=self.hasher.hexdigest()),
            name=name,
            architecture=arch,
            parameter_count=params,
            library="timm",
            tasks=["image-classification"],
            trained_on=pretrained_datasets(name) if self.pretrained else [],
            inputs=[self.inputs[k] for k in sorted(self.inputs, key=_input_order)],
            evaluations=self.evaluations,
            hyperparameters=self.hyperparameters,
            code_url=CODE_URL,
        )


def _input_order(k: tuple[int, float | None, str | None]) -> tuple[int, float, str]:
    return (k[0], k[1] if k[1] is not None else -1.0, k[2] or "")


def _eval_input(size: int, crop: float | None, interpolation: str | None) -> ModelIO:
    """The evaluation input at one image size: timm resizes the shorter side to
    ``floor(size / crop_pct)`` with the interpolation, then center-crops ``size``."""
    steps: list[PreprocessStep] = []
    scale = math.floor(size / crop) if crop else None
    steps.append(PreprocessStep(
        kind="resize", interpolation=interpolation,
        description=(f"resize the shorter side to {scale} px" if scale else
                     "resize the shorter side")))
    # A crop_pct above 1 (volo_*: 1.15) makes the resized image smaller than the crop,
    # which is then padded: not a crop fraction, so it is kept in the description only.
    fraction = crop if crop is not None and 0 < crop <= 1 else None
    padded = crop is not None and fraction is None
    note = f" (crop_pct {crop}: the image is padded)" if padded else ""
    steps.append(PreprocessStep(
        kind="crop", crop_method="center", crop_percentage=fraction,
        description=f"center crop {size}x{size}{note}"))
    return ModelIO(modality="image", dimensions=[3, size, size],
                   description=f"evaluation input at {size}x{size}", preprocessing=steps)


class _Crawl:
    """The state of one timm crawl: the models gathered so far and the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.models: dict[str, _Model] = {}

    def model(self, name: str, pretrained: bool) -> _Model:
        m = self.models.get(name)
        if m is None:
            m = self.models[name] = _Model(name, pretrained)
        return m

    # -- results ---------------------------------------------------------------------

    def results(self, f: SourceFile, header: list[str], rows: list[list[str]],
                ) -> Iterator[CrawlItem]:
        dataset = results_dataset(f.name) or f.name
        col = {h: i for i, h in enumerate(header)}
        missing = [c for c in ("model", "img_size", "top1") if c not in col]
        seen: dict[tuple[str, int], int] = {}
        for n, row in enumerate(rows, start=2):
            if missing:
                yield self._reject(f, n, f"the header has no {', '.join(missing)} column")
                continue
            get = _getter(row, col)
            model = get("model").strip()
            if not model:
                yield self._reject(f, n, "no model name")
                continue
            size = _integer(get("img_size"))
            if size is None or size <= 0:
                yield self._reject(f, n, f"img_size {get('img_size')!r} is not a positive "
                                         "integer", model)
                continue
            top1 = _number(get("top1"))
            if top1 is None:
                yield self._reject(f, n, f"top1 {get('top1')!r} is not a number", model)
                continue
            if (model, size) in seen:
                yield self._reject(f, n, f"duplicate of line {seen[(model, size)]}: "
                                         f"(model, img_size) = ({model}, {size}) is the key",
                                   model)
                continue
            seen[(model, size)] = n
            m = self.model(model, pretrained=True)
            m.feed(f, row)
            self.ledger.use(f.name, n, f"{ZOO}:{model}")
            params = _number(get("param_count"))
            if params is not None:
                m.param_millions = params
            m.evaluations.append(_reported("top1", top1, dataset, size, f.url))
            top5 = _number(get("top5"))
            if top5 is not None:
                m.evaluations.append(_reported("top5", top5, dataset, size, f.url))
            elif get("top5").strip():
                yield CrawlWarning(f.name, n, f"top5 {get('top5')!r} is not a number; "
                                              "left out", f"{ZOO}:{model}")
            crop = _number(get("crop_pct"))
            interp = get("interpolation").strip() or None
            key = (size, crop, interp)
            if key not in m.inputs:
                m.inputs[key] = _eval_input(size, crop, interp)
                if crop is not None and not 0 < crop <= 1:
                    yield CrawlWarning(f.name, n, f"crop_pct {crop} at {size} px is not a crop "
                                                  "fraction in (0, 1]; kept in the crop step's "
                                                  "description only", f"{ZOO}:{model}")

    # -- benchmarks ------------------------------------------------------------------

    def benchmark(self, f: SourceFile, header: list[str], rows: list[list[str]],
                  ) -> Iterator[CrawlItem]:
        setup = parse_benchmark_name(f.name)
        col = {h: i for i, h in enumerate(header)}
        mode = setup.mode if setup else "infer"
        need = ["model", f"{mode}_img_size", f"{mode}_samples_per_sec"]
        missing = [c for c in need if c not in col]
        for n, row in enumerate(rows, start=2):
            if setup is None:
                yield self._reject(f, n, "the file name does not say how it was measured "
                                         "(benchmark-<infer|train>-<precision>-<layout>-pt<ver>"
                                         "-<cuNNN|cpu>-<device>[-dynamo].csv)")
                continue
            if missing:
                yield self._reject(f, n, f"the header has no {', '.join(missing)} column")
                continue
            get = _getter(row, col)
            arch = get("model").strip()
            if not arch:
                yield self._reject(f, n, "no model name")
                continue
            size = _integer(get(f"{mode}_img_size"))
            if size is None or size <= 0:
                yield self._reject(f, n, f"{mode}_img_size {get(f'{mode}_img_size')!r} is not a "
                                         "positive integer", arch)
                continue
            rate = _number(get(f"{mode}_samples_per_sec"))
            if rate is None:
                yield self._reject(f, n, f"{mode}_samples_per_sec "
                                         f"{get(f'{mode}_samples_per_sec')!r} is not a number",
                                   arch)
                continue
            batch_text = get(f"{mode}_batch_size")
            batch = _integer(batch_text)
            if batch is None and batch_text.strip():
                yield CrawlWarning(f.name, n, f"{mode}_batch_size {batch_text!r} is not an "
                                              "integer; left out", f"{ZOO}:{arch}")
            m = self.model(arch, pretrained="." in arch)
            m.feed(f, row)
            self.ledger.use(f.name, n, f"{ZOO}:{arch}")
            params = _number(get("param_count"))
            if params is not None:
                m.param_millions = params
            m.evaluations.append(
                _measured(setup, "samples_per_sec", rate, "samples/s", batch, size, f.url))
            step = _number(get(f"{mode}_step_time"))
            if step is not None:
                m.evaluations.append(_measured(setup, "step_time", step, "ms", batch, size, f.url))
            # GMACs and activations depend on the architecture and image size only: once.
            if size not in m.compute_seen:
                gmacs = _number(get(f"{mode}_gmacs"))
                macts = _number(get(f"{mode}_macts"))
                if gmacs is not None or macts is not None:
                    m.compute_seen.add(size)
                for metric, value, unit in ((f"{mode}_gmacs", gmacs, "GMACs"),
                                            (f"{mode}_macts", macts, None)):
                    if value is not None:
                        m.evaluations.append(EvaluationRecord(
                            metric=metric, value=value, unit=unit, kind="measured",
                            image_size=size, source_url=f.url))

    # -- pretraining metadata --------------------------------------------------------

    def metadata(self, f: SourceFile, header: list[str], rows: list[list[str]],
                 ) -> Iterator[CrawlItem]:
        col = {h: i for i, h in enumerate(header)}
        for n, row in enumerate(rows, start=2):
            if "model" not in col or "pretrain" not in col:
                yield self._reject(f, n, "the header has no model or pretrain column")
                continue
            get = _getter(row, col)
            name, pretrain = get("model").strip(), get("pretrain").strip()
            if not name or not pretrain:
                yield self._reject(f, n, "no model name or no pretrain value", name or None)
                continue
            m = self.models.get(name)
            if m is None:
                yield self._reject(f, n, "names no architecture of the benchmark files nor a "
                                         "model of the results files", name)
                continue
            m.feed(f, row)
            self.ledger.use(f.name, n, f"{ZOO}:{name}")
            m.hyperparameters.append(Hyperparameter("default_pretrain", pretrain))

    def _reject(self, f: SourceFile, row: int, reason: str, item: str | None = None,
                ) -> Rejected:
        r = Rejected(f.name, row, reason, item)
        self.ledger.reject(r)
        return r


def _reported(metric: str, value: float, dataset: str, size: int, url: str) -> EvaluationRecord:
    """A top-1 / top-5 result of a results file (percent)."""
    return EvaluationRecord(
        metric=metric, value=value, dataset=dataset,
        split="validation" if dataset in _VALIDATION_SETS else None,
        task="image-classification", image_size=size, source_url=url, unit="%")


def _measured(setup: BenchmarkSetup, what: str, value: float, unit: str, batch: int | None,
              size: int, url: str) -> EvaluationRecord:
    """A throughput or step time of a benchmark file, measured as its name says."""
    return EvaluationRecord(
        metric=_metric(setup.mode, what), metric_name=_display(setup.mode, what), value=value,
        unit=unit, kind="measured", hardware=setup.device, batch_size=batch,
        precision=setup.precision, data_layout=setup.layout, image_size=size,
        software=setup.software(), source_url=url)


def _metric(mode: str, what: str) -> str:
    return _TRAIN_METRIC[what] if mode == "train" else f"{mode}_{what}"


def _display(mode: str, what: str) -> str | None:
    """The CSV header as the metric's display name, where the metric is not the header."""
    return f"{mode}_{what}" if mode == "train" else None


def _getter(row: list[str], col: dict[str, int]) -> Callable[[str], str]:
    def get(name: str) -> str:
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else ""
    return get


def _read_csv(f: SourceFile) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(f.text(), newline="")))
    rows = [r for r in rows if any(c.strip() for c in r)] if rows else []
    if not rows:
        return [], []
    return [h.strip() for h in rows[0]], rows[1:]


def crawl_timm(source: str | None = None, *, ledger: Ledger | None = None,
               fetcher: Fetcher | None = None) -> Iterator[CrawlItem]:
    """Crawl timm's results folder: a local copy (directory or one CSV file) or a base URL
    (default: the public GitHub raw files).

    Yields :class:`~mlmeta.records.ModelRecord` (pretrained models, bare architectures),
    :class:`Rejected` rows and :class:`CrawlWarning`.

    :raises UsageError: if a local source does not exist.
    :raises CrawlError: if no timm CSV file can be read, or a URL cannot be fetched after
        retries.
    """
    src = open_source(source, DEFAULT_SOURCE, fetcher=fetcher)
    ledger = ledger if ledger is not None else Ledger()
    names = src.names(PATTERNS, KNOWN_FILES)
    state = _Crawl(ledger)
    # Results first (pretrained models), then benchmarks (architectures), then the
    # metadata that describes architectures.
    order = sorted(names, key=lambda n: (0 if "results-" in n else 1 if "benchmark-" in n
                                         else 2, n))
    hint = "point --source at the results/ folder of pytorch-image-models"
    for f in read_files(src, order, "timm results or benchmark CSV files", hint):
        if isinstance(f, CrawlWarning):
            yield f
            continue
        name = f.name
        try:
            header, rows = _read_csv(f)
        except (CrawlError, csv.Error) as e:
            ledger.expect(name, 1)
            yield _rejected_file(ledger, name, f"cannot read the CSV: {e}")
            continue
        ledger.expect(name, len(rows))
        base = name.rsplit("/", 1)[-1]
        if base.startswith("results-"):
            yield from state.results(f, header, rows)
        elif base.startswith("benchmark-"):
            yield from state.benchmark(f, header, rows)
        else:
            yield from state.metadata(f, header, rows)
    for name in sorted(state.models):
        yield state.models[name].record()


def _rejected_file(ledger: Ledger, name: str, reason: str) -> Rejected:
    r = Rejected(name, None, reason)
    ledger.reject(r)
    return r


@click.command("timm")
@source_option(DEFAULT_SOURCE, "the results/ folder of pytorch-image-models")
@crawl_options
@pass_state
def command(state: State, source: str | None, force: bool, strict: bool) -> None:
    """Crawl timm (PyTorch Image Models): validation results and benchmarks.

    Reads the results-*.csv (top-1/top-5 on ImageNet and its variants, pre-processing),
    benchmark-*.csv (throughput, step time, GMACs on named hardware) and
    model_metadata-*.csv files of a local copy (--source DIR) or of the public
    repository (default). Rows that cannot be read are reported on stderr with file,
    line and reason; the crawl still stores everything else.
    """
    ledger = Ledger()
    run_crawl(state, ZOO, crawl_timm(source, ledger=ledger), ledger=ledger, force=force,
              strict=strict)
