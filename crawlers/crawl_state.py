"""Resume state of a crawl: a small JSON file, replaced atomically after every batch.

It records the job (the selectors, so ``--resume`` continues the same crawl),
the listing cursor of the page being worked on, which repos of that page (or
which named ids) are done, and the running counts. It is written only after
the store has committed a batch, by write-to-temporary + fsync + rename, so a
crawl killed at any instant (Ctrl-C, ``kill -9``, a lost network) leaves
either the old or the new state, never a torn one. A batch stored but not yet
recorded is simply redone on resume: each repo is one named graph that is
replaced whole, so nothing is duplicated.

For a store directory the state lives inside it (``<store>/crawl-state/``);
for an in-memory or remote store, under ``$XDG_STATE_HOME/mlmeta/crawl-state/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlmeta.errors import CrawlError

STATE_VERSION = 1
COUNTS = ("seen", "stored", "unchanged", "rejected", "failed")


def job_key(job: dict[str, Any]) -> str:
    """A short stable hash of a crawl's selectors."""
    text = json.dumps(job, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def state_path(store_location: str, zoo: str, job: dict[str, Any]) -> Path:
    """Where the state of this crawl of this store is kept."""
    name = f"{zoo}-{job_key(job)}.json"
    if store_location.startswith(("http://", "https://")) or store_location == ":memory:":
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        where = hashlib.sha1(store_location.encode("utf-8")).hexdigest()[:12]
        return base / "mlmeta" / "crawl-state" / f"{where}-{name}"
    return Path(store_location) / "crawl-state" / name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class CrawlState:
    """The progress of one crawl job. ``cursor`` is the listing page being worked on
    (path and query), ``page_done`` the repos of that page already handled,
    ``done_ids`` the named ids already handled."""

    path: Path
    job: dict[str, Any]
    cursor: str | None = None
    page_done: list[str] = field(default_factory=list)
    done_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    finished: bool = False
    started: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)

    @classmethod
    def load(cls, path: Path) -> CrawlState | None:
        """The saved state at ``path``, or None when there is none.

        :raises CrawlError: when the file exists but cannot be read as a crawl state.
        """
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CrawlError(f"cannot read the crawl state {path}: {e}") from e
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            counts = dict.fromkeys(COUNTS, 0)
            counts.update({k: int(v) for k, v in data.get("counts", {}).items()})
            return cls(path=path, job=dict(data["job"]), cursor=data.get("cursor"),
                       page_done=[str(x) for x in data.get("page_done", [])],
                       done_ids=[str(x) for x in data.get("done_ids", [])], counts=counts,
                       finished=bool(data.get("finished")),
                       started=str(data.get("started") or _now()),
                       updated=str(data.get("updated") or _now()))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CrawlError(f"the crawl state {path} is not readable ({e})",
                             hint="delete it to start the crawl afresh") from e

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "job": self.job, "cursor": self.cursor,
                "page_done": self.page_done, "done_ids": self.done_ids, "counts": self.counts,
                "finished": self.finished, "started": self.started, "updated": self.updated}

    def save(self) -> None:
        """Replace the file atomically (temporary file, fsync, rename, fsync of the folder).

        :raises CrawlError: when it cannot be written.
        """
        self.updated = _now()
        data = json.dumps(self.to_json(), indent=1, sort_keys=True).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp",
                                       dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as e:
            raise CrawlError(f"cannot write the crawl state {self.path}: {e}") from e

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def remove(self) -> None:
        """Delete the state file (a finished crawl needs none)."""
        self.path.unlink(missing_ok=True)
