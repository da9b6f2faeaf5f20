"""The record -> RDF mapping: deterministic IRIs, canonical links, raw values kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pyoxigraph as ox
import pytest

from mlmeta.mapping import map_record, model_iri
from mlmeta.records import (
    EvaluationRecord,
    Lineage,
    ModelIO,
    ModelRecord,
    PreprocessStep,
    SourceInfo,
)
from mlmeta.vocab import ID_NS, MLM, MLM_NS, PROV

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _model(**kw: object) -> ModelRecord:
    base: dict[str, object] = dict(
        source_id="resnet50.a1_in1k", source=SourceInfo("timm", url="https://github.com/x/y",
                                                        version="abc123"),
        architecture="resnet50", trained_on=["ILSVRC 2012"],
        evaluations=[EvaluationRecord("acc@1", "80.4", dataset="imagenet", unit="%")],
    )
    base.update(kw)
    return ModelRecord(**base)  # type: ignore[arg-type]


def _objects(quads: list[ox.Quad], s: str, p: ox.NamedNode) -> list[ox.Term]:
    return [q.object for q in quads if q.subject.value == s and q.predicate == p]


def test_same_record_same_quads() -> None:
    a = map_record(_model(), retrieved=WHEN)
    b = map_record(_model(), retrieved=WHEN)
    assert sorted(map(str, a.quads)) == sorted(map(str, b.quads))
    assert a.graph == b.graph
    assert a.focus.value == ID_NS + "model/timm/resnet50.a1_in1k"


def test_every_quad_is_in_the_record_graph_with_provenance() -> None:
    m = map_record(_model(), retrieved=WHEN)
    assert {q.graph_name for q in m.quads} == {m.graph}
    g = m.graph.value
    assert _objects(m.quads, g, PROV.wasAttributedTo) == [ox.NamedNode(ID_NS + "zoo/timm")]
    assert _objects(m.quads, g, MLM.sourceVersion) == [ox.Literal("abc123")]
    assert _objects(m.quads, g, PROV.hadPrimarySource) == [ox.NamedNode("https://github.com/x/y")]
    assert _objects(m.quads, g, MLM.mlmetaVersion)


def test_canonical_links_keep_the_raw_string() -> None:
    m = map_record(_model(), retrieved=WHEN)
    e = ID_NS + "evaluation/timm/resnet50.a1_in1k/0"
    assert _objects(m.quads, e, MLM.onDataset) == [ox.NamedNode(ID_NS + "dataset/imagenet-1k")]
    assert _objects(m.quads, e, MLM.rawDataset) == [ox.Literal("imagenet")]
    assert _objects(m.quads, e, MLM.metric) == [ox.NamedNode(ID_NS + "metric/top1-accuracy")]
    assert _objects(m.quads, e, MLM.rawMetric) == [ox.Literal("acc@1")]
    (value,) = _objects(m.quads, e, MLM.value)
    assert isinstance(value, ox.Literal) and float(value.value) == pytest.approx(0.804)
    assert _objects(m.quads, e, MLM.rawValue) == [ox.Literal("80.4")]
    assert _objects(m.quads, e, MLM.unit) == [ox.NamedNode(ID_NS + "unit/fraction")]
    arch = m.focus.value
    assert _objects(m.quads, arch, MLM.architecture) == [
        ox.NamedNode(ID_NS + "architecture/resnet-50")]
    assert _objects(m.quads, arch, MLM.trainedOn) == [ox.NamedNode(ID_NS + "dataset/imagenet-1k")]
    # The canonical dataset's type goes to the validation context, not the record graph.
    ds = ID_NS + "dataset/imagenet-1k"
    assert not _objects(m.quads, ds, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"))
    assert any(t.subject.value == ds for t in m.context)


def test_unparseable_value_is_kept_raw_with_a_warning() -> None:
    m = map_record(_model(evaluations=[EvaluationRecord("accuracy", "n/a", dataset="x")]))
    e = ID_NS + "evaluation/timm/resnet50.a1_in1k/0"
    assert _objects(m.quads, e, MLM.value) == []
    assert _objects(m.quads, e, MLM.rawValue) == [ox.Literal("n/a")]
    assert any("evaluations[0].value" in w for w in m.warnings)


def test_lineage_relations_and_model_keys() -> None:
    m = map_record(_model(derived_from=[Lineage("huggingface:org/base", "quantized"),
                                        Lineage("resnet50", "finetune"),
                                        Lineage("x/y", "weird")]))
    s = m.focus.value
    base = ox.NamedNode(ID_NS + "model/huggingface/org%2Fbase")
    assert _objects(m.quads, s, MLM.quantizedFrom) == [base]
    assert _objects(m.quads, s, MLM.finetunedFrom) == [ox.NamedNode(ID_NS + "model/timm/resnet50")]
    assert _objects(m.quads, s, MLM.derivedFrom) == [ox.NamedNode(ID_NS + "model/timm/x%2Fy")]
    assert any("unknown relation" in w for w in m.warnings)
    assert model_iri("https://example.org/m", "user") == ox.NamedNode("https://example.org/m")


def test_preprocessing_steps_are_ordered() -> None:
    steps = [PreprocessStep("resize", resize_width=342, interpolation="bilinear"),
             PreprocessStep("crop", crop_method="center", crop_percentage=0.875)]
    m = map_record(_model(inputs=[ModelIO("image", preprocessing=steps)]))
    io = m.focus.value + "/inputs/0"
    step_nodes = _objects(m.quads, io, MLM.preprocessingStep)
    order = {n.value: int(_objects(m.quads, n.value, MLM.stepIndex)[0].value)  # type: ignore[union-attr]
             for n in step_nodes}
    assert sorted(order.values()) == [0, 1]
    crop = next(k for k, v in order.items() if v == 1)
    assert _objects(m.quads, crop, MLM.cropFraction) == [ox.Literal("0.875", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#double"))]


def test_only_our_namespace_or_standard_vocabularies() -> None:
    m = map_record(_model())
    allowed = (MLM_NS, "http://www.w3.org/", "http://purl.org/dc/terms/",
               "http://www.w3.org/2004/02/skos/core#")
    assert all(q.predicate.value.startswith(allowed) for q in m.quads)
