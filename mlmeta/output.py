"""Printing query answers: ``table``, ``csv``, ``tsv`` and ``json``.

``json`` is the SPARQL 1.1 Query Results JSON format; ``csv`` and ``tsv``
follow the SPARQL 1.1 CSV and TSV results formats; ``table`` is for people
(IRIs shortened with the usual prefixes, columns aligned).
"""

from __future__ import annotations

import csv
import io
import json
from typing import IO

import pyoxigraph as ox

from mlmeta.store import QueryAnswer, Rows, Term
from mlmeta.vocab import PREFIXES, XSD

FORMATS = ("table", "csv", "tsv", "json")
_XSD_STRING = XSD.string.value


def compact(iri: str) -> str:
    """``https://w3id.org/mlmeta/id/dataset/imagenet-1k`` -> ``id:dataset/imagenet-1k``."""
    best = ""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(ns) > len(best):
            best = ns
            name = prefix
    if best:
        return f"{name}:{iri[len(best):]}"
    return iri


def display(term: Term | None) -> str:
    """A term as a person reads it: literal values bare, IRIs compacted."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return compact(term.value)
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return str(term)


def json_term(term: Term) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != _XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": str(term)}


def _tsv_term(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal) and term.datatype.value in (
            XSD.integer.value, XSD.decimal.value, XSD.double.value, XSD.boolean.value):
        return term.value
    return str(term)


def write_rows(rows: Rows, out: IO[str], fmt: str = "table") -> None:
    """Write a SELECT answer in a format.

    :raises ValueError: for an unknown format.
    """
    if fmt == "json":
        doc = {"head": {"vars": rows.variables},
               "results": {"bindings": [
                   {v: json_term(t) for v, t in zip(rows.variables, r, strict=True)
                    if t is not None} for r in rows.rows]}}
        json.dump(doc, out, indent=1, ensure_ascii=False)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(rows.variables)
        for r in rows.rows:
            w.writerow(["" if t is None else t.value if isinstance(t, ox.NamedNode | ox.Literal)
                        else display(t) for t in r])
    elif fmt == "tsv":
        out.write("\t".join(f"?{v}" for v in rows.variables) + "\n")
        for r in rows.rows:
            out.write("\t".join(_tsv_term(t) for t in r) + "\n")
    elif fmt == "table":
        out.write(table_text(rows))
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def table_text(rows: Rows, max_width: int = 60) -> str:
    """An aligned text table of the rows, cells cut at ``max_width`` characters."""
    cells = [[_cut(display(t), max_width) for t in r] for r in rows.rows]
    widths = [len(v) for v in rows.variables]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    buf = io.StringIO()
    buf.write("  ".join(v.ljust(widths[i]) for i, v in enumerate(rows.variables)).rstrip() + "\n")
    buf.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        buf.write("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() + "\n")
    buf.write(f"({len(rows.rows)} row{'s' if len(rows.rows) != 1 else ''})\n")
    return buf.getvalue()


def _cut(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def write_answer(answer: QueryAnswer, out: IO[str], fmt: str = "table") -> None:
    """Write any query answer: rows, a boolean (ASK) or triples (CONSTRUCT, as N-Triples)."""
    if isinstance(answer, Rows):
        write_rows(answer, out, fmt)
    elif isinstance(answer, bool):
        if fmt == "json":
            out.write(json.dumps({"head": {}, "boolean": answer}) + "\n")
        else:
            out.write(("true" if answer else "false") + "\n")
    else:
        for t in answer:
            out.write(f"{t.subject} {t.predicate} {t.object} .\n")
