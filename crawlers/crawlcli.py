"""What every ``mlmeta crawl <zoo>`` command shares: options, the ingest loop, the report.

A crawler module builds its click command from :func:`source_option` and
:func:`crawl_options` and hands its items to :func:`run_crawl`, which

1. reads the crawler's items, printing each rejected row and warning to stderr;
2. skips records whose source version is already stored (unless ``--force``);
3. ingests the rest (mapping, SHACL validation, store) with a progress bar that counts
   records seen, stored and rejected;
4. settles the :class:`~.sources.Ledger`, so every row of every file is accounted for,
   and prints a one-line summary.

:func:`ingest_crawl` is the same without click, for library callers and tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from mlmeta.clikit import CommandError, State, echo_violations
from mlmeta.ingest import IngestReport, ensure_initialized, ingest, stored_versions
from mlmeta.iri import record_graph
from mlmeta.records import Record, record_kind
from mlmeta.store import Store

from .sources import CrawlItem, CrawlWarning, FileCount, Ledger, Rejected

F = TypeVar("F", bound=Callable[..., Any])

# Records per ingest batch: pySHACL validates a batch as one graph, and gets slower than
# linear on very large ones, so keep batches to a few ten thousand triples.
BATCH_SIZE = 50


@dataclass
class CrawlResult:
    """What a crawl did: the ingest report, records skipped as unchanged, rows rejected by
    the crawler, warnings, and per-file row counts (after :meth:`Ledger.settle`)."""

    report: IngestReport = field(default_factory=IngestReport)
    records: int = 0
    unchanged: list[str] = field(default_factory=list)
    rejected_rows: list[Rejected] = field(default_factory=list)
    warnings: list[CrawlWarning] = field(default_factory=list)
    files: dict[str, FileCount] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(fc.rows for fc in self.files.values())

    @property
    def rows_rejected(self) -> int:
        return sum(fc.rejected for fc in self.files.values())

    def summary(self, zoo: str) -> str:
        stored = len(self.report.stored)
        rows_ok = sum(fc.stored for fc in self.files.values())
        return (f"{zoo}: {len(self.files)} file(s), {self.rows} row(s)/entries; "
                f"{stored} record(s) stored ({self.report.quads} quads) from {rows_ok} row(s), "
                f"{len(self.unchanged)} unchanged, {len(self.report.rejected)} record(s) "
                f"rejected, {self.rows_rejected} row(s) rejected in all")


Progress = Callable[[int, IngestReport], None]


def ingest_crawl(store: Store, items: Iterable[CrawlItem], *, ledger: Ledger | None = None,
                 source: str = "", force: bool = False, batch_size: int = BATCH_SIZE,
                 on_item: Callable[[CrawlItem], None] | None = None,
                 progress: Progress | None = None, started: Callable[[int], None] | None = None,
                 ) -> CrawlResult:
    """Ingest a crawler's items into ``store``.

    Records whose graph already holds the same source version are skipped unless
    ``force``. ``on_item`` sees every rejected row and warning as it comes;
    ``started(n)`` is called with the number of records to ingest, ``progress(done,
    report)`` after each batch.

    :raises StoreError: if the store cannot be written.
    """
    result = CrawlResult()
    records: list[Record] = []
    for item in items:
        if isinstance(item, Rejected):
            result.rejected_rows.append(item)
            if ledger is not None:
                ledger.reject(item)
            if on_item:
                on_item(item)
        elif isinstance(item, CrawlWarning):
            result.warnings.append(item)
            if on_item:
                on_item(item)
        else:
            records.append(item)
    result.records = len(records)
    ensure_initialized(store)
    todo = records
    if not force and records:
        graphs = {r.key: record_graph(record_kind(r), r.key) for r in records}
        versions = stored_versions(store, graphs.values())
        todo = []
        for r in records:
            old = versions.get(graphs[r.key].value)
            if old is not None and r.source.version is not None and old == r.source.version:
                result.unchanged.append(r.key)
            else:
                todo.append(r)
    if started:
        started(len(todo))
    done = 0

    def _progress(report: IngestReport) -> None:
        nonlocal done
        now = len(report.stored) + len(report.rejected)
        if progress:
            progress(now - done, report)
        done = now

    if todo:
        result.report = ingest(store, todo, source=source, batch_size=batch_size,
                               progress=_progress)
    store.flush()
    if ledger is not None:
        result.files = ledger.settle(result.report.stored, result.unchanged)
    return result


# --- click -----------------------------------------------------------------------------


def source_option(default: str, what: str) -> Callable[[F], F]:
    """``--source DIR|URL``: a local copy, or a base URL (a GitHub tree URL works too)."""
    return click.option(
        "--source", "source", metavar="DIR|URL", default=None,
        help=f"A local copy of {what} (a directory, or one file in it), or an http(s) base "
             f"URL; a github.com tree URL is read through raw.githubusercontent.com. "
             f"Default: {default}")


def crawl_options(f: F) -> F:
    """``--force`` and ``--strict``, shared by every crawler."""
    f = click.option("--strict", is_flag=True,
                     help="Exit with status 1 if any row or record was rejected.")(f)
    f = click.option("--force", is_flag=True,
                     help="Store every record, also those whose source is unchanged "
                          "since the last crawl.")(f)
    return f


def _echo_item(item: CrawlItem) -> None:
    if isinstance(item, Rejected):
        click.echo(f"rejected: {item}", err=True)
    elif isinstance(item, CrawlWarning):
        click.echo(f"warning: {item}", err=True)


def run_crawl(state: State, zoo: str, items: Iterable[CrawlItem], *, ledger: Ledger,
              force: bool = False, strict: bool = False) -> CrawlResult:
    """Ingest a crawler's items into the command's store, with a progress bar on stderr
    (counts of records seen, stored and rejected), every rejected row and record on
    stderr, and a summary line.

    :raises CommandError: with ``strict``, if anything was rejected (exit status 1).
    """
    store = state.store()
    bar: Any = None

    def started(n: int) -> None:
        nonlocal bar
        bar = click.progressbar(
            length=n, label=f"crawl {zoo}", file=sys.stderr,
            show_pos=True, item_show_func=lambda s: s)
        bar.__enter__()

    def progress(step: int, report: IngestReport) -> None:
        if bar is not None:
            bar.update(step, f"stored {len(report.stored)}, rejected {len(report.rejected)}")

    try:
        result = ingest_crawl(store, items, ledger=ledger, source=zoo, force=force,
                              on_item=_echo_item, progress=progress, started=started)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    report = result.report
    for key, ws in sorted(report.warnings.items()):
        for w in ws:
            click.echo(f"warning: {key}: {w}", err=True)
    for key, violations in sorted(report.rejected.items()):
        rows = ledger.rows_of(key)
        where = f" (rows: {_rows_text(rows)})" if rows else ""
        click.echo(f"rejected: record {key}{where}", err=True)
        echo_violations(violations)
    click.echo(result.summary(zoo), err=True)
    if strict and (report.rejected or result.rows_rejected):
        raise CommandError(f"{zoo}: {len(report.rejected)} record(s) and "
                           f"{result.rows_rejected} row(s) rejected")
    return result


def _rows_text(rows: list[tuple[str, int]], limit: int = 5) -> str:
    shown = ", ".join(f"{f}:{r}" for f, r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
