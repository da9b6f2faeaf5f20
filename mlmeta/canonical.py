"""The canonical graph: every entity of the alias tables, as RDF.

Record graphs link to canonical datasets, metrics, tasks, hardware,
architectures, licences and units without repeating their descriptions;
this graph (``id/graph/canonical``) describes each one once: type, label,
aliases, category, unit, parent dataset, hardware kind, Wikidata item.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad

from mlmeta import iri
from mlmeta.mapping import _ZOO_LABELS, HARDWARE_KIND_CLASS, KNOWN_ZOOS, lit
from mlmeta.normalize import table
from mlmeta.vocab import CANONICAL_GRAPH, MLM, RDF, RDFS, SKOS, WD

_KIND_CLASS = {
    "dataset": MLM.Dataset,
    "metric": MLM.Metric,
    "task": MLM.Task,
    "hardware": MLM.Hardware,
    "architecture": MLM.Architecture,
    "license": MLM.License,
    "unit": MLM.Unit,
}

METRIC_CATEGORY_CLASS = {
    "accuracy": MLM.AccuracyMeasure,
    "error": MLM.ErrorMeasure,
    "detection": MLM.DetectionMeasure,
    "generation": MLM.GenerationMeasure,
    "latency": MLM.LatencyMeasure,
    "throughput": MLM.ThroughputMeasure,
    "memory": MLM.MemoryMeasure,
    "compute": MLM.ComputeMeasure,
    "bias": MLM.BiasMeasure,
    "toxicity": MLM.ToxicityMeasure,
    "other": MLM.Metric,
}


def canonical_quads() -> Iterator[Quad]:
    """Every quad of the canonical graph, built from the packaged alias tables."""
    g = CANONICAL_GRAPH

    def q(s: NamedNode, p: NamedNode, o: NamedNode | Literal) -> Quad:
        return Quad(s, p, o, g)

    for zoo in KNOWN_ZOOS:
        z = iri.entity("zoo", zoo)
        yield q(z, RDF.type, MLM.ModelZoo)
        yield q(z, RDFS.label, Literal(_ZOO_LABELS[zoo]))
    for kind, cls in _KIND_CLASS.items():
        for e in table(kind):
            node = iri.canonical(kind, e.id)
            yield q(node, RDF.type, cls)
            yield q(node, RDFS.label, Literal(e.label))
            yield q(node, MLM.canonicalId, Literal(e.id))
            for alias in sorted({a for a in (e.get("aliases") or "").split("|") if a}):
                yield q(node, MLM.alias, Literal(alias))
            qid = e.get("wikidata")
            if qid:
                yield q(node, SKOS.exactMatch, WD[qid])
            if kind == "dataset":
                parent = e.get("parent")
                if parent:
                    yield q(node, MLM.derivedFromDataset, iri.canonical("dataset", parent))
                if e.get("modality"):
                    yield q(node, MLM.modality, Literal(e.get("modality") or ""))
            elif kind == "metric":
                cat = e.get("category") or "other"
                yield q(node, RDF.type, METRIC_CATEGORY_CLASS.get(cat, MLM.Metric))
                unit = e.get("unit")
                if unit:
                    yield q(node, MLM.canonicalUnit, iri.canonical("unit", unit))
                hib = e.get("higher_is_better")
                if hib:
                    yield q(node, MLM.higherIsBetter, lit(hib == "true"))
                broader = e.get("broader")
                if broader:
                    yield q(node, MLM.broaderMetric, iri.canonical("metric", broader))
            elif kind == "hardware":
                kind_cls = HARDWARE_KIND_CLASS.get(e.get("kind") or "")
                if kind_cls is not None:
                    yield q(node, MLM.hardwareKind, kind_cls)
                mem = e.get("memory_gb")
                if mem:
                    yield q(node, MLM.memoryGB, lit(float(mem)))
                if e.get("vendor"):
                    yield q(node, MLM.vendor, Literal(e.get("vendor") or ""))
                yield q(node, MLM.deviceName, Literal(e.label))
            elif kind == "architecture":
                fam = e.get("family")
                if fam:
                    f = iri.canonical("family", fam)
                    yield q(node, MLM.architectureFamily, f)
                    yield q(f, RDF.type, MLM.ArchitectureFamily)
                    yield q(f, RDFS.label, Literal(fam))
            elif kind == "task":
                if e.get("modality"):
                    yield q(node, MLM.modality, Literal(e.get("modality") or ""))
    for cls in HARDWARE_KIND_CLASS.values():
        yield q(cls, RDF.type, MLM.HardwareKind)
