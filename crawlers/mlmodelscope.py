"""Crawl MLModelScope model manifests (the YAML files of rai-project / c3sr/dlmodel).

One manifest becomes one :class:`ModelRecord`, zoo ``mlmodelscope``, ``source_id``
``<framework>/<name>/<version>`` in lower-case framework (``pytorch/TorchVision_ResNet_50/1.0``):
the same model name is published once per framework, and a manifest carries its own
version.

- ``framework``: name and version; a bare number (``1.12``, read from the YAML text so
  ``1.10`` stays ``1.10``) or a plain version is an exact version, a string starting with
  a comparison (``'>=1.1.0'``) is a version constraint; ``container`` images go with it.
- ``inputs`` (their ``parameters`` in the manifest's order: layout, color mode,
  dimensions, mean / scale -> a normalize step with mean and std), ``output`` /
  ``outputs`` with the label file (``features_url`` or ``model.features_path``) and its
  checksum; ``preprocess`` / ``postprocess`` code is stored as text and never run.
- ``model``: graph and weights URLs (joined to ``base_url``; inside the archive when
  ``is_archive``) with their checksums.
- ``attributes.training_dataset`` -> ``trained_on`` (an empty one is left out with a
  warning); the reported claims (``top1``, ``Top5``, ``mAP``, ``Box AP``) become reported
  evaluations on the training dataset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import click
import yaml

from mlmeta.clikit import State, pass_state
from mlmeta.errors import CrawlError, SourceNotFound, UsageError
from mlmeta.normalize import parse_number, table
from mlmeta.records import (
    EvaluationRecord,
    ModelIO,
    ModelRecord,
    PreprocessStep,
    SoftwareStack,
    SourceInfo,
    WeightsFile,
)

from .crawlcli import crawl_options, run_crawl
from .sources import (
    CrawlItem,
    CrawlWarning,
    Fetcher,
    Ledger,
    Rejected,
    SourceFile,
    is_url,
    open_source,
)

ZOO = "mlmodelscope"

# The public manifests of the copies in ../shared/data/mlmodelscope: what a crawl with no
# PATH reads (GitHub raw files; HEAD is each repository's default branch).
_RAI = "https://raw.githubusercontent.com/rai-project/{}/HEAD/builtin_models/{}.yml"
_DLMODEL = "https://raw.githubusercontent.com/c3sr/dlmodel/HEAD/"
DEFAULT_MANIFESTS = (
    *(_RAI.format("tensorflow", n) for n in (
        "Inception_v3", "AI_Matrix_DIEN", "Faster_RCNN_ResNet50_COCO",
        "Mask_RCNN_Inception_v2_COCO", "DeepLabv3_MobileNet_v2_PASCAL_VOC_Train_Aug", "SRGAN",
        "MobileNet_v1_0.25_128_Quant", "MLPerf_ResNet50_v1.5")),
    *(_RAI.format("mxnet", n) for n in (
        "AlexNet", "CIFAR_ResNet20_v1", "Faster_RCNN_ResNet50_v1b_VOC", "SSD_512_ResNet50_v1_COCO",
        "ResNet50_v1_int8")),
    *(_RAI.format("pytorch", n) for n in (
        "TorchVision_ResNet_50", "TorchVision_DeepLabv3_Resnet101", "MobileNet_SSD_v1.0")),
    *(_RAI.format("caffe", n) for n in ("AI_Matrix_SSD_VGG16", "FCN_8s", "SphereFace",
                                        "BVLC_AlexNet")),
    *(_RAI.format("caffe2", n) for n in ("Style_Transfer_Caffe2", "ShuffleNet_v1.1_ONNX")),
    *(_RAI.format("tensorrt", n) for n in ("voc-fcn16s", "ResNet50_v1")),
    _RAI.format("cntk", "VGG16_SOD"),
    _DLMODEL + "models/vision/pytorch/torchvision/resnet/TorchVision_ResNet_18.yml",
    _DLMODEL + "models/language/onnxruntime/BERT.yml",
    _DLMODEL + "models/vision/onnxruntime/mlcommons_inference/3DUNet.yml",
    _DLMODEL + "models_demo/vision/image_object_detection/tensorflow/"
               "Faster_RCNN_Inception_ResNet_v2_Atrous_COCO.yml",
)

# Attributes that are not claims about results.
_NOT_CLAIMS = {"kind", "training_dataset", "manifest_author", "iou threshold"}
# A version with a comparison, a wildcard or several parts (">=1.1.0", "1.*", ">=1, <2").
_CONSTRAINT_RE = re.compile(r"^\s*[<>=!~^]|[*,|\s]")


class _Number(float):
    """A YAML float that remembers how the file wrote it (``1.10``, ``1.0``)."""

    raw: str

    def __new__(cls, value: float, raw: str) -> _Number:
        obj = super().__new__(cls, value)
        obj.raw = raw
        return obj


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader whose floats keep their text: a version written ``1.10`` is not ``1.1``."""


def _float(loader: Any, node: yaml.Node) -> float:
    assert isinstance(node, yaml.ScalarNode)
    return _Number(loader.construct_yaml_float(node), node.value)


_Loader.add_constructor("tag:yaml.org,2002:float", _float)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    """A scalar as the manifest wrote it; None when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, _Number):
        return value.raw.strip()
    text = str(value).strip()
    return text or None


def framework_stack(fw: object, containers: list[str]) -> tuple[SoftwareStack | None, str | None]:
    """``(software stack, warning)`` from a manifest's ``framework`` mapping."""
    if not isinstance(fw, dict) or not _text(fw.get("name")):
        return None, "no framework name"
    name = _text(fw.get("name")) or ""
    version = _text(fw.get("version"))
    if version is None:
        return SoftwareStack(name, container_images=containers), None
    if _CONSTRAINT_RE.search(version):
        return SoftwareStack(name, version_constraint=version, container_images=containers), None
    return SoftwareStack(name, version=version, container_images=containers), None


def _containers(value: object) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for platform in value.values():
            if isinstance(platform, dict):
                for image in platform.values():
                    t = _text(image)
                    if t and t not in out:
                        out.append(t)
            elif _text(platform) and _text(platform) not in out:
                out.append(_text(platform) or "")
    return out


def _floats(value: object) -> list[float] | None:
    items = value if isinstance(value, list) else [value]
    out: list[float] = []
    for v in items:
        n, _, _ = parse_number(v)
        if n is None:
            return None
        out.append(n)
    return out or None


def _hw(dims: list[int], layout: str | None) -> tuple[int, int] | None:
    """(height, width) of input dimensions: ``[3, 224, 224]`` (channels first, as every
    manifest writes them, whatever its layout) or ``[224, 224, 3]``."""
    if len(dims) != 3:
        return None
    if dims[0] in (1, 3, 4):
        return dims[1], dims[2]
    if dims[2] in (1, 3, 4):
        return dims[0], dims[1]
    return None


def input_io(spec: dict[str, Any], warnings: list[str], where: str) -> ModelIO:
    """One manifest input with its pre-processing steps, in the order of its parameters."""
    params = _dict(spec.get("parameters"))
    steps: list[PreprocessStep] = []
    dims: list[int] | None = None
    layout = _text(params.get("layout"))
    normalize_at: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    for key, value in params.items():
        if key == "layout" and layout:
            steps.append(PreprocessStep(kind="data-layout", data_layout=layout.upper()))
        elif key == "color_mode" and _text(value):
            steps.append(PreprocessStep(kind="color-layout",
                                        color_layout=(_text(value) or "").upper()))
        elif key == "dimensions":
            nums = _floats(value)
            if nums is None or any(n != int(n) or n <= 0 for n in nums):
                warnings.append(f"{where}.dimensions {value!r} are not positive integers; "
                                "left out")
                continue
            dims = [int(n) for n in nums]
            hw = _hw(dims, layout)
            if hw:
                steps.append(PreprocessStep(kind="resize", resize_height=hw[0],
                                            resize_width=hw[1]))
        elif key == "max_dimension":
            n, _, _ = parse_number(value)
            keep = params.get("keep_aspect_ratio")
            if n is not None:
                steps.append(PreprocessStep(
                    kind="resize", description=f"resize so the longer side is at most {int(n)} "
                                               f"px{' keeping the aspect ratio' if keep else ''}"))
        elif key in ("mean", "scale"):
            values = _floats(value)
            if values is None:
                warnings.append(f"{where}.{key} {value!r} is not a number or a list of "
                                "numbers; left out")
                continue
            if normalize_at is None:
                normalize_at = len(steps)
                steps.append(PreprocessStep(kind="normalize"))
            if key == "mean":
                mean = values
            else:
                std = values
    if normalize_at is not None:
        # MLModelScope computes (x - mean) / scale: the scale is the standard deviation.
        if std is not None and mean is not None and len(std) == 1 and len(mean) > 1:
            std = std * len(mean)
        steps[normalize_at] = PreprocessStep(kind="normalize", mean=mean, std=std)
    return ModelIO(modality=_text(spec.get("type")) or "unknown",
                   element_type=_text(params.get("element_type")), dimensions=dims,
                   description=_text(spec.get("description")), preprocessing=steps)


def output_io(spec: dict[str, Any]) -> ModelIO:
    params = _dict(spec.get("parameters"))
    return ModelIO(modality=_text(spec.get("type")) or "unknown",
                   element_type=_text(params.get("element_type")),
                   description=_text(spec.get("description")),
                   label_file_url=_text(params.get("features_url")),
                   label_file_checksum=_text(params.get("features_checksum")))


def model_files(model: object) -> list[WeightsFile]:
    """Graph and weights files: paths joined to ``base_url``; inside an archive
    (``is_archive``) a member is the archive URL with ``#<path in the archive>``."""
    if not isinstance(model, dict):
        return []
    base = _text(model.get("base_url"))
    archive = model.get("is_archive") is True
    out: list[WeightsFile] = []
    if archive and base:
        out.append(WeightsFile(base, kind="archive"))
    for kind in ("graph", "weights"):
        path = _text(model.get(f"{kind}_path"))
        if not path:
            continue
        if archive and base:
            url = f"{base}#{path}"
        elif is_url(path) or not base:
            url = path
        else:
            url = urljoin(base if base.endswith("/") else base + "/", path)
        out.append(WeightsFile(url, checksum=_text(model.get(f"{kind}_checksum")), kind=kind))
    return out


def claims(attributes: dict[str, Any], dataset: str | None, task: str | None, author: str | None,
           url: str, warnings: list[str]) -> list[EvaluationRecord]:
    """The results a manifest's attributes claim (``top1: 76.16``, ``Box AP: 30.6/50.0/32.2``),
    as reported evaluations on the training dataset."""
    out: list[EvaluationRecord] = []
    iou = _text(next((v for k, v in attributes.items() if str(k).lower() == "iou threshold"),
                     None))
    for key, value in attributes.items():
        name = str(key)
        if name.lower() in _NOT_CLAIMS:
            continue
        if table("metric").lookup(name) is None:
            continue
        raw = _text(value)
        if raw is None:
            warnings.append(f"attributes.{name} is empty; no result stored")
            continue
        common: dict[str, Any] = dict(dataset=dataset, task=task, unit="%", reported_by=author,
                                      source_url=url)
        parts = raw.split("/")
        if len(parts) == 3 and table("metric").lookup(name) == table("metric").lookup("AP"):
            # COCO detection tables write AP / AP50 / AP75 in one cell.
            for metric, part in zip(("AP", "AP50", "AP75"), parts, strict=True):
                n, _, _ = parse_number(part)
                if n is None:
                    warnings.append(f"attributes.{name} {raw!r}: {part!r} is not a number")
                    continue
                out.append(EvaluationRecord(metric=metric, value=n, metric_name=f"{name} "
                                            f"({metric} of {raw})", **common))
            continue
        n, _, _ = parse_number(value)
        if n is None:
            warnings.append(f"attributes.{name} {raw!r} is not a number; no result stored")
            continue
        label = f"{name} (IoU threshold {iou})" if iou and "map" in name.lower() else None
        out.append(EvaluationRecord(metric=name, value=n, metric_name=label, **common))
    return out


def _references(refs: object) -> tuple[str | None, str | None, str | None]:
    """(paper, code, homepage) from a manifest's references."""
    paper = code = home = None
    for r in refs if isinstance(refs, list) else []:
        t = _text(r)
        if not t or not is_url(t):
            continue
        low = t.lower()
        if paper is None and ("arxiv.org" in low or low.endswith(".pdf") or "paper" in low
                              or "openaccess" in low):
            paper = t
        elif code is None and "github.com" in low:
            code = t
        elif home is None:
            home = t
    return paper, code, home


def _task_of(doc: dict[str, Any], outputs: list[ModelIO]) -> str | None:
    for candidate in [_text(doc.get("modality")), *(o.modality for o in outputs)]:
        if candidate and table("task").lookup(candidate) is not None:
            return candidate
    return None


def manifest_record(f: SourceFile, doc: object) -> tuple[ModelRecord | None, list[str], str | None]:
    """``(record, warnings, reason)``: the record of one manifest, or None and why not."""
    warnings: list[str] = []
    if not isinstance(doc, dict):
        return None, warnings, "not a manifest (the YAML is not a mapping)"
    name = _text(doc.get("name"))
    if not name:
        return None, warnings, "no name"
    containers = _containers(doc.get("container"))
    stack, why = framework_stack(doc.get("framework"), containers)
    if stack is None:
        return None, warnings, why
    version = _text(doc.get("version")) or "0"
    inputs_raw = _list(doc.get("inputs"))
    inputs = [input_io(i, warnings, f"inputs[{n}]") for n, i in enumerate(inputs_raw)
              if isinstance(i, dict)]
    outs_raw = _list(doc.get("outputs")) or ([doc["output"]] if isinstance(doc.get("output"), dict)
                                             else [])
    outputs = [output_io(o) for o in outs_raw if isinstance(o, dict)]
    model = _dict(doc.get("model"))
    label_url = _text(model.get("features_path"))
    if label_url and outputs and outputs[0].label_file_url is None:
        outputs[0].label_file_url = label_url
        outputs[0].label_file_checksum = _text(model.get("features_checksum"))
    pre = doc.get("preprocess")
    if isinstance(pre, str) and pre.strip():
        if not inputs:
            inputs.append(ModelIO(modality="unknown"))
        inputs[0].preprocessing.append(PreprocessStep(
            kind="custom", code=pre, description="the manifest's preprocess code (stored as "
                                                 "text, never run)"))
    post = doc.get("postprocess")
    if isinstance(post, str) and post.strip():
        if not outputs:
            outputs.append(ModelIO(modality="unknown"))
        outputs[0].postprocess_code = post
    attributes = _dict(doc.get("attributes"))
    dataset = _text(attributes.get("training_dataset"))
    if dataset is None:
        warnings.append("attributes.training_dataset is empty; no training dataset stored")
    task = _task_of(doc, outputs)
    author = _text(attributes.get("manifest_author"))
    paper, code, home = _references(doc.get("references"))
    arch = name if table("architecture").lookup(name) is not None else None
    kind = _text(attributes.get("kind"))
    record = ModelRecord(
        source_id=f"{stack.framework.lower()}/{name}/{version}",
        source=SourceInfo(ZOO, url=f.url, version=f.sha256),
        name=name,
        version=version,
        description=_text(doc.get("description")),
        license=_text(doc.get("license")),
        authors=[author] if author else [],
        architecture=arch,
        tasks=[task] if task else [],
        tags=[kind] if kind else [],
        trained_on=[dataset] if dataset else [],
        software=[stack],
        inputs=inputs,
        outputs=outputs,
        evaluations=claims(attributes, dataset, task, author, f.url, warnings),
        homepage=home,
        code_url=code,
        paper_url=paper,
        weights=model_files(model),
    )
    return record, warnings, None


def _manifests(paths: Sequence[str], fetcher: Fetcher | None) -> Iterator[tuple[str, Any]]:
    """(label, source) pairs: every ``*.yml`` / ``*.yaml`` under a directory, a file, or a
    URL."""
    for p in paths:
        if is_url(p):
            base, _, name = p.rpartition("/")
            yield name, (open_source(base + "/", base + "/", fetcher=fetcher), name)
            continue
        path = Path(p).expanduser()
        if path.is_dir():
            src = open_source(str(path), str(path), fetcher=fetcher)
            for name in src.names(["*.yml", "*.yaml"]):
                yield name, (src, name)
        elif path.is_file():
            src = open_source(str(path.parent), str(path.parent), fetcher=fetcher)
            yield path.name, (src, path.name)
        else:
            raise UsageError(f"{p!r}: no such manifest file or directory")


def crawl_mlmodelscope(paths: Sequence[str] = (), *, ledger: Ledger | None = None,
                       fetcher: Fetcher | None = None) -> Iterator[CrawlItem]:
    """Crawl MLModelScope manifests: files, directories (every ``*.yml``) or URLs; none
    means the public manifests (:data:`DEFAULT_MANIFESTS`).

    Yields one :class:`~mlmeta.records.ModelRecord` per manifest, :class:`Rejected`
    manifests and :class:`CrawlWarning`.

    :raises UsageError: if a local path does not exist.
    :raises CrawlError: if a URL cannot be fetched after retries.
    """
    ledger = ledger if ledger is not None else Ledger()
    fetcher = fetcher or Fetcher()
    for label, (src, name) in _manifests(list(paths) or list(DEFAULT_MANIFESTS), fetcher):
        try:
            f = src.read(name)
        except SourceNotFound as e:
            yield CrawlWarning(label, None, f"skipped: {e}")
            continue
        ledger.expect(f.name, 1)
        try:
            doc = yaml.load(f.text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        except (yaml.YAMLError, CrawlError) as e:
            r = Rejected(f.name, 1, f"not valid YAML: {str(e).splitlines()[0]}")
            ledger.reject(r)
            yield r
            continue
        record, warnings, reason = manifest_record(f, doc)
        if record is None:
            r = Rejected(f.name, 1, reason or "not a manifest")
            ledger.reject(r)
            yield r
            continue
        for w in warnings:
            yield CrawlWarning(f.name, 1, w, record.key)
        ledger.use(f.name, 1, record.key)
        yield record


@click.command("mlmodelscope")
@click.argument("paths", nargs=-1, metavar="[PATH|URL]...")
@crawl_options
@pass_state
def command(state: State, paths: tuple[str, ...], force: bool, strict: bool) -> None:
    """Crawl MLModelScope model manifests (YAML).

    PATH is a manifest file, a directory of them, or a manifest URL; with none, the
    public manifests of the rai-project and c3sr/dlmodel repositories are fetched.
    Embedded pre- and post-processing code is stored as text and never run.
    """
    ledger = Ledger()
    run_crawl(state, ZOO, crawl_mlmodelscope(paths, ledger=ledger), ledger=ledger,
              force=force, strict=strict)


__all__ = ["CrawlError", "DEFAULT_MANIFESTS", "command", "crawl_mlmodelscope"]
