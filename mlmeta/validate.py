"""SHACL validation of mapped records, before anything is stored.

Each record is validated on its own triples plus the ``context`` triples the
mapping supplies (types of canonical entities it links to), with inference
off, against the shapes in ``shapes/``. Records are validated in batches for
speed; every violation is attributed to the record whose graph holds the
offending node, with the record field it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pyoxigraph as ox
import rdflib
import rdflib.collection
from rdflib.namespace import SH

from mlmeta.errors import Violation
from mlmeta.mapping import MappedRecord
from mlmeta.resources import shapes_paths

Node = rdflib.URIRef | rdflib.BNode | rdflib.Literal


@cache
def shapes_graph() -> rdflib.Graph:
    """The SHACL shapes, parsed once.

    :raises FileNotFoundError: if the shapes are missing (a broken install).
    """
    g = rdflib.Graph()
    paths = shapes_paths()
    if not paths:
        raise FileNotFoundError("no SHACL shapes found; reinstall mlmeta")
    for p in paths:
        g.parse(p, format="turtle")
    return g


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
    """Convert a pyoxigraph term to the rdflib term pySHACL works on."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        dt = term.datatype.value
        if dt == "http://www.w3.org/2001/XMLSchema#string":
            return rdflib.Literal(term.value)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(dt))
    raise TypeError(f"RDF-star triples are not supported here: {term}")


def _local(iri: str) -> str:
    for sep in ("#", "/"):
        if sep in iri:
            iri = iri.rsplit(sep, 1)[-1]
    return iri


def validate_records(records: Sequence[MappedRecord], source: str = "",
                     ) -> dict[str, list[Violation]]:
    """Validate mapped records; returns ``{record key: [violations]}`` for the
    records that do not conform (an empty dict when all do).

    :raises FileNotFoundError: if the shapes are missing.
    """
    if not records:
        return {}
    from pyshacl import validate as shacl_validate

    data = rdflib.Graph()
    owners: dict[str, list[MappedRecord]] = {}
    for rec in records:
        seen: set[str] = set()
        for q in rec.quads:
            data.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
            s = q.subject.value if isinstance(q.subject, ox.NamedNode | ox.BlankNode) else ""
            if s not in seen:
                seen.add(s)
                owners.setdefault(s, []).append(rec)
        for t in rec.context:
            data.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
        owners.setdefault(rec.focus.value, [])
        if rec not in owners[rec.focus.value]:
            owners[rec.focus.value].append(rec)
    conforms, report, _ = shacl_validate(data, shacl_graph=shapes_graph(), inference="none",
                                         advanced=True, allow_warnings=True)
    if conforms:
        return {}
    assert isinstance(report, rdflib.Graph)
    out: dict[str, list[Violation]] = {}
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        severity = report.value(result, SH.resultSeverity)
        value = report.value(result, SH.value)
        sev = _local(str(severity)) if severity is not None else "Violation"
        if sev == "Info":
            continue
        focus_s = str(focus) if focus is not None else ""
        recs = owners.get(focus_s) or list(records if len(records) == 1 else [])
        if isinstance(path, rdflib.URIRef):
            field_name = _local(str(path))
        else:
            field_name = _node_shape_field(report.value(result, SH.sourceShape))
        text = str(message) if message is not None else "does not conform"
        if value is not None and str(value) != focus_s and "value" not in text.lower():
            text = f"{text} (value: {value})"
        for rec in recs:
            prefix = rec.paths.get(focus_s, "")
            fld = f"{prefix}.{field_name}" if prefix else field_name
            v = Violation(record_id=rec.key, field=fld, message=text, source=source,
                          focus_node=focus_s, severity=sev)
            lst = out.setdefault(rec.key, [])
            if v not in lst:
                lst.append(v)
    for lst in out.values():
        lst.sort(key=lambda v: (v.field, v.message))
    return out


def _node_shape_field(shape: object) -> str:
    """The field a node-level ``sh:or`` is about: the path of its last alternative.

    Our shapes list the guard first and the constrained field last (``sourceZoo`` is not
    huggingface, or ``sourceId`` matches the repo id pattern), so that is the field a
    person must fix.
    """
    g = shapes_graph()
    if not isinstance(shape, rdflib.URIRef | rdflib.BNode):
        return "(node)"
    for members in g.objects(shape, SH["or"]):
        items = list(rdflib.collection.Collection(g, members))
        for item in reversed(items):
            p = g.value(item, SH.path)
            if isinstance(p, rdflib.URIRef):
                return _local(str(p))
    return "(node)"
