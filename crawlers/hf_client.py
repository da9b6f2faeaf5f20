"""A polite client for the Hugging Face Hub API: listing with a resumable cursor, repo
info with ``expand=``, file downloads; a request-rate cap, retries and timeouts.

It is built on huggingface_hub's HTTP layer (the ``httpx2`` client it uses,
:func:`huggingface_hub.get_token` for ``HF_TOKEN``,
:func:`~huggingface_hub.utils.hf_raise_for_status` for its error types,
:func:`~huggingface_hub.utils.parse_ratelimit_headers`, :func:`~huggingface_hub.hf_hub_url`)
and honours ``HF_ENDPOINT``. It does not go through ``HfApi.list_models`` /
``model_info`` because, in huggingface_hub 2.4.0:

- ``model_info`` / ``dataset_info`` make one bare request: no retry on 429 or 5xx;
- nothing sets a timeout (the default client has ``timeout=None``);
- ``list_models`` hides the ``Link`` cursor, so a crawl could not resume at a page,
  and builds ``ModelInfo`` objects that raise on unexpected shapes, ending a whole
  listing on one odd item.

(Its paginator does retry 429 with the ``RateLimit`` / ``Retry-After`` headers.)
Here every request goes through :class:`PoliteTransport`: a token bucket caps the
rate, 429 waits for the ``RateLimit`` reset (``t=``) or ``Retry-After``, 5xx and
network errors back off exponentially, and a response announcing ``r=0`` pauses
the next request until the window resets. The token travels only in the
``Authorization`` header; nothing here logs headers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2
from huggingface_hub import __version__ as hf_hub_version
from huggingface_hub import constants, get_token, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import (  # type: ignore[attr-defined]  # exported lazily
    hf_raise_for_status,
    parse_ratelimit_headers,
)

from mlmeta import __version__
from mlmeta.errors import CrawlError

RETRY_STATUS = (408, 429, 500, 502, 503, 504)
RETRY_EXCEPTIONS = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)

MODEL_EXPAND = ("author", "sha", "createdAt", "lastModified", "pipeline_tag", "library_name",
                "tags", "gated", "downloads", "likes", "safetensors", "cardData", "config",
                "evalResults")
DATASET_EXPAND = ("author", "sha", "createdAt", "lastModified", "tags", "gated", "downloads",
                  "likes", "cardData", "paperswithcode_id")

Event = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class TokenBucket:
    """At most ``rate`` requests per second, evenly spaced (a bucket of one token)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("the request rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, not_before: float = 0.0) -> None:
        """Wait until the next request may go (and no earlier than ``not_before``)."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next, not_before)
            self._next = at + self.interval
        if at > now:
            self._sleep(at - now)


@dataclass
class RetryPolicy:
    """How hard to try: ``retries`` after the first attempt, exponential backoff from
    ``backoff`` seconds (doubling, at most ``max_backoff``), waits asked for by the server
    honoured up to ``max_wait`` seconds."""

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_wait: float = 300.0


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PoliteTransport(httpx2.BaseTransport):
    """An httpx2 transport that caps the request rate and retries politely.

    429: wait the ``RateLimit`` header's ``t=`` seconds when it says ``r=0``, else
    ``Retry-After``, else back off. 5xx and network errors (timeouts included): back
    off exponentially (``Retry-After`` wins when given). After ``policy.retries``
    retries the last response is returned (the caller raises its HTTP error) or the
    last network error re-raised.
    """

    def __init__(self, inner: httpx2.BaseTransport, bucket: TokenBucket, policy: RetryPolicy,
                 on_event: Event = _quiet, sleep: Callable[[float], None] = time.sleep) -> None:
        self._inner = inner
        self._bucket = bucket
        self._policy = policy
        self._on_event = on_event
        self._sleep = sleep
        self._not_before = 0.0
        self.requests = 0
        self.retries = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = 0
        where = f"{request.method} {request.url.path}"
        while True:
            self._bucket.acquire(self._not_before)
            self.requests += 1
            try:
                response = self._inner.handle_request(request)
            except RETRY_EXCEPTIONS as e:
                if attempt >= self._policy.retries:
                    raise
                wait = self._backoff(attempt)
                self._on_event(f"{where}: {type(e).__name__}; retrying in {wait:.1f} s "
                               f"({attempt + 1}/{self._policy.retries})")
            else:
                self._note_ratelimit(response)
                if response.status_code not in RETRY_STATUS or attempt >= self._policy.retries:
                    return response
                wait, why = self._wait_for(response, attempt)
                response.read()
                response.close()
                self._on_event(f"{where}: HTTP {response.status_code}; {why}, retrying in "
                               f"{wait:.1f} s ({attempt + 1}/{self._policy.retries})")
            self.retries += 1
            attempt += 1
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return float(min(self._policy.max_backoff, self._policy.backoff * (2 ** attempt)))

    def _wait_for(self, response: httpx2.Response, attempt: int) -> tuple[float, str]:
        if response.status_code == 429:
            info = parse_ratelimit_headers(response.headers)
            if info is not None and info.remaining == 0:
                return min(self._policy.max_wait, float(info.reset_in_seconds)), \
                    f"rate limited (RateLimit t={info.reset_in_seconds})"
        after = retry_after(response.headers)
        if after is not None:
            return min(self._policy.max_wait, after), "Retry-After"
        return self._backoff(attempt), "backing off"

    def _note_ratelimit(self, response: httpx2.Response) -> None:
        if response.status_code == 429:
            return
        info = parse_ratelimit_headers(response.headers)
        if info is not None and info.remaining == 0:
            wait = min(self._policy.max_wait, float(info.reset_in_seconds))
            self._not_before = time.monotonic() + wait
            self._on_event(f"rate-limit window used up; pausing {wait:.0f} s before the next "
                           "request")

    def close(self) -> None:
        self._inner.close()


@dataclass
class Page:
    """One page of a listing: its items and the cursor (path and query) of the next page."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def hub_headers(token: str | None = None) -> dict[str, str]:
    """The user agent, and the token (``$HF_TOKEN`` or the saved one) as a bearer token.

    Not ``build_hf_headers``: its user agent fetches an agent registry from the Hub on
    first use, an extra request a crawler should not make.
    """
    headers = {"user-agent": f"mlmeta/{__version__}; hf_hub/{hf_hub_version}"}
    token = token or get_token()
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def default_endpoint() -> str:
    """``$HF_ENDPOINT`` (read now, not at import), else huggingface_hub's default."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


class HubClient:
    """The Hub API, politely.

    :param endpoint: the Hub base URL; default ``$HF_ENDPOINT`` or https://huggingface.co.
    :param token: an access token; default ``$HF_TOKEN`` (huggingface_hub's lookup).
    :param rate: at most this many requests per second.
    :param timeout: seconds for connecting and for each read.
    """

    def __init__(self, endpoint: str | None = None, token: str | None = None,
                 rate: float = 5.0, timeout: float = 30.0,
                 policy: RetryPolicy | None = None, on_event: Event = _quiet) -> None:
        self.endpoint = (endpoint or default_endpoint()).rstrip("/")
        self._headers = hub_headers(token)
        self.transport = PoliteTransport(
            httpx2.HTTPTransport(), TokenBucket(rate), policy or RetryPolicy(), on_event)
        self._client = httpx2.Client(
            transport=self.transport, follow_redirects=True,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------

    def _get(self, url: str, params: list[tuple[str, str]] | None = None) -> httpx2.Response:
        if params:
            url = f"{url}?{urlencode(params)}"
        try:
            r = self._client.get(url, headers=self._headers)
        except (httpx2.HTTPError, httpx2.InvalidURL) as e:
            raise CrawlError(f"the Hub at {self.endpoint} did not answer ({type(e).__name__}) "
                             "after retries", hint="check the network or HF_ENDPOINT, then "
                             "rerun with --resume") from e
        return r

    def _json(self, r: httpx2.Response, what: str) -> Any:
        try:
            return r.json()
        except ValueError as e:
            raise CrawlError(f"{what}: the Hub answered with something that is not JSON") from e

    # -- listing -------------------------------------------------------------------------

    def first_cursor(self, kind: str, params: list[tuple[str, str]]) -> str:
        """The cursor (path and query) of a listing's first page: ``/api/models?...``."""
        path = f"/api/{kind}"
        return f"{path}?{urlencode(params)}" if params else path

    def list_page(self, cursor: str) -> Page:
        """Fetch one listing page; its ``Link: rel="next"`` becomes the next cursor.

        :raises CrawlError: when the Hub cannot be reached or answers with an error after
            retries (the crawl can resume at this cursor).
        """
        r = self._get(self.endpoint + "/" + cursor.lstrip("/"))
        try:
            hf_raise_for_status(r)
        except HfHubHTTPError as e:
            raise CrawlError(f"listing {cursor} failed: {_short(e)}",
                             hint="rerun with --resume to continue from this page") from e
        data = self._json(r, f"listing {cursor}")
        if not isinstance(data, list):
            raise CrawlError(f"listing {cursor}: expected a JSON list, got "
                             f"{type(data).__name__}")
        nxt = r.links.get("next", {}).get("url")
        return Page([d for d in data if isinstance(d, dict)],
                    self._relative(nxt) if nxt else None)

    def iter_pages(self, cursor: str) -> Iterator[tuple[str, Page]]:
        """``(cursor, page)`` for each page from ``cursor`` on."""
        current: str | None = cursor
        while current is not None:
            page = self.list_page(current)
            yield current, page
            current = page.next_cursor

    def _relative(self, url: str) -> str:
        """A next-page URL without the endpoint: cursors survive a change of endpoint."""
        url = urljoin(self.endpoint + "/", url)
        if url.startswith(self.endpoint + "/"):
            return url[len(self.endpoint):]
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    # -- one repo ------------------------------------------------------------------------

    def repo_info(self, kind: str, repo_id: str, expand: tuple[str, ...]) -> dict[str, Any] | None:
        """``GET /api/{models|datasets}/{id}?expand=...``; None when the repo does not exist.

        :raises HfHubHTTPError: for other HTTP errors after retries.
        :raises CrawlError: when the Hub cannot be reached.
        """
        url = f"{self.endpoint}/api/{kind}/{repo_id}"
        r = self._get(url, [("expand", e) for e in expand])
        try:
            hf_raise_for_status(r)
        except RepositoryNotFoundError:
            return None
        data = self._json(r, f"{kind}/{repo_id}")
        if not isinstance(data, dict):
            raise CrawlError(f"{kind}/{repo_id}: expected a JSON object")
        return data

    def download_text(self, repo_id: str, filename: str, repo_type: str | None = None,
                      revision: str | None = None) -> str | None:
        """A small file of a repo as text (README.md, config.json); None when missing.

        :raises HfHubHTTPError: for other HTTP errors after retries.
        """
        url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision,
                         endpoint=self.endpoint)
        r = self._get(url)
        if r.status_code == 404:
            return None
        try:
            hf_raise_for_status(r)
        except (EntryNotFoundError, RepositoryNotFoundError):
            return None
        return r.content.decode("utf-8", "replace")


def _short(e: Exception) -> str:
    return str(e).splitlines()[0]
