"""``mlmeta crawl huggingface`` against a local Hub (tests/hubserver.py) on 127.0.0.1.

The real huggingface_hub HTTP stack talks to the server through HF_ENDPOINT; the
store is a real Oxigraph store on disk. Faults (429 with RateLimit, 500s, timeouts,
dropped connections, a crawl killed with SIGKILL) are injected by the server.
"""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from hubserver import Fault, HubServer, Repo, fixture_datasets, fixture_models
from mlmeta.crawlers.crawl_state import CrawlState
from mlmeta.crawlers.hf_client import PoliteTransport, RetryPolicy, TokenBucket

from mlmeta.cli import cli
from mlmeta.store import OxigraphStore, Rows

REPO = Path(__file__).resolve().parents[1]
FAST = ["--rate", "1000", "--backoff", "0.05", "--timeout", "5"]
PREFIX = "PREFIX mlm: <https://w3id.org/mlmeta#>\n"


@pytest.fixture(scope="module")
def small_models() -> list[Repo]:
    """The fixture repos without the two cards of a thousand results (kept for the
    expected-facts test) and those of more than ten, so a crawl here takes about a second."""
    return fixture_models(max_results=10)


@pytest.fixture
def hub(small_models: list[Repo]) -> Iterator[HubServer]:
    import copy

    with HubServer([copy.deepcopy(r) for r in small_models], fixture_datasets(),
                   page_size=10) as srv:
        yield srv


@dataclass
class Outcome:
    exit_code: int
    output: str


def run_cli(args: list[str], env: dict[str, str] | None = None) -> Outcome:
    """Run the CLI in-process. Only the exit code and output are kept: a failed run's
    traceback would keep the store object (and its directory lock) alive."""
    result = CliRunner().invoke(cli, args, env=env)
    out = Outcome(result.exit_code, result.output)
    del result
    gc.collect()
    return out


def keep(hub: HubServer, n: int) -> None:
    """Serve only the first ``n`` model repos (crawls that page a lot stay quick)."""
    hub.models = dict(list(hub.models.items())[:n])


def crawl(hub: HubServer, store: Path, *args: str, env: dict[str, str] | None = None,
          ) -> Outcome:
    return run_cli(["--store", str(store), "crawl", "huggingface", *FAST, *args],
                   env={"HF_ENDPOINT": hub.url, "HF_TOKEN": "", **(env or {})})


def graphs_per_model(store_dir: Path) -> dict[str, int]:
    s = OxigraphStore(store_dir, read_only=True)
    try:
        answer = s.query(PREFIX + """
            SELECT ?id (COUNT(DISTINCT ?g) AS ?n) WHERE {
              GRAPH ?g { ?g mlm:describes ?m . ?m a mlm:Model ; mlm:sourceId ?id } }
            GROUP BY ?id""")
        assert isinstance(answer, Rows)
        return {r[0].value: int(r[1].value) for r in answer.rows}  # type: ignore[union-attr]
    finally:
        s.close()


def select(store_dir: Path, sparql: str, **subs: ox.NamedNode | ox.Literal,
           ) -> list[tuple[Any, ...]]:
    s = OxigraphStore(store_dir, read_only=True)
    try:
        answer = s.query(PREFIX + sparql, subs)
        assert isinstance(answer, Rows)
        return [tuple(t.value if t is not None else None for t in r) for r in answer.rows]
    finally:
        s.close()


def list_requests(hub: HubServer) -> list[str]:
    return [e.query for e in hub.log if e.path == "/api/models"]


# --- the transport, without a server ------------------------------------------------------


def test_token_bucket_spaces_requests_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    bucket.acquire(not_before=now[0] + 10)  # a rate-limit pause wins over the rate
    assert slept[-1] == 10.0


def _transport(responses: list[Any], retries: int = 3) -> tuple[PoliteTransport, list[float]]:
    slept: list[float] = []
    answers = iter(responses)

    def handler(request: httpx2.Request) -> httpx2.Response:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    t = PoliteTransport(httpx2.MockTransport(handler), TokenBucket(1e9),
                        RetryPolicy(retries=retries, backoff=1.0), sleep=slept.append)
    return t, slept


def test_transport_honours_ratelimit_retry_after_and_backs_off() -> None:
    ok = httpx2.Response(200, json=[])
    t, slept = _transport([
        httpx2.Response(429, headers={"RateLimit": '"api";r=0;t=7',
                                      "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}),
        httpx2.Response(503, headers={"Retry-After": "3"}),
        httpx2.Response(500),
        ok])
    with httpx2.Client(transport=t) as c:
        assert c.get("http://hub.test/api/models").status_code == 200
    assert slept == [7.0, 3.0, 4.0]  # RateLimit t, Retry-After, then 1 s doubled twice
    t, slept = _transport([httpx2.Response(429, headers={"Retry-After": "2"}),
                           httpx2.Response(500), httpx2.Response(502)], retries=2)
    with httpx2.Client(transport=t) as c:
        assert c.get("http://hub.test/x").status_code == 502  # gives up, caller raises
    assert slept == [2.0, 2.0]
    t, slept = _transport([httpx2.ConnectError("down"), httpx2.ReadTimeout("slow"),
                           httpx2.ConnectError("down")], retries=2)
    with httpx2.Client(transport=t) as c, pytest.raises(httpx2.ConnectError):
        c.get("http://hub.test/x")
    assert slept == [1.0, 2.0]


# --- the server speaks the Hub API ---------------------------------------------------------


def test_huggingface_hub_hfapi_reads_the_local_hub(hub: HubServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub's own HfApi pages through the server's listing and reads repo info:
    the server speaks the API the crawler is written for."""
    from huggingface_hub import HfApi, constants

    # Its user agent would otherwise fetch an agent registry from huggingface.co.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    hub.page_size = 2
    api = HfApi(endpoint=hub.url, token=False)
    listed = [m.id for m in api.list_models(author="Intel", expand=["sha", "cardData"])]
    assert sorted(listed) == sorted(i for i in hub.models if i.startswith("Intel/"))
    assert len(listed) == 3 and len(list_requests(hub)) == 2
    info = api.model_info("google/vit-base-patch16-224")
    assert info.sha == hub.models["google/vit-base-patch16-224"].body["sha"]
    assert info.card_data is not None and info.card_data.license == "apache-2.0"


# --- crawling ------------------------------------------------------------------------------


def test_pagination_stores_every_repo_once(hub: HubServer, tmp_path: Path) -> None:
    keep(hub, 22)
    hub.page_size = 4
    n = len(hub.models)
    r = crawl(hub, tmp_path / "s", "--all")
    assert r.exit_code == 0, r.output
    assert f"seen {n}, stored {n}, unchanged 0, rejected 0, failed 0" in r.output
    assert len(list_requests(hub)) == math.ceil(n / 4)
    assert graphs_per_model(tmp_path / "s") == dict.fromkeys(hub.models, 1)


def test_429_with_ratelimit_header_is_waited_out(hub: HubServer, tmp_path: Path) -> None:
    hub.inject(Fault(429, {"RateLimit": '"api";r=0;t=1',
                           "RateLimit-Policy": '"fixed window";"api";q=500;w=300'},
                     match="/api/models?"))
    r = crawl(hub, tmp_path / "s", "--author", "Intel")
    assert r.exit_code == 0, r.output
    assert "HTTP 429; rate limited (RateLimit t=1), retrying in 1.0 s (1/5)" in r.output
    assert [e.status for e in hub.log if e.path == "/api/models"] == [429, 200]
    assert len(graphs_per_model(tmp_path / "s")) == 3


def test_500s_are_retried_with_backoff(hub: HubServer, tmp_path: Path) -> None:
    hub.inject(Fault(500, match="/api/models?", times=2))
    r = crawl(hub, tmp_path / "s", "--author", "Intel")
    assert r.exit_code == 0, r.output
    assert [e.status for e in hub.log if e.path == "/api/models"] == [500, 500, 200]
    assert "HTTP 500; backing off, retrying in 0.1 s (2/5)" in r.output


def test_timeouts_are_retried(hub: HubServer, tmp_path: Path) -> None:
    hub.inject(Fault(delay=1.5, match="/api/models/google/vit-base-patch16-224"))
    r = crawl(hub, tmp_path / "s", "google/vit-base-patch16-224", "--timeout", "0.3")
    assert r.exit_code == 0, r.output
    assert "ReadTimeout; retrying" in r.output
    assert len(hub.requests_to("/api/models/google/vit-base-patch16-224")) == 2
    assert graphs_per_model(tmp_path / "s") == {"google/vit-base-patch16-224": 1}


def test_persistent_errors_stop_the_crawl_and_resume_continues(hub: HubServer,
                                                               tmp_path: Path) -> None:
    keep(hub, 20)
    hub.page_size = 4
    n = len(hub.models)
    hub.inject(Fault(500, match="cursor=", times=2))
    r = crawl(hub, tmp_path / "s", "--all", "--retries", "1")
    assert r.exit_code == 1
    assert "Error: listing /api/models?" in r.output and "cursor=" in r.output
    assert "--resume" in r.output
    assert sum(graphs_per_model(tmp_path / "s").values()) == 4  # the first page
    r = crawl(hub, tmp_path / "s", "--all", "--resume")
    assert r.exit_code == 0, r.output
    assert "resuming the crawl started" in r.output
    assert f"seen {n}, stored {n}, unchanged 0" in r.output
    assert graphs_per_model(tmp_path / "s") == dict.fromkeys(hub.models, 1)
    assert sum(1 for q in list_requests(hub) if "cursor=" not in q) == 1  # page 1 once


def test_network_loss_then_resume(hub: HubServer, tmp_path: Path) -> None:
    keep(hub, 20)
    hub.page_size = 5
    hub.inject(Fault(disconnect=True, match="cursor=", times=3))
    r = crawl(hub, tmp_path / "s", "--all", "--retries", "2")
    assert r.exit_code == 1
    assert "did not answer (RemoteProtocolError) after retries" in r.output
    r = crawl(hub, tmp_path / "s", "--all", "--resume")
    assert r.exit_code == 0, r.output
    assert graphs_per_model(tmp_path / "s") == dict.fromkeys(hub.models, 1)


def test_unchanged_skipped_and_changed_replaced(hub: HubServer, tmp_path: Path) -> None:
    store = tmp_path / "s"
    r = crawl(hub, store, "--author", "Intel")
    assert "seen 3, stored 3, unchanged 0" in r.output
    before = len(hub.log)
    r = crawl(hub, store, "--author", "Intel")
    assert r.exit_code == 0 and "seen 3, stored 0, unchanged 3" in r.output
    assert [e.path for e in hub.log[before:]] == ["/api/models"]  # no README, no config
    card = json.loads(json.dumps(hub.models["Intel/dpt-large"].body["cardData"]))
    card["model-index"][0]["results"][0]["metrics"][0]["value"] = 11.5
    hub.update("Intel/dpt-large", "f" * 40, cardData=card)
    r = crawl(hub, store, "--author", "Intel")
    assert r.exit_code == 0 and "seen 3, stored 1, unchanged 2" in r.output
    model = ox.NamedNode("https://w3id.org/mlmeta/id/model/huggingface/Intel%2Fdpt-large")
    rows = select(store, """SELECT ?raw ?v WHERE {
        ?e mlm:evaluatedModel ?m ; mlm:rawValue ?raw .
        GRAPH ?g { ?g mlm:describes ?m ; mlm:sourceVersion ?v } }""", m=model)
    assert rows == [("11.5", "f" * 40)]  # the old value is gone with the old graph
    assert graphs_per_model(store) == {"Intel/dpt-large": 1, "Intel/bert-base-uncased-mrpc": 1,
                                       "Intel/neural-chat-7b-v3-1": 1}


def test_limit_and_since(hub: HubServer, tmp_path: Path) -> None:
    hub.page_size = 4
    r = crawl(hub, tmp_path / "a", "--limit", "5")
    assert r.exit_code == 0 and "seen 5, stored 5" in r.output
    assert len(list_requests(hub)) == 1 and "limit=5" in list_requests(hub)[0]
    assert sum(graphs_per_model(tmp_path / "a").values()) == 5
    newer = {i for i, r in hub.models.items() if (r.body.get("lastModified") or "") >= "2024-06"}
    assert 0 < len(newer) < len(hub.models)
    r = crawl(hub, tmp_path / "b", "--since", "2024-06-01")
    assert r.exit_code == 0, r.output
    assert set(graphs_per_model(tmp_path / "b")) == newer
    assert "sort=lastModified" in list_requests(hub)[-1]


def test_named_ids_resume_after_losing_the_network(hub: HubServer, tmp_path: Path) -> None:
    ids = ["google/vit-base-patch16-224", "Intel/dpt-large", "nateraw/vit-base-beans"]
    hub.inject(Fault(disconnect=True, match="/api/models/Intel/dpt-large", times=2))
    r = crawl(hub, tmp_path / "s", *ids, "--batch-size", "1", "--retries", "1")
    assert r.exit_code == 1 and "did not answer" in r.output
    assert set(graphs_per_model(tmp_path / "s")) == {ids[0]}
    r = crawl(hub, tmp_path / "s", *ids, "--batch-size", "1", "--resume")
    assert r.exit_code == 0, r.output
    assert "seen 3, stored 3" in r.output  # the counts carry over from the first run
    assert graphs_per_model(tmp_path / "s") == dict.fromkeys(ids, 1)
    assert len(hub.requests_to("/api/models/google/vit-base-patch16-224")) == 1


def test_named_ids_and_a_missing_one(hub: HubServer, tmp_path: Path) -> None:
    r = crawl(hub, tmp_path / "s", "google/vit-base-patch16-224", "nobody/missing")
    assert r.exit_code == 1
    assert "failed: huggingface:nobody/missing: no such model on the Hub" in r.output
    assert "seen 2, stored 1, unchanged 0, rejected 0, failed 1" in r.output
    assert graphs_per_model(tmp_path / "s") == {"google/vit-base-patch16-224": 1}


def test_invalid_records_are_reported_and_not_stored(hub: HubServer, tmp_path: Path) -> None:
    hub.models["bad/negative"] = Repo({"id": "bad/negative", "sha": "1", "downloads": -5})
    hub.models["bad/no-id"] = Repo({"sha": "2", "tags": ["odd"]})
    r = crawl(hub, tmp_path / "s", "--filter", "odd")
    assert r.exit_code == 1
    assert "rejected: huggingface:? (a listing item), field 'id': the item has no repo id" \
        in r.output
    r = crawl(hub, tmp_path / "s", "bad/negative", "google/vit-base-patch16-224")
    assert r.exit_code == 1
    assert "rejected: huggingface:bad/negative" in r.output
    assert "record 'huggingface:bad/negative', field 'downloads'" in r.output
    assert graphs_per_model(tmp_path / "s") == {"google/vit-base-patch16-224": 1}


def test_malformed_cards_give_specific_warnings(hub: HubServer, tmp_path: Path) -> None:
    broken = b"---\nlicense: mit\nbase_model: [./ckpt, \ntags:\n- x\n---\nbody\n"
    hub.models["hf-parser-fixtures/broken-yaml"] = Repo(
        {"id": "hf-parser-fixtures/broken-yaml", "sha": "3", "tags": []}, {"README.md": broken})
    hub.models["hf-parser-fixtures/local-base"] = Repo(
        {"id": "hf-parser-fixtures/local-base", "sha": "4",
         "cardData": {"base_model": ["./checkpoint-500", "org/real-base"], "license": ["mit"]}})
    r = crawl(hub, tmp_path / "s", "--author", "hf-parser-fixtures")
    assert r.exit_code == 0, r.output
    expected = [
        "warning: huggingface:hf-parser-fixtures/sample_invalid_card_data: README.md front "
        "matter: is a list, not a mapping of keys; ignored",
        "warning: huggingface:hf-parser-fixtures/sample_invalid_model_index: "
        "model-index[0].results[0].dataset: missing; the results are kept without a dataset",
        "warning: huggingface:hf-parser-fixtures/broken-yaml: README.md front matter: not "
        "valid YAML (",
        "warning: huggingface:hf-parser-fixtures/broken-yaml: README.md front "
        "matter.base_model: not valid YAML (",
        "warning: huggingface:hf-parser-fixtures/local-base: base_model[0]: './checkpoint-500' "
        "is a local path, not a model id; dropped",
    ]
    for line in expected:
        assert line in r.output, line
    stored = graphs_per_model(tmp_path / "s")
    assert len(stored) == 8 and set(stored.values()) == {1}
    rows = select(tmp_path / "s", """SELECT ?id ?lic WHERE { ?m mlm:sourceId ?id ;
        mlm:rawLicense ?lic FILTER(STRSTARTS(?id, "hf-parser")) } ORDER BY ?id""")
    assert rows == [("hf-parser-fixtures/broken-yaml", "mit"),
                    ("hf-parser-fixtures/local-base", "mit"),
                    ("hf-parser-fixtures/sample_invalid_model_index", "mit"),
                    ("hf-parser-fixtures/sample_simple", "mit"),
                    ("hf-parser-fixtures/sample_simple_model_index", "mit"),
                    ("hf-parser-fixtures/sample_windows_line_breaks", "mit")]
    bases = select(tmp_path / "s", """SELECT ?b WHERE { ?m mlm:sourceId ?id ;
        mlm:finetunedFrom ?b }""", id=ox.Literal("hf-parser-fixtures/local-base"))
    assert bases == [("https://w3id.org/mlmeta/id/model/huggingface/org%2Freal-base",)]


def test_datasets_crawl(hub: HubServer, tmp_path: Path) -> None:
    r = crawl(hub, tmp_path / "s", "--datasets", "--all")
    assert r.exit_code == 0, r.output
    n = len(hub.datasets)
    assert f"datasets: seen {n}, stored {n}" in r.output
    rows = select(tmp_path / "s", """SELECT ?lang ?lic ?size WHERE {
        ?d mlm:sourceId "imdb-legacy" ; mlm:language ?lang ; mlm:rawLicense ?lic ;
           mlm:sizeCategory ?size }""")
    assert rows == [("en", "other", "10K<n<100K")]
    # The imagenet-1k dataset repo is the canonical ImageNet-1k entity.
    rows = select(tmp_path / "s", """SELECT ?name WHERE { GRAPH ?g {
        <https://w3id.org/mlmeta/id/dataset/imagenet-1k> mlm:name ?name } }""")
    assert rows == [("ImageNet",)]


def test_token_never_reaches_the_graph_logs_or_exports(hub: HubServer, tmp_path: Path) -> None:
    secret = "secret-token-xyz"
    store = tmp_path / "s"
    r = crawl(hub, store, "--author", "google", "--task", "image-classification",
              env={"HF_TOKEN": secret})
    assert r.exit_code == 0, r.output
    assert {e.authorization for e in hub.log} == {f"Bearer {secret}"}
    exported = run_cli(["--store", str(store), "export", "--format", "trig"])
    assert exported.exit_code == 0 and "vit-base-patch16-224" in exported.output
    assert secret not in exported.output and secret not in r.output
    for f in store.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_model_evaluations_answer_over_crawled_data(hub: HubServer, tmp_path: Path) -> None:
    rid = "jonatasgrosman/wav2vec2-large-xlsr-53-english"
    r = crawl(hub, tmp_path / "s", rid)
    assert r.exit_code == 0, r.output
    s = OxigraphStore(tmp_path / "s", read_only=True)
    try:
        if (REPO / "queries" / "model-evaluations.rq").is_file():
            from mlmeta.queries import run_saved_query

            answer = run_saved_query(s, "model-evaluations", {"model": rid})
        else:  # the saved query is another helper's; the same question inline meanwhile
            answer = s.query(PREFIX + """
                SELECT ?dataset ?metric ?value WHERE {
                  ?m mlm:sourceId ?id . ?e mlm:evaluatedModel ?m ; mlm:onDataset ?dataset ;
                     mlm:metric ?metric ; mlm:value ?value }""", {"id": ox.Literal(rid)})
    finally:
        s.close()
    assert isinstance(answer, Rows)
    rows = answer.dicts()
    assert len(rows) == 8
    by_metric: dict[str, list[float]] = {}
    for row in rows:
        metric, dataset, value = row["metric"], row["dataset"], row["value"]
        assert metric is not None and dataset is not None and value is not None
        by_metric.setdefault(metric.value.rsplit("/", 1)[-1], []).append(float(value.value))
        assert dataset.value.rsplit("/", 1)[-1] in ("common-voice",
                                                    "speech-recognition-community-v2-dev-data")
    # WER 19.06 (percent) is the fraction 0.1906.
    assert sorted(by_metric["wer"]) == pytest.approx([0.1481, 0.1906, 0.2085, 0.2772])
    assert sorted(by_metric["cer"]) == pytest.approx([0.0684, 0.0769, 0.1101, 0.1165])


def test_label_space_becomes_concepts(hub: HubServer, tmp_path: Path) -> None:
    r = crawl(hub, tmp_path / "s", "nateraw/vit-base-beans")
    assert r.exit_code == 0, r.output
    rows = select(tmp_path / "s", """SELECT ?i ?label WHERE { ?m mlm:sourceId ?id ;
        mlm:canPredict ?c . ?c mlm:classIndex ?i ; <http://www.w3.org/2004/02/skos/core#prefLabel>
        ?label } ORDER BY ?i""", id=ox.Literal("nateraw/vit-base-beans"))
    assert rows == [("0", "angular_leaf_spot"), ("1", "bean_rust"), ("2", "healthy")]


def test_usage_errors(hub: HubServer, tmp_path: Path) -> None:
    r = crawl(hub, tmp_path / "s")
    assert r.exit_code == 2 and "give repo ids, or a selector" in r.output
    r = crawl(hub, tmp_path / "s", "org/x", "--author", "y")
    assert r.exit_code == 2 and "not both" in r.output


# --- kill -9 in the middle, then --resume ----------------------------------------------------


def test_killed_crawl_resumes_with_an_exact_count(hub: HubServer, tmp_path: Path) -> None:
    store = tmp_path / "s"
    keep(hub, 24)
    n = len(hub.models)
    hub.page_size = 5
    hub.slow_after, hub.slow_seconds = 4, 0.1
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": "", "MLMETA_STORE": str(store),
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    args = [sys.executable, "-m", "mlmeta.cli", "crawl", "huggingface", "--all",
            "--batch-size", "2", *FAST]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    state_dir = store / "crawl-state"
    deadline = time.monotonic() + 60
    seen = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            for f in state_dir.glob("*.json"):
                st = CrawlState.load(f)
                seen = st.counts["stored"] if st else 0
            if seen >= 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    stored_before = graphs_per_model(store)
    assert 6 <= sum(stored_before.values()) < n and set(stored_before.values()) == {1}
    hub.slow_after = None
    r = run_cli(["--store", str(store), "crawl", "huggingface", "--all", "--batch-size", "2",
                 "--resume", *FAST], env={"HF_ENDPOINT": hub.url, "HF_TOKEN": ""})
    assert r.exit_code == 0, r.output
    assert "resuming the crawl started" in r.output
    assert graphs_per_model(store) == dict.fromkeys(hub.models, 1)
    st = CrawlState.load(next(state_dir.glob("*.json")))
    assert st is not None and st.finished and st.counts["seen"] == n
    assert st.counts["stored"] + st.counts["unchanged"] == n
    # Each model once: one graph, one mlm:Model node per repo id, nothing else.
    rows = select(store, "SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a mlm:Model ; "
                         "mlm:sourceZoo <https://w3id.org/mlmeta/id/zoo/huggingface> ; "
                         "mlm:sourceId ?id }")
    assert rows == [(str(n),)]
