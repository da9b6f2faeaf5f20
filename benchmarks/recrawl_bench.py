"""Re-crawl benchmarks: the same source again, unchanged and with 1% of records changed.

A crawler skips records whose source version is already stored
(:func:`mlmeta.ingest.stored_versions`) and ingests the rest; this measures that path
on a store that already holds the zoo. Runs in its own process and prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.generate import RETRIEVED, count_records, generate
from benchmarks.ingest_bench import peak_rss_mb, use_validator
from mlmeta import ingest as ingest_module
from mlmeta import iri
from mlmeta.ingest import batches
from mlmeta.records import Record, record_kind
from mlmeta.store import OxigraphStore, Store

Result = dict[str, Any]


def recrawl(store: Store, records: Iterable[Record], batch_size: int = 1000,
            batched: bool = False, check: ingest_module.Validator | None = None,
            ) -> tuple[int, int, int]:
    """Ingest the records whose source version differs from the stored one.

    Returns ``(seen, ingested, rejected)``.
    """
    seen = ingested = rejected = 0
    for batch in batches(records, batch_size):
        graphs = {iri.record_graph(record_kind(r), r.key).value: r for r in batch}
        from pyoxigraph import NamedNode

        if batched:  # the library: one query per thousand graphs
            versions = ingest_module.stored_versions(store, [NamedNode(g) for g in graphs])
        else:  # the comparison: one query per graph, as mlmeta 0.1.0 first did
            versions = {}
            for g in graphs:
                versions.update(ingest_module.stored_versions(store, [NamedNode(g)]))
        todo = [r for g, r in graphs.items() if versions.get(g) != r.source.version]
        seen += len(batch)
        if todo:
            report = ingest_module.ingest(store, todo, source="recrawl", batch_size=200,
                                          retrieved=RETRIEVED, validator=check)
            ingested += len(report.stored)
            rejected += len(report.rejected)
    return seen, ingested, rejected


def run_recrawl(store_dir: Path, n: int, workdir: Path, seed: int = 42,
                changed: float = 0.01, validator: str = "sparql") -> Result:
    """Copy the store, then re-crawl it unchanged and with ``changed`` of records changed."""
    check = use_validator(validator)
    copy = workdir / f"recrawl-{n}"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(store_dir, copy)
    store = OxigraphStore(copy)
    out: Result = {"models": n, "records": count_records(n), "validator": validator,
                   "changed_fraction": changed}
    t = time.perf_counter()
    generated = sum(1 for _ in generate(n, seed))
    out["generate_only_s"] = time.perf_counter() - t  # the synthetic "source" itself
    runs = (("unchanged", 0.0, False), ("unchanged_batched", 0.0, True),
            ("changed", changed, False))
    for label, frac, batched in runs:
        t = time.perf_counter()
        seen, ingested, rejected = recrawl(store, generate(n, seed, changed=frac),
                                           batched=batched, check=check)
        seconds = time.perf_counter() - t
        out[label] = {"seconds": seconds, "seen": seen, "ingested": ingested,
                      "rejected": rejected, "records_per_s": seen / seconds}
    out["expected_changed"] = sum(
        1 for a, b in zip(generate(n, seed), generate(n, seed, changed=changed), strict=True)
        if a.source.version != b.source.version)
    out["generated"] = generated
    out["peak_rss_mb"] = peak_rss_mb()
    store.close()
    del store
    shutil.rmtree(copy)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("store", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--changed", type=float, default=0.01)
    ap.add_argument("--validator", default="sparql")
    a = ap.parse_args(argv)
    print(json.dumps(run_recrawl(a.store, a.n, a.workdir, a.seed, a.changed, a.validator)))


if __name__ == "__main__":
    main()
