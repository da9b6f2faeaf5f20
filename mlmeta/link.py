"""``mlmeta link``: link label spaces and canonical entities to Wikidata.

``mlmeta link wikidata --offline`` loads the shipped label spaces and their links into
the store. Without ``--offline`` it then asks a Wikidata SPARQL endpoint for what the
tables lack (ImageNet classes without an exact link by their WordNet 3.1 id through
P8814; classes and canonical entities with no link at all by label), follows the P279
parents of new items a few steps up, and stores all of it in ``id/graph/wikidata/online``.
``mlmeta link report`` lists the classes that are unmapped, ambiguous or disputed.
``mlmeta link subclasses QID`` runs the federated subclass query with the concept sent
to the endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
import pyoxigraph as ox

from mlmeta import iri
from mlmeta.clikit import State, format_option, pass_state, print_answer, stderr
from mlmeta.errors import UsageError
from mlmeta.ingest import ensure_initialized
from mlmeta.labelspaces import (
    COCO,
    IMAGENET,
    QuadBuffer,
    add_link,
    concept_iri,
    load_label_spaces,
)
from mlmeta.mapping import lit
from mlmeta.normalize import table
from mlmeta.queries import get_saved_query
from mlmeta.store import QueryAnswer, Rows, Store, Term
from mlmeta.vocab import ID_NS, PROV, RDFS, SKOS, WD
from mlmeta.wikidata import (
    QID_RE,
    WDQS_ENDPOINT,
    Item,
    Link,
    LinkCache,
    WikidataClient,
    coco_classes,
    coco_links,
    default_cache_path,
    hierarchy_arcs,
    imagenet_classes,
    imagenet_links,
)

ONLINE_GRAPH = ox.NamedNode(ID_NS + "graph/wikidata/online")
CANONICAL_KINDS = ("dataset", "task", "license", "architecture")
PARENT_DEPTH = 3

# The order in which a class's link statuses summarise it (first wins).
STATUS_ORDER = ("ok", "ambiguous-resolved", "label-match", "cili-disagrees", "ambiguous",
                "no-item", "missing")
UNRESOLVED = ("ambiguous-resolved", "label-match", "cili-disagrees", "ambiguous", "no-item",
              "missing")


# --- coverage and the report ----------------------------------------------------------------


@dataclass
class Coverage:
    """How many classes of a label space are linked, and how."""

    label_space: str
    classes: int
    exact: int = 0
    close_only: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def linked(self) -> int:
        return self.exact + self.close_only


@dataclass(frozen=True)
class ClassStatus:
    """One class, its summary status and every candidate item."""

    label_space: str
    class_id: str
    label: str
    status: str
    candidates: tuple[str, ...]
    matches: tuple[str, ...]


def _class_labels() -> dict[tuple[str, str], str]:
    out = {(IMAGENET, c.wnid): c.label for c in imagenet_classes()}
    out.update({(COCO, c.id): c.name for c in coco_classes() if c.kind == "class"})
    return out


def class_statuses(extra: Iterable[Link] = ()) -> list[ClassStatus]:
    """Every ImageNet-1k and COCO class with its summary status, from the shipped tables
    plus ``extra`` links (made online)."""
    by_class: dict[tuple[str, str], list[Link]] = {k: [] for k in _class_labels()}
    for link in (*imagenet_links(), *coco_links(), *extra):
        key = (link.label_space, link.class_id)
        if key in by_class:
            by_class[key].append(link)
    out = []
    labels = _class_labels()
    for key, links in by_class.items():
        statuses = {x.status for x in links if x.status != "candidate-rejected"}
        if any(x.match == "exact" and x.status in ("ok", "ambiguous-resolved") for x in links):
            statuses &= {"ok", "ambiguous-resolved"}
        status = next((s for s in STATUS_ORDER if s in statuses), "missing")
        out.append(ClassStatus(
            key[0], key[1], labels[key], status,
            tuple(dict.fromkeys(x.qid for x in links if x.qid)),
            tuple(dict.fromkeys(f"{x.match}:{x.qid}" for x in links if x.match and x.qid))))
    return out


def coverage(statuses: Sequence[ClassStatus]) -> list[Coverage]:
    """Counts per label space: classes, exactly linked, only closely linked, by status."""
    out: dict[str, Coverage] = {}
    for s in statuses:
        cov = out.setdefault(s.label_space, Coverage(s.label_space, 0))
        cov.classes += 1
        cov.by_status[s.status] = cov.by_status.get(s.status, 0) + 1
        kinds = {m.split(":", 1)[0] for m in s.matches}
        if "exact" in kinds:
            cov.exact += 1
        elif "close" in kinds:
            cov.close_only += 1
    return list(out.values())


def _coverage_line(c: Coverage) -> str:
    pct = 100.0 * c.linked / c.classes if c.classes else 0.0
    detail = ", ".join(f"{n} {s}" for s, n in sorted(c.by_status.items()))
    return (f"{c.label_space}: {c.linked} of {c.classes} classes linked ({pct:.1f}%): "
            f"{c.exact} exact, {c.close_only} close only; {detail}")


def online_links(store: Store) -> list[Link]:
    """The class links a previous online run stored (``id/graph/wikidata/online``)."""
    answer = store.query(_ONLINE_LINKS_QUERY, {"g": ONLINE_GRAPH})
    out: list[Link] = []
    if not isinstance(answer, Rows):
        return out
    prefix = ID_NS + "concept/"
    for row in answer.dicts():
        c, item, kind, method, conf, status = (row.get(k) for k in (
            "c", "item", "kind", "method", "confidence", "status"))
        if not isinstance(c, ox.NamedNode) or not c.value.startswith(prefix):
            continue
        space, _, cid = c.value[len(prefix):].partition("/")
        qid = item.value[len(WD.base):] if isinstance(item, ox.NamedNode) else ""
        match = ""
        if isinstance(kind, ox.NamedNode):
            match = "exact" if kind == SKOS.exactMatch else "close"
        out.append(Link(space, _unquote(cid), qid, match,
                        method.value if isinstance(method, ox.Literal) else "",
                        float(conf.value) if isinstance(conf, ox.Literal) else None,
                        status.value if isinstance(status, ox.Literal) else "", "online"))
    return out


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


_ONLINE_LINKS_QUERY = """
PREFIX mlm: <https://w3id.org/mlmeta#>
SELECT ?g ?c ?item ?kind ?method ?confidence ?status WHERE {
  GRAPH ?g { ?c mlm:wikidataLink ?l . ?l mlm:linkStatus ?status .
    OPTIONAL { ?l mlm:linkTarget ?item } OPTIONAL { ?l mlm:matchKind ?kind }
    OPTIONAL { ?l mlm:linkMethod ?method } OPTIONAL { ?l mlm:linkConfidence ?confidence } }
}"""


# --- online linking -------------------------------------------------------------------------


@dataclass
class OnlineResult:
    """What an online run found: links (to concepts and canonical entities) and arcs."""

    links: list[tuple[ox.NamedNode, Link]] = field(default_factory=list)
    arcs: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    looked_up: int = 0


def _variants(text: str) -> list[str]:
    """A label as written, and with its first letter in the other case (Wikidata labels
    of common nouns are lower case, of breeds and proper nouns capitalised)."""
    t = text.strip()
    if not t:
        return []
    other = t[0].upper() + t[1:] if t[0].islower() else t[0].lower() + t[1:]
    return list(dict.fromkeys([t, other]))


def _label_links(space: str, class_id: str, names: Sequence[str],
                 found: dict[str, list[Item]], labels: dict[str, str]) -> list[Link]:
    items: dict[str, str] = {}
    for n in names:
        for v in _variants(n):
            for it in found.get(v, []):
                items.setdefault(it.qid, it.label or v)
    labels.update(items)
    if len(items) == 1:
        (qid,) = items
        return [Link(space, class_id, qid, "close", "label-search", 0.5, "ok", "online")]
    return [Link(space, class_id, q, "", "label-search", 0.2, "ambiguous", "online")
            for q in sorted(items, key=lambda q: int(q[1:]))]


def link_online(client: WikidataClient, canonical: bool = True) -> OnlineResult:
    """Ask the endpoint for what the shipped tables lack.

    1. ImageNet-1k classes without an exact link: items whose P8814 is the class's
       WordNet 3.1 id (through CILI); one item is an exact link (0.95), several are
       ambiguous close links (0.4).
    2. ImageNet and COCO classes still without any link, and (``canonical``) canonical
       datasets, tasks, licences and architectures without a Wikidata id: class-like
       items whose English label is the class's lemma or name; one item is a close link
       (0.5), several are recorded as ambiguous with no SKOS link.
    3. The P279 parents of every newly linked item, up to :data:`PARENT_DEPTH` steps or
       until an item the offline hierarchy knows.

    :raises RemoteStoreError: if the endpoint keeps failing.
    """
    result = OnlineResult()
    statuses = {(s.label_space, s.class_id): s for s in class_statuses()}
    # 1. WordNet 3.1 ids through P8814.
    lacking = [c for c in imagenet_classes()
               if not any(m.startswith("exact:") for m in statuses[(IMAGENET, c.wnid)].matches)
               and c.wn31]
    by_wn = client.items_for_wordnet(c.wn31 for c in lacking)
    result.looked_up += len(lacking)
    found_wn: set[str] = set()
    for c in lacking:
        items = by_wn.get(c.wn31, [])
        for it in items:
            result.labels.setdefault(it.qid, it.label)
        if len(items) == 1:
            link = Link(IMAGENET, c.wnid, items[0].qid, "exact", "wordnet31-p8814", 0.95, "ok",
                        "online")
            result.links.append((concept_iri(IMAGENET, c.wnid), link))
        for it in items if len(items) > 1 else []:
            link = Link(IMAGENET, c.wnid, it.qid, "close", "wordnet31-p8814", 0.4, "ambiguous",
                        "online")
            result.links.append((concept_iri(IMAGENET, c.wnid), link))
        if items:
            found_wn.add(c.wnid)
    # 2. Labels, for what has no link at all.
    wanted: list[tuple[ox.NamedNode, str, str, list[str]]] = []
    for c in imagenet_classes():
        s = statuses[(IMAGENET, c.wnid)]
        if not s.matches and c.wnid not in found_wn:
            wanted.append((concept_iri(IMAGENET, c.wnid), IMAGENET, c.wnid, list(c.lemmas)))
    for cc in coco_classes():
        st = statuses.get((COCO, cc.id))
        if cc.kind == "class" and st is not None and not st.matches:
            wanted.append((concept_iri(COCO, cc.id), COCO, cc.id, [cc.name]))
    if canonical:
        for kind in CANONICAL_KINDS:
            for e in table(kind):
                if e.get("wikidata"):
                    continue
                names = [e.label, *[a for a in (e.get("aliases") or "").split("|") if a]]
                wanted.append((iri.canonical(kind, e.id), kind, e.id, names))
    texts = [v for _, _, _, names in wanted for n in names for v in _variants(n)]
    by_label = client.items_for_labels(texts)
    result.looked_up += len(wanted)
    for node, space, cid, names in wanted:
        for link in _label_links(space, cid, names, by_label, result.labels):
            result.links.append((node, link))
    # 3. Parents of new items, until the offline hierarchy takes over.
    known = {a.child for a in hierarchy_arcs()} | {a.parent for a in hierarchy_arcs()}
    frontier = {link.qid for _, link in result.links if link.match and link.qid} - known
    seen = set(frontier)
    for _ in range(PARENT_DEPTH):
        if not frontier:
            break
        parents = client.parents(frontier)
        nxt: set[str] = set()
        for child, items in parents.items():
            for it in items:
                result.arcs.append((child, it.qid))
                if it.label:
                    result.labels.setdefault(it.qid, it.label)
                if it.qid not in known and it.qid not in seen:
                    nxt.add(it.qid)
                    seen.add(it.qid)
        frontier = nxt
    return result


def online_graph(result: OnlineResult, endpoint: str,
                 when: datetime | None = None) -> tuple[ox.NamedNode, list[ox.Quad]]:
    """The quads of ``id/graph/wikidata/online`` for an online run."""
    out = QuadBuffer(ONLINE_GRAPH)
    ep = ox.NamedNode(endpoint)
    out.add(ONLINE_GRAPH, PROV.wasDerivedFrom, ep)
    out.add(ONLINE_GRAPH, PROV.generatedAtTime, lit(when or datetime.now(UTC)))
    for node, link in result.links:
        add_link(out, node, link, derived_from=ep)
    for child, parent in result.arcs:
        out.add(WD[child], SKOS.broader, WD[parent])
    for qid, label in sorted(result.labels.items()):
        if label:
            out.add(WD[qid], RDFS.label, ox.Literal(label))
            out.add(WD[qid], SKOS.hiddenLabel, ox.Literal(" ".join(label.lower().split())))
    return out.graph, out.quads


# --- the federated query, with its values sent to the endpoint -------------------------------

FEDERATED_QUERY = "concept-subclasses-federated"
_SERVICE_RE = re.compile(r"SERVICE\s+\?endpoint\s*\{")


def normalise_qid(text: str) -> str:
    """``Q144`` from ``Q144``, ``q144``, ``wd:Q144`` or the entity IRI.

    :raises UsageError: when the text is not a QID.
    """
    t = text.strip()
    for prefix in ("http://www.wikidata.org/entity/", "https://www.wikidata.org/entity/",
                   "https://www.wikidata.org/wiki/", "wd:"):
        if t.startswith(prefix):
            t = t[len(prefix):]
    t = t.upper()
    if not QID_RE.match(t):
        raise UsageError(f"{text!r} is not a Wikidata QID like Q144")
    return t


def federated_subclasses(store: Store, concept: str, endpoint: str = WDQS_ENDPOINT
                         ) -> QueryAnswer:
    """Run the saved federated subclass query with the concept's item and the endpoint
    written into the SERVICE block (as serialised RDF terms), so that the endpoint is
    asked only for that concept's subclasses.

    :raises UsageError: for a concept that is not a QID or an endpoint that is not a URL.
    :raises QueryError: if the query or the endpoint fails.
    """
    qid = normalise_qid(concept)
    if not endpoint.startswith(("http://", "https://")):
        raise UsageError(f"the endpoint {endpoint!r} is not an http(s) URL")
    saved = get_saved_query(FEDERATED_QUERY)
    root = WD[qid]
    text, n = _SERVICE_RE.subn(
        lambda _m: f"SERVICE {ox.NamedNode(endpoint)} {{ VALUES ?root {{ {root} }}", saved.text,
        count=1)
    if n != 1:  # pragma: no cover - the shipped query has the block
        raise UsageError(f"the saved query {FEDERATED_QUERY!r} has no 'SERVICE ?endpoint' block")
    # The endpoint is now written into the text; only the concept stays a bound variable.
    bound = {k: v for k, v in saved.bind({"concept": qid}).items() if k != "endpoint"}
    return store.query(text, bound)


# --- the command line -----------------------------------------------------------------------


@click.group("link")
def command() -> None:
    """Link label spaces and canonical entities to Wikidata, and report the gaps."""


def _links_rows(result: OnlineResult) -> Rows:
    labels = _class_labels()
    rows: list[tuple[Term | None, ...]] = []
    for node, link in result.links:
        label = labels.get((link.label_space, link.class_id), link.class_id)
        rows.append((ox.Literal(link.label_space), ox.Literal(link.class_id), ox.Literal(label),
                     WD[link.qid] if link.qid else None,
                     ox.Literal(link.match) if link.match else None,
                     ox.Literal(link.method), lit(float(link.confidence or 0.0)),
                     ox.Literal(link.status), node))
    return Rows(["space", "class_id", "label", "item", "match", "method", "confidence",
                 "status", "node"], rows)


@command.command("wikidata")
@click.option("--offline", is_flag=True,
              help="Use the shipped tables only; no network.")
@click.option("--endpoint", default=WDQS_ENDPOINT, show_default=True, metavar="URL",
              help="The Wikidata SPARQL endpoint (a mirror or a test server can stand in).")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The lookup cache file. Default: $XDG_CACHE_HOME/mlmeta/"
                   "wikidata-cache.json.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 1000),
              help="Ids per request.")
@click.option("--no-canonical", is_flag=True,
              help="Do not look up canonical datasets, tasks, licences and architectures.")
@format_option
@pass_state
def wikidata_command(state: State, offline: bool, endpoint: str, cache_path: Path | None,
                     no_cache: bool, batch_size: int, no_canonical: bool, fmt: str) -> None:
    """Load the label spaces (ImageNet-1k, its A and R subsets, COCO) with their Wikidata
    links into the store; online, also look up what the tables lack.

    Online, the endpoint gets a descriptive User-Agent, batched queries, and back-off
    on 429; answers are cached, so a rerun asks again only for what is new.
    """
    client = None
    if not offline:
        cache = LinkCache(None if no_cache else (cache_path or default_cache_path()))
        client = WikidataClient(endpoint, cache, batch_size=batch_size)
    store = state.store()
    ensure_initialized(store)
    n = load_label_spaces(store)
    stderr(f"loaded the label spaces and offline Wikidata links ({n} quads)")
    if client is None:
        for c in coverage(class_statuses()):
            stderr(_coverage_line(c))
        store.flush()
        return
    try:
        result = link_online(client, canonical=not no_canonical)
    finally:
        client.close()
    graph, quads = online_graph(result, endpoint)
    store.replace_graphs([(graph, quads)])
    store.flush()
    st = client.stats
    stderr(f"looked up {result.looked_up} classes and entities on {endpoint}: "
           f"{st.requests} request(s), {st.cached} cached answer(s), {st.retries} retr"
           f"{'y' if st.retries == 1 else 'ies'}; {len(result.links)} link(s), "
           f"{len(result.arcs)} parent arc(s)")
    extra = [link for _, link in result.links]
    for c in coverage(class_statuses(extra)):
        stderr(_coverage_line(c))
    print_answer(_links_rows(result), fmt)


@command.command("report")
@click.option("--status", "wanted", multiple=True, type=click.Choice(UNRESOLVED),
              help="Only classes with this status (repeatable). Default: every status "
                   "but ok.")
@click.option("--label-space", type=click.Choice([IMAGENET, COCO]),
              help="Only this label space.")
@click.option("--with-store", is_flag=True,
              help="Also count the links an online run stored in the store.")
@format_option
@pass_state
def report_command(state: State, wanted: tuple[str, ...], label_space: str | None,
                   with_store: bool, fmt: str) -> None:
    """List the classes that are unmapped (no item, missing from the tables), ambiguous
    (several candidate items) or disputed (the sources disagree), with their candidates.

    Coverage per label space goes to stderr.
    """
    extra = online_links(state.store(read_only=True)) if with_store else []
    statuses = class_statuses(extra)
    for c in coverage(statuses):
        if label_space is None or c.label_space == label_space:
            stderr(_coverage_line(c))
    keep = set(wanted) or set(UNRESOLVED)
    rows: list[tuple[Term | None, ...]] = []
    for s in statuses:
        if s.status not in keep or (label_space and s.label_space != label_space):
            continue
        rows.append((ox.Literal(s.label_space), ox.Literal(s.class_id), ox.Literal(s.label),
                     ox.Literal(s.status), ox.Literal(" ".join(s.candidates)),
                     ox.Literal(" ".join(s.matches))))
    print_answer(Rows(["space", "class_id", "label", "status", "candidates", "links"], rows),
                 fmt)


@command.command("subclasses")
@click.argument("concept")
@click.option("--endpoint", default=WDQS_ENDPOINT, show_default=True, metavar="URL",
              help="The Wikidata SPARQL endpoint the SERVICE block asks.")
@format_option
@pass_state
def subclasses_command(state: State, concept: str, endpoint: str, fmt: str) -> None:
    """Models recognising any Wikidata subclass (P279*) of CONCEPT (a QID such as Q144),
    asking the endpoint for the subclasses (needs the network)."""
    print_answer(federated_subclasses(state.store(read_only=True), concept, endpoint), fmt)
