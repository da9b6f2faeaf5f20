"""Wikidata for mlmeta: the shipped link tables, and a polite client for the Query Service.

The tables (``mlmeta/data/imagenet1k_*.csv``, ``coco_wikidata.csv``,
``wikidata_hierarchy.csv``, ``wikidata_sources.csv``) are generated from public data by
``tools/build_wikidata_tables.py``; every QID in them is copied from a source table,
with how the link was made (``method``), how sure it is (``confidence``) and what is
known to be wrong with it (``status``).

:class:`WikidataClient` looks up what the tables lack on a SPARQL endpoint (the
Wikidata Query Service, or a mirror standing in for it): items by WordNet 3.1 synset id
(property P8814), items by English label, and P279 (subclass of) parents. It sends a
descriptive User-Agent, batches ids into ``VALUES`` blocks, caches every answer in a
JSON file, sets timeouts, and backs off on 429 / 5xx honouring ``Retry-After``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import pyoxigraph as ox
import requests

from mlmeta import __version__
from mlmeta.errors import RemoteStoreError, UsageError
from mlmeta.ingest import batches

WDQS_ENDPOINT = "https://query.wikidata.org/sparql"
WD_ENTITY = "http://www.wikidata.org/entity/"
USER_AGENT = (f"mlmeta/{__version__} (https://w3id.org/mlmeta; links ML model label spaces "
              f"to Wikidata) python-requests/{requests.__version__}")
QID_RE = re.compile(r"^Q[1-9][0-9]*$")
WN31_RE = re.compile(r"^[0-9]{8}-[nvasr]$")


# --- the shipped tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImageNetClass:
    """One ImageNet-1k class: output index, WordNet 3.0 id, lemmas, CILI bridge."""

    index: int
    wnid: str
    label: str
    lemmas: tuple[str, ...]
    keras_label: str
    ili: str  # Collaborative Interlingual Index id, "i42861"
    wn31: str  # WordNet 3.1 synset id through CILI, "01443405-n"
    subsets: tuple[str, ...]  # "imagenet-a", "imagenet-r"


@dataclass(frozen=True)
class Link:
    """One candidate link of one class to a Wikidata item (``qid`` empty: none known).

    ``match`` is ``exact``, ``close`` or empty (no SKOS link is asserted); ``status``
    is ``ok``, ``ambiguous``, ``ambiguous-resolved``, ``candidate-rejected``,
    ``cili-disagrees``, ``label-match``, ``no-item`` or ``missing``.
    """

    label_space: str
    class_id: str
    qid: str
    match: str
    method: str
    confidence: float | None
    status: str
    source: str
    item_label: str = ""
    evidence: str = ""
    table_wn31: str = ""


@dataclass(frozen=True)
class CocoClass:
    """A COCO thing class (``kind == "class"``) or a COCO supercategory."""

    kind: str
    id: str  # the COCO category id ("18"), or "supercategory/animal"
    name: str
    supercategory: str


@dataclass(frozen=True)
class Arc:
    """A broader/narrower arc between two Wikidata items, child -> parent."""

    child: str
    parent: str
    child_label: str
    parent_label: str
    source: str


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("mlmeta.data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _conf(text: str) -> float | None:
    return float(text) if text else None


@cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 ImageNet-1k classes in output order."""
    out = []
    for r in _rows("imagenet1k_classes.csv"):
        out.append(ImageNetClass(
            int(r["index"]), r["wnid"], r["label"], tuple(r["lemmas"].split("|")),
            r["keras_label"], r["ili"], r["wn31"],
            tuple(s for s in r["subsets"].split("|") if s)))
    return tuple(out)


@cache
def imagenet_links() -> tuple[Link, ...]:
    """Every ImageNet-1k link row (several per class when the source gave candidates)."""
    return tuple(
        Link("imagenet-1k", r["wnid"], r["qid"], r["match"], r["method"], _conf(r["confidence"]),
             r["status"], r["source"], r["wd_label"], r["evidence"], r["table_wn31"])
        for r in _rows("imagenet1k_wikidata.csv"))


@cache
def coco_classes() -> tuple[CocoClass, ...]:
    """The 80 COCO thing classes and their supercategories."""
    return tuple(CocoClass(r["kind"], r["id"], r["name"], r["supercategory"])
                 for r in _rows("coco_wikidata.csv"))


@cache
def coco_links() -> tuple[Link, ...]:
    """One link row per COCO class and supercategory."""
    return tuple(
        Link("coco", r["id"], r["qid"], r["match"], r["method"], _conf(r["confidence"]),
             r["status"], r["source"], r["name"], r["evidence"])
        for r in _rows("coco_wikidata.csv"))


@cache
def hierarchy_arcs() -> tuple[Arc, ...]:
    """The broader/narrower arcs among Wikidata items that the graph knows offline."""
    return tuple(Arc(r["child"], r["parent"], r["child_label"], r["parent_label"], r["source"])
                 for r in _rows("wikidata_hierarchy.csv"))


@cache
def source_urls() -> dict[str, str]:
    """Source key (the tables' ``source`` column) -> the URL of the file at its commit."""
    return {r["key"]: r["url"] for r in _rows("wikidata_sources.csv")}


# --- the cache ------------------------------------------------------------------------------


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/mlmeta/wikidata-cache.json`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlmeta" / "wikidata-cache.json"


class LinkCache:
    """Answers of earlier lookups, by endpoint, kind and key, kept in a JSON file.

    A corrupt or unreadable file is ignored (and rewritten on :meth:`save`).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, list[list[str]]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text("utf-8"))
                if isinstance(loaded, dict):
                    self._data = {k: v for k, v in loaded.get("answers", {}).items()
                                  if isinstance(v, list)}
            except (OSError, ValueError):
                self._data = {}

    @staticmethod
    def key(endpoint: str, kind: str, value: str) -> str:
        return f"{endpoint}\x1f{kind}\x1f{value}"

    def get(self, endpoint: str, kind: str, value: str) -> list[list[str]] | None:
        return self._data.get(self.key(endpoint, kind, value))

    def put(self, endpoint: str, kind: str, value: str, answer: list[list[str]]) -> None:
        self._data[self.key(endpoint, kind, value)] = answer
        self.dirty = True

    def __len__(self) -> int:
        return len(self._data)

    def save(self) -> None:
        """Write the cache file (atomically) if anything changed.

        :raises OSError: if the file cannot be written.
        """
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "answers": self._data}, sort_keys=True),
                       "utf-8")
        tmp.replace(self.path)
        self.dirty = False


# --- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A Wikidata item found by a lookup, with its English label when it has one."""

    qid: str
    label: str = ""


@dataclass
class ClientStats:
    """What a client did: requests sent, answers served from the cache, retries."""

    requests: int = 0
    cached: int = 0
    retries: int = 0
    waited: float = 0.0
    errors: list[str] = field(default_factory=list)


def _values(terms: Iterable[ox.NamedNode | ox.Literal]) -> str:
    # pyoxigraph serialises (and escapes) each term; no raw text reaches the query.
    return " ".join(str(t) for t in terms)


class WikidataClient:
    """Batched, cached, rate-limit-aware lookups on a Wikidata-shaped SPARQL endpoint.

    :param endpoint: the SPARQL endpoint (default: the Wikidata Query Service).
    :param cache: where earlier answers are kept (None: no cache).
    :param batch_size: ids per request (one ``VALUES`` block).
    :param timeout: (connect, read) seconds for each request.
    :param max_retries: retries on 429 and 5xx answers before giving up.
    :param max_connect_retries: retries when the endpoint cannot be reached at all.
    :param max_wait: the longest single back-off, in seconds (``Retry-After`` included).
    :param sleep: how to wait (tests pass a recorder; default :func:`time.sleep`).
    :raises UsageError: if the endpoint is not an http(s) URL or the batch size is < 1.
    """

    def __init__(self, endpoint: str = WDQS_ENDPOINT, cache: LinkCache | None = None, *,
                 batch_size: int = 100, timeout: tuple[float, float] = (10.0, 60.0),
                 max_retries: int = 5, max_connect_retries: int = 2,
                 max_wait: float = 120.0,
                 user_agent: str = USER_AGENT,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise UsageError(f"the endpoint {endpoint!r} is not an http(s) URL")
        if batch_size < 1:
            raise UsageError(f"the batch size must be at least 1, not {batch_size}")
        self.endpoint = endpoint
        self.cache = cache if cache is not None else LinkCache(None)
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_connect_retries = max_connect_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = ClientStats()
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": user_agent,
                                     "Accept": "application/sparql-results+json"})

    # -- lookups ---------------------------------------------------------------------------

    def items_for_wordnet(self, synsets: Iterable[str]) -> dict[str, list[Item]]:
        """Items whose P8814 (WordNet 3.1 synset id) is each id, e.g. ``"02084071-n"``.

        :raises UsageError: for an id that is not of the form ``NNNNNNNN-p``.
        :raises RemoteStoreError: if the endpoint keeps failing.
        """
        ids = sorted(set(synsets))
        for s in ids:
            if not WN31_RE.match(s):
                raise UsageError(f"{s!r} is not a WordNet 3.1 synset id like '02084071-n'")
        return self._lookup("p8814", ids, self._wordnet_query)

    def items_for_labels(self, labels: Iterable[str], lang: str = "en"
                         ) -> dict[str, list[Item]]:
        """Class-like items (with a P279 or P171 parent) whose label is exactly each text.

        :raises RemoteStoreError: if the endpoint keeps failing.
        """
        texts = sorted({t.strip() for t in labels if t.strip()})
        return self._lookup(f"label@{lang}", texts,
                            lambda chunk: self._label_query(chunk, lang))

    def parents(self, qids: Iterable[str]) -> dict[str, list[Item]]:
        """The direct P279 (subclass of) parents of each item.

        :raises UsageError: for a value that is not a QID.
        :raises RemoteStoreError: if the endpoint keeps failing.
        """
        ids = sorted(set(qids))
        for q in ids:
            if not QID_RE.match(q):
                raise UsageError(f"{q!r} is not a Wikidata QID like 'Q144'")
        return self._lookup("p279", ids, self._parents_query)

    # -- queries ---------------------------------------------------------------------------

    @staticmethod
    def _wordnet_query(chunk: Sequence[str]) -> str:
        return ("PREFIX wdt: <http://www.wikidata.org/prop/direct/>\n"
                "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                "SELECT ?key ?item ?label WHERE {\n"
                f"  VALUES ?key {{ {_values(ox.Literal(s) for s in chunk)} }}\n"
                "  ?item wdt:P8814 ?key .\n"
                "  OPTIONAL { ?item rdfs:label ?label . FILTER(LANG(?label) = \"en\") }\n"
                "}")

    @staticmethod
    def _label_query(chunk: Sequence[str], lang: str) -> str:
        return ("PREFIX wdt: <http://www.wikidata.org/prop/direct/>\n"
                "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                "SELECT ?key ?item ?label WHERE {\n"
                f"  VALUES ?text {{ {_values(ox.Literal(s, language=lang) for s in chunk)} }}\n"
                "  ?item rdfs:label ?text .\n"
                "  FILTER EXISTS { ?item wdt:P279|wdt:P171 ?parent }\n"
                "  BIND(STR(?text) AS ?key) BIND(?text AS ?label)\n"
                "}")

    @staticmethod
    def _parents_query(chunk: Sequence[str]) -> str:
        return ("PREFIX wdt: <http://www.wikidata.org/prop/direct/>\n"
                "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                "SELECT ?key ?item ?label WHERE {\n"
                f"  VALUES ?child {{ {_values(ox.NamedNode(WD_ENTITY + q) for q in chunk)} }}\n"
                "  ?child wdt:P279 ?item .\n"
                "  BIND(STRAFTER(STR(?child), \"http://www.wikidata.org/entity/\") AS ?key)\n"
                "  OPTIONAL { ?item rdfs:label ?label . FILTER(LANG(?label) = \"en\") }\n"
                "}")

    # -- machinery -------------------------------------------------------------------------

    def _lookup(self, kind: str, keys: Sequence[str],
                build: Callable[[Sequence[str]], str]) -> dict[str, list[Item]]:
        out: dict[str, list[Item]] = {}
        todo: list[str] = []
        for k in keys:
            hit = self.cache.get(self.endpoint, kind, k)
            if hit is None:
                todo.append(k)
            else:
                self.stats.cached += 1
                out[k] = [Item(q, label) for q, label in hit]
        for chunk in batches(todo, self.batch_size):
            found: dict[str, dict[str, str]] = {k: {} for k in chunk}
            for row in self.select(build(chunk)):
                key, item = row.get("key", ""), row.get("item", "")
                if key not in found or not item.startswith(WD_ENTITY):
                    continue
                qid = item[len(WD_ENTITY):]
                if not QID_RE.match(qid):
                    continue
                label = row.get("label", "")
                if label or qid not in found[key]:
                    found[key][qid] = label
            for k in chunk:
                answer = [[q, found[k][q]] for q in sorted(found[k], key=_qid_order)]
                self.cache.put(self.endpoint, kind, k, answer)
                out[k] = [Item(q, label) for q, label in answer]
        return out

    def select(self, query: str) -> list[dict[str, str]]:
        """Run a SELECT query, retrying with back-off; rows as ``{variable: value}``.

        :raises RemoteStoreError: after ``max_retries`` 429 / 5xx answers (or
            ``max_connect_retries`` failed connections), on any other HTTP
            error, or when the answer is not SPARQL JSON results.
        """
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                r = self.session.post(self.endpoint, data={"query": query},
                                      timeout=self.timeout)
            except requests.RequestException as e:
                if attempt > min(self.max_retries, self.max_connect_retries):
                    raise RemoteStoreError(
                        f"the SPARQL endpoint {self.endpoint} could not be reached: {e}",
                        hint="check the network, or use --offline", url=self.endpoint) from e
                self._back_off(attempt, None)
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if attempt > self.max_retries:
                    raise RemoteStoreError(
                        f"the SPARQL endpoint {self.endpoint} answered {r.status_code} "
                        f"{attempt} times", hint="try again later, or use --offline",
                        url=self.endpoint, status=r.status_code)
                self._back_off(attempt, r.headers.get("Retry-After"))
                continue
            if not r.ok:
                raise RemoteStoreError(
                    f"the SPARQL endpoint {self.endpoint} answered {r.status_code}: "
                    f"{r.text[:200].strip()}", url=self.endpoint, status=r.status_code)
            try:
                data = r.json()
                rows = data["results"]["bindings"]
            except (ValueError, KeyError, TypeError) as e:
                raise RemoteStoreError(
                    f"the SPARQL endpoint {self.endpoint} did not answer with SPARQL JSON "
                    f"results", url=self.endpoint, status=r.status_code) from e
            return [{k: str(v.get("value", "")) for k, v in row.items()} for row in rows]

    def _back_off(self, attempt: int, retry_after: str | None) -> None:
        wait = min(2.0 ** (attempt - 1), self.max_wait)
        if retry_after is not None:
            try:
                wait = min(max(float(retry_after), 0.0), self.max_wait)
            except ValueError:
                pass  # an HTTP date: keep the exponential wait
        self.stats.retries += 1
        self.stats.waited += wait
        self.sleep(wait)

    def close(self) -> None:
        """Save the cache and close the HTTP session.

        :raises OSError: if the cache file cannot be written.
        """
        self.cache.save()
        self.session.close()


def _qid_order(qid: str) -> int:
    return int(qid[1:])
