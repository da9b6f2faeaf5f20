"""The store: one small interface, the embedded Oxigraph store behind it by default.

Every record lives in its own named graph; :meth:`Store.replace_graphs`
replaces a batch of them in one transaction, so a reader never sees a record
half-written and a failed write leaves the old version intact. Queries see
the union of all graphs as their default graph.

:func:`open_store` picks the implementation from the location: a directory
(embedded, on disk), ``:memory:`` (embedded, in memory) or an ``http(s)://``
SPARQL endpoint (:mod:`mlmeta.remote`).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from mlmeta.errors import QueryError, StoreError, StoreLockedError
from mlmeta.sparqlbind import bind_variables
from mlmeta.vocab import MLM, ONTOLOGY_GRAPH

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple

MEMORY = ":memory:"


@dataclass
class Rows:
    """The answer of a SELECT query: variable names and rows of terms (None = unbound)."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def dicts(self) -> list[dict[str, Term | None]]:
        return [dict(zip(self.variables, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[Term | None]:
        i = self.variables.index(name)
        return [r[i] for r in self.rows]


QueryAnswer = Rows | bool | list[ox.Triple]


def default_location() -> str:
    """``$MLMETA_STORE``, else ``$XDG_DATA_HOME/mlmeta/store`` (``~/.local/share/mlmeta/store``)."""
    env = os.environ.get("MLMETA_STORE")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "mlmeta" / "store")


def nt(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    """The N-Triples / SPARQL form of a term (IRIs and literals are escaped by pyoxigraph)."""
    return str(term)


def insert_data_text(graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> str:
    """A SPARQL Update that drops and refills each graph, as one request."""
    parts: list[str] = []
    for g, quads in graphs:
        parts.append(f"DROP SILENT GRAPH {nt(g)}")
        if quads:
            body = "\n".join(f"{nt(q.subject)} {nt(q.predicate)} {nt(q.object)} ." for q in quads)
            parts.append(f"INSERT DATA {{ GRAPH {nt(g)} {{\n{body}\n}} }}")
    return " ;\n".join(parts)


class Store(ABC):
    """What mlmeta needs of a triplestore. Implementations: :class:`OxigraphStore`,
    :class:`mlmeta.remote.RemoteStore`."""

    location: str

    @abstractmethod
    def replace_graphs(self, graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> None:
        """Replace each named graph with the given quads, all in one transaction.

        :raises StoreError: if the write fails; then nothing was changed.
        """

    @abstractmethod
    def remove_graphs(self, graphs: Iterable[ox.NamedNode]) -> None:
        """Drop named graphs (missing ones are ignored), in one transaction."""

    @abstractmethod
    def query(self, sparql: str, substitutions: Mapping[str, Term] | None = None) -> QueryAnswer:
        """Run a SPARQL query over the union of the graphs; variables in ``substitutions``
        are bound to the given terms before evaluation (never formatted into the text).

        :raises QueryError: if the query is malformed or fails.
        """

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL Update.

        :raises QueryError: if the update is malformed or fails.
        """

    @abstractmethod
    def quads(self, graph: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        """Every quad, or those of one named graph, streamed."""

    @abstractmethod
    def named_graphs(self) -> Iterator[ox.NamedNode]:
        """The names of every named graph."""

    @abstractmethod
    def dump(self, output: IO[bytes], fmt: ox.RdfFormat) -> None:
        """Write the whole dataset to ``output`` in an RDF format, streamed.

        Formats without named graphs (Turtle) get the union of the graphs.
        """

    def has_graph(self, graph: ox.NamedNode) -> bool:
        answer = self.query("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": graph})
        return bool(answer)

    def graph_quads(self, graph: ox.NamedNode) -> list[ox.Quad]:
        return list(self.quads(graph))

    def count(self) -> int:
        """The number of quads in the store (named graphs included)."""
        answer = self.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert isinstance(answer, Rows)
        n = answer.rows[0][0] if answer.rows else None
        return int(n.value) if isinstance(n, ox.Literal) else 0

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Make written data durable (no-op where the store does it by itself)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store (files, connections)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OxigraphStore(Store):
    """The embedded Oxigraph store: a directory on disk, or in memory.

    :param path: the store directory (created if missing); None for in memory.
    :param read_only: open an on-disk store without taking its write lock.
    :raises StoreLockedError: if another process (``mlmeta serve``) holds the directory.
    :raises StoreError: if the directory cannot be opened as a store.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, read_only: bool = False
                 ) -> None:
        self.location = str(path) if path is not None else MEMORY
        self._read_only = read_only
        try:
            if path is None:
                self._store = ox.Store()
            elif read_only:
                if not (Path(path) / "CURRENT").is_file():
                    raise StoreError(f"there is no store at {self.location}",
                                     hint="run 'mlmeta init' or 'mlmeta demo' to create it, "
                                     "or pass another with --store")
                _refuse_if_served(self.location)
                self._store = ox.Store.read_only(str(path))
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(path))
        except OSError as e:
            text = str(e)
            if "lock" in text.lower():
                raise StoreLockedError(
                    f"the store {self.location} is in use by another process",
                    hint=_locked_hint(self.location),
                ) from e
            raise StoreError(f"cannot open the store {self.location}: {text}",
                             hint="check the path, or pass another with --store") from e

    @property
    def raw(self) -> ox.Store:
        """The underlying pyoxigraph store (for bulk paths and benchmarks)."""
        return self._store

    def replace_graphs(self, graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> None:
        if not graphs:
            return
        try:
            self._store.update(insert_data_text(graphs))
        except (OSError, SyntaxError, ValueError) as e:
            raise StoreError(f"writing {len(graphs)} graph(s) failed: {e}") from e

    def remove_graphs(self, graphs: Iterable[ox.NamedNode]) -> None:
        text = " ;\n".join(f"DROP SILENT GRAPH {nt(g)}" for g in graphs)
        if text:
            self.update(text)

    def query(self, sparql: str, substitutions: Mapping[str, Term] | None = None) -> QueryAnswer:
        # Parameters are written into the text as escaped constants (mlmeta.sparqlbind),
        # exactly as for a remote endpoint: Oxigraph then plans the query from them (with
        # ``substitutions`` it planned as if they were unbound, and they were invisible in
        # sub-selects), and every store answers the very same text.
        try:
            if substitutions:
                sparql = bind_variables(sparql, substitutions)
            result = self._store.query(sparql, use_default_graph_as_union=True)
            if isinstance(result, ox.QueryBoolean):
                return bool(result)
            if isinstance(result, ox.QuerySolutions):
                variables = [v.value for v in result.variables]
                return Rows(variables, [tuple(sol) for sol in result])
            return list(result)
        except SyntaxError as e:
            raise QueryError(f"the query is not valid SPARQL: {e}") from e
        except (OSError, ValueError, RuntimeError) as e:
            raise QueryError(f"the query failed: {e}") from e

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except SyntaxError as e:
            raise QueryError(f"the update is not valid SPARQL: {e}") from e
        except (OSError, ValueError) as e:
            raise QueryError(f"the update failed: {e}") from e

    def quads(self, graph: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        return iter(self._store.quads_for_pattern(None, None, None, graph))

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        for g in self._store.named_graphs():
            if isinstance(g, ox.NamedNode):
                yield g

    def count(self) -> int:
        return len(self._store)

    def dump(self, output: IO[bytes], fmt: ox.RdfFormat) -> None:
        from mlmeta.vocab import PREFIXES

        if fmt == ox.RdfFormat.N_QUADS:
            self._store.dump(output, fmt)
            return
        if fmt == ox.RdfFormat.TRIG:
            self._store.dump(output, fmt, prefixes=PREFIXES)
            return
        if fmt.supports_datasets:  # JSON-LD keeps the named graphs, streamed
            self._store.dump(output, fmt)
            return
        # Triple formats get the union of the named graphs, streamed. A CONSTRUCT would
        # deduplicate in memory (about 450 bytes a triple); instead a triple is written
        # with the first graph that holds it.
        prefixes = PREFIXES if fmt == ox.RdfFormat.TURTLE else None
        ox.serialize(self._union_triples(), output, fmt, prefixes=prefixes)

    def _union_triples(self) -> Iterator[ox.Triple]:
        store = self._store
        for q in store.quads_for_pattern(None, None, None, None):
            if isinstance(q.graph_name, ox.DefaultGraph):
                continue
            first: ox.Quad | None = None
            for first in store.quads_for_pattern(q.subject, q.predicate, q.object, None):
                if not isinstance(first.graph_name, ox.DefaultGraph):
                    break
            if first is not None and first.graph_name == q.graph_name:
                yield q.triple

    def flush(self) -> None:
        if self.location != MEMORY and not self._read_only:
            self._store.flush()

    def close(self) -> None:
        """Flush and release the store, so its directory lock goes now, not at garbage
        collection. The object is unusable afterwards."""
        store = self.__dict__.pop("_store", None)
        if store is not None and self.location != MEMORY and not self._read_only:
            store.flush()
        del store


def _refuse_if_served(location: str) -> None:
    """A running ``mlmeta serve`` owns its directory: readers go through its endpoint
    (Oxigraph calls a read-only open beside a writing server undefined behaviour).

    :raises StoreLockedError: if ``<location>/mlmeta-serve.json`` names a live process.
    """
    import json

    info = Path(location) / "mlmeta-serve.json"
    try:
        pid = int(json.loads(info.read_text("utf-8")).get("pid", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if pid <= 0:
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return  # a stale file: that server is gone
    except OSError:
        pass  # alive, but another user's
    raise StoreLockedError(f"the store {location} is served by mlmeta serve (process {pid})",
                           hint=_locked_hint(location))


def _locked_hint(location: str) -> str:
    info = Path(location) / "mlmeta-serve.json"
    if info.is_file():
        try:
            import json

            data = json.loads(info.read_text("utf-8"))
            url = data.get("query_url")
            if url:
                return f"mlmeta serve is running on it: use --store {url}, or stop the server"
        except (OSError, ValueError):
            pass
    return "stop the other process (mlmeta serve?) or use its SPARQL endpoint with --store URL"


def open_store(location: str | None = None, read_only: bool = False) -> Store:
    """Open the store at ``location``: a directory, ``:memory:``, or an ``http(s)://`` endpoint.

    None means :func:`default_location`.

    :raises StoreLockedError: if the directory is held by another process.
    :raises StoreError: if it cannot be opened.
    """
    loc = location or default_location()
    if loc.startswith(("http://", "https://")):
        try:
            from mlmeta.remote import RemoteStore
        except ImportError as e:  # pragma: no cover - remote support is part of the package
            raise StoreError("remote stores are not available in this build") from e
        remote: Store = RemoteStore(loc)
        return remote
    if loc == MEMORY:
        return OxigraphStore(None)
    return OxigraphStore(loc, read_only=read_only)


def load_ontology(store: Store) -> None:
    """Put the ontology (``id/graph/ontology``) and the canonical entities
    (``id/graph/canonical``) into the store, replacing older copies, so that queries can
    follow class hierarchies and find canonical labels."""
    from mlmeta.canonical import canonical_quads
    from mlmeta.resources import ontology_path
    from mlmeta.vocab import CANONICAL_GRAPH

    onto = [
        ox.Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH)
        for t in ox.parse(path=str(ontology_path()), format=ox.RdfFormat.TURTLE)
    ]
    from mlmeta.labelspaces import label_space_graphs

    store.replace_graphs([(ONTOLOGY_GRAPH, onto), (CANONICAL_GRAPH, list(canonical_quads())),
                          *label_space_graphs()])


def is_initialized(store: Store) -> bool:
    """True when the ontology graph is in the store."""
    return bool(store.query("ASK { GRAPH ?g { ?o a ?c } }",
                            {"g": ONTOLOGY_GRAPH, "c": ox.NamedNode(
                                "http://www.w3.org/2002/07/owl#Ontology")}))


__all__ = ["MLM", "MEMORY", "OxigraphStore", "QueryAnswer", "Rows", "Store", "default_location",
           "is_initialized", "load_ontology", "open_store"]
