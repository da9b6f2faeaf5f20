"""Every fact of ../shared/data/huggingface/model_cards/EXPECTED_FACTS.json is in the
graph after a crawl of the local Hub (tests/hubserver.py) that serves those cards.

The crawl goes through the real path: huggingface_hub's HTTP stack against the
server, the tolerant parser, mapping, SHACL validation and an Oxigraph store. The
test then walks the whole file and looks each fact up with SPARQL:

- ``license`` -> ``mlm:rawLicense`` (each item of a list);
- ``pipeline_tag`` -> ``mlm:task`` to a task labelled (or aliased) with it;
- ``library_name`` -> ``mlm:libraryName``;
- ``datasets`` -> ``mlm:trainedOn`` a dataset with that ``mlm:sourceName``;
- ``base_model`` -> a lineage property (finetunedFrom, adapterOf, quantizedFrom,
  mergedFrom, distilledFrom, derivedFrom) to that model;
- ``eval_results`` -> exactly that multiset of ``mlm:Evaluation`` nodes: raw value
  (verbatim), raw metric (the type, else the name), raw dataset (the type, else the
  name), split, config, raw task (the type, else the name) and metric name.

``model_index_name`` and the huggingface_hub comparison are parser facts with no place
in the graph; test_hf_cards.py checks them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from hubserver import HubServer, fixture_models
from mlmeta.crawlers.crawl_state import CrawlState
from mlmeta.crawlers.hf_client import HubClient, RetryPolicy
from mlmeta.crawlers.huggingface import Crawler, CrawlOptions

from mlmeta import iri
from mlmeta.store import OxigraphStore, Rows

PREFIX = """PREFIX mlm: <https://w3id.org/mlmeta#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
FIX = Path(__file__).resolve().parent / "fixtures" / "huggingface" / "model_info"
LINEAGE = ("finetunedFrom", "adapterOf", "quantizedFrom", "mergedFrom", "distilledFrom",
           "derivedFrom")


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    from conftest import SHARED_DATA

    path = SHARED_DATA / "huggingface" / "model_cards" / "EXPECTED_FACTS.json"
    if not path.is_file():
        pytest.skip(f"../shared/data is absent (looked for {path}); it holds the expected "
                    "facts this test walks")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OxigraphStore, Any]]:
    """One crawl of the repos of every fixture card (cards with a thousand results
    included) and of one real body with a base-model tag."""
    store = OxigraphStore()
    cards = {f.stem.replace("__", "/") for f in (FIX.parent / "cards").glob("*.md")}
    repos = [r for r in fixture_models(parser_cards=False)
             if r.id in cards or r.id == "HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1"]
    assert len(repos) == 37
    with HubServer(repos, page_size=25) as hub:
        state = CrawlState(tmp_path_factory.mktemp("state") / "hf.json", {"all": True})
        with HubClient(endpoint=hub.url, token="", rate=1000,
                       policy=RetryPolicy(retries=1, backoff=0.05)) as client:
            summary = Crawler(store, client, CrawlOptions(everything=True), state).run()
        n = len(hub.models)
    assert summary.counts == {"seen": n, "stored": n, "unchanged": 0, "rejected": 0,
                              "failed": 0}
    yield store, summary
    store.close()


def rows(store: OxigraphStore, sparql: str, **subs: ox.NamedNode | ox.Literal,
         ) -> list[tuple[str | None, ...]]:
    answer = store.query(PREFIX + sparql, subs)
    assert isinstance(answer, Rows)
    return [tuple(t.value if t is not None else None for t in r) for r in answer.rows]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _model(store: OxigraphStore, repo_id: str) -> ox.NamedNode:
    found = rows(store, "SELECT ?m WHERE { ?m a mlm:Model ; mlm:sourceId ?id }",
                 id=ox.Literal(repo_id))
    assert len(found) == 1, repo_id
    return ox.NamedNode(str(found[0][0]))


def test_every_card_fact_is_in_the_graph(crawled: tuple[OxigraphStore, Any],
                                         expected: dict[str, Any]) -> None:
    store, _ = crawled
    cards = expected["cards"]
    assert len(cards) == 36
    evaluations_checked = 0
    for card in cards:
        rid = card["repo_id"]
        m = _model(store, rid)
        licences = {r[0] for r in rows(store, "SELECT ?l WHERE { ?m mlm:rawLicense ?l }", m=m)}
        want = card["license"]
        for lic in (want if isinstance(want, list) else [want] if want else []):
            assert lic in licences, (rid, "license", lic)
        if card["pipeline_tag"]:
            labels = {str(r[0]).lower() for r in rows(store, """SELECT ?l WHERE {
                ?m mlm:task ?t . ?t rdfs:label|mlm:alias|mlm:canonicalId ?l }""", m=m)}
            assert card["pipeline_tag"].lower() in labels, (rid, "pipeline_tag")
        if card["library_name"]:
            assert rows(store, "SELECT ?l WHERE { ?m mlm:libraryName ?l }", m=m) == [
                (card["library_name"],)], (rid, "library_name")
        trained = {r[0] for r in rows(store, """SELECT ?n WHERE {
            ?m mlm:trainedOn ?d . ?d mlm:sourceName ?n }""", m=m)}
        for d in card["datasets"]:
            assert d in trained, (rid, "datasets", d)
        for base in card["base_model"]:
            props = {str(r[0]).rsplit("#", 1)[1] for r in rows(
                store, "SELECT ?p WHERE { ?m ?p ?b }", m=m, b=iri.model("huggingface", base))}
            assert props & set(LINEAGE), (rid, "base_model", base)
        got = Counter(rows(store, """SELECT ?raw ?metric ?dataset ?split ?config ?task ?name
            WHERE { ?e mlm:evaluatedModel ?m ; a mlm:Evaluation ; mlm:rawValue ?raw ;
                       mlm:rawMetric ?metric .
              OPTIONAL { ?e mlm:rawDataset ?dataset } OPTIONAL { ?e mlm:split ?split }
              OPTIONAL { ?e mlm:datasetConfig ?config } OPTIONAL { ?e mlm:rawTask ?task }
              OPTIONAL { ?e mlm:metricName ?name } }""", m=m))
        want_evals = Counter(
            (str(e["value"]), _text(e["metric_type"] or e["metric_name"]),
             _text(e["dataset_type"] or e["dataset_name"]), _text(e["dataset_split"]),
             _text(e["dataset_config"]), _text(e["task_type"] or e["task_name"]),
             _text(e["metric_name"]))
            for e in card["eval_results"])
        assert sum(want_evals.values()) == card["eval_result_count"]
        assert got == want_evals, rid
        evaluations_checked += card["eval_result_count"]
    assert evaluations_checked == sum(c["eval_result_count"] for c in cards) > 2000


def test_values_are_normalised_beside_the_raw_ones(crawled: tuple[OxigraphStore, Any]) -> None:
    """Percent and fraction meet: wav2vec2's 'Test WER 19.06' is 0.1906; nateraw's
    accuracy 0.977... stays a fraction; sb3's '233.56 +/- 53.89' has a value and a
    deviation."""
    store, _ = crawled
    cases = [("jonatasgrosman/wav2vec2-large-xlsr-53-english", "Test WER", 0.1906, None),
             ("nateraw/vit-base-beans", "Accuracy", 0.9774436090225563, None),
             ("sb3/ppo-LunarLander-v2", "mean_reward", 233.56, 53.89)]
    for rid, name, value, dev in cases:
        got = rows(store, """SELECT ?v ?sd WHERE { ?e mlm:evaluatedModel ?m ;
            mlm:metricName ?name ; mlm:value ?v OPTIONAL { ?e mlm:valueStdDev ?sd } }""",
                   m=_model(store, rid), name=ox.Literal(name))
        assert len(got) == 1
        assert float(str(got[0][0])) == pytest.approx(value)
        assert (None if got[0][1] is None else float(got[0][1])) == dev


def test_real_bodies_are_in_the_graph_too(crawled: tuple[OxigraphStore, Any]) -> None:
    """Facts of the real model_info bodies: sha as the source version, parameter count,
    the Hub's base-model relation tag."""
    store, _ = crawled
    body = json.loads((FIX / "models__HuggingFaceH4__zephyr-orpo-141b-A35b-v0.1.json").read_text())
    m = _model(store, body["id"])
    assert rows(store, """SELECT ?v ?n WHERE { ?m mlm:parameterCount ?n .
        GRAPH ?g { ?g mlm:describes ?m ; mlm:sourceVersion ?v } }""", m=m) == [
        (body["sha"], str(body["safetensors"]["total"]))]
    assert rows(store, "SELECT ?b WHERE { ?m mlm:finetunedFrom ?b }", m=m) == [
        (iri.model("huggingface", "mistral-community/Mixtral-8x22B-v0.1").value,)]
