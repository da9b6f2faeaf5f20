"""Every saved query answers its question on the example zoo, exactly.

The example zoo (``examples/``) is loaded once into an in-memory store. Each test runs
one saved query, with its defaults and with other parameters, and asserts its whole
answer: at least one record that must match and one that must not. Expected numbers are
the example records' values in canonical units (a timm top-1 of 90.056 percent is
0.90056); ``test_example_zoo_matches_timm_csv`` checks those against ../shared/data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from mlmeta import iri
from mlmeta.demo import load_example_zoo
from mlmeta.ingest import ingest
from mlmeta.queries import get_saved_query, saved_queries
from mlmeta.records import Lineage, ModelRecord, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.vocab import MLM_NS, ONTOLOGY_GRAPH

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
XSD = "http://www.w3.org/2001/XMLSchema#"

# The saved queries of the issue (questions 1-18 and the contract queries); the
# Wikidata-backed ones are tested with the Wikidata helper's tables.
OURS = {
    "text-classifiers-crowdsourced": 1, "datasets-depicting": 2, "models-trained-on": 3,
    "best-model": 4, "fair-person-detectors": 5, "non-toxic-generators": 6,
    "edge-ready-classifiers": 7, "trained-on-lineage": 8, "training-setup": 9,
    "dataset-downstream": 10, "lineage-up": 11, "latest-version": 12,
    "better-on-same-dataset": 13, "reported-vs-measured": 14, "hardware-results": 15,
    "models-by-preprocessing": 16, "compare-models": 17, "pareto-front": 18,
    "lineage-down": 0, "model-evaluations": 0, "model-summary": 0,
}


def model(key: str) -> str:
    """The IRI of a model from its key ``zoo:id``."""
    zoo, _, source_id = key.partition(":")
    return iri.model(zoo, source_id).value


HF = "huggingface"


def hf(repo: str) -> str:
    return model(f"{HF}:{repo}")


@pytest.fixture(scope="module")
def zoo() -> Iterator[OxigraphStore]:
    store = OxigraphStore()
    report = load_example_zoo(store)
    assert report.stored and not report.rejected, report.rejected
    yield store
    store.close()


def py(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None) -> Any:
    """A term as a plain Python value: IRIs as strings, numbers rounded to 9 places."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt in (XSD + "integer", XSD + "int", XSD + "long"):
            return int(term.value)
        if dt in (XSD + "double", XSD + "decimal", XSD + "float"):
            return round(float(term.value), 9)
        if dt == XSD + "boolean":
            return term.value == "true"
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def ask(store: OxigraphStore, name: str, **params: object) -> list[tuple[Any, ...]]:
    """Run a saved query; its answer's columns must be the declared ones."""
    q = get_saved_query(name)
    answer = q.run(store, {k: str(v) for k, v in params.items()})
    assert isinstance(answer, Rows)
    assert answer.variables == q.columns
    return [tuple(py(t) for t in row) for row in answer.rows]


def column(rows: list[tuple[Any, ...]], i: int) -> list[Any]:
    return [r[i] for r in rows]


# --- the catalogue itself ---------------------------------------------------------------


def test_every_question_has_a_saved_query_with_a_complete_header() -> None:
    queries = saved_queries()
    assert set(OURS) <= set(queries)
    assert sorted(n for n in OURS.values() if n) == list(range(1, 19))
    for name in OURS:
        q = queries[name]
        assert q.title and q.title != name, name
        assert len(q.description) > 80, name
        assert q.columns, f"{name} has no '# columns:' header"
        assert q.examples and all(e.startswith(f"mlmeta query {name}") for e in q.examples)
        for p in q.params:
            assert p.default is not None, f"{name}: --{p.name} has no default"


def test_contract_queries_keep_their_names_params_and_columns() -> None:
    contract = {
        "model-evaluations": (["model"], ["model", "task", "dataset", "split", "metric",
                                          "value", "unit", "hardware", "source"]),
        "models-trained-on": (["dataset", "metric", "min"], ["model", "dataset", "metric",
                                                             "value"]),
        "lineage-up": (["model"], ["model", "relation", "depth"]),
        "lineage-down": (["model"], ["model", "relation", "depth"]),
        "model-summary": (["model"], ["model", "name", "version", "task", "framework",
                                      "framework_version", "license", "trained_on",
                                      "source"]),
    }
    for name, (params, columns) in contract.items():
        q = get_saved_query(name)
        assert [p.name for p in q.params] == params, name
        assert q.columns == columns, name


def test_queries_use_only_declared_terms(zoo: OxigraphStore) -> None:
    declared = {t.subject.value for t in zoo.raw.quads_for_pattern(None, None, None,
                                                                   ONTOLOGY_GRAPH)
                if isinstance(t.subject, ox.NamedNode) and t.subject.value.startswith(MLM_NS)}
    for name in OURS:
        text = get_saved_query(name).text
        body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        used = {MLM_NS + m for m in re.findall(r"\bmlm:([A-Za-z][A-Za-z0-9]*)", body)}
        assert used <= declared, f"{name} uses undeclared terms {sorted(used - declared)}"


def test_every_query_answers_with_its_defaults(zoo: OxigraphStore) -> None:
    for name in OURS:
        assert ask(zoo, name), f"{name} has no answer with its default parameters"


# --- questions of the meta-model paper ---------------------------------------------------


def test_q1_text_classifiers_trained_on_crowdsourced_data(zoo: OxigraphStore) -> None:
    distilbert = hf("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    # SST-2 derives from SST, crowdsourced by 250 annotators (an illustrative count);
    # avneet/... is trained on GLUE, whose annotations are not crowdsourced: absent.
    expected = [(distilbert, "distilbert-base-uncased-finetuned-sst-2-english", "sst2", "sst",
                 250)]
    assert ask(zoo, "text-classifiers-crowdsourced") == expected
    assert ask(zoo, "text-classifiers-crowdsourced", min_annotators=250) == expected
    assert ask(zoo, "text-classifiers-crowdsourced", min_annotators=251) == []
    # Image classifiers: the user's bird classifier, trained on 120 annotators' labels
    # (examples/records/my-classifier.yaml); ImageNet is crowdsourced but gives no count.
    birds = [(model("user:acme/resnet50-birds"), "ResNet-50 fine-tuned on a bird dataset",
              "acme-birds-2024", "acme-birds-2024", 120)]
    assert ask(zoo, "text-classifiers-crowdsourced", task="image-classification") == birds
    # the task is resolved by its aliases before the query runs
    assert ask(zoo, "text-classifiers-crowdsourced", task="Image Classification") == birds
    assert ask(zoo, "text-classifiers-crowdsourced", task="image-classification",
               creator="expert-generated") == []


def test_q2_datasets_from_coco_and_openimages_depicting_dogs(zoo: OxigraphStore) -> None:
    dogs = iri.canonical("dataset", "acme-dogs-coco-openimages").value
    coco_only = iri.canonical("dataset", "acme-dogs-coco").value
    # acme/pets-coco-openimages has an image of a cat alone; acme/dogs-coco has one source.
    assert ask(zoo, "datasets-depicting") == [(dogs, "Dogs from COCO and Open Images", 3)]
    assert ask(zoo, "datasets-depicting", concept="DOG", source="MS COCO",
               source2="Open Images V6") == [(dogs, "Dogs from COCO and Open Images", 3)]
    assert ask(zoo, "datasets-depicting", source2="") == [
        (coco_only, "Dogs from COCO", 2), (dogs, "Dogs from COCO and Open Images", 3)]
    assert ask(zoo, "datasets-depicting", concept="cat") == []


def test_q3_models_trained_on_imagenet_above_90_percent_top1(zoo: OxigraphStore) -> None:
    eva = model("timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k")
    # 90.056 percent in results-imagenet.csv; the in22k EVA-02 (89.956) and OpenMMLab's
    # EVA-02 (89.83) stay below 0.9.
    assert ask(zoo, "models-trained-on") == [(eva, "imagenet-1k", "top1-accuracy", 0.90056)]


def test_q3_meets_every_zoo_whatever_the_spelling_and_unit(zoo: OxigraphStore) -> None:
    expected = [
        (model("timm:resnet50.tv2_in1k"), 0.80846),
        (model("mlmodelscope:Inception_v3"), 0.78),  # "top1: 78.0", dataset "ImageNet"
        (model("timm:efficientnet_b0.ra_in1k"), 0.77698),
        (model("timm:inception_v3.tv_in1k"), 0.77472),
        (model("openmmlab:resnet50_8xb32_in1k"), 0.7655),  # "Top 1 Accuracy: 76.55"
        (model("mlmodelscope:MLPerf_ResNet50_v1.5"), 0.7616),
        (model("timm:resnet50.tv_in1k"), 0.76156),
        (model("mlmodelscope:TorchVision_ResNet_50"), 0.7613),  # a fraction, measured
    ]
    for dataset, metric in (("ILSVRC 2012", "acc@1"), ("imagenet-1k", "Top 1 Accuracy"),
                            ("ImageNet", "top1"),
                            (iri.canonical("dataset", "imagenet-1k").value, "top-1")):
        rows = ask(zoo, "models-trained-on", dataset=dataset, metric=metric, min=0.76)
        low = [(r[0], r[3]) for r in rows if r[3] < 0.81]
        assert low == expected, (dataset, metric)
        assert {r[0].split("/")[-2] for r in rows} == {"timm", "openmmlab", "mlmodelscope"}
        assert all(r[1:3] == ("imagenet-1k", "top1-accuracy") for r in rows)
    # "accuracy" is broader than top-1 and top-5: both count.
    # (OpenMMLab's EVA-02 top-5 of 99.00 percent is not above 0.99.)
    assert ask(zoo, "models-trained-on", metric="accuracy", min=0.99) == [
        (model("timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k"), "imagenet-1k",
         "top5-accuracy", 0.99054),
        (model("timm:eva02_large_patch14_448.mim_in22k_ft_in22k_in1k"), "imagenet-1k",
         "top5-accuracy", 0.99014)]


def test_q4_best_person_detector_on_coco_by_ap(zoo: OxigraphStore) -> None:
    detr = hf("facebook/detr-resnet-50")
    # DETR's person AP 0.553 beats Faster R-CNN (48.6 percent) and SSD (0.412); the 0.842
    # person AP is on PASCAL VOC and the 0.661 AP is for cats.
    assert ask(zoo, "best-model") == [(detr, "detr-resnet-50", "coco", "person", "ap", 0.553)]
    assert ask(zoo, "best-model", concept="cat") == [
        (detr, "detr-resnet-50", "coco", "cat", "ap", 0.661)]
    assert ask(zoo, "best-model", dataset="VOC2007") == [
        (model("mlmodelscope:Faster_RCNN_ResNet50_v1b_VOC"), "Faster_RCNN_ResNet50_v1b_VOC",
         "pascal-voc-2007", "person", "ap", 0.842)]
    assert ask(zoo, "best-model", task="text-generation") == []


def test_q5_person_detectors_without_gender_bias(zoo: OxigraphStore) -> None:
    detr = hf("facebook/detr-resnet-50")
    ssd = model("mlmodelscope:SSD_512_ResNet50_v1_COCO")
    rcnn = model("mlmodelscope:Faster_RCNN_ResNet50_COCO")
    # SSD's worst measurement (0.071) is above 0.05 although its first one (0.038) is not.
    assert ask(zoo, "fair-person-detectors") == [(detr, "detr-resnet-50", 0.034, 2)]
    assert ask(zoo, "fair-person-detectors", max=0.1) == [
        (detr, "detr-resnet-50", 0.034, 2), (ssd, "SSD_512_ResNet50_v1_COCO", 0.071, 2),
        (rcnn, "Faster_RCNN_ResNet50_COCO", 0.094, 1)]
    assert ask(zoo, "fair-person-detectors", max=0.034) == []


def test_q6_text_generators_without_hate_speech(zoo: OxigraphStore) -> None:
    # notus-7b-v1's 4.1 percent is 0.041; zephyr (0.112), Mistral (0.187) and
    # NeuralBeagle (0.068) are above the threshold.
    assert ask(zoo, "non-toxic-generators") == [
        (hf("bartowski/Llama-3.2-3B-Instruct-GGUF"), "Llama-3.2-3B-Instruct-GGUF", 0.024, 1),
        (hf("Intel/neural-chat-7b-v3-1"), "neural-chat-7b-v3-1", 0.029, 1),
        (hf("argilla/notus-7b-v1"), "notus-7b-v1", 0.041, 1)]
    assert column(ask(zoo, "non-toxic-generators", max=0.2), 0)[-1] == \
        hf("mistralai/Mistral-7B-v0.1")


def test_q7_image_classifiers_for_an_edge_device(zoo: OxigraphStore) -> None:
    rows = ask(zoo, "edge-ready-classifiers")
    assert rows == [
        (model("timm:mobilenetv3_small_100.lamb_in1k"), "mobilenetv3_small_100.lamb_in1k",
         "raspberry-pi-4", 27.5, 31.0, 2540000),
        (model("timm:mobilenetv3_large_100.ra_in1k"), "mobilenetv3_large_100.ra_in1k",
         "jetson-nano", 35.2, 48.0, 5480000),
        # examples/records/my-classifier.yaml: no memory measured, so no memory limit breaks
        (model("user:acme/resnet50-birds"), "ResNet-50 fine-tuned on a bird dataset",
         "jetson-nano", 41.5, None, 23528522),
        (model("timm:resnet18.a1_in1k"), "resnet18.a1_in1k", "jetson-nano", 61.0, 120.0,
         11690000),
        # 0.0625 GB is 64 MB
        (model("timm:efficientnet_b0.ra_in1k"), "efficientnet_b0.ra_in1k", "raspberry-pi-4",
         96.0, 64.0, 5290000)]
    # resnet50 (182.4 ms) and ViT-B/16 (521 ms) are too slow on the Jetson Nano.
    assert model("timm:resnet50.a1_in1k") not in column(rows, 0)
    assert column(ask(zoo, "edge-ready-classifiers", max_params=5000000), 0) == [
        model("timm:mobilenetv3_small_100.lamb_in1k")]
    assert column(ask(zoo, "edge-ready-classifiers", max_memory_mb=40), 0) == [
        model("timm:mobilenetv3_small_100.lamb_in1k"), model("user:acme/resnet50-birds")]
    assert ask(zoo, "edge-ready-classifiers", hardware_kind="mobile") == [
        (model("timm:mobilenetv3_large_100.ra_in1k"), "mobilenetv3_large_100.ra_in1k",
         "pixel-7", 12.1, None, 5480000)]


# --- lineage (ML Metadata) ---------------------------------------------------------------


def test_q8_datasets_through_the_whole_lineage(zoo: OxigraphStore) -> None:
    assert ask(zoo, "trained-on-lineage") == [
        ("argilla-distilabel-intel-orca-dpo-pairs", hf("mlabonne/NeuralBeagle14-7B"), 0),
        ("jondurbin-bagel-v0-3", hf("fblgit/UNA-TheBeagle-7b-v1"), 2)]
    assert ask(zoo, "trained-on-lineage", model="user:acme/resnet50-birds") == [
        ("acme-birds-2024", model("user:acme/resnet50-birds"), 0),
        ("imagenet-1k", model("timm:resnet50.a1_in1k"), 1)]
    assert ask(zoo, "trained-on-lineage", model="bartowski/Llama-3.2-3B-Instruct-GGUF") == []


def test_q9_hyperparameters_and_software_stack(zoo: OxigraphStore) -> None:
    run = iri.entity("run", HF, "HuggingFaceH4/zephyr-7b-beta/dpo").value
    rows = ask(zoo, "training-setup")
    assert ("software", "PyTorch", "2.0.1+cu118", run) in rows
    assert ("software", "Transformers", "4.35.0.dev0", run) in rows
    assert ("component", "cuda", "11.8", run) in rows
    assert ("hyperparameter", "learning_rate", 5e-07, run) in rows
    assert ("hyperparameter", "optimizer", "Adam with betas=(0.9,0.999) and epsilon=1e-08",
            run) in rows
    assert len(rows) == 4 + 1 + 12
    assert {r[3] for r in rows} == {run}
    mms = model("mlmodelscope:TorchVision_ResNet_50")
    assert ask(zoo, "training-setup", model="TorchVision_ResNet_50") == [
        ("container", "image", "raiproject/carml-pytorch:amd64-cpu", mms),
        ("container", "image", "raiproject/carml-pytorch:amd64-gpu", mms),
        ("container", "image", "raiproject/carml-pytorch:ppc64le-gpu", mms),
        ("software", "PyTorch", "1.2", mms)]


def test_q10_models_downstream_of_a_tainted_dataset(zoo: OxigraphStore) -> None:
    rows = ask(zoo, "dataset-downstream")
    direct = [r[0] for r in rows if r[3] == 1]
    assert direct == sorted(direct) and set(direct) == {
        hf("google/vit-base-patch16-224"), hf("google/vit-base-patch16-224-in21k"),
        model("openmmlab:vit-large-p14_eva02-in21k-pre_in21k-medft_3rdparty_in1k-448px"),
        model("openmmlab:vit-large-p14_eva02-pre_in21k"),
        model("openmmlab:vit-large-p14_eva02_m38m-pre_in21k-medft_3rdparty_in1k-448px"),
        model("timm:convnext_base.fb_in22k_ft_in1k"),  # trained on "in22k"
        model("timm:eva02_large_patch14_448.mim_in22k_ft_in22k_in1k"),
        model("timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k"),
        model("timm:vit_base_patch16_224.augreg2_in21k_ft_in1k")}
    assert all(r[1] == "imagenet-21k" and r[2] == r[0] for r in rows if r[3] == 1)
    in21k = hf("google/vit-base-patch16-224-in21k")
    assert [r for r in rows if r[3] != 1] == [
        # also fine-tuned from a model trained on ImageNet-21k
        (hf("google/vit-base-patch16-224"), "imagenet-21k", in21k, 2),
        (hf("nateraw/vit-base-beans"), "imagenet-21k", in21k, 2),
        (model("openmmlab:vit-large-p14_eva02-in21k-pre_in21k-medft_3rdparty_in1k-448px"),
         "imagenet-21k", model("openmmlab:vit-large-p14_eva02-pre_in21k"), 2),
        # trained on acme/birds-2024, collected from ImageNet-21k
        (model("user:acme/resnet50-birds"), "acme-birds-2024", model("user:acme/resnet50-birds"),
         2)]
    assert model("timm:resnet50.a1_in1k") not in column(rows, 0)
    zephyr, notus = hf("HuggingFaceH4/zephyr-7b-beta"), hf("argilla/notus-7b-v1")
    assert ask(zoo, "dataset-downstream", dataset="openbmb/UltraFeedback") == [
        (zephyr, "huggingfaceh4-ultrafeedback-binarized", zephyr, 2),
        (notus, "argilla-ultrafeedback-binarized-preferences", notus, 2)]
    # The Stanford Sentiment Treebank -> SST-2 -> distilbert.
    distilbert = hf("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert ask(zoo, "dataset-downstream", dataset="Stanford Sentiment Treebank") == [
        (distilbert, "sst2", distilbert, 2)]


def test_q11_upstream_lineage(zoo: OxigraphStore) -> None:
    assert ask(zoo, "lineage-up") == [(hf("mistralai/Mistral-7B-v0.1"), "finetune", 1)]
    assert ask(zoo, "lineage-up", model="mlabonne/NeuralBeagle14-7B") == [
        (hf("mlabonne/Beagle14-7B"), "finetune", 1),
        (hf("argilla/distilabeled-Marcoro14-7B-slerp"), "merge", 2),
        (hf("fblgit/UNA-TheBeagle-7b-v1"), "merge", 2),
        (hf("mlabonne/Marcoro14-7B-slerp"), "derived", 3)]
    expected = [(hf("katanemo/Arch-Agent-7B"), "quantized", 1),
                (hf("Qwen/Qwen2.5-Coder-7B-Instruct"), "finetune", 2)]
    for given in ("QuantFactory/Arch-Agent-7B-GGUF", "huggingface:QuantFactory/Arch-Agent-7B-GGUF",
                  hf("QuantFactory/Arch-Agent-7B-GGUF"), "Arch-Agent-7B-GGUF"):
        assert ask(zoo, "lineage-up", model=given) == expected, given
    assert ask(zoo, "lineage-up", model="mistralai/Mistral-7B-v0.1") == []


def test_q11_downstream_lineage(zoo: OxigraphStore) -> None:
    # Mistral-7B-v0.1 has no record: it is known as a base only, by its IRI or its id.
    expected = [(hf("HuggingFaceH4/zephyr-7b-beta"), "finetune", 1),
                (hf("Intel/neural-chat-7b-v3-1"), "finetune", 1)]
    for given in ("mistralai/Mistral-7B-v0.1", "huggingface:mistralai/Mistral-7B-v0.1",
                  hf("mistralai/Mistral-7B-v0.1")):
        assert ask(zoo, "lineage-down", model=given) == expected, given
    assert ask(zoo, "lineage-down", model="Qwen/Qwen2.5-Coder-7B-Instruct") == [
        (hf("katanemo/Arch-Agent-7B"), "finetune", 1),
        (hf("QuantFactory/Arch-Agent-7B-GGUF"), "quantized", 2)]
    assert ask(zoo, "lineage-down", model="timm:resnet50.a1_in1k") == [
        (model("user:acme/resnet50-birds"), "finetune", 1)]
    assert ask(zoo, "lineage-down", model="HuggingFaceH4/zephyr-7b-beta") == []


def test_lineage_down_orders_long_iris_by_their_whole_text(store: OxigraphStore) -> None:
    # lineage-down sorts on 15-character slices of the IRI first (cheap to compare in
    # Oxigraph); IRIs equal in those slices must still come out in IRI order.
    long = "org/" + "x" * 60
    ids = [long + "-" + c for c in "qwertyuiop"] + ["org/c", "org/a"]
    ingest(store, [ModelRecord("org/base", SourceInfo(HF), name="base")] + [
        ModelRecord(i, SourceInfo(HF), name=i, derived_from=[Lineage("org/base", "finetune")])
        for i in ids] + [ModelRecord("org/d", SourceInfo(HF), name="d",
                                    derived_from=[Lineage(long + "-w", "quantized")])])
    assert ask(store, "lineage-down", model="org/base") == [
        (hf(i), "finetune", 1) for i in sorted(ids, key=hf)] + [(hf("org/d"), "quantized", 2)]


def test_q12_latest_version(zoo: OxigraphStore) -> None:
    alpha, beta = hf("HuggingFaceH4/zephyr-7b-alpha"), hf("HuggingFaceH4/zephyr-7b-beta")
    assert ask(zoo, "latest-version") == [(alpha, beta, "beta", 1)]
    assert ask(zoo, "latest-version", model="HuggingFaceH4/zephyr-7b-beta") == [
        (beta, beta, "beta", 0)]
    assert ask(zoo, "latest-version", model="timm:resnet50.tv_in1k") == [
        (model("timm:resnet50.tv_in1k"), model("timm:resnet50.tv2_in1k"), "tv2", 1)]
    # acme/resnet50-birds-v1.1 is known only as the previous version of acme/resnet50-birds
    assert ask(zoo, "latest-version", model="user:acme/resnet50-birds-v1.1") == [
        (model("user:acme/resnet50-birds-v1.1"), model("user:acme/resnet50-birds"), "1.2.0",
         1)]


def test_q13_better_models_on_the_same_dataset(zoo: OxigraphStore) -> None:
    rows = ask(zoo, "better-on-same-dataset", metric="top-1")
    assert [(r[0], r[4], r[5]) for r in rows] == [
        (model("timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k"), 0.90056, 0.8124),
        (model("timm:eva02_large_patch14_448.mim_in22k_ft_in22k_in1k"), 0.89956, 0.8124),
        (model("openmmlab:vit-large-p14_eva02_m38m-pre_in21k-medft_3rdparty_in1k-448px"),
         0.8983, 0.8124),
        (model("openmmlab:vit-large-p14_eva02-in21k-pre_in21k-medft_3rdparty_in1k-448px"),
         0.8965, 0.8124),
        (model("timm:convnext_base.fb_in22k_ft_in1k"), 0.86302, 0.8124),
        (model("timm:vit_base_patch16_224.augreg2_in21k_ft_in1k"), 0.85108, 0.8124)]
    assert {r[1:4] == (r[1], "imagenet-1k", "top1-accuracy") for r in rows} == {True}
    # resnet50.tv2_in1k (0.80846) is below resnet50.a1_in1k's best top-1 (0.8124) but above
    # its best top-5 (0.95430 > 0.95112): with --metric any, both metrics count.
    every = ask(zoo, "better-on-same-dataset")
    assert (model("timm:resnet50.tv2_in1k"), "resnet50.tv2_in1k", "imagenet-1k",
            "top5-accuracy", 0.9543, 0.95112) in every
    assert model("timm:resnet50.tv2_in1k") not in column(rows, 0)
    assert len(every) == 13
    assert ask(zoo, "better-on-same-dataset", metric="no such metric") == []
    # GLUE: avneet's 0.9151 (no config) beats distilbert's 0.9106 on glue/sst2; the MRPC
    # models' accuracies are on another configuration of GLUE.
    assert ask(zoo, "better-on-same-dataset",
               model="distilbert/distilbert-base-uncased-finetuned-sst-2-english") == [
        (hf("avneet/distilbert-base-uncased-finetuned-sst2"),
         "distilbert-base-uncased-finetuned-sst2", "glue", "accuracy", 0.915137615,
         0.910550459)]


# --- reproducible evaluation (MLModelScope) ----------------------------------------------


def test_q14_reported_versus_measured(zoo: OxigraphStore) -> None:
    inception = (model("mlmodelscope:Inception_v3"), "imagenet-1k", "top1-accuracy", 0.78,
                 0.7573, 0.0227)
    # MLPerf ResNet-50 (0.7616 vs 0.7614) and timm resnet50 at 224 px (0.80382 vs 0.8036)
    # agree within the tolerance; DETR's per-class APs are not compared with its overall AP.
    assert ask(zoo, "reported-vs-measured") == [inception]
    assert ask(zoo, "reported-vs-measured", tolerance=0.0001) == [
        inception,
        (model("timm:resnet50.a1_in1k"), "imagenet-1k", "top1-accuracy", 0.80382, 0.8036,
         0.00022),
        (model("mlmodelscope:MLPerf_ResNet50_v1.5"), "imagenet-1k", "top1-accuracy", 0.7616,
         0.7614, 0.0002)]
    assert ask(zoo, "reported-vs-measured", model="Inception_v3", tolerance=0) == [inception]
    assert ask(zoo, "reported-vs-measured", model="TorchVision_ResNet_50", tolerance=0) == []
    assert ask(zoo, "reported-vs-measured", tolerance=0.05) == []


def test_q15_results_across_hardware_and_software(zoo: OxigraphStore) -> None:
    rows = ask(zoo, "hardware-results")
    assert len(rows) == 15
    # benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv, resnet50 at 224 px
    assert ("rtx4090", "desktop-gpu", "PyTorch", "2.4.0", "amp", 1024, 224, "throughput",
            4217.6, "samples-per-second") in rows
    assert ("rtx3090", "desktop-gpu", "PyTorch", "2.4.0", "amp", 1024, 288, "latency",
            527.881, "ms") in rows
    # benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv
    assert ("i9-10940x", "cpu", "PyTorch", "2.4.0", "fp32", 1, 224, "latency", 14.865,
            "ms") in rows
    assert ("jetson-nano", "edge", None, None, "fp16", 1, 224, "memory-footprint", 410.0,
            "megabytes") in rows
    assert {r[0] for r in rows} == {"rtx4090", "rtx3090", "i9-10940x", "jetson-nano"}
    # results without a device (the reported top-1) are not hardware results
    assert 0.8124 not in column(rows, 8)
    assert ask(zoo, "hardware-results", model="Inception_v3") == [
        ("v100", "server-gpu", None, None, "fp32", 64, None, "top1-accuracy", 0.7573,
         "fraction")]


def test_q16_models_by_preprocessing(zoo: OxigraphStore) -> None:
    # TF-Slim's Inception pre-processing: centre crop 87.5 percent, bilinear resize to 299.
    expected = [(model("mlmodelscope:Inception_v3"), "Inception_v3", 0.875, "bilinear", 299,
                 299)]
    assert ask(zoo, "models-by-preprocessing") == expected
    assert ask(zoo, "models-by-preprocessing", interpolation="BILINEAR") == expected
    # timm's inception_v3.tv_in1k resizes (bicubic, 341 px) before it crops: not a match.
    assert ask(zoo, "models-by-preprocessing", interpolation="bicubic", size=341) == []
    assert ask(zoo, "models-by-preprocessing", crop=0.9) == []


def test_q17_compare_models_side_by_side(zoo: OxigraphStore) -> None:
    assert ask(zoo, "compare-models") == [
        (model("timm:resnet50.a1_in1k"), "resnet50.a1_in1k", "imagenet-1k", 0.8124, 0.95112,
         None, None, None, 25560000),
        (model("timm:resnet50.tv_in1k"), "resnet50.tv_in1k", "imagenet-1k", 0.76156, 0.92866,
         None, None, None, 25560000)]
    rows = ask(zoo, "compare-models", model1="openmmlab:resnet50_8xb32_in1k",
               model2=model("mlmodelscope:TorchVision_ResNet_50"), model3="Inception_v3",
               model4="HuggingFaceH4/zephyr-7b-beta", dataset="ILSVRC2012")
    assert rows == [
        (model("openmmlab:resnet50_8xb32_in1k"), "resnet50_8xb32_in1k", "imagenet-1k", 0.7655,
         0.9306, None, None, None, 25560000),
        (model("mlmodelscope:TorchVision_ResNet_50"), "TorchVision_ResNet_50", "imagenet-1k",
         0.7613, None, None, None, None, None),
        (model("mlmodelscope:Inception_v3"), "Inception_v3", "imagenet-1k", 0.78, 0.939, None,
         None, None, None),
        (hf("HuggingFaceH4/zephyr-7b-beta"), "zephyr-7b-beta", "imagenet-1k", None, None,
         None, None, None, 7241732096)]
    glue = ask(zoo, "compare-models", model1="Intel/bert-base-uncased-mrpc",
               model2="sgugger/glue-mrpc", dataset="glue")
    assert [r[5:8] for r in glue] == [(0.860294118, 0.904201681, None),
                                      (0.855392157, 0.897391304, None)]
    # a model known only as another's previous version gives a row; "none" gives none
    assert ask(zoo, "compare-models", model1="none",
               model2="user:acme/resnet50-birds-v1.1") == [
        (model("user:acme/resnet50-birds-v1.1"), None, "imagenet-1k", None, None, None, None,
         None, None)]


def test_q18_accuracy_latency_pareto_front(zoo: OxigraphStore) -> None:
    rows = ask(zoo, "pareto-front")
    # i9-10940x, batch 1, fp32 (timm CPU benchmark) against timm's ImageNet top-1 at the
    # same image size; resnet18.a1_in1k (7.907 ms, 0.71504) is beaten by
    # mobilenetv3_large_100 (5.659 ms, 0.75784) and so is off the front.
    assert [(r[1], r[3], r[4], r[5]) for r in rows] == [
        (model("timm:mobilenetv3_small_100.lamb_in1k"), 224, 0.67636, 3.991),
        (model("timm:mobilenetv3_large_100.ra_in1k"), 224, 0.75784, 5.659),
        (model("timm:efficientnet_b0.ra_in1k"), 224, 0.77698, 9.945),
        (model("timm:resnet50.a1_in1k"), 224, 0.80382, 14.865),
        (model("timm:resnet50.a1_in1k"), 288, 0.8124, 17.869),
        (model("timm:vit_base_patch16_224.augreg2_in21k_ft_in1k"), 224, 0.85108, 30.879),
        (model("timm:convnext_base.fb_in22k_ft_in1k"), 224, 0.85814, 41.474),
        (model("timm:convnext_base.fb_in22k_ft_in1k"), 288, 0.86302, 67.143),
        (model("timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k"), 448, 0.90056,
         559.708)]
    assert set(column(rows, 0)) == {"i9-10940x"}
    edge = ask(zoo, "pareto-front", hardware_kind="edge")
    assert [(r[0], r[1]) for r in edge] == [
        ("jetson-nano", model("timm:mobilenetv3_large_100.ra_in1k")),
        ("jetson-nano", model("timm:resnet50.a1_in1k")),
        ("jetson-nano", model("timm:vit_base_patch16_224.augreg2_in21k_ft_in1k")),
        ("raspberry-pi-4", model("timm:mobilenetv3_small_100.lamb_in1k")),
        ("raspberry-pi-4", model("timm:efficientnet_b0.ra_in1k"))]
    # GPU step times are for batches of 1024: no latency at batch size 1 there.
    assert ask(zoo, "pareto-front", hardware_kind="desktop-gpu") == []


# --- contract queries ---------------------------------------------------------------------


def test_model_evaluations(zoo: OxigraphStore) -> None:
    a1 = model("timm:resnet50.a1_in1k")
    rows = ask(zoo, "model-evaluations")
    assert len(rows) == 19
    assert {r[0] for r in rows} == {a1}
    assert (a1, "image-classification", "imagenet-1k", "validation", "top1-accuracy", 0.8124,
            "fraction", None, "timm") in rows
    assert (a1, "image-classification", "imagenet-1k", "validation", "top1-accuracy", 0.8036,
            "fraction", "rtx4090", "user") in rows
    assert (a1, None, None, None, "throughput", 4217.6, "samples-per-second", "rtx4090",
            "timm") in rows
    for given in ("timm:resnet50.a1_in1k", a1):
        assert ask(zoo, "model-evaluations", model=given) == rows
    zephyr = ask(zoo, "model-evaluations", model="HuggingFaceH4/zephyr-7b-beta")
    # the card's 12.736921910538287 (percent) is 0.127369..., its toxicity illustrative
    assert (hf("HuggingFaceH4/zephyr-7b-beta"), "text-generation", "gsm8k", "test", "accuracy",
            0.127369219, "fraction", None, "huggingface") in zephyr
    assert ("toxicity-rate", "user") in {(r[4], r[8]) for r in zephyr}
    assert ask(zoo, "model-evaluations", model="no/such-model") == []


def test_model_summary(zoo: OxigraphStore) -> None:
    assert ask(zoo, "model-summary") == [
        (model("timm:resnet50.a1_in1k"), "resnet50.a1_in1k", None, "image-classification",
         "PyTorch", "", "", "imagenet-1k", "timm")]
    zephyr = hf("HuggingFaceH4/zephyr-7b-beta")
    # framework from the training run (the card's Framework versions), one row per dataset
    assert ask(zoo, "model-summary", model="HuggingFaceH4/zephyr-7b-beta") == [
        (zephyr, "zephyr-7b-beta", "beta", "text-generation", "PyTorch", "2.0.1+cu118", "MIT",
         "huggingfaceh4-ultrachat-200k", "huggingface"),
        (zephyr, "zephyr-7b-beta", "beta", "text-generation", "PyTorch", "2.0.1+cu118", "MIT",
         "huggingfaceh4-ultrafeedback-binarized", "huggingface")]
    assert ask(zoo, "model-summary", model="TorchVision_ResNet_50") == [
        (model("mlmodelscope:TorchVision_ResNet_50"), "TorchVision_ResNet_50", "1.0",
         "image-classification", "PyTorch", "1.2", "other", "imagenet-1k", "mlmodelscope")]
    # no software stack: the library name stands for the framework
    assert ask(zoo, "model-summary", model="google/vit-base-patch16-224")[0][3:7] == (
        "image-classification", "transformers", None, "Apache-2.0")
    # a base known only by reference has no summary
    assert ask(zoo, "model-summary", model="mistralai/Mistral-7B-v0.1") == []


# --- the example zoo is real where it says so ----------------------------------------------


def test_example_zoo_matches_timm_csv(zoo: OxigraphStore) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {SHARED_DATA}); it holds the timm "
                    "results the example zoo copies")
    with open(SHARED_DATA / "timm" / "results-imagenet.csv", newline="") as fh:
        published = {(r["model"], int(r["img_size"])): float(r["top1"]) / 100
                     for r in csv.DictReader(fh)}
    rows = zoo.query("""
        PREFIX mlm: <https://w3id.org/mlmeta#>
        SELECT ?id ?size ?v WHERE {
          GRAPH ?g { ?e mlm:rawMetric "top1" ; mlm:value ?v ; mlm:imageSize ?size ;
                        mlm:evaluatedModel ?m }
          ?m mlm:sourceId ?id ; mlm:sourceZoo <https://w3id.org/mlmeta/id/zoo/timm> .
          ?g mlm:illustrative ?flag .
        }""")
    assert isinstance(rows, Rows) and rows.rows == []  # no timm accuracy is illustrative
    rows = zoo.query("""
        PREFIX mlm: <https://w3id.org/mlmeta#>
        SELECT ?id ?size ?v WHERE {
          ?e mlm:rawMetric "top1" ; mlm:value ?v ; mlm:imageSize ?size ; mlm:evaluatedModel ?m .
          ?m mlm:sourceId ?id ; mlm:sourceZoo <https://w3id.org/mlmeta/id/zoo/timm> .
        }""")
    assert isinstance(rows, Rows) and len(rows) >= 10
    for source_id, size, value in rows.rows:
        assert isinstance(source_id, ox.Literal) and isinstance(size, ox.Literal)
        assert isinstance(value, ox.Literal)
        key = (source_id.value, int(size.value))
        assert float(value.value) == pytest.approx(published[key], abs=1e-9), key
