"""Saved-query latency: every ``queries/*.rq`` on the on-disk Oxigraph store, and the same
queries on an rdflib in-memory graph (what a Python user would otherwise write).

Each measurement runs in its own process (``python -m benchmarks.query_bench ...``) and
prints one JSON object. Queries run with their default parameters; when those match
nothing in a synthetic zoo, with parameters naming generated entities
(:func:`probe_values`). Queries that need the network (``SERVICE``) are listed, not run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from benchmarks.generate import HUB, foundation_count, model_record, model_source_id
from benchmarks.ingest_bench import peak_rss_mb
from mlmeta.jsonld import from_rdflib
from mlmeta.queries import SavedQuery, saved_queries
from mlmeta.store import OxigraphStore, QueryAnswer, Rows, Store, Term

Result = dict[str, Any]


def probe_values(n_models: int, seed: int = 42) -> dict[str, dict[str, str]]:
    """Per query name (``*`` for any), parameter values that hit generated entities:
    a foundation model with a large fan-out, a model deep in a lineage chain, a timm model
    with results, an image classifier with its own label space."""
    deep = _find(n_models, seed, lambda r: bool(r.derived_from) and _depth(r, seed, n_models)
                 >= 3)
    timm = _find(n_models, seed, lambda r: r.source.system == "timm")
    concepts = _find(n_models, seed, lambda r: bool(r.concepts))
    base = model_source_id(seed, 0)
    return {
        "*": {"model": base, "dataset": "imagenet-1k", "metric": "top1",
              "task": "image-classification", "hardware": "rtx3090", "zoo": HUB,
              "concept": "class-1", "label": "class-1"},
        "lineage-up": {"model": deep},
        "model-evaluations": {"model": timm},
        "model-summary": {"model": timm},
        "concepts-of-model": {"model": concepts},
        # Found by hand on the seed-42 zoo; indices under 10,000 exist at every size.
        "compare-models": {"model1": "resnet101.synth_8976", "model2": "resnet18.synth_1373",
                           "model3": base, "dataset": "imagenet-1k"},
        "training-setup": {"model": "synth-org-9721/model-9721"},
        "models-trained-on": {"dataset": "imagenet-1k", "metric": "top1", "min": "0.5"},
        "better-on-same-dataset": {"model": "vit_base_patch16_224.synth_4551"},
        # the zoo has no bias or toxicity metric: the same walk over perplexity results
        "fair-person-detectors": {"task": "text-generation", "metric": "perplexity",
                                  "max": "100"},
        "non-toxic-generators": {"task": "text-generation", "metric": "perplexity",
                                 "max": "100"},
        "datasets-depicting": {"concept": "class-1", "source": "glue", "source2": "squad"},
    }


def _find(n: int, seed: int, pred: Any) -> str:
    start = foundation_count(n)
    for i in range(start, min(n, start + 5000)):
        r = model_record(seed, i, n)
        if pred(r):
            return r.source_id
    return model_source_id(seed, min(start, max(n - 1, 0)))


def _depth(r: Any, seed: int, n: int) -> int:
    d = 0
    while r.derived_from and d < 10:
        key = r.derived_from[0].base
        idx = _index_of(key)
        if idx is None:
            break
        r = model_record(seed, idx, n)
        d += 1
    return d


def _index_of(key: str) -> int | None:
    tail = key.rsplit("-", 1)[-1] if "/model-" in key else key.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def needs_network(q: SavedQuery) -> bool:
    return "SERVICE" in q.text.upper()


def time_query(store: Store, q: SavedQuery, values: Mapping[str, str], repeat: int,
               budget_s: float = 20.0) -> Result:
    """Run a saved query ``repeat`` times (fewer if it exhausts ``budget_s``) as
    ``mlmeta query`` does (:meth:`SavedQuery.run`: parameters checked, a model resolved in
    the store, the query bound and run, columns kept); median and p95."""
    times: list[float] = []
    rows = 0
    started = time.perf_counter()
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        answer = q.run(store, values)
        times.append(time.perf_counter() - t)
        rows = len(answer) if isinstance(answer, Rows | list) else int(bool(answer))
        if time.perf_counter() - started > budget_s and len(times) >= 1:
            break
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return {"query": q.name, "rows": rows, "runs": len(times),
            "median_ms": statistics.median(times) * 1000, "p95_ms": p95 * 1000,
            "params": dict(values)}


def bench_queries(store: Store, n_models: int, repeat: int, seed: int = 42,
                  budget_s: float = 20.0, timeout_s: float | None = None,
                  only: str | None = None) -> list[Result]:
    """Every saved query on ``store``: defaults first, probe values when defaults match
    nothing. The first run is a warm-up, not counted, unless it alone exceeds ``budget_s``
    (then it is the only run). ``timeout_s`` stops a run (pure-Python engines only)."""
    probes = probe_values(n_models, seed)
    out: list[Result] = []
    for name, q in saved_queries().items():
        if only is not None and name != only:
            continue
        if needs_network(q):
            out.append({"query": name, "skipped": "needs the network (SERVICE)"})
            continue
        try:
            values: dict[str, str] = {}
            first = _limited(time_query, timeout_s, store, q, values, 1, budget_s)
            if first["rows"] == 0 and q.params:
                wanted = {**probes["*"], **probes.get(name, {})}
                values = {p.name: wanted[p.name] for p in q.params if p.name in wanted}
                if values:
                    first = _limited(time_query, timeout_s, store, q, values, 1, budget_s)
            if first["median_ms"] / 1000 > budget_s:
                out.append(first)
                continue
            out.append(_limited(time_query, timeout_s, store, q, values, repeat, budget_s))
        except QueryTimeout:
            out.append({"query": name, "timeout_s": timeout_s, "params": values})
        except Exception as e:  # noqa: BLE001 - a failing query is a result to report
            out.append({"query": name, "error": f"{type(e).__name__}: {str(e)[:300]}"})
    return out


class QueryTimeout(Exception):
    """A query ran past its time limit."""


def _limited(fn: Any, timeout_s: float | None, *args: Any) -> Any:
    if not timeout_s:
        return fn(*args)
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise QueryTimeout

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class RdflibStore(Store):
    """An rdflib in-memory Dataset behind mlmeta's Store interface, queries only
    (the union of named graphs is the default graph, as in mlmeta)."""

    def __init__(self, nquads: Path) -> None:
        import rdflib

        self.location = f"rdflib:{nquads}"
        self.ds = rdflib.Dataset(default_union=True)
        self.ds.parse(str(nquads), format="nquads")

    def query(self, sparql: str, substitutions: Mapping[str, Term] | None = None,
              ) -> QueryAnswer:
        from mlmeta.validate import to_rdflib

        bindings = {k: to_rdflib(v) for k, v in (substitutions or {}).items()}
        res = self.ds.query(sparql, initBindings=bindings)
        if res.type == "ASK":
            return bool(res.askAnswer)
        if res.type == "SELECT":
            variables = [str(v) for v in res.vars or []]
            rows: list[Any] = list(res)
            return Rows(variables, [tuple(None if r[v] is None else from_rdflib(r[v])
                                          for v in variables) for r in rows])
        return [ox.Triple(ox.NamedNode("urn:x"), ox.NamedNode("urn:x"), ox.NamedNode("urn:x"))
                for _ in res]

    def replace_graphs(self, graphs: Any) -> None:
        raise NotImplementedError

    def remove_graphs(self, graphs: Any) -> None:
        raise NotImplementedError

    def update(self, sparql: str) -> None:
        raise NotImplementedError

    def quads(self, graph: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        raise NotImplementedError

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        raise NotImplementedError

    def dump(self, output: IO[bytes], fmt: ox.RdfFormat) -> None:
        raise NotImplementedError


def run_oxigraph(store_dir: Path, n: int, repeat: int, seed: int = 42,
                 only: str | None = None) -> Result:
    store = OxigraphStore(store_dir, read_only=True)
    results = bench_queries(store, n, repeat, seed, only=only)
    return {"engine": "oxigraph-disk", "models": n,
            "store_quads": store.count(), "queries": results, "peak_rss_mb": peak_rss_mb()}


def run_oxigraph_each(store_dir: Path, n: int, repeat: int, timeout_s: float,
                      seed: int = 42, only: str | None = None) -> Result:
    """One process per query, each stopped after ``timeout_s`` (a running Oxigraph query
    cannot be interrupted from Python)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    results: list[Result] = []
    for name in saved_queries():
        if only is not None and name != only:
            continue
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.query_bench", "oxigraph", str(store_dir),
                 str(n), "--repeat", str(repeat), "--seed", str(seed), "--only", name],
                capture_output=True, text=True, env=env, cwd=root, timeout=timeout_s)
            if proc.returncode != 0:
                results.append({"query": name, "error": proc.stderr.strip()[-300:]})
            else:
                results.extend(json.loads(proc.stdout.strip().splitlines()[-1])["queries"])
        except subprocess.TimeoutExpired:
            results.append({"query": name, "timeout_s": timeout_s})
    return {"engine": "oxigraph-disk", "models": n,
            "queries": results, "peak_rss_mb": peak_rss_mb()}


def run_rdflib(nquads: Path, n: int, repeat: int, seed: int = 42,
               timeout_s: float = 120.0) -> Result:
    from mlmeta.canonical import canonical_quads

    t = time.perf_counter()
    store = RdflibStore(nquads)
    # The ontology and canonical graphs that ingest adds, so both engines see the same data.
    from mlmeta.resources import ontology_path

    store.ds.parse(str(ontology_path()), format="turtle")
    for q in canonical_quads():
        from mlmeta.validate import to_rdflib

        store.ds.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    load_s = time.perf_counter() - t
    results = bench_queries(store, n, repeat, seed, budget_s=timeout_s, timeout_s=timeout_s)
    return {"engine": "rdflib-memory", "models": n, "load_s": load_s, "triples": len(store.ds),
            "queries": results, "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("engine", choices=["oxigraph", "rdflib"])
    ap.add_argument("data", type=Path, help="store directory (oxigraph) or N-Quads (rdflib)")
    ap.add_argument("n", type=int)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only", help="run this saved query only")
    ap.add_argument("--timeout", type=float, help="Oxigraph: one process per query, each "
                    "stopped after this many seconds; rdflib: each run stopped after it")
    a = ap.parse_args(argv)
    if a.engine == "oxigraph" and a.timeout:
        out = run_oxigraph_each(a.data, a.n, a.repeat, a.timeout, a.seed, a.only)
    elif a.engine == "oxigraph":
        out = run_oxigraph(a.data, a.n, a.repeat, a.seed, a.only)
    else:
        out = run_rdflib(a.data, a.n, a.repeat, a.seed, a.timeout or 120.0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
