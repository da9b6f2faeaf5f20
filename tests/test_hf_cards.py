"""Tolerant parsing of Hugging Face cards and API bodies (no network)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from mlmeta.crawlers.hf_cards import (
    card_facts,
    load_yaml_mapping,
    parse_card,
    parse_eval_results,
    parse_model_index,
    split_front_matter,
)
from mlmeta.crawlers.hf_records import (
    base_model_id,
    concepts_from_id2label,
    dataset_record,
    model_record,
)

from mlmeta.ingest import prepare
from mlmeta.mapping import map_record
from mlmeta.records import ModelRecord

FIX = Path(__file__).resolve().parent / "fixtures" / "huggingface"


def _body(name: str) -> dict[str, Any]:
    return json.loads((FIX / "model_info" / name).read_text("utf-8"))


def _card(path: Path, warn: list[str] | None = None) -> dict[str, Any] | None:
    return parse_card(path.read_bytes().decode("utf-8"), (warn if warn is not None else []).append)


# --- every card of EXPECTED_FACTS.json -------------------------------------------------------


def test_every_expected_fact_is_parsed(shared_data: Path) -> None:
    """The parser's facts equal EXPECTED_FACTS.json for every card, read from the full
    real README files (prose included)."""
    hf = shared_data / "huggingface"
    expected = json.loads((hf / "model_cards" / "EXPECTED_FACTS.json").read_text("utf-8"))
    assert len(expected["cards"]) == 36
    for entry in expected["cards"]:
        warnings: list[str] = []
        facts = card_facts(_card(hf / entry["file"], warnings), warnings.append).as_expected()
        for key, value in facts.items():
            assert value == entry[key], (entry["repo_id"], key)


def test_fixture_cards_keep_the_front_matter(shared_data: Path) -> None:
    """The committed fixture cards (front matter + placeholder) parse exactly like the
    real cards they were cut from."""
    hf = shared_data / "huggingface"
    for sub, fix_sub in (("model_cards", "cards"), ("dataset_cards", "dataset_cards"),
                         ("card_parser_fixtures", "parser_cards")):
        real = sorted((hf / sub).glob("*.md"))
        assert real
        for f in real:
            assert _card(FIX / fix_sub / f.name) == _card(f), f.name


# --- front matter -------------------------------------------------------------------------


def test_front_matter_rules() -> None:
    lead = _card(FIX / "cards" / "keremberke__yolov5m-license-plate.md")
    assert lead is not None and lead["library_name"] == "yolov5"  # whitespace line first
    crlf = _card(FIX / "parser_cards" / "sample_windows_line_breaks.md")
    assert crlf == {"license": "mit", "language": "eo", "thumbnail":
                    "https://huggingface.co/blog/assets/01_how-to-train/EsperBERTo-thumbnail-v2.png",
                    "widget": [{"text": "Jen la komenco de bela <mask>."},
                               {"text": "Uno du <mask>"},
                               {"text": "Jen finiĝas bela <mask>."}]}
    assert _card(FIX / "parser_cards" / "sample_no_metadata.md") is None
    warnings: list[str] = []
    assert _card(FIX / "parser_cards" / "sample_invalid_card_data.md", warnings) is None
    assert warnings == ["front matter: is a list, not a mapping of keys; ignored"]
    assert split_front_matter("no front matter\n---\na: 1\n---\n") == (
        None, "no front matter\n---\na: 1\n---\n")


def test_broken_yaml_keeps_the_keys_that_parse() -> None:
    text = ("---\nlicense: mit\ntags:\n- a\n- b\nbase_model: [org/x, \n"
            "library_name: timm\n---\nbody\n")
    warnings: list[str] = []
    card = parse_card(text, warnings.append)
    assert card == {"license": "mit", "tags": ["a", "b"], "library_name": "timm"}
    assert warnings[0].startswith("front matter: not valid YAML (")
    assert warnings[1].startswith("front matter.base_model: not valid YAML (")
    assert warnings[1].endswith("at line 6, column 1); dropped")


def test_yaml_12_booleans_like_the_hub() -> None:
    assert load_yaml_mapping("language:\n- 'nl'\n- no\n- en\nflag: true\n") == {
        "language": ["nl", "no", "en"], "flag": True}
    assert load_yaml_mapping("date: 2024-01-02\n") == {"date": "2024-01-02"}


# --- model-index ----------------------------------------------------------------------------


def test_legacy_key_and_singular_metric() -> None:
    facts = card_facts(_card(FIX / "cards" / "avneet__distilbert-base-uncased-finetuned-sst2.md"))
    assert facts.model_index_key == "model_index"
    assert [e.as_dict() for e in facts.eval_results] == [{
        "task_type": "text-classification", "task_name": "Text Classification",
        "dataset_type": "glue", "dataset_name": "glue", "dataset_config": None,
        "dataset_split": None, "metric_type": "accuracy", "metric_name": "Accuracy",
        "value": 0.9151376146788991}]


def test_model_index_mapping_and_missing_dataset() -> None:
    warnings: list[str] = []
    name, facts = parse_model_index({"name": "x"}, warnings.append)
    assert (name, facts) == ("x", [])
    assert warnings == ["model-index: is a mapping, not a list of models; read as one entry",
                        "model-index[0]: has no results"]
    warnings.clear()
    spacy = card_facts(_card(FIX / "cards" / "spacy__xx_ent_wiki_sm.md"), warnings.append)
    assert [e.metric_type for e in spacy.eval_results] == ["precision", "recall", "f_score"]
    assert all(e.dataset_type is None for e in spacy.eval_results)
    assert warnings == ["model-index[0].results[0].dataset: missing; the results are kept "
                        "without a dataset"]


def test_odd_model_index_shapes_warn_and_keep_the_rest() -> None:
    mi = [
        "not an entry",
        {"name": "m", "results": [
            7,
            {"task": "text-classification", "dataset": {"type": "imdb", "name": "IMDB"},
             "metrics": [{"type": "accuracy", "value": 93.1}, "acc", {"type": "f1"}]},
            {"metrics": {"type": "wer", "value": "12 %"}},
            {"dataset": {"type": "x"}, "metrics": "accuracy"},
        ]},
    ]
    warnings: list[str] = []
    name, facts = parse_model_index(mi, warnings.append)
    assert name is None  # the first entry has no name
    assert [(f.task_type, f.dataset_type, f.metric_type, f.value) for f in facts] == [
        ("text-classification", "imdb", "accuracy", 93.1),
        ("text-classification", "imdb", "f1", None),
        (None, None, "wer", "12 %")]
    assert warnings == [
        "model-index[0]: a str is not a model entry; skipped",
        "model-index[1].results[0]: a int is not a result; skipped",
        "model-index[1].results[1].task: is a string, not a mapping; read as its type",
        "model-index[1].results[1].metrics[1]: a str is not a metric; skipped",
        "model-index[1].results[2].dataset: missing; the results are kept without a dataset",
        "model-index[1].results[3].metrics: a str is not a list of metrics; skipped",
    ]


def test_new_eval_results_format() -> None:
    items = [
        {"filename": ".eval_results/gpqa.yaml",
         "data": {"dataset": {"id": "Idavidrein/gpqa", "task_id": "gpqa_diamond"},
                  "value": 0.412, "notes": "no-tools",
                  "source": {"url": "https://example.org/logs", "org": "cais"}}},
        {"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9,
         "date": "2025-01-15"},
        {"filename": ".eval_results/bad.yaml", "error": "invalid YAML"},
        {"dataset": {"id": "x/y", "task_id": "t"}},
    ]
    warnings: list[str] = []
    facts = parse_eval_results(items, warnings.append)
    assert [(f.dataset_id, f.task_id, f.value) for f in facts] == [
        ("Idavidrein/gpqa", "gpqa_diamond", 0.412), ("cais/hle", "default", 20.9)]
    assert warnings == ["evalResults[2]: the Hub could not read .eval_results/bad.yaml: "
                        "invalid YAML; skipped", "evalResults[3].value: missing; skipped"]
    rec = model_record({"id": "org/m", "sha": "1", "evalResults": items})
    assert rec is not None
    assert [(e.metric, e.metric_name, e.dataset, e.value, e.reported_by, e.date)
            for e in rec.evaluations] == [
        ("gpqa_diamond", "gpqa_diamond (no-tools)", "Idavidrein/gpqa", 0.412, "cais", None),
        ("default", "default", "cais/hle", 20.9, None, "2025-01-15")]


# --- records from real API bodies -----------------------------------------------------------


def test_model_record_from_a_real_body() -> None:
    body = _body("models__HuggingFaceH4__zephyr-7b-beta.json")
    warnings: list[str] = []
    rec = model_record(body, warn=warnings.append)
    assert rec is not None and warnings == []
    assert rec.source_id == "HuggingFaceH4/zephyr-7b-beta"
    assert rec.source.url == "https://huggingface.co/HuggingFaceH4/zephyr-7b-beta"
    assert rec.source.version == body["sha"]
    assert rec.parameter_count == body["safetensors"]["total"] == 7241732096
    assert rec.license == "mit" and rec.tasks == ["text-generation"]
    assert [(x.base, x.relation, x.raw_relation) for x in rec.derived_from] == [
        ("mistralai/Mistral-7B-v0.1", "finetune", "finetune")]
    assert rec.trained_on[:2] == body["cardData"]["datasets"]
    assert len(rec.evaluations) == sum(len(r["metrics"]) for r in body["model-index"][0]["results"])
    assert rec.created is not None and rec.created.year == 2023
    assert rec.gated is False and rec.downloads == body["downloads"]


def test_renamed_base_model_follows_the_hub_tags() -> None:
    warnings: list[str] = []
    rec = model_record(_body("models__meta-llama__Llama-3.1-8B-Instruct.json"),
                       warn=warnings.append)
    assert rec is not None
    assert [(x.base, x.relation) for x in rec.derived_from] == [
        ("meta-llama/Llama-3.1-8B", "finetune")]
    assert warnings == ["base_model[0]: 'meta-llama/Meta-Llama-3.1-8B' is not among the Hub's "
                        "resolved base models (meta-llama/Llama-3.1-8B); the Hub's ids are used"]
    assert rec.gated == "manual"


def test_base_model_paths_urls_and_relations() -> None:
    warnings: list[str] = []
    assert base_model_id("./checkpoint-500", "base_model[0]", warnings.append) is None
    assert base_model_id("/home/me/out", "base_model[1]", warnings.append) is None
    assert base_model_id("C:\\models\\x", "base_model[2]", warnings.append) is None
    assert base_model_id("https://huggingface.co/org/name", "base_model[3]",
                         warnings.append) == "org/name"
    assert base_model_id("not an id", "base_model[4]", warnings.append) is None
    assert warnings == [
        "base_model[0]: './checkpoint-500' is a local path, not a model id; dropped",
        "base_model[1]: '/home/me/out' is a local path, not a model id; dropped",
        "base_model[2]: 'C:\\\\models\\\\x' is a local path, not a model id; dropped",
        "base_model[3]: 'https://huggingface.co/org/name' is a URL; read as the repo id "
        "'org/name'",
        "base_model[4]: 'not an id' is not a Hub model id; dropped"]
    gguf = model_record({"id": "me/x-GGUF", "cardData": {"base_model": "org/x"}})
    assert gguf is not None and [(x.base, x.relation) for x in gguf.derived_from] == [
        ("org/x", "quantized")]
    merge = model_record({"id": "me/m", "cardData": {"base_model": ["a/x", "b/y"]}})
    assert merge is not None and {x.relation for x in merge.derived_from} == {"merge"}
    explicit = model_record({"id": "me/a", "cardData": {"base_model": "a/x",
                                                         "base_model_relation": "adapter"}})
    assert explicit is not None and explicit.derived_from[0].relation == "adapter"


def test_licence_list_and_tags() -> None:
    card = _card(FIX / "cards" / "eaddario__gemma-3-12b-it-pruned-GGUF.md")
    rec = model_record({"id": "eaddario/gemma-3-12b-it-pruned-GGUF", "sha": "1"}, card=card)
    assert rec is not None and rec.license == ["gemma"]
    from_tags = model_record({"id": "a/b", "tags": ["license:apache-2.0", "dataset:imdb"]})
    assert from_tags is not None and from_tags.license == "apache-2.0"
    assert from_tags.trained_on == ["imdb"]


def test_messy_values_are_kept_verbatim_with_specific_warnings() -> None:
    cards = {name: _card(FIX / "cards" / f"{name}.md") for name in (
        "sb3__ppo-LunarLander-v2", "danieladejumo__darknet-coco-object_detection",
        "keremberke__yolov5m-license-plate", "Intel__dpt-large", "osanseviero__titanic_mlconsole")}
    out: dict[str, tuple[ModelRecord, list[str]]] = {}
    for name, card in cards.items():
        warnings: list[str] = []
        rec = model_record({"id": name.replace("__", "/"), "sha": "1"}, card=card,
                           warn=warnings.append)
        assert rec is not None
        out[name] = (rec, warnings)
    sb3 = out["sb3__ppo-LunarLander-v2"][0].evaluations[0]
    assert (sb3.metric, sb3.value, sb3.dataset) == ("mean_reward", "233.56 +/- 53.89",
                                                    "LunarLander-v2")
    dn, dn_w = out["danieladejumo__darknet-coco-object_detection"]
    assert (dn.evaluations[0].metric, dn.evaluations[0].value) == ("None", "1")
    assert dn_w == ["model-index[0].results[0].metrics[0].type: 'None' is a placeholder, "
                    "not a metric; kept as given"]
    assert out["keremberke__yolov5m-license-plate"][1] == [
        "model-index[0].results[0].metrics[0]: type 'precision' and name 'mAP@0.5' name "
        "different metrics; the type is used"]
    dpt, dpt_w = out["Intel__dpt-large"]
    assert dpt.evaluations[0].dataset == "MIX 6"
    assert dpt_w == ["model-index[0].results[0].dataset.type: 'MIX 6' is not a Hub dataset "
                     "id; kept as given"]
    tit, tit_w = out["osanseviero__titanic_mlconsole"]
    assert [e.dataset for e in tit.evaluations] == ["train.csv", "train.csv"]
    assert tit_w == ["model-index[0].results[0].dataset.type: 'train.csv' is a file name, not "
                     "a Hub dataset id; kept as given"] * 2  # one per metric; the crawler dedupes
    # The mapping reads the raw values: '233.56 +/- 53.89' has a value and a deviation.
    mapped = map_record(out["sb3__ppo-LunarLander-v2"][0])
    values = {(q.predicate.value.rsplit("#", 1)[1], q.object.value) for q in mapped.quads
              if q.predicate.value.endswith(("#value", "#valueStdDev", "#rawValue"))}
    assert values == {("value", "233.56"), ("valueStdDev", "53.89"),
                      ("rawValue", "233.56 +/- 53.89")}


def test_label_space_from_id2label() -> None:
    warnings: list[str] = []
    concepts = concepts_from_id2label({"2": "healthy", "0": "angular_leaf_spot", "x": "?",
                                       "1": "bean_rust", "3": None}, warnings.append)
    assert [(c.label, c.class_id, c.index) for c in concepts] == [
        ("angular_leaf_spot", "0", 0), ("bean_rust", "1", 1), ("healthy", "2", 2)]
    assert warnings == ["config.id2label: key 'x' is not a class index; skipped",
                        "config.id2label[3]: None is not a label; skipped"]
    config = json.loads((FIX / "configs" / "nateraw__vit-base-beans.json").read_text())
    rec = model_record({"id": "nateraw/vit-base-beans", "pipeline_tag": "image-classification"},
                       config=config)
    assert rec is not None and [c.label for c in rec.concepts] == [
        "angular_leaf_spot", "bean_rust", "healthy"]
    assert rec.label_space is None


def test_dataset_records_old_and_new_cards() -> None:
    legacy = _card(FIX / "dataset_cards" / "imdb.2022-05-legacy-keys.md")
    rec = dataset_record({"id": "imdb", "sha": "1"}, card=legacy)
    assert rec is not None
    assert (rec.name, rec.license, rec.languages, rec.size_category) == (
        "IMDB", "other", ["en"], "10K<n<100K")
    assert rec.tasks == ["text-classification"] and rec.task_ids == ["sentiment-classification"]
    assert rec.source_datasets == [] and rec.paperswithcode_id == "imdb-movie-reviews"
    assert rec.source.url == "https://huggingface.co/datasets/imdb"
    lambada_card = _card(FIX / "dataset_cards" / "EleutherAI__lambada_openai.2023.md")
    lambada = dataset_record({"id": "EleutherAI/lambada_openai"}, card=lambada_card)
    assert lambada is not None and lambada.source_datasets == ["lambada"]
    assert [(s.name, s.num_examples) for s in lambada.splits][:2] == [
        ("default/test", 5153), ("de/test", 5153)]
    simple = dataset_record({"id": "me/seg"},
                            card=_card(FIX / "parser_cards" / "sample_datasetcard_simple.md"))
    assert simple is not None
    assert (simple.license, simple.annotation_creators, simple.tasks, simple.name) == (
        "bsd-3-clause", ["crowdsourced", "expert-generated"], ["image-segmentation"],
        "Sample Segmentation")


# --- never crash ---------------------------------------------------------------------------


def _junk(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 3 else 6)
    if pick < 6:
        return [None, True, -3, 2.5, "x", "org/name"][pick]
    if pick == 6:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    if pick == 7:
        return {"type": _junk(rng, depth + 1), "value": _junk(rng, depth + 1),
                "dataset": _junk(rng, depth + 1), "metrics": _junk(rng, depth + 1)}
    return {"results": _junk(rng, depth + 1), "name": "n", "data": _junk(rng, depth + 1)}


def test_no_input_makes_the_parser_crash() -> None:
    """Random shapes in every field of a body and its card: a record (or None) and
    warnings, never an exception, and the record maps."""
    rng = random.Random(4)
    fields = ["id", "sha", "tags", "cardData", "model-index", "safetensors", "config",
              "evalResults", "downloads", "likes", "gated", "createdAt", "lastModified",
              "pipeline_tag", "library_name", "author"]
    card_fields = ["license", "datasets", "base_model", "base_model_relation", "model-index",
                   "model_index", "tags", "language", "pipeline_tag", "library_name"]
    made = 0
    for i in range(400):
        body: dict[str, Any] = {f: _junk(rng) for f in fields if rng.random() < 0.6}
        body["cardData"] = {f: _junk(rng) for f in card_fields if rng.random() < 0.7}
        if i % 2:
            body["id"] = f"org/m{i}"
        warnings: list[str] = []
        rec = model_record(body, warn=warnings.append)
        if rec is not None:
            map_record(rec)
            made += 1
        drec = dataset_record(body, card={f: _junk(rng) for f in
                                          ("license", "language", "task_categories",
                                           "size_categories", "dataset_info")},
                              warn=warnings.append)
        if drec is not None:
            map_record(drec)
    assert made >= 200


@pytest.mark.parametrize("name", sorted(p.name for p in (FIX / "model_info").glob("*.json")))
def test_every_real_body_makes_a_conforming_record(name: str) -> None:
    rec = model_record(_body(name))
    assert rec is not None
    _, report = prepare([rec])
    assert report.rejected == {}, report.rejected
