"""Label spaces in the store, the saved queries over their links, and ``mlmeta link``
offline (``report``, ``wikidata --offline``)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from mlmeta.cli import cli
from mlmeta.ingest import ingest
from mlmeta.labelspaces import (
    WIKIDATA_GRAPH,
    concept_iri,
    imagenet_concept_for,
    label_space_graphs,
    labelspace_graph,
    load_label_spaces,
)
from mlmeta.queries import get_saved_query, run_saved_query
from mlmeta.records import ConceptRef, ModelRecord, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.wikidata import coco_classes, coco_links, hierarchy_arcs, imagenet_links

WD = "http://www.wikidata.org/entity/"


def _below(root: str) -> set[str]:
    """Items under ``root`` along the shipped arcs, root included."""
    kids: dict[str, set[str]] = defaultdict(set)
    for a in hierarchy_arcs():
        kids[a.parent].add(a.child)
    out, todo = {root}, [root]
    while todo:
        for c in kids[todo.pop()]:
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _imagenet_under(root: str) -> set[str]:
    items = _below(root)
    return {x.class_id for x in imagenet_links() if x.match and x.qid in items}


def _coco_under_supercategory(name: str) -> set[str]:
    return {c.id for c in coco_classes() if c.kind == "class" and c.supercategory == name}


MODELS = [
    ModelRecord("resnet50.a1_in1k", SourceInfo("timm"), name="resnet50.a1_in1k",
                label_space="imagenet-1k", tasks=["image-classification"]),
    ModelRecord("facebook/detr-resnet-50", SourceInfo("huggingface"), name="DETR ResNet-50",
                label_space="coco", tasks=["object-detection"]),
    ModelRecord("distilbert-sst2", SourceInfo("huggingface"), name="DistilBERT SST-2",
                tasks=["text-classification"],
                concepts=[ConceptRef("NEGATIVE", "0", 0), ConceptRef("POSITIVE", "1", 1)]),
    ModelRecord("acme/retriever-or-not", SourceInfo("user"), name="ACME retriever detector",
                concepts=[r for r in (imagenet_concept_for(207, "golden retriever"),
                                      imagenet_concept_for(281, "tabby, tabby cat"))
                          if r is not None]),
    ModelRecord("acme/pets", SourceInfo("user"), name="ACME pets",
                concepts=[ConceptRef("dog", "0", 0), ConceptRef("cat", "1", 1)]),
]


@pytest.fixture(scope="module")
def zoo() -> Iterator[OxigraphStore]:
    s = OxigraphStore()
    report = ingest(s, MODELS, source="test")
    assert report.ok, report.rejected
    load_label_spaces(s)
    yield s
    s.close()


def _rows(answer: object) -> list[tuple[str, ...]]:
    assert isinstance(answer, Rows)
    return [tuple("" if t is None else t.value for t in row) for row in answer.rows]


def _model(zoo: str, sid: str) -> str:
    from mlmeta import iri

    return iri.model(zoo, sid).value


def test_label_space_graphs_are_stored(zoo: OxigraphStore) -> None:
    names = {g.value for g in zoo.named_graphs()}
    for g, quads in label_space_graphs():
        assert g.value in names
        assert len(zoo.graph_quads(g)) == len(quads)
    assert labelspace_graph("imagenet-1k").value in names
    answer = zoo.query("PREFIX mlm: <https://w3id.org/mlmeta#> SELECT (COUNT(DISTINCT ?c) AS ?n) "
                       "WHERE { ?c mlm:inLabelSpace ?ls }",
                       {"ls": ox.NamedNode("https://w3id.org/mlmeta/id/labelspace/imagenet-1k")})
    assert _rows(answer) == [("1000",)]


def test_models_recognising_dog_by_qid(zoo: OxigraphStore) -> None:
    dogs = _imagenet_under("Q144")
    assert len(dogs) == 111
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": "Q144"}))
    assert rows == [
        ("Q144", _model("timm", "resnet50.a1_in1k"), "resnet50.a1_in1k", str(len(dogs)),
         "Afghan hound"),
        ("Q144", _model("user", "acme/retriever-or-not"), "ACME retriever detector", "1",
         "golden retriever"),
        ("Q144", _model("huggingface", "facebook/detr-resnet-50"), "DETR ResNet-50", "1",
         "dog"),
    ]
    # The classes counted are exactly the shipped links under Q144.
    answer = zoo.query(
        "PREFIX mlm: <https://w3id.org/mlmeta#> PREFIX skos: "
        "<http://www.w3.org/2004/02/skos/core#> SELECT DISTINCT ?id WHERE { "
        "?c (skos:exactMatch|skos:closeMatch|skos:broader)* ?t ; mlm:inLabelSpace ?ls ; "
        "mlm:classId ?id }",
        {"t": ox.NamedNode(WD + "Q144"),
         "ls": ox.NamedNode("https://w3id.org/mlmeta/id/labelspace/imagenet-1k")})
    assert {r[0] for r in _rows(answer)} == dogs


@pytest.mark.parametrize("spelling", ["q144", "wd:Q144", "http://www.wikidata.org/entity/Q144"])
def test_models_recognising_accepts_qid_spellings(zoo: OxigraphStore, spelling: str) -> None:
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": spelling}))
    assert [r[2] for r in rows] == ["resnet50.a1_in1k", "ACME retriever detector",
                                    "DETR ResNet-50"]


def test_models_recognising_by_label(zoo: OxigraphStore) -> None:
    dogs = _imagenet_under("Q144")
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": "Dog"}))
    # "Dog" is Q144's label: the same answer as by QID. A model's own class named "dog"
    # is only found when spelled exactly.
    assert [(r[2], r[3]) for r in rows] == [
        ("resnet50.a1_in1k", str(len(dogs))), ("ACME retriever detector", "1"),
        ("DETR ResNet-50", "1")]
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": "dog"}))
    assert [(r[2], r[3]) for r in rows] == [
        ("resnet50.a1_in1k", str(len(dogs))), ("ACME pets", "1"),
        ("ACME retriever detector", "1"), ("DETR ResNet-50", "1")]


def test_models_recognising_a_vehicle_through_coco_supercategories(zoo: OxigraphStore) -> None:
    vehicles = _coco_under_supercategory("vehicle")
    assert len(vehicles) == 8
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": "vehicle"}))
    assert rows == [("vehicle", _model("huggingface", "facebook/detr-resnet-50"),
                     "DETR ResNet-50", "8", "airplane")]


def test_models_recognising_any_animal(zoo: OxigraphStore) -> None:
    animals = _imagenet_under("Q729")
    coco_animals = _coco_under_supercategory("animal")
    # COCO's "animal" supercategory is close to Q729 in the COCO table.
    assert any(x.class_id == "supercategory/animal" and x.qid == "Q729" and x.match == "close"
               for x in coco_links())
    rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": "Q729"}))
    assert [(r[2], r[3]) for r in rows] == [
        ("resnet50.a1_in1k", str(len(animals))), ("DETR ResNet-50", str(len(coco_animals))),
        ("ACME retriever detector", "2")]


def test_models_recognising_a_single_class_by_its_label(zoo: OxigraphStore) -> None:
    for spelling in ("tabby cat", "tabby, tabby cat", "TABBY"):
        rows = _rows(run_saved_query(zoo, "models-recognising", {"concept": spelling}))
        assert [(r[2], r[3], r[4]) for r in rows] == [
            ("ACME retriever detector", "1", "tabby"), ("resnet50.a1_in1k", "1", "tabby")]


def test_models_recognising_nothing(zoo: OxigraphStore) -> None:
    for concept in ("no such thing", "Q99999999999", "POSITIVE cat"):
        assert _rows(run_saved_query(zoo, "models-recognising", {"concept": concept})) == []


def test_concepts_of_an_imagenet_model(zoo: OxigraphStore) -> None:
    rows = _rows(run_saved_query(zoo, "concepts-of-model", {"model": "resnet50.a1_in1k"}))
    matched: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for x in imagenet_links():
        matched[x.class_id]
        if x.match:
            matched[x.class_id].add((x.qid, x.match))
    assert len(rows) == sum(max(1, len(v)) for v in matched.values())
    assert rows[0] == ("resnet50.a1_in1k", "0", "n01440764", "tench", WD + "Q76280", "exact",
                       "curated-table", "0.95")
    got: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in rows:
        if r[4]:
            got[r[2]].add((r[4][len(WD):], r[5]))
    assert got == {k: v for k, v in matched.items() if v}
    unlinked = sorted(r[3] for r in rows if not r[4])
    assert len(unlinked) == 24 and "miniature poodle" in unlinked


def test_concepts_of_a_model_with_its_own_classes(zoo: OxigraphStore) -> None:
    rows = _rows(run_saved_query(zoo, "concepts-of-model", {"model": "distilbert-sst2"}))
    assert rows == [("distilbert-sst2", "0", "0", "NEGATIVE", "", "", "", ""),
                    ("distilbert-sst2", "1", "1", "POSITIVE", "", "", "", "")]
    rows = _rows(run_saved_query(zoo, "concepts-of-model", {"model": "DETR ResNet-50"}))
    assert len(rows) == 80
    dog = [r for r in rows if r[3] == "dog"]
    (link,) = [x for x in coco_links() if x.class_id == "18"]
    assert (link.qid, link.match, link.method) == ("Q144", "exact", "curated-table")
    assert dog == [("DETR ResNet-50", "", "18", "dog", WD + "Q144", "exact", "curated-table",
                    str(link.confidence))]


def test_link_provenance_in_the_graph(zoo: OxigraphStore) -> None:
    """Every link node says how and from what it was made; disputed ones say so."""
    answer = zoo.query(
        "PREFIX mlm: <https://w3id.org/mlmeta#> PREFIX prov: <http://www.w3.org/ns/prov#> "
        "SELECT ?status ?method (COUNT(DISTINCT ?l) AS ?n) WHERE { ?c mlm:wikidataLink ?l ; "
        "mlm:inLabelSpace ?ls . ?l mlm:linkStatus ?status ; prov:wasDerivedFrom ?src . "
        "OPTIONAL { ?l mlm:linkMethod ?method } } GROUP BY ?status ?method ORDER BY ?status",
        {"ls": ox.NamedNode("https://w3id.org/mlmeta/id/labelspace/imagenet-1k")})
    counts: dict[str, int] = defaultdict(int)
    for x in imagenet_links():
        counts[x.status] += 1
    assert {r[0]: int(r[2]) for r in _rows(answer)} == dict(counts)
    kite = concept_iri("imagenet-1k", "n01608432")
    answer = zoo.query(
        "PREFIX mlm: <https://w3id.org/mlmeta#> PREFIX skos: "
        "<http://www.w3.org/2004/02/skos/core#> SELECT ?p ?item ?status ?conf WHERE { "
        "?c ?p ?item . FILTER(?p IN (skos:exactMatch, skos:closeMatch)) "
        "?c mlm:wikidataLink ?l . ?l mlm:linkStatus ?status ; mlm:linkConfidence ?conf }",
        {"c": kite})
    (link,) = [x for x in imagenet_links() if x.class_id == "n01608432"]
    assert (link.qid, link.status) == ("Q25510", "cili-disagrees")
    assert _rows(answer) == [("http://www.w3.org/2004/02/skos/core#closeMatch", WD + "Q25510",
                              "cili-disagrees", str(link.confidence))]
    assert zoo.has_graph(WIKIDATA_GRAPH)


def test_saved_query_headers() -> None:
    for name, param in (("models-recognising", "concept"), ("concepts-of-model", "model"),
                        ("concept-subclasses-federated", "concept")):
        q = get_saved_query(name)
        assert q.param(param) is not None and q.examples and q.columns, name
    fed = get_saved_query("concept-subclasses-federated")
    endpoint = fed.param("endpoint")
    assert endpoint is not None and endpoint.type == "iri"
    assert endpoint.default == "https://query.wikidata.org/sparql"
    assert "SERVICE ?endpoint" in fed.text


# --- the command line -----------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_link_wikidata_offline_then_query(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    code, _, err = run("--store", store, "link", "wikidata", "--offline")
    assert code == 0, err
    assert "imagenet-1k: 976 of 1000 classes linked (97.6%)" in err
    assert "coco: 73 of 80 classes linked" in err
    record = tmp_path / "model.yaml"
    record.write_text("type: model\nzoo: timm\nid: resnet50.a1_in1k\n"
                      "label_space: imagenet-1k\n", "utf-8")
    code, _, err = run("--store", store, "add", str(record))
    assert code == 0, err
    code, out, err = run("--store", store, "query", "models-recognising", "--concept", "Q144",
                         "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["concept", "model", "name", "classes", "example_class"]
    assert rows[1:] == [["Q144", _model("timm", "resnet50.a1_in1k"), "resnet50.a1_in1k",
                         str(len(_imagenet_under("Q144"))), "Afghan hound"]]


def test_link_report_lists_unmapped_and_ambiguous() -> None:
    code, out, err = run("link", "report", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    by_status: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_status[r["status"]].add(f"{r['space']}:{r['class_id']}")
    want: dict[str, set[str]] = defaultdict(set)
    per_class: dict[str, set[str]] = defaultdict(set)
    for x in imagenet_links():
        per_class[x.class_id].add(x.status)
    for wnid, sts in per_class.items():
        for s in ("no-item", "missing", "cili-disagrees"):
            if s in sts:
                want[s].add(f"imagenet-1k:{wnid}")
        if "ambiguous" in sts:
            want["ambiguous"].add(f"imagenet-1k:{wnid}")
        elif "ambiguous-resolved" in sts:
            want["ambiguous-resolved"].add(f"imagenet-1k:{wnid}")
    for x in coco_links():
        if x.status in ("no-item", "label-match") and not x.class_id.startswith("super"):
            want[x.status].add(f"coco:{x.class_id}")
    assert dict(by_status) == dict(want)
    assert len(by_status["ambiguous"]) + len(by_status["ambiguous-resolved"]) == 29
    ambiguous = next(r for r in rows if r["class_id"] == "n02894605")
    assert ambiguous["candidates"].split() == ["Q153084", "Q215635", "Q1359152", "Q3082251"]
    code, out, _ = run("link", "report", "--status", "missing", "--format", "csv")
    assert code == 0
    assert [r["label"] for r in csv.DictReader(io.StringIO(out))] == [
        "miniature poodle", "accordion", "bathtub", "greenhouse", "jean", "lampshade",
        "microphone"]


def test_link_usage_errors() -> None:
    code, _, err = run("link", "report", "--status", "nonsense")
    assert code == 2 and "nonsense" in err
    code, _, err = run("--store", ":memory:", "link", "subclasses", "dog")
    assert code == 2 and "not a Wikidata QID" in err
    code, _, err = run("--store", ":memory:", "link", "wikidata", "--endpoint", "ftp://x")
    assert code == 2 and "not an http(s) URL" in err
