"""Where a crawler's files come from, and what a crawler yields besides records.

A *source* is a local directory (a copy of a zoo's files) or an ``http(s)``
base URL (the zoo's public files, by default GitHub raw files). A GitHub page
URL such as ``https://github.com/huggingface/pytorch-image-models/tree/main/results``
is mapped to its ``raw.githubusercontent.com`` form. A URL source has no
directory listing, so each crawler names the files it knows of; a known file
the server no longer has is skipped with a warning.

HTTP goes through :class:`Fetcher`: a ``requests`` session with a descriptive
User-Agent, connect/read timeouts, and retries with exponential backoff on
connection errors, 429 and 5xx (honouring ``Retry-After``).

Besides records, crawlers yield :class:`Rejected` (a row or entry that cannot
become a record, with file, row and reason) and :class:`CrawlWarning` (kept,
but something was dropped or guessed). A :class:`Ledger` remembers which rows
of which file fed which record, so that after ingesting, every row is
accounted for as stored, unchanged or rejected.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import requests

from mlmeta import __version__
from mlmeta.errors import CrawlError, SourceNotFound, UsageError
from mlmeta.records import Record

USER_AGENT = (f"mlmeta/{__version__} (Linked Data crawler of ML model zoo metadata; "
              f"python-requests/{requests.__version__})")
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

_TREE_RE = re.compile(
    r"^https?://github\.com/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
    r"(?:/(?:tree|blob)/(?P<ref>[^/]+)(?P<path>/.*)?)?/?$")


# --- what crawlers yield -------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """A row or entry of a source file that could not become a record.

    ``row`` is the file's own numbering: the line number in a CSV file (the header
    is line 1), the 1-based entry number in a YAML list, 1 for a whole-file record.
    """

    file: str
    row: int | None
    reason: str
    item: str | None = None  # the row's model name or entry name, when there is one

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        what = f" ({self.item})" if self.item else ""
        return f"{where}{what}: {self.reason}"


@dataclass(frozen=True)
class CrawlWarning:
    """Something a crawler kept but could not read fully, or guessed."""

    file: str
    row: int | None
    message: str
    key: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        who = f" {self.key}:" if self.key else ""
        return f"{where}:{who} {self.message}"


CrawlItem = Record | Rejected | CrawlWarning


@dataclass
class FileCount:
    """How the rows (or entries) of one source file ended up."""

    rows: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def accounted(self) -> int:
        return self.stored + self.unchanged + self.rejected


@dataclass
class Ledger:
    """Which rows of which file fed which records, and which rows were rejected.

    Crawlers call :meth:`expect` once per file with its number of rows, :meth:`use`
    for every row that went into a record, and :meth:`reject` for every
    :class:`Rejected` they yield. :meth:`settle` then says, per file, how many rows
    were stored, unchanged (their record was already stored at this version) or
    rejected (by the crawler, or because the shapes rejected their record).
    """

    rows: dict[str, int] = field(default_factory=dict)
    uses: dict[str, dict[int, set[str]]] = field(default_factory=dict)
    rejects: dict[str, dict[int, Rejected]] = field(default_factory=dict)

    def expect(self, file: str, rows: int) -> None:
        self.rows[file] = self.rows.get(file, 0) + rows

    def use(self, file: str, row: int, key: str) -> None:
        self.uses.setdefault(file, {}).setdefault(row, set()).add(key)

    def reject(self, rejected: Rejected) -> None:
        self.rejects.setdefault(rejected.file, {})[rejected.row or 0] = rejected

    def settle(self, stored: Iterable[str], unchanged: Iterable[str] = (),
               ) -> dict[str, FileCount]:
        """Per file: rows stored, unchanged, rejected. A row is stored when every record
        it fed was stored, unchanged when they were all skipped as unchanged, and
        rejected when the crawler rejected it or any record it fed was not stored."""
        ok = set(stored)
        same = set(unchanged)
        out: dict[str, FileCount] = {}
        for file in sorted(set(self.rows) | set(self.uses) | set(self.rejects)):
            fc = FileCount(rows=self.rows.get(file, 0))
            rejected_rows = set(self.rejects.get(file, {}))
            for row, keys in self.uses.get(file, {}).items():
                if row in rejected_rows:
                    continue
                if keys <= same:
                    fc.unchanged += 1
                elif keys <= ok | same:
                    fc.stored += 1
                else:
                    fc.rejected += 1
            fc.rejected += len(rejected_rows)
            out[file] = fc
        return out

    def rows_of(self, key: str) -> list[tuple[str, int]]:
        """The (file, row) pairs that fed a record (for messages)."""
        return sorted((f, r) for f, rows in self.uses.items() for r, ks in rows.items()
                      if key in ks)


# --- fetching ------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: its name within the source, where it was read, its bytes."""

    name: str
    url: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256(self.data)

    def text(self) -> str:
        """The file as text (UTF-8, a BOM dropped).

        :raises CrawlError: if it is not UTF-8.
        """
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CrawlError(f"{self.name}: not UTF-8 text ({e})") from e


class Fetcher:
    """HTTP GET with a descriptive User-Agent, timeouts and retries with backoff.

    :param session: a ``requests.Session`` to use (a new one by default).
    :param timeout: ``(connect, read)`` seconds.
    :param retries: further attempts after the first, for connection errors, 429 and 5xx.
    :param backoff: the first wait in seconds; doubled at each retry (a server's
        ``Retry-After`` takes precedence), capped at ``max_wait``.
    """

    def __init__(self, session: requests.Session | None = None, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, retries: int = 4,
                 backoff: float = 1.0, max_wait: float = 60.0, user_agent: str = USER_AGENT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep

    def get(self, url: str) -> bytes:
        """The body of ``url``.

        :raises SourceNotFound: on 404 / 410.
        :raises CrawlError: on any other failure, after the retries; the message names
            the URL and the last status or error.
        """
        last = ""
        for attempt in range(self.retries + 1):
            wait = min(self.backoff * (2 ** attempt), self.max_wait)
            try:
                resp = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if resp.status_code == 200:
                    return resp.content
                if resp.status_code in (404, 410):
                    raise SourceNotFound(f"{url}: HTTP {resp.status_code} (no such file)")
                last = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUS:
                    break
                wait = _retry_after(resp.headers.get("Retry-After"), wait, self.max_wait)
            if attempt < self.retries:
                self._sleep(wait)
        raise CrawlError(f"cannot fetch {url}: {last}",
                         hint="check the URL and your connection, or pass a local copy "
                              "with --source DIR")


def _retry_after(value: str | None, default: float, cap: float) -> float:
    if not value:
        return default
    try:
        return min(max(float(value), 0.0), cap)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        return min(max(when.timestamp() - time.time(), 0.0), cap)
    except (TypeError, ValueError):
        return default


def github_raw_url(url: str) -> str:
    """A ``github.com`` repository / tree / blob URL as its ``raw.githubusercontent.com``
    form (a repository without a ref gets ``HEAD``, its default branch); other URLs are
    returned unchanged."""
    m = _TREE_RE.match(url)
    if not m:
        return url
    ref = m.group("ref") or "HEAD"
    path = (m.group("path") or "").strip("/")
    base = f"https://raw.githubusercontent.com/{m.group('owner')}/{m.group('repo')}/{ref}/"
    return base + (path + "/" if path and "/blob/" not in url else path)


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


class Source:
    """A local directory or an http(s) base URL holding a zoo's files.

    Use :func:`open_source`. ``names(patterns, known)`` lists the files to read:
    matching files in a directory, the ``known`` names for a URL.
    """

    def __init__(self, location: str, *, fetcher: Fetcher | None = None,
                 only: Sequence[str] | None = None) -> None:
        self.remote = is_url(location)
        self.only = list(only) if only else None
        if self.remote:
            base = github_raw_url(location)
            self.location = base if base.endswith("/") else base + "/"
            self.fetcher = fetcher or Fetcher()
            self.dir: Path | None = None
        else:
            self.location = location
            self.dir = Path(location)
            self.fetcher = fetcher or Fetcher()

    def __repr__(self) -> str:
        return f"Source({self.location!r})"

    def names(self, patterns: Sequence[str], known: Sequence[str] = ()) -> list[str]:
        """The files to read, sorted: in a directory those matching any of ``patterns``
        (searched recursively; names are paths relative to the directory), at a URL
        the ``known`` names that match."""
        if self.only is not None:
            return sorted(n for n in self.only if _matches(n, patterns))
        if self.dir is None:
            return sorted(n for n in known if _matches(n, patterns))
        found = {p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*") if p.is_file()}
        return sorted(n for n in found if _matches(n, patterns))

    def url_of(self, name: str) -> str:
        if self.dir is None:
            return urljoin(self.location, quote(name, safe="/-._~@+:"))
        return (self.dir / name).resolve().as_uri()

    def read(self, name: str) -> SourceFile:
        """One file of the source.

        :raises SourceNotFound: if it does not exist.
        :raises CrawlError: if it cannot be read or fetched.
        """
        url = self.url_of(name)
        if self.dir is None:
            return SourceFile(name, url, self.fetcher.get(url))
        path = self.dir / name
        try:
            return SourceFile(name, url, path.read_bytes())
        except FileNotFoundError as e:
            raise SourceNotFound(f"{path}: no such file") from e
        except OSError as e:
            raise CrawlError(f"cannot read {path}: {e.strerror or e}") from e


def read_files(src: Source, names: Sequence[str], what: str, hint: str,
               ) -> Iterator[SourceFile | CrawlWarning]:
    """Read each named file of a source: the file, or a warning for one that is missing.

    :raises CrawlError: (after the last name) if not one file could be read; ``what``
        names the files (``"timm results or benchmark CSV files"``), ``hint`` says what to
        do next.
    """
    read = 0
    for name in names:
        try:
            f = src.read(name)
        except SourceNotFound as e:
            yield CrawlWarning(name, None, f"skipped: {e}")
            continue
        read += 1
        yield f
    if read == 0:
        raise CrawlError(f"no {what} at {src.location}", hint=hint)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(base, p) or fnmatch.fnmatch(name, p) for p in patterns)


def open_source(location: str | None, default: str, *, fetcher: Fetcher | None = None,
                ) -> Source:
    """The source at ``location`` (a directory, a single file in one, or an http(s) base
    URL); ``None`` means ``default``.

    :raises UsageError: if a local location does not exist.
    """
    loc = location or default
    if is_url(loc):
        parts = urlsplit(loc)
        if not parts.netloc:
            raise UsageError(f"--source {loc!r}: not a URL with a host")
        return Source(loc, fetcher=fetcher)
    path = Path(loc).expanduser()
    if path.is_dir():
        return Source(str(path), fetcher=fetcher)
    if path.is_file():
        return Source(str(path.parent), fetcher=fetcher, only=[path.name])
    raise UsageError(f"--source {loc!r}: no such directory or file",
                     hint="give a local copy of the zoo's files, or an http(s) URL")
