"""Plain record types: what crawlers and user files produce, before any RDF.

Records carry the source's own strings (dataset names, metric names, units,
licences) as given; :mod:`mlmeta.normalize` maps them to canonical entities
and :mod:`mlmeta.mapping` turns a record into the quads of its named graph.

Every top-level record has a ``source`` (:class:`SourceInfo`) saying where
it came from; that becomes the PROV provenance of its named graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Zoo = str  # "huggingface", "timm", "openmmlab", "mlmodelscope", "pytorch-hub", "user", ...

LINEAGE_RELATIONS = ("finetune", "adapter", "quantized", "merge", "distilled", "derived")
HARDWARE_KINDS = ("server-gpu", "desktop-gpu", "cpu", "edge", "mobile", "tpu", "other")
RESULT_KINDS = ("reported", "measured")
PREPROCESS_KINDS = (
    "decode", "color-layout", "data-layout", "crop", "resize", "normalize", "rescale", "custom",
)


@dataclass
class SourceInfo:
    """Where a record came from. Becomes the PROV provenance of its named graph.

    ``illustrative`` marks records we made up because no public zoo publishes
    such facts yet (bias, toxicity, edge latencies in the example zoo).
    """

    system: Zoo
    url: str | None = None
    version: str | None = None  # the source's own version: sha, lastModified, commit
    retrieved: datetime | None = None
    illustrative: bool = False
    note: str | None = None


@dataclass
class Hyperparameter:
    name: str
    value: str | float | int | bool


@dataclass
class SoftwareStack:
    """A framework with its version or version constraint, and container images."""

    framework: str
    version: str | None = None  # an exact version such as "1.8.1"
    version_constraint: str | None = None  # a constraint such as ">=1.1.0"
    container_images: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # e.g. {"cuda": "12.4"}


@dataclass
class PreprocessStep:
    """One ordered pre-processing step of a model input.

    ``kind`` is one of :data:`PREPROCESS_KINDS`; only the fields that apply
    to that kind are set.
    """

    kind: str
    color_layout: str | None = None  # "RGB" / "BGR"
    data_layout: str | None = None  # "NCHW" / "NHWC" / "CHW" / "HWC"
    crop_method: str | None = None  # "center", "random"
    crop_percentage: float | None = None  # a fraction, 0.875
    resize_width: int | None = None
    resize_height: int | None = None
    interpolation: str | None = None  # "bilinear", "bicubic"
    mean: list[float] | None = None
    std: list[float] | None = None
    rescale_factor: float | None = None
    code: str | None = None  # source text of custom code, stored and never run
    description: str | None = None


@dataclass
class ModelIO:
    """A model input or output: modality, element type, dimensions, pre-processing."""

    modality: str  # "image", "text", "audio", "tabular", "classification", ...
    element_type: str | None = None
    dimensions: list[int] | None = None
    description: str | None = None
    preprocessing: list[PreprocessStep] = field(default_factory=list)
    label_file_url: str | None = None
    label_file_checksum: str | None = None
    postprocess_code: str | None = None  # stored as text, never run


@dataclass
class Lineage:
    """The model derives from ``base`` (a model key) by ``relation``."""

    base: str  # a model key: "zoo:source_id", or a bare source id in the same zoo
    relation: str = "derived"  # one of LINEAGE_RELATIONS
    raw_relation: str | None = None


@dataclass
class ConceptRef:
    """A class a model can predict (one entry of its label space)."""

    label: str
    class_id: str | None = None  # source class id: "n02123045", "17", "person"
    index: int | None = None  # position in the model's output
    label_space: str | None = None  # "imagenet-1k", "coco", or the model's own


@dataclass
class ModelRecord:
    """A model as published by one zoo."""

    source_id: str  # the zoo's own id: "org/name", "resnet50.a1_in1k", "TorchVision_ResNet_50"
    source: SourceInfo
    name: str | None = None
    version: str | None = None
    previous_version: str | None = None  # a model key
    description: str | None = None
    license: str | list[str] | None = None
    authors: list[str] = field(default_factory=list)
    organisation: str | None = None
    architecture: str | None = None  # "ResNet-50", "resnet50", "ViT-B/16"
    architecture_family: str | None = None
    parameter_count: int | None = None
    flops: float | None = None
    tasks: list[str] = field(default_factory=list)
    library: str | None = None
    tags: list[str] = field(default_factory=list)
    trained_on: list[str] = field(default_factory=list)  # dataset names as the source spells them
    derived_from: list[Lineage] = field(default_factory=list)
    hyperparameters: list[Hyperparameter] = field(default_factory=list)
    software: list[SoftwareStack] = field(default_factory=list)
    inputs: list[ModelIO] = field(default_factory=list)
    outputs: list[ModelIO] = field(default_factory=list)
    concepts: list[ConceptRef] = field(default_factory=list)
    label_space: str | None = None  # a known label space: "imagenet-1k", "coco"
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    homepage: str | None = None
    code_url: str | None = None
    paper_url: str | None = None
    weights: list[WeightsFile] = field(default_factory=list)
    config_url: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    downloads: int | None = None
    likes: int | None = None
    gated: bool | str | None = None
    entry_points: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.source.system}:{self.source_id}"


@dataclass
class WeightsFile:
    url: str
    checksum: str | None = None
    kind: str | None = None  # "graph", "weights", "checkpoint"


@dataclass
class EvaluationRecord:
    """One result of one metric. Standalone, or nested in a ModelRecord.

    ``value`` is as the source gave it (a number, or a string such as
    ``"94.1"``, ``"233.56 +/- 53.89"``); ``unit`` too (``"%"``, ``"ms"``).
    Normalisation happens at mapping time and keeps the raw value.
    """

    metric: str
    value: float | int | str
    model: str | None = None  # a model key when standalone
    dataset: str | None = None
    dataset_config: str | None = None
    split: str | None = None
    task: str | None = None
    unit: str | None = None
    kind: Literal["reported", "measured"] = "reported"
    reported_by: str | None = None
    date: str | None = None
    source_url: str | None = None
    hardware: str | None = None  # a device name
    batch_size: int | None = None
    precision: str | None = None  # "fp32", "amp", "bf16", "int8"
    data_layout: str | None = None
    image_size: int | None = None
    software: SoftwareStack | None = None
    concept: str | None = None  # per-class results: the class label
    metric_name: str | None = None  # the source's display name
    source: SourceInfo | None = None  # when standalone
    id: str | None = None  # when standalone: the user's id for it


@dataclass
class DatasetSplit:
    name: str
    num_examples: int | None = None


@dataclass
class DataInstance:
    id: str
    depicts: list[str] = field(default_factory=list)  # concept labels or Wikidata QIDs
    split: str | None = None
    url: str | None = None


@dataclass
class DatasetRecord:
    """A dataset as described by its publisher (a Hugging Face card, a user file)."""

    source_id: str
    source: SourceInfo
    name: str | None = None
    version: str | None = None
    description: str | None = None
    license: str | list[str] | None = None
    size_category: str | None = None
    modalities: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    annotation_creators: list[str] = field(default_factory=list)
    language_creators: list[str] = field(default_factory=list)
    annotator_count: int | None = None
    source_datasets: list[str] = field(default_factory=list)
    derived_from: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    multilinguality: list[str] = field(default_factory=list)
    splits: list[DatasetSplit] = field(default_factory=list)
    instances: list[DataInstance] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    paperswithcode_id: str | None = None
    homepage: str | None = None
    downloads: int | None = None
    modified: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.source.system}:{self.source_id}"


@dataclass
class HardwareRecord:
    """A device results were measured on. One entity per device name."""

    name: str
    source: SourceInfo
    kind: str | None = None  # one of HARDWARE_KINDS
    memory_gb: float | None = None
    vendor: str | None = None
    description: str | None = None

    @property
    def key(self) -> str:
        return f"hardware:{self.name}"


@dataclass
class PredictionRecord:
    """A model's prediction on one data instance (or over its label space)."""

    id: str
    model: str  # a model key
    source: SourceInfo
    concept: str  # a label or class id
    confidence: float | None = None
    instance: str | None = None  # a data instance id
    dataset: str | None = None

    @property
    def key(self) -> str:
        return f"prediction:{self.id}"


@dataclass
class TrainingRunRecord:
    """A training run: the datasets it used, the model it produced, how."""

    id: str
    model: str  # the produced model's key
    source: SourceInfo
    datasets: list[str] = field(default_factory=list)
    hyperparameters: list[Hyperparameter] = field(default_factory=list)
    software: list[SoftwareStack] = field(default_factory=list)
    hardware: str | None = None
    started: datetime | None = None
    ended: datetime | None = None

    @property
    def key(self) -> str:
        return f"run:{self.id}"


@dataclass
class StandaloneEvaluation:
    """Wrapper making an :class:`EvaluationRecord` a top-level record with its own graph."""

    evaluation: EvaluationRecord
    id: str
    source: SourceInfo

    @property
    def key(self) -> str:
        return f"evaluation:{self.id}"


Record = (
    ModelRecord | DatasetRecord | HardwareRecord | PredictionRecord | TrainingRunRecord
    | StandaloneEvaluation
)


def record_key(record: Record) -> str:
    """The record's stable key, ``"<zoo or kind>:<id>"``; it names the record's graph."""
    return record.key


def record_kind(record: Record) -> str:
    """``model``, ``dataset``, ``hardware``, ``prediction``, ``run`` or ``evaluation``."""
    return {
        ModelRecord: "model",
        DatasetRecord: "dataset",
        HardwareRecord: "hardware",
        PredictionRecord: "prediction",
        TrainingRunRecord: "run",
        StandaloneEvaluation: "evaluation",
    }[type(record)]
