"""The ontology parses, documents every term, is consistent under HermiT, and declares
every ``mlm:`` term that the code, the shapes, the saved queries and the JSON-LD context use.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from mlmeta.canonical import canonical_quads
from mlmeta.mapping import map_record
from mlmeta.records import (
    ConceptRef,
    DataInstance,
    DatasetRecord,
    DatasetSplit,
    EvaluationRecord,
    HardwareRecord,
    Hyperparameter,
    Lineage,
    ModelIO,
    ModelRecord,
    PredictionRecord,
    PreprocessStep,
    SoftwareStack,
    SourceInfo,
    StandaloneEvaluation,
    TrainingRunRecord,
    WeightsFile,
)

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "mlmeta.ttl"
CONTEXT = ROOT / "ontology" / "context.jsonld"
NS = "https://w3id.org/mlmeta#"
MLM = Namespace(NS)
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
DCTERMS = Namespace("http://purl.org/dc/terms/")

KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
PY_TERM_RES = (re.compile(r"MLM\.([A-Za-z_][A-Za-z0-9_]*)"), re.compile(r'MLM\["([^"]+)"\]'))
NAMESPACE_ATTRIBUTES = {"base"}  # attributes of mlmeta.vocab.Namespace, not terms
RQ_TERM_RES = (re.compile(r"(?<![A-Za-z0-9_:#.-])mlm:([A-Za-z_][A-Za-z0-9_]*)"),
               re.compile(r"<https://w3id\.org/mlmeta#([^>\s]+)>"))
ALLOWED_RANGES = {f"{XSD_NS}{t}" for t in ("string", "integer", "double", "boolean", "dateTime")}
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def onto() -> Graph:
    return Graph().parse(ONTOLOGY, format="turtle")


def ours(g: Graph) -> set[URIRef]:
    return {s for s in g.subjects(RDF.type, None)
            if isinstance(s, URIRef) and str(s).startswith(NS)}


def declared_terms(g: Graph) -> set[str]:
    return {str(s)[len(NS):] for s in ours(g)}


# --- (a) parsing, documentation, OWL 2 DL hygiene -----------------------------------


def test_header(onto: Graph) -> None:
    o = URIRef("https://w3id.org/mlmeta")
    assert (o, RDF.type, OWL.Ontology) in onto
    assert str(onto.value(o, OWL.versionInfo)) == "0.1.0"
    assert onto.value(o, OWL.versionIRI) is not None
    assert onto.value(o, DCTERMS.license) == URIRef("https://www.apache.org/licenses/LICENSE-2.0")
    assert onto.value(o, DCTERMS.title) is not None
    assert onto.value(o, DCTERMS.description) is not None


def test_every_term_has_label_and_comment(onto: Graph) -> None:
    missing = []
    for s in sorted(ours(onto)):
        kinds = set(onto.objects(s, RDF.type))
        if not kinds & {*KINDS, OWL.NamedIndividual}:
            continue
        for p in (RDFS.label, RDFS.comment):
            if onto.value(s, p) is None:
                missing.append(f"{s} lacks {p}")
    assert not missing, "\n".join(missing)


def test_core_classes_and_kinds(onto: Graph) -> None:
    for cls in ("Model", "Dataset", "Evaluation", "Metric", "TrainingRun", "RecordGraph",
                "HardwareKind", "ResultKind", "PreprocessingStep", "ModelIO"):
        assert (MLM[cls], RDF.type, OWL.Class) in onto, cls
    for ind, cls in (("Reported", "ResultKind"), ("Measured", "ResultKind"),
                     ("ServerGPU", "HardwareKind"), ("EdgeDevice", "HardwareKind")):
        assert (MLM[ind], RDF.type, OWL.NamedIndividual) in onto, ind
        assert (MLM[ind], RDF.type, MLM[cls]) in onto, ind
    for sub in ("finetunedFrom", "adapterOf", "quantizedFrom", "mergedFrom", "distilledFrom"):
        assert (MLM[sub], RDFS.subPropertyOf, MLM.derivedFrom) in onto, sub
    assert (MLM.sourceDataset, RDFS.subPropertyOf, MLM.derivedFromDataset) in onto


def test_lineage_is_not_transitive(onto: Graph) -> None:
    transitive = set(onto.subjects(RDF.type, OWL.TransitiveProperty))
    assert MLM.derivedFrom not in transitive
    assert MLM.derivedFromDataset not in transitive


def test_owl2_dl_hygiene(onto: Graph) -> None:
    """One kind per IRI, every referenced term declared, only the mapping's datatypes."""
    problems = []
    kinds: dict[URIRef, set[URIRef]] = defaultdict(set)
    for k in KINDS:
        for s in onto.subjects(RDF.type, k):
            kinds[s].add(k)
    problems += [f"{s} has several kinds: {sorted(k)}" for s, k in kinds.items() if len(k) > 1]
    builtin = (str(RDF), str(RDFS), str(OWL))
    for s, p, o in onto:
        if not str(p).startswith(builtin) and p not in kinds:
            problems.append(f"predicate {p} is not declared")
        if p in (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain) and isinstance(o, URIRef):
            if o not in kinds:
                problems.append(f"{s} {p} {o}: object not declared")
            elif p == RDFS.subPropertyOf and kinds[o] != kinds[s]:
                problems.append(f"{s} is a subproperty of {o} of another kind")
        if p == RDFS.range and isinstance(o, URIRef):
            if OWL.DatatypeProperty in kinds.get(s, ()):
                if str(o) not in ALLOWED_RANGES:
                    problems.append(f"{s} has datatype range {o}")
            elif o not in kinds:
                problems.append(f"{s} range {o} not declared")
    assert not problems, "\n".join(problems)


# --- mapped records against the ontology ----------------------------------------------


def sample_records() -> list:
    user = SourceInfo("user", url="https://example.org/r.yaml", retrieved=WHEN)
    model = ModelRecord(
        "org/model", SourceInfo("huggingface", url="https://huggingface.co/org/model",
                                version="abc", retrieved=WHEN, illustrative=True, note="n"),
        name="Model", version="1.0", previous_version="org/model-old", description="d",
        license=["mit", "custom-licence"], authors=["A"], organisation="Org",
        architecture="ResNet-50", parameter_count=25_557_032, flops=4.1e9,
        tasks=["image-classification", "odd task"], library="timm", tags=["t"],
        trained_on=["ImageNet", "unknown-set"],
        derived_from=[Lineage("org/base", r) for r in
                      ("finetune", "adapter", "quantized", "merge", "distilled", "derived")],
        hyperparameters=[Hyperparameter("lr", 0.1), Hyperparameter("epochs", 90),
                         Hyperparameter("opt", "sgd"), Hyperparameter("amp", True)],
        software=[SoftwareStack("PyTorch", "2.1", ">=2.0", ["img:1"], {"cuda": "12.1"})],
        inputs=[ModelIO("image", "float32", [3, 224, 224], "in", [
            PreprocessStep(k, color_layout="RGB", data_layout="NCHW", crop_method="center",
                           crop_percentage=0.875, resize_width=256, resize_height=256,
                           interpolation="bilinear", mean=[0.5], std=[0.5],
                           rescale_factor=0.5, code="x", description="s")
            for k in ("decode", "color-layout", "data-layout", "crop", "resize", "normalize",
                      "rescale", "custom")], "https://example.org/l.txt", "c", "p")],
        outputs=[ModelIO("classification")],
        concepts=[ConceptRef("cat", "n1", 1), ConceptRef("dog", "n2", 2, "coco")],
        label_space="imagenet-1k",
        evaluations=[
            EvaluationRecord("top1", 76.1, dataset="ImageNet", split="val", task="classification",
                             unit="%", reported_by="x", date="2020", metric_name="Acc",
                             source_url="https://example.org/e", dataset_config="c"),
            EvaluationRecord("latency", "5 +/- 1", unit="ms", kind="measured", hardware="a100",
                             batch_size=8, precision="fp16", data_layout="NCHW", image_size=224,
                             software=SoftwareStack("TensorRT", "8"), concept="Q146"),
            EvaluationRecord("made-up metric", "n/a"),
        ],
        homepage="https://example.org", code_url="https://github.com/o/m",
        paper_url="not a url", weights=[WeightsFile("https://example.org/w.pt", "sha", "weights")],
        config_url="https://example.org/c.yaml", created=WHEN, modified=WHEN, downloads=1,
        likes=2, gated="auto", entry_points=["hub.entry"],
    )
    dataset = DatasetRecord(
        "org/data", SourceInfo("huggingface", retrieved=WHEN), name="Data", version="2.0",
        description="d", license="cc-by-4.0", size_category="n<1K", modalities=["text"],
        languages=["en"], annotation_creators=["crowd"], language_creators=["found"],
        annotator_count=5, source_datasets=["wikipedia"], derived_from=["ImageNet"],
        tasks=["text-classification"], task_ids=["sentiment"], multilinguality=["mono"],
        splits=[DatasetSplit("train", 10)], instances=[DataInstance("i1", ["cat", "Q146"], "train",
                                                                    "https://example.org/i1")],
        tags=["t"], paperswithcode_id="data", homepage="https://example.org/d", downloads=3,
        modified=WHEN,
    )
    return [
        model,
        dataset,
        HardwareRecord("Board X", user, kind="edge", memory_gb=4.0, vendor="V", description="d"),
        HardwareRecord("Board Y", user, kind="quantum"),
        PredictionRecord("p", "huggingface:org/model", user, "cat", 0.9, "i1", "ImageNet"),
        TrainingRunRecord("r", "huggingface:org/model", user, ["ImageNet"],
                          [Hyperparameter("lr", 0.1)], [SoftwareStack("JAX")], "TPU v3",
                          WHEN, WHEN),
        StandaloneEvaluation(EvaluationRecord("top1", 0.8, model="timm:resnet50"), "e", user),
    ]


def rdflib_term(t):
    if isinstance(t, ox.NamedNode):
        return URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    if t.language:
        return Literal(t.value, lang=t.language)
    return Literal(t.value, datatype=URIRef(t.datatype.value))


def abox() -> Graph:
    """Every sample record with its context, plus the canonical graph."""
    g = Graph()
    triples = [q.triple for q in canonical_quads()]
    for rec in sample_records():
        mapped = map_record(rec)
        triples += [*mapped.triples(), *mapped.context]
    for t in triples:
        g.add((rdflib_term(t.subject), rdflib_term(t.predicate), rdflib_term(t.object)))
    return g


def test_mapped_terms_match_their_declared_kinds(onto: Graph) -> None:
    """Literals only on datatype properties (with the declared range), IRIs only on object
    properties, and rdf:type only with declared classes."""
    data = abox()
    problems = set()
    for _s, p, o in data:
        if p == RDF.type:
            if str(o).startswith(NS) and (o, RDF.type, OWL.Class) not in onto:
                problems.add(f"rdf:type {o}: not a declared class")
            continue
        if not str(p).startswith(NS):
            continue
        kinds = set(onto.objects(p, RDF.type))
        if OWL.AnnotationProperty in kinds:
            continue
        if isinstance(o, Literal):
            if OWL.DatatypeProperty not in kinds:
                problems.add(f"{p} has a literal value but is not a datatype property")
            rng = onto.value(p, RDFS.range)
            if rng is not None and o.datatype is not None and o.datatype != rng:
                problems.add(f"{p} has a {o.datatype} value but range {rng}")
        elif OWL.ObjectProperty not in kinds:
            problems.add(f"{p} has an IRI value but is not an object property")
    assert not problems, "\n".join(sorted(problems))


# --- (b) HermiT --------------------------------------------------------------------------


def reason(graph: Graph, tmp_path: Path):
    owlready2 = pytest.importorskip("owlready2")
    if shutil.which("java") is None:
        pytest.skip("HermiT needs Java and `java` is not on PATH")
    path = tmp_path / "mlmeta.nt"
    graph.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    world.get_ontology(path.as_uri()).load()
    try:
        owlready2.sync_reasoner(world, infer_property_values=False, debug=0)
    except owlready2.OwlReadyInconsistentOntologyError as exc:  # pragma: no cover - a failure
        pytest.fail(f"HermiT finds the ontology inconsistent: {exc}")
    return world


def test_hermit_consistent(onto: Graph, tmp_path: Path) -> None:
    world = reason(onto, tmp_path)
    assert list(world.inconsistent_classes()) == []


def test_hermit_consistent_with_mapped_records(onto: Graph, tmp_path: Path) -> None:
    """Domains, ranges and disjointness do not make legal records inconsistent."""
    g = Graph()
    for t in onto:
        g.add(t)
    for t in abox():
        g.add(t)
    world = reason(g, tmp_path)
    assert list(world.inconsistent_classes()) == []


# --- (c) every mlm: term used anywhere is declared ------------------------------------------


def used_terms() -> dict[str, set[str]]:
    """term -> files using it, over shapes, saved queries, the JSON-LD context and the code."""
    used: dict[str, set[str]] = defaultdict(set)

    def rel(p: Path) -> str:
        return str(p.relative_to(ROOT))

    for f in sorted((ROOT / "shapes").glob("*.ttl")):
        g = Graph().parse(f, format="turtle")
        for triple in g:
            for term in triple:
                if isinstance(term, URIRef) and str(term).startswith(NS):
                    used[str(term)[len(NS):]].add(rel(f))
    for f in sorted((ROOT / "queries").glob("*.rq")):
        text = f.read_text(encoding="utf-8")
        for rx in RQ_TERM_RES:
            for name in rx.findall(text):
                used[name].add(rel(f))
    if CONTEXT.exists():
        ctx = json.loads(CONTEXT.read_text(encoding="utf-8"))

        def walk(node: object) -> None:
            if isinstance(node, dict):
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
            elif isinstance(node, str):
                for prefix in ("mlm:", NS):
                    if node.startswith(prefix) and len(node) > len(prefix):
                        used[node[len(prefix):]].add(rel(CONTEXT))

        walk(ctx)
    for folder in ("mlmeta", "crawlers"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            text = f.read_text(encoding="utf-8")
            for rx in PY_TERM_RES:
                for name in rx.findall(text):
                    if name not in NAMESPACE_ATTRIBUTES:
                        used[name].add(rel(f))
    return used


def test_every_used_term_is_declared(onto: Graph) -> None:
    declared = declared_terms(onto)
    used = used_terms()
    assert used, "found no mlm: terms at all; is the scan broken?"
    undeclared = {t: files for t, files in used.items() if t not in declared}
    report = "\n".join(f"  mlm:{t} used in {', '.join(sorted(files))}"
                       for t, files in sorted(undeclared.items()))
    print(report)
    assert not undeclared, f"terms used but not declared in {ONTOLOGY.name}:\n{report}"


def test_context_covers_every_term(onto: Graph) -> None:
    ctx = json.loads(CONTEXT.read_text(encoding="utf-8"))["@context"]
    assert ctx["mlm"] == NS
    assert ctx["id"] == "https://w3id.org/mlmeta/id/"
    for prefix in ("prov", "dcat", "schema", "skos", "xsd", "wd"):
        assert prefix in ctx, prefix
    problems = []
    for s in ours(onto):
        name = str(s)[len(NS):]
        definition = ctx.get(name)
        if definition is None:
            problems.append(f"{name}: no term definition")
            continue
        kinds = set(onto.objects(s, RDF.type))
        if OWL.ObjectProperty in kinds and definition.get("@type") not in ("@id", "@vocab"):
            problems.append(f"{name}: object property without @type @id")
        if OWL.DatatypeProperty in kinds:
            rng = onto.value(s, RDFS.range)
            if rng is not None and definition.get("@type") != "xsd:" + str(rng)[len(XSD_NS):]:
                problems.append(f"{name}: @type does not match range {rng}")
    assert not problems, "\n".join(problems)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_context_expands_a_user_document() -> None:
    ctx = json.loads(CONTEXT.read_text(encoding="utf-8"))["@context"]
    doc = {"@context": ctx, "@id": "id:model/user/m", "type": "Model", "name": "m",
           "parameterCount": 10, "trainedOn": "id:dataset/imagenet-1k",
           "created": "2024-01-01T00:00:00Z", "derivedFrom": "id:model/user/base"}
    g = Graph().parse(data=json.dumps(doc), format="json-ld")
    m = URIRef("https://w3id.org/mlmeta/id/model/user/m")
    assert (m, RDF.type, MLM.Model) in g
    assert (m, MLM.trainedOn, URIRef("https://w3id.org/mlmeta/id/dataset/imagenet-1k")) in g
    assert (m, MLM.derivedFrom, URIRef("https://w3id.org/mlmeta/id/model/user/base")) in g
    count = g.value(m, MLM.parameterCount)
    assert count is not None and str(count.datatype) == XSD_NS + "integer"
    created = g.value(m, MLM.created)
    assert created is not None and str(created.datatype) == XSD_NS + "dateTime"
