"""Just enough SPARQL lexing to bind parameters without formatting values into queries.

Oxigraph binds ``substitutions`` only for variables that the top-level SELECT
projects (and an aggregate query may project them only if it groups by them).
Saved queries should not have to list their parameters as columns, so
:func:`project_params` adds the parameter variables to the projection (and to
the GROUP BY of an aggregate query; a substituted variable is constant, so the
groups do not change); the caller drops those columns from the answer.

Remote endpoints, which have no substitutions, bind parameters with
:mod:`mlmeta.sparqlbind`, whose tokenizer this module shares. Only variable names from
saved-query headers are ever added to a query here, never a user's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmeta.sparqlbind import Token, tokenize

_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}
_SOLUTION_MODIFIERS = {"GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES"}


def _end(t: Token) -> int:
    return t.start + len(t.text)


@dataclass
class _Shape:
    select: int | None  # index of the top-level SELECT token
    where_open: int | None  # index of the '{' opening the outermost WHERE group
    where_close: int | None  # index of its matching '}'
    projection: list[Token]
    group_by: int | None  # index of the top-level GROUP token


def _shape(toks: list[Token]) -> _Shape:
    select = next((i for i, t in enumerate(toks)
                   if t.kind == "word" and t.text.upper() in ("SELECT", "ASK", "CONSTRUCT",
                                                               "DESCRIBE")), None)
    if select is None:
        return _Shape(None, None, None, [], None)
    where_open = next((i for i in range(select + 1, len(toks)) if toks[i].text == "{"), None)
    projection = toks[select + 1: where_open] if where_open is not None else []
    projection = [t for t in projection if not (t.kind == "word" and t.text.upper() == "WHERE")]
    where_close = None
    group_by = None
    if where_open is not None:
        depth = 0
        for i in range(where_open, len(toks)):
            if toks[i].text == "{":
                depth += 1
            elif toks[i].text == "}":
                depth -= 1
                if depth == 0:
                    where_close = i
                    break
        if where_close is not None:
            for i in range(where_close + 1, len(toks)):
                if toks[i].kind == "word" and toks[i].text.upper() == "GROUP":
                    group_by = i
                    break
    if toks[select].text.upper() != "SELECT":
        return _Shape(None, where_open, where_close, [], None)
    return _Shape(select, where_open, where_close, projection, group_by)


def project_params(query: str, names: list[str]) -> tuple[str, list[str]]:
    """Add parameter variables to the top-level SELECT projection (and GROUP BY).

    Returns the rewritten query and the names that were added (to drop from the
    answer). ASK / CONSTRUCT / DESCRIBE and ``SELECT *`` queries are returned unchanged.
    """
    toks = tokenize(query)
    shape = _shape(toks)
    if shape.select is None or shape.where_open is None:
        return query, []
    if shape.projection and shape.projection[-1].text == "*" and not any(
            t.text == "(" for t in shape.projection):
        return query, []  # SELECT * / SELECT DISTINCT *: every variable is projected
    depth = 0
    projected: set[str] = set()
    has_aggregate = False
    prev = ""
    for t in shape.projection:
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif t.kind == "var" and (depth == 0 or prev == "AS"):
            projected.add(t.text[1:])  # a plain ?x, or the ?x of (expr AS ?x)
        elif t.kind == "word" and t.text.upper() in _AGGREGATES:
            has_aggregate = True
        prev = t.text.upper()
    added = [n for n in names if n not in projected]
    if not added:
        return query, []
    extra = " " + " ".join(f"?{n}" for n in added)
    where_start = toks[shape.where_open].start
    # Insert before "WHERE" if present, else before "{".
    where_kw = shape.where_open - 1
    insert_at = toks[where_kw].start if toks[where_kw].text.upper() == "WHERE" else where_start
    edits: list[tuple[int, str]] = [(insert_at, extra + " ")]
    if shape.group_by is not None:
        # GROUP BY <conditions>: append after the last condition.
        i = shape.group_by + 2  # skip GROUP BY
        depth = 0
        last_end = _end(toks[shape.group_by + 1])
        while i < len(toks):
            t = toks[i]
            if depth == 0 and t.kind == "word" and t.text.upper() in _SOLUTION_MODIFIERS:
                break
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
            last_end = _end(t)
            i += 1
        edits.append((last_end, extra))
    elif has_aggregate and shape.where_close is not None:
        edits.append((_end(toks[shape.where_close]), " GROUP BY" + extra))
    text = query
    for pos, s in sorted(edits, reverse=True):
        text = text[:pos] + s + text[pos:]
    return text, added
