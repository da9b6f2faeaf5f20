"""``mlmeta crawl huggingface``: crawl Hugging Face Hub models (or datasets) into the store.

Named ids fetch those repos (``GET /api/models/{id}?expand=...``); selectors
(``--author``, ``--task``, ``--search``, ``--filter``, ``--since``, ``--all``)
page through the list endpoint with ``expand=``, one request per page. Each repo
becomes one record (:mod:`.hf_records`) that goes through the core path:
mapping, SHACL validation, and an atomic replacement of its named graph.

- Incremental: a repo whose sha (or lastModified) equals the stored
  ``mlm:sourceVersion`` is counted as unchanged and not rewritten.
- Resumable: :mod:`.crawl_state` records the page cursor and the repos done after
  every stored batch; ``--resume`` continues there.
- Polite: :mod:`.hf_client` caps the request rate and retries 429 / 5xx /
  timeouts as the Hub asks. ``HF_TOKEN`` is sent only in the Authorization header.
- Records that fail validation are reported (record, field, message), counted,
  and not stored; every parse problem is a warning naming the repo and field.
"""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from huggingface_hub.errors import HfHubHTTPError

from mlmeta import iri
from mlmeta.clikit import CommandError, State, pass_state
from mlmeta.errors import CrawlError, UsageError
from mlmeta.ingest import batches, ingest, stored_versions
from mlmeta.records import DatasetRecord, ModelRecord
from mlmeta.store import Store

from .crawl_state import CrawlState, state_path
from .hf_cards import parse_card
from .hf_client import DATASET_EXPAND, MODEL_EXPAND, HubClient, RetryPolicy
from .hf_records import dataset_record, model_record, parse_time, repo_id_of, version_of

ZOO = "huggingface"
SORTS = {"downloads": "downloads", "likes": "likes", "lastmodified": "lastModified",
         "last_modified": "lastModified", "createdat": "createdAt", "created_at": "createdAt",
         "trending": "trendingScore", "trendingscore": "trendingScore"}
# Pipelines whose config.json carries a fixed label space (id2label) worth reading.
LABEL_TASKS = frozenset({"image-classification", "text-classification", "audio-classification",
                         "token-classification", "object-detection", "image-segmentation",
                         "video-classification", "tabular-classification"})
MAX_PAGE = 1000


@dataclass
class CrawlOptions:
    """What to crawl. ``job()`` is the part that identifies a resumable crawl."""

    ids: tuple[str, ...] = ()
    datasets: bool = False
    author: str | None = None
    task: str | None = None
    search: str | None = None
    filters: tuple[str, ...] = ()
    sort: str | None = None
    limit: int | None = None
    since: datetime | None = None
    everything: bool = False
    labels: bool = True
    batch_size: int = 50

    @property
    def kind(self) -> str:
        return "datasets" if self.datasets else "models"

    def job(self) -> dict[str, Any]:
        return {"kind": self.kind, "ids": list(self.ids), "author": self.author,
                "task": self.task, "search": self.search, "filters": list(self.filters),
                "sort": self.sort, "limit": self.limit,
                "since": self.since.isoformat() if self.since else None,
                "all": self.everything}

    def list_params(self) -> list[tuple[str, str]]:
        """The query of the first listing page."""
        p: list[tuple[str, str]] = []
        if self.author:
            p.append(("author", self.author))
        if self.search:
            p.append(("search", self.search))
        filters = list(self.filters)
        if self.task:
            if self.datasets:
                filters.append(f"task_categories:{self.task}")
            else:
                p.append(("pipeline_tag", self.task))
        p.extend(("filter", f) for f in filters)
        sort = self.sort_field()
        if sort:
            p.extend([("sort", sort), ("direction", "-1")])
        if self.limit:
            p.append(("limit", str(min(self.limit, MAX_PAGE))))
        expand = DATASET_EXPAND if self.datasets else MODEL_EXPAND
        p.extend(("expand", e) for e in expand)
        return p

    def sort_field(self) -> str | None:
        if self.sort:
            return SORTS.get(self.sort.lower().replace("-", "_"), self.sort)
        return "lastModified" if self.since else None


@dataclass
class Progress:
    """A one-line status on a terminal (seen, stored, unchanged, rejected, failed), a line
    every ``interval`` seconds otherwise; messages are printed above it."""

    total: int | None = None
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    interval: float = 10.0
    _last: float = 0.0
    _shown: bool = False

    @property
    def tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, counts: dict[str, int]) -> str:
        text = "  ".join(f"{k} {counts.get(k, 0)}"
                         for k in ("seen", "stored", "unchanged", "rejected", "failed"))
        if self.total:
            done = min(counts.get("seen", 0), self.total)
            filled = int(24 * done / self.total)
            return f"[{'#' * filled}{'-' * (24 - filled)}] {done}/{self.total}  {text}"
        return text

    def update(self, counts: dict[str, int], force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line(counts))
            self._shown = True
        elif force or now - self._last >= self.interval:
            self.stream.write(self.line(counts) + "\n")
            self._last = now
        self.stream.flush()

    def message(self, text: str) -> None:
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self._shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self._shown = False
        self.stream.flush()


class _Collector:
    """Warnings of one repo, each once, in order."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def __call__(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)


@dataclass
class CrawlSummary:
    counts: dict[str, int]
    quads: int = 0
    seconds: float = 0.0
    finished: bool = False


class Crawler:
    """Runs one crawl job against one store, recording progress in ``state``."""

    def __init__(self, store: Store, client: HubClient, options: CrawlOptions,
                 state: CrawlState, progress: Progress | None = None) -> None:
        self.store = store
        self.client = client
        self.options = options
        self.state = state
        self.progress = progress or Progress(stream=io.StringIO())
        self.quads = 0

    # -- the two modes ---------------------------------------------------------------------

    def run(self) -> CrawlSummary:
        """Crawl until done.

        :raises CrawlError: when the Hub cannot be reached or listed after retries (the
            state is saved; ``--resume`` continues).
        :raises StoreError: when the store cannot be written.
        """
        t0 = time.monotonic()
        if self.options.ids:
            self._run_ids()
        else:
            self._run_listing()
        self.state.finished = True
        self.state.save()
        self.progress.update(self.state.counts, force=True)
        return CrawlSummary(dict(self.state.counts), self.quads, time.monotonic() - t0, True)

    def _run_ids(self) -> None:
        done = set(self.state.done_ids)
        todo = [i for i in dict.fromkeys(self.options.ids) if i not in done]
        expand = DATASET_EXPAND if self.options.datasets else MODEL_EXPAND
        for batch in batches(todo, self.options.batch_size):
            infos = []
            for rid in batch:
                self.state.count("seen")
                try:
                    info = self.client.repo_info(self.options.kind, rid, expand)
                except HfHubHTTPError as e:
                    self._fail(rid, f"the Hub answered {_first_line(e)}")
                    continue
                if info is None:
                    self._fail(rid, f"no such {self.options.kind[:-1]} on the Hub")
                    continue
                infos.append(info)
            self._process(infos, count_seen=False)
            self.state.done_ids.extend(batch)
            self.state.save()
            self.progress.update(self.state.counts)

    def _run_listing(self) -> None:
        opts = self.options
        cursor = self.state.cursor or self.client.first_cursor(opts.kind, opts.list_params())
        self.state.cursor = cursor
        stop_at_since = opts.since is not None and opts.sort_field() == "lastModified"
        for current, page in self.client.iter_pages(cursor):
            self.state.cursor = current
            done = set(self.state.page_done)
            items = [it for it in page.items if (repo_id_of(it) or "") not in done or
                     repo_id_of(it) is None]
            stop = False
            for batch in batches(items, opts.batch_size):
                if opts.limit is not None:
                    left = opts.limit - self.state.counts["seen"]
                    if left <= 0:
                        stop = True
                        break
                    batch = batch[:left]
                if opts.since is not None:
                    kept = [it for it in batch if not self._older(it)]
                    if stop_at_since and len(kept) < len(batch):
                        stop = True
                        # Sorted newest first: everything after the first older repo is older.
                        first_old = next(i for i, it in enumerate(batch) if self._older(it))
                        kept = batch[:first_old]
                    batch = kept
                handled = self._process(batch)
                self.state.page_done.extend(handled)
                self.state.save()
                self.progress.update(self.state.counts)
                if stop:
                    break
            if opts.limit is not None and self.state.counts["seen"] >= opts.limit:
                stop = True
            if stop or page.next_cursor is None:
                break
            self.state.cursor = page.next_cursor
            self.state.page_done = []
            self.state.save()

    def _older(self, item: dict[str, Any]) -> bool:
        since = self.options.since
        when = parse_time(item.get("lastModified"), "lastModified")
        if since is None or when is None:
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return when < since

    # -- one batch -------------------------------------------------------------------------

    def _fail(self, rid: str, message: str) -> None:
        self.state.count("failed")
        self.progress.message(f"failed: {ZOO}:{rid}: {message}")

    def _process(self, infos: list[dict[str, Any]], count_seen: bool = True) -> list[str]:
        """Map, validate and store a batch of API bodies; returns the ids handled."""
        kind = "dataset" if self.options.datasets else "model"
        handled: list[str] = []
        with_id: list[tuple[str, dict[str, Any]]] = []
        for info in infos:
            if count_seen:
                self.state.count("seen")
            rid = repo_id_of(info)
            if rid is None:
                self.state.count("rejected")
                self.progress.message(f"rejected: {ZOO}:? (a listing item), field 'id': "
                                      "the item has no repo id")
                continue
            with_id.append((rid, info))
            handled.append(rid)
        graphs = {rid: iri.record_graph(kind, f"{ZOO}:{rid}") for rid, _ in with_id}
        stored = stored_versions(self.store, graphs.values())
        records: list[ModelRecord | DatasetRecord] = []
        notes: dict[str, list[str]] = {}
        now = datetime.now(UTC)
        for rid, info in with_id:
            version = version_of(info)
            if version is not None and stored.get(graphs[rid].value) == version:
                self.state.count("unchanged")
                continue
            warn = _Collector()
            rec = self._record(rid, info, warn, now)
            notes[f"{ZOO}:{rid}"] = warn.items
            if rec is None:
                self.state.count("rejected")
                self.progress.message(f"rejected: {ZOO}:{rid}: {'; '.join(warn.items)}")
                continue
            records.append(rec)
        if records:
            report = ingest(self.store, records, source=ZOO, batch_size=len(records) + 1,
                            retrieved=now)
            for key, ws in report.warnings.items():
                notes.setdefault(key, []).extend(w for w in ws if w not in notes[key])
            self.state.count("stored", len(report.stored))
            self.state.count("rejected", len(report.rejected))
            self.quads += report.quads
            for key, violations in sorted(report.rejected.items()):
                self.progress.message(f"rejected: {key}")
                for v in violations:
                    self.progress.message(f"  {v}")
        for key, ws in notes.items():
            for w in ws:
                self.progress.message(f"warning: {key}: {w}")
        return handled

    def _record(self, rid: str, info: dict[str, Any], warn: _Collector, now: datetime,
                ) -> ModelRecord | DatasetRecord | None:
        card = None
        repo_type = "dataset" if self.options.datasets else None
        if not isinstance(info.get("cardData"), dict):
            # No card metadata from the API (none, or the Hub could not parse it): read
            # the README itself, tolerantly.
            text = self._download(rid, "README.md", repo_type, info, warn)
            if text is not None:
                card = parse_card(text, lambda m: warn(f"README.md {m}"))
        if self.options.datasets:
            return dataset_record(info, card, warn, retrieved=now)
        config = None
        cfg = info.get("config")
        has_labels = isinstance(cfg, dict) and "id2label" in cfg
        if self.options.labels and not has_labels and info.get("pipeline_tag") in LABEL_TASKS:
            text = self._download(rid, "config.json", None, info, warn)
            if text is not None:
                try:
                    loaded = json.loads(text)
                    config = loaded if isinstance(loaded, dict) else None
                except ValueError as e:
                    warn(f"config.json: not valid JSON ({e}); no label space read")
        return model_record(info, card, config, warn, retrieved=now)

    def _download(self, rid: str, filename: str, repo_type: str | None, info: dict[str, Any],
                  warn: _Collector) -> str | None:
        sha = info.get("sha") if isinstance(info.get("sha"), str) else None
        try:
            return self.client.download_text(rid, filename, repo_type, revision=sha)
        except HfHubHTTPError as e:
            warn(f"{filename}: could not be downloaded ({_first_line(e)}); skipped")
            return None


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


# --- the command ---------------------------------------------------------------------------


@click.command("huggingface")
@click.argument("ids", nargs=-1)
@click.option("--datasets", is_flag=True, help="Crawl datasets instead of models.")
@click.option("--author", help="Only repos of this user or organisation.")
@click.option("--task", help="Only models with this pipeline tag (datasets: task category).")
@click.option("--search", help="Only repos whose id contains this text.")
@click.option("--filter", "filters", multiple=True, metavar="TAG",
              help="Only repos with this tag (repeatable), e.g. dataset:imdb.")
@click.option("--sort", help="Sort the listing (descending): downloads, likes, lastModified, "
                             "createdAt, trendingScore.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many repos.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only repos modified on or after this date.")
@click.option("--all", "everything", is_flag=True,
              help="List every repo (no selector); combine with --limit.")
@click.option("--resume", is_flag=True, help="Continue the interrupted crawl with the same "
                                             "selectors from where it stopped.")
@click.option("--rate", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="At most this many requests per second.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
              help="Seconds to wait for the Hub to connect or answer.")
@click.option("--retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Retries of a request after 429, 5xx, timeouts and network errors.")
@click.option("--backoff", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="First backoff in seconds (doubles per retry) when the Hub gives no wait.")
@click.option("--labels/--no-labels", default=True, show_default=True,
              help="Download config.json of classifiers for their label space (id2label).")
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True,
              help="Repos mapped, validated and stored per transaction.")
@click.option("--state-file", type=click.Path(dir_okay=False),
              help="Where to keep the resume state (default: in the store directory).")
@pass_state
def command(state: State, ids: tuple[str, ...], datasets: bool, author: str | None,
            task: str | None, search: str | None, filters: tuple[str, ...], sort: str | None,
            limit: int | None, since: datetime | None, everything: bool, resume: bool,
            rate: float, timeout: float, retries: int, backoff: float, labels: bool,
            batch_size: int, state_file: str | None) -> None:
    """Crawl Hugging Face Hub models (or --datasets) into the store: the repos named by
    IDS, or those the selectors list.

    Honours HF_ENDPOINT and HF_TOKEN. Unchanged repos (same sha) are skipped; an
    interrupted crawl continues with --resume. Exit code 1 when a repo was rejected or
    could not be fetched.
    """
    options = CrawlOptions(ids=ids, datasets=datasets, author=author, task=task, search=search,
                           filters=filters, sort=sort, limit=limit, since=since,
                           everything=everything, labels=labels, batch_size=batch_size)
    selectors = (author, task, search, filters, since, everything, limit)
    if ids and any(selectors):
        raise UsageError("give repo ids or selectors (--author, --task, --search, --filter, "
                         "--since, --limit, --all), not both")
    if not ids and not any(selectors):
        raise UsageError("give repo ids, or a selector: --author, --task, --search, --filter, "
                         "--since, --limit, or --all to list every repo")
    store = state.store()
    job = options.job()
    path = Path(state_file) if state_file else state_path(state.location, ZOO, job)
    crawl_state = _start_state(path, job, resume)
    progress = Progress(total=len(ids) if ids else limit)
    client = HubClient(rate=rate, timeout=timeout,
                       policy=RetryPolicy(retries=retries, backoff=backoff),
                       on_event=lambda m: progress.message(f"note: {m}"))
    crawler = Crawler(store, client, options, crawl_state, progress)
    try:
        summary = crawler.run()
    except KeyboardInterrupt:
        progress.finish()
        store.flush()
        raise _Interrupted("interrupted; run the same command with --resume to continue") \
            from None
    except CrawlError as e:
        progress.finish()
        store.flush()
        if not e.hint:
            e.hint = "run the same command with --resume to continue"
        raise
    finally:
        client.close()
    store.flush()
    progress.finish()
    c = summary.counts
    click.echo(f"{ZOO} {options.kind}: seen {c['seen']}, stored {c['stored']}, unchanged "
               f"{c['unchanged']}, rejected {c['rejected']}, failed {c['failed']} "
               f"({summary.quads} quads, {client.transport.requests} requests, "
               f"{summary.seconds:.1f} s)", err=True)
    bad = c["rejected"] + c["failed"]
    if bad:
        raise CommandError(f"{bad} repo(s) rejected or not fetched; see the messages above")


class _Interrupted(click.ClickException):
    exit_code = 130


def _start_state(path: Path, job: dict[str, Any], resume: bool) -> CrawlState:
    if resume:
        old = CrawlState.load(path)
        if old is not None and old.job == job and not old.finished:
            click.echo(f"resuming the crawl started {old.started} "
                       f"({old.counts.get('seen', 0)} repos seen)", err=True)
            return old
        why = "it had finished" if old is not None and old.finished else "none was found"
        click.echo(f"no interrupted crawl to resume ({why}); starting from the beginning",
                   err=True)
    st = CrawlState(path=path, job=job)
    st.save()
    return st
