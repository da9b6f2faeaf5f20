"""A tiny HTTP server for tests: serves a local directory on 127.0.0.1 at a free port.

Used to test the URL form of a crawler's ``--source`` for real, over HTTP. It records
each request (path and User-Agent) and can answer the first requests for a path with
503 (``Retry-After: 0``) to exercise the crawlers' retries.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class _Handler(SimpleHTTPRequestHandler):
    owner: HttpDir

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        path = self.path.split("?", 1)[0]
        with self.owner.lock:
            self.owner.requests.append((path, self.headers.get("User-Agent", "")))
            left = self.owner.failures.get(path, 0)
            if left > 0:
                self.owner.failures[path] = left - 1
        if left > 0:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class HttpDir:
    """Serve ``directory`` over HTTP while the context is open.

    ``base_url`` ends with ``/``; ``failures`` maps a URL path (``/a.csv``) to how many
    requests for it get a 503 before it is served; ``requests`` lists
    ``(path, user agent)`` of every GET.
    """

    def __init__(self, directory: str | Path, failures: dict[str, int] | None = None) -> None:
        self.directory = str(directory)
        self.failures = dict(failures or {})
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0),
                                           partial(handler, directory=self.directory))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> HttpDir:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
