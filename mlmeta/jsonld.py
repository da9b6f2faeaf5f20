"""User records in JSON-LD, using mlmeta's context.

A ``.jsonld`` file holds one node object or a ``@graph`` list of them; each
top-level node (with an ``@id`` and an ``@type`` among Model, Dataset,
Evaluation, Hardware, ModelPrediction, TrainingRun) is one record, stored in
its own named graph with provenance, after the same SHACL validation as every
other record. The context may be given inline, by reference to the published
context IRI (``https://w3id.org/mlmeta/context.jsonld``), or as ``"mlmeta"``;
references are resolved to the packaged copy, never fetched.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib

from mlmeta import __version__, iri
from mlmeta.errors import InputFormatError, Violation
from mlmeta.ingest import IngestReport, check_mapped, ensure_initialized, store_mapped
from mlmeta.mapping import MappedRecord, lit
from mlmeta.resources import context_path
from mlmeta.store import Rows, Store
from mlmeta.vocab import MLM, MLM_NS, PROV, RDF

CONTEXT_IRIS = ("https://w3id.org/mlmeta/context.jsonld", "https://w3id.org/mlmeta/context",
                "mlmeta")
RECORD_TYPES = {"Model": "model", "Dataset": "dataset", "Evaluation": "evaluation",
                "Hardware": "hardware", "ModelPrediction": "prediction",
                "TrainingRun": "run"}


def _local_context() -> Any:
    return json.loads(context_path().read_text("utf-8"))["@context"]


def _resolve_context(ctx: Any) -> Any:
    if isinstance(ctx, str) and ctx in CONTEXT_IRIS:
        return _local_context()
    if isinstance(ctx, list):
        return [_resolve_context(c) for c in ctx]
    return ctx


def from_rdflib(t: Any) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as a pyoxigraph term.

    :raises TypeError: for anything but an IRI, a blank node or a literal.
    """
    if isinstance(t, rdflib.URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, rdflib.BNode):
        return ox.BlankNode(str(t))
    if isinstance(t, rdflib.Literal):
        if t.language:
            return ox.Literal(str(t), language=t.language)
        if t.datatype is not None:
            return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype)))
        return ox.Literal(str(t))
    raise TypeError(f"unsupported term {t!r}")


def _fail(path: Path, message: str, record: str = "(file)", field: str = "(file)"
          ) -> InputFormatError:
    return InputFormatError(f"{path}: {message}",
                            [Violation(record, field, message, str(path))])


def read_jsonld(path: Path, store: Store | None = None) -> list[MappedRecord]:
    """Parse a JSON-LD file into one mapped record per top-level node.

    With a store, the types of entities the records reference (canonical datasets,
    base models) are looked up there, so validation sees them.

    :raises InputFormatError: for malformed JSON, a missing ``@id`` / ``@type``, or
        JSON-LD that does not expand.
    """
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _fail(path, "a JSON-LD record file must hold one JSON object")
    ctx = _resolve_context(doc.get("@context", "mlmeta"))
    nodes = doc.get("@graph", [doc])
    if not isinstance(nodes, list):
        raise _fail(path, "@graph must be a list")
    out: list[MappedRecord] = []
    when = datetime.now(UTC)
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise _fail(path, "each record must be a JSON object", f"#{i}")
        node_id, node_type = node.get("@id") or node.get("id"), node.get("@type")
        if not node_id:
            raise _fail(path, "a record needs an @id", f"#{i}", "@id")
        types = node_type if isinstance(node_type, list) else [node_type]
        kinds = [RECORD_TYPES[t.removeprefix("mlm:")] for t in types
                 if isinstance(t, str) and t.removeprefix("mlm:") in RECORD_TYPES]
        if not kinds:
            raise _fail(path, "@type must be one of " + ", ".join(RECORD_TYPES),
                        str(node_id), "@type")
        single = {k: v for k, v in node.items() if k != "@context"}
        g = rdflib.Graph()
        try:
            g.parse(data=json.dumps({"@context": ctx, **single}), format="json-ld",
                    base=path.resolve().as_uri())
        except Exception as e:  # noqa: BLE001 - rdflib raises many kinds on bad JSON-LD
            raise _fail(path, f"not valid JSON-LD: {e}", str(node_id)) from None
        subjects = {s for s in g.subjects(rdflib.RDF.type, None)
                    if any(str(o).startswith(MLM_NS) for o in g.objects(s, rdflib.RDF.type))}
        focus_iri = next((str(s) for s in subjects if str(s).endswith(str(node_id))), None)
        if focus_iri is None:
            focus_iri = str(next(iter(subjects))) if subjects else str(node_id)
        key = f"jsonld:{focus_iri}"
        graph = iri.record_graph(kinds[0], key)
        rec = MappedRecord(key, kinds[0], graph, ox.NamedNode(focus_iri))
        for s, p, o in g:
            subj, pred = from_rdflib(s), from_rdflib(p)
            if isinstance(subj, ox.Literal) or not isinstance(pred, ox.NamedNode):
                continue  # not RDF: JSON-LD generalised triples are dropped
            rec.quads.append(ox.Quad(subj, pred, from_rdflib(o), graph))
        zoo = iri.entity("zoo", "user")
        rec.quads += [
            ox.Quad(graph, RDF.type, MLM.RecordGraph, graph),
            ox.Quad(graph, MLM.describes, rec.focus, graph),
            ox.Quad(graph, MLM.recordKey, ox.Literal(key), graph),
            ox.Quad(graph, PROV.wasAttributedTo, zoo, graph),
            ox.Quad(graph, PROV.hadPrimarySource, ox.NamedNode(path.resolve().as_uri()), graph),
            ox.Quad(graph, PROV.generatedAtTime, lit(when), graph),
            ox.Quad(graph, MLM.mlmetaVersion, ox.Literal(__version__), graph),
        ]
        rec.context.append(ox.Triple(zoo, RDF.type, MLM.ModelZoo))
        if store is not None:
            rec.context.extend(_referenced_types(store, rec))
        out.append(rec)
    return out


def _referenced_types(store: Store, rec: MappedRecord) -> list[ox.Triple]:
    objects = {q.object for q in rec.quads if isinstance(q.object, ox.NamedNode)
               and q.predicate != RDF.type}
    subjects = {q.subject for q in rec.quads}
    refs = sorted((o for o in objects if o not in subjects), key=lambda n: n.value)
    out: list[ox.Triple] = []
    for o in refs:
        answer = store.query("SELECT DISTINCT ?t WHERE { ?o a ?t }", {"o": o})
        if isinstance(answer, Rows):
            for (t,) in answer.rows:
                if isinstance(t, ox.NamedNode):
                    out.append(ox.Triple(o, RDF.type, t))
    return out


def _check(path: Path, store: Store | None) -> tuple[list[MappedRecord], IngestReport]:
    """Read and validate a JSON-LD file: the conforming records, and a report of the rest."""
    report = IngestReport()
    try:
        records = read_jsonld(path, store)
    except InputFormatError as e:
        for v in e.violations:
            report.rejected[f"{path}:{v.record_id}"] = [v]
        return [], report
    return check_mapped(records, str(path), report=report)


def prepare_jsonld(path: Path, store: Store | None = None) -> tuple[int, IngestReport]:
    """Validate a JSON-LD file without storing. Returns (conforming count, report)."""
    good, report = _check(path, store)
    return len(good), report


def ingest_jsonld(store: Store, path: Path) -> IngestReport:
    """Validate a JSON-LD file's records and store those that conform, each in its graph."""
    ensure_initialized(store)
    good, report = _check(path, store)
    store_mapped(store, good, report)
    return report
