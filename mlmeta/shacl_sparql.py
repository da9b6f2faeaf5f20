"""SHACL validation as SPARQL run by Oxigraph: the fast path, same verdicts as pySHACL.

The shapes in ``shapes/`` are compiled once into a single SPARQL SELECT query
(one UNION branch per constraint of a targeted shape). A batch of mapped
records is loaded, with its context triples, into a small in-memory
pyoxigraph store and the query is run there; each answer row is one
validation result (focus node, value node, constraint), turned into the same
:class:`~mlmeta.errors.Violation` records :func:`mlmeta.validate.validate_records`
produces (record key, field, message, focus node, severity).

Only the SHACL Core features the shapes use are compiled (targets by class,
subjects-of, objects-of and node; predicate paths; min/max count, datatype,
class, node kind, in, pattern with flags, value ranges, min/max length,
has-value, less-than(-or-equals), not, and, or; sh:message,
sh:severity, sh:deactivated). Anything else raises :class:`UnsupportedShape`
at compile time, so this validator and pySHACL can never silently disagree
on a shape one of them ignores. (sh:node is refused on purpose: pySHACL also
reports the nested shape's own results, which this compiler does not mirror.)

Messages: a shape's ``sh:message`` when it has one; otherwise pySHACL's own
wording, produced with pySHACL's node formatter (only for results that occur).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import count

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF as RDFNS
from rdflib.namespace import SH

from mlmeta.errors import MlmetaError, Violation
from mlmeta.mapping import MappedRecord
from mlmeta.validate import RawResult, attribute, shapes_graph

XSD_NS = "http://www.w3.org/2001/XMLSchema#"
_RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
# Datatypes whose lexical forms Oxigraph can check with a cast (ill-typed literals
# fail sh:datatype in pySHACL too).
_CASTABLE = {"integer", "decimal", "double", "float", "boolean", "dateTime", "date"}
_NODE_KINDS = {
    "IRI": "!isIRI({x})",
    "Literal": "!isLiteral({x})",
    "BlankNode": "!isBlank({x})",
    "BlankNodeOrIRI": "isLiteral({x})",
    "BlankNodeOrLiteral": "isIRI({x})",
    "IRIOrLiteral": "isBlank({x})",
}
_RANGES = {"minInclusive": ">=", "minExclusive": ">", "maxInclusive": "<=", "maxExclusive": "<"}
_RANGE_WORDS = {"minInclusive": "Value is not >= {}", "minExclusive": "Value is not > {}",
                "maxInclusive": "Value is not <= {}", "maxExclusive": "Value is not < {}"}
# Parameters this compiler understands; any other sh: predicate on a shape is refused.
_SHAPE_KEYS = {
    "targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "path", "property",
    "message", "severity", "deactivated", "name", "description", "order", "group",
    "minCount", "maxCount", "datatype", "class", "nodeKind", "in", "pattern", "flags",
    "minInclusive", "minExclusive", "maxInclusive", "maxExclusive", "minLength", "maxLength",
    "hasValue", "lessThan", "lessThanOrEquals", "not", "and", "or",
}
_MAX_CARDINALITY = 4  # counts are compiled as pairwise-distinct joins; larger ones are refused


# A constraint that can share one query branch with others of its family: (family, row).
Family = tuple[str, tuple[str, ...]]
# (component, pattern, has value node, generic message, family row or None)
Compiled = tuple[str, str, bool, Callable[..., str], Family | None]


class UnsupportedShape(MlmetaError):
    """The shapes use a SHACL feature this compiler does not implement."""


@dataclass(frozen=True)
class Check:
    """One constraint of one targeted shape, as a UNION branch of the compiled query."""

    index: int
    shape: rdflib.term.Node  # the shape that reports (a property shape, or the node shape)
    component: str  # "minCount", "datatype", "or", ...
    path: str | None  # the predicate of a property shape; None for node-level constraints
    message: str | None  # sh:message, or None for pySHACL's generic wording
    severity: str  # "Violation", "Warning" or "Info"
    generic: Callable[[rdflib.term.Node, rdflib.term.Node | None], str]


@dataclass(frozen=True)
class Result:
    """One validation result: what pySHACL puts in an sh:ValidationResult."""

    focus: ox.NamedNode | ox.BlankNode | ox.Literal
    path: str | None
    message: str
    severity: str
    value: ox.NamedNode | ox.BlankNode | ox.Literal | None
    component: str = ""
    shape: rdflib.term.Node | None = None  # the shape that reports it


class CompiledShapes:
    """SHACL shapes compiled to one SPARQL query (two variants: with and without following
    ``rdfs:subClassOf`` in the data).

    :param shapes: the shapes graph.
    :raises UnsupportedShape: if the shapes use a feature that is not compiled.
    """

    def __init__(self, shapes: rdflib.Graph) -> None:
        self.sg = shapes
        self.checks: list[Check] = []
        self._var = count()
        targeted = [s for s in sorted(_targeted_shapes(shapes), key=str)
                    if not _is_deactivated(shapes, s)]
        queries: list[list[str]] = []
        for closure in (False, True):
            # Two passes build the same checks in the same order; the second set is dropped.
            self._closure = closure
            self.checks = []
            queries.append([b for s in targeted for b in self._compile_targeted(s)])
        branches_plain, branches_closure = queries
        select = "SELECT DISTINCT ?c ?f ?v WHERE {\n"
        self.query_plain = select + "\nUNION\n".join(branches_plain) + "\n}"
        self.query_closure = select + "\nUNION\n".join(branches_closure) + "\n}"

    # -- compiling ---------------------------------------------------------------------

    def _fresh(self) -> str:
        return f"?x{next(self._var)}"

    def _compile_targeted(self, shape: rdflib.term.Node) -> list[str]:
        targets = self._targets(shape, "?f")
        sg = self.sg
        families: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        shapes = [shape]
        if (shape, SH.path, None) not in sg:  # a node shape: its property shapes share targets
            shapes += [p for p in sorted(sg.objects(shape, SH.property), key=str)
                       if not _is_deactivated(sg, p)]
        out: list[str] = []
        for s in shapes:
            out.extend(self._report_branches(s, targets, families))
        for name, rows in families.items():
            out.append(self._family_branch(targets, name, rows))
        return out

    def _report_branches(self, shape: rdflib.term.Node, targets: str,
                         families: dict[str, list[tuple[int, tuple[str, ...]]]]) -> list[str]:
        """Register the checks of one shape; returns the branches of those that do not join
        a family (constraints of one kind over many predicates, run as one VALUES branch)."""
        _check_keys(self.sg, shape)
        path = self._path(shape)
        message = _one(self.sg, shape, SH.message)
        severity = _one(self.sg, shape, SH.severity)
        sev = str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation"
        out: list[str] = []
        for component, pattern, with_value, generic, family in self._constraints(
                shape, "?f", "?v"):
            idx = len(self.checks)
            self.checks.append(Check(idx, shape, component, path, str(message)
                                     if message is not None else None, sev, generic))
            if family is not None:
                families.setdefault(family[0], []).append((idx, family[1]))
                continue
            bind_v = "BIND(?f AS ?v)" if with_value and path is None else ""
            out.append(f"{{ {targets} {pattern} {bind_v} BIND({idx} AS ?c) }}")
        return out

    def _family_branch(self, targets: str, name: str,
                       rows: list[tuple[int, tuple[str, ...]]]) -> str:
        width = len(rows[0][1])
        head = ["?c", "?p", "?r"][: width + 1]
        table = " ".join(f"({idx} {' '.join(row)})" for idx, row in rows)
        values = f"VALUES ({' '.join(head)}) {{ {table} }}"
        if name == "minCount1":
            body = "FILTER NOT EXISTS { ?f ?p ?m1 }"
        elif name == "maxCount1":
            body = "?f ?p ?m1 . ?f ?p ?m2 . FILTER(!sameTerm(?m1, ?m2))"
        elif name == "datatype":
            casts = sorted({r[1] for _, r in rows if r[1][len("<" + XSD_NS):-1] in _CASTABLE})
            cond = "!isLiteral(?v) || datatype(?v) != ?r"
            for dt in casts:
                cond += f' || (sameTerm(?r, {dt}) && sameTerm(COALESCE({dt}(?v), "!"), "!"))'
            body = f"?f ?p ?v . FILTER({cond})"
        elif name == "class":
            body = f"?f ?p ?v . FILTER NOT EXISTS {{ {self._instance_of('?v', '?r')} }}"
        elif name.startswith("nodeKind-"):
            body = f"?f ?p ?v . FILTER({_NODE_KINDS[name[9:]].format(x='?v')})"
        elif name in _RANGES:
            body = f"?f ?p ?v . FILTER(!COALESCE(?v {_RANGES[name]} ?r, false))"
        else:  # pragma: no cover - families are only made above
            raise AssertionError(name)
        return f"{{ {targets} {values} {body} }}"

    def _targets(self, shape: rdflib.term.Node, f: str) -> str:
        sg = self.sg
        parts: list[str] = []
        for c in sorted(sg.objects(shape, SH.targetClass), key=str):
            parts.append(f"{{ {self._instance_of(f, _nt(c))} }}")
        for p in sorted(sg.objects(shape, SH.targetSubjectsOf), key=str):
            parts.append(f"{{ {f} {_iri(p)} {self._fresh()} }}")
        for p in sorted(sg.objects(shape, SH.targetObjectsOf), key=str):
            parts.append(f"{{ {self._fresh()} {_iri(p)} {f} }}")
        nodes = sorted(sg.objects(shape, SH.targetNode), key=str)
        if nodes:
            parts.append(f"{{ VALUES {f} {{ {' '.join(_nt(n) for n in nodes)} }} }}")
        if (shape, RDFNS.type, rdflib.RDFS.Class) in sg or (
                shape, RDFNS.type, rdflib.OWL.Class) in sg:
            raise UnsupportedShape(f"implicit class targets are not compiled (shape {shape})")
        return "{ " + " UNION ".join(parts) + " }"

    def _instance_of(self, x: str, cls: str) -> str:
        if self._closure:
            return f"{x} {_RDF_TYPE}/{_SUBCLASS}* {cls} ."
        return f"{x} {_RDF_TYPE} {cls} ."

    def _path(self, shape: rdflib.term.Node) -> str | None:
        path = _one(self.sg, shape, SH.path)
        if path is None:
            return None
        if not isinstance(path, rdflib.URIRef):
            raise UnsupportedShape(f"only predicate paths are compiled (shape {shape})")
        return str(path)

    def _violation(self, shape: rdflib.term.Node, f: str) -> str:
        """A group pattern that matches when node ``f`` does not conform to ``shape``."""
        _check_keys(self.sg, shape)
        if (shape, SH.property, None) in self.sg and (shape, SH.path, None) in self.sg:
            raise UnsupportedShape(f"property shapes with sh:property are not compiled ({shape})")
        parts = [c[1] for c in self._constraints(shape, f, self._fresh())]
        for prop in sorted(self.sg.objects(shape, SH.property), key=str):
            parts.append(self._violation(prop, f))
        if not parts:
            return "{ FILTER(false) }"
        return "{ " + " UNION ".join(f"{{ {p} }}" for p in parts) + " }"

    def _constraints(self, shape: rdflib.term.Node, f: str, v: str,
                     ) -> list[Compiled]:
        """``(component, pattern, has_value, generic message)`` for each constraint of a shape
        on focus ``f``; value nodes are bound to ``v``."""
        sg = self.sg
        path = self._path(shape)
        if _is_deactivated(sg, shape):
            return []
        p = _iri(rdflib.URIRef(path)) if path else ""
        vx = v if path else f  # the value node: itself for a node shape
        values = f"{f} {p} {v} ." if path else ""
        out: list[Compiled] = []

        def per_value(component: str, cond: str, gen: Callable[..., str],
                      family: Family | None = None) -> None:
            out.append((component, f"{values} FILTER({cond})", True, gen, family))

        def fmt_rule(node: rdflib.term.Node) -> str:
            return _stringify(sg, node)

        shape_path = fmt_rule(rdflib.URIRef(path)) if path else ""
        for n in sg.objects(shape, SH.minCount):
            k = _int(n)
            if k > _MAX_CARDINALITY:
                raise UnsupportedShape(f"sh:minCount above {_MAX_CARDINALITY} ({shape})")
            if not path:
                raise UnsupportedShape(f"sh:minCount on a node shape ({shape})")
            if k > 0:
                out.append(("minCount", f"FILTER NOT EXISTS {{ {self._distinct(f, p, k)} }}",
                            False, _gen_count("Less than", k, shape_path),
                            ("minCount1", (p,)) if k == 1 else None))
        for n in sg.objects(shape, SH.maxCount):
            k = _int(n)
            if k + 1 > _MAX_CARDINALITY + 1:
                raise UnsupportedShape(f"sh:maxCount above {_MAX_CARDINALITY} ({shape})")
            if not path:
                raise UnsupportedShape(f"sh:maxCount on a node shape ({shape})")
            out.append(("maxCount", f"FILTER EXISTS {{ {self._distinct(f, p, k + 1)} }}",
                        False, _gen_count("More than", k, shape_path),
                        ("maxCount1", (p,)) if k == 1 else None))
        for d in sg.objects(shape, SH.datatype):
            dt = _nt(d)
            cond = f"!isLiteral({vx}) || datatype({vx}) != {dt}"
            local = str(d)[len(XSD_NS):] if str(d).startswith(XSD_NS) else ""
            if local in _CASTABLE:
                cond += f' || sameTerm(COALESCE({dt}({vx}), "!"), "!")'
            per_value("datatype", cond, _const(f"Value is not Literal with datatype {fmt_rule(d)}"),
                      ("datatype", (p, dt)) if path else None)
        for c in sg.objects(shape, SH["class"]):
            typed = self._instance_of(vx, _nt(c))
            out.append(("class", f"{values} FILTER NOT EXISTS {{ {typed} }}", True,
                        _const(f"Value does not have class {fmt_rule(c)}"),
                        ("class", (p, _nt(c))) if path else None))
        for kind in sg.objects(shape, SH.nodeKind):
            name = str(kind).rsplit("#", 1)[-1]
            if name not in _NODE_KINDS:
                raise UnsupportedShape(f"unknown sh:nodeKind {kind} ({shape})")
            per_value("nodeKind", _NODE_KINDS[name].format(x=vx),
                      _const(f"Value is not of Node Kind {fmt_rule(kind)}"),
                      ("nodeKind-" + name, (p,)) if path else None)
        for lst in sg.objects(shape, SH["in"]):
            items = list(Collection(sg, lst))
            cond = " || ".join(f"sameTerm({vx}, {_nt(i)})" for i in items) or "false"
            shown = [fmt_rule(i) for i in items]
            per_value("in", f"!({cond})", _gen_in(shown))
        flags = _one(sg, shape, SH.flags)
        for pat in sg.objects(shape, SH.pattern):
            fl = f", {_nt(rdflib.Literal(str(flags)))}" if flags is not None else ""
            regex = _nt(rdflib.Literal(str(pat)))
            per_value("pattern", f"isBlank({vx}) || !REGEX(STR({vx}), {regex}{fl})",
                      _const(f"Value does not match pattern '{pat}'"))
        for key, op in _RANGES.items():
            for bound in sg.objects(shape, SH[key]):
                per_value(key, f"!COALESCE({vx} {op} {_nt(bound)}, false)",
                          _const(_RANGE_WORDS[key].format(fmt_rule(bound))),
                          (key, (p, _nt(bound))) if path else None)
        for key, op in (("minLength", "<"), ("maxLength", ">")):
            for n in sg.objects(shape, SH[key]):
                word = ">=" if key == "minLength" else "<="
                per_value(key, f"isBlank({vx}) || STRLEN(STR({vx})) {op} {_int(n)}",
                          _const(f"String length not {word} {_stringify(rdflib.Graph(), n)}"))
        for hv in sg.objects(shape, SH.hasValue):
            if path:
                hv_pattern = f"FILTER NOT EXISTS {{ {f} {p} {_nt(hv)} }}"
            else:
                hv_pattern = f"FILTER(!sameTerm({f}, {_nt(hv)}))"
            out.append(("hasValue", hv_pattern, False, _gen_has_value(fmt_rule(hv), shape_path),
                        None))
        for key, op in (("lessThan", "<"), ("lessThanOrEquals", "<=")):
            for other in sg.objects(shape, SH[key]):
                w = self._fresh()
                out.append((key, f"{values} {f} {_iri(other)} {w} . "
                            f"FILTER(!COALESCE({vx} {op} {w}, false))", True,
                            _gen_pair(fmt_rule(other), "<=" if key == "lessThan" else "<"), None))
        for s in sg.objects(shape, SH["not"]):
            per_value("not", f"NOT EXISTS {self._violation(s, vx)}",
                      _gen_not(fmt_rule(s)))
        for lst in sg.objects(shape, SH["or"]):
            members = list(Collection(sg, lst))
            cond = " && ".join(f"EXISTS {self._violation(m, vx)}" for m in members) or "true"
            per_value("or", cond, _gen_logic(sg, lst, "or"))
        for lst in sg.objects(shape, SH["and"]):
            members = list(Collection(sg, lst))
            cond = " || ".join(f"EXISTS {self._violation(m, vx)}" for m in members) or "false"
            per_value("and", cond, _gen_logic(sg, lst, "and"))
        return out

    def _distinct(self, f: str, p: str, k: int) -> str:
        """A pattern matching when ``f`` has at least ``k`` distinct values of ``p``."""
        vs = [self._fresh() for _ in range(k)]
        triples = " ".join(f"{f} {p} {x} ." for x in vs)
        pairs = [f"!sameTerm({a}, {b})" for i, a in enumerate(vs) for b in vs[i + 1:]]
        return triples + (f" FILTER({' && '.join(pairs)})" if pairs else "")

    # -- running -----------------------------------------------------------------------

    def run(self, store: ox.Store) -> list[Result]:
        """Validate the union of the graphs of ``store``; every result, deduplicated."""
        closure = store.query(f"ASK {{ ?a {_SUBCLASS} ?b }}", use_default_graph_as_union=True)
        query = self.query_closure if bool(closure) else self.query_plain
        out: list[Result] = []
        seen: set[tuple[int, str, str]] = set()
        solutions = store.query(query, use_default_graph_as_union=True)
        assert isinstance(solutions, ox.QuerySolutions)
        for row in solutions:
            c, f, v = row[0], row[1], row[2]
            assert isinstance(c, ox.Literal) and f is not None and not isinstance(f, ox.Triple)
            if isinstance(v, ox.Triple):
                raise UnsupportedShape("RDF-star value nodes are not validated")
            check = self.checks[int(c.value)]
            key = (check.index, str(f), str(v))
            if key in seen:
                continue
            seen.add(key)
            text = check.message
            if text is None:
                text = check.generic(_rdf(f), _rdf(v) if v is not None else None)
            out.append(Result(f, check.path, text, check.severity, v, check.component,
                              check.shape))
        return out


# -- helpers --------------------------------------------------------------------------------


def _targeted_shapes(sg: rdflib.Graph) -> set[rdflib.term.Node]:
    shapes: set[rdflib.term.Node] = set()
    for key in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf):
        shapes.update(sg.subjects(key, None))
    for s in sg.subjects(RDFNS.type, SH.NodeShape):
        if (s, RDFNS.type, rdflib.RDFS.Class) in sg or (s, RDFNS.type, rdflib.OWL.Class) in sg:
            raise UnsupportedShape(f"implicit class targets are not compiled (shape {s})")
    for s in sg.subjects(SH.sparql, None):
        raise UnsupportedShape(f"SPARQL-based constraints are not compiled (shape {s})")
    return shapes


def _check_keys(sg: rdflib.Graph, shape: rdflib.term.Node) -> None:
    for p in set(sg.predicates(shape, None)):
        if str(p).startswith(str(SH)) and str(p)[len(str(SH)):] not in _SHAPE_KEYS:
            raise UnsupportedShape(f"{p} is not compiled (shape {shape}); "
                                   "extend mlmeta.shacl_sparql or validate with pySHACL")
    for key in (SH.message, SH["or"], SH["and"], SH.flags, SH.path):
        if len(list(sg.objects(shape, key))) > 1:
            raise UnsupportedShape(f"more than one {key} on shape {shape}")


def _is_deactivated(sg: rdflib.Graph, shape: rdflib.term.Node) -> bool:
    value = _one(sg, shape, SH.deactivated)
    return isinstance(value, rdflib.Literal) and bool(value.toPython()) is True


def _one(sg: rdflib.Graph, s: rdflib.term.Node, p: rdflib.URIRef) -> rdflib.term.Node | None:
    return next(iter(sg.objects(s, p)), None)


def _nt(node: rdflib.term.Node) -> str:
    """A shapes-graph term in SPARQL syntax (escaped by pyoxigraph)."""
    if isinstance(node, rdflib.URIRef):
        return str(ox.NamedNode(str(node)))
    if isinstance(node, rdflib.Literal):
        if node.language:
            return str(ox.Literal(str(node), language=node.language))
        dt = node.datatype or rdflib.XSD.string
        return str(ox.Literal(str(node), datatype=ox.NamedNode(str(dt))))
    raise UnsupportedShape(f"blank node {node} used as a constraint value")


def _iri(node: rdflib.term.Node) -> str:
    if not isinstance(node, rdflib.URIRef):
        raise UnsupportedShape(f"expected an IRI, got {node}")
    return _nt(node)


def _rdf(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> rdflib.term.Node:
    from mlmeta.validate import to_rdflib

    return to_rdflib(term)


def _stringify(graph: rdflib.Graph, node: rdflib.term.Node) -> str:
    """A node as pySHACL words it in its generic messages (pySHACL's own formatter)."""
    from pyshacl.rdfutil import stringify

    return str(stringify.stringify_node(graph, node))


def _int(node: rdflib.term.Node) -> int:
    if not isinstance(node, rdflib.Literal):
        raise UnsupportedShape(f"expected a whole number, got {node}")
    return int(str(node))


def _data_str(node: rdflib.term.Node | None) -> str:
    return _stringify(rdflib.Graph(), node) if node is not None else "None"


def _const(text: str) -> Callable[[rdflib.term.Node, rdflib.term.Node | None], str]:
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        return text.replace("{v}", _data_str(value)) if "{v}" in text else text

    return gen


def _gen_count(word: str, k: int, path: str) -> Callable[..., str]:
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        return f"{word} {k} values on {_data_str(focus)}->{path}"

    return gen


def _gen_pair(other: str, op: str) -> Callable[..., str]:
    # pySHACL words sh:lessThan as "<=" and sh:lessThanOrEquals as "<"; mirrored as is.
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        return f"Value of {_data_str(focus)}->{other} {op} {_data_str(value)}"

    return gen


def _gen_in(shown: list[str]) -> Callable[..., str]:
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        return f"Value {_data_str(value)} not in list {shown}"

    return gen


def _gen_has_value(hv: str, path: str) -> Callable[..., str]:
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        if path:
            return f"Node {_data_str(focus)}->{path} does not contain a value in the set: {[hv]}"
        return f"Node {_data_str(focus)} value is not a in the set of values: {[hv]}"

    return gen


def _gen_not(shape: str) -> Callable[..., str]:
    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        return f"Node {_data_str(value)} must not conform to shape {shape}"

    return gen


def _gen_logic(sg: rdflib.Graph, lst: rdflib.term.Node, word: str) -> Callable[..., str]:
    members = " , ".join(_stringify(sg, m) for m in Collection(sg, lst))

    def gen(focus: rdflib.term.Node, value: rdflib.term.Node | None) -> str:
        if word == "or":
            return f"Node {_data_str(value)} must conform to one or more shapes in {members}"
        return f"Node {_data_str(value)} must conform to all shapes in {members}"

    return gen


@cache
def compiled_shapes() -> CompiledShapes:
    """The packaged shapes, compiled once.

    :raises FileNotFoundError: if the shapes are missing (a broken install).
    :raises UnsupportedShape: if they use a feature this module does not compile.
    """
    return CompiledShapes(shapes_graph())


def validate_records(records: Sequence[MappedRecord], source: str = "",
                     shapes: CompiledShapes | None = None) -> dict[str, list[Violation]]:
    """Validate mapped records; returns ``{record key: [violations]}`` for the records that
    do not conform (an empty dict when all do). A drop-in replacement for
    :func:`mlmeta.validate.validate_records`, with the same attribution of results to records.

    :raises FileNotFoundError: if the shapes are missing.
    :raises UnsupportedShape: if the shapes use a feature this module does not compile.
    """
    if not records:
        return {}
    compiled = shapes or compiled_shapes()
    data = ox.Store()
    # The record quads keep their graph names: the query sees the union as its default graph.
    data.extend([q for rec in records for q in rec.quads])
    data.extend([ox.Quad(t.subject, t.predicate, t.object) for rec in records for t in rec.context])
    results = compiled.run(data)
    if not results:
        return {}
    raw = [RawResult(focus=str(_rdf(r.focus)), path=r.path, shape=r.shape, message=r.message,
                     value=str(_rdf(r.value)) if r.value is not None else None,
                     severity=r.severity) for r in results]
    return attribute(raw, records, source)
