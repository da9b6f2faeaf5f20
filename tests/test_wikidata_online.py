"""Online linking and the federated query against local stand-ins for the Wikidata Query
Service: a real Oxigraph server loaded with a small Wikidata-shaped subset built from
../shared/data (P8814 WordNet ids, English labels, P279 arcs), and a small HTTP server
that answers 429 / 5xx / odd bodies to exercise back-off and errors."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from click.testing import CliRunner
from servers import Server, start_oxigraph, unavailable

from mlmeta.cli import cli
from mlmeta.errors import RemoteStoreError, UsageError
from mlmeta.ingest import ingest
from mlmeta.labelspaces import load_label_spaces
from mlmeta.link import class_statuses, federated_subclasses, link_online
from mlmeta.queries import run_saved_query
from mlmeta.records import ModelRecord, SourceInfo
from mlmeta.store import OxigraphStore, Rows
from mlmeta.wikidata import (
    USER_AGENT,
    LinkCache,
    WikidataClient,
    imagenet_classes,
    imagenet_links,
)

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@dataclass
class Facts:
    """What the stand-in holds, for computing expected answers independently."""

    p8814: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    labels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    p279: set[tuple[str, str]] = field(default_factory=set)

    def with_label(self, text: str) -> set[str]:
        has_parent = {c for c, _ in self.p279}
        return {q for q, ls in self.labels.items() if text in ls and q in has_parent}

    def below(self, root: str) -> set[str]:
        kids: dict[str, set[str]] = defaultdict(set)
        for c, p in self.p279:
            kids[p].add(c)
        out, todo = {root}, [root]
        while todo:
            for c in kids[todo.pop()]:
                if c not in out:
                    out.add(c)
                    todo.append(c)
        return out

    def ntriples(self) -> str:
        def lit(text: str, lang: str | None = None) -> str:
            esc = text.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{esc}"' + (f"@{lang}" if lang else "")

        lines = [f"<{WD}{q}> <{WDT}P8814> {lit(wn)} ." for wn, qs in self.p8814.items()
                 for q in qs]
        lines += [f"<{WD}{q}> <{RDFS_LABEL}> {lit(t, 'en')} ." for q, ts in self.labels.items()
                  for t in ts]
        lines += [f"<{WD}{c}> <{WDT}P279> <{WD}{p}> ." for c, p in self.p279]
        return "\n".join(sorted(lines)) + "\n"


def build_facts(shared: Path) -> Facts:
    """A Wikidata-shaped subset: the published ImageNet table's (item, WordNet 3.1 id,
    label) and the animal arcs as P279."""
    facts = Facts()
    mapping = json.loads((shared / "wikidata" / "imagenet1k_synset_wikidata_mapping.json")
                         .read_text("utf-8"))
    for e in mapping:
        if e["wdid"]:
            facts.p8814[e["wnid"]].add(e["wdid"])
            if e.get("label"):
                facts.labels[e["wdid"]].add(e["label"])
    with open(shared / "wikidata" / "imagenet_animal_wikidata_graph_arcs.csv",
              encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            facts.p279.add((r["child"], r["parent"]))
            facts.labels[r["child"]].add(r["childLabel"])
            facts.labels[r["parent"]].add(r["parentLabel"])
    return facts


@pytest.fixture(scope="module")
def standin(request: pytest.FixtureRequest) -> Iterator[tuple[Server, Facts]]:
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {SHARED_DATA}); the stand-in "
                    "endpoint is built from it")
    facts = build_facts(SHARED_DATA)
    try:
        server = start_oxigraph(union_default_graph=False)
    except RuntimeError as e:
        unavailable(f"cannot start the oxigraph server: {e}")
        raise
    request.addfinalizer(server.stop)
    r = requests.post(server.graph_store_url + "?default", data=facts.ntriples().encode(),
                      headers={"Content-Type": "application/n-triples"}, timeout=30)
    assert r.status_code in (200, 201, 204), r.text
    yield server, facts


def _client(server: Server, tmp_path: Path, **kw: Any) -> WikidataClient:
    return WikidataClient(server.query_url, LinkCache(tmp_path / "cache.json"), **kw)


# --- the client against the stand-in --------------------------------------------------------


def test_items_for_wordnet(standin: tuple[Server, Facts], tmp_path: Path) -> None:
    server, facts = standin
    tench = next(c for c in imagenet_classes() if c.wnid == "n01440764")
    breakwater = next(c for c in imagenet_classes() if c.wnid == "n02894605")
    poodle = next(c for c in imagenet_classes() if c.wnid == "n02113712")  # not in the table
    ids = [tench.wn31, breakwater.wn31, poodle.wn31]
    client = _client(server, tmp_path)
    got = client.items_for_wordnet(ids)
    assert {k: {i.qid for i in v} for k, v in got.items()} == {
        k: set(facts.p8814.get(k, set())) for k in ids}
    assert [i.qid for i in got[tench.wn31]] == ["Q76280"]
    assert got[tench.wn31][0].label == "Tench"
    assert len(got[breakwater.wn31]) == 4 and got[poodle.wn31] == []
    assert client.stats.requests == 1
    client.close()
    # The cache answers a second client, with no request.
    again = _client(server, tmp_path)
    assert again.items_for_wordnet(ids) == got
    assert (again.stats.requests, again.stats.cached) == (0, 3)
    with pytest.raises(UsageError, match="WordNet 3.1"):
        again.items_for_wordnet(["n01440764"])


def test_items_for_labels_and_parents(standin: tuple[Server, Facts], tmp_path: Path) -> None:
    server, facts = standin
    client = WikidataClient(server.query_url, None, batch_size=2)
    texts = ["Dog", "Hound", "Chihuahua", "Tench", "no such label"]
    got = client.items_for_labels(texts)
    assert {k: {i.qid for i in v} for k, v in got.items()} == {
        t: facts.with_label(t) for t in texts}
    assert {i.qid for i in got["Dog"]} == {"Q144"}
    assert client.stats.requests == 3  # five labels in batches of two
    parents = client.parents(["Q144", "Q653", "Q76280"])
    assert {k: {i.qid for i in v} for k, v in parents.items()} == {
        q: {p for c, p in facts.p279 if c == q} for q in ("Q144", "Q653", "Q76280")}
    with pytest.raises(UsageError, match="QID"):
        client.parents(["dog"])


def test_link_online_against_the_standin(standin: tuple[Server, Facts],
                                         tmp_path: Path) -> None:
    server, facts = standin
    client = _client(server, tmp_path)
    result = link_online(client, canonical=False)
    # P8814: every class without an exact link, looked up by its CILI WordNet 3.1 id.
    statuses = {s.class_id: s for s in class_statuses() if s.label_space == "imagenet-1k"}
    lacking = [c for c in imagenet_classes()
               if not any(m.startswith("exact:") for m in statuses[c.wnid].matches)]
    assert len(lacking) == 1000 - 913
    want_wn = {c.wnid: facts.p8814[c.wn31] for c in lacking if facts.p8814.get(c.wn31)}
    got_wn: dict[str, set[str]] = defaultdict(set)
    for _, link in result.links:
        if link.method == "wordnet31-p8814":
            got_wn[link.class_id].add(link.qid)
            assert link.match == ("exact" if len(want_wn[link.class_id]) == 1 else "close")
    assert dict(got_wn) == want_wn
    # Labels: classes with no link at all, by lemma (as written, first letter flipped).
    unlinked = [c for c in lacking if not statuses[c.wnid].matches and c.wnid not in want_wn]
    assert len(unlinked) == 24
    want_lab: dict[str, set[str]] = {}
    for c in unlinked:
        hits: set[str] = set()
        for lemma in c.lemmas:
            for v in {lemma, lemma[0].swapcase() + lemma[1:]}:
                hits |= facts.with_label(v)
        if hits:
            want_lab[c.wnid] = hits
    got_lab: dict[str, set[str]] = defaultdict(set)
    for _, link in result.links:
        if link.method == "label-search" and link.label_space == "imagenet-1k":
            got_lab[link.class_id].add(link.qid)
    assert dict(got_lab) == want_lab
    # Parents are asked for the new items the offline arcs do not cover; in the stand-in
    # only the arcs' own items have P279 parents, so none come back.
    new_items = {link.qid for _, link in result.links if link.match}
    known = {c for c, _ in facts.p279} | {p for _, p in facts.p279}
    assert new_items - known
    assert result.arcs == [(c, p) for c, p in sorted(facts.p279) if c in new_items - known]
    client.close()


def test_link_wikidata_command_online_then_cached(standin: tuple[Server, Facts],
                                                  tmp_path: Path) -> None:
    server, _ = standin
    store, cache = str(tmp_path / "store"), str(tmp_path / "cache.json")
    args = ["--store", store, "link", "wikidata", "--endpoint", server.query_url,
            "--cache", cache, "--format", "csv"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.stderr
    assert ": 0 request(s)" not in first.stderr and Path(cache).is_file()
    rows = list(csv.DictReader(io.StringIO(first.stdout)))
    methods = {r["method"] for r in rows}
    assert "wordnet31-p8814" in methods
    assert all(r["item"].startswith(WD) for r in rows)
    # Nothing new to ask: a rerun is answered from the cache, with the same links.
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.stderr
    assert ": 0 request(s)" in second.stderr
    assert second.stdout == first.stdout
    # The stored online links count in the report.
    report = CliRunner().invoke(cli, ["--store", store, "link", "report", "--with-store",
                                      "--status", "ambiguous", "--format", "csv"])
    assert report.exit_code == 0, report.stderr
    p8814_ambiguous = {r["class_id"] for r in rows
                       if r["method"] == "wordnet31-p8814" and r["status"] == "ambiguous"}
    listed = {r["class_id"] for r in csv.DictReader(io.StringIO(report.stdout))}
    assert p8814_ambiguous <= listed


# --- the federated query ------------------------------------------------------------------


@pytest.fixture
def zoo_store() -> Iterator[OxigraphStore]:
    s = OxigraphStore()
    report = ingest(s, [ModelRecord("resnet50.a1_in1k", SourceInfo("timm"),
                                    label_space="imagenet-1k")], source="test")
    assert report.ok
    load_label_spaces(s)
    yield s
    s.close()


def _expected_dog_classes(facts: Facts) -> set[str]:
    below = facts.below("Q144")
    return {x.class_id for x in imagenet_links() if x.match and x.qid in below}


def test_federated_query_against_the_standin(standin: tuple[Server, Facts],
                                             zoo_store: OxigraphStore) -> None:
    server, facts = standin
    want = _expected_dog_classes(facts)
    assert len(want) == 111
    answer = run_saved_query(zoo_store, "concept-subclasses-federated",
                             {"concept": "Q144", "endpoint": server.query_url})
    assert isinstance(answer, Rows)
    got = {r["class_id"].value for r in answer.dicts() if r["class_id"] is not None}
    assert got == want
    assert {r["name"].value for r in answer.dicts() if r["name"] is not None} == {
        "resnet50.a1_in1k"}
    # The same answer with the concept sent inside the SERVICE block.
    pushed = federated_subclasses(zoo_store, "wd:Q144", server.query_url)
    assert isinstance(pushed, Rows)
    def values(rows: Rows) -> list[tuple[str | None, ...]]:
        return sorted(tuple(None if t is None else t.value for t in r) for r in rows.rows)

    assert pushed.variables == answer.variables
    assert values(pushed) == values(answer)


# --- a small server for rate limits and errors ----------------------------------------------


@dataclass
class Script:
    """What the small server answers, in order; the last answer repeats. ``route``, when
    set, answers instead from the query text."""

    answers: list[tuple[int, dict[str, str], bytes]]
    seen: list[dict[str, Any]] = field(default_factory=list)
    route: Any = None


def _results(rows: list[dict[str, str]]) -> bytes:
    return json.dumps({"head": {"vars": ["key", "item", "label"]}, "results": {"bindings": [
        {k: {"type": "uri" if k == "item" else "literal", "value": v} for k, v in r.items()}
        for r in rows]}}).encode()


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ctype = self.headers.get("Content-Type", "")
            query = (parse_qs(body.decode())["query"][0] if "form" in ctype
                     else body.decode())
            script.seen.append({"headers": dict(self.headers), "query": query})
            if script.route is not None:
                status, headers, payload = 200, {}, script.route(query)
            else:
                i = min(len(script.seen), len(script.answers)) - 1
                status, headers, payload = script.answers[i]
            self.send_response(status)
            for k, v in {"Content-Type": "application/sparql-results+json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/sparql", script
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_backs_off_on_429_honouring_retry_after(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    ok = _results([{"key": "02084071-n", "item": WD + "Q144", "label": "dog"}])
    script.answers = [(429, {"Retry-After": "0"}, b""), (503, {}, b""), (200, {}, ok)]
    waits: list[float] = []
    client = WikidataClient(url, None, sleep=waits.append)
    got = client.items_for_wordnet(["02084071-n"])
    assert [(i.qid, i.label) for i in got["02084071-n"]] == [("Q144", "dog")]
    assert waits == [0.0, 2.0]  # Retry-After, then exponential back-off
    assert client.stats.retries == 2 and len(script.seen) == 3
    assert all(s["headers"]["User-Agent"] == USER_AGENT for s in script.seen)
    assert USER_AGENT.startswith("mlmeta/")
    assert 'VALUES ?key { "02084071-n" }' in script.seen[0]["query"]


def test_gives_up_after_max_retries(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(429, {"Retry-After": "3600"}, b"slow down")]
    waits: list[float] = []
    client = WikidataClient(url, None, max_retries=2, max_wait=1.5, sleep=waits.append)
    with pytest.raises(RemoteStoreError, match="answered 429 3 times") as e:
        client.items_for_labels(["dog"])
    assert e.value.status == 429 and e.value.url == url
    assert waits == [1.5, 1.5]  # Retry-After capped at max_wait


def test_client_errors_are_not_retried(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(400, {"Content-Type": "text/plain"}, b"Parse error")]
    client = WikidataClient(url, None, sleep=lambda _s: None)
    with pytest.raises(RemoteStoreError, match="answered 400: Parse error"):
        client.parents(["Q144"])
    assert len(script.seen) == 1
    script.answers = [(200, {}, b"<html>not json</html>")]
    with pytest.raises(RemoteStoreError, match="did not answer with SPARQL JSON"):
        client.parents(["Q146"])


def test_unreachable_endpoint() -> None:
    from servers import free_port

    waits: list[float] = []
    client = WikidataClient(f"http://127.0.0.1:{free_port()}/sparql", None,
                            timeout=(2.0, 2.0), sleep=waits.append)
    with pytest.raises(RemoteStoreError, match="could not be reached"):
        client.items_for_wordnet(["02084071-n"])
    assert waits == [1.0, 2.0]


def test_federated_subclasses_sends_the_concept_to_the_endpoint(
        scripted: tuple[str, Script], zoo_store: OxigraphStore) -> None:
    url, script = scripted
    script.answers = [(200, {}, json.dumps({"head": {"vars": ["item", "root"]},
                                            "results": {"bindings": []}}).encode())]
    answer = federated_subclasses(zoo_store, "Q144", url)
    assert isinstance(answer, Rows) and answer.rows == []
    (seen,) = script.seen
    assert "VALUES ( ?root ) { ( <http://www.wikidata.org/entity/Q144> )" in seen["query"]
    assert "P279" in seen["query"]
    with pytest.raises(UsageError):
        federated_subclasses(zoo_store, "dog", url)


def test_link_online_follows_parents_of_new_items(scripted: tuple[str, Script]) -> None:
    """A new item's P279 parents are fetched until an item the offline arcs know.

    The endpoint is scripted: Q900000001 to Q900000005 are synthetic ids for this protocol
    test, not Wikidata facts; Q38904 is an item of the shipped arcs. A canonical licence
    found by one label is a close link; two items for one licence's names are ambiguous.
    """
    url, script = scripted
    poodle = next(c for c in imagenet_classes() if c.wnid == "n02113712")

    def route(query: str) -> bytes:
        if "P8814" in query and f'"{poodle.wn31}"' in query:
            return _results([{"key": poodle.wn31, "item": WD + "Q900000001"}])
        if "P279 ?item" in query and "Q900000001>" in query:
            return _results([{"key": "Q900000001", "item": WD + "Q900000002"}])
        if "P279 ?item" in query and "Q900000002>" in query:
            return _results([{"key": "Q900000002", "item": WD + "Q38904", "label": "Poodle"}])
        if '"Apache License 2.0"@en' in query:
            return _results([{"key": "Apache License 2.0", "item": WD + "Q900000003",
                              "label": "Apache License 2.0"}])
        rows = []  # label queries come in batches: answer the labels each one asks for
        if '"mit"@en' in query:
            rows.append({"key": "mit", "item": WD + "Q900000004"})
        if '"MIT License"@en' in query:
            rows.append({"key": "MIT License", "item": WD + "Q900000005"})
        return _results(rows)

    script.route = route
    result = link_online(WikidataClient(url, None), canonical=True)
    links = [(n.value, x.qid, x.match, x.method, x.status) for n, x in result.links]
    concept = "https://w3id.org/mlmeta/id/concept/imagenet-1k/n02113712"
    apache = "https://w3id.org/mlmeta/id/license/Apache-2.0"
    mit = "https://w3id.org/mlmeta/id/license/MIT"
    assert links == [(concept, "Q900000001", "exact", "wordnet31-p8814", "ok"),
                     (apache, "Q900000003", "close", "label-search", "ok"),
                     (mit, "Q900000004", "", "label-search", "ambiguous"),
                     (mit, "Q900000005", "", "label-search", "ambiguous")]
    assert result.arcs == [("Q900000001", "Q900000002"), ("Q900000002", "Q38904")]
    parent_queries = [s["query"] for s in script.seen if "P279 ?item" in s["query"]]
    assert len(parent_queries) == 2  # stops at Q38904, which the offline arcs know


def test_cache_file_survives_and_tolerates_corruption(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.json"
    cache = LinkCache(path)
    cache.put("http://x/sparql", "p8814", "02084071-n", [["Q144", "dog"]])
    cache.save()
    again = LinkCache(path)
    assert again.get("http://x/sparql", "p8814", "02084071-n") == [["Q144", "dog"]]
    assert again.get("http://y/sparql", "p8814", "02084071-n") is None
    path.write_text("{not json", "utf-8")
    assert len(LinkCache(path)) == 0
