"""Ingest benchmarks: records -> mapped -> validated -> stored, against Oxigraph's bulk load.

Each measurement runs in its own process (``python -m benchmarks.ingest_bench ...``) so
peak memory (``ru_maxrss``) belongs to that measurement alone; it prints one JSON object.

Modes:

``bulk``    map the records, write their quads to an N-Quads file, then time
            ``pyoxigraph.Store(dir).bulk_load`` of that file: the physical limit.
``ingest``  :func:`mlmeta.ingest.ingest` into a fresh on-disk store. ``--validator``
            picks pySHACL (``pyshacl``, what mlmeta.ingest does today) or the compiled
            SPARQL shapes (``sparql``, :mod:`mlmeta.shacl_sparql`); ``--writer`` picks the
            store write: ``update`` (today's DROP + INSERT DATA text) or ``extend``
            (prototype: a transactional ``Store.extend`` of the quads of graphs that did
            not exist yet, the update text only for graphs being replaced).
``stages``  where the time of one ingest goes: mapping, each validator, update-text
            building, the store write, on the same batches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from benchmarks.generate import RETRIEVED, count_records, generate
from mlmeta import ingest as ingest_module
from mlmeta.ingest import batches
from mlmeta.mapping import map_record
from mlmeta.store import OxigraphStore, insert_data_text

Result = dict[str, Any]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class BulkStore(OxigraphStore):
    """Prototype: graphs that do not exist yet are written with ``Store.bulk_extend`` (new
    files, no transaction log: not atomic, so only for loading new records, e.g. a first
    crawl); graphs being replaced still go through DROP + INSERT DATA."""

    def replace_graphs(self, graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> None:
        raw = self.raw
        old = [(g, q) for g, q in graphs if raw.contains_named_graph(g)]
        if old:
            super().replace_graphs(old)
        if len(old) < len(graphs):
            names = {g for g, _ in old}
            raw.bulk_extend([q for g, quads in graphs if g not in names for q in quads])


class ExtendingStore(OxigraphStore):
    """Prototype of a faster :meth:`OxigraphStore.replace_graphs`: graphs that do not exist
    yet are written with one transactional ``Store.extend`` (no SPARQL text to build and
    parse); graphs being replaced still go through DROP + INSERT DATA."""

    def replace_graphs(self, graphs: Sequence[tuple[ox.NamedNode, Sequence[ox.Quad]]]) -> None:
        raw = self.raw
        fresh = [(g, q) for g, q in graphs if not raw.contains_named_graph(g)]
        old = [(g, q) for g, q in graphs if raw.contains_named_graph(g)]
        if old:
            super().replace_graphs(old)
        if fresh:
            raw.extend([q for _, quads in fresh for q in quads])


def stream_ingest(store: OxigraphStore, records: Iterable[Any], *, source: str = "",
                  batch_size: int = 1000, retrieved: Any = None,
                  validator: ingest_module.Validator | None = None) -> Any:
    """Prototype of a bulk mode for :func:`mlmeta.ingest.ingest`: the conforming records of
    every batch are streamed into ONE ``Store.bulk_extend`` call (memory stays bounded by a
    batch). Records whose graph already exists are kept aside and replaced transactionally
    at the end. Not atomic: meant for first loads."""
    from mlmeta.ingest import IngestReport, ensure_initialized, prepare

    ensure_initialized(store)
    raw = store.raw
    total = IngestReport()
    replaced: list[tuple[ox.NamedNode, list[ox.Quad]]] = []

    def quads() -> Iterable[ox.Quad]:
        for batch in batches(records, batch_size):
            good, report = prepare(batch, source=source, retrieved=retrieved,
                                   validator=validator)
            for m in good:
                if raw.contains_named_graph(m.graph):
                    replaced.append((m.graph, m.quads))
                else:
                    yield from m.quads
                report.stored.append(m.key)
                report.quads += len(m.quads)
            total.merge(report)

    raw.bulk_extend(quads())
    if replaced:
        store.replace_graphs(replaced)
    return total


def use_validator(name: str) -> ingest_module.Validator:
    """The validator a benchmark run uses: ``sparql`` (the default path) or ``pyshacl``."""
    if name == "sparql":
        from mlmeta import shacl_sparql

        return shacl_sparql.validate_records
    if name == "pyshacl":
        from mlmeta import validate

        return validate.validate_records_pyshacl
    raise ValueError(f"unknown validator {name!r}")


def open_fresh(path: Path, writer: str) -> OxigraphStore:
    if path.exists():
        shutil.rmtree(path)
    cls = {"extend": ExtendingStore, "bulk": BulkStore}.get(writer, OxigraphStore)
    if writer not in ("update", "extend", "bulk", "stream"):
        raise ValueError(f"unknown writer {writer!r}")
    return cls(path)


def run_bulk(n: int, workdir: Path, seed: int = 42) -> Result:
    """Map ``n`` models' records to an N-Quads file, then bulk-load it into a fresh store."""
    workdir.mkdir(parents=True, exist_ok=True)
    nq = workdir / f"zoo-{n}.nq"
    t0 = time.perf_counter()
    quads = 0
    with nq.open("wb") as out:
        batch: list[ox.Quad] = []
        for rec in generate(n, seed):
            m = map_record(rec, retrieved=RETRIEVED)
            batch.extend(m.quads)
            if len(batch) > 50_000:
                quads += len(batch)
                ox.serialize(batch, out, ox.RdfFormat.N_QUADS)
                batch = []
        quads += len(batch)
        ox.serialize(batch, out, ox.RdfFormat.N_QUADS)
    map_s = time.perf_counter() - t0
    target = workdir / f"bulk-{n}"
    if target.exists():
        shutil.rmtree(target)
    t1 = time.perf_counter()
    store = ox.Store(str(target))
    store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
    store.flush()
    load_s = time.perf_counter() - t1
    size = dir_size(target)
    del store
    return {"mode": "bulk", "models": n, "records": count_records(n), "quads": quads,
            "map_write_s": map_s, "load_s": load_s, "triples_per_s": quads / load_s,
            "models_per_s": n / load_s, "store_bytes": size, "nquads_file": str(nq),
            "nquads_bytes": nq.stat().st_size, "peak_rss_mb": peak_rss_mb()}


def run_ingest(n: int, workdir: Path, seed: int = 42, validator: str = "sparql",
               writer: str = "update", batch_size: int = 200, keep: bool = True) -> Result:
    """``mlmeta.ingest.ingest`` of ``n`` models' records into a fresh on-disk store."""
    check = use_validator(validator)
    path = workdir / f"store-{n}-{validator}-{writer}"
    store = open_fresh(path, writer)
    t0 = time.perf_counter()
    if writer == "stream":
        report = stream_ingest(store, generate(n, seed), source="synthetic",
                               batch_size=batch_size, retrieved=RETRIEVED, validator=check)
    else:
        report = ingest_module.ingest(store, generate(n, seed), source="synthetic",
                                      batch_size=batch_size, retrieved=RETRIEVED,
                                      validator=check)
    store.flush()
    seconds = time.perf_counter() - t0
    out = {"mode": "ingest", "validator": validator, "writer": writer, "batch_size": batch_size,
           "models": n, "records": count_records(n), "stored": len(report.stored),
           "rejected": len(report.rejected), "quads": report.quads, "seconds": seconds,
           "models_per_s": n / seconds, "records_per_s": len(report.stored) / seconds,
           "triples_per_s": report.quads / seconds, "store_quads": len(store.raw),
           "peak_rss_mb": peak_rss_mb(), "store_dir": str(path)}
    store.close()
    del store
    out["store_bytes"] = dir_size(path)
    if not keep:
        shutil.rmtree(path)
    return out


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t


def run_stages(n: int, workdir: Path, seed: int = 42, batch_size: int = 200,
               pyshacl_limit: int = 5000) -> Result:
    """Time each stage of the ingest path on the same batches (pySHACL on the first
    ``pyshacl_limit`` records only: it is the slow one)."""
    from mlmeta import shacl_sparql, validate

    path = workdir / f"stages-{n}"
    store = open_fresh(path, "update")
    ingest_module.ensure_initialized(store)
    t: dict[str, float] = {"map": 0.0, "validate_sparql": 0.0, "validate_pyshacl": 0.0,
                           "update_text": 0.0, "store_update": 0.0}
    done_pyshacl = 0
    quads = 0
    for batch in batches(generate(n, seed), batch_size):
        mapped, dt = _timed(lambda b: [map_record(r, retrieved=RETRIEVED) for r in b], batch)
        t["map"] += dt
        _, dt = _timed(shacl_sparql.validate_records, mapped)
        t["validate_sparql"] += dt
        if done_pyshacl < pyshacl_limit:
            _, dt = _timed(validate.validate_records_pyshacl, mapped)
            t["validate_pyshacl"] += dt
            done_pyshacl += len(mapped)
        graphs = [(m.graph, m.quads) for m in mapped]
        quads += sum(len(m.quads) for m in mapped)
        _, dt = _timed(insert_data_text, graphs)
        t["update_text"] += dt
        _, dt = _timed(store.replace_graphs, graphs)
        t["store_update"] += dt
    store.close()
    shutil.rmtree(path)
    records = count_records(n)
    rates = {f"{k}_records_per_s": records / v for k, v in t.items()
             if v and k != "validate_pyshacl"}
    if t["validate_pyshacl"]:
        rates["validate_pyshacl_records_per_s"] = done_pyshacl / t["validate_pyshacl"]
    return {"mode": "stages", "models": n, "records": records, "quads": quads,
            "batch_size": batch_size, "seconds": t, **rates, "pyshacl_records": done_pyshacl,
            "peak_rss_mb": peak_rss_mb()}


def in_subprocess(args: list[str], timeout: float | None = None) -> Result:
    """Run one measurement in a fresh interpreter; returns its JSON result.

    :raises RuntimeError: if the measurement fails (its stderr is in the message).
    """
    import subprocess

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.ingest_bench", *args],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    result: Result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=["bulk", "ingest", "stages"])
    ap.add_argument("n", type=int)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--validator", default="sparql")
    ap.add_argument("--writer", default="update")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--pyshacl-limit", type=int, default=5000)
    a = ap.parse_args(argv)
    if a.mode == "bulk":
        out = run_bulk(a.n, a.workdir, a.seed)
    elif a.mode == "ingest":
        out = run_ingest(a.n, a.workdir, a.seed, a.validator, a.writer, a.batch)
    else:
        out = run_stages(a.n, a.workdir, a.seed, a.batch, a.pyshacl_limit)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
