"""Entity parameters of saved queries are resolved to IRIs before the query runs."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from mlmeta.ingest import ingest
from mlmeta.queries import entity_iri, resolve_models, run_saved_query
from mlmeta.records import EvaluationRecord, ModelRecord, SourceInfo
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
