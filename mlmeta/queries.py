"""Saved SPARQL queries: ``queries/*.rq`` files with a comment header.

Header lines (before the query)::

    # title: Models trained on a dataset above an accuracy threshold
    # description: ...
    # param: dataset string ImageNet
    # param: min float 0.9
    # example: mlmeta query models-trained-on --dataset imagenet-1k --min 0.8
    # columns: model, dataset, metric, value

A parameter is ``name type [default]``; types are ``string``, ``int``,
``float``, ``bool``, ``iri`` and ``date``. A parameter with no default is
optional: left unbound when not given. Values are bound as RDF terms
(pyoxigraph ``substitutions``), never formatted into the query text.

A parameter ``name`` binds the variable ``?_name`` when the query uses it, else
``?name``. pyoxigraph substitutes only variables the query projects, so every
bound parameter is projected; :meth:`SavedQuery.run` keeps the ``# columns:``
(or, without that header, drops the ``_``-prefixed variables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from mlmeta.errors import SavedQueryNotFound, UsageError
from mlmeta.resources import queries_dir
from mlmeta.store import QueryAnswer, Rows, Store
from mlmeta.vocab import XSD

PARAM_TYPES = ("string", "int", "float", "bool", "iri", "date")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER_RE = re.compile(r"^#\s*([a-z_]+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class Param:
    """One parameter of a saved query."""

    name: str
    type: str
    default: str | None = None

    def describe(self) -> str:
        d = f" (default {self.default})" if self.default is not None else " (optional)"
        return f"--{self.name.replace('_', '-')} {self.type.upper()}{d}"


@dataclass
class SavedQuery:
    """A saved query: its name (the file stem), header and SPARQL text."""

    name: str
    path: Path
    title: str
    description: str
    params: list[Param]
    examples: list[str]
    columns: list[str]
    text: str
    extra: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def bind(self, values: Mapping[str, str]) -> dict[str, ox.NamedNode | ox.Literal]:
        """Check and convert parameter values (strings from the command line) to RDF terms,
        filling in defaults.

        :raises UsageError: for an unknown parameter or a value of the wrong type; the
            message lists the valid parameters.
        """
        given: dict[str, ox.NamedNode | ox.Literal] = {}
        for name, raw in values.items():
            key = name.replace("-", "_")
            p = self.param(key)
            if p is None:
                raise UsageError(f"query {self.name!r} has no parameter {name!r}",
                                 hint=self.usage())
            given[key] = to_term(p, raw, self)
        for p in self.params:
            if p.name not in given and p.default is not None:
                given[p.name] = to_term(p, p.default, self)
        return {self.variable(p): given[p.name] for p in self.params if p.name in given}

    def variable(self, p: Param) -> str:
        """The SPARQL variable a parameter binds: ``?_name`` when the query text uses it,
        else ``?name``.

        pyoxigraph only substitutes variables of the top-level projection, so a bound
        parameter is always an output variable too; ``?_name`` lets a query keep a result
        column called ``name`` (``lineage-up`` binds ``?_model`` and returns ``?model``).
        """
        hidden = "_" + p.name
        return hidden if re.search(rf"[?$]{hidden}(?![A-Za-z0-9_])", self.text) else p.name

    def shape(self, answer: QueryAnswer) -> QueryAnswer:
        """Keep the declared ``# columns:`` of a SELECT answer, in that order (without that
        header: every variable not starting with ``_``). Other answers pass unchanged."""
        if not isinstance(answer, Rows):
            return answer
        keep = self.columns or [v for v in answer.variables if not v.startswith("_")]
        index = [answer.variables.index(c) for c in keep if c in answer.variables]
        return Rows([answer.variables[i] for i in index],
                    [tuple(row[i] for i in index) for row in answer.rows])

    def run(self, store: Store, values: Mapping[str, str] | None = None) -> QueryAnswer:
        """Bind the parameter values, run the query and keep the declared columns.

        :raises UsageError: for unknown parameters or values of the wrong type.
        :raises QueryError: if the query fails.
        """
        return self.shape(store.query(self.text, self.bind(values or {})))

    def usage(self) -> str:
        if not self.params:
            return "it takes no parameters"
        return "valid parameters: " + ", ".join(p.describe() for p in self.params)


_IRI_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_term(p: Param, raw: str, q: SavedQuery) -> ox.NamedNode | ox.Literal:
    """One parameter value as an RDF term of the parameter's type.

    :raises UsageError: when the value is not of that type.
    """
    def bad(what: str) -> UsageError:
        return UsageError(f"--{p.name.replace('_', '-')} of query {q.name!r} takes {what}, "
                          f"not {raw!r}", hint=q.usage())

    t = p.type
    if t == "string":
        return ox.Literal(raw)
    if t == "int":
        try:
            return ox.Literal(str(int(raw.strip())), datatype=XSD.integer)
        except ValueError:
            raise bad("a whole number") from None
    if t == "float":
        try:
            v = float(raw.strip())
        except ValueError:
            raise bad("a number") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise bad("a finite number")
        return ox.Literal(repr(v), datatype=XSD.double)
    if t == "bool":
        low = raw.strip().lower()
        if low in ("true", "yes", "1"):
            return ox.Literal("true", datatype=XSD.boolean)
        if low in ("false", "no", "0"):
            return ox.Literal("false", datatype=XSD.boolean)
        raise bad("true or false")
    if t == "iri":
        if not _IRI_RE.match(raw.strip()):
            raise bad("an absolute IRI")
        return ox.NamedNode(raw.strip())
    if t == "date":
        if not _DATE_RE.match(raw.strip()):
            raise bad("a date YYYY-MM-DD")
        return ox.Literal(raw.strip(), datatype=XSD.date)
    raise bad(f"a value of unknown type {t!r}")  # pragma: no cover - checked when parsing


def parse_saved_query(path: Path) -> SavedQuery:
    """Read a saved query file and its header.

    :raises UsageError: if the header is malformed (an unknown parameter type, a bad name).
    """
    text = path.read_text("utf-8")
    name = path.stem
    title, description = name, ""
    params: list[Param] = []
    examples: list[str] = []
    columns: list[str] = []
    extra: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if not s.startswith("#"):
            break
        m = _HEADER_RE.match(s)
        if not m:
            if last == "description":  # continuation lines of a description
                description = (description + " " + s.lstrip("#").strip()).strip()
            continue
        key, value = m.group(1), m.group(2).strip()
        last = key
        if key == "title":
            title = value
        elif key == "description":
            description = value
        elif key == "param":
            parts = value.split(None, 2)
            if len(parts) < 2 or parts[1] not in PARAM_TYPES or not _NAME_RE.match(parts[0]):
                raise UsageError(f"{path}: malformed '# param: {value}'",
                                 hint="write '# param: name type [default]' with a type in "
                                 + ", ".join(PARAM_TYPES))
            params.append(Param(parts[0], parts[1], parts[2] if len(parts) > 2 else None))
        elif key == "example":
            examples.append(value)
        elif key == "columns":
            columns = [c.strip() for c in value.split(",") if c.strip()]
        else:
            extra[key] = value
    return SavedQuery(name, path, title, description, params, examples, columns, text, extra)


def saved_queries(directory: Path | None = None) -> dict[str, SavedQuery]:
    """Every saved query, by name."""
    d = directory or queries_dir()
    return {p.stem: parse_saved_query(p) for p in sorted(d.glob("*.rq"))}


def get_saved_query(name: str, directory: Path | None = None) -> SavedQuery:
    """The saved query of that name.

    :raises SavedQueryNotFound: listing the names there are.
    """
    d = directory or queries_dir()
    path = d / f"{name}.rq"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in d.glob("*.rq")))
        raise SavedQueryNotFound(f"no saved query named {name!r}",
                                 hint=f"run 'mlmeta queries' to list them: {names}")
    return parse_saved_query(path)


def run_saved_query(store: Store, name: str, values: Mapping[str, str] | None = None,
                    directory: Path | None = None) -> QueryAnswer:
    """Run a saved query with parameter values given as strings.

    :raises SavedQueryNotFound: if there is no such query.
    :raises UsageError: for unknown parameters or values of the wrong type.
    :raises QueryError: if the query fails.
    """
    return get_saved_query(name, directory).run(store, values)
