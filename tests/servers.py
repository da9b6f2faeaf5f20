"""Real SPARQL servers for the tests: an Oxigraph server and a Virtuoso, on loopback.

Each starts on 127.0.0.1 and free ports in a temporary folder, waits (bounded) until it
answers, and is stopped by its process id. When a server's binary is missing the test is
skipped saying why; under CI (the ``CI`` environment variable set) it fails instead,
because CI must have both.

The servers are started once per test session and shared: tests keep to their own graphs
(or clear the mlmeta graphs first).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

VIRTUOSO_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")
STARTUP_TIMEOUT = 60.0


@dataclass
class Server:
    """A running server: its SPARQL URLs, credentials and process."""

    name: str
    query_url: str
    update_url: str
    graph_store_url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    user: str | None = None
    password: str | None = None
    log: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The MLMETA_* variables that point a RemoteStore at this server."""
        out = {"MLMETA_UPDATE_URL": self.update_url,
               "MLMETA_GRAPH_STORE_URL": self.graph_store_url}
        if self.user:
            out["MLMETA_USER"] = self.user
            out["MLMETA_PASSWORD"] = self.password or ""
        return out

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``; under CI fail instead (CI must have every server)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_until(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str,
               log: Path | None, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``ready()`` until true; raise RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}: {_tail(log)}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path | None, n: int = 800) -> str:
    if log is None or not log.is_file():
        return "(no log)"
    return log.read_text("utf-8", "replace")[-n:].strip() or "(empty log)"


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` CLI next to this Python, else on PATH."""
    here = Path(sys.executable).parent / "oxigraph"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("oxigraph")


def start_oxigraph(location: Path | None = None, union_default_graph: bool = True) -> Server:
    """An ``oxigraph serve`` on a free loopback port, over ``location`` (else a temp dir).

    :raises RuntimeError: if the binary is missing or the server does not come up.
    """
    binary = oxigraph_binary()
    if binary is None:
        raise RuntimeError("the oxigraph server binary is not installed "
                           "(pip install 'mlmeta[server]' ships it)")
    workdir = Path(tempfile.mkdtemp(prefix="mlmeta-oxigraph-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [binary, "serve", "--location", str(location or workdir / "store"),
           "--bind", f"127.0.0.1:{port}"]
    if union_default_graph:
        cmd.append("--union-default-graph")
    log = workdir / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    wait_until(proc, lambda: requests.get(f"{base}/query", params={"query": "ASK {}"},
                                          timeout=2).ok, "the Oxigraph server", log)
    return Server("oxigraph", f"{base}/query", f"{base}/update", f"{base}/store", proc,
                  workdir, log=log)


def virtuoso_binary() -> str | None:
    return shutil.which("virtuoso-t")


def _virtuoso_ini(template: str, workdir: Path, sql_port: int, http_port: int) -> str:
    """The packaged virtuoso.ini, moved into ``workdir`` and onto loopback ports."""
    db = workdir / "db"
    out: list[str] = []
    section = ""
    for line in template.splitlines():
        m = re.match(r"^\s*\[(.+)\]\s*$", line)
        if m:
            section = m.group(1).strip()
            out.append(line)
            continue
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith(";") \
            else ""
        if key in ("DatabaseFile", "ErrorLogFile", "LockFile", "TransactionFile",
                   "xa_persistent_file"):
            name = Path(line.split("=", 1)[1].split(";")[0].strip()).name
            line = f"{key} = {db / name}"
        elif key == "ServerPort" and section == "Parameters":
            line = f"ServerPort = 127.0.0.1:{sql_port}"
        elif key == "ServerPort" and section == "HTTPServer":
            line = f"ServerPort = 127.0.0.1:{http_port}"
        elif key == "DirsAllowed":
            line = f"DirsAllowed = ., {workdir}, /usr/share/virtuoso-opensource-7/vad"
        elif key == "DefaultHost" and section == "URIQA":
            line = f"DefaultHost = 127.0.0.1:{http_port}"
        elif key == "ResultSetMaxRows":
            line = "ResultSetMaxRows = 1000000"
        elif key in ("NumberOfBuffers", "MaxDirtyBuffers"):
            # Small buffers: the test graph is tiny and startup is faster.
            line = f"{key} = {'10000' if key == 'NumberOfBuffers' else '6000'}"
        out.append(line)
    db.mkdir(parents=True, exist_ok=True)
    return "\n".join(out) + "\n"


def start_virtuoso() -> Server:
    """A Virtuoso (Debian ``virtuoso-opensource``) on free loopback ports, in a temp dir.

    dba / dba; SPARQL at ``/sparql``; Graph Store at ``/sparql-graph-crud-auth`` with
    HTTP digest authentication.

    :raises RuntimeError: if the binary is missing or the server does not come up.
    """
    binary = virtuoso_binary()
    if binary is None or not VIRTUOSO_INI.is_file():
        raise RuntimeError("Virtuoso is not installed (virtuoso-t or "
                           f"{VIRTUOSO_INI} missing; .ci/install-virtuoso.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="mlmeta-virtuoso-"))
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini = workdir / "virtuoso.ini"
    ini.write_text(_virtuoso_ini(VIRTUOSO_INI.read_text("utf-8"), workdir, sql_port,
                                 http_port), "utf-8")
    log = workdir / "console.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([binary, "+foreground", "+configfile", str(ini)],
                                cwd=workdir, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}"

    def ready() -> bool:
        r = requests.get(f"{base}/sparql", params={"query": "ASK {}"},
                         headers={"Accept": "application/sparql-results+json"}, timeout=2)
        return r.ok

    try:
        wait_until(proc, ready, "Virtuoso", workdir / "db" / "virtuoso.log")
    except RuntimeError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Server("virtuoso", f"{base}/sparql", f"{base}/sparql-auth",
                  f"{base}/sparql-graph-crud-auth", proc, workdir, user="dba",
                  password="dba", log=workdir / "db" / "virtuoso.log",
                  extra={"sql_port": str(sql_port)})


_SHARED: dict[str, Server] = {}


def shared_server(request: pytest.FixtureRequest, name: str,
                  start: Callable[[], Server]) -> Server:
    """Start ``name`` once per session (skip, or fail under CI, when it cannot start)."""
    server = _SHARED.get(name)
    if server is not None and server.process.poll() is None:
        return server
    try:
        server = start()
    except RuntimeError as e:
        unavailable(f"cannot start {name}: {e}")
        raise  # unreachable: unavailable() skips or fails
    _SHARED[name] = server
    request.session.config.add_cleanup(server.stop)
    return server


@pytest.fixture(scope="session")
def oxigraph_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A real ``oxigraph serve --union-default-graph`` on a free loopback port."""
    yield shared_server(request, "oxigraph", start_oxigraph)


@pytest.fixture(scope="session")
def virtuoso_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A real Virtuoso on free loopback ports (dba/dba, digest auth for writes)."""
    yield shared_server(request, "virtuoso", start_virtuoso)


@pytest.fixture(scope="session")
def example_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An on-disk store holding the example zoo, loaded once per session. Open it
    read-only, or copy it (``shutil.copytree``) to write."""
    from mlmeta.demo import load_example_zoo
    from mlmeta.store import OxigraphStore

    d = tmp_path_factory.mktemp("example-zoo") / "store"
    store = OxigraphStore(d)
    report = load_example_zoo(store)
    assert report.stored and not report.rejected, report.rejected
    store.flush()
    del store  # releases the directory's lock
    return d
