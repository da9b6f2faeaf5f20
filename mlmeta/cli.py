"""The ``mlmeta`` command line: a thin layer over the library.

Exit codes: 0 success, 1 failure or validation violations, 2 usage error.
Each command opens the store once, makes one library call and formats the
result; library errors become one-line messages (``--debug`` shows the
traceback).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import click
import pyoxigraph as ox

from mlmeta import __version__
from mlmeta.clikit import (
    CommandError,
    MlmetaGroup,
    State,
    echo_problems,
    echo_report,
    format_option,
    pass_state,
    print_answer,
    stderr,
)
from mlmeta.errors import UsageError, Violation
from mlmeta.ingest import ensure_initialized, ingest, prepare
from mlmeta.records import Record
from mlmeta.store import MEMORY, Rows, load_ontology

# Commands that live in their own modules, loaded when used: name -> (module, attribute).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "link": ("mlmeta.link", "command"),
    "serve": ("mlmeta.serve", "command"),
    "push": ("mlmeta.push", "command"),
}
CRAWLERS: dict[str, tuple[str, str]] = {
    "huggingface": ("mlmeta.crawlers.huggingface", "command"),
    "timm": ("mlmeta.crawlers.timm", "command"),
    "openmmlab": ("mlmeta.crawlers.openmmlab", "command"),
    "mlmodelscope": ("mlmeta.crawlers.mlmodelscope", "command"),
    "pytorch-hub": ("mlmeta.crawlers.pytorch_hub", "command"),
}


def _available(table: dict[str, tuple[str, str]]) -> list[str]:
    names = []
    for name, (module, _) in table.items():
        try:
            if importlib.util.find_spec(module) is not None:
                names.append(name)
        except ModuleNotFoundError:
            continue
    return names


def _load(table: dict[str, tuple[str, str]], name: str) -> click.Command | None:
    if name not in table or name not in _available(table):
        return None
    module, attr = table[name]
    cmd = getattr(importlib.import_module(module), attr)
    assert isinstance(cmd, click.Command)
    return cmd


class _LazyGroup(MlmetaGroup):
    lazy: dict[str, tuple[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_available(self.lazy)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _load(self.lazy, cmd_name)


class TopGroup(_LazyGroup):
    lazy = LAZY_COMMANDS


class CrawlGroup(_LazyGroup):
    lazy = CRAWLERS


@click.group(cls=TopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store", metavar="PATH|URL", envvar="MLMETA_STORE",
              help="Store directory, ':memory:', or a SPARQL endpoint URL. "
                   "Default: $MLMETA_STORE, else a per-user data directory.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="mlmeta")
@click.pass_context
def cli(ctx: click.Context, store: str | None, debug: bool) -> None:
    """mlmeta: a Linked Data knowledge graph of ML model zoos, queried with SPARQL.

    Exit codes: 0 success, 1 failure or validation violations, 2 usage error.
    """
    state = ctx.ensure_object(State)
    state.store_location = store
    state.debug = debug
    ctx.call_on_close(state.close)


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the store (if needed) and load the ontology and canonical entities."""
    store = state.store()
    load_ontology(store)
    stderr(f"initialised the store at {state.location}")


def _read_records(files: tuple[str, ...]) -> tuple[list[tuple[str, list[Record]]],
                                                   list[Violation]]:
    from mlmeta.loader import load_file

    per_file: list[tuple[str, list[Record]]] = []
    problems: list[Violation] = []
    for f in files:
        if Path(f).suffix.lower() == ".jsonld":
            continue
        records, bad = load_file(f)
        per_file.append((f, records))
        problems.extend(bad)
    return per_file, problems


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--bulk", is_flag=True,
              help="Use the bulk loader: much faster for a first load of many records, but "
                   "not atomic across a crash or Ctrl-C (run the same add again to repair "
                   "the store). Embedded store only; JSON-LD files are still written "
                   "transactionally.")
@click.option("--workers", type=click.IntRange(0, 64), default=None, metavar="N",
              help="With --bulk: processes that map and validate while this one loads "
                   "(default: one fewer than the cores, 1 to 8, and none for a file of 1,000 "
                   "records or fewer; 0 does it all here). More "
                   "workers load faster on a busy loader but hold more memory.")
@pass_state
def add(state: State, files: tuple[str, ...], bulk: bool, workers: int | None) -> None:
    """Validate records from YAML / JSON / JSON-LD FILES and store those that conform.

    A record that violates the shapes is rejected with every violation listed
    (file, record, field, message) and leaves the store exactly as it was;
    the exit code is then 1.
    """
    from mlmeta.jsonld import ingest_jsonld

    if workers is not None and not bulk:
        raise click.UsageError("--workers goes with --bulk (the transactional add maps and "
                               "validates in this process)")
    if bulk and state.location.startswith(("http://", "https://")):
        raise click.UsageError("--bulk loads the embedded store only, not a SPARQL endpoint; "
                               "drop --bulk, or pass a store directory with --store")
    per_file, problems = _read_records(files)
    store = state.store()
    rejected = len(problems)
    for v in problems:
        stderr(f"rejected: {v}")
    for f, records in per_file:
        if bulk:
            from mlmeta.bulk import bulk_ingest

            report = bulk_ingest(store, records, source=f, workers=workers)
        else:
            report = ingest(store, records, source=f)
        echo_report(report)
        rejected += len(report.rejected)
    for f in files:
        if Path(f).suffix.lower() == ".jsonld":
            report = ingest_jsonld(store, Path(f))
            echo_report(report)
            rejected += len(report.rejected)
    store.flush()
    if rejected:
        raise CommandError(f"{rejected} record(s) rejected; fix them and run 'mlmeta add' again")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check records in FILES against the shapes without storing anything."""
    from mlmeta.jsonld import prepare_jsonld

    per_file, problems = _read_records(files)
    bad = len(problems)
    for v in problems:
        stderr(f"invalid: {v}")
    ok = 0
    for f, records in per_file:
        good, report = prepare(records, source=f)
        ok += len(good)
        echo_problems(report, "invalid")
        bad += len(report.rejected)
    for f in files:
        if Path(f).suffix.lower() == ".jsonld":
            good_n, report = prepare_jsonld(Path(f))
            ok += good_n
            echo_problems(report, "invalid")
            bad += len(report.rejected)
    stderr(f"{ok} record(s) conform, {bad} do not")
    if bad:
        raise CommandError(f"{bad} record(s) do not conform")


def _parse_params(args: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or a == "--":
            raise UsageError(f"unexpected argument {a!r}; parameters are given as --name value")
        name, eq, value = a[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UsageError(f"parameter --{name} needs a value")
            value = args[i + 1]
            i += 1
        out[name] = value
        i += 1
    return out


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name")
@format_option
@click.pass_context
def query(ctx: click.Context, name: str, fmt: str) -> None:
    """Run the saved query NAME; its parameters are given as --param value.

    'mlmeta queries' lists the saved queries and their parameters.
    """
    from mlmeta.queries import get_saved_query

    state = ctx.find_object(State)
    assert state is not None
    saved = get_saved_query(name)
    params = _parse_params(list(ctx.args))
    saved.bind(params)  # usage errors before the store is opened
    print_answer(saved.run(state.store(read_only=True), params), fmt)


@cli.command()
@format_option
def queries(fmt: str) -> None:
    """List the saved queries with their titles and parameters."""
    from mlmeta.queries import saved_queries

    rows = [(ox.Literal(q.name), ox.Literal(q.title),
             ox.Literal(" ".join(p.describe() for p in q.params)))
            for q in saved_queries().values()]
    print_answer(Rows(["name", "title", "parameters"], list(rows)), fmt)


@cli.command()
@click.argument("query_text", metavar="QUERY", required=False)
@click.option("--file", "-f", "file", type=click.File("r"), help="Read the query from a file.")
@format_option
@pass_state
def sparql(state: State, query_text: str | None, file: Any, fmt: str) -> None:
    """Run a SPARQL query: QUERY as text, '-' to read stdin, or --file FILE.

    The default graph is the union of all record graphs.
    """
    if file is not None:
        text = file.read()
    elif query_text == "-":
        text = sys.stdin.read()
    elif query_text:
        text = query_text
    else:
        raise UsageError("give a query: as text, '-' for stdin, or --file FILE")
    print_answer(state.store(read_only=True).query(text), fmt)


EXPORT_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG,
                  "ttl": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD}


@cli.command()
@click.option("--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default="nq",
              show_default=True, help="N-Quads, TriG, Turtle (union of graphs) or JSON-LD.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE "
              "instead of stdout.")
@pass_state
def export(state: State, fmt: str, output: str | None) -> None:
    """Write the whole graph (every named graph, with provenance), streamed."""
    store = state.store(read_only=True)
    if output:
        with open(output, "wb") as fh:
            store.dump(fh, EXPORT_FORMATS[fmt])
        stderr(f"wrote {output}")
    else:
        out = sys.stdout.buffer
        store.dump(out, EXPORT_FORMATS[fmt])
        out.flush()


STATS_QUERY = """
PREFIX mlm: <https://w3id.org/mlmeta#>
SELECT ?what (COUNT(DISTINCT ?x) AS ?count) WHERE {
  { ?x a mlm:RecordGraph . BIND("record graphs" AS ?what) }
  UNION { ?x a mlm:Model . BIND("models" AS ?what) }
  UNION { ?x a mlm:Dataset . BIND("datasets" AS ?what) }
  UNION { ?x a mlm:Evaluation . BIND("evaluations" AS ?what) }
  UNION { ?x a mlm:Hardware . BIND("hardware" AS ?what) }
  UNION { ?x a mlm:SemanticConcept . BIND("concepts" AS ?what) }
  UNION { ?x a mlm:TrainingRun . BIND("training runs" AS ?what) }
  UNION { ?x a mlm:ModelPrediction . BIND("predictions" AS ?what) }
} GROUP BY ?what ORDER BY ?what
"""

STATS_BY_ZOO = """
PREFIX mlm: <https://w3id.org/mlmeta#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?what (COUNT(?g) AS ?count) WHERE {
  ?g a mlm:RecordGraph ; prov:wasAttributedTo ?zoo .
  BIND(CONCAT("records from ", STRAFTER(STR(?zoo), "/zoo/")) AS ?what)
} GROUP BY ?what ORDER BY ?what
"""


@cli.command()
@format_option
@pass_state
def stats(state: State, fmt: str) -> None:
    """Count what the store holds: records by zoo, models, datasets, evaluations, quads."""
    store = state.store(read_only=True)
    rows: list[tuple[Any, ...]] = []
    for q in (STATS_QUERY, STATS_BY_ZOO):
        answer = store.query(q)
        assert isinstance(answer, Rows)
        rows.extend(answer.rows)
    rows.append((ox.Literal("quads"), ox.Literal(str(store.count()),
                                                 datatype=ox.NamedNode(
                                                     "http://www.w3.org/2001/XMLSchema#integer"))))
    print_answer(Rows(["what", "count"], rows), fmt)


@cli.group(cls=CrawlGroup)
def crawl() -> None:
    """Crawl a model zoo into the store (huggingface, timm, openmmlab, mlmodelscope,
    pytorch-hub)."""


DEMO_QUERIES: list[tuple[str, dict[str, str]]] = [
    ("models-trained-on", {}),
    ("model-summary", {"model": "resnet50.a1_in1k"}),
    ("lineage-up", {"model": "HuggingFaceH4/zephyr-7b-beta"}),
    ("models-recognising", {"concept": "Q144"}),
]


@cli.command()
@click.option("--fresh", is_flag=True, help="Empty the store before loading the example zoo.")
@format_option
@pass_state
def demo(state: State, fresh: bool, fmt: str) -> None:
    """Create the store, load and validate the bundled example zoo, and print the
    answers of a few saved queries."""
    from mlmeta.demo import load_example_zoo
    from mlmeta.queries import get_saved_query, saved_queries

    store = state.store()
    if fresh:
        # Only mlmeta's named graphs: DROP ALL would take a server's system graphs too.
        store.remove_graphs(list(store.named_graphs()))
    ensure_initialized(store)
    report = load_example_zoo(store)
    echo_report(report)
    stderr(f"store: {state.location if state.location != MEMORY else 'in memory'}")
    available = saved_queries()
    for name, params in DEMO_QUERIES:
        if name not in available:
            continue
        saved = get_saved_query(name)
        shown = " ".join(f"--{k} {v}" for k, v in params.items())
        click.echo(f"\n$ mlmeta query {name} {shown}".rstrip())
        click.echo(f"# {saved.title}")
        print_answer(saved.run(store, params), fmt)
    if report.rejected:
        raise CommandError(f"{len(report.rejected)} example record(s) rejected")


def main() -> None:
    """The console entry point."""
    cli(prog_name="mlmeta")


if __name__ == "__main__":  # pragma: no cover
    main()
