"""Namespaces and IRI builders shared by the mapping, the queries and the crawlers.

Terms of our ontology are reached as attributes of :data:`MLM`
(``MLM.Model``, ``MLM.trainedOn``); a test checks that every ``MLM.<term>``
used in the code is declared in ``ontology/mlmeta.ttl``.
"""

from __future__ import annotations

from pyoxigraph import NamedNode

MLM_NS = "https://w3id.org/mlmeta#"
ID_NS = "https://w3id.org/mlmeta/id/"


class Namespace:
    """Attribute access to the IRIs of one namespace: ``NS.term`` is a NamedNode."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._cache: dict[str, NamedNode] = {}

    @property
    def base(self) -> str:
        return self._base

    def __getattr__(self, name: str) -> NamedNode:
        if name.startswith("_"):
            raise AttributeError(name)
        node = self[name]
        # an instance attribute from now on: later lookups skip __getattr__ (the mapping
        # reads these hundreds of thousands of times per ingest)
        setattr(self, name, node)
        return node

    def __getitem__(self, name: str) -> NamedNode:
        node = self._cache.get(name)
        if node is None:
            node = NamedNode(self._base + name)
            self._cache[name] = node
        return node


MLM = Namespace(MLM_NS)
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
PROV = Namespace("http://www.w3.org/ns/prov#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
SCHEMA = Namespace("https://schema.org/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
MLS = Namespace("http://www.w3.org/ns/mls#")
FAIR4ML = Namespace("https://w3id.org/fair4ml#")
SH = Namespace("http://www.w3.org/ns/shacl#")
WD = Namespace("http://www.wikidata.org/entity/")

PREFIXES: dict[str, str] = {
    "mlm": MLM_NS,
    "id": ID_NS,
    "rdf": RDF.base,
    "rdfs": RDFS.base,
    "xsd": XSD.base,
    "owl": OWL.base,
    "prov": PROV.base,
    "dcat": DCAT.base,
    "dct": DCT.base,
    "schema": SCHEMA.base,
    "skos": SKOS.base,
    "mls": MLS.base,
    "fair4ml": FAIR4ML.base,
    "wd": WD.base,
}

# Well-known graphs.
ONTOLOGY_GRAPH = NamedNode(ID_NS + "graph/ontology")
CANONICAL_GRAPH = NamedNode(ID_NS + "graph/canonical")
