"""``mlmeta serve``: the real Oxigraph server over a store directory, on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from servers import example_zoo, free_port, oxigraph_binary, stop_process, unavailable  # noqa: F401

from mlmeta.cli import cli
from mlmeta.errors import StoreError, UsageError
from mlmeta.remote import RemoteSettings, RemoteStore
from mlmeta.serve import INFO_FILE, endpoint_base, find_oxigraph, is_loopback, parse_bind
from mlmeta.store import OxigraphStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def zoo(example_zoo: Path, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
        ) -> tuple[Path, int]:
    """A copy of the example zoo's store, to serve: (directory, quads)."""
    if oxigraph_binary() is None:
        unavailable("the oxigraph server binary is not installed (pip install oxigraph)")
    d = tmp_path_factory.mktemp("served") / "store"
    shutil.copytree(example_zoo, d)
    return d, OxigraphStore(d, read_only=True).count()


@contextmanager
def serving(location: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], dict[str,
                                                                                      str]]]:
    """``mlmeta serve`` in a child process; yields it and the endpoint info it wrote."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "mlmeta.cli", "--store", str(location),
                             "serve", "--bind", f"127.0.0.1:{port}", *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    info_path = location / INFO_FILE
    deadline = time.monotonic() + 30
    try:
        while not info_path.is_file():
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5) if proc.poll() is not None else (b"", b"")
                pytest.fail(f"mlmeta serve did not start: {err.decode()}")
            time.sleep(0.1)
        info = json.loads(info_path.read_text("utf-8"))
        assert info["query_url"] == f"http://127.0.0.1:{port}/query"
        yield proc, info
    finally:
        stop_process(proc)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr + result.stdout


def test_read_only_endpoint(zoo: tuple[Path, int]) -> None:
    location, n = zoo
    with serving(location) as (proc, info):
        url = info["query_url"]
        assert info["read_only"] is True and "update_url" not in info
        store = RemoteStore(url, RemoteSettings.from_env(url, {}))
        assert store.count() == n
        assert store.default_graph_is_union() is True
        # CORS for browser query editors.
        r = requests.get(url, params={"query": "ASK { ?s ?p ?o }"},
                         headers={"Origin": "https://yasgui.example", "Accept":
                                  "application/sparql-results+json"}, timeout=5)
        assert r.ok and r.json()["boolean"] is True
        assert r.headers.get("Access-Control-Allow-Origin") == "*"
        base = url.rsplit("/", 1)[0]
        r = requests.post(f"{base}/update", data={"update": "CLEAR ALL"}, timeout=5)
        assert r.status_code == 403
        r = requests.put(f"{base}/store", params={"graph": "urn:g"}, data=b"",
                         headers={"Content-Type": "application/n-triples"}, timeout=5)
        assert r.status_code == 403
        # Another command on the same directory is told where the endpoint is.
        for args in (("init",), ("query", "model-summary"), ("stats",)):
            code, out = run("--store", str(location), *args)
            assert code == 1, out
            assert "mlmeta serve" in out and f"--store {url}" in out, out
        # ... and works through it.
        code, out = run("--store", url, "stats", "--format", "csv")
        assert code == 0 and f"quads,{n}" in out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert not (location / INFO_FILE).exists()
    code, out = run("--store", str(location), "stats", "--format", "csv")
    assert code == 0 and f"quads,{n}" in out


NEW_RECORD = """records:
  - type: model
    id: acme/served-model
    name: A model added through mlmeta serve
    tasks: [image-classification]
"""


def test_allow_update_endpoint(zoo: tuple[Path, int], tmp_path: Path) -> None:
    location, n = zoo
    record = tmp_path / "new.yaml"
    record.write_text(NEW_RECORD, "utf-8")
    with serving(location, "--allow-update", "--no-cors") as (proc, info):
        url = info["query_url"]
        assert info["update_url"].endswith("/update")
        assert info["graph_store_url"].endswith("/store")
        code, out = run("--store", str(location), "add", str(record))
        assert code == 1 and f"--store {url}" in out
        code, out = run("--store", url, "add", str(record))
        assert code == 0, out
        code, out = run("--store", url, "query", "model-summary", "--model",
                        "acme/served-model", "--format", "csv")
        assert code == 0 and "A model added through mlmeta serve" in out, out
        store = RemoteStore(url, RemoteSettings.from_env(url, {}))
        grown = store.count()
        assert grown > n
        r = requests.get(url, params={"query": "ASK {}"}, headers={"Origin": "https://x"},
                         timeout=5)
        assert "Access-Control-Allow-Origin" not in r.headers
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    assert not (location / INFO_FILE).exists()
    assert OxigraphStore(location, read_only=True).count() == grown


def test_bind_and_location_checks(tmp_path: Path) -> None:
    assert parse_bind("127.0.0.1:7878") == ("127.0.0.1", 7878)
    assert parse_bind("[::1]:80") == ("::1", 80)
    for bad in ("7878", "host:", "host:0", "host:99999", ":80"):
        with pytest.raises(UsageError):
            parse_bind(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert endpoint_base("0.0.0.0", 7878) == "http://127.0.0.1:7878"
    assert endpoint_base("::1", 80) == "http://[::1]:80"
    code, out = run("--store", ":memory:", "serve")
    assert code == 2 and "needs a store directory" in out
    code, out = run("--store", str(tmp_path / "nothing"), "serve")
    assert code == 1 and "no store at" in out and "mlmeta init" in out
    code, out = run("--store", str(tmp_path), "serve", "--bind", "nowhere")
    assert code == 2 and "HOST:PORT" in out


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StoreError, match="not installed") as e:
        find_oxigraph()
    assert "mlmeta[server]" in str(e.value)


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    if oxigraph_binary() is None:
        unavailable("the oxigraph server binary is not installed (pip install oxigraph)")
    # A store of its own: the module's shared copy has been written through a server by
    # the tests before this one.
    location = tmp_path / "store"
    assert run("--store", str(location), "init")[0] == 0
    with serving(location) as (_, info):
        port = info["query_url"].split(":")[2].split("/")[0]
        other = location.parent / "other"
        OxigraphStore(other).close()
        code, out = run("--store", str(other), "serve", "--bind", f"127.0.0.1:{port}")
        assert code == 1 and "port" in out
        assert not (other / INFO_FILE).exists()
