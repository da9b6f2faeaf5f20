"""Entity parameters of saved queries are resolved to IRIs before the query runs."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from mlmeta.ingest import ingest
from mlmeta.queries import (
    concept_iri,
    entity_iri,
    get_saved_query,
    resolve_models,
    run_saved_query,
)
from mlmeta.records import ConceptRef, EvaluationRecord, ModelRecord, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.vocab import ID_NS


@pytest.fixture
def zoo(store: OxigraphStore) -> OxigraphStore:
    ev = [EvaluationRecord("acc@1", "76.1", dataset="ILSVRC 2012", unit="%")]
    ingest(store, [
        ModelRecord("resnet50", SourceInfo("timm"), name="ResNet-50 (timm)", evaluations=ev),
        ModelRecord("resnet50", SourceInfo("user"), name="my resnet", evaluations=ev),
        ModelRecord("org/model", SourceInfo("huggingface"), name="A named model",
                    evaluations=[EvaluationRecord("accuracy", 0.5, dataset="glue")]),
    ])
    return store


def test_model_by_zoo_key_bare_id_name_and_iri(zoo: OxigraphStore) -> None:
    timm = ox.NamedNode(ID_NS + "model/timm/resnet50")
    user = ox.NamedNode(ID_NS + "model/user/resnet50")
    assert resolve_models(zoo, "timm:resnet50") == [timm]
    assert resolve_models(zoo, "resnet50") == sorted([timm, user], key=lambda n: n.value)
    hf = ox.NamedNode(ID_NS + "model/huggingface/org%2Fmodel")
    assert resolve_models(zoo, "A named model") == [hf]
    assert resolve_models(zoo, hf.value) == [hf]


def test_a_bare_id_in_two_zoos_answers_for_both(zoo: OxigraphStore) -> None:
    answer = run_saved_query(zoo, "model-evaluations", {"model": "resnet50"})
    assert isinstance(answer, Rows)
    models = sorted({r[0].value for r in answer.rows if r[0] is not None})
    assert models == [ID_NS + "model/timm/resnet50", ID_NS + "model/user/resnet50"]
    answer = run_saved_query(zoo, "model-evaluations", {"model": "timm:resnet50"})
    assert isinstance(answer, Rows)
    assert {r[0].value for r in answer.rows if r[0] is not None} == {
        ID_NS + "model/timm/resnet50"}


def test_an_unknown_model_gives_an_empty_answer(zoo: OxigraphStore) -> None:
    answer = run_saved_query(zoo, "model-evaluations", {"model": "no/such-model"})
    assert isinstance(answer, Rows) and answer.rows == []


@pytest.mark.parametrize("spelling", ["ImageNet", "ILSVRC 2012", "imagenet-1k"])
def test_dataset_spellings_resolve_to_one_iri(spelling: str) -> None:
    assert entity_iri("dataset", spelling) == ox.NamedNode(ID_NS + "dataset/imagenet-1k")


def test_models_trained_on_with_any_spelling(zoo: OxigraphStore) -> None:
    for dataset, metric in (("ImageNet", "top-1"), ("ILSVRC 2012", "acc@1")):
        answer = run_saved_query(zoo, "models-trained-on",
                                 {"dataset": dataset, "metric": metric, "min": "0.7"})
        assert isinstance(answer, Rows)
        assert sorted(r[0].value for r in answer.rows if r[0] is not None) == [
            ID_NS + "model/timm/resnet50", ID_NS + "model/user/resnet50"]
    answer = run_saved_query(zoo, "models-trained-on", {"min": "0.8"})
    assert isinstance(answer, Rows) and answer.rows == []


# --- concept parameters ----------------------------------------------------------------

WD_ITEM = "http://www.wikidata.org/entity/"


@pytest.mark.parametrize("spelling", ["Q144", "q144", "wd:Q144", WD_ITEM + "Q144",
                                      "https://www.wikidata.org/wiki/Q144"])
def test_a_concept_by_qid_is_the_wikidata_item(spelling: str) -> None:
    assert concept_iri(spelling) == ox.NamedNode(WD_ITEM + "Q144")


def test_a_concept_by_iri_is_itself_and_by_label_the_node_records_give_it() -> None:
    coco_dog = ID_NS + "concept/coco/18"
    assert concept_iri(coco_dog) == ox.NamedNode(coco_dog)
    # "Person" and "person" name one node, as the mapping writes per-class results
    assert concept_iri("Person") == concept_iri("person") == ox.NamedNode(
        ID_NS + "concept/label/person")
    assert concept_iri("Q0") == ox.NamedNode(ID_NS + "concept/label/q0")  # not a QID


def test_a_concept_parameter_binds_its_iri_text_and_lookup_key() -> None:
    bound = get_saved_query("models-recognising").bind({"concept": "Tabby_Cat "})
    assert bound["_concept"] == ox.NamedNode(ID_NS + "concept/label/tabby-cat")
    assert bound["_concept_text"] == ox.Literal("Tabby_Cat ")
    assert bound["_concept_key"] == ox.Literal("tabby cat")


@pytest.fixture
def pets(store: OxigraphStore) -> OxigraphStore:
    report = ingest(store, [ModelRecord(
        "acme/pets", SourceInfo("user"), name="ACME pets",
        concepts=[ConceptRef("dog", "0", 0), ConceptRef("cat", "1", 1)])])
    assert report.ok, report.rejected
    return store


def _recognising(store: OxigraphStore, concept: str) -> list[tuple[str, ...]]:
    answer = run_saved_query(store, "models-recognising", {"concept": concept})
    assert isinstance(answer, Rows)
    return [tuple("" if t is None else t.value for t in row) for row in answer.rows]


def test_models_recognising_by_qid_iri_label_and_an_unknown_concept(pets: OxigraphStore,
                                                                    ) -> None:
    pets_iri = ID_NS + "model/user/acme%2Fpets"
    # the model's own class "dog" is found by its exact label, and by its IRI
    assert _recognising(pets, "dog") == [("dog", pets_iri, "ACME pets", "1", "dog")]
    own_cat = pets_iri + "/concept/1"
    assert _recognising(pets, own_cat) == [(own_cat, pets_iri, "ACME pets", "1", "cat")]
    # not linked to Wikidata, so not found by the QID of dogs nor by another spelling
    assert _recognising(pets, "Q144") == []
    assert _recognising(pets, "DOG") == []
    assert _recognising(pets, "no such thing") == []
