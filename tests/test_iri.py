"""IRIs are deterministic and every path segment is a valid, readable encoding."""

from __future__ import annotations

import random
import string
from urllib.parse import quote, unquote

import pyoxigraph as ox

from mlmeta import iri
from mlmeta.vocab import MLM


def test_segment_is_quote_with_our_safe_set() -> None:
    """The fast path for plain ids gives what quote() gives, for any string."""
    tricky = ["resnet50.a1_in1k", "org/name", " padded ", "ViT-B/16", "a b", "50%", "é",
              "x?y#z", "~user@host+tag", "", "-", "..", "a:b", "名前"]
    r = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "_.~@+-/ %:é?#&="
    randoms = ["".join(r.choice(alphabet) for _ in range(r.randrange(0, 16)))
               for _ in range(5000)]
    for text in tricky + randoms:
        expected = quote(text.strip(), safe="-._~@+")
        assert iri.segment(text) == expected, text
        assert unquote(iri.segment(text)) == text.strip()


def test_entity_iris_are_valid_and_stable() -> None:
    a = iri.model("huggingface", "org/Model Name")
    assert a == iri.model("huggingface", "org/Model Name")
    assert a.value.endswith("/model/huggingface/org%2FModel%20Name")
    ox.NamedNode(a.value)  # a valid IRI


def test_namespace_terms_are_cached_nodes() -> None:
    first = MLM.evaluatedModel
    assert first is MLM.evaluatedModel is MLM["evaluatedModel"]
    assert first.value == "https://w3id.org/mlmeta#evaluatedModel"
