"""Known label spaces as RDF: the ImageNet-1k and COCO classes, linked to Wikidata.

Each label space is one named graph (``id/graph/labelspace/<name>``) holding its
concepts (``id/concept/<name>/<class id>``, the IRIs :func:`mlmeta.mapping.concept_iri`
gives a :class:`~mlmeta.records.ConceptRef` of that space), each a
``mlm:SemanticConcept`` with its labels, class id and index, its
``skos:exactMatch`` / ``skos:closeMatch`` Wikidata item, and one ``mlm:ConceptLink``
node per candidate item saying how the link was made and how sure it is.

``id/graph/wikidata/offline`` holds what the graph knows of the Wikidata items
themselves: their labels and the broader/narrower arcs among them (``skos:broader``),
so that a query can widen "dog" to the dog breeds without going online.

Models reach the concepts either through ``mlm:canPredict`` or through
``mlm:labelSpace`` + ``mlm:inLabelSpace``. :func:`load_label_spaces` puts every graph
into a store; crawlers call :func:`detect_label_space`, :func:`imagenet_concept_for`
and :func:`coco_concept_for` to recognise these label spaces in a source's labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

from pyoxigraph import Literal, NamedNode, Quad

from mlmeta import __version__, iri
from mlmeta.mapping import lit
from mlmeta.records import ConceptRef
from mlmeta.store import Store
from mlmeta.vocab import ID_NS, MLM, PROV, RDF, RDFS, SKOS, WD
from mlmeta.wikidata import (
    CocoClass,
    ImageNetClass,
    Link,
    coco_classes,
    coco_links,
    hierarchy_arcs,
    imagenet_classes,
    imagenet_links,
    source_urls,
)

IMAGENET = "imagenet-1k"
COCO = "coco"
IMAGENET_SUBSETS = {
    "imagenet-a": "ImageNet-A classes (200 ImageNet-1k classes)",
    "imagenet-r": "ImageNet-R classes (200 ImageNet-1k classes)",
}
WIKIDATA_GRAPH = NamedNode(ID_NS + "graph/wikidata/offline")
MATCH_PROPERTY = {"exact": SKOS.exactMatch, "close": SKOS.closeMatch}

_NORM_RE = re.compile(r"[\s_]+")


def labelspace_iri(name: str) -> NamedNode:
    """``id/labelspace/<name>``, the node models point at with ``mlm:labelSpace``."""
    return iri.entity("labelspace", name)


def labelspace_graph(name: str) -> NamedNode:
    """``id/graph/labelspace/<name>``, the named graph of one label space."""
    return NamedNode(ID_NS + "graph/labelspace/" + iri.segment(name))


def concept_iri(label_space: str, class_id: str) -> NamedNode:
    """The shared IRI of a class of a known label space (as the mapping builds it)."""
    return iri.entity("concept", label_space, class_id)


def _norm(text: str) -> str:
    return _NORM_RE.sub(" ", text.strip().lower())


class QuadBuffer:
    """Accumulates the quads of one graph, without duplicates."""

    def __init__(self, graph: NamedNode) -> None:
        self.graph = graph
        self.quads: list[Quad] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, s: NamedNode, p: NamedNode, o: NamedNode | Literal) -> None:
        key = (s.value, p.value, str(o))
        if key not in self._seen:
            self._seen.add(key)
            self.quads.append(Quad(s, p, o, self.graph))

    def labels(self, node: NamedNode, pref: str, alt: Iterable[str] = (),
               hidden: Iterable[str] = ()) -> None:
        """prefLabel, altLabels, and lower-case hiddenLabels for case-insensitive lookup."""
        self.add(node, SKOS.prefLabel, Literal(pref))
        alts = [a for a in dict.fromkeys(alt) if a and a != pref]
        for a in alts:
            self.add(node, SKOS.altLabel, Literal(a))
        for h in dict.fromkeys(_norm(x) for x in (pref, *alts, *hidden) if x):
            self.add(node, SKOS.hiddenLabel, Literal(h))


def link_node(concept: NamedNode, method: str, qid: str) -> NamedNode:
    """The IRI of one link of a concept: ``<concept>/wikidata-link/<method>/<QID|none>``."""
    return NamedNode(f"{concept.value}/wikidata-link/{iri.segment(method or 'none')}/"
                     f"{iri.segment(qid or 'none')}")


def add_link(out: QuadBuffer, concept: NamedNode, link: Link,
             derived_from: NamedNode | None = None) -> None:
    """The SKOS match (when the link asserts one) and the link's provenance node."""
    prop = MATCH_PROPERTY.get(link.match)
    if prop is not None and link.qid:
        out.add(concept, prop, WD[link.qid])
    node = link_node(concept, link.method, link.qid)
    out.add(concept, MLM.wikidataLink, node)
    out.add(node, RDF.type, MLM.ConceptLink)
    if link.qid:
        out.add(node, MLM.linkTarget, WD[link.qid])
    if prop is not None:
        out.add(node, MLM.matchKind, prop)
    if link.method:
        out.add(node, MLM.linkMethod, Literal(link.method))
    if link.confidence is not None:
        out.add(node, MLM.linkConfidence, lit(float(link.confidence)))
    out.add(node, MLM.linkStatus, Literal(link.status))
    url = derived_from or _source_node(link.source)
    if url is not None:
        out.add(node, PROV.wasDerivedFrom, url)


def _source_node(key: str) -> NamedNode | None:
    url = source_urls().get(key)
    return NamedNode(url) if url else None


def _graph_header(out: QuadBuffer, keys: Iterable[str]) -> None:
    g = out.graph
    out.add(g, MLM.mlmetaVersion, Literal(__version__))
    for k in keys:
        node = _source_node(k)
        if node is not None:
            out.add(g, PROV.wasDerivedFrom, node)


def _links_by_class(links: Iterable[Link]) -> dict[str, list[Link]]:
    out: dict[str, list[Link]] = {}
    for link in links:
        out.setdefault(link.class_id, []).append(link)
    return out


def imagenet_graph() -> tuple[NamedNode, list[Quad]]:
    """The ImageNet-1k label space: 1000 concepts with their Wikidata links."""
    out = QuadBuffer(labelspace_graph(IMAGENET))
    _graph_header(out, ["imagenet-class-index", "cili", "molrn-synset-mapping"])
    ls = labelspace_iri(IMAGENET)
    out.add(ls, RDF.type, MLM.LabelSpace)
    out.add(ls, RDFS.label, Literal("ImageNet-1k classes (ILSVRC 2012)"))
    links = _links_by_class(imagenet_links())
    for c in imagenet_classes():
        node = concept_iri(IMAGENET, c.wnid)
        out.add(node, RDF.type, MLM.SemanticConcept)
        lemmas = list(c.lemmas)
        full = ", ".join(lemmas) if len(lemmas) > 1 else ""
        out.labels(node, c.label, [*lemmas[1:], full], [c.keras_label])
        out.add(node, MLM.classId, Literal(c.wnid))
        out.add(node, MLM.classIndex, lit(c.index))
        out.add(node, MLM.inLabelSpace, ls)
        if c.wn31:
            out.add(node, MLM.wordnet31Id, Literal(c.wn31))
        if c.ili:
            out.add(node, MLM.iliId, Literal(c.ili))
        for link in links.get(c.wnid, []):
            add_link(out, node, link)
    return out.graph, out.quads


def imagenet_subset_graph(name: str) -> tuple[NamedNode, list[Quad]]:
    """A label space made of some ImageNet-1k classes (``imagenet-a``, ``imagenet-r``): the
    same concepts, also put in this space.

    :raises KeyError: for a subset the tables do not know.
    """
    title = IMAGENET_SUBSETS[name]
    out = QuadBuffer(labelspace_graph(name))
    _graph_header(out, ["timm-imagenet-subsets"])
    ls = labelspace_iri(name)
    out.add(ls, RDF.type, MLM.LabelSpace)
    out.add(ls, RDFS.label, Literal(title))
    for c in imagenet_classes():
        if name in c.subsets:
            out.add(concept_iri(IMAGENET, c.wnid), MLM.inLabelSpace, ls)
    return out.graph, out.quads


def coco_graph() -> tuple[NamedNode, list[Quad]]:
    """The COCO label space: 80 thing classes under their supercategories."""
    out = QuadBuffer(labelspace_graph(COCO))
    _graph_header(out, ["panopticapi-categories", "ai4c-wikidata-uris"])
    ls = labelspace_iri(COCO)
    out.add(ls, RDF.type, MLM.LabelSpace)
    out.add(ls, RDFS.label, Literal("COCO object classes (80 thing categories)"))
    links = _links_by_class(coco_links())
    for c in coco_classes():
        if c.kind not in ("class", "supercategory"):
            continue
        node = concept_iri(COCO, c.id)
        out.add(node, RDF.type, MLM.SemanticConcept)
        out.labels(node, c.name)
        if c.kind == "class":
            out.add(node, MLM.classId, Literal(c.id))
            out.add(node, MLM.inLabelSpace, ls)
            if c.supercategory:
                out.add(node, SKOS.broader,
                        concept_iri(COCO, f"supercategory/{c.supercategory}"))
        for link in links.get(c.id, []):
            add_link(out, node, link)
    return out.graph, out.quads


def wikidata_graph() -> tuple[NamedNode, list[Quad]]:
    """What the graph knows of Wikidata items offline: labels, and broader arcs."""
    out = QuadBuffer(WIKIDATA_GRAPH)
    _graph_header(out, ["molrn-graph-arcs", "molrn-synset-mapping", "ai4c-wikidata-uris"])
    labels: dict[str, list[str]] = {}

    def note(qid: str, label: str) -> None:
        if label:
            labels.setdefault(qid, [])
            if label not in labels[qid]:
                labels[qid].append(label)

    for a in hierarchy_arcs():
        out.add(WD[a.child], SKOS.broader, WD[a.parent])
        note(a.child, a.child_label)
        note(a.parent, a.parent_label)
    for link in (*imagenet_links(), *coco_links()):
        if link.qid:
            # COCO rows carry the class name, which is the source's key for the item.
            note(link.qid, link.item_label)
    for qid in sorted(labels, key=lambda q: int(q[1:])):
        first, *rest = labels[qid]
        out.add(WD[qid], RDFS.label, Literal(first))
        for h in dict.fromkeys(_norm(x) for x in (first, *rest)):
            out.add(WD[qid], SKOS.hiddenLabel, Literal(h))
    return out.graph, out.quads


def label_space_graphs() -> list[tuple[NamedNode, list[Quad]]]:
    """Every graph :func:`load_label_spaces` writes."""
    return [imagenet_graph(), *(imagenet_subset_graph(n) for n in IMAGENET_SUBSETS),
            coco_graph(), wikidata_graph()]


def load_label_spaces(store: Store) -> int:
    """Put the known label spaces and the offline Wikidata graph into ``store``, replacing
    older copies, in one transaction. Returns the number of quads written.

    :raises StoreError: if the store cannot be written.
    """
    graphs = label_space_graphs()
    store.replace_graphs(graphs)
    return sum(len(q) for _, q in graphs)


def label_spaces_loaded(store: Store) -> bool:
    """True when the ImageNet-1k label space graph is in the store."""
    return store.has_graph(labelspace_graph(IMAGENET))


# --- recognising label spaces in a source's labels --------------------------------------------


@cache
def _imagenet_names() -> tuple[frozenset[str], ...]:
    out = []
    for c in imagenet_classes():
        names = {_norm(x) for x in c.lemmas} | {_norm(c.keras_label), _norm(", ".join(c.lemmas))}
        out.append(frozenset(names))
    return tuple(out)


def imagenet_concept_for(index: int, label: str | None = None) -> ConceptRef | None:
    """The ImageNet-1k class at output ``index``, when ``label`` (as a source spells it:
    ``"tabby, tabby cat"``, ``"tabby"``, ``"great_white_shark"``) names that class; None
    when the index is out of range or the label names another class. Without a label the
    index alone decides.

    The returned ref carries the canonical label, the wnid as class id, the index and
    ``label_space="imagenet-1k"``, so it maps to the shared concept IRI.
    """
    classes = imagenet_classes()
    if not 0 <= index < len(classes):
        return None
    if label is not None and _norm(label) not in _imagenet_names()[index]:
        return None
    c = classes[index]
    return ConceptRef(label=c.label, class_id=c.wnid, index=index, label_space=IMAGENET)


@cache
def _coco_by_name() -> dict[str, CocoClass]:
    return {_norm(c.name): c for c in coco_classes() if c.kind == "class"}


@cache
def _coco_unused_slots() -> frozenset[str]:
    return frozenset(_norm(c.name) for c in coco_classes() if c.kind == "paper-only")


def coco_concept_for(label: str | None = None, category_id: int | None = None
                     ) -> ConceptRef | None:
    """The COCO thing class with this name (``"traffic light"``) or category id (``10``);
    when both are given they must agree. None when no COCO class fits.
    """
    by_name = _coco_by_name()
    c: CocoClass | None = None
    if label is not None:
        c = by_name.get(_norm(label))
        if c is None:
            return None
    if category_id is not None:
        match = next((x for x in by_name.values() if x.id == str(category_id)), None)
        if match is None or (c is not None and c != match):
            return None
        c = match
    if c is None:
        return None
    return ConceptRef(label=c.name, class_id=c.id, label_space=COCO)


_IGNORED_LABELS = {"", "n/a", "na", "background", "__background__", "???", "unlabeled"}


def detect_label_space(id2label: Mapping[int, str] | Mapping[str, str],
                       min_fraction: float = 0.99) -> str | None:
    """``"imagenet-1k"`` or ``"coco"`` when a model's ``{index: label}`` (a Hugging Face
    ``config.id2label``, an output label file) is that label space, else None.

    ImageNet-1k: 1000 entries, at least ``min_fraction`` of them naming the ImageNet class
    at their index. COCO: every entry names a COCO thing class, each of the 80 exactly
    once, ignoring ``N/A`` / ``background`` slots and the paper's unused category names
    (a 91-slot label file is COCO too). Keys that are not integers make the
    answer None.
    """
    entries: dict[int, str] = {}
    for k, v in id2label.items():
        try:
            entries[int(k)] = str(v)
        except (TypeError, ValueError):
            return None
    if len(entries) == 1000 and sorted(entries) == list(range(1000)):
        names = _imagenet_names()
        good = sum(1 for i, v in entries.items() if _norm(v) in names[i])
        if good >= min_fraction * 1000:
            return IMAGENET
    by_name = _coco_by_name()
    seen: list[str] = []
    for v in entries.values():
        n = _norm(v)
        if n in _IGNORED_LABELS or n in _coco_unused_slots():
            continue
        if n not in by_name:
            return None
        seen.append(n)
    if len(seen) == len(by_name) and set(seen) == set(by_name):
        return COCO
    return None


def imagenet_class(wnid: str) -> ImageNetClass | None:
    """The ImageNet-1k class with this WordNet id, or None."""
    for c in imagenet_classes():
        if c.wnid == wnid:
            return c
    return None
