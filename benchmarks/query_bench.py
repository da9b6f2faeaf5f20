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
import re
import statistics
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from benchmarks.generate import HUB, foundation_count, model_record, model_source_id
from benchmarks.ingest_bench import peak_rss_mb
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


_WHERE = re.compile(r"WHERE\s*\{", re.I)


def with_values(text: str, subs: Mapping[str, Term]) -> str:
    """The query with its parameters written in as constants, instead of ``substitutions``.

    Inside the WHERE clause every use of a parameter variable becomes the term (serialised
    by pyoxigraph, so escaped; sub-SELECTs stop projecting it), and a ``BIND`` at the end
    of the outer group binds the variable for the projection, GROUP BY, HAVING and ORDER
    BY. This is
    what ``substitutions`` mean; the difference is that Oxigraph plans the query *after*
    the constants are in, so the plan starts from them.

    :raises ValueError: if the query has no WHERE clause.
    """
    if not subs:
        return text
    m = _WHERE.search(text)
    end = text.rfind("}")
    if m is None or end < m.start():
        raise ValueError("no WHERE clause to bind parameters in")
    region = text[m.start():end + 1]
    for name, term in subs.items():
        var = re.compile(rf"[?$]{re.escape(name)}(?![A-Za-z0-9_])")
        region = _SUBSELECT.sub(lambda s, v=var: s.group(1) + v.sub("", s.group(2)) + s.group(3),
                                region)
        region = var.sub(lambda _m, t=str(term): t, region)
    # Bind the variable once more at the end of the outer group, for the projection,
    # GROUP BY, HAVING and ORDER BY (it is no longer used inside, so this is legal).
    binds = "".join(f"  BIND({term} AS ?{name})\n" for name, term in subs.items())
    return f"{text[:m.start()]}{region[:-1]}{binds}}}{text[end + 1:]}"


_SUBSELECT = re.compile(r"(SELECT\s+(?:DISTINCT\s+|REDUCED\s+)?)([^{]*?)(\s+WHERE)", re.I)


def time_query(store: Store, q: SavedQuery, values: Mapping[str, str], repeat: int,
               budget_s: float = 20.0, binding: str = "substitutions") -> Result:
    """Run a saved query ``repeat`` times (fewer if it exhausts ``budget_s``); median, p95.

    ``binding`` is ``substitutions`` (what mlmeta.queries does) or ``values``
    (:func:`with_values`, the proposed fix)."""
    subs = q.bind(values)
    text = q.text
    if binding == "values":
        text, subs = with_values(q.text, subs), {}
    times: list[float] = []
    rows = 0
    started = time.perf_counter()
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        answer = store.query(text, subs)
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
                  binding: str = "substitutions", only: str | None = None) -> list[Result]:
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
            first = _limited(time_query, timeout_s, store, q, values, 1, budget_s, binding)
            if first["rows"] == 0 and q.params:
                wanted = {**probes["*"], **probes.get(name, {})}
                values = {p.name: wanted[p.name] for p in q.params if p.name in wanted}
                if values:
                    first = _limited(time_query, timeout_s, store, q, values, 1, budget_s, binding)
            if first["median_ms"] / 1000 > budget_s:
                out.append(first)
                continue
            out.append(_limited(time_query, timeout_s, store, q, values, repeat, budget_s,
                                binding))
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
            return Rows(variables, [tuple(None for _ in variables) for _ in res])
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
                 binding: str = "substitutions", only: str | None = None) -> Result:
    store = OxigraphStore(store_dir, read_only=True)
    results = bench_queries(store, n, repeat, seed, binding=binding, only=only)
    return {"engine": "oxigraph-disk", "binding": binding, "models": n,
            "store_quads": store.count(), "queries": results, "peak_rss_mb": peak_rss_mb()}


def run_oxigraph_each(store_dir: Path, n: int, repeat: int, timeout_s: float,
                      seed: int = 42, binding: str = "substitutions",
                      only: str | None = None) -> Result:
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
                 str(n), "--repeat", str(repeat), "--seed", str(seed), "--only", name,
                 "--binding", binding],
                capture_output=True, text=True, env=env, cwd=root, timeout=timeout_s)
            if proc.returncode != 0:
                results.append({"query": name, "error": proc.stderr.strip()[-300:]})
            else:
                results.extend(json.loads(proc.stdout.strip().splitlines()[-1])["queries"])
        except subprocess.TimeoutExpired:
            results.append({"query": name, "timeout_s": timeout_s})
    return {"engine": "oxigraph-disk", "binding": binding, "models": n,
            "queries": results, "peak_rss_mb": peak_rss_mb()}


def run_rdflib(nquads: Path, n: int, repeat: int, seed: int = 42) -> Result:
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
    results = bench_queries(store, n, repeat, seed, budget_s=30.0, timeout_s=120.0)
    return {"engine": "rdflib-memory", "models": n, "load_s": load_s, "triples": len(store.ds),
            "queries": results, "peak_rss_mb": peak_rss_mb()}


def compare_bindings(store_dir: Path, n: int, timeout_s: float, seed: int = 42) -> Result:
    """Each saved query with both bindings, back to back (same moment, same query text),
    one process per (query, binding), a single timed run after a warm-up; rows must agree."""
    out: list[Result] = []
    for name in saved_queries():
        row: Result = {"query": name}
        for binding in ("substitutions", "values"):
            r = run_oxigraph_each(store_dir, n, 1, timeout_s, seed, binding, only=name)
            row[binding] = r["queries"][0] if r["queries"] else {}
        a, b = row["substitutions"], row["values"]
        if "rows" in a and "rows" in b:
            row["same_rows"] = a["rows"] == b["rows"]
        out.append(row)
    return {"engine": "oxigraph-disk", "models": n, "timeout_s": timeout_s, "compare": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("engine", choices=["oxigraph", "rdflib", "compare"])
    ap.add_argument("data", type=Path, help="store directory (oxigraph) or N-Quads (rdflib)")
    ap.add_argument("n", type=int)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--binding", choices=["substitutions", "values"], default="substitutions")
    ap.add_argument("--only", help="run this saved query only")
    ap.add_argument("--timeout", type=float, help="one process per query, each stopped after "
                    "this many seconds")
    a = ap.parse_args(argv)
    if a.engine == "compare":
        out = compare_bindings(a.data, a.n, a.timeout or 30.0, a.seed)
    elif a.engine == "oxigraph" and a.timeout:
        out = run_oxigraph_each(a.data, a.n, a.repeat, a.timeout, a.seed, a.binding)
    elif a.engine == "oxigraph":
        out = run_oxigraph(a.data, a.n, a.repeat, a.seed, a.binding, a.only)
    else:
        out = run_rdflib(a.data, a.n, a.repeat, a.seed)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
