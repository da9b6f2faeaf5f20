"""``mlmeta queries`` and ``mlmeta query``: listing, parameter checks, literal binding.

Each CLI call opens the store anew, so the tests share an on-disk store that ``mlmeta
demo`` fills with the example zoo once per module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlmeta import iri
from mlmeta.cli import cli
from mlmeta.queries import saved_queries
from mlmeta.store import OxigraphStore

HOSTILE = [
    "'} ; DROP ALL #",
    '"} ; DROP ALL #',
    "} ; DROP ALL",
    'resnet50.a1_in1k" } UNION { ?model ?p ?o } #',
    "resnet50.a1_in1k> } #",
    "\\\" ) } DELETE WHERE { ?s ?p ?o } #",
    "x\n} ; CLEAR ALL",
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def rows_of(out: str) -> list[dict[str, str]]:
    doc = json.loads(out)
    return [{k: v["value"] for k, v in b.items()} for b in doc["results"]["bindings"]]


def quad_count(store_dir: Path) -> int:
    store = OxigraphStore(store_dir, read_only=True)
    try:
        return len(store.raw)
    finally:
        del store


@pytest.fixture(scope="module")
def zoo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query-cli") / "store"
    code, out, err = run("--store", str(path), "demo")
    assert code == 0, err
    # the demo prints a few saved queries' answers
    assert "$ mlmeta query models-trained-on" in out
    assert "eva02_large_patch14_448.mim_m38m_ft_in22k_in1k" in out
    assert "$ mlmeta query lineage-up --model HuggingFaceH4/zephyr-7b-beta" in out
    assert "mistralai%2FMistral-7B-v0.1" in out
    return path


def test_queries_lists_every_saved_query_with_title_and_parameters() -> None:
    code, out, _ = run("queries", "--format", "json")
    assert code == 0
    listed = {r["name"]: r for r in rows_of(out)}
    saved = saved_queries()
    assert set(listed) == set(saved)
    for name, q in saved.items():
        assert listed[name]["title"] == q.title
        for p in q.params:
            assert f"--{p.name.replace('_', '-')} " in listed[name]["parameters"]
    assert "--min FLOAT (default 0.9)" in listed["models-trained-on"]["parameters"]


def test_query_prints_the_declared_columns(zoo_store: Path) -> None:
    code, out, err = run("--store", str(zoo_store), "query", "lineage-up", "--model",
                         "mlabonne/NeuralBeagle14-7B", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["head"]["vars"] == ["model", "relation", "depth"]
    assert [(r["relation"], r["depth"]) for r in rows_of(out)] == [
        ("finetune", "1"), ("merge", "2"), ("merge", "2"), ("derived", "3")]
    code, out, _ = run("--store", str(zoo_store), "query", "models-trained-on", "--dataset",
                       "ILSVRC 2012", "--metric=acc@1", "--min", "0.8", "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].strip() == "model,dataset,metric,value"
    assert len(lines) == 1 + 8


def test_an_unknown_parameter_is_a_usage_error_listing_the_valid_ones(zoo_store: Path) -> None:
    code, out, err = run("--store", str(zoo_store), "query", "models-trained-on", "--datset",
                         "ImageNet")
    assert code == 2
    assert out == ""
    assert "has no parameter 'datset'" in err
    assert "--dataset STRING (default ImageNet)" in err
    assert "--metric STRING (default top-1)" in err
    assert "--min FLOAT (default 0.9)" in err


@pytest.mark.parametrize(("query", "param", "value", "what"), [
    ("models-trained-on", "--min", "ninety", "a number"),
    ("models-trained-on", "--min", "nan", "a finite number"),
    ("text-classifiers-crowdsourced", "--min-annotators", "50.5", "a whole number"),
    ("pareto-front", "--batch-size", "one", "a whole number"),
    ("edge-ready-classifiers", "--max-params", "1e9x", "a whole number"),
])
def test_a_malformed_value_is_a_usage_error(zoo_store: Path, query: str, param: str,
                                            value: str, what: str) -> None:
    code, out, err = run("--store", str(zoo_store), "query", query, param, value)
    assert code == 2, err
    assert out == ""
    assert f"takes {what}, not {value!r}" in err
    assert "valid parameters:" in err


def test_an_unknown_query_is_named_with_the_known_ones() -> None:
    code, _, err = run("query", "models-trained-onn")
    assert code != 0
    assert "no saved query named 'models-trained-onn'" in err
    assert "models-trained-on" in err


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_only_ever_match_literally(zoo_store: Path, value: str) -> None:
    before = quad_count(zoo_store)
    for query, param in (("model-evaluations", "--model"), ("lineage-up", "--model"),
                         ("models-trained-on", "--dataset"), ("best-model", "--concept"),
                         ("reported-vs-measured", "--model"),
                         ("datasets-depicting", "--source2")):
        code, out, err = run("--store", str(zoo_store), "query", query, f"{param}={value}",
                             "--format", "json")
        assert code == 0, (query, err)
        assert rows_of(out) == [], query
    assert quad_count(zoo_store) == before


def test_a_hostile_id_is_found_as_itself(zoo_store: Path, tmp_path: Path) -> None:
    """A model whose id is made of SPARQL syntax is matched by exactly that id."""
    store = tmp_path / "store"
    shutil.copytree(zoo_store, store)
    hostile = "evil/x'} ; DROP ALL #\"y"
    record = tmp_path / "evil.json"
    record.write_text(json.dumps({"records": [{
        "type": "model", "id": hostile, "tasks": ["image-classification"],
        "trained_on": ["ImageNet"],
        "evaluations": [{"metric": "top1", "value": 0.991, "dataset": "ImageNet"}],
        "source": {"illustrative": True, "note": "a test record"}}]}), "utf-8")
    code, _, err = run("--store", str(store), "add", str(record))
    assert code == 0, err
    before = quad_count(store)
    evil = iri.model("user", hostile).value
    code, out, err = run("--store", str(store), "query", "model-evaluations",
                         f"--model={hostile}", "--format", "json")
    assert code == 0, err
    assert [(r["model"], r["dataset"], r["metric"], r["value"]) for r in rows_of(out)] == [
        (evil, "imagenet-1k", "top1-accuracy", "0.991")]
    # one character less, or more, matches nothing
    for near in (hostile[:-1], hostile + " ", hostile.upper()):
        code, out, _ = run("--store", str(store), "query", "model-evaluations",
                           f"--model={near}", "--format", "json")
        assert code == 0 and rows_of(out) == [], near
    # the injected text did not run: every quad is still there
    assert quad_count(store) == before
    code, out, _ = run("--store", str(store), "query", "models-trained-on", "--format", "json")
    assert [r["model"] for r in rows_of(out)] == [
        evil, iri.model("timm", "eva02_large_patch14_448.mim_m38m_ft_in22k_in1k").value]
