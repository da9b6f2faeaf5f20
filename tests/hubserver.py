"""A local Hugging Face Hub for the tests: a threading HTTP server on 127.0.0.1.

It speaks the parts of the Hub API the crawler (and huggingface_hub's ``HfApi``) use:

- ``GET /api/models`` and ``/api/datasets``: ``author``, ``search``, ``filter``
  (repeatable), ``pipeline_tag``, ``sort`` + ``direction``, ``limit`` (the page size),
  ``expand`` (repeatable); pages linked by a GitHub-style ``Link: <...>; rel="next"``
  header carrying an opaque ``cursor``;
- ``GET /api/models/{id}`` and ``/api/datasets/{id}`` with ``expand``; 404 with
  ``X-Error-Code: RepoNotFound`` for unknown repos;
- ``GET /{id}/resolve/{rev}/{file}`` and ``/datasets/{id}/resolve/{rev}/{file}``
  (README.md, config.json); 404 with ``X-Error-Code: EntryNotFound``.

Faults are injected with :meth:`HubServer.inject`: an HTTP status with headers (429 with
``RateLimit`` / ``Retry-After``, 500s), a delay (for client timeouts), or a dropped
connection. :attr:`HubServer.slow_after` slows every request after the N-th. Repos can
be changed between crawls (:meth:`HubServer.update`). Every request is logged.

:func:`fixture_models` / :func:`fixture_datasets` build the repos from the committed
fixtures in ``tests/fixtures/huggingface`` (see ``tools/build_hf_fixtures.py``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "huggingface"
LIST_DEFAULT = ("_id", "id", "likes", "downloads", "private", "pipeline_tag", "library_name",
                "tags", "createdAt", "modelId")
# huggingface_hub's front-matter rule; the server reads cards its own (plain PyYAML) way.
_FRONT = __import__("re").compile(
    r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
CARD_ONLY_DATE = "2022-03-02T23:29:04.000Z"  # the Hub's "before dates were stored" date


@dataclass
class Repo:
    """One repo: its full API body and its files."""

    body: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.body.get("id") or self.body.get("modelId"))


@dataclass
class Fault:
    """Answer the next ``times`` requests whose path and query contain ``match`` this way."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    disconnect: bool = False
    match: str = ""
    times: int = 1


@dataclass
class Logged:
    method: str
    path: str
    query: str
    authorization: str | None
    status: int = 0


class HubServer:
    """The server; use as a context manager or call :meth:`close`."""

    def __init__(self, models: list[Repo] | None = None, datasets: list[Repo] | None = None,
                 page_size: int = 10) -> None:
        self.models: dict[str, Repo] = {r.id: r for r in models or []}
        self.datasets: dict[str, Repo] = {r.id: r for r in datasets or []}
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.slow_after: int | None = None
        self.slow_seconds = 0.0
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def update(self, repo_id: str, sha: str, datasets: bool = False, **fields: Any) -> None:
        """Give a repo a new commit: a new sha and lastModified, and changed fields."""
        repos = self.datasets if datasets else self.models
        with self.lock:
            body = repos[repo_id].body
            body["sha"] = sha
            body["lastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            body.update(fields)

    def requests_to(self, fragment: str) -> list[Logged]:
        with self.lock:
            return [e for e in self.log if fragment in e.path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> HubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answering (called from handler threads) -------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for f in self.faults:
            if f.times > 0 and f.match in path:
                f.times -= 1
                if f.times == 0:
                    self.faults.remove(f)
                return f
        return None


def _project(body: dict[str, Any], expand: list[str], default: tuple[str, ...] | None,
             ) -> dict[str, Any]:
    if expand:
        keys = ("_id", "id", *expand)
    elif default is not None:
        keys = default
    else:
        return copy.deepcopy(body)
    return {k: copy.deepcopy(body[k]) for k in keys if k in body}


def _matches(body: dict[str, Any], q: dict[str, list[str]]) -> bool:
    rid = str(body.get("id") or body.get("modelId") or "")
    if "author" in q and rid.split("/")[0].lower() != q["author"][0].lower():
        return False
    if "search" in q and q["search"][0].lower() not in rid.lower():
        return False
    if "pipeline_tag" in q and body.get("pipeline_tag") != q["pipeline_tag"][0]:
        return False
    tags = set(body.get("tags") or []) | {body.get("pipeline_tag"), body.get("library_name")}
    return all(f in tags for f in q.get("filter", []))


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return None

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        hub = self.server_hub
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        entry = Logged("GET", path, parts.query, self.headers.get("authorization"))
        with hub.lock:
            hub.log.append(entry)
            n = len(hub.log)
            fault = hub._take_fault(f"{path}?{parts.query}")
            slow = hub.slow_seconds if hub.slow_after is not None and n > hub.slow_after \
                else 0.0
        if slow:
            time.sleep(slow)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.disconnect:
                self.close_connection = True
                return
            if fault.status is not None:
                self._send(fault.status, {"error": f"injected {fault.status}"}, fault.headers,
                           entry)
                return
        q: dict[str, list[str]] = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            q.setdefault(k, []).append(v)
        try:
            self._route(path, q, entry)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, q: dict[str, list[str]], entry: Logged) -> None:
        hub = self.server_hub
        for prefix, repos in (("/api/models", hub.models), ("/api/datasets", hub.datasets)):
            if path == prefix:
                self._list(prefix, repos, q, entry)
                return
            if path.startswith(prefix + "/"):
                rid = path[len(prefix) + 1:]
                with hub.lock:
                    repo = repos.get(rid)
                    body = _project(repo.body, q.get("expand", []), None) if repo else None
                if body is None:
                    self._send(404, {"error": "Repository not found"},
                               {"X-Error-Code": "RepoNotFound"}, entry)
                else:
                    self._send(200, body, {}, entry)
                return
        if "/resolve/" in path:
            left, _, right = path.lstrip("/").partition("/resolve/")
            repos = hub.models
            if left.startswith("datasets/"):
                left, repos = left[len("datasets/"):], hub.datasets
            filename = right.partition("/")[2]
            with hub.lock:
                repo = repos.get(left)
                data = repo.files.get(filename) if repo else None
            if repo is None:
                self._send(404, {"error": "Repository not found"},
                           {"X-Error-Code": "RepoNotFound"}, entry)
            elif data is None:
                self._send(404, {"error": "Entry not found"},
                           {"X-Error-Code": "EntryNotFound"}, entry)
            else:
                self._send_bytes(200, data, "text/plain; charset=utf-8", {}, entry)
            return
        self._send(404, {"error": "not found"}, {}, entry)

    def _list(self, prefix: str, repos: dict[str, Repo], q: dict[str, list[str]],
              entry: Logged) -> None:
        hub = self.server_hub
        with hub.lock:
            bodies = [r.body for r in repos.values() if _matches(r.body, q)]
            sort = q.get("sort", [None])[0]
            if sort:
                desc = q.get("direction", ["1"])[0] == "-1"
                bodies.sort(key=lambda b: (b.get(sort) is not None, b.get(sort) or 0),
                            reverse=desc)
            size = int(q["limit"][0]) if "limit" in q else hub.page_size
            start = int(base64.urlsafe_b64decode(q["cursor"][0]).decode()) \
                if "cursor" in q else 0
            page = [_project(b, q.get("expand", []), LIST_DEFAULT)
                    for b in bodies[start:start + size]]
        headers = {}
        if start + size < len(bodies):
            nq = [(k, v) for k, vs in q.items() if k != "cursor" for v in vs]
            nq.append(("cursor", base64.urlsafe_b64encode(str(start + size).encode()).decode()))
            headers["Link"] = f'<{hub.url}{prefix}?{urlencode(nq)}>; rel="next"'
        self._send(200, page, headers, entry)

    def _send(self, status: int, obj: Any, headers: dict[str, str], entry: Logged) -> None:
        self._send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", headers,
                         entry)

    def _send_bytes(self, status: int, data: bytes, ctype: str, headers: dict[str, str],
                    entry: Logged) -> None:
        entry.status = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


# --- repos from the committed fixtures --------------------------------------------------------


def _card_yaml(text: str) -> dict[str, Any] | None:
    m = _FRONT.search(text)
    if not m:
        return None
    try:
        data = yaml.safe_load(m.group(2))
    except yaml.YAMLError:
        return None
    return json.loads(json.dumps(data, default=str)) if isinstance(data, dict) else None


def _stem_to_id(stem: str) -> str:
    return stem.replace("__", "/")


def fixture_models(max_results: int | None = None, parser_cards: bool = True) -> list[Repo]:
    """The model repos of the fixtures.

    - every real ``model_info`` body, as recorded;
    - every model card: its front matter becomes ``cardData`` (and ``model-index``), laid
      over the real body of the same repo when there is one, else over the 2022 list item,
      else over a minimal body (id, sha = sha1 of the card, lastModified, cardData); the
      card itself is served as README.md;
    - the huggingface_hub parser cards as ``hf-parser-fixtures/<name>`` repos whose body has
      no ``cardData`` (as when the Hub cannot read a card), so the crawler reads the README.

    :param max_results: leave out cards with more model-index results than this.
    """
    repos: dict[str, Repo] = {}
    for f in sorted((FIXTURES / "model_info").glob("models__*.json")):
        body = json.loads(f.read_text("utf-8"))
        repos[body["id"]] = Repo(body)
    legacy = {}
    for f in sorted((FIXTURES / "legacy_2022").glob("*.json")):
        item = json.loads(f.read_text("utf-8"))
        legacy[item["modelId"]] = item
    for f in sorted((FIXTURES / "cards").glob("*.md")):
        raw = f.read_bytes()
        text = raw.decode("utf-8")
        card = _card_yaml(text)
        rid = _stem_to_id(f.stem)
        mi = (card or {}).get("model-index") or (card or {}).get("model_index")
        if max_results is not None and isinstance(mi, list):
            n = sum(len(r.get("metrics") or []) for e in mi if isinstance(e, dict)
                    for r in (e.get("results") or []) if isinstance(r, dict))
            if n > max_results:
                continue
        if rid in repos:
            body = repos[rid].body
        elif rid in legacy:
            body = {"id": rid, **copy.deepcopy(legacy[rid])}
        else:
            body = {"_id": hashlib.sha1(rid.encode()).hexdigest()[:24], "id": rid,
                    "author": rid.split("/")[0] if "/" in rid else None,
                    "sha": hashlib.sha1(raw).hexdigest(), "lastModified": CARD_ONLY_DATE}
        body["cardData"] = card
        body["model-index"] = card.get("model-index") if isinstance(card, dict) else None
        repos[rid] = Repo(body, {"README.md": raw})
    configs = FIXTURES / "configs"
    for f in sorted(configs.glob("*.json")):
        rid = _stem_to_id(f.stem)
        if rid in repos:
            repos[rid].files["config.json"] = f.read_bytes()
    if parser_cards:
        for f in sorted((FIXTURES / "parser_cards").glob("sample_*.md")):
            if "datasetcard" in f.stem:
                continue
            raw = f.read_bytes()
            rid = f"hf-parser-fixtures/{f.stem}"
            repos[rid] = Repo({"id": rid, "sha": hashlib.sha1(raw).hexdigest(),
                               "lastModified": CARD_ONLY_DATE, "tags": []},
                              {"README.md": raw})
    return list(repos.values())


def fixture_datasets() -> list[Repo]:
    """The dataset repos of the fixtures: each dataset card (front matter as ``cardData``)
    with a minimal body. Older copies of a card (``*.2022-05-legacy-keys.md``) become
    ``<id>-legacy`` so both shapes are served."""
    repos = []
    for f in sorted((FIXTURES / "dataset_cards").glob("*.md")):
        raw = f.read_bytes()
        stem, _, variant = f.stem.partition(".")
        rid = _stem_to_id(stem) + ("-legacy" if variant.endswith("legacy-keys") else "")
        card = _card_yaml(raw.decode("utf-8"))
        tags = [f"task_categories:{t}" for t in (card or {}).get("task_categories") or []
                if isinstance(t, str)]
        repos.append(Repo({"_id": hashlib.sha1(rid.encode()).hexdigest()[:24], "id": rid,
                           "sha": hashlib.sha1(raw).hexdigest(), "lastModified": CARD_ONLY_DATE,
                           "tags": tags, "cardData": card}, {"README.md": raw}))
    return repos
