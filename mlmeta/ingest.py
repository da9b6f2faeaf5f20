"""The write path every source goes through: record -> mapping -> validation -> store.

:func:`ingest` maps each record, validates a batch against the shapes, and
replaces the named graphs of the conforming records in one transaction.
A record that does not conform is reported (record, field, message) and not
written at all, so the store keeps its previous version of that record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import pyoxigraph as ox

from mlmeta.errors import Violation
from mlmeta.mapping import MappedRecord, map_record
from mlmeta.records import Record
from mlmeta.store import Rows, Store, is_initialized, load_ontology
from mlmeta.validate import validate_records
from mlmeta.vocab import MLM


@dataclass
class IngestReport:
    """What an ingest did: stored and rejected record keys, warnings, quads written."""

    stored: list[str] = field(default_factory=list)
    rejected: dict[str, list[Violation]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    quads: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def merge(self, other: IngestReport) -> None:
        self.stored.extend(other.stored)
        self.rejected.update(other.rejected)
        for k, v in other.warnings.items():
            self.warnings.setdefault(k, []).extend(v)
        self.quads += other.quads

    def violations(self) -> list[Violation]:
        return [v for vs in self.rejected.values() for v in vs]


Progress = Callable[[IngestReport], None]
T = TypeVar("T")


def ensure_initialized(store: Store) -> None:
    """Load the ontology and canonical graphs into a store that lacks them."""
    if not is_initialized(store):
        load_ontology(store)


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, streamed (the last may be shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


Validator = Callable[[Sequence[MappedRecord], str], dict[str, list[Violation]]]


def prepare(records: Iterable[Record], source: str = "", retrieved: datetime | None = None,
            validator: Validator | None = None) -> tuple[list[MappedRecord], IngestReport]:
    """Map and validate records without storing them.

    :param validator: the validator to use; by default the shapes compiled to SPARQL
        (:func:`mlmeta.validate.validate_records`).
    Returns the conforming mapped records and a report of the rejected ones.
    """
    report = IngestReport()
    mapped: list[MappedRecord] = []
    when = retrieved or datetime.now(UTC)
    for rec in records:
        m = map_record(rec, retrieved=when)
        if m.warnings:
            report.warnings.setdefault(m.key, []).extend(m.warnings)
        mapped.append(m)
    return check_mapped(mapped, source, validator, report)


def check_mapped(mapped: Sequence[MappedRecord], source: str = "",
                 validator: Validator | None = None, report: IngestReport | None = None,
                 ) -> tuple[list[MappedRecord], IngestReport]:
    """Validate mapped records: the conforming ones, and a report of the rejected ones
    (Violation-level results reject a record; Warning-level ones become warnings)."""
    report = report if report is not None else IngestReport()
    failures = (validator or validate_records)(mapped, source)
    good: list[MappedRecord] = []
    for m in mapped:
        errors = [v for v in failures.get(m.key, []) if v.severity == "Violation"]
        soft = [v for v in failures.get(m.key, []) if v.severity != "Violation"]
        if soft:
            report.warnings.setdefault(m.key, []).extend(f"{v.field}: {v.message}" for v in soft)
        if errors:
            report.rejected[m.key] = errors
        else:
            good.append(m)
    return good, report


def store_mapped(store: Store, good: Sequence[MappedRecord], report: IngestReport) -> None:
    """Replace the graphs of conforming mapped records in one transaction, and count them
    in the report.

    :raises StoreError: if the store cannot be written; then nothing was changed.
    """
    if good:
        store.replace_graphs([(m.graph, m.quads) for m in good])
        report.stored.extend(m.key for m in good)
        report.quads += sum(len(m.quads) for m in good)


def ingest(store: Store, records: Iterable[Record], *, source: str = "", batch_size: int = 1000,
           progress: Progress | None = None, retrieved: datetime | None = None,
           validator: Validator | None = None) -> IngestReport:
    """Map, validate and store records, a batch per transaction.

    :param source: a label for messages (a file name, a zoo).
    :param progress: called after each batch with the running report.
    :param validator: the validator to use (see :func:`prepare`).
    :raises StoreError: if the store cannot be written; the batch being written is not
        stored, earlier batches are.
    """
    ensure_initialized(store)
    total = IngestReport()
    for batch in batches(records, batch_size):
        good, report = prepare(batch, source=source, retrieved=retrieved, validator=validator)
        store_mapped(store, good, report)
        total.merge(report)
        if progress is not None:
            progress(total)
    return total


def stored_versions(store: Store, graphs: Iterable[ox.NamedNode]) -> dict[str, str]:
    """``{graph IRI: source version}`` for the given record graphs that are in the store.

    Crawlers use it to skip records whose source has not changed.
    """
    out: dict[str, str] = {}
    todo = list(graphs)
    for i in range(0, len(todo), 1000):
        # One query per thousand graphs: a VALUES block of IRIs serialised by pyoxigraph.
        values = " ".join(str(g) for g in todo[i:i + 1000])
        answer = store.query(
            "SELECT ?g ?v WHERE { VALUES ?g { " + values + " } GRAPH ?g { ?g "
            + str(MLM.sourceVersion) + " ?v } }")
        if isinstance(answer, Rows):
            for g, v in answer.rows:
                if isinstance(g, ox.NamedNode) and isinstance(v, ox.Literal):
                    out[g.value] = v.value
    return out
