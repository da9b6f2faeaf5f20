"""Bulk ingest for first loads: the records, report and end state of
:func:`mlmeta.ingest.ingest`, through Oxigraph's bulk loader; faster, but not atomic
across a crash.

Worker processes map and validate batches (:func:`mlmeta.ingest.prepare`, the function
``ingest`` uses) and send back each batch's report part and its conforming records as
N-Quads. The main process streams the N-Quads of new graphs into ONE
``pyoxigraph.Store.bulk_load``, with a few batches in flight at most, so memory stays
bounded; a record whose graph exists already (in the store, or earlier in the same
load) is put aside and replaced transactionally after the load, in input order.
Rejected records never reach the loader.

A bulk load writes no transaction log: a crash or Ctrl-C during it leaves part of the
load in the store. A marker file (:data:`MARKER_NAME`) in the store directory says so
until the load has finished and been flushed; the next ``bulk_ingest`` warns about a
stale one, and ingesting the same records again repairs the store.

Workers are started with ``spawn``, not ``fork``: the parent holds an open Oxigraph store
(RocksDB, with its own threads and a file lock), and a forked child of a threaded
process inherits locks that no thread of it will ever release. A spawned worker starts
a clean interpreter (about a second of imports, once per load).

See ``docs/bulk-ingest.md``.
"""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing
import os
import pickle
import queue
import signal
import tempfile
import threading
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue as MPQueue
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox

from mlmeta import __version__
from mlmeta.errors import MlmetaError, StoreError, UsageError
from mlmeta.ingest import IngestReport, Validator, batches, ensure_initialized, prepare
from mlmeta.records import Record
from mlmeta.store import MEMORY, OxigraphStore, Store
from mlmeta.vocab import CANONICAL_GRAPH, ID_NS, ONTOLOGY_GRAPH

MARKER_NAME = "mlmeta-bulk-load-in-progress.json"
"""The file a bulk load leaves in the store directory until it has finished."""

def _cores() -> int:
    """The cores this process may run on (its affinity, where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


DEFAULT_WORKERS = max(1, min(8, _cores() - 1))
"""Worker processes when none are asked for: one core is left to the main process, which
feeds the loader, the others map and validate (at most 8; a worker holds about 160 MB).
On 2 cores that is one worker. Two were measured too, at 100k models on a shared machine:
from 30% faster to 10% slower than one, back to back, tied most often, and always about
0.5 GB more in the main process (the loader, fed faster, holds more at once) plus 160 MB
for the second worker; at 1M models that puts the whole over 2 GB. See
docs/bulk-ingest.md."""

STORE_WARNING_KEY = "store"
"""The :attr:`IngestReport.warnings` key of warnings about the store, not a record."""

_NQ = ox.RdfFormat.N_QUADS
_POLL_S = 0.5  # how often a waiting main process checks that its workers are alive


class BulkIngestError(MlmetaError):
    """A bulk ingest stopped before the end (a worker failed or died, or the load failed).

    The store may hold part of the load; ingesting the same records again repairs it.
    ``worker_traceback`` is the failing worker's traceback, when there is one.
    """

    def __init__(self, message: str, hint: str | None = None,
                 worker_traceback: str = "") -> None:
        super().__init__(message, hint)
        self.worker_traceback = worker_traceback


class _WorkerTraceback(Exception):
    """Carries a worker's formatted traceback, so ``--debug`` shows where it failed."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------------------------------
# What a worker does with one batch


@dataclass
class EncodedBatch:
    """A mapped and validated batch: the report part ``ingest`` would produce for it, and
    the conforming records' quads as N-Quads, record after record.

    The quads of ``graphs[i]`` are ``nquads[ends[i-1]:ends[i]]`` (from 0 for the first).
    """

    index: int
    report: IngestReport
    graphs: list[str] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    nquads: bytes = b""

    def records(self) -> Iterator[tuple[str, int, int]]:
        """``(graph IRI, start, end)`` of each conforming record's N-Quads."""
        start = 0
        for graph, end in zip(self.graphs, self.ends, strict=True):
            yield graph, start, end
            start = end


def encode_batch(index: int, records: list[Record], source: str = "",
                 retrieved: datetime | None = None,
                 validator: Validator | None = None) -> EncodedBatch:
    """Map and validate one batch (:func:`mlmeta.ingest.prepare`) and serialise the
    conforming records to N-Quads. The report counts them as stored, as ``ingest`` does
    once it has written them.

    :raises FileNotFoundError: if the shapes are missing.
    """
    good, report = prepare(records, source=source, retrieved=retrieved, validator=validator)
    parts: list[bytes] = []
    ends: list[int] = []
    size = 0
    for m in good:
        data = ox.serialize(m.quads, format=_NQ) or b""
        parts.append(data)
        size += len(data)
        ends.append(size)
        report.stored.append(m.key)
        report.quads += len(m.quads)
    return EncodedBatch(index, report, [m.graph.value for m in good], ends, b"".join(parts))


@dataclass
class _Failure:
    index: int
    summary: str
    traceback: str


def _exit_with_parent() -> None:
    """Wait for the parent process to end, then end this one at once. A parent killed
    with SIGKILL cannot stop its workers, and a worker may then be blocked anywhere:
    in the middle of reading a task the parent never finished writing, for one."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


def _worker_main(tasks: MPQueue[Any], results: MPQueue[bytes], source: str,
                 retrieved: datetime | None, validator: Validator | None) -> None:
    """A worker process: batches in, pickled :class:`EncodedBatch` (or a failure) out,
    until it reads None (or its parent is gone)."""
    # Ctrl-C goes to the whole process group; the parent decides and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    while True:
        task = tasks.get()
        if task is None:
            return
        index, records = task
        try:
            # Pickled here, so that a result that cannot be pickled is reported too
            # (the queue's own pickling would fail in a background thread, silently).
            payload = pickle.dumps(encode_batch(index, records, source, retrieved, validator),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - every failure goes back to the parent
            payload = pickle.dumps(_Failure(index, f"{type(e).__name__}: {e}",
                                            traceback.format_exc()))
        results.put(payload)


# ---------------------------------------------------------------------------------------
# Batches through the workers, results back in order


class _Workers:
    """Batches out to worker processes, results back in input order, with at most
    ``window`` batches in flight (so memory stays bounded however long the input)."""

    def __init__(self, todo: Iterator[list[Record]], count: int, source: str,
                 retrieved: datetime | None, validator: Validator | None) -> None:
        ctx = get_context("spawn")  # why not fork: see the module docstring
        self._todo = todo
        self._window = 2 * count + 2
        self._tasks: MPQueue[Any] = ctx.Queue()
        self._results: MPQueue[bytes] = ctx.Queue()
        self._done: dict[int, EncodedBatch] = {}
        self._sent = 0
        self._next = 0
        self._exhausted = False
        self._procs: list[BaseProcess] = []
        args = (self._tasks, self._results, source, retrieved, validator)
        try:
            with _sigint_ignored():  # inherited through exec: no traceback in a new worker
                for _ in range(count):
                    p = ctx.Process(target=_worker_main, args=args, daemon=True,
                                    name="mlmeta-bulk-worker")
                    p.start()
                    self._procs.append(p)
        except BaseException:
            self.close(abort=True)
            raise

    def __iter__(self) -> Iterator[EncodedBatch]:
        while True:
            self._fill()
            if self._next >= self._sent:
                return
            while self._next not in self._done:
                self._receive()
            batch = self._done.pop(self._next)
            self._next += 1
            yield batch

    def _fill(self) -> None:
        while not self._exhausted and self._sent - self._next < self._window:
            batch = next(self._todo, None)
            if batch is None:
                self._exhausted = True
                return
            self._tasks.put((self._sent, batch))
            self._sent += 1

    def _receive(self) -> None:
        try:
            payload = self._results.get(timeout=_POLL_S)
        except queue.Empty:
            for p in self._procs:
                if p.exitcode is not None:
                    raise BulkIngestError(
                        f"a bulk-ingest worker stopped unexpectedly (exit code {p.exitcode})",
                        hint=_RETRY_HINT) from None
            return
        item = pickle.loads(payload)
        if isinstance(item, _Failure):
            raise BulkIngestError(
                f"mapping or validating batch {item.index + 1} failed in a worker: "
                f"{item.summary}", hint=_RETRY_HINT,
                worker_traceback=item.traceback) from _WorkerTraceback(item.traceback)
        assert isinstance(item, EncodedBatch)
        self._done[item.index] = item

    def close(self, abort: bool) -> None:
        """Stop the workers: politely after a complete run, at once after a failure or
        Ctrl-C. Either way every worker is joined (no zombies)."""
        if not abort:
            for _ in self._procs:
                self._tasks.put(None)
        else:
            # Nothing will read what is still queued: do not wait for it at exit.
            self._tasks.cancel_join_thread()
            for p in self._procs:
                if p.exitcode is None:
                    p.terminate()
        for p in self._procs:
            p.join(timeout=None if abort else 30)
            if p.exitcode is None:
                p.terminate()
                p.join()
        self._tasks.close()
        self._results.close()


_RETRY_HINT = ("the store may hold part of this load; fix the cause and run the same "
               "ingest again: it replaces what was loaded")


class _sigint_ignored:
    """Ignore Ctrl-C while starting workers (only possible in the main thread)."""

    def __enter__(self) -> None:
        self._old: Any = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _in_process(todo: Iterator[list[Record]], source: str, retrieved: datetime | None,
                validator: Validator | None) -> Iterator[EncodedBatch]:
    """The workers' job done in this process (``workers=0``), failing the same way."""
    for i, batch in enumerate(todo):
        try:
            encoded = encode_batch(i, batch, source, retrieved, validator)
        except Exception as e:
            raise BulkIngestError(f"mapping or validating batch {i + 1} failed: "
                                  f"{type(e).__name__}: {e}", hint=_RETRY_HINT,
                                  worker_traceback=traceback.format_exc()) from e
        yield encoded


# ---------------------------------------------------------------------------------------
# The main process: route each record to the loader or to the transactional path


class _Router:
    """Decides, record by record, whether its graph is new (bulk load) or exists already
    (put aside in ``spool``, replaced transactionally after the load)."""

    def __init__(self, raw: ox.Store, check_store: bool, spool: IO[bytes]) -> None:
        self._raw = raw
        self._check_store = check_store
        self._spool = spool
        # Hashes of the graphs loaded so far: a record seen twice goes the transactional
        # way the second time. A hash collision only sends a new graph that way too,
        # which is slower but just as correct (replacing a missing graph creates it).
        self._loaded: set[int] = set()
        self.report = IngestReport()

    def route(self, batch: EncodedBatch) -> bytes:
        """Merge the batch's report; return the N-Quads of its new graphs."""
        self.report.merge(batch.report)
        keep: list[tuple[int, int]] = []
        aside: list[tuple[str, int, int]] = []
        for graph, start, end in batch.records():
            h = hash(graph)
            if h in self._loaded or (
                    self._check_store and self._raw.contains_named_graph(ox.NamedNode(graph))):
                aside.append((graph, start, end))
            else:
                self._loaded.add(h)
                keep.append((start, end))
        if aside:
            view = memoryview(batch.nquads)
            pickle.dump([(g, bytes(view[s:e])) for g, s, e in aside], self._spool)
        if not aside:
            return batch.nquads
        view = memoryview(batch.nquads)
        return b"".join(view[s:e] for s, e in keep)


class _Feed(io.RawIOBase):
    """A readable stream of N-Quads pulled from the batches as the loader reads.

    An exception raised while producing them (a worker failure, Ctrl-C) is kept in
    ``error``: it crosses pyoxigraph as an I/O error, and is re-raised as itself after.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = memoryview(b"")
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            while not self._buf:
                chunk = next(self._chunks, None)
                if chunk is None:
                    return 0
                self._buf = memoryview(chunk)
        except BaseException as e:
            self.error = e
            raise
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


# ---------------------------------------------------------------------------------------
# The marker


def marker_path(store: OxigraphStore) -> Path | None:
    """Where the bulk-load marker of an on-disk store lives (None for a memory store)."""
    if store.location == MEMORY:
        return None
    return Path(store.location) / MARKER_NAME


def _stale_marker_warning(path: Path) -> str:
    try:
        info = json.loads(path.read_text("utf-8"))
        what = f" (source {info.get('source') or '-'!s}, started {info.get('started')})"
    except (OSError, ValueError, AttributeError):
        what = ""
    return (f"a previous bulk load into this store{what} did not finish: records it was "
            "loading may be missing or partly written; ingest the same records again to "
            "replace them")


def _write_marker(path: Path, source: str) -> None:
    info = {"source": source, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "pid": os.getpid(), "mlmeta": __version__}
    with path.open("w", encoding="utf-8") as f:
        json.dump(info, f)
        f.flush()
        os.fsync(f.fileno())  # on disk before the first loaded byte


# ---------------------------------------------------------------------------------------
# The public function


def bulk_ingest(store: Store, records: Iterable[Record], *, source: str = "",
                retrieved: datetime | None = None, batch_size: int = 1000,
                validator: Validator | None = None,
                workers: int | None = None, compact: bool = True) -> IngestReport:
    """Map, validate and store records like :func:`mlmeta.ingest.ingest` (same report,
    same end state), with Oxigraph's bulk loader: meant for first loads of many records.

    Not atomic: if the process dies or is interrupted during the load, the store keeps
    part of it (possibly part of a record), and the marker file :data:`MARKER_NAME` stays
    in the store directory. The next ``bulk_ingest`` into that store warns about it (a
    warning under the key :data:`STORE_WARNING_KEY`); ingesting the same records again
    replaces them whole. Rejected records are never written, as with ``ingest``.

    :param store: an embedded store (:class:`~mlmeta.store.OxigraphStore`).
    :param source: a label for messages (a file name, a zoo).
    :param retrieved: the retrieval time written into provenance (default: now, per batch).
    :param batch_size: records per batch, the unit a worker maps and validates.
    :param validator: the validator to use (see :func:`mlmeta.ingest.prepare`); with
        worker processes it must be picklable (a module-level function).
    :param workers: worker processes mapping and validating; 0 does it in this process.
        None: :data:`DEFAULT_WORKERS`, or this process alone when the input is a single
        batch (starting a worker costs about a second).
    :param compact: compact the store once loaded (``Store.optimize``): a bulk load leaves
        many unmerged files, and lookups on them measured 5-6x slower at 100k models.
    :raises UsageError: if the store is not an embedded one, or an argument is invalid.
    :raises BulkIngestError: if a worker fails or dies; the store may hold part of the load.
    :raises StoreError: if the store cannot be written.
    :raises KeyboardInterrupt: on Ctrl-C, after stopping the workers (the marker stays).
    """
    if not isinstance(store, OxigraphStore):
        raise UsageError("bulk ingest works on the embedded store only, not on "
                         f"{store.location}", hint="use a store directory, or ingest without "
                         "--bulk into a SPARQL endpoint")
    if batch_size < 1:
        raise UsageError(f"the batch size must be at least 1, not {batch_size}")
    if workers is not None and workers < 0:
        raise UsageError(f"the number of workers cannot be negative ({workers})")

    todo = batches(records, batch_size)
    if workers is None:
        first = list(itertools.islice(todo, 2))
        workers = DEFAULT_WORKERS if len(first) > 1 else 0
        todo = itertools.chain(first, todo)
    if workers and validator is not None:
        try:
            pickle.dumps(validator)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise UsageError(f"the validator {validator!r} cannot be sent to worker processes "
                             f"({e})", hint="pass a module-level function, or workers=0") from e

    ensure_initialized(store)
    raw = store.raw
    marker = marker_path(store)
    stale = [_stale_marker_warning(marker)] if marker is not None and marker.exists() else []
    check_store = _holds_records(raw)

    spool_dir = str(marker.parent) if marker is not None else None
    with tempfile.TemporaryFile(dir=spool_dir, prefix="mlmeta-bulk-") as spool:
        router = _Router(raw, check_store, spool)
        pool = _Workers(todo, workers, source, retrieved, validator) if workers else None
        batches_out = iter(pool) if pool else _in_process(todo, source, retrieved, validator)
        feed = _Feed(router.route(b) for b in batches_out)
        ok = False
        try:
            if marker is not None:
                _write_marker(marker, source)
            _load(raw, feed, store.location)
            ok = True
        finally:
            if pool is not None:
                pool.close(abort=not ok)
        spool.seek(0)
        _replace_spooled(store, spool)
    store.flush()
    if marker is not None:
        marker.unlink(missing_ok=True)
    if compact:
        try:
            raw.optimize()
        except OSError as e:
            raise StoreError(f"compacting {store.location} after the load failed: {e}") from e
    report = router.report
    if stale:
        report.warnings.setdefault(STORE_WARNING_KEY, []).extend(stale)
    return report


def _load(raw: ox.Store, feed: _Feed, location: str) -> None:
    """One streaming bulk load of the feed; a failure while producing it is re-raised as
    itself (it crossed pyoxigraph as an I/O error)."""
    stream = io.BufferedReader(feed, buffer_size=1 << 20)
    try:
        raw.bulk_load(input=cast(IO[bytes], stream), format=_NQ)
    except BaseException as e:
        if feed.error is not None and feed.error is not e:
            raise feed.error from None
        if isinstance(e, OSError | SyntaxError | ValueError):
            raise StoreError(f"bulk loading into {location} failed: {e}",
                             hint=_RETRY_HINT) from e
        raise


def _replace_spooled(store: OxigraphStore, spool: IO[bytes]) -> None:
    """Replace, batch by batch in input order, the graphs put aside during the load (an
    empty spool replaces nothing)."""
    while True:
        try:
            part: list[tuple[str, bytes]] = pickle.load(spool)
        except EOFError:
            return
        store.replace_graphs([(ox.NamedNode(g), list(ox.parse(data, format=_NQ)))
                              for g, data in part])


# Graphs that :func:`ensure_initialized` writes besides the ontology and canonical ones.
_SETUP_PREFIXES = (ID_NS + "graph/labelspace/", ID_NS + "graph/wikidata/")


def _holds_records(raw: ox.Store) -> bool:
    """True when the store has a named graph besides the ones :func:`ensure_initialized`
    writes, i.e. when a record's graph may exist already and must be looked up. Any graph
    not known for sure counts as a record's: then every record is looked up, which is
    slower but never wrong."""
    for i, g in enumerate(raw.named_graphs()):
        if i > 100 or not isinstance(g, ox.NamedNode):
            return True
        if g not in (ONTOLOGY_GRAPH, CANONICAL_GRAPH) and not g.value.startswith(
                _SETUP_PREFIXES):
            return True
    return False


__all__ = ["DEFAULT_WORKERS", "MARKER_NAME", "STORE_WARNING_KEY", "BulkIngestError",
           "EncodedBatch", "bulk_ingest", "encode_batch", "marker_path"]
