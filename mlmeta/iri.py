"""Deterministic IRIs: the same source record always maps to the same IRIs.

Our IRIs live under ``https://w3id.org/mlmeta/id/``; the hub's own web page is
linked separately (``mlm:url``). Path segments are percent-encoded so that any
source id (``org/name``, ``resnet50.a1_in1k``, ``ViT-B/16``) is a valid IRI.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from pyoxigraph import NamedNode

from mlmeta.vocab import ID_NS

_SLUG_RE = re.compile(r"[^a-z0-9]+")
# Characters quote() leaves alone with segment()'s safe set: such a segment is its own
# encoding (most ids are), and skipping quote() saves a few seconds per 100k records.
_PLAIN_RE = re.compile(r"[A-Za-z0-9_.~@+-]+")


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits joined by ``-``: ``"ILSVRC 2012"`` -> ``ilsvrc-2012``.
    """
    s = _SLUG_RE.sub("-", text.strip().lower()).strip("-")
    return s or "x"


def segment(text: str) -> str:
    """Percent-encode one path segment, keeping it readable (``/`` becomes ``%2F``)."""
    text = text.strip()
    if _PLAIN_RE.fullmatch(text):
        return text
    return quote(text, safe="-._~@+")


def entity(kind: str, *parts: str) -> NamedNode:
    """``id/<kind>/<part>/<part>``: the IRI of one entity of a kind."""
    return NamedNode(ID_NS + kind + "/" + "/".join(segment(p) for p in parts))


def digest(*parts: object) -> str:
    """A short stable hash of the parts, for entities with no natural id."""
    h = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:16]


def model(zoo: str, source_id: str) -> NamedNode:
    return entity("model", zoo, source_id)


def record_graph(kind: str, key: str) -> NamedNode:
    """The named graph that holds exactly one source record."""
    return NamedNode(ID_NS + "graph/" + kind + "/" + segment(key))


def canonical(kind: str, canonical_id: str) -> NamedNode:
    """A canonical entity shared across zoos: ``id/dataset/imagenet-1k``,
    ``id/metric/top1-accuracy``."""
    return entity(kind, canonical_id)
