"""The one command: rerun every benchmark and rewrite the tables of BENCHMARKS.md.

    python -m benchmarks.run --sizes 10k,100k,1M --repeat 3 [--quick] [--resume]

Every measurement runs in its own process and leaves a JSON file in
``benchmarks/out/`` (``--resume`` reuses those that exist, so an interrupted run
continues). Tables in BENCHMARKS.md between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` markers are replaced; the prose around them is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.ingest_bench import variant_tag

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
DOC = ROOT / "BENCHMARKS.md"
Result = dict[str, Any]

# Ingest variants: (label, validator, writer, batch size, largest size to run it at,
# worker processes or None for the default). The queries run on the store of the last
# variant with the default workers.
VARIANTS = [
    ("SPARQL shapes + SPARQL update", "sparql", "update", 200, 10_000, None),
    ("SPARQL shapes + bulk pipeline, 2 workers", "sparql", "bulk", 1000, 100_000, 2),
    ("SPARQL shapes + bulk pipeline (mlmeta add --bulk)", "sparql", "bulk", 1000, 10**9, None),
]



def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``500`` -> 500.

    :raises ValueError: for anything else.
    """
    m = re.fullmatch(r"(\d+)([kKmM]?)", text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (write 10k, 100k, 1M)")
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[m.group(2).lower()]


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


def run_module(module: str, args: list[str], out: Path, resume: bool,
               log: Callable[[str], None]) -> Result:
    """Run ``python -m module args`` in its own process; cache its JSON in ``out``."""
    if resume and out.is_file():
        cached: Result = json.loads(out.read_text())
        return cached
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    log(f"running {module} {' '.join(args)}")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    if proc.returncode != 0:
        result: Result = {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"],
                          "args": args}
    else:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t
    # The machine may be shared: the load during the run says how much to trust the numbers.
    result["loadavg_1m_end"] = os.getloadavg()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, versions, date."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal"))
        ram = f"{mem_kb / 1024 / 1024:.1f} GB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    import mlmeta

    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
            "python": platform.python_version(), "pyoxigraph": v("pyoxigraph"),
            "rdflib": v("rdflib"), "pyshacl": v("pyshacl"), "mlmeta": mlmeta.__version__,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "os": f"{platform.system()} {platform.release()}"}


def median_of(runs: list[Result], key: str) -> float | None:
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def run_size(n: int, repeat: int, quick: bool, resume: bool, work: Path,
             log: Callable[[str], None], rdflib_max: int, pyshacl_max: int,
             recrawl_max: int) -> None:
    tag = label(n)
    reps = repeat if n <= 100_000 else 1
    for r in range(reps):
        run_module("benchmarks.ingest_bench", ["bulk", str(n), str(work)],
                   OUT / f"{tag}-bulk-{r}.json", resume, log)
    # The raw store's size is in its result; only the N-Quads file is read again (by rdflib).
    _drop(work, f"bulk-{n}")
    if n > rdflib_max:
        (work / f"zoo-{n}.nq").unlink(missing_ok=True)
    last_store = ""
    for _name, validator, writer, batch, max_n, workers in VARIANTS:
        if n > max_n or (validator == "pyshacl" and n > pyshacl_max):
            continue
        vtag = variant_tag(validator, writer, workers)
        extra = ["--workers", str(workers)] if workers is not None else []
        # pySHACL is slow enough that one run is all a session can afford.
        for r in range(1 if validator == "pyshacl" else reps):
            res = run_module("benchmarks.ingest_bench",
                             ["ingest", str(n), str(work), "--validator", validator,
                              "--writer", writer, "--batch", str(batch), *extra],
                             OUT / f"{tag}-ingest-{vtag}-{r}.json", resume, log)
            if writer == "bulk" and workers is None and "store_dir" in res:
                last_store = res["store_dir"]
        if validator == "pyshacl" or writer == "update" or workers is not None:
            _drop(work, f"store-{n}-{vtag}")
    if n <= 10_000:
        run_module("benchmarks.ingest_bench", ["stages", str(n), str(work), "--pyshacl-limit",
                                               "2000"], OUT / f"{tag}-stages.json", resume, log)
    if last_store and Path(last_store).is_dir():
        run_module("benchmarks.query_bench", ["oxigraph", last_store, str(n), "--repeat",
                                              str(5 if quick else 20), "--timeout", "120"],
                   OUT / f"{tag}-query-oxigraph.json", resume, log)
        if n <= recrawl_max:
            run_module("benchmarks.recrawl_bench", [last_store, str(n), str(work)],
                       OUT / f"{tag}-recrawl.json", resume, log)
    if n <= rdflib_max:
        nq = work / f"zoo-{n}.nq"
        if nq.is_file():
            # rdflib runs are stopped after 30 s: past that, the ratio is a lower bound.
            run_module("benchmarks.query_bench", ["rdflib", str(nq), str(n), "--repeat",
                                                  str(3 if quick else 5), "--timeout", "30"],
                       OUT / f"{tag}-query-rdflib.json", resume, log)


def _drop(work: Path, name: str) -> None:
    p = work / name
    if p.is_dir():
        shutil.rmtree(p)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10k,100k,1M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="fewer query runs; rdflib at 10k only")
    ap.add_argument("--resume", action="store_true", help="reuse results in benchmarks/out")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp"))
                    / "mlmeta-bench")
    ap.add_argument("--render-only", action="store_true", help="only rewrite BENCHMARKS.md")
    ap.add_argument("--rdflib-max", help="largest size to run rdflib at (default 100k; "
                    "10k with --quick)")
    ap.add_argument("--recrawl-max", default="1M", help="largest size to time re-crawls at "
                    "(default: every size)")
    a = ap.parse_args(argv)
    sizes = [parse_size(s) for s in a.sizes.split(",") if s.strip()]

    def log(msg: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)

    if not a.render_only:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "machine.json").write_text(json.dumps(machine(), indent=1))
        a.workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            rdflib_max = parse_size(a.rdflib_max) if a.rdflib_max else (
                10_000 if a.quick else 100_000)
            run_size(n, a.repeat, a.quick, a.resume, a.workdir, log, rdflib_max=rdflib_max,
                     pyshacl_max=10_000, recrawl_max=parse_size(a.recrawl_max))
    from benchmarks.report import render

    render(OUT, DOC)
    log(f"wrote {DOC}")


if __name__ == "__main__":
    main()
