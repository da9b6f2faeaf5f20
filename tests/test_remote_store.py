"""RemoteStore against real servers on loopback, and the parameter binding it relies on."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import requests
from servers import Server, free_port, oxigraph_server, virtuoso_server  # noqa: F401

from mlmeta.errors import QueryError, RemoteStoreError
from mlmeta.remote import RemoteSettings, RemoteStore, derive_endpoints, virtuoso_canonical
from mlmeta.sparqlbind import bind_variables, query_form, tokenize
from mlmeta.store import OxigraphStore, Rows, open_store
from mlmeta.vocab import ID_NS, XSD

G1 = ox.NamedNode(ID_NS + "graph/test/one")
G2 = ox.NamedNode(ID_NS + "graph/test/two")
S = ox.NamedNode("https://example.org/s")
P = ox.NamedNode("https://example.org/p")
TRICKY = 'quote " backslash \\ newline \n brace } hash # ?var <iri> é'


def lit(value: str, dt: str | None = None) -> ox.Literal:
    return ox.Literal(value, datatype=ox.NamedNode(XSD.base + dt)) if dt else ox.Literal(value)


def quads(graph: ox.NamedNode, values: list[ox.Literal]) -> list[ox.Quad]:
    return [ox.Quad(S, P, v, graph) for v in values]


def remote_for(server: Server, **env: str) -> RemoteStore:
    return RemoteStore(server.query_url, RemoteSettings.from_env(
        server.query_url, {**server.env(), **env}))


def reset(store: RemoteStore) -> None:
    store.remove_graphs(list(store.named_graphs()))


@pytest.fixture
def oxi(oxigraph_server: Server) -> Iterator[RemoteStore]:  # noqa: F811
    store = remote_for(oxigraph_server)
    reset(store)
    yield store
    reset(store)
    store.close()


# -- binding parameters without substitutions ------------------------------------------

SHAPES = [
    ("SELECT ?m ?anc WHERE { ?m <https://example.org/base>* ?anc }",
     {"m": ox.NamedNode("https://example.org/m2")}),
    ("SELECT ?m ?a ?min WHERE { ?m <https://example.org/ds> ?d OPTIONAL { ?m "
     "<https://example.org/acc> ?a FILTER(?a > ?min) } }", {"min": lit("0.8", "double")}),
    ("SELECT ?d ?k (COUNT(?m) AS ?n) WHERE { ?m <https://example.org/ds> ?d } "
     "GROUP BY ?d ?k HAVING (COUNT(?m) > ?k)", {"k": lit("1", "integer")}),
    ("SELECT ?d (COUNT(*) AS ?n) WHERE { { SELECT ?m ?d WHERE { ?m <https://example.org/ds> "
     "?d } } ?m ?p ?o } GROUP BY ?d", {"d": ox.NamedNode("https://example.org/imagenet")}),
    ("SELECT ?x ?m WHERE { OPTIONAL { ?m <https://example.org/acc> ?x } "
     "FILTER(!BOUND(?m) || ?m = <https://example.org/m1>) }",
     {"m": ox.NamedNode("https://example.org/m1")}),
    ("SELECT ?m ?y WHERE { ?m <https://example.org/name> ?n BIND(CONCAT(?n, '!') AS ?y) }",
     {"m": ox.NamedNode("https://example.org/m1")}),
    ("SELECT ?text ?m WHERE { { ?m <https://example.org/name> ?text } UNION "
     "{ BIND(STRLEN(?text) AS ?len) ?m <https://example.org/size> ?len } }",
     {"text": lit("m one")}),
    ("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": ox.NamedNode("https://example.org/g1")}),
]


@pytest.fixture(scope="module")
def small() -> OxigraphStore:
    s = OxigraphStore()
    s.update("""PREFIX : <https://example.org/> INSERT DATA { GRAPH :g1 {
      :m1 a :Model ; :acc 0.9e0 ; :name "m one" ; :ds :imagenet ; :base :m0 ; :size 5 .
      :m2 a :Model ; :acc 0.7e0 ; :name "m two" ; :ds :imagenet ; :base :m1 .
      :m0 a :Model ; :name "m zero" . } }""")
    return s


@pytest.mark.parametrize(("text", "subs"), SHAPES)
def test_bound_text_answers_like_substitutions(small: OxigraphStore, text: str,
                                               subs: dict[str, ox.NamedNode | ox.Literal]
                                               ) -> None:
    """The rewritten text, run without substitutions, gives pyoxigraph's own answer."""
    expected = small.raw.query(text, use_default_graph_as_union=True,
                               substitutions={ox.Variable(k): v for k, v in subs.items()})
    got = small.query(bind_variables(text, subs))
    if isinstance(expected, ox.QueryBoolean):
        assert got is bool(expected) is True
        return
    assert isinstance(got, Rows)
    want = sorted(tuple(str(s[v]) for v in expected.variables) for s in expected)
    assert sorted(tuple(str(t) for t in r) for r in got.rows) == want
    assert want  # every shape has an answer: the comparison means something


def test_binding_escapes_hostile_text(small: OxigraphStore) -> None:
    evil = lit('"} } ; DROP ALL ; INSERT DATA { <urn:x> <urn:y> "z" } #')
    text = bind_variables("SELECT ?n WHERE { ?m <https://example.org/name> ?n "
                          "FILTER(?n = ?q) }", {"q": evil})
    assert small.query(text) == Rows(["n"], [])
    assert small.count() == 13
    # The literal comes back intact when projected.
    answer = small.query(bind_variables("SELECT ?q WHERE { }", {"q": lit(TRICKY)}))
    assert isinstance(answer, Rows) and answer.rows == [(lit(TRICKY),)]


def test_binding_leaves_strings_iris_and_comments_alone() -> None:
    text = ('SELECT ?x WHERE { ?s <http://e.org/a?x#b> "?x" . # ?x in a comment\n'
            "?s ?p ?x }")
    out = bind_variables(text, {"x": lit("v")})
    assert out.count('"v"') == 2  # the VALUES row and the triple pattern
    assert '<http://e.org/a?x#b> "?x"' in out and "# ?x in a comment" in out
    assert out.startswith('SELECT ?x WHERE { VALUES (?x) { ("v") }')
    assert bind_variables(text, {"unused": lit("v")}) == text
    with pytest.raises(ValueError):
        bind_variables(text, {"x y": lit("v")})


def test_query_form_and_tokens() -> None:
    text = "PREFIX a: <x:> # SELECT\nCONSTRUCT { ?s ?p ?o } WHERE {}"
    assert query_form(text) == "CONSTRUCT"
    assert query_form("ask {}") == "ASK"
    kinds = [t.kind for t in tokenize('"""a\n"b""" "" <x:y> ?v $w word .')]
    assert kinds == ["string", "string", "iri", "var", "var", "word", "other"]


# -- settings --------------------------------------------------------------------------

def test_endpoints_derived_from_the_query_url() -> None:
    assert derive_endpoints("http://h:7878/query") == ("http://h:7878/update",
                                                       "http://h:7878/store")
    assert derive_endpoints("http://h:3030/ds/query") == ("http://h:3030/ds/update",
                                                          "http://h:3030/ds/store")
    assert derive_endpoints("http://h:7200/repositories/zoo") == (
        "http://h:7200/repositories/zoo/statements",
        "http://h:7200/repositories/zoo/rdf-graphs/service")
    assert derive_endpoints("https://n:8182/sparql") == ("https://n:8182/sparql", None)


def test_settings_from_the_environment() -> None:
    s = RemoteSettings.from_env("http://h/sparql", {
        "MLMETA_UPDATE_URL": "http://h/up", "MLMETA_GRAPH_STORE_URL": "none",
        "MLMETA_TOKEN": "t0k", "MLMETA_TIMEOUT": "5", "MLMETA_RETRIES": "0"})
    assert (s.update_url, s.graph_store_url, s.token, s.timeout, s.retries) == (
        "http://h/up", None, "t0k", 5.0, 0)
    assert s.explicit_update and s.explicit_graph_store
    with pytest.raises(RemoteStoreError, match="not an http"):
        RemoteSettings.from_env("ftp://h/sparql", {})
    with pytest.raises(RemoteStoreError, match="token and a user"):
        RemoteSettings.from_env("http://h/q", {"MLMETA_TOKEN": "t", "MLMETA_USER": "u",
                                               "MLMETA_PASSWORD": "p"})
    with pytest.raises(RemoteStoreError, match="no password"):
        RemoteSettings.from_env("http://h/q", {"MLMETA_USER": "u"})
    with pytest.raises(RemoteStoreError, match="MLMETA_TIMEOUT"):
        RemoteSettings.from_env("http://h/q", {"MLMETA_TIMEOUT": "soon"})


def test_open_store_picks_the_remote_store_for_urls() -> None:
    store = open_store("http://127.0.0.1:9/query")
    assert isinstance(store, RemoteStore) and store.location == "http://127.0.0.1:9/query"


def test_virtuoso_forms_become_canonical() -> None:
    assert virtuoso_canonical(lit("1", "boolean")) == lit("true", "boolean")
    assert virtuoso_canonical(lit("0", "boolean")) == lit("false", "boolean")
    assert virtuoso_canonical(lit("2024-01-02T03:04:05.120000Z", "dateTime")) == lit(
        "2024-01-02T03:04:05.12Z", "dateTime")
    assert virtuoso_canonical(lit("2024-01-02T03:04:05.000Z", "dateTime")) == lit(
        "2024-01-02T03:04:05Z", "dateTime")
    assert virtuoso_canonical(lit("2024-01-02T03:04:10Z", "dateTime")) == lit(
        "2024-01-02T03:04:10Z", "dateTime")
    assert virtuoso_canonical(lit("10", "integer")) == lit("10", "integer")


# -- against a real Oxigraph server ----------------------------------------------------

def test_write_read_replace_and_remove(oxi: RemoteStore) -> None:
    first = [lit(TRICKY), lit("0.941", "double"), lit("2024-01-02T03:04:05Z", "dateTime"),
             lit("true", "boolean"), ox.Literal("chat", language="fr")]
    oxi.replace_graphs([(G1, quads(G1, first)), (G2, quads(G2, [lit("x")]))])
    assert oxi.graph_store_url is not None  # written through the Graph Store
    assert oxi.count() == 6
    assert set(oxi.quads(G1)) == set(quads(G1, first))
    assert [g.value for g in oxi.named_graphs()] == sorted([G1.value, G2.value])
    assert oxi.has_graph(G1) and not oxi.has_graph(ox.NamedNode(ID_NS + "graph/none"))
    # Replacing a graph drops what it had: no duplicates, nothing stale.
    oxi.replace_graphs([(G1, quads(G1, [lit("new")]))])
    assert set(oxi.quads(G1)) == set(quads(G1, [lit("new")]))
    assert oxi.count_graphs([G1, G2, ox.NamedNode(ID_NS + "graph/none")]) == {
        G1.value: 1, G2.value: 1}
    oxi.replace_graphs([(G2, [])])
    oxi.remove_graphs([G1, ox.NamedNode(ID_NS + "graph/never")])
    assert oxi.count() == 0 and list(oxi.named_graphs()) == []


def test_queries_of_every_form(oxi: RemoteStore) -> None:
    oxi.replace_graphs([(G1, quads(G1, [lit(TRICKY), lit("7", "integer")]))])
    rows = oxi.query("SELECT ?o WHERE { ?s ?p ?o } ORDER BY ?o", {"s": S})
    assert isinstance(rows, Rows) and rows.variables == ["o"]
    assert {r[0] for r in rows.rows} == {lit(TRICKY), lit("7", "integer")}
    assert oxi.query("ASK { ?s ?p ?o }", {"o": lit(TRICKY)}) is True
    assert oxi.query("ASK { ?s ?p ?o }", {"o": lit("absent")}) is False
    graph = oxi.query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": G1})
    assert isinstance(graph, list)
    assert set(graph) == {ox.Triple(S, P, lit(TRICKY)), ox.Triple(S, P, lit("7", "integer"))}
    assert oxi.default_graph_is_union() is True
    oxi.update(f"INSERT DATA {{ GRAPH {G2} {{ {S} {P} 1 }} }}")
    assert oxi.count() == 3


def test_dump_streams_every_graph(oxi: RemoteStore) -> None:
    shared = ox.Quad(S, P, lit("both"), G1)
    oxi.replace_graphs([(G1, [shared, *quads(G1, [lit("a")])]),
                        (G2, [ox.Quad(S, P, lit("both"), G2)])])
    buf = io.BytesIO()
    oxi.dump(buf, ox.RdfFormat.N_QUADS)
    assert set(ox.parse(buf.getvalue(), ox.RdfFormat.N_QUADS)) == set(oxi.quads())
    for fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.JSON_LD):
        buf = io.BytesIO()
        oxi.dump(buf, fmt)
        assert set(ox.parse(buf.getvalue(), fmt)) == set(oxi.quads())
    buf = io.BytesIO()
    oxi.dump(buf, ox.RdfFormat.TURTLE)
    triples = {q.triple for q in ox.parse(buf.getvalue(), ox.RdfFormat.TURTLE)}
    assert triples == {ox.Triple(S, P, lit("both")), ox.Triple(S, P, lit("a"))}


def test_update_fallback_without_a_graph_store(oxigraph_server: Server,  # noqa: F811
                                               oxi: RemoteStore) -> None:
    base = oxigraph_server.query_url.rsplit("/", 1)[0]
    store = remote_for(oxigraph_server, MLMETA_GRAPH_STORE_URL=f"{base}/no-such-path")
    store.replace_graphs([(G1, quads(G1, [lit("a"), lit("b")]))])
    assert store.graph_store_url is None  # the 404 made it fall back to SPARQL Update
    store.replace_graphs([(G1, quads(G1, [lit("c")]))])
    assert set(oxi.quads(G1)) == set(quads(G1, [lit("c")]))
    assert set(store.quads(G1)) == set(quads(G1, [lit("c")]))  # read by CONSTRUCT


def test_errors_name_the_url_and_status(oxi: RemoteStore) -> None:
    with pytest.raises(QueryError, match=r"rejected the query \(HTTP 400\)") as e:
        oxi.query("SELECT WHERE {")
    assert oxi.location in str(e.value)
    with pytest.raises(QueryError, match="rejected the update"):
        oxi.update("INSERT NONSENSE")
    url = f"http://127.0.0.1:{free_port()}/query"
    down = RemoteStore(url, RemoteSettings.from_env(url, {"MLMETA_RETRIES": "1"}))
    with pytest.raises(RemoteStoreError, match="cannot reach") as e2:
        down.query("ASK {}")
    assert e2.value.url == url and "server running" in str(e2.value)


def test_read_only_server_refuses_writes(tmp_path: pytest.TempPathFactory) -> None:
    """Writing to an endpoint that refuses says so with the status, not a traceback."""
    from servers import oxigraph_binary, stop_process, wait_until

    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph binary is not installed")
    import subprocess

    location = str(tmp_path) + "/ro"
    OxigraphStore(location).close()
    port = free_port()
    proc = subprocess.Popen([binary, "serve-read-only", "--location", location, "--bind",
                             f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/query"
        wait_until(proc, lambda: requests.get(url, params={"query": "ASK {}"},
                                              timeout=1).ok, "oxigraph", None, 20)
        store = RemoteStore(url, RemoteSettings.from_env(url, {}))
        with pytest.raises(RemoteStoreError, match="HTTP 403") as e:
            store.replace_graphs([(G1, quads(G1, [lit("a")]))])
        assert e.value.status == 403
    finally:
        stop_process(proc)


# -- against a real Virtuoso -----------------------------------------------------------

def test_virtuoso_round_trip_with_digest_auth(virtuoso_server: Server) -> None:  # noqa: F811
    store = remote_for(virtuoso_server)
    reset(store)
    try:
        values = [lit("true", "boolean"), lit("2024-01-02T03:04:05.5Z", "dateTime"),
                  lit(TRICKY), lit("12", "integer"), ox.Literal("chien", language="fr")]
        store.replace_graphs([(G1, quads(G1, values))])
        assert store.is_virtuoso and store.graph_store_url is not None
        assert store.graph_store_url.endswith("/sparql-graph-crud-auth")
        assert set(store.quads(G1)) == set(quads(G1, values))
        answer = store.query("SELECT ?o WHERE { ?s ?p ?o }", {"s": S})
        assert isinstance(answer, Rows) and {r[0] for r in answer.rows} == set(values)
        # Virtuoso's own graphs (virtrdf, DAV, ...) are not counted as ours.
        assert store.count() == 5 and [g.value for g in store.named_graphs()] == [G1.value]
        assert store.default_graph_is_union() is True
    finally:
        reset(store)
        store.close()


def test_virtuoso_without_credentials_says_how_to_give_them(
        virtuoso_server: Server) -> None:  # noqa: F811
    url = virtuoso_server.query_url
    store = RemoteStore(url, RemoteSettings.from_env(url, {}))
    with pytest.raises(RemoteStoreError) as e:
        store.replace_graphs([(G1, quads(G1, [lit("a")]))])
    assert e.value.status == 401 and "MLMETA_USER" in str(e.value)
    wrong = RemoteStore(url, RemoteSettings.from_env(url, {"MLMETA_USER": "dba",
                                                           "MLMETA_PASSWORD": "wrong"}))
    with pytest.raises(RemoteStoreError, match="HTTP 401"):
        wrong.replace_graphs([(G1, quads(G1, [lit("a")]))])
