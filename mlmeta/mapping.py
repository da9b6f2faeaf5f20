"""Records to RDF: each source record becomes the quads of its own named graph.

The one mapping every source goes through. IRIs are deterministic
(:mod:`mlmeta.iri`); datasets, metrics, tasks, hardware, architectures,
licences and units are linked to canonical entities (:mod:`mlmeta.normalize`)
with the source's raw string kept beside the link; metric values are turned
into canonical units (percent becomes a fraction) with the raw value kept.

A :class:`MappedRecord` holds the stored quads and, separately, the
``context`` triples validation needs about entities defined elsewhere (the
type of a canonical dataset, of a base model): those are not stored with the
record, so the union of graphs does not repeat them once per record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Triple

from mlmeta import __version__, iri
from mlmeta.normalize import Entry, normalize_license, normalize_value, table
from mlmeta.records import (
    ConceptRef,
    DatasetRecord,
    EvaluationRecord,
    HardwareRecord,
    Hyperparameter,
    ModelIO,
    ModelRecord,
    PredictionRecord,
    Record,
    SoftwareStack,
    SourceInfo,
    StandaloneEvaluation,
    TrainingRunRecord,
    record_kind,
)
from mlmeta.vocab import MLM, PROV, RDF, RDFS, SKOS, WD, XSD

Term = NamedNode | BlankNode | Literal
Subject = NamedNode | BlankNode

KNOWN_ZOOS = ("huggingface", "timm", "openmmlab", "mlmodelscope", "pytorch-hub", "user",
              "synthetic", "paperswithcode")
_ZOO_LABELS = {"huggingface": "Hugging Face Hub", "timm": "PyTorch Image Models (timm)",
               "openmmlab": "OpenMMLab model index", "mlmodelscope": "MLModelScope manifests",
               "pytorch-hub": "PyTorch Hub", "user": "User records",
               "synthetic": "Synthetic benchmark zoo", "paperswithcode": "Papers with Code"}

RELATION_PROPERTY = {
    "finetune": MLM.finetunedFrom,
    "adapter": MLM.adapterOf,
    "quantized": MLM.quantizedFrom,
    "merge": MLM.mergedFrom,
    "distilled": MLM.distilledFrom,
    "derived": MLM.derivedFrom,
}

HARDWARE_KIND_CLASS = {
    "server-gpu": MLM.ServerGPU,
    "desktop-gpu": MLM.DesktopGPU,
    "cpu": MLM.CPU,
    "edge": MLM.EdgeDevice,
    "mobile": MLM.MobileDevice,
    "tpu": MLM.TPU,
    "other": MLM.OtherHardware,
}

STEP_CLASS = {
    "decode": MLM.DecodeStep,
    "color-layout": MLM.ColorLayoutStep,
    "data-layout": MLM.DataLayoutStep,
    "crop": MLM.CropStep,
    "resize": MLM.ResizeStep,
    "normalize": MLM.NormalizeStep,
    "rescale": MLM.RescaleStep,
    "custom": MLM.CustomStep,
}

_QID_RE = re.compile(r"^Q[1-9][0-9]*$")


@dataclass
class MappedRecord:
    """The RDF of one source record.

    ``quads`` are stored in ``graph``; ``context`` are triples about entities
    defined elsewhere that validation needs but the store does not get;
    ``paths`` maps a node's IRI to the record field it came from (for error
    messages); ``warnings`` say what was kept raw or dropped, and why.
    """

    key: str
    kind: str
    graph: NamedNode
    focus: NamedNode
    quads: list[Quad] = field(default_factory=list)
    context: list[Triple] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def triples(self) -> Iterable[Triple]:
        for q in self.quads:
            yield q.triple


def lit(value: str | int | float | bool | datetime) -> Literal:
    """A typed literal: strings, xsd:integer, xsd:double, xsd:boolean, xsd:dateTime."""
    if isinstance(value, bool):
        return Literal("true" if value else "false", datatype=XSD.boolean)
    if isinstance(value, int):
        return Literal(str(value), datatype=XSD.integer)
    if isinstance(value, float):
        return Literal(repr(float(value)), datatype=XSD.double)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return Literal(value.isoformat(), datatype=XSD.dateTime)
    return Literal(str(value))


def model_iri(key: str, default_zoo: str) -> NamedNode:
    """The IRI of a model from a model key: ``zoo:source_id``, a bare id (same zoo), or an IRI."""
    if key.startswith(("http://", "https://")):
        return NamedNode(key)
    zoo, sep, rest = key.partition(":")
    if sep and zoo in KNOWN_ZOOS and rest:
        return iri.model(zoo, rest)
    return iri.model(default_zoo, key)


def dataset_iri(name: str) -> tuple[NamedNode, Entry | None]:
    """The canonical dataset for a name as any source spells it (unknown names get a slug)."""
    entry = table("dataset").lookup(name)
    if entry is None:
        # Hugging Face ids "org/name" and bare "name" meet when the org is dropped only
        # when the table knows the bare name; otherwise keep the whole id.
        _, _, bare = name.rpartition("/")
        entry = table("dataset").lookup(bare) if bare != name else None
    cid = entry.id if entry else iri.slug(name)
    return iri.canonical("dataset", cid), entry


def canonical_node(kind: str, name: str) -> tuple[NamedNode, Entry | None]:
    entry = table(kind).lookup(name)
    cid = entry.id if entry else iri.slug(name)
    return iri.canonical(kind, cid), entry


class _Builder:
    """Accumulates the quads of one graph."""

    def __init__(self, key: str, kind: str, graph: NamedNode, focus: NamedNode) -> None:
        self.out = MappedRecord(key, kind, graph, focus)
        self._seen_context: set[tuple[str, str]] = set()

    def add(self, s: Subject, p: NamedNode, o: Term | None) -> None:
        if o is None:
            return
        self.out.quads.append(Quad(s, p, o, self.out.graph))

    def lit(self, s: Subject, p: NamedNode, value: str | int | float | bool | datetime | None,
            ) -> None:
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return
        self.add(s, p, lit(value))

    def typed(self, node: NamedNode, cls: NamedNode, label: str | None, known: bool) -> None:
        """Type a referenced entity: into context when canonical (defined in the canonical
        graph), into the record graph when only this record knows it."""
        if known:
            k = (node.value, cls.value)
            if k not in self._seen_context:
                self._seen_context.add(k)
                self.out.context.append(Triple(node, RDF.type, cls))
        else:
            self.add(node, RDF.type, cls)
            if label:
                self.add(node, RDFS.label, Literal(label))

    def path(self, node: NamedNode, path: str) -> None:
        self.out.paths.setdefault(node.value, path)

    def warn(self, message: str) -> None:
        self.out.warnings.append(message)


def map_record(record: Record, retrieved: datetime | None = None) -> MappedRecord:
    """Map one record to the quads of its named graph, with PROV provenance.

    :raises TypeError: for an object that is not one of the record types.
    """
    kind = record_kind(record)
    key = record.key
    graph = iri.record_graph(kind, key)
    if isinstance(record, ModelRecord):
        b = _Builder(key, kind, graph, iri.model(record.source.system, record.source_id))
        _map_model(b, record)
    elif isinstance(record, DatasetRecord):
        focus, _ = dataset_iri(record.source_id)
        b = _Builder(key, kind, graph, focus)
        _map_dataset(b, record)
    elif isinstance(record, HardwareRecord):
        focus, _ = canonical_node("hardware", record.name)
        b = _Builder(key, kind, graph, focus)
        _map_hardware(b, record)
    elif isinstance(record, PredictionRecord):
        b = _Builder(key, kind, graph, iri.entity("prediction", record.source.system, record.id))
        _map_prediction(b, record)
    elif isinstance(record, TrainingRunRecord):
        b = _Builder(key, kind, graph, iri.entity("run", record.source.system, record.id))
        _map_run(b, record)
    elif isinstance(record, StandaloneEvaluation):
        ev = record.evaluation
        b = _Builder(key, kind, graph, iri.entity("evaluation", record.source.system, record.id))
        # Without a model the evaluation still maps, and the shapes report the missing field.
        m = model_iri(ev.model, record.source.system) if ev.model else None
        if m is not None:
            b.out.context.append(Triple(m, RDF.type, MLM.Model))
        _map_evaluation(b, m, ev, b.out.focus, "evaluation")
    else:  # pragma: no cover - the type checker keeps this out
        raise TypeError(f"not a record: {type(record).__name__}")
    _provenance(b, record.source, retrieved)
    return b.out


def _provenance(b: _Builder, src: SourceInfo, retrieved: datetime | None) -> None:
    g = b.out.graph
    zoo = iri.entity("zoo", src.system)
    b.add(g, RDF.type, MLM.RecordGraph)
    b.add(g, MLM.describes, b.out.focus)
    b.add(g, MLM.recordKey, Literal(b.out.key))
    b.add(g, PROV.wasAttributedTo, zoo)
    b.typed(zoo, MLM.ModelZoo, _ZOO_LABELS.get(src.system, src.system),
            known=src.system in KNOWN_ZOOS)
    if src.url:
        b.add(g, PROV.hadPrimarySource, NamedNode(src.url) if _is_iri(src.url)
              else None)
        b.lit(g, MLM.sourceUrl, src.url)
    b.lit(g, MLM.sourceVersion, src.version)
    when = src.retrieved or retrieved or datetime.now(UTC)
    b.lit(g, PROV.generatedAtTime, when)
    b.lit(g, MLM.mlmetaVersion, __version__)
    if src.illustrative:
        b.lit(g, MLM.illustrative, True)
    b.lit(g, RDFS.comment, src.note)


_IRI_OK = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"{}|\\^`]+$")


def _is_iri(text: str) -> bool:
    return bool(_IRI_OK.match(text))


def _url(b: _Builder, s: Subject, p: NamedNode, url: str | None) -> None:
    """A URL-valued field: an IRI when it is one, otherwise kept as a literal with a warning."""
    if not url:
        return
    if _is_iri(url):
        b.add(s, p, NamedNode(url))
    else:
        b.warn(f"{p.value.rsplit('#', 1)[-1]}: {url!r} is not a URL; kept as text")
        b.lit(s, MLM.note, f"{p.value.rsplit('#', 1)[-1]}: {url}")


def _license(b: _Builder, s: NamedNode, raw: str | list[str] | None) -> None:
    for text, cid, known in normalize_license(raw):
        node = iri.canonical("license", cid)
        b.add(s, MLM.license, node)
        b.lit(s, MLM.rawLicense, text)
        b.typed(node, MLM.License, text, known)


def _task(b: _Builder, s: NamedNode, name: str) -> NamedNode:
    node, entry = canonical_node("task", name)
    b.add(s, MLM.task, node)
    b.typed(node, MLM.Task, name, entry is not None)
    return node


def _dataset_ref(b: _Builder, name: str) -> NamedNode:
    node, entry = dataset_iri(name)
    b.typed(node, MLM.Dataset, name, entry is not None)
    b.lit(node, MLM.sourceName, name)
    return node


def _map_model(b: _Builder, r: ModelRecord) -> None:
    m = b.out.focus
    zoo = r.source.system
    b.add(m, RDF.type, MLM.Model)
    b.lit(m, MLM.name, r.name or r.source_id)
    b.lit(m, MLM.sourceId, r.source_id)
    b.add(m, MLM.sourceZoo, iri.entity("zoo", zoo))
    b.lit(m, MLM.modelVersion, r.version)
    if r.previous_version:
        prev = model_iri(r.previous_version, zoo)
        b.add(m, MLM.previousVersion, prev)
        b.out.context.append(Triple(prev, RDF.type, MLM.Model))
    b.lit(m, MLM.description, r.description)
    _license(b, m, r.license)
    for a in r.authors:
        b.lit(m, MLM.author, a)
    b.lit(m, MLM.organisation, r.organisation)
    if r.architecture:
        arch, entry = canonical_node("architecture", r.architecture)
        b.add(m, MLM.architecture, arch)
        b.lit(m, MLM.rawArchitecture, r.architecture)
        family = (entry.get("family") if entry else None) or r.architecture_family
        b.typed(arch, MLM.Architecture, r.architecture, entry is not None)
        if family and entry is None:
            fam = iri.canonical("family", iri.slug(family))
            b.add(arch, MLM.architectureFamily, fam)
            b.add(fam, RDF.type, MLM.ArchitectureFamily)
            b.add(fam, RDFS.label, Literal(family))
    elif r.architecture_family:
        fam = iri.canonical("family", iri.slug(r.architecture_family))
        b.add(m, MLM.architectureFamily, fam)
        b.typed(fam, MLM.ArchitectureFamily, r.architecture_family, False)
    if r.parameter_count is not None:
        b.lit(m, MLM.parameterCount, int(r.parameter_count))
    if r.flops is not None:
        b.lit(m, MLM.flops, float(r.flops))
    for t in r.tasks:
        _task(b, m, t)
    b.lit(m, MLM.libraryName, r.library)
    for t in r.tags:
        b.lit(m, MLM.tag, t)
    for i, d in enumerate(r.trained_on):
        node = _dataset_ref(b, d)
        b.add(m, MLM.trainedOn, node)
        b.path(node, f"trained_on[{i}]")
    for i, lin in enumerate(r.derived_from):
        base = model_iri(lin.base, zoo)
        prop = RELATION_PROPERTY.get(lin.relation)
        if prop is None:
            b.warn(f"derived_from[{i}]: unknown relation {lin.relation!r}; kept as 'derived'")
            prop = MLM.derivedFrom
        b.add(m, prop, base)
        b.out.context.append(Triple(base, RDF.type, MLM.Model))
    _hyperparameters(b, m, r.hyperparameters)
    _software(b, m, r.software, "software")
    for i, io in enumerate(r.inputs):
        _io(b, m, io, MLM.hasInput, MLM.ModelInput, f"inputs[{i}]")
    for i, io in enumerate(r.outputs):
        _io(b, m, io, MLM.hasOutput, MLM.ModelOutput, f"outputs[{i}]")
    _concepts(b, m, r)
    for i, ev in enumerate(r.evaluations):
        e = iri.entity("evaluation", zoo, r.source_id, str(i))
        _map_evaluation(b, m, ev, e, f"evaluations[{i}]")
    _url(b, m, MLM.url, r.homepage)
    _url(b, m, MLM.codeRepository, r.code_url)
    _url(b, m, MLM.paper, r.paper_url)
    _url(b, m, MLM.configUrl, r.config_url)
    for i, w in enumerate(r.weights):
        wn = NamedNode(f"{m.value}/weights/{i}")
        b.add(m, MLM.weightsFile, wn)
        b.add(wn, RDF.type, MLM.WeightsFile)
        _url(b, wn, MLM.downloadUrl, w.url)
        b.lit(wn, MLM.checksum, w.checksum)
        b.lit(wn, MLM.fileRole, w.kind)
        b.path(wn, f"weights[{i}]")
    if r.created:
        b.lit(m, MLM.created, r.created)
    if r.modified:
        b.lit(m, MLM.modified, r.modified)
    if r.downloads is not None:
        b.lit(m, MLM.downloads, int(r.downloads))
    if r.likes is not None:
        b.lit(m, MLM.likes, int(r.likes))
    if r.gated is not None:
        b.lit(m, MLM.gated, r.gated if isinstance(r.gated, bool) else True)
    for ep in r.entry_points:
        b.lit(m, MLM.entryPoint, ep)


def _hyperparameters(b: _Builder, s: NamedNode, hps: list[Hyperparameter]) -> None:
    for i, hp in enumerate(hps):
        node = NamedNode(f"{s.value}/hyperparameter/{iri.segment(hp.name)}")
        b.add(s, MLM.hyperparameter, node)
        b.add(node, RDF.type, MLM.HyperparameterSetting)
        b.lit(node, MLM.hyperparameterName, hp.name)
        b.lit(node, MLM.hyperparameterValue, hp.value)
        b.path(node, f"hyperparameters[{i}]")


def _software(b: _Builder, s: NamedNode, stacks: list[SoftwareStack], path: str) -> None:
    for i, st in enumerate(stacks):
        b.add(s, MLM.softwareStack, _software_node(b, s, st, f"{path}[{i}]", str(i)))


def _software_node(b: _Builder, owner: NamedNode, st: SoftwareStack, path: str, suffix: str,
                   ) -> NamedNode:
    node = NamedNode(f"{owner.value}/software/{suffix}")
    b.add(node, RDF.type, MLM.SoftwareStack)
    fw = iri.canonical("framework", iri.slug(st.framework))
    b.add(node, MLM.framework, fw)
    b.typed(fw, MLM.Framework, st.framework, False)
    b.lit(node, MLM.frameworkName, st.framework)
    b.lit(node, MLM.frameworkVersion, st.version)
    b.lit(node, MLM.frameworkVersionConstraint, st.version_constraint)
    for img in st.container_images:
        b.lit(node, MLM.containerImage, img)
    for k, v in sorted(st.extra.items()):
        b.lit(node, MLM.componentVersion, f"{k}={v}")
    b.path(node, path)
    return node


def _io(b: _Builder, m: NamedNode, io: ModelIO, prop: NamedNode, cls: NamedNode, path: str,
        ) -> None:
    node = NamedNode(f"{m.value}/{path.replace('[', '/').replace(']', '')}")
    b.add(m, prop, node)
    b.add(node, RDF.type, cls)
    b.path(node, path)
    b.lit(node, MLM.modality, io.modality)
    b.lit(node, MLM.elementType, io.element_type)
    if io.dimensions:
        b.lit(node, MLM.dimensions, "x".join(str(d) for d in io.dimensions))
    b.lit(node, MLM.description, io.description)
    _url(b, node, MLM.labelFile, io.label_file_url)
    b.lit(node, MLM.labelFileChecksum, io.label_file_checksum)
    b.lit(node, MLM.postprocessCode, io.postprocess_code)
    for i, st in enumerate(io.preprocessing):
        sn = NamedNode(f"{node.value}/step/{i}")
        b.add(node, MLM.preprocessingStep, sn)
        b.add(sn, RDF.type, STEP_CLASS.get(st.kind, MLM.CustomStep))
        if st.kind not in STEP_CLASS:
            b.warn(f"{path}.preprocessing[{i}]: unknown step kind {st.kind!r}; kept as custom")
        b.path(sn, f"{path}.preprocessing[{i}]")
        b.lit(sn, MLM.stepIndex, i)
        b.lit(sn, MLM.colorLayout, st.color_layout)
        b.lit(sn, MLM.dataLayout, st.data_layout)
        b.lit(sn, MLM.cropMethod, st.crop_method)
        if st.crop_percentage is not None:
            b.lit(sn, MLM.cropFraction, float(st.crop_percentage))
        if st.resize_width is not None:
            b.lit(sn, MLM.resizeWidth, int(st.resize_width))
        if st.resize_height is not None:
            b.lit(sn, MLM.resizeHeight, int(st.resize_height))
        b.lit(sn, MLM.interpolation, st.interpolation)
        if st.mean is not None:
            b.lit(sn, MLM.meanValues, " ".join(repr(float(x)) for x in st.mean))
        if st.std is not None:
            b.lit(sn, MLM.stdValues, " ".join(repr(float(x)) for x in st.std))
        if st.rescale_factor is not None:
            b.lit(sn, MLM.rescaleFactor, float(st.rescale_factor))
        b.lit(sn, MLM.code, st.code)
        b.lit(sn, MLM.description, st.description)


def concept_iri(ref: ConceptRef, model: NamedNode) -> NamedNode:
    """A class of a known label space (``imagenet-1k``, ``coco``) is shared by every model
    that predicts it; any other label belongs to the model's own label space."""
    if ref.label_space:
        return iri.entity("concept", ref.label_space, ref.class_id or ref.label)
    return NamedNode(f"{model.value}/concept/{iri.segment(ref.class_id or ref.label)}")


def _concepts(b: _Builder, m: NamedNode, r: ModelRecord) -> None:
    if r.label_space:
        ls = iri.entity("labelspace", r.label_space)
        b.add(m, MLM.labelSpace, ls)
        b.typed(ls, MLM.LabelSpace, r.label_space, False)
    for i, ref in enumerate(r.concepts):
        if r.label_space and not ref.label_space:
            ref = ConceptRef(ref.label, ref.class_id, ref.index, r.label_space)
        c = concept_iri(ref, m)
        b.add(m, MLM.canPredict, c)
        b.add(c, RDF.type, MLM.SemanticConcept)
        b.add(c, SKOS.prefLabel, Literal(ref.label))
        b.lit(c, MLM.classId, ref.class_id)
        if ref.index is not None and not ref.label_space:
            b.lit(c, MLM.classIndex, int(ref.index))
        if ref.label_space:
            ls_node = iri.entity("labelspace", ref.label_space)
            b.add(c, MLM.inLabelSpace, ls_node)
            b.typed(ls_node, MLM.LabelSpace, ref.label_space, False)
        b.path(c, f"concepts[{i}]")


def _map_evaluation(b: _Builder, m: NamedNode | None, ev: EvaluationRecord, e: NamedNode,
                    path: str) -> None:
    b.path(e, path)
    b.add(e, RDF.type, MLM.Evaluation)
    b.add(e, MLM.evaluatedModel, m)
    metric_node, metric_entry = canonical_node("metric", ev.metric)
    b.add(e, MLM.metric, metric_node)
    b.typed(metric_node, MLM.Metric, ev.metric, metric_entry is not None)
    b.lit(e, MLM.rawMetric, ev.metric)
    b.lit(e, MLM.metricName, ev.metric_name)
    nv = normalize_value(ev.value, metric_entry, ev.unit)
    if nv.value is not None:
        b.lit(e, MLM.value, float(nv.value))
    else:
        b.warn(f"{path}.value: {nv.warning}; kept the raw value only")
    b.lit(e, MLM.rawValue, nv.raw)
    if nv.stddev is not None:
        b.lit(e, MLM.valueStdDev, float(nv.stddev))
    unit = iri.canonical("unit", nv.unit)
    b.add(e, MLM.unit, unit)
    b.typed(unit, MLM.Unit, nv.unit, table("unit").lookup(nv.unit) is not None)
    b.lit(e, MLM.rawUnit, ev.unit)
    if ev.dataset:
        ds = _dataset_ref(b, ev.dataset)
        b.add(e, MLM.onDataset, ds)
        if m is not None:
            b.add(m, MLM.evaluatedOn, ds)
        b.lit(e, MLM.rawDataset, ev.dataset)
    b.lit(e, MLM.datasetConfig, ev.dataset_config)
    b.lit(e, MLM.split, ev.split)
    if ev.task:
        node, entry = canonical_node("task", ev.task)
        b.add(e, MLM.task, node)
        b.typed(node, MLM.Task, ev.task, entry is not None)
        b.lit(e, MLM.rawTask, ev.task)
    b.add(e, MLM.resultKind, MLM.Measured if ev.kind == "measured" else MLM.Reported)
    b.lit(e, MLM.reportedBy, ev.reported_by)
    b.lit(e, MLM.date, ev.date)
    b.lit(e, MLM.sourceUrl, ev.source_url)
    if ev.hardware:
        hw, entry = canonical_node("hardware", ev.hardware)
        b.add(e, MLM.onHardware, hw)
        b.typed(hw, MLM.Hardware, ev.hardware, entry is not None)
        b.lit(e, MLM.rawHardware, ev.hardware)
    if ev.batch_size is not None:
        b.lit(e, MLM.batchSize, int(ev.batch_size))
    b.lit(e, MLM.numericPrecision, ev.precision)
    b.lit(e, MLM.dataLayout, ev.data_layout)
    if ev.image_size is not None:
        b.lit(e, MLM.imageSize, int(ev.image_size))
    if ev.software is not None:
        b.add(e, MLM.softwareStack, _software_node(b, e, ev.software, f"{path}.software", "0"))
    if ev.concept:
        c = _concept_by_label(b, ev.concept)
        b.add(e, MLM.forConcept, c)


def _concept_by_label(b: _Builder, label: str) -> NamedNode:
    if _QID_RE.match(label):
        node = WD[label]
        b.out.context.append(Triple(node, RDF.type, MLM.SemanticConcept))
        return node
    node = iri.entity("concept", "label", iri.slug(label))
    b.add(node, RDF.type, MLM.SemanticConcept)
    b.add(node, SKOS.prefLabel, Literal(label))
    return node


def _map_dataset(b: _Builder, r: DatasetRecord) -> None:
    d = b.out.focus
    b.add(d, RDF.type, MLM.Dataset)
    b.lit(d, MLM.name, r.name or r.source_id)
    b.lit(d, MLM.sourceId, r.source_id)
    b.lit(d, MLM.sourceName, r.source_id)
    b.add(d, MLM.sourceZoo, iri.entity("zoo", r.source.system))
    b.lit(d, MLM.datasetVersion, r.version)
    b.lit(d, MLM.description, r.description)
    _license(b, d, r.license)
    b.lit(d, MLM.sizeCategory, r.size_category)
    for v in r.modalities:
        b.lit(d, MLM.modality, v)
    for v in r.languages:
        b.lit(d, MLM.language, v)
    for v in r.annotation_creators:
        b.lit(d, MLM.annotationCreator, v)
    for v in r.language_creators:
        b.lit(d, MLM.languageCreator, v)
    if r.annotator_count is not None:
        b.lit(d, MLM.annotatorCount, int(r.annotator_count))
    for i, s in enumerate(r.source_datasets):
        node = _dataset_ref(b, s)
        b.add(d, MLM.sourceDataset, node)
        b.path(node, f"source_datasets[{i}]")
    for i, s in enumerate(r.derived_from):
        node = _dataset_ref(b, s)
        b.add(d, MLM.derivedFromDataset, node)
        b.path(node, f"derived_from[{i}]")
    for t in r.tasks:
        _task(b, d, t)
    for t in r.task_ids:
        b.lit(d, MLM.taskId, t)
    for v in r.multilinguality:
        b.lit(d, MLM.multilinguality, v)
    for i, sp in enumerate(r.splits):
        sn = NamedNode(f"{d.value}/split/{iri.segment(sp.name)}")
        b.add(d, MLM.hasSplit, sn)
        b.add(sn, RDF.type, MLM.DatasetSplit)
        b.lit(sn, MLM.splitName, sp.name)
        if sp.num_examples is not None:
            b.lit(sn, MLM.numExamples, int(sp.num_examples))
        b.path(sn, f"splits[{i}]")
    for i, inst in enumerate(r.instances):
        node = iri.entity("instance", r.source.system, r.source_id, inst.id)
        b.add(node, RDF.type, MLM.DataInstance)
        b.add(node, MLM.inDataset, d)
        b.lit(node, MLM.instanceId, inst.id)
        b.lit(node, MLM.split, inst.split)
        _url(b, node, MLM.url, inst.url)
        for c in inst.depicts:
            b.add(node, MLM.depicts, _concept_by_label(b, c))
        b.path(node, f"instances[{i}]")
    for t in r.tags:
        b.lit(d, MLM.tag, t)
    b.lit(d, MLM.paperswithcodeId, r.paperswithcode_id)
    _url(b, d, MLM.url, r.homepage)
    if r.downloads is not None:
        b.lit(d, MLM.downloads, int(r.downloads))
    if r.modified:
        b.lit(d, MLM.modified, r.modified)


def _map_hardware(b: _Builder, r: HardwareRecord) -> None:
    hw = b.out.focus
    b.add(hw, RDF.type, MLM.Hardware)
    b.lit(hw, MLM.deviceName, r.name)
    if r.kind:
        cls = HARDWARE_KIND_CLASS.get(r.kind)
        if cls is None:
            b.warn(f"kind: unknown hardware kind {r.kind!r}")
            b.lit(hw, MLM.rawHardwareKind, r.kind)
        else:
            b.add(hw, MLM.hardwareKind, cls)
            b.out.context.append(Triple(cls, RDF.type, MLM.HardwareKind))
    if r.memory_gb is not None:
        b.lit(hw, MLM.memoryGB, float(r.memory_gb))
    b.lit(hw, MLM.vendor, r.vendor)
    b.lit(hw, MLM.description, r.description)


def _map_prediction(b: _Builder, r: PredictionRecord) -> None:
    p = b.out.focus
    m = model_iri(r.model, r.source.system)
    b.add(p, RDF.type, MLM.ModelPrediction)
    b.add(p, MLM.predictedBy, m)
    b.out.context.append(Triple(m, RDF.type, MLM.Model))
    b.add(p, MLM.predictedConcept, _concept_by_label(b, r.concept))
    if r.confidence is not None:
        b.lit(p, MLM.confidence, float(r.confidence))
    if r.instance:
        inst = iri.entity("instance", "ref", r.dataset or "", r.instance)
        b.add(p, MLM.onInstance, inst)
        b.add(inst, RDF.type, MLM.DataInstance)
        b.lit(inst, MLM.instanceId, r.instance)
    if r.dataset:
        b.add(p, MLM.onDataset, _dataset_ref(b, r.dataset))


def _map_run(b: _Builder, r: TrainingRunRecord) -> None:
    run = b.out.focus
    m = model_iri(r.model, r.source.system)
    b.add(run, RDF.type, MLM.TrainingRun)
    b.add(run, MLM.producedModel, m)
    b.out.context.append(Triple(m, RDF.type, MLM.Model))
    for i, d in enumerate(r.datasets):
        node = _dataset_ref(b, d)
        b.add(run, MLM.usedDataset, node)
        b.add(m, MLM.trainedOn, node)
        b.path(node, f"datasets[{i}]")
    _hyperparameters(b, run, r.hyperparameters)
    _software(b, run, r.software, "software")
    if r.hardware:
        hw, entry = canonical_node("hardware", r.hardware)
        b.add(run, MLM.onHardware, hw)
        b.typed(hw, MLM.Hardware, r.hardware, entry is not None)
    if r.started:
        b.lit(run, MLM.startedAt, r.started)
    if r.ended:
        b.lit(run, MLM.endedAt, r.ended)
