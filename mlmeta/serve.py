"""``mlmeta serve``: the store as a SPARQL 1.1 Protocol endpoint, by the real Oxigraph server.

Runs the ``oxigraph`` binary (the ``oxigraph`` package on PyPI ships it; it is in
mlmeta's ``server`` extra) over the store directory, with the default graph the union
of the named graphs (as mlmeta's queries expect) and CORS for browser query editors.

* read-only (the default): ``oxigraph serve-read-only``; this process holds the store's
  write lock meanwhile, so nothing can change the data under the server. ``/update`` and
  writes to ``/store`` answer 403.
* ``--allow-update``: ``oxigraph serve``, with ``/update`` and the Graph Store ``/store``.

While it runs, ``<store>/mlmeta-serve.json`` says where the endpoint is; other mlmeta
commands on the same directory read it and say to use ``--store <query URL>``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click
import requests

from mlmeta.clikit import State, pass_state, stderr
from mlmeta.errors import StoreError, UsageError
from mlmeta.store import MEMORY, OxigraphStore

INFO_FILE = "mlmeta-serve.json"
STARTUP_TIMEOUT = 30.0


def find_oxigraph() -> str:
    """The ``oxigraph`` server binary: beside this Python (a virtualenv), else on PATH.

    :raises StoreError: if it is not installed.
    """
    here = Path(sys.executable).parent / "oxigraph"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("oxigraph")
    if found:
        return found
    raise StoreError("the Oxigraph server (the 'oxigraph' program) is not installed",
                     hint="pip install 'mlmeta[server]' (or pip install oxigraph)")


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:7878`` for IPv6) as (host, port).

    :raises UsageError: if it is malformed.
    """
    host, sep, port_text = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--bind {bind!r} is not HOST:PORT", hint="e.g. --bind 127.0.0.1:7878")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_base(host: str, port: int) -> str:
    """The base URL clients on this machine use (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", "::", "localhost"):
        host = "127.0.0.1" if host != "::" else "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def server_command(binary: str, location: Path, bind: str, read_only: bool, cors: bool,
                   timeout_s: int | None) -> list[str]:
    cmd = [binary, "serve-read-only" if read_only else "serve", "--location", str(location),
           "--bind", bind, "--union-default-graph"]
    if cors:
        cmd.append("--cors")
    if timeout_s:
        cmd += ["--timeout-s", str(timeout_s)]
    return cmd


def check_port_free(host: str, port: int) -> None:
    """:raises StoreError: if something already listens on ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise StoreError(f"cannot listen on {host}:{port}: {e.strerror or e}",
                             hint="is the port in use (another mlmeta serve?); choose "
                             "another with --bind HOST:PORT") from e


def _wait_ready(proc: subprocess.Popen[bytes], query_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreError(f"the Oxigraph server stopped at once (exit code {proc.returncode})",
                             hint="is the port in use? see its message above; try --bind "
                             "127.0.0.1:<another port>")
        try:
            if requests.get(query_url, params={"query": "ASK {}"}, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise StoreError(f"the Oxigraph server did not answer at {query_url} within "
                     f"{timeout:.0f} s")


def _fileno(stream: Any) -> int | None:
    """The stream's descriptor for the server's messages (None: inherit ours)."""
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


class _Stop(Exception):
    """SIGTERM / SIGHUP arrived: stop the server and clean up."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


@click.command("serve")
@click.option("--bind", default="127.0.0.1:7878", show_default=True, metavar="HOST:PORT",
              help="Address to listen on. Loopback by default: anything else lets other "
                   "machines in.")
@click.option("--read-only/--allow-update", "read_only", default=True, show_default=True,
              help="Read-only serves /query only; --allow-update adds /update and the "
                   "Graph Store /store.")
@click.option("--cors/--no-cors", default=True, show_default=True,
              help="Allow cross-origin requests (browser query editors).")
@click.option("--timeout-s", type=click.IntRange(min=1), default=None, metavar="SECONDS",
              help="Stop queries that run longer.")
@pass_state
def command(state: State, bind: str, read_only: bool, cors: bool, timeout_s: int | None
            ) -> None:
    """Serve the store as a SPARQL 1.1 endpoint (the Oxigraph server) until Ctrl-C.

    Endpoints at the Oxigraph server's paths: /query, and with --allow-update also
    /update and /store (Graph Store Protocol). The default graph is the union of the
    named graphs, as in 'mlmeta query'. Meanwhile, other mlmeta commands reach the
    data with --store http://HOST:PORT/query.
    """
    location = state.location
    if location == MEMORY or location.startswith(("http://", "https://")):
        raise UsageError(f"mlmeta serve needs a store directory, not {location!r}",
                         hint="pass --store DIR (a remote endpoint is served already)")
    host, port = parse_bind(bind)
    directory = Path(location)
    if read_only and not (directory / "CURRENT").is_file():
        raise StoreError(f"there is no store at {directory}",
                         hint="create one with 'mlmeta init' or 'mlmeta demo', or serve "
                         "with --allow-update")
    binary = find_oxigraph()
    check_port_free(host, port)
    # Take the store's lock: fails clearly if another process (a server?) holds it. In
    # read-only mode we keep it, so that nothing writes under the read-only server.
    holder: OxigraphStore | None = OxigraphStore(directory)
    if not read_only and holder is not None:
        holder.close()
        holder = None  # released: the server takes the lock itself
    base = endpoint_base(host, port)
    info: dict[str, Any] = {"query_url": f"{base}/query", "pid": os.getpid(),
                            "read_only": read_only, "bind": bind}
    if not read_only:
        info.update(update_url=f"{base}/update", graph_store_url=f"{base}/store")
    if not is_loopback(host):
        stderr(f"warning: listening on {host}: other machines can "
               f"{'query' if read_only else 'query and change'} this store")
    cmd = server_command(binary, directory, bind, read_only, cors, timeout_s)
    info_path = directory / INFO_FILE
    old = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    proc: subprocess.Popen[bytes] | None = None
    try:
        err = _fileno(sys.stderr)
        env = {**os.environ, "RUST_BACKTRACE": "0", "RUST_LIB_BACKTRACE": "0"}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                env=env)
        info["server_pid"] = proc.pid
        _wait_ready(proc, info["query_url"], STARTUP_TIMEOUT)
        info_path.write_text(json.dumps(info, indent=1) + "\n", "utf-8")
        stderr(f"SPARQL endpoint: {info['query_url']}"
               + ("" if read_only else f"  update: {info['update_url']}  graph store: "
                  f"{info['graph_store_url']}")
               + f"  ({'read-only' if read_only else 'read-write'}; Ctrl-C stops it)")
        stderr(f"other commands: mlmeta --store {info['query_url']} query ...")
        code = proc.wait()
        if code != 0:
            raise StoreError(f"the Oxigraph server stopped with exit code {code}")
    except (KeyboardInterrupt, _Stop):
        stderr("stopping the server")
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        info_path.unlink(missing_ok=True)
        for s, handler in old.items():
            signal.signal(s, handler)
        if holder is not None:
            holder.close()
            del holder
