"""Every reading and writing command gives the same result with ``--store URL`` (a real
Oxigraph server) as with the embedded store."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from servers import Server, example_zoo, oxigraph_server, virtuoso_server  # noqa: F401

from mlmeta.cli import cli
from mlmeta.push import push
from mlmeta.queries import saved_queries
from mlmeta.remote import RemoteSettings, RemoteStore
from mlmeta.store import OxigraphStore

REPO = Path(__file__).resolve().parents[1]
SHARED_TIMM = REPO.parent / "shared" / "data" / "timm"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stderr, result.stdout_bytes


def remote(server: Server) -> RemoteStore:
    return RemoteStore(server.query_url, RemoteSettings.from_env(server.query_url,
                                                                 server.env()))


@pytest.fixture(scope="module")
def both(example_zoo: Path, oxigraph_server: Server,  # noqa: F811
         ) -> Iterator[tuple[str, str]]:
    """The example zoo in an on-disk store and in the Oxigraph server: (dir, URL)."""
    target = remote(oxigraph_server)
    target.remove_graphs(list(target.named_graphs()))
    assert push(OxigraphStore(example_zoo, read_only=True), target).ok
    yield str(example_zoo), oxigraph_server.query_url


def bindings(out: bytes) -> Counter[str]:
    doc = json.loads(out)
    return Counter(json.dumps(b, sort_keys=True) for b in doc["results"]["bindings"])


# The library-level comparison covers every saved query; the command is run for a few.
OFFLINE = sorted(n for n, q in saved_queries().items() if "SERVICE" not in q.text.upper())


@pytest.mark.parametrize("name", OFFLINE[:3])
def test_query_command(both: tuple[str, str], name: str) -> None:
    local, url = both
    code1, err1, out1 = run("--store", local, "query", name, "--format", "json")
    code2, err2, out2 = run("--store", url, "query", name, "--format", "json")
    assert code1 == 0 and code2 == 0, err1 + err2
    assert json.loads(out1)["head"] == json.loads(out2)["head"]
    assert bindings(out1) == bindings(out2)


def test_sparql_stats_and_queries_commands(both: tuple[str, str]) -> None:
    local, url = both
    q = ("PREFIX mlm: <https://w3id.org/mlmeta#> SELECT ?m ?n WHERE { ?m mlm:name ?n } "
         "ORDER BY ?n ?m")
    results = [run("--store", s, "sparql", q, "--format", "csv") for s in (local, url)]
    assert results[0][0] == results[1][0] == 0
    assert results[0][2] == results[1][2] and results[0][2].count(b"\n") > 10
    stats = [run("--store", s, "stats", "--format", "csv") for s in (local, url)]
    assert stats[0][0] == 0 and stats[0][2] == stats[1][2]
    rows = {r["what"]: int(r["count"]) for r in csv.DictReader(
        stats[1][2].decode().splitlines())}
    assert rows["quads"] == OxigraphStore(local, read_only=True).count()
    assert run("--store", url, "queries")[2] == run("--store", local, "queries")[2]


@pytest.mark.parametrize(("fmt", "rdf"), [("nq", ox.RdfFormat.N_QUADS),
                                          ("trig", ox.RdfFormat.TRIG),
                                          ("jsonld", ox.RdfFormat.JSON_LD),
                                          ("ttl", ox.RdfFormat.TURTLE)])
def test_export_command(both: tuple[str, str], fmt: str, rdf: ox.RdfFormat,
                        tmp_path: Path) -> None:
    local, url = both
    parsed = []
    for name, store in (("local", local), ("remote", url)):
        out = tmp_path / f"{name}.{fmt}"
        code, err, _ = run("--store", store, "export", "--format", fmt, "-o", str(out))
        assert code == 0, err
        dataset = ox.Dataset(ox.parse(path=str(out), format=rdf))
        dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # blank node labels
        parsed.append(set(dataset))
    assert parsed[0] == parsed[1] and len(parsed[0]) > 1000


def _fresh(server: Server, tmp_path: Path) -> tuple[str, RemoteStore]:
    target = remote(server)
    target.remove_graphs(list(target.named_graphs()))
    return str(tmp_path / "local"), target


def _same(local: str, target: RemoteStore) -> None:
    store = OxigraphStore(local, read_only=True)
    assert target.count() == store.count() > 0
    assert {g.value for g in target.named_graphs()} == {g.value for g in
                                                        store.named_graphs()}


def test_add_and_link_commands(oxigraph_server: Server, tmp_path: Path) -> None:  # noqa: F811
    local, target = _fresh(oxigraph_server, tmp_path)
    record = str(REPO / "examples" / "records" / "my-classifier.yaml")
    for store in (local, oxigraph_server.query_url):
        code, err, _ = run("--store", store, "add", record)
        assert code == 0, err
    _same(local, target)
    for store in (local, oxigraph_server.query_url):
        code, err, _ = run("--store", store, "link", "wikidata", "--offline")
        assert code == 0, err
    _same(local, target)


def test_add_command_on_virtuoso(virtuoso_server: Server, tmp_path: Path) -> None:  # noqa: F811
    local, target = _fresh(virtuoso_server, tmp_path)
    record = str(REPO / "examples" / "records" / "my-classifier.yaml")
    for store in (local, virtuoso_server.query_url):
        code, err, _ = run("--store", store, "add", record, env=virtuoso_server.env())
        assert code == 0, err
    _same(local, target)
    target.remove_graphs(list(target.named_graphs()))


def test_crawl_command(oxigraph_server: Server, tmp_path: Path) -> None:  # noqa: F811
    if not SHARED_TIMM.is_dir():
        pytest.skip(f"../shared/data is absent (looked for {SHARED_TIMM}); the timm crawl "
                    "reads its results CSVs")
    src = tmp_path / "results"
    src.mkdir()
    for path in sorted(SHARED_TIMM.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        keep = [rows[0]] + [r for r in rows[1:] if r and r[0] in ("resnet18.a1_in1k",
                                                                 "resnet18")]
        with (src / path.name).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(keep)
    local, target = _fresh(oxigraph_server, tmp_path)
    for store in (local, oxigraph_server.query_url):
        code, err, _ = run("--store", store, "crawl", "timm", "--source", str(src))
        assert code == 0, err
    _same(local, target)
    # A second crawl finds every record unchanged on the remote store too.
    code, err, _ = run("--store", oxigraph_server.query_url, "crawl", "timm", "--source",
                       str(src))
    assert code == 0 and "0 record(s) stored" in err, err
