"""Binding query variables for endpoints that take no ``substitutions``: a SPARQL rewrite.

The embedded store binds parameters with pyoxigraph ``substitutions``: every occurrence of
the variable stands for the given term, and the variable is bound to it in the answer.
A remote endpoint only takes query text, so :func:`bind_variables` produces the
equivalent text:

* each occurrence of a bound variable where SPARQL allows a constant (triple patterns,
  ``GRAPH``, expressions, ``HAVING``) is replaced by the term; stores such as Virtuoso
  need the constant in place (a property path ``?m :p* ?x`` with ``?m`` bound only by
  ``VALUES`` fails there with "transitive start not given");
* where only a variable is allowed (the projection, ``AS ?x``, ``VALUES ?x``,
  ``GROUP BY ?x``, ``ORDER BY ?x``, ``BOUND(?x)``, ``DESCRIBE ?x``) it is kept, and a
  ``VALUES`` block right after the opening brace of the outermost ``WHERE`` binds it, so
  it is still bound in the answer.

Terms are written with pyoxigraph's ``str(term)``, which escapes IRIs and literals, so
user text never reaches the query unescaped. The query is read by a small tokenizer that
knows strings, IRIs and comments; nothing is formatted into the query as raw text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
      | '''(?:[^'\\]|\\.|'(?!''))*'''
      | "(?:[^"\\\n]|\\.)*"
      | '(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)
  | (?P<word>[A-Za-z_:][A-Za-z0-9_\-.:%\u00B7\u00C0-\uFFFF]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
# After GROUP BY / ORDER BY, a bare variable must stay until one of these starts.
_CLAUSE_END = {"HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES", "GROUP", "SELECT", "WHERE"}


@dataclass
class Token:
    kind: str
    text: str
    start: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


def tokenize(text: str) -> list[Token]:
    """The significant tokens of a SPARQL text (whitespace and comments dropped)."""
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        out.append(Token(kind, m.group(), m.start()))
    return out


def query_form(text: str) -> str:
    """``SELECT``, ``ASK``, ``CONSTRUCT`` or ``DESCRIBE``: the form of a query ("" if none)."""
    for tok in tokenize(text):
        if tok.kind == "word" and tok.upper in _QUERY_FORMS:
            return tok.upper
    return ""


def _var_name(tok: Token) -> str:
    return tok.text[1:]


def _keep_positions(tokens: list[Token]) -> set[int]:
    """Indexes of variable tokens that must stay variables (see the module docstring)."""
    keep: set[int] = set()
    paren = 0
    # Open clause: (kind, paren depth at its start); kinds: select, values, groupby, describe.
    clause: tuple[str, int] | None = None
    for i, tok in enumerate(tokens):
        up = tok.upper
        if tok.kind == "other" and tok.text == "(":
            paren += 1
        elif tok.kind == "other" and tok.text == ")":
            paren = max(0, paren - 1)
        elif tok.kind == "other" and tok.text == "{":
            clause = None
        elif tok.kind == "other" and tok.text == "}":
            clause = None
        elif tok.kind == "word":
            if up in ("SELECT", "DESCRIBE"):
                clause = ("select", paren)
            elif up == "VALUES":
                clause = ("values", paren)
            elif up == "BY" and i > 0 and tokens[i - 1].upper in ("GROUP", "ORDER"):
                clause = ("groupby", paren)
            elif up == "WHERE" or (clause and clause[0] == "groupby" and up in _CLAUSE_END):
                clause = None
        elif tok.kind == "var":
            prev = tokens[i - 1] if i > 0 else None
            prev2 = tokens[i - 2] if i > 1 else None
            if prev is not None and prev.upper == "AS":
                keep.add(i)
            elif (prev is not None and prev.text == "(" and prev2 is not None
                  and prev2.upper == "BOUND"):
                keep.add(i)
            elif clause is not None and clause[0] == "values":
                keep.add(i)
            elif clause is not None and paren == clause[1]:
                keep.add(i)
    return keep


def _where_groups(tokens: list[Token]) -> list[tuple[int, int, int]]:
    """Each query's and sub-select's WHERE group: (index of its ``SELECT``/``ASK``/...
    keyword, index of its ``{``, index of the matching ``}``), outermost first."""
    out: list[tuple[int, int, int]] = []
    depth = 0
    # Open query forms: (keyword index, depth, template groups still to skip).
    pending: list[tuple[int, int, int]] = []
    opened: dict[int, tuple[int, int]] = {}  # depth of a WHERE "{" -> (keyword, brace)
    for i, tok in enumerate(tokens):
        up = tok.upper
        if tok.kind == "word" and up in _QUERY_FORMS:
            skip = 0
            if up == "CONSTRUCT":
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                if nxt is not None and nxt.upper == "WHERE":
                    continue  # CONSTRUCT WHERE { }: the group is also the template
                skip = 1
            pending.append((i, depth, skip))
        elif tok.kind == "other" and tok.text == "{":
            if pending and pending[-1][1] == depth:
                kw, d, skip = pending.pop()
                if skip:
                    pending.append((kw, d, skip - 1))
                else:
                    opened[depth] = (kw, i)
            depth += 1
        elif tok.kind == "other" and tok.text == "}":
            depth = max(0, depth - 1)
            if depth in opened:
                kw, brace = opened.pop(depth)
                out.append((kw, brace, i))
    return sorted(out)


def bind_variables(text: str, substitutions: Mapping[str, Term] | None) -> str:
    """The query ``text`` with the variables in ``substitutions`` bound to their terms.

    Variables the query does not mention are ignored. Returns ``text`` unchanged when
    there is nothing to bind.

    :raises ValueError: if a variable name is not a valid SPARQL variable name.
    """
    if not substitutions:
        return text
    for name in substitutions:
        if not re.fullmatch(r"[A-Za-z0-9_\u00B7\u00C0-\uFFFF]+", name):
            raise ValueError(f"not a SPARQL variable name: {name!r}")
    tokens = tokenize(text)
    used = {_var_name(t) for t in tokens if t.kind == "var"}
    bound = {k: v for k, v in substitutions.items() if k in used}
    if not bound:
        return text
    keep = _keep_positions(tokens)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    for i, tok in enumerate(tokens):
        if tok.kind == "var" and _var_name(tok) in bound and i not in keep:
            edits.append((tok.start, tok.start + len(tok.text), str(bound[_var_name(tok)])))
    # A VALUES block in the outermost WHERE binds the variables for the answer; one in each
    # sub-select that mentions them binds them there too, so that a sub-select projecting
    # one does not return it unbound (Virtuoso does not join unbound with bound).
    for idx, (kw, brace, close) in enumerate(_where_groups(tokens)):
        names = sorted(bound) if idx == 0 else sorted(
            {_var_name(t) for t in tokens[kw:close] if t.kind == "var"} & set(bound))
        if not names:
            continue
        values = ("VALUES (" + " ".join(f"?{n}" for n in names) + ") { ("
                  + " ".join(str(bound[n]) for n in names) + ") } ")
        at = tokens[brace].start + 1
        edits.append((at, at, " " + values))
    out = text
    for start, end, repl in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + repl + out[end:]
    return out
