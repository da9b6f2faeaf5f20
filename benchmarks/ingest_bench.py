"""Ingest benchmarks: records -> mapped -> validated -> stored, against Oxigraph's bulk load.

Each measurement runs in its own process (``python -m benchmarks.ingest_bench ...``) so
peak memory (``ru_maxrss``) belongs to that measurement alone; it prints one JSON object.

Modes:

``bulk``    map the records, write their quads to an N-Quads file, then time
            ``pyoxigraph.Store(dir).bulk_load`` of that file: the physical limit.
``ingest``  :func:`mlmeta.ingest.ingest` into a fresh on-disk store. ``--validator``
            picks pySHACL (``pyshacl``, what mlmeta.ingest does today) or the compiled
            SPARQL shapes (``sparql``, :mod:`mlmeta.shacl_sparql`); ``--writer`` picks the
            store write: ``update`` (today's DROP + INSERT DATA text), ``bulk``
            (:func:`mlmeta.bulk.bulk_ingest`: worker processes map and validate while
            this one streams N-Quads into one ``bulk_load``; ``mlmeta add --bulk``;
            ``--workers`` sets the worker count).
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
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from benchmarks.generate import RETRIEVED, count_records, generate
from mlmeta import ingest as ingest_module
from mlmeta.bulk import DEFAULT_WORKERS, bulk_ingest
from mlmeta.ingest import batches
from mlmeta.mapping import map_record
from mlmeta.store import OxigraphStore, insert_data_text

Result = dict[str, Any]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_children_mb() -> float:
    """Peak resident memory of the largest finished child process (the bulk writer's
    workers), in MB; 0 when there was none."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children so far: on a
    shared machine, less disturbed by other load than wall time."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def use_validator(name: str) -> ingest_module.Validator:
    """The validator a benchmark run uses: ``sparql`` (the default path) or ``pyshacl``."""
    if name == "sparql":
        from mlmeta import shacl_sparql

        return shacl_sparql.validate_records
    if name == "pyshacl":
        from mlmeta import validate

        return validate.validate_records_pyshacl
    raise ValueError(f"unknown validator {name!r}")


WRITERS = ("update", "bulk")


def variant_tag(validator: str, writer: str, workers: int | None = None) -> str:
    """``sparql-bulk``, or ``sparql-bulk-w2`` for a set number of workers: an ingest
    variant's store directory (``store-<n>-<tag>``) and result files are named after it."""
    return f"{validator}-{writer}" + (f"-w{workers}" if workers is not None else "")


def open_fresh(path: Path, writer: str) -> OxigraphStore:
    if path.exists():
        shutil.rmtree(path)
    if writer not in WRITERS:
        raise ValueError(f"unknown writer {writer!r}")
    return OxigraphStore(path)


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
    c1 = cpu_s()
    store = ox.Store(str(target))
    store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
    store.flush()
    load_s = time.perf_counter() - t1
    load_cpu_s = cpu_s() - c1
    size = dir_size(target)
    del store
    return {"mode": "bulk", "models": n, "records": count_records(n), "quads": quads,
            "map_write_s": map_s, "load_s": load_s, "load_cpu_s": load_cpu_s,
            "loadavg_1m": os.getloadavg()[0], "triples_per_s": quads / load_s,
            "models_per_s": n / load_s, "store_bytes": size, "nquads_file": str(nq),
            "nquads_bytes": nq.stat().st_size, "peak_rss_mb": peak_rss_mb()}


def run_ingest(n: int, workdir: Path, seed: int = 42, validator: str = "sparql",
               writer: str = "update", batch_size: int = 200, keep: bool = True,
               workers: int | None = None) -> Result:
    """``mlmeta.ingest.ingest`` (or, for the ``bulk`` writer, ``mlmeta.bulk.bulk_ingest``
    with ``workers`` worker processes) of ``n`` models' records into a fresh on-disk store.
    """
    check = use_validator(validator)
    path = workdir / f"store-{n}-{variant_tag(validator, writer, workers)}"
    store = open_fresh(path, writer)
    t0 = time.perf_counter()
    c0 = cpu_s()
    if writer == "bulk":
        report = bulk_ingest(store, generate(n, seed), source="synthetic",
                             batch_size=batch_size, retrieved=RETRIEVED, validator=check,
                             workers=workers, compact=False)
    else:
        report = ingest_module.ingest(store, generate(n, seed), source="synthetic",
                                      batch_size=batch_size, retrieved=RETRIEVED,
                                      validator=check)
    store.flush()
    seconds = time.perf_counter() - t0
    cpu = cpu_s() - c0
    # What `mlmeta add --bulk` does next, timed apart: compaction (Store.optimize) makes the
    # store's lookups several times faster; the queries are timed on the compacted store.
    t1 = time.perf_counter()
    if writer == "bulk":
        store.raw.optimize()
    compact_s = time.perf_counter() - t1
    out = {"compact_s": compact_s, "mode": "ingest", "validator": validator, "writer": writer,
           "batch_size": batch_size,
           "workers": (DEFAULT_WORKERS if workers is None else workers)
           if writer == "bulk" else None,
           "models": n, "records": count_records(n), "stored": len(report.stored),
           "cpu_s": cpu, "loadavg_1m": os.getloadavg()[0],
           "rejected": len(report.rejected), "quads": report.quads, "seconds": seconds,
           "models_per_s": n / seconds, "records_per_s": len(report.stored) / seconds,
           "triples_per_s": report.quads / seconds, "store_quads": len(store.raw),
           "peak_rss_mb": peak_rss_mb(), "peak_rss_workers_mb": peak_rss_children_mb(),
           "store_dir": str(path)}
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
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes of the bulk writer (default: mlmeta's default)")
    ap.add_argument("--pyshacl-limit", type=int, default=5000)
    a = ap.parse_args(argv)
    if a.mode == "bulk":
        out = run_bulk(a.n, a.workdir, a.seed)
    elif a.mode == "ingest":
        out = run_ingest(a.n, a.workdir, a.seed, a.validator, a.writer, a.batch,
                         workers=a.workers)
    else:
        out = run_stages(a.n, a.workdir, a.seed, a.batch, a.pyshacl_limit)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
