"""``mlmeta push``: copy every named graph of the store into an external triplestore.

Each graph goes by the SPARQL 1.1 Graph Store HTTP Protocol, ``PUT ?graph=IRI``, so a
second push replaces each graph instead of adding a copy beside it; a store without a
Graph Store endpoint gets SPARQL Update (``DROP SILENT GRAPH`` + ``INSERT DATA``), several
graphs a request. After each batch the endpoint is asked how many quads each graph now
holds, and the totals must match the local store's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import click

from mlmeta.clikit import CommandError, State, pass_state, stderr
from mlmeta.ingest import batches
from mlmeta.remote import RemoteSettings, RemoteStore
from mlmeta.store import Store


@dataclass
class PushReport:
    """What a push did: graphs and quads sent, and the endpoint's own count of them."""

    graphs: int = 0
    quads: int = 0
    remote_quads: int = 0
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)
    pruned: int = 0
    method: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatched and self.quads == self.remote_quads


def push(source: Store, target: RemoteStore, *, batch_size: int = 100, prune: bool = False,
         progress: Callable[[int], None] | None = None) -> PushReport:
    """Replace, in ``target``, every named graph of ``source`` with the source's copy.

    :param batch_size: graphs read, written and counted together.
    :param progress: called with the number of graphs of each batch written.
    :param prune: also drop the target's graphs (under its graph prefix) that the source
        does not have.
    :raises RemoteStoreError: if the endpoint refuses or cannot be reached (after retries).
    """
    report = PushReport()
    names = sorted(source.named_graphs(), key=lambda g: g.value)
    for batch in batches(names, batch_size):
        graphs = [(g, source.graph_quads(g)) for g in batch]
        target.replace_graphs(graphs)
        counted = target.count_graphs(batch)
        for g, quads in graphs:
            there = counted.get(g.value, 0)
            report.graphs += 1
            report.quads += len(quads)
            report.remote_quads += there
            if there != len(quads):
                report.mismatched[g.value] = (len(quads), there)
        if progress is not None:
            progress(len(batch))
    report.method = ("Graph Store HTTP Protocol" if target.graph_store_url
                     else "SPARQL Update")
    if prune:
        local = {g.value for g in names}
        extra = [g for g in target.named_graphs() if g.value not in local]
        target.remove_graphs(extra)
        report.pruned = len(extra)
    return report


@click.command("push")
@click.option("--endpoint", required=True, metavar="URL",
              help="The target's SPARQL query endpoint (e.g. http://host:7878/query, "
                   "http://host:8890/sparql).")
@click.option("--graph-store", "graph_store", metavar="URL",
              help="Its Graph Store endpoint, where it is not derived from --endpoint "
                   "('none': use SPARQL Update).")
@click.option("--update", "update_url", metavar="URL",
              help="Its SPARQL Update endpoint, where it is not derived from --endpoint.")
@click.option("--user", envvar="MLMETA_USER", help="User name (HTTP Basic or Digest). "
              "Default: $MLMETA_USER.")
@click.option("--password", envvar="MLMETA_PASSWORD", help="Password. Default: "
              "$MLMETA_PASSWORD.")
@click.option("--token", envvar="MLMETA_TOKEN", help="Bearer token, instead of a user. "
              "Default: $MLMETA_TOKEN.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Graphs per batch (one SPARQL Update request each without a Graph Store).")
@click.option("--prune", is_flag=True,
              help="Also drop the endpoint's mlmeta graphs that the local store lacks.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar on stderr.")
@pass_state
def command(state: State, endpoint: str, graph_store: str | None, update_url: str | None,
            user: str | None, password: str | None, token: str | None, batch_size: int,
            prune: bool, progress: bool) -> None:
    """Load every record's named graph (with its provenance) into a SPARQL store.

    Graphs go one PUT each through the Graph Store HTTP Protocol, so pushing again
    replaces them; where the store has none, SPARQL Update. Failed requests are retried
    with backoff. Exit code 1 if the endpoint's count differs from the local store's.
    """
    if token and user:
        raise click.UsageError("give either --user/--password or --token, not both")
    if user and password is None:
        password = click.prompt(f"password for {user}", hide_input=True, err=True)
    settings = RemoteSettings.from_env(endpoint, user=user, password=password, token=token,
                                       graph_store_url=graph_store, update_url=update_url)
    source = state.store(read_only=True)
    total = sum(1 for _ in source.named_graphs())
    target = RemoteStore(endpoint, settings)
    try:
        with click.progressbar(length=total, label=f"pushing {total} graphs",
                               file=sys.stderr, hidden=not progress
                               ) as bar:
            report = push(source, target, batch_size=batch_size, prune=prune,
                          progress=bar.update)
        union = target.default_graph_is_union() if report.graphs else None
    finally:
        target.close()
    stderr(f"pushed {report.graphs} graphs ({report.quads} quads) to {endpoint} by "
           f"{report.method}; the endpoint holds {report.remote_quads} quads in them")
    if report.pruned:
        stderr(f"dropped {report.pruned} graphs the local store does not have")
    if union is False:
        stderr("warning: the endpoint's default graph is not the union of its named graphs, "
               "so saved queries will find nothing there; start Oxigraph with "
               "--union-default-graph, or see docs/triplestores.md for your store")
    if not report.ok:
        for g, (local, there) in sorted(report.mismatched.items())[:10]:
            stderr(f"  {g}: {local} quads here, {there} there")
        raise CommandError(f"{len(report.mismatched)} graph(s) differ from the local store "
                           "after the push (see above)")
