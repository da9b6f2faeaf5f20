"""Saved SPARQL queries: ``queries/*.rq`` files with a comment header.

Header lines (before the query)::

    # title: Models trained on a dataset above an accuracy threshold
    # description: ...
    # param: dataset string ImageNet
    # param: min float 0.9
    # example: mlmeta query models-trained-on --dataset imagenet-1k --min 0.8
    # columns: model, dataset, metric, value

A parameter is ``name type [default]``; types are ``string``, ``int``,
``float``, ``bool``, ``iri`` and ``date``, and the entity types ``model``, ``dataset``,
``metric``, ``task``, ``hardware`` and ``concept``. A parameter with no default is
optional: left unbound when not given. Values are bound as RDF terms, written into the
query as escaped constants by :mod:`mlmeta.sparqlbind` (never as raw text).

An entity parameter is resolved in Python to the entity's IRI *before* the query runs,
so the query starts from a constant and follows selective patterns (resolving names
inside SPARQL made Oxigraph scan the whole store). A ``dataset``, ``metric``, ``task`` or
``hardware`` is resolved by the alias tables (:mod:`mlmeta.normalize`), an absolute IRI
as itself. A ``model`` needs the store (:func:`resolve_models`): an absolute IRI as
itself; a key ``zoo:id`` as that zoo's model IRI; else the models whose ``mlm:sourceId``
is exactly the text, else those whose ``mlm:name`` is, else the Hugging Face IRI of the
text (a model known only as a base of another). When several models match (one id in
two zoos), :meth:`SavedQuery.run` runs the query once per model, in IRI order, and
concatenates the answers, dropping repeated rows.

A ``concept`` is resolved without the store (:func:`concept_bindings`) to three
constants, so that a query can start every lookup from one: ``?_name`` (or ``?name``)
is the concept's IRI (a Wikidata id in any spelling, ``Q144``, ``q144``, ``wd:Q144`` or
the item's URL, is the item; another absolute IRI is itself; a label is the node
records give a concept of that label, ``id/concept/label/<slug>``); ``?_name_text`` is
the text as given (for exact label lookups, and to echo it); ``?_name_key`` is the text
lower-cased with runs of spaces and underscores as one space, as label spaces write
their ``skos:hiddenLabel``. A label is not resolved to every concept it names here: one
label can name thousands (every model's own ``class-1``), which a query could then only
take as a ``VALUES`` set (Virtuoso rejects that as the start of a property path) or by
running once per concept (wrong counts when one model's classes match two of them); the
query looks the label up itself, by index, from the constant text or key.

A parameter ``name`` binds the variable ``?_name`` when the query uses it, else
``?name`` (``?_model`` lets a query bind a start model and return other models as
``?model``); :meth:`SavedQuery.run` keeps the ``# columns:`` (or, without that header,
drops the ``_``-prefixed variables).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from mlmeta import iri
from mlmeta.errors import SavedQueryNotFound, UsageError
from mlmeta.mapping import KNOWN_ZOOS, canonical_node, dataset_iri
from mlmeta.resources import queries_dir
from mlmeta.store import QueryAnswer, Rows, Store
from mlmeta.vocab import MLM_NS, WD, XSD

ENTITY_TYPES = ("model", "dataset", "metric", "task", "hardware", "concept")
PARAM_TYPES = ("string", "int", "float", "bool", "iri", "date", *ENTITY_TYPES)
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
        # an entity is given as text (a name, an id or an IRI)
        shown = "string" if self.type in ENTITY_TYPES else self.type
        return f"--{self.name.replace('_', '-')} {shown.upper()}{d}"


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

    def bind(self, values: Mapping[str, str], store: Store | None = None,
             ) -> dict[str, ox.NamedNode | ox.Literal]:
        """Check and convert parameter values (strings from the command line) to RDF terms,
        filling in defaults.

        Without a store, a ``model`` parameter is :func:`model_iri_without_store` (enough
        to check usage); with one, the first model it names (:func:`resolve_models`);
        :meth:`run` runs the query for every one of them.

        :raises UsageError: for an unknown parameter or a value of the wrong type; the
            message lists the valid parameters.
        :raises QueryError: if a model lookup in the store fails.
        """
        return next(iter(self._bindings(values, store)))

    def _bindings(self, values: Mapping[str, str], store: Store | None,
                  ) -> list[dict[str, ox.NamedNode | ox.Literal]]:
        """Every combination of the models the ``model`` parameters name (one binding
        when there are none), each a complete set of substitutions."""
        bound = self._bind_plain(values)
        raw = {k.replace("-", "_"): v for k, v in values.items()}
        choices: list[list[tuple[str, ox.NamedNode | ox.Literal]]] = []
        for var, term in bound.items():
            p = self._param_of_variable(var)
            if store is not None and p is not None and p.type == "model":
                text = raw.get(p.name, p.default or "")
                choices.append([(var, m) for m in resolve_models(store, text)])
            else:
                choices.append([(var, term)])
        return [dict(combo) for combo in itertools.product(*choices)]

    def _param_of_variable(self, var: str) -> Param | None:
        for p in self.params:
            if self.variable(p) == var:
                return p
        return None

    def _bind_plain(self, values: Mapping[str, str]) -> dict[str, ox.NamedNode | ox.Literal]:
        given: dict[str, ox.NamedNode | ox.Literal] = {}
        for name, raw in values.items():
            key = name.replace("-", "_")
            p = self.param(key)
            if p is None:
                raise UsageError(f"query {self.name!r} has no parameter {name!r}",
                                 hint=self.usage())
            given[key] = to_term(p, raw, self)
        texts = {name.replace("-", "_"): raw for name, raw in values.items()}
        for p in self.params:
            if p.name not in given and p.default is not None:
                given[p.name] = to_term(p, p.default, self)
                texts[p.name] = p.default
        out = {self.variable(p): given[p.name] for p in self.params if p.name in given}
        for p in self.params:
            if p.type == "concept" and p.name in given:
                out.update(concept_bindings(p, texts[p.name], self))
        return out

    def variable(self, p: Param) -> str:
        """The SPARQL variable a parameter binds: ``?_name`` when the query text uses it,
        else ``?name``.

        ``?_name`` lets a query keep a result column called ``name`` (``lineage-up`` binds
        ``?_model`` and returns ``?model``).
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

        A ``model`` parameter naming several models (one id in two zoos) runs the query
        once per model, in IRI order; the answers are concatenated, repeated rows dropped.

        :raises UsageError: for unknown parameters or values of the wrong type.
        :raises QueryError: if the query fails.
        """
        bindings = self._bindings(values or {}, store)
        if len(bindings) == 1:
            return self.shape(store.query(self.text, bindings[0]))
        answers = [self.shape(store.query(self.text, b)) for b in bindings]
        first = answers[0]
        if not isinstance(first, Rows):
            return first
        seen: set[tuple[object, ...]] = set()
        rows = []
        for a in answers:
            assert isinstance(a, Rows)
            for row in a.rows:
                if row not in seen:
                    seen.add(row)
                    rows.append(row)
        return Rows(first.variables, rows)

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
    if t == "model":
        return model_iri_without_store(raw)  # SavedQuery.run looks it up in the store
    if t == "concept":
        return concept_iri(raw)
    if t in ENTITY_TYPES:
        return entity_iri(t, raw)
    raise bad(f"a value of unknown type {t!r}")  # pragma: no cover - checked when parsing


def _absolute_iri(text: str) -> ox.NamedNode | None:
    if not text.startswith(("http://", "https://")) or not _IRI_RE.match(text):
        return None
    try:
        return ox.NamedNode(text)
    except ValueError:
        return None


def entity_iri(kind: str, name: str) -> ox.NamedNode:
    """The canonical IRI of a dataset, metric, task or hardware as any source spells it
    (by the alias tables; an unknown name gets the slug IRI the mapping would give it, an
    absolute IRI stays itself)."""
    given = _absolute_iri(name)
    if given is not None:
        return given
    if kind == "dataset":
        return dataset_iri(name)[0]
    return canonical_node(kind, name)[0]


_QID_RE = re.compile(r"^(?:https?://www\.wikidata\.org/(?:entity|wiki)/|wd:)?(Q[1-9][0-9]*)$",
                     re.IGNORECASE)
_KEY_RE = re.compile(r"[\s_]+")


def concept_iri(text: str) -> ox.NamedNode:
    """The IRI of the concept a text names: a Wikidata id (``Q144``, ``q144``,
    ``wd:Q144``, the item's ``/entity/`` or ``/wiki/`` URL) is the item, another absolute
    IRI is itself, anything else is a label, whose node is the one the mapping gives a
    concept named by that label (``id/concept/label/<slug>``)."""
    m = _QID_RE.match(text.strip())
    if m:
        return WD[m.group(1).upper()]
    given = _absolute_iri(text.strip())
    if given is not None:
        return given
    return iri.entity("concept", "label", iri.slug(text))


def concept_bindings(p: Param, text: str, q: SavedQuery) -> dict[str, ox.NamedNode | ox.Literal]:
    """The variables a ``concept`` parameter binds: its own variable to
    :func:`concept_iri`, ``?_<name>_text`` to the text as given and ``?_<name>_key`` to
    the text lower-cased with runs of spaces and underscores as one space."""
    return {q.variable(p): concept_iri(text), f"_{p.name}_text": ox.Literal(text),
            f"_{p.name}_key": ox.Literal(_KEY_RE.sub(" ", text.strip().lower()))}


_BY_SOURCE_ID = f"SELECT DISTINCT ?m ?_v WHERE {{ ?m <{MLM_NS}sourceId> ?_v }} ORDER BY ?m"
_BY_NAME = f"SELECT DISTINCT ?m ?_v WHERE {{ ?m <{MLM_NS}name> ?_v }} ORDER BY ?m"


def model_iri_without_store(text: str) -> ox.NamedNode:
    """The model IRI a text names when no store can be asked: an absolute IRI as itself,
    ``zoo:id`` as that zoo's model, else the Hugging Face model of that id."""
    given = _absolute_iri(text)
    if given is not None:
        return given
    zoo, sep, rest = text.partition(":")
    if sep and zoo in KNOWN_ZOOS and rest:
        return iri.model(zoo, rest)
    return iri.model("huggingface", text)


def resolve_models(store: Store, text: str) -> list[ox.NamedNode]:
    """The models a user's text names, each by one indexed lookup, in IRI order.

    An absolute IRI is itself; ``zoo:id`` (a known zoo) is that zoo's model IRI; else the
    models whose ``mlm:sourceId`` is exactly the text, else those whose ``mlm:name`` is;
    else the Hugging Face model IRI of the text (a base known only by reference), which
    matches nothing when there is no such model, so the answer is empty.

    :raises QueryError: if a lookup fails.
    """
    given = _absolute_iri(text)
    if given is not None:
        return [given]
    zoo, sep, rest = text.partition(":")
    if sep and zoo in KNOWN_ZOOS and rest:
        return [iri.model(zoo, rest)]
    for lookup in (_BY_SOURCE_ID, _BY_NAME):
        answer = store.query(lookup, {"_v": ox.Literal(text)})
        if isinstance(answer, Rows):
            found = [r[0] for r in answer.rows if isinstance(r[0], ox.NamedNode)]
            if found:
                return found
    return [iri.model("huggingface", text)]


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
