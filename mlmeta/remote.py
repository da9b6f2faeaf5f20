"""A remote SPARQL 1.1 endpoint as an mlmeta store.

Queries go through the SPARQL 1.1 Protocol (``POST`` form, JSON results), updates to the
update endpoint, and whole named graphs through the Graph Store HTTP Protocol (``PUT`` /
``GET`` / ``DELETE ?graph=IRI``), with SPARQL Update (``DROP SILENT GRAPH`` +
``INSERT DATA``) where a store has no Graph Store endpoint.

The URL given with ``--store`` is the query endpoint. The others are derived from it
(``.../query`` -> ``.../update`` and ``.../store``, as the Oxigraph server has them;
``.../repositories/R`` -> ``.../statements`` and ``.../rdf-graphs/service``, as GraphDB
has them; a Virtuoso ``/sparql`` -> ``/sparql-auth`` and ``/sparql-graph-crud-auth``)
unless named by environment variables:

=========================  ========================================================
``MLMETA_UPDATE_URL``      the SPARQL Update endpoint
``MLMETA_GRAPH_STORE_URL`` the Graph Store endpoint (``none``: use SPARQL Update only)
``MLMETA_USER``            user name (HTTP Basic; Digest when the server asks for it)
``MLMETA_PASSWORD``        its password
``MLMETA_TOKEN``           a bearer token (instead of user and password)
``MLMETA_AUTH``            ``basic`` or ``digest`` to force one (default: find out)
``MLMETA_TIMEOUT``         seconds to wait for an answer (default 60)
``MLMETA_RETRIES``         retries on connection errors, 429, 502, 503, 504 (default 4)
``MLMETA_GRAPH_PREFIX``    graphs mlmeta counts, lists and exports (default: ours,
                           ``https://w3id.org/mlmeta/id/``; empty: every graph)
=========================  ========================================================

Queries expect the endpoint's default graph to be the union of its named graphs (as in
the embedded store): Virtuoso, GraphDB and Neptune do this by themselves; start an
Oxigraph server with ``--union-default-graph`` (``mlmeta serve`` does), and configure
Fuseki with ``unionDefaultGraph``. :meth:`RemoteStore.default_graph_is_union` checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, cast
from urllib.parse import urlsplit, urlunsplit

import pyoxigraph as ox
import requests

from mlmeta.errors import QueryError, RemoteStoreError
from mlmeta.sparqlbind import bind_variables, query_form
from mlmeta.sparqlhttp import (
    RemoteSettings,
    SparqlHttp,
    derive_endpoints,
    error_text,
    http_error,
    looks_like_auth,
)
from mlmeta.store import QueryAnswer, Rows, Store, Term, insert_data_text, nt
from mlmeta.vocab import PREFIXES, XSD

RESULTS_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
# Past this many characters a SPARQL Update is split into several requests.
UPDATE_CHUNK_CHARS = 500_000
GRAPH_PAGE = 5000
_XSD_BOOLEAN = XSD.boolean.value
_XSD_DATETIME = XSD.dateTime.value


_FRACTION_ZEROS = re.compile(r"^(.*T\d\d:\d\d:\d\d)(\.\d*?)0+((?:Z|[+-]\d\d:\d\d)?)$")


def virtuoso_canonical(term: Term | None) -> Term | None:
    """Undo Virtuoso's own lexical forms where the value is the same: booleans written
    ``1``/``0``, and dateTimes with trailing zeros in the seconds (``.245830Z``); both go
    back to the XSD canonical form that mlmeta writes."""
    if not isinstance(term, ox.Literal):
        return term
    dt = term.datatype.value
    if dt == _XSD_BOOLEAN and term.value in ("1", "0"):
        return ox.Literal("true" if term.value == "1" else "false", datatype=XSD.boolean)
    if dt == _XSD_DATETIME:
        m = _FRACTION_ZEROS.match(term.value)
        if m:
            fraction = "" if m.group(2) == "." else m.group(2)
            return ox.Literal(m.group(1) + fraction + m.group(3), datatype=XSD.dateTime)
    return term


def _media_type(r: requests.Response) -> str:
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint (Protocol + Graph Store HTTP Protocol) as an mlmeta store.

    :param location: the query endpoint URL.
    :param settings: endpoints and credentials; default: :meth:`RemoteSettings.from_env`.
    :raises RemoteStoreError: if the URL or a setting is malformed (nothing is sent yet).
    """

    def __init__(self, location: str, settings: RemoteSettings | None = None) -> None:
        self.settings = settings or RemoteSettings.from_env(location)
        self.location = self.settings.query_url
        self._http = SparqlHttp(self.settings)
        self._update_url = self.settings.update_url
        self._gsp_url = self.settings.graph_store_url
        self._probed = False

    # -- endpoints -----------------------------------------------------------------------

    @property
    def server(self) -> str:
        """The ``Server`` header of the endpoint's last answer ("" before the first)."""
        return self._http.server

    @property
    def is_virtuoso(self) -> bool:
        return self._http.server.lower().startswith("virtuoso")

    @property
    def update_url(self) -> str | None:
        self._probe()
        return self._update_url

    @property
    def graph_store_url(self) -> str | None:
        self._probe()
        return self._gsp_url

    def _probe(self) -> None:
        """Before the first write, learn what server this is (one ``ASK {}``), to find
        Virtuoso's authenticated endpoints."""
        if self._probed:
            return
        self._probed = True
        if not self._http.server:
            self.query("ASK {}")
        if not self.is_virtuoso:
            return
        self._http.use_digest()  # Virtuoso's authenticated endpoints take Digest only
        parts = urlsplit(self.settings.query_url)
        if parts.path.rstrip("/").endswith("/sparql"):
            base = parts.path.rstrip("/")

            def at(p: str) -> str:
                return urlunsplit((parts.scheme, parts.netloc, p, "", ""))

            if not self.settings.explicit_update:
                self._update_url = at(base + "-auth")
            if not self.settings.explicit_graph_store:
                self._gsp_url = at(base + "-graph-crud-auth")

    # -- reading -------------------------------------------------------------------------

    def query(self, sparql: str, substitutions: Mapping[str, Term] | None = None) -> QueryAnswer:
        try:
            text = bind_variables(sparql, substitutions)
        except ValueError as e:
            raise QueryError(f"cannot bind the query's parameters: {e}") from e
        form = query_form(text)
        graph_form = form in ("CONSTRUCT", "DESCRIBE")
        url = self.settings.query_url
        r = self._http.request("POST", url, what="the query", data={"query": text},
                               headers={"Accept": N_TRIPLES if graph_form else RESULTS_JSON})
        if r.status_code in (400, 500) and not looks_like_auth(r):
            raise QueryError(f"the endpoint {url} rejected the query (HTTP {r.status_code}): "
                             f"{error_text(r)}")
        if r.status_code != 200:
            raise http_error(r, "the query", url)
        media = _media_type(r)
        try:
            if graph_form:
                fmt = ox.RdfFormat.from_media_type(media) or ox.RdfFormat.N_TRIPLES
                return [self._triple(q.triple) for q in ox.parse(r.content, fmt)]
            rfmt = ox.QueryResultsFormat.from_media_type(media) or ox.QueryResultsFormat.JSON
            result = ox.parse_query_results(r.content, rfmt)
        except (SyntaxError, ValueError) as e:
            raise RemoteStoreError(f"the answer of {url} is not readable ({media}): {e}",
                                   url=url, status=r.status_code) from e
        if isinstance(result, ox.QueryBoolean):
            return bool(result)
        variables = [v.value for v in result.variables]
        rows = [tuple(sol[i] for i in range(len(variables))) for sol in result]
        if self.is_virtuoso:
            rows = [tuple(virtuoso_canonical(t) for t in row) for row in rows]
        return Rows(variables, rows)

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        """The named graphs under ``MLMETA_GRAPH_PREFIX``, in pages, sorted by IRI."""
        last = ""
        prefix = ox.Literal(self.settings.graph_prefix)
        while True:
            answer = self.query(
                "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                "FILTER(STRSTARTS(STR(?g), ?prefix) && STR(?g) > ?last) } "
                f"ORDER BY STR(?g) LIMIT {GRAPH_PAGE}",
                {"prefix": prefix, "last": ox.Literal(last)})
            assert isinstance(answer, Rows)
            page = [g for (g,) in answer.rows if isinstance(g, ox.NamedNode)]
            yield from page
            if len(answer.rows) < GRAPH_PAGE or not page:
                return
            last = page[-1].value

    def quads(self, graph: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        if graph is None:
            return (q for g in self.named_graphs() for q in self._graph_quads(g))
        return self._graph_quads(graph)

    def _graph_quads(self, graph: ox.NamedNode) -> Iterator[ox.Quad]:
        triples = self._gsp_get(graph)
        if triples is None:
            answer = self.query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
                                {"g": graph})
            assert isinstance(answer, list)
            triples = iter(answer)
        return (ox.Quad(t.subject, t.predicate, t.object, graph)
                for t in map(self._triple, triples))

    def _triple(self, t: ox.Triple) -> ox.Triple:
        if not self.is_virtuoso or not isinstance(t.object, ox.Literal):
            return t
        o = virtuoso_canonical(t.object)
        return t if o is t.object or o is None else ox.Triple(t.subject, t.predicate, o)

    def _gsp_get(self, graph: ox.NamedNode) -> Iterator[ox.Triple] | None:
        """A graph's triples through the Graph Store (streamed), or None without one."""
        url = self.graph_store_url
        if url is None:
            return None
        r = self._http.request("GET", url, what="reading a graph", params={"graph": graph.value},
                               headers={"Accept": N_TRIPLES}, stream=True)
        if r.status_code == 404:
            r.close()
            if self.has_graph(graph):  # the graph is there: this is no Graph Store
                self._gsp_url = None
                return None
            return iter(())
        if r.status_code in (405, 501):
            r.close()
            self._gsp_url = None
            return None
        if r.status_code != 200:
            raise http_error(r, f"reading the graph {graph.value}", url)
        fmt = ox.RdfFormat.from_media_type(_media_type(r)) or ox.RdfFormat.N_TRIPLES
        r.raw.decode_content = True

        def triples() -> Iterator[ox.Triple]:
            try:
                for q in ox.parse(cast(IO[bytes], r.raw), fmt):
                    yield q.triple
            except (SyntaxError, ValueError) as e:
                raise RemoteStoreError(f"the graph {graph.value} from {url} is not "
                                       f"readable: {e}", url=url) from e
            finally:
                r.close()

        return triples()

    def count(self) -> int:
        """Quads in the named graphs under ``MLMETA_GRAPH_PREFIX``."""
        answer = self.query(
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
            "FILTER(STRSTARTS(STR(?g), ?prefix)) }",
            {"prefix": ox.Literal(self.settings.graph_prefix)})
        return _first_int(answer)

    def count_graphs(self, graphs: Sequence[ox.NamedNode]) -> dict[str, int]:
        """``{graph IRI: quads}`` for the given graphs (absent graphs are left out)."""
        if not graphs:
            return {}
        values = " ".join(nt(g) for g in graphs)
        answer = self.query("SELECT ?g (COUNT(*) AS ?n) WHERE { VALUES ?g { " + values
                            + " } GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        assert isinstance(answer, Rows)
        out: dict[str, int] = {}
        for g, n in answer.rows:
            if isinstance(g, ox.NamedNode) and isinstance(n, ox.Literal):
                out[g.value] = int(n.value)
        return out

    def default_graph_is_union(self) -> bool | None:
        """Whether the endpoint's default graph shows the named graphs' triples (None when
        there are no named graphs to tell)."""
        answer = self.query(
            "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRSTARTS(STR(?g), "
            "?prefix)) } LIMIT 1", {"prefix": ox.Literal(self.settings.graph_prefix)})
        assert isinstance(answer, Rows)
        if not answer.rows:
            return None
        s, p, o = answer.rows[0]
        assert s is not None and p is not None and o is not None
        return bool(self.query("ASK { ?s ?p ?o }", {"s": s, "p": p, "o": o}))

    def dump(self, output: IO[bytes], fmt: ox.RdfFormat) -> None:
        """Write the graphs under ``MLMETA_GRAPH_PREFIX``, one graph in memory at a time.

        Formats without named graphs (Turtle) get the triples of every graph; a triple
        that several graphs share is written once per graph (the same RDF graph).
        """
        quads = self.quads()
        prefixes = PREFIXES if fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.TURTLE) else None
        if fmt.supports_datasets:
            ox.serialize(quads, output, fmt, prefixes=prefixes)
        else:
            ox.serialize((q.triple for q in quads), output, fmt, prefixes=prefixes)

    # -- writing -------------------------------------------------------------------------

    def update(self, sparql: str) -> None:
        url = self.update_url
        if url is None:  # pragma: no cover - derive_endpoints always gives one
            raise RemoteStoreError("no SPARQL Update endpoint is known",
                                   hint="set MLMETA_UPDATE_URL")
        r = self._http.request("POST", url, what="the update", data={"update": sparql},
                               headers={"Accept": "*/*"})
        if r.status_code in (400, 500) and not looks_like_auth(r):
            raise QueryError(f"the endpoint {url} rejected the update (HTTP "
                             f"{r.status_code}): {error_text(r)}")
        if r.status_code not in (200, 201, 204):
            raise http_error(r, "the update", url)
        r.close()

    def replace_graphs(self, graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> None:
        """Replace each graph: a Graph Store ``PUT`` per graph (each graph atomically), or,
        without a Graph Store, SPARQL Update requests of ``DROP SILENT GRAPH`` +
        ``INSERT DATA`` (each request one transaction on most stores).

        :raises RemoteStoreError: if the endpoint refuses or cannot be reached.
        """
        pending = list(graphs)
        while pending and self.graph_store_url is not None:
            g, quads = pending[0]
            if not self._gsp_put(g, quads):
                break  # no Graph Store here after all: the rest go by SPARQL Update
            pending.pop(0)
        for chunk in _update_chunks(pending):
            self.update(insert_data_text(chunk))

    def _gsp_put(self, graph: ox.NamedNode, quads: Sequence[ox.Quad]) -> bool:
        url = self._gsp_url
        assert url is not None
        params = {"graph": graph.value}
        if not quads:
            r = self._http.request("DELETE", url, what="dropping a graph", params=params)
            if r.status_code in (200, 202, 204, 404):
                r.close()
                return True
        else:
            body = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES)
            assert body is not None
            r = self._http.request("PUT", url, what="writing a graph", params=params,
                                   data=body, headers={"Content-Type": N_TRIPLES})
            if r.status_code in (200, 201, 204):
                r.close()
                return True
        if r.status_code in (404, 405, 501):
            r.close()
            self._gsp_url = None
            return False
        raise http_error(r, f"writing the graph {graph.value}", url)

    def remove_graphs(self, graphs: Iterable[ox.NamedNode]) -> None:
        names = list(graphs)
        for i in range(0, len(names), 500):
            text = " ;\n".join(f"DROP SILENT GRAPH {nt(g)}" for g in names[i:i + 500])
            if text:
                self.update(text)

    def close(self) -> None:
        self._http.close()


def _first_int(answer: QueryAnswer) -> int:
    assert isinstance(answer, Rows)
    n = answer.rows[0][0] if answer.rows else None
    return int(n.value) if isinstance(n, ox.Literal) else 0


def _update_chunks(graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]],
                   ) -> Iterator[list[tuple[ox.NamedNode, Sequence[ox.Quad]]]]:
    """Groups of graphs whose ``INSERT DATA`` text stays near :data:`UPDATE_CHUNK_CHARS`."""
    chunk: list[tuple[ox.NamedNode, Sequence[ox.Quad]]] = []
    size = 0
    for g, quads in graphs:
        n = sum(len(str(q.subject)) + len(str(q.predicate)) + len(str(q.object)) + 4
                for q in quads)
        if chunk and size + n > UPDATE_CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append((g, quads))
        size += n
    if chunk:
        yield chunk


__all__ = ["RemoteSettings", "RemoteStore", "derive_endpoints"]
