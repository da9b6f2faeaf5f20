"""The SPARQL validator (mlmeta.shacl_sparql) reports exactly what pySHACL reports.

Three corpora, each validated by both:
- every invalid (and valid) case of tests/test_shapes.py, re-run with its ``validate``
  helper wrapped so that each call is also answered by the compiled shapes;
- synthetic records and systematic mutations of them (every predicate dropped,
  duplicated, or given a wrong value), compared as whole Violation reports;
- a small shapes graph using every compiled constraint kind with pySHACL's generic
  messages, on data that breaks each of them.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pyshacl
import pytest
import rdflib
from rdflib.namespace import RDF, SH

from benchmarks.generate import generate
from mlmeta import shacl_sparql, validate
from mlmeta.mapping import MappedRecord, map_record
from mlmeta.shacl_sparql import CompiledShapes, UnsupportedShape

ROOT = Path(__file__).resolve().parents[1]
XSD = "http://www.w3.org/2001/XMLSchema#"
Key = tuple[str, str | None, str]


def to_store(g: rdflib.Graph) -> ox.Store:
    store = ox.Store()
    store.load(g.serialize(format="nt"), format=ox.RdfFormat.N_TRIPLES)
    return store


def pyshacl_results(data: rdflib.Graph, shapes: rdflib.Graph) -> set[Key]:
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    out: set[Key] = set()
    for r in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(r, SH.resultPath)
        out.add((str(report.value(r, SH.focusNode)), str(path) if path is not None else None,
                 " | ".join(str(m) for m in report.objects(r, SH.resultMessage))))
    return out


def sparql_results(data: rdflib.Graph, compiled: CompiledShapes) -> set[Key]:
    return {(str(validate.to_rdflib(r.focus)), r.path, r.message)
            for r in compiled.run(to_store(data))}


# --- 1. the cases of tests/test_shapes.py ------------------------------------------------


class Mismatch(Exception):
    """The two validators disagree (not an AssertionError, so the shape tests' own
    assertions cannot hide it)."""


def _load_shape_tests() -> Any:
    path = ROOT / "tests" / "test_shapes.py"
    if not path.is_file():
        pytest.skip("tests/test_shapes.py is absent")
    spec = importlib.util.spec_from_file_location("_shape_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _calls(fn: Callable[..., Any]) -> list[dict[str, Any]]:
    """The keyword arguments of every parametrized case of a test function."""
    cases: list[dict[str, Any]] = [{}]
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = [v.values if hasattr(v, "values") else v for v in values]
        rows = [r if len(names) > 1 else (r,) for r in rows]
        cases = [{**c, **dict(zip(names, r, strict=True))} for c in cases for r in rows]
    return cases


def test_every_case_of_the_shape_tests_gets_the_same_results() -> None:
    module = _load_shape_tests()
    shapes = rdflib.Graph()
    for p in sorted((ROOT / "shapes").glob("*.ttl")):
        shapes.parse(p, format="turtle")
    compiled = CompiledShapes(shapes)
    original = module.validate
    compared: list[set[Key]] = []

    def both(data: rdflib.Graph, shapes_graph: rdflib.Graph) -> Any:
        expected = pyshacl_results(data, shapes_graph)
        got = sparql_results(data, compiled)
        if got != expected:
            raise Mismatch(f"only pySHACL: {expected - got}\nonly SPARQL: {got - expected}")
        compared.append(expected)
        return original(data, shapes_graph)

    module.validate = both
    ran = 0
    for name in sorted(dir(module)):
        fn = getattr(module, name)
        if not name.startswith("test_") or not callable(fn):
            continue
        for kwargs in _calls(fn):
            if "shapes" in fn.__code__.co_varnames[: fn.__code__.co_argcount]:
                kwargs = {**kwargs, "shapes": shapes}
            try:
                fn(**kwargs)
            except AssertionError:
                pass  # that test's own expectation; this test only compares the validators
            ran += 1
    assert ran >= 10
    assert sum(1 for c in compared if c) >= 10, "too few invalid cases were compared"


# --- 2. synthetic records and their mutations ------------------------------------------

_BAD_OBJECTS: list[ox.NamedNode | ox.Literal] = [
    ox.NamedNode("https://example.org/untyped-thing"),
    ox.Literal("bad value with spaces / and / slashes"),
    ox.Literal("abc", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("-5", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("1e9", datatype=ox.NamedNode(XSD + "double")),
    ox.Literal("-0.5", datatype=ox.NamedNode(XSD + "double")),
    ox.Literal("0", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("2020-13-45T00:00:00", datatype=ox.NamedNode(XSD + "dateTime")),
    ox.Literal("yes", datatype=ox.NamedNode(XSD + "boolean")),
    ox.Literal("en text", language="en"),
]


def _mutate(rec: MappedRecord, predicate: ox.NamedNode, how: int) -> MappedRecord:
    hits = [q for q in rec.quads if q.predicate == predicate]
    subject = hits[0].subject
    keep = [q for q in rec.quads if not (q.predicate == predicate and q.subject == subject)]
    if how == 0:  # drop every value
        return replace(rec, quads=keep)
    if how == 1:  # a second, different value
        extra = ox.Literal("another value") if isinstance(hits[0].object, ox.Literal) \
            else ox.NamedNode(hits[0].object.value + "-other")
        return replace(rec, quads=[*rec.quads, ox.Quad(subject, predicate, extra, rec.graph)])
    if how == 2:  # forget the context (the types of referenced entities)
        return replace(rec, context=[])
    bad = _BAD_OBJECTS[(how - 3) % len(_BAD_OBJECTS)]
    return replace(rec, quads=[*keep, ox.Quad(subject, predicate, bad, rec.graph)])


@cache
def _corpus() -> list[MappedRecord]:
    base = [map_record(r) for r in generate(300, seed=7)]
    shape_tests = ROOT / "tests" / "test_shapes.py"
    if shape_tests.is_file():
        module = _load_shape_tests()
        base += [map_record(make()) for make in module.VALID.values()]
    predicates = sorted({q.predicate.value for r in base for q in r.quads})
    out = list(base)
    hows = itertools.cycle(range(3 + len(_BAD_OBJECTS)))
    for i, p in enumerate(predicates * 4):
        owners = [r for r in base if any(q.predicate.value == p for q in r.quads)]
        rec = owners[i % len(owners)]
        out.append(_mutate(rec, ox.NamedNode(p), next(hows)))
    return out


def _compare(batch: list[MappedRecord], crashed: list[str]) -> int:
    """Compare both validators on a batch; returns the number of rejected records.

    pySHACL raises TypeError when sh:lessThanOrEquals meets values it cannot compare (an
    integer against a dateTime); such a batch is split, and for the one record that makes
    pySHACL fail the SPARQL path must reject it (it reports the pair as a violation)."""
    try:
        expected = validate.validate_records_pyshacl(batch, source="corpus")
    except TypeError:
        if len(batch) == 1:
            assert shacl_sparql.validate_records(batch), "a record pySHACL chokes on passed"
            crashed.append(batch[0].key)
            return 1
        half = len(batch) // 2
        return _compare(batch[:half], crashed) + _compare(batch[half:], crashed)
    got = shacl_sparql.validate_records(batch, source="corpus")
    assert got == expected
    return len(expected)


@pytest.mark.filterwarnings("ignore:Parsing weird boolean")  # the "yes"^^xsd:boolean mutation
def test_mutated_records_get_identical_reports() -> None:
    corpus = _corpus()
    rejected = 0
    crashed: list[str] = []
    # Batches of distinct records, so attribution of each result to its record is compared.
    for i in range(0, len(corpus), 60):
        batch = list({r.key: r for r in corpus[i:i + 60]}.values())
        rejected += _compare(batch, crashed)
    assert rejected >= 100, f"only {rejected} records were rejected: the mutations are too weak"
    assert len(crashed) <= 5, crashed


@pytest.mark.filterwarnings("ignore:Parsing weird boolean")
def test_mutations_one_record_at_a_time() -> None:
    # One record per call: attribution falls back to the record itself.
    crashed: list[str] = []
    rejected = sum(_compare([rec], crashed) for rec in _corpus()[-40:])
    assert rejected >= 10


# --- 3. every compiled constraint kind, generic messages ---------------------------------

COVERAGE_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:ThingShape a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string ;
                sh:minLength 2 ; sh:maxLength 8 ; sh:pattern "^[a-z]+$" ;
                sh:flags "i" ] ,
              [ sh:path ex:pair ; sh:minCount 2 ; sh:maxCount 3 ] ,
              [ sh:path ex:size ; sh:datatype xsd:integer ; sh:minInclusive 0 ;
                sh:maxExclusive 10 ] ,
              [ sh:path ex:ratio ; sh:minExclusive 0 ; sh:maxInclusive 1 ;
                sh:severity sh:Warning ] ,
              [ sh:path ex:kind ; sh:in ( ex:A ex:B "c" ) ; sh:message "A, B or c" ] ,
              [ sh:path ex:kind2 ; sh:in ( ex:A ) ] ,
              [ sh:path ex:link ; sh:nodeKind sh:IRI ; sh:class ex:Target ] ,
              [ sh:path ex:lit ; sh:nodeKind sh:Literal ] ,
              [ sh:path ex:start ; sh:lessThan ex:end ; sh:lessThanOrEquals ex:end2 ] ,
              [ sh:path ex:tag ; sh:hasValue "must" ] ,
              [ sh:path ex:other ; sh:not [ sh:hasValue ex:Forbidden ] ] ,
              [ sh:path ex:gone ; sh:maxCount 0 ; sh:deactivated true ] ;
  sh:or ( [ sh:path ex:a ; sh:minCount 1 ] [ sh:path ex:b ; sh:minCount 1 ] ) ;
  sh:and ( [ sh:path ex:c ; sh:maxCount 1 ] [ sh:path ex:d ; sh:maxCount 1 ] ) .
ex:NodeLevel a sh:NodeShape ; sh:targetNode ex:n1 , ex:n2 ; sh:nodeKind sh:BlankNodeOrIRI ;
  sh:hasValue ex:n1 ; sh:message "only n1" .
ex:ObjShape a sh:NodeShape ; sh:targetObjectsOf ex:link ; sh:targetSubjectsOf ex:size ;
  sh:property [ sh:path ex:label ; sh:maxCount 1 ; sh:message "one label" ] .
"""

COVERAGE_DATA = """
@prefix ex: <http://example.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Sub rdfs:subClassOf ex:Thing .  ex:SubTarget rdfs:subClassOf ex:Target .
ex:good a ex:Thing ; ex:name "abc" ; ex:pair 1, 2 ; ex:size 3 ; ex:kind ex:A ; ex:a 1 ;
  ex:link ex:t1 ; ex:start 1 ; ex:end 2 ; ex:end2 1 ; ex:tag "must" ; ex:child ex:c1 .
ex:t1 a ex:SubTarget ; ex:label "x" .  ex:c1 ex:name "c" .
ex:bad a ex:Sub ; ex:name "a", "b9" , "abcdefghij" , 5 ; ex:pair 1, 2, 3, 4 ;
  ex:size "x"^^xsd:integer , -1 , 10 , "7" ; ex:ratio 0 , 2 , "q" ;
  ex:kind ex:C , "c" , "d" ; ex:kind2 ex:B ;
  ex:link "lit" , ex:untyped ; ex:lit ex:iri ; ex:start 5 , "s" ; ex:end 5 ; ex:end2 4 ;
  ex:tag "other" ; ex:child ex:c2 ; ex:other ex:Forbidden , ex:Fine ; ex:c 1, 2 ; ex:gone 1 .
ex:c2 ex:label "no name" , "two" .
ex:empty a ex:Thing .
ex:n2 ex:p 1 .
"""


def test_every_constraint_kind_matches_pyshacl_with_generic_messages() -> None:
    shapes = rdflib.Graph().parse(data=COVERAGE_SHAPES, format="turtle")
    # Like the pipeline's data graph: triples added one by one, no prefixes bound (generic
    # messages print data nodes with the data graph's prefixes).
    data = rdflib.Graph()
    for t in rdflib.Graph().parse(data=COVERAGE_DATA, format="turtle"):
        data.add(t)
    compiled = CompiledShapes(shapes)
    expected = pyshacl_results(data, shapes)
    got = sparql_results(data, compiled)
    assert got == expected, f"only pySHACL: {expected - got}\nonly SPARQL: {got - expected}"
    results = compiled.run(to_store(data))
    fired = {r.component for r in results}
    assert fired >= {"minCount", "maxCount", "datatype", "minLength", "maxLength", "pattern",
                     "minInclusive", "maxExclusive", "minExclusive", "maxInclusive", "in",
                     "nodeKind", "class", "lessThan", "lessThanOrEquals", "hasValue",
                     "not", "or", "and"}, "the coverage data must break every constraint kind"
    assert {r.severity for r in results} == {"Violation", "Warning"}


@pytest.mark.parametrize("feature", [
    "sh:closed true", "sh:qualifiedValueShape [ sh:class ex:A ] ; sh:qualifiedMinCount 1",
    "sh:xone ( [ sh:class ex:A ] [ sh:class ex:B ] )", "sh:uniqueLang true",
    "sh:languageIn ( \"en\" )", "sh:equals ex:q", "sh:disjoint ex:q",
    "sh:node ex:Other", "sh:sparql [ sh:select \"SELECT $this WHERE { }\" ]",
])
def test_unsupported_features_are_refused(feature: str) -> None:
    text = ("@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
            f"ex:S a sh:NodeShape ; sh:targetClass ex:T ; {feature} .")
    with pytest.raises(UnsupportedShape):
        CompiledShapes(rdflib.Graph().parse(data=text, format="turtle"))


def test_unsupported_paths_and_big_counts_are_refused() -> None:
    base = ("@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
            "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ {} ] .")
    for prop in ("sh:path ( ex:a ex:b ) ; sh:minCount 1",
                 "sh:path [ sh:inversePath ex:a ] ; sh:minCount 1",
                 "sh:path ex:a ; sh:maxCount 9"):
        with pytest.raises(UnsupportedShape):
            CompiledShapes(rdflib.Graph().parse(data=base.replace("{}", prop), format="turtle"))


def test_packaged_shapes_compile() -> None:
    compiled = shacl_sparql.compiled_shapes()
    assert len(compiled.checks) > 100
    assert all(c.message for c in compiled.checks), "every packaged shape has a message"
