"""``mlmeta push``: the example zoo into a real Oxigraph server and a real Virtuoso."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from servers import (  # noqa: F401 - fixtures
    Server,
    example_zoo,
    free_port,
    oxigraph_server,
    virtuoso_server,
)

from mlmeta.cli import cli
from mlmeta.remote import RemoteSettings, RemoteStore
from mlmeta.store import OxigraphStore


@pytest.fixture(scope="module")
def zoo_dir(example_zoo: Path) -> tuple[str, int, set[str]]:  # noqa: F811
    """The example zoo's store (read only here): (directory, quads, graph IRIs)."""
    store = OxigraphStore(example_zoo, read_only=True)
    return str(example_zoo), store.count(), {g.value for g in store.named_graphs()}


def remote(server: Server) -> RemoteStore:
    return RemoteStore(server.query_url, RemoteSettings.from_env(server.query_url,
                                                                 server.env()))


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stderr + result.stdout


def test_push_twice_replaces_then_prunes(zoo_dir: tuple[str, int, set[str]],
                                         oxigraph_server: Server) -> None:  # noqa: F811
    location, n, graphs = zoo_dir
    target = remote(oxigraph_server)
    target.remove_graphs(list(target.named_graphs()))
    stale = ox.NamedNode("https://w3id.org/mlmeta/id/graph/model/timm%3Agone")
    target.replace_graphs([(stale, [ox.Quad(stale, stale, ox.Literal("old"), stale)])])
    code, out = run("--store", location, "push", "--endpoint", oxigraph_server.query_url,
                    "--no-progress")
    assert code == 0, out
    assert f"pushed {len(graphs)} graphs ({n} quads)" in out
    assert f"holds {n} quads in them" in out and "Graph Store HTTP Protocol" in out
    assert target.count() == n + 1  # the stale graph is still there
    # A stale triple inside a pushed graph: the next push replaces the graph, so it goes.
    first = ox.NamedNode(sorted(graphs)[0])
    target.update(f"INSERT DATA {{ GRAPH {first} {{ <urn:x:stale> <urn:x:p> 1 }} }}")
    assert target.count() == n + 2
    # Again: every graph is replaced, not added to; --prune drops the stale graph.
    code, out = run("--store", location, "push", "--endpoint", oxigraph_server.query_url,
                    "--no-progress", "--prune", "--batch-size", "7")
    assert code == 0, out
    assert f"holds {n} quads in them" in out
    assert "dropped 1 graphs" in out
    assert target.count() == n
    assert {g.value for g in target.named_graphs()} == graphs
    local = OxigraphStore(location, read_only=True)
    g = sorted(graphs)[0]
    assert set(target.quads(ox.NamedNode(g))) == set(local.quads(ox.NamedNode(g)))


def test_push_by_sparql_update(zoo_dir: tuple[str, int, set[str]],
                               oxigraph_server: Server) -> None:  # noqa: F811
    location, n, _ = zoo_dir
    target = remote(oxigraph_server)
    target.remove_graphs(list(target.named_graphs()))
    for _ in range(2):
        code, out = run("--store", location, "push", "--endpoint", oxigraph_server.query_url,
                        "--graph-store", "none", "--no-progress", "--batch-size", "20")
        assert code == 0, out
        assert "by SPARQL Update" in out and f"holds {n} quads in them" in out
    assert target.count() == n


def test_push_to_virtuoso_with_digest_auth(zoo_dir: tuple[str, int, set[str]],
                                           virtuoso_server: Server) -> None:  # noqa: F811
    location, n, graphs = zoo_dir
    target = remote(virtuoso_server)
    target.remove_graphs(list(target.named_graphs()))
    code, out = run("--store", location, "push", "--endpoint", virtuoso_server.query_url,
                    "--user", "dba", "--password", "dba", "--no-progress")
    assert code == 0, out
    assert f"holds {n} quads in them" in out and "warning" not in out
    assert target.count() == n and {g.value for g in target.named_graphs()} == graphs
    # Without credentials Virtuoso refuses, and the message says what to do.
    code, out = run("--store", location, "push", "--endpoint", virtuoso_server.query_url,
                    "--no-progress", env={"MLMETA_USER": "", "MLMETA_PASSWORD": ""})
    assert code == 1 and "HTTP 401" in out and "--user" in out
    assert "Traceback" not in out


def test_push_warns_when_the_default_graph_is_not_the_union(
        zoo_dir: tuple[str, int, set[str]], tmp_path: Path) -> None:
    from servers import start_oxigraph

    location, n, _ = zoo_dir
    try:
        server = start_oxigraph(union_default_graph=False)
    except RuntimeError as e:
        pytest.skip(str(e))
    try:
        code, out = run("--store", location, "push", "--endpoint", server.query_url,
                        "--no-progress")
        assert code == 0, out
        assert "default graph is not the union" in out and "--union-default-graph" in out
    finally:
        server.stop()


def test_push_to_nowhere_fails_clearly(zoo_dir: tuple[str, int, set[str]]) -> None:
    location, _, _ = zoo_dir
    url = f"http://127.0.0.1:{free_port()}/query"
    code, out = run("--store", location, "push", "--endpoint", url, "--no-progress",
                    env={"MLMETA_RETRIES": "0"})
    assert code == 1 and "cannot reach" in out and url.rsplit("/", 1)[0] in out
    code, out = run("--store", location, "push", "--endpoint", "ftp://x/y")
    assert code == 1 and "not an http(s) URL" in out
    code, out = run("--store", location, "push", "--endpoint", url, "--token", "t",
                    "--user", "u", "--password", "p")
    assert code == 2 and "not both" in out
