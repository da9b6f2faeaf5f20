"""Render ``benchmarks/out/*.json`` into the tables of BENCHMARKS.md.

Each table sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; only
what is between the markers is replaced. A size with no result says so in the table:
numbers are never filled in from anywhere else.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

Result = dict[str, Any]
SIZES = ["1k", "10k", "100k", "1M"]
VARIANT_LABELS = {  # result-file tag (benchmarks.ingest_bench.variant_tag): label
    "pyshacl-update": "ingest: pySHACL + SPARQL update (mlmeta today)",
    "sparql-update": "ingest: SPARQL shapes + SPARQL update",
    "sparql-bulk-w2": "ingest: SPARQL shapes + bulk pipeline, 2 workers "
                      "(mlmeta add --bulk --workers 2)",
    "sparql-bulk": "ingest: SPARQL shapes + bulk pipeline (mlmeta add --bulk)",
}


def _load(out: Path, pattern: str) -> list[Result]:
    found = []
    for p in sorted(out.glob(pattern)):
        try:
            r = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if "error" not in r:
            found.append(r)
    return found


def _med(rs: list[Result], key: str) -> float | None:
    vals = [r[key] for r in rs if isinstance(r.get(key), int | float)]
    return statistics.median(vals) if vals else None


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def _ms(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 1000:
        return f"{x / 1000:,.1f} s"
    return f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def machine_table(out: Path) -> str:
    p = out / "machine.json"
    if not p.is_file():
        return "_not measured yet_"
    m = json.loads(p.read_text())
    rows = [("CPU", m["cpu"]), ("cores", m["cores"]), ("RAM", m["ram"]), ("OS", m["os"]),
            ("Python", m["python"]), ("pyoxigraph", m["pyoxigraph"]), ("rdflib", m["rdflib"]),
            ("pySHACL", m["pyshacl"]), ("mlmeta", m["mlmeta"]), ("date", m["date"])]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def ingest_table(out: Path) -> str:
    lines = ["| models | path | runs | seconds | models/s | triples/s | vs bulk load "
             "| peak RSS | store on disk |", "|---|---|---|---|---|---|---|---|---|"]
    missing = []
    for size in SIZES:
        bulk = _load(out, f"{size}-bulk-*.json")
        if not bulk:
            if size != "1k":
                missing.append(size)
            continue
        rate = _med(bulk, "triples_per_s")
        quads = bulk[0]["quads"]
        lines.append(f"| {size} ({quads:,} quads) | raw `Store.bulk_load` of the same quads "
                     f"(load {_n(_med(bulk, 'loadavg_1m_end'), 1)}) | {len(bulk)} "
                     f"| {_n(_med(bulk, 'load_s'), 1)} "
                     f"| {_n(_med(bulk, 'models_per_s'))} | {_n(rate)} | 1.00 "
                     f"| {_n(_med(bulk, 'peak_rss_mb'))} MB "
                     f"| {_n((_med(bulk, 'store_bytes') or 0) / 1e6)} MB |")
        for vtag, name in VARIANT_LABELS.items():
            # -[0-9]*: run numbers only (sparql-bulk-0, not sparql-bulk-w2-0)
            rs = _load(out, f"{size}-ingest-{vtag}-[0-9]*.json")
            if not rs:
                continue
            tr = _med(rs, "triples_per_s")
            ratio = f"{tr / rate:.2f}" if tr and rate else "—"
            if rs[0].get("quads") != quads:  # a bulk result kept from another zoo version
                ratio = "— (other quads)"
            batch = rs[0].get("batch_size")
            workers = rs[0].get("workers")
            how = f"batch {batch}" + (f", {workers} worker{'s' if workers != 1 else ''}"
                                      if workers is not None else "")
            if "-bulk" in vtag and _med(rs, "compact_s") is not None:
                how += f"; then compaction {_n(_med(rs, 'compact_s'), 1)} s, not counted"
            rss = f"{_n(_med(rs, 'peak_rss_mb'))} MB"
            if _med(rs, "peak_rss_workers_mb"):  # the bulk writer's worker processes
                rss += f" + {_n(_med(rs, 'peak_rss_workers_mb'))} MB a worker"
            how += f"; load {_n(_med(rs, 'loadavg_1m_end'), 1)}"
            lines.append(f"| {size} | {name} ({how}) | {len(rs)} "
                         f"| {_n(_med(rs, 'seconds'), 1)} | {_n(_med(rs, 'models_per_s'))} "
                         f"| {_n(tr)} | {ratio} | {rss} "
                         f"| {_n((_med(rs, 'store_bytes') or 0) / 1e6)} MB |")
    if missing:
        lines.append("")
        lines.append(f"Not measured in this run: {', '.join(missing)} (no result files).")
    return "\n".join(lines)


def stages_table(out: Path) -> str:
    rows = []
    r: Result = {}
    for size in SIZES:
        rs = _load(out, f"{size}-stages.json")
        if not rs:
            continue
        r = rs[0]
        s = r["seconds"]
        rec = r["records"]
        rows.append(f"| {size} | {_n(rec / s['map'])} | {_n(rec / s['validate_sparql'])} "
                    f"| {_n(r.get('validate_pyshacl_records_per_s'))} "
                    f"| {_n(rec / s['update_text'])} | {_n(rec / s['store_update'])} |")
    if not rows:
        return "_not measured yet_"
    return ("| models | map | validate: SPARQL shapes | validate: pySHACL | build update text "
            "| store update (transaction) |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
            + "\n\nRecords per second of each stage alone, batches of "
            f"{r['batch_size']} records (pySHACL on the first "
            f"{r['pyshacl_records']:,} records).")


# Per size, the latency target of issue #8 for a saved query's median.
TARGET_MS = {"10k": 100.0, "100k": 100.0, "1M": 1000.0}


def query_table(out: Path) -> str:
    ox_by: dict[str, dict[str, Result]] = {}
    rd_by: dict[str, dict[str, Result]] = {}
    sizes = []
    for size in SIZES:
        ox = _load(out, f"{size}-query-oxigraph.json")
        rd = _load(out, f"{size}-query-rdflib.json")
        if ox:
            sizes.append(size)
            ox_by[size] = {q["query"]: q for q in ox[0]["queries"]}
        if rd:
            rd_by[size] = {q["query"]: q for q in rd[0]["queries"]}
    if not sizes:
        return "_not measured yet_"
    names = sorted({n for d in ox_by.values() for n in d})
    head, rule = ["query"], ["---"]
    for s in sizes:
        head.append(f"{s} Oxigraph median / p95 (rows)")
        rule.append("---")
        if s in rd_by:
            head += [f"{s} rdflib median", f"{s} rdflib ÷ Oxigraph"]
            rule += ["---", "---"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
    for name in names:
        cells = [name]
        for s in sizes:
            q = ox_by[s].get(name, {})
            cells.append(_qcell(q))
            if s in rd_by:
                r = rd_by[s].get(name, {})
                cells.append(_qcell(r, rows=False))
                cells.append(_ratio(q, r))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [_summary(s, ox_by[s], rd_by.get(s)) for s in sizes]
    params = sorted({(n, json.dumps(q.get("params", {}))) for d in ox_by.values()
                     for n, q in d.items() if q.get("params")})
    if params:
        lines.append("")
        lines.append("Parameters used where the defaults match nothing in a synthetic zoo: "
                     + "; ".join(f"`{n}` {p}" for n, p in params) + ".")
    return "\n".join(lines)


def _ratio(q: Result, r: Result) -> str:
    """rdflib's time over Oxigraph's; a lower bound when rdflib was stopped."""
    a = q.get("median_ms")
    if not a:
        return "—"
    if "median_ms" in r:
        return f"{r['median_ms'] / a:,.0f}×"
    if "timeout_s" in r:
        return f"> {r['timeout_s'] * 1000 / a:,.0f}×"
    return "—"


def _summary(size: str, ox: dict[str, Result], rd: dict[str, Result] | None) -> str:
    timed = [q for q in ox.values() if "median_ms" in q or "timeout_s" in q]
    target = TARGET_MS.get(size, 100.0)
    fast = [q for q in timed if q.get("median_ms", float("inf")) < target]
    slow = sorted(q["query"] for q in timed if q not in fast)
    text = (f"At {size}: {len(fast)} of {len(timed)} queries run have a median under "
            f"{_ms(target)}" + (f" (not: {', '.join(slow)})" if slow else ""))
    if rd is not None:
        ratios = []
        for name, q in ox.items():
            r = rd.get(name, {})
            a = q.get("median_ms")
            b = r.get("median_ms") or (r["timeout_s"] * 1000 if "timeout_s" in r else None)
            if a and b:
                ratios.append((b / a, name))
        under = sorted(n for x, n in ratios if x < 20)
        text += (f"; rdflib is at least 20× slower on {len(ratios) - len(under)} of "
                 f"{len(ratios)}" + (f" (not: {', '.join(under)})" if under else ""))
    return text + "."


def _qcell(q: Result, rows: bool = True) -> str:
    if not q:
        return "—"
    if "skipped" in q:
        return f"skipped: {q['skipped']}"
    if "error" in q:
        return f"error: {q['error'][:80]}"
    if "timeout_s" in q:
        return f"> {q['timeout_s']:.0f} s (stopped)"
    runs = q.get("runs", 0)
    core = f"{_ms(q['median_ms'])} / {_ms(q['p95_ms'])}"
    if runs == 1:
        core = f"{_ms(q['median_ms'])} (1 run)"
    return f"{core} ({q['rows']})" if rows else core


def recrawl_table(out: Path) -> str:
    rows = []
    for size in SIZES:
        rs = _load(out, f"{size}-recrawl.json")
        if not rs:
            continue
        r = rs[0]
        rows.append(f"| {size} | {_n(r['generate_only_s'], 1)} s "
                    f"| {_n(r['unchanged']['seconds'], 1)} s "
                    f"| {_n(r['unchanged_batched']['seconds'], 1)} s "
                    f"| {_n(r['changed']['seconds'], 1)} s "
                    f"| {r['changed']['ingested']:,} / {r['expected_changed']:,} |")
    if not rows:
        return "_not measured yet_"
    return ("| models | producing the records only | unchanged (a query per record) "
            "| unchanged (one query per 1000 records) | 1% changed | re-ingested / changed |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))


TABLES = {"machine": machine_table, "ingest": ingest_table, "stages": stages_table,
          "queries": query_table, "recrawl": recrawl_table}


def render(out: Path, doc: Path) -> None:
    """Replace every marked table in ``doc`` with one rendered from ``out``.

    :raises FileNotFoundError: if ``doc`` does not exist.
    """
    text = doc.read_text("utf-8")
    for name, fn in TABLES.items():
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(\n<!-- /bench:{name} -->)", re.S)
        table = fn(out)

        def put(m: re.Match[str], t: str = table) -> str:
            return m.group(1) + t + m.group(2)

        text, count = pattern.subn(put, text)
        if count == 0:
            text += f"\n<!-- bench:{name} -->\n{table}\n<!-- /bench:{name} -->\n"
    doc.write_text(text, "utf-8")
