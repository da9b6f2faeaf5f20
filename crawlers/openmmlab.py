"""Crawl the OpenMMLab model index (mmpretrain ``metafile.yml`` files).

Each metafile has ``Collections`` (a model family: architecture components,
training data and recipe, paper, code) and ``Models``. Every ``Models`` entry
becomes one :class:`ModelRecord` (zoo ``openmmlab``, ``source_id`` = its
``Name``), in its own graph:

- ``In Collection`` -> architecture family; the architecture is the first ``_``-separated
  token of the name the architecture table knows (``resnet50_8xb32_in1k`` -> ``resnet50``,
  ``barlowtwins_resnet50_...`` -> ``resnet50``), else the name's first token;
- ``Results`` -> reported evaluations (task, dataset, every metric; values in percent;
  ``Accuracy (testA)`` is the metric ``Accuracy`` on split ``testA``);
- ``Metadata``: ``FLOPs``, ``Parameters``, ``Training Data`` (the collection's when the
  model has none), epochs, batch size, training techniques and resources;
- ``Weights``, ``Converted From`` and ``Pretrain`` -> weights files; ``Config`` and the
  collection's ``README`` -> absolute GitHub URLs; ``Paper`` / ``Code`` URLs;
- ``Downstream`` -> the downstream models are fine-tuned from this one.

A model without results is still a model. A local copy is every ``*metafile.yml``
under the directory; a URL source is read through its ``model-index.yml`` imports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
import yaml

from mlmeta.clikit import State, pass_state
from mlmeta.errors import CrawlError, SourceNotFound
from mlmeta.normalize import parse_number, table
from mlmeta.records import (
    EvaluationRecord,
    Hyperparameter,
    Lineage,
    ModelRecord,
    SourceInfo,
    WeightsFile,
)

from .crawlcli import crawl_options, run_crawl, source_option
from .sources import (
    CrawlItem,
    CrawlWarning,
    Fetcher,
    Ledger,
    Rejected,
    Source,
    SourceFile,
    open_source,
    read_files,
)

ZOO = "openmmlab"
DEFAULT_SOURCE = "https://raw.githubusercontent.com/open-mmlab/mmpretrain/main/"
REPO_URL = "https://github.com/open-mmlab/mmpretrain"
INDEX = "model-index.yml"

# libyaml's loader when PyYAML has it: the metafiles are half a megabyte.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SUFFIX_RE = re.compile(r"^(?P<name>.*?)\s*\((?P<split>[^()]+)\)\s*$")
_RAW_RE = re.compile(r"^https://raw\.githubusercontent\.com/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
                     r"/(?P<ref>[^/]+)/")


def blob_base(source: Source) -> str:
    """The GitHub page base that relative ``Config`` / ``README`` paths are made absolute
    against: the source's own repository and ref when it is a GitHub raw URL, else the
    mmpretrain repository's main branch."""
    m = _RAW_RE.match(source.location) if source.remote else None
    if m and m.group("repo") == "mmpretrain":
        return f"https://github.com/{m.group('owner')}/{m.group('repo')}/blob/{m.group('ref')}/"
    return f"{REPO_URL}/blob/main/"


def _absolute(path: object, base: str) -> str | None:
    if not isinstance(path, str) or not path.strip():
        return None
    p = path.strip()
    if p.startswith(("http://", "https://")):
        return p
    return base + p.lstrip("./")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _strings(value: object) -> list[str]:
    return [str(v).strip() for v in _as_list(value) if v is not None and str(v).strip()]


def architecture_of(name: str) -> str:
    """The architecture a model name starts with: the first ``_``-separated token the
    architecture table knows, else the first token."""
    tokens = [t for t in name.split("_") if t]
    for t in tokens:
        if table("architecture").lookup(t) is not None:
            return t
    return tokens[0] if tokens else name


@dataclass
class _Entry:
    file: SourceFile
    row: int
    data: dict[str, Any]
    collection: dict[str, Any] | None


class _Crawl:
    def __init__(self, ledger: Ledger, base: str) -> None:
        self.ledger = ledger
        self.base = base
        self.collections: dict[str, dict[str, Any]] = {}
        self.entries: list[_Entry] = []
        self.names: dict[str, tuple[str, int]] = {}
        self.finetuned_from: dict[str, list[str]] = {}

    def read(self, f: SourceFile) -> Iterator[CrawlItem]:
        try:
            doc = yaml.load(f.text(), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, CrawlError) as e:
            self.ledger.expect(f.name, 1)
            yield self._reject(f, None, f"not valid YAML: {_first_line(e)}")
            return
        if not isinstance(doc, dict):
            self.ledger.expect(f.name, 1)
            yield self._reject(f, None, "not a metafile (no Collections / Models mapping)")
            return
        local: dict[str, dict[str, Any]] = {}
        for c in _as_list(doc.get("Collections")):
            if isinstance(c, dict) and isinstance(c.get("Name"), str):
                local[c["Name"]] = c
                self.collections.setdefault(c["Name"], c)
        models = doc.get("Models")
        if models is None:
            models = []
        if not isinstance(models, list):
            self.ledger.expect(f.name, 1)
            yield self._reject(f, None, "Models is not a list")
            return
        self.ledger.expect(f.name, len(models))
        for n, m in enumerate(models, start=1):
            if not isinstance(m, dict):
                yield self._reject(f, n, f"Models[{n}] is not a mapping")
                continue
            name = m.get("Name")
            if not isinstance(name, str) or not name.strip():
                yield self._reject(f, n, "no Name")
                continue
            name = name.strip()
            if name in self.names:
                first = self.names[name]
                yield self._reject(f, n, f"duplicate Name (first in {first[0]} entry "
                                         f"{first[1]})", name)
                continue
            self.names[name] = (f.name, n)
            coll_name = m.get("In Collection")
            coll = local.get(coll_name) if isinstance(coll_name, str) else None
            self.entries.append(_Entry(f, n, m, coll))
            for d in _strings(m.get("Downstream")):
                self.finetuned_from.setdefault(d, []).append(name)

    def records(self) -> Iterator[CrawlItem]:
        for e in self.entries:
            if e.collection is None and isinstance(e.data.get("In Collection"), str):
                e.collection = self.collections.get(e.data["In Collection"])
            yield from self._record(e)

    def _record(self, e: _Entry) -> Iterator[CrawlItem]:
        m, coll, f = e.data, e.collection or {}, e.file
        name = str(m["Name"]).strip()
        key = f"{ZOO}:{name}"
        meta = _dict(m.get("Metadata"))
        cmeta = _dict(coll.get("Metadata"))
        warnings: list[str] = []
        evaluations: list[EvaluationRecord] = []
        tasks: list[str] = []
        for i, res in enumerate(_as_list(m.get("Results")), start=1):
            if not isinstance(res, dict):
                warnings.append(f"Results[{i}] is not a mapping; left out")
                continue
            task = res.get("Task") if isinstance(res.get("Task"), str) else None
            dataset = res.get("Dataset") if isinstance(res.get("Dataset"), str) else None
            if task and task not in tasks:
                tasks.append(task)
            metrics = res.get("Metrics")
            if not isinstance(metrics, dict):
                warnings.append(f"Results[{i}] has no Metrics mapping; left out")
                continue
            for metric, value in metrics.items():
                ev = self._evaluation(str(metric), value, dataset, task, f.url)
                if isinstance(ev, str):
                    warnings.append(f"Results[{i}].Metrics.{metric}: {ev}")
                else:
                    evaluations.append(ev)
        params = _count(meta.get("Parameters"), "Parameters", warnings)
        flops = _count(meta.get("FLOPs"), "FLOPs", warnings)
        trained = _strings(meta.get("Training Data")) or _strings(cmeta.get("Training Data"))
        hps: list[Hyperparameter] = []
        for field_name, hp in (("Epochs", "epochs"), ("Batch Size", "batch_size"),
                               ("Training Techniques", "training_techniques"),
                               ("Training Resources", "training_resources")):
            value = meta.get(field_name, cmeta.get(field_name))
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            if isinstance(value, bool) or value is None or str(value).strip() == "":
                continue
            hps.append(Hyperparameter(hp, value if isinstance(value, int | float)
                                      else str(value)))
        weights = [WeightsFile(w, kind="checkpoint") for w in _strings(m.get("Weights"))]
        converted = _dict(m.get("Converted From"))
        weights += [WeightsFile(w, kind="original") for w in _strings(converted.get("Weights"))]
        weights += [WeightsFile(w, kind="pretrain") for w in _strings(m.get("Pretrain"))]
        paper = _dict(coll.get("Paper"))
        code = _dict(coll.get("Code"))
        original_code = _strings(converted.get("Code"))
        family = coll.get("Name") if isinstance(coll.get("Name"), str) else (
            m.get("In Collection") if isinstance(m.get("In Collection"), str) else None)
        record = ModelRecord(
            source_id=name,
            source=SourceInfo(ZOO, url=f.url, version=_digest(m, coll)),
            name=name,
            description=(f"Weights converted from {original_code[0]}" if original_code
                         else None),
            architecture=architecture_of(name),
            architecture_family=family,
            parameter_count=int(params) if params is not None else None,
            flops=flops,
            tasks=tasks,
            library="mmpretrain",
            tags=_strings(cmeta.get("Architecture")),
            trained_on=trained,
            derived_from=[Lineage(f"{ZOO}:{b}", "finetune", raw_relation="Downstream")
                          for b in self.finetuned_from.get(name, [])],
            hyperparameters=hps,
            evaluations=evaluations,
            homepage=_absolute(coll.get("README"), self.base),
            code_url=_absolute(code.get("URL"), self.base),
            paper_url=_absolute(paper.get("URL"), self.base),
            weights=weights,
            config_url=_absolute(m.get("Config"), self.base),
        )
        for w in warnings:
            yield CrawlWarning(f.name, e.row, w, key)
        self.ledger.use(f.name, e.row, key)
        yield record

    @staticmethod
    def _evaluation(metric: str, value: object, dataset: str | None, task: str | None,
                    url: str) -> EvaluationRecord | str:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "no value; left out"
        number, _, _ = parse_number(value)
        if number is None:
            return f"value {value!r} is not a number; left out"
        split = None
        m = _SUFFIX_RE.match(metric)
        base = metric
        if m and table("metric").lookup(metric) is None:
            base, split = m.group("name"), m.group("split")
        entry = table("metric").lookup(base)
        # OpenMMLab gives accuracy-like metrics in percent; scores (CIDEr) have no unit.
        unit = "%" if entry is None or entry.get("unit") == "fraction" else None
        return EvaluationRecord(metric=base, value=number, dataset=dataset, task=task,
                                split=split, unit=unit, metric_name=metric if split else None,
                                source_url=url)

    def _reject(self, f: SourceFile, row: int | None, reason: str, item: str | None = None,
                ) -> Rejected:
        r = Rejected(f.name, row, reason, item)
        self.ledger.reject(r)
        return r


def _count(value: object, what: str, warnings: list[str]) -> float | None:
    if value is None:
        return None
    number, _, _ = parse_number(value)
    if number is None or number < 0:
        warnings.append(f"Metadata.{what} {value!r} is not a non-negative number; left out")
        return None
    return number


def _digest(entry: dict[str, Any], collection: dict[str, Any]) -> str:
    text = json.dumps([entry, collection], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _index_imports(src: Source) -> list[str]:
    try:
        f = src.read(INDEX)
    except SourceNotFound as e:
        raise CrawlError(f"no {INDEX} at {src.location}: {e}",
                         hint="point --source at the root of the mmpretrain repository") from e
    try:
        doc = yaml.load(f.text(), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        raise CrawlError(f"{f.url}: not valid YAML: {_first_line(e)}") from e
    imports = doc.get("Import") if isinstance(doc, dict) else None
    return [str(p).lstrip("./") for p in _as_list(imports) if isinstance(p, str)]


def crawl_openmmlab(source: str | None = None, *, ledger: Ledger | None = None,
                    fetcher: Fetcher | None = None) -> Iterator[CrawlItem]:
    """Crawl OpenMMLab metafiles: every ``*metafile.yml`` of a local directory, or the
    metafiles a base URL's ``model-index.yml`` imports (default: mmpretrain on GitHub).

    Yields one :class:`~mlmeta.records.ModelRecord` per ``Models`` entry, and
    :class:`Rejected` entries / :class:`CrawlWarning`.

    :raises UsageError: if a local source does not exist.
    :raises CrawlError: if no metafile can be read, or a URL cannot be fetched.
    """
    src = open_source(source, DEFAULT_SOURCE, fetcher=fetcher)
    ledger = ledger if ledger is not None else Ledger()
    names = src.names(["*metafile.yml"]) if not src.remote else _index_imports(src)
    state = _Crawl(ledger, blob_base(src))
    hint = "point --source at a folder of metafile.yml files or the repository root"
    for f in read_files(src, names, "OpenMMLab metafiles", hint):
        if isinstance(f, CrawlWarning):
            yield f
        else:
            yield from state.read(f)
    yield from state.records()


@click.command("openmmlab")
@source_option(DEFAULT_SOURCE, "the mmpretrain repository (its model-index.yml) or a "
                               "folder of metafile.yml files")
@crawl_options
@pass_state
def command(state: State, source: str | None, force: bool, strict: bool) -> None:
    """Crawl the OpenMMLab model index (mmpretrain metafile.yml files).

    Every Models entry becomes a model with its collection (architecture family),
    results (task, dataset, metrics), FLOPs, parameters, training data, weights and
    config links. Entries that cannot be read are reported on stderr with file, entry
    number and reason.
    """
    ledger = Ledger()
    run_crawl(state, ZOO, crawl_openmmlab(source, ledger=ledger), ledger=ledger, force=force,
              strict=strict)
