"""HTTP for SPARQL endpoints: where they are, credentials, timeouts, retries, errors.

:class:`RemoteSettings` says where a store's query, update and Graph Store endpoints are
and how to authenticate (see :mod:`mlmeta.remote` for the environment variables);
:class:`SparqlHttp` sends the requests, retrying connection errors and HTTP 429 / 502 /
503 / 504 with backoff, and switching from Basic to Digest authentication when a server
(Virtuoso) refuses Basic.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from mlmeta.errors import RemoteStoreError
from mlmeta.vocab import ID_NS

RETRY_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RemoteSettings:
    """Where a remote store's endpoints are and how to talk to them.

    ``graph_store_url`` None means "no Graph Store endpoint: use SPARQL Update".
    """

    query_url: str
    update_url: str | None = None
    graph_store_url: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    auth: str = "auto"
    timeout: float = 60.0
    retries: int = 4
    graph_prefix: str = ID_NS
    explicit_update: bool = False
    explicit_graph_store: bool = False

    @classmethod
    def from_env(cls, query_url: str, env: Mapping[str, str] | None = None,
                 **overrides: Any) -> RemoteSettings:
        """Settings for ``query_url``: derived endpoints, then ``MLMETA_*`` variables, then
        ``overrides`` (keyword arguments that are not None).

        :raises RemoteStoreError: if the URL or a setting is malformed.
        """
        e = os.environ if env is None else env
        _check_url(query_url, "the store URL")
        update, store = derive_endpoints(query_url)
        explicit_update = explicit_store = False
        if e.get("MLMETA_UPDATE_URL"):
            update, explicit_update = e["MLMETA_UPDATE_URL"], True
        if e.get("MLMETA_GRAPH_STORE_URL"):
            gs = e["MLMETA_GRAPH_STORE_URL"]
            store, explicit_store = (None if gs.lower() == "none" else gs), True
        try:
            timeout = float(e.get("MLMETA_TIMEOUT") or 60)
            retries = int(e.get("MLMETA_RETRIES") or 4)
        except ValueError as err:
            raise RemoteStoreError(f"MLMETA_TIMEOUT / MLMETA_RETRIES must be numbers: {err}",
                                   hint="unset them or give numbers") from err
        auth = (e.get("MLMETA_AUTH") or "auto").lower()
        settings = cls(query_url, update, store, e.get("MLMETA_USER") or None,
                       e.get("MLMETA_PASSWORD"), e.get("MLMETA_TOKEN") or None, auth, timeout,
                       retries, e.get("MLMETA_GRAPH_PREFIX", ID_NS), explicit_update,
                       explicit_store)
        given = {k: v for k, v in overrides.items() if v is not None}
        if "update_url" in given:
            given["explicit_update"] = True
        if "graph_store_url" in given:
            given["explicit_graph_store"] = True
            if str(given["graph_store_url"]).lower() == "none":
                given["graph_store_url"] = None
        settings = replace(settings, **given)
        settings.check()
        return settings

    def check(self) -> None:
        """:raises RemoteStoreError: for a malformed URL or auth setting."""
        for what, url in (("the update URL", self.update_url),
                          ("the graph store URL", self.graph_store_url)):
            if url is not None:
                _check_url(url, what)
        if self.auth not in ("auto", "basic", "digest"):
            raise RemoteStoreError(f"MLMETA_AUTH is {self.auth!r}",
                                   hint="use basic, digest, or leave it unset")
        if self.token and self.user:
            raise RemoteStoreError("both a token and a user name are set",
                                   hint="use either --token / MLMETA_TOKEN or --user / "
                                   "MLMETA_USER")
        if self.user and self.password is None:
            raise RemoteStoreError(f"a user name ({self.user}) is set but no password",
                                   hint="set --password or MLMETA_PASSWORD")


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RemoteStoreError(f"{what} {url!r} is not an http(s) URL",
                               hint="give e.g. http://127.0.0.1:7878/query")


def derive_endpoints(query_url: str) -> tuple[str | None, str | None]:
    """The (update, graph store) URLs that usually go with a query URL.

    ``.../query`` (Oxigraph, Fuseki) gives ``.../update`` and ``.../store``;
    ``.../repositories/R`` (GraphDB, RDF4J) gives ``.../statements`` and
    ``.../rdf-graphs/service``; anything else is its own update endpoint, without a Graph
    Store (Virtuoso's are found when it first answers).
    """
    parts = urlsplit(query_url)
    path = parts.path.rstrip("/")

    def at(p: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, p, "", ""))

    if path.endswith("/query"):
        base = path[: -len("/query")]
        return at(base + "/update"), at(base + "/store")
    if re.search(r"/repositories/[^/]+$", path):
        return at(path + "/statements"), at(path + "/rdf-graphs/service")
    return query_url, None


class SparqlHttp:
    """One keep-alive session with timeouts, retries with backoff, and auth."""

    def __init__(self, settings: RemoteSettings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "mlmeta (SPARQL 1.1 Protocol client)"
        if settings.token:
            self.session.headers["Authorization"] = f"Bearer {settings.token}"
        self.auth: AuthBase | None = None
        self.server = ""
        if settings.user:
            self.auth = self._make_auth("digest" if settings.auth == "digest" else "basic")

    def _make_auth(self, kind: str) -> AuthBase:
        user, password = self.settings.user or "", self.settings.password or ""
        return HTTPDigestAuth(user, password) if kind == "digest" else HTTPBasicAuth(user,
                                                                                    password)

    def use_digest(self) -> None:
        if self.settings.user and not isinstance(self.auth, HTTPDigestAuth):
            self.auth = self._make_auth("digest")

    def request(self, method: str, url: str, *, what: str, params: Mapping[str, str] | None
                = None, data: Any = None, headers: Mapping[str, str] | None = None,
                stream: bool = False) -> requests.Response:
        """Send a request; retry connection errors and 429/502/503/504 with backoff
        (honouring ``Retry-After``); switch Basic to Digest when the server refuses Basic.

        :raises RemoteStoreError: when the server cannot be reached or keeps failing.
        """
        s = self.settings
        attempt = 0
        switched = False
        while True:
            try:
                r = self.session.request(method, url, params=params, data=data,
                                         headers=headers, auth=self.auth, stream=stream,
                                         timeout=(min(10.0, s.timeout), s.timeout))
            except requests.Timeout as e:
                if isinstance(e, requests.ConnectTimeout) and attempt < s.retries:
                    attempt += 1
                    time.sleep(_backoff(attempt))
                    continue
                raise RemoteStoreError(
                    f"{what}: {url} did not answer within {s.timeout:.0f} s",
                    hint="set MLMETA_TIMEOUT to wait longer", url=url) from e
            except requests.ConnectionError as e:
                if attempt < s.retries:
                    attempt += 1
                    time.sleep(_backoff(attempt))
                    continue
                raise RemoteStoreError(
                    f"{what}: cannot reach {url} ({_short(str(e))})",
                    hint="is the server running? check the URL given with --store / "
                    "--endpoint", url=url) from e
            self.server = r.headers.get("Server", self.server)
            if (r.status_code == 401 and s.user and s.auth == "auto" and not switched
                    and isinstance(self.auth, HTTPBasicAuth)):
                # Virtuoso refuses Basic without even naming Digest: try Digest once.
                r.close()
                self.auth = self._make_auth("digest")
                switched = True
                continue
            if r.status_code in RETRY_STATUS and attempt < s.retries:
                attempt += 1
                wait = _retry_after(r) or _backoff(attempt)
                r.close()
                time.sleep(wait)
                continue
            return r

    def close(self) -> None:
        self.session.close()


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.25 * 2 ** attempt))


def _retry_after(r: requests.Response) -> float | None:
    value = r.headers.get("Retry-After", "")
    try:
        return min(30.0, max(0.0, float(value)))
    except ValueError:
        return None


def _short(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def error_text(r: requests.Response) -> str:
    try:
        body = r.text
    except (requests.RequestException, UnicodeDecodeError):
        body = ""
    # Virtuoso appends the whole query after "SPARQL query:"; the reason comes first.
    body = body.split("SPARQL query:")[0]
    return _short(body) or r.reason or "no message"


def http_error(r: requests.Response, what: str, url: str) -> RemoteStoreError:
    status = r.status_code
    text = error_text(r)
    hint = None
    if status in (401, 403) or "SECURITY" in text or "permission" in text.lower():
        hint = ("give credentials: --user/--password or --token, or MLMETA_USER / "
                "MLMETA_PASSWORD / MLMETA_TOKEN")
    elif status == 404:
        hint = "check the URL (name the endpoint with MLMETA_UPDATE_URL / "\
               "MLMETA_GRAPH_STORE_URL where it differs)"
    return RemoteStoreError(f"{what} failed at {url}: HTTP {status}: {text}", hint=hint,
                            url=url, status=status)


def looks_like_auth(r: requests.Response) -> bool:
    text = error_text(r)
    return "SECURITY" in text or "permission" in text.lower()



__all__ = ["RETRY_STATUS", "RemoteSettings", "SparqlHttp", "derive_endpoints", "error_text",
           "http_error", "looks_like_auth"]
