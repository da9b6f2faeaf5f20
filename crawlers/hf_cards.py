"""Tolerant parsing of Hugging Face cards: front matter, ``model-index``, ``.eval_results``.

Pure functions, no network. Real cards are messy: a legacy ``model_index`` key,
a singular ``metric:`` mapping, ``license`` as a list, values such as
``"233.56 +/- 53.89"``, results without a dataset, a ``model-index`` that is a
mapping instead of a list, broken YAML. Every function here keeps what can be
kept, copies values verbatim (normalisation happens later, in
:mod:`mlmeta.mapping`, which keeps the raw value), and reports what it could
not read through ``warn`` with the field path (``model-index[0].results[2]``)
instead of raising.

The facts follow the rules of ``model_cards/EXPECTED_FACTS.json`` in the shared
Hugging Face sample (the same rules as huggingface_hub's
``model_index_to_eval_results``, minus its crashes).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

Warn = Callable[[str], None]

# The YAML block rule of huggingface_hub (repocard.REGEX_YAML_BLOCK): the file may start
# with blank or whitespace-only lines, then '---', the YAML, and a closing '---' line.
FRONT_MATTER_RE = re.compile(
    r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader with YAML 1.2 booleans, as the Hub reads cards: ``language: no`` is
    Norwegian, not False."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))

MODEL_INDEX_KEYS = ("model-index", "model_index")


def _ignore(_: str) -> None:
    return None


# --- front matter -------------------------------------------------------------------------


def split_front_matter(text: str) -> tuple[str | None, str]:
    """Split a card into its YAML front matter and its body.

    Returns ``(yaml_text, body)``; ``yaml_text`` is None when the card has no front matter.
    """
    m = FRONT_MATTER_RE.search(text)
    if not m:
        return None, text
    return m.group(2), text[m.end():]


def json_safe(value: Any) -> Any:
    """A YAML value as JSON would carry it: dates become ISO strings, keys strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def load_yaml_mapping(text: str, warn: Warn = _ignore, where: str = "front matter",
                      ) -> dict[str, Any] | None:
    """Parse card YAML into a mapping, salvaging what it can from broken YAML.

    Broken YAML is re-read one top-level key at a time, so a single bad key loses only
    itself. Returns None (with a warning) when nothing is a mapping.
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        warn(f"{where}: not valid YAML ({_yaml_problem(e)}); keeping the keys that parse")
        return _salvage(text, warn, where)
    if data is None:
        return {}
    if not isinstance(data, dict):
        warn(f"{where}: is a {type(data).__name__}, not a mapping of keys; ignored")
        return None
    return json_safe(data)  # type: ignore[no-any-return]


def _yaml_problem(e: yaml.YAMLError, offset: int = 0) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1 + offset}, column {mark.column + 1}"
    return str(problem)


_TOP_KEY_RE = re.compile(r"^([^\s#\-][^:]*?|\"[^\"]*\"|'[^']*'):(\s|$)")


def _salvage(text: str, warn: Warn, where: str) -> dict[str, Any] | None:
    chunks: list[tuple[int, str, list[str]]] = []
    for n, line in enumerate(text.splitlines()):
        m = _TOP_KEY_RE.match(line)
        if m:
            chunks.append((n + 1, m.group(1).strip("\"'"), [line]))
        elif chunks:
            chunks[-1][2].append(line)
    out: dict[str, Any] = {}
    for line_no, key, lines in chunks:
        try:
            part = yaml.load("\n".join(lines), Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as e:
            warn(f"{where}.{key}: not valid YAML ({_yaml_problem(e, line_no - 1)}); dropped")
            continue
        if isinstance(part, dict):
            out.update(json_safe(part))
    if not out:
        warn(f"{where}: no key could be read")
        return None
    return out


def parse_card(text: str, warn: Warn = _ignore) -> dict[str, Any] | None:
    """The metadata of a README: its front matter as a mapping, or None when it has none
    (or it is not a mapping). CRLF and CR line breaks are accepted."""
    yaml_text, _ = split_front_matter(text)
    if yaml_text is None:
        return None
    return load_yaml_mapping(yaml_text.replace("\r\n", "\n").replace("\r", "\n"), warn)


# --- facts -----------------------------------------------------------------------------


@dataclass
class EvalFact:
    """One (result, metric) pair of a ``model-index``, fields copied verbatim."""

    task_type: Any = None
    task_name: Any = None
    dataset_type: Any = None
    dataset_name: Any = None
    dataset_config: Any = None
    dataset_split: Any = None
    metric_type: Any = None
    metric_name: Any = None
    value: Any = None
    dataset_revision: Any = None
    metric_config: Any = None
    verified: Any = None
    source_name: Any = None
    source_url: Any = None
    path: str = ""  # where it was read: model-index[0].results[1].metrics[2]

    EXPECTED_KEYS = ("task_type", "task_name", "dataset_type", "dataset_name", "dataset_config",
                     "dataset_split", "metric_type", "metric_name", "value")

    def as_dict(self) -> dict[str, Any]:
        """The nine fields of EXPECTED_FACTS.json's ``eval_results`` entries."""
        return {k: getattr(self, k) for k in self.EXPECTED_KEYS}


@dataclass
class CardFacts:
    """What a model card's metadata says, verbatim except for list-normalisation."""

    license: Any = None
    pipeline_tag: Any = None
    library_name: Any = None
    datasets: list[str] = field(default_factory=list)
    base_model: list[str] = field(default_factory=list)
    base_model_relation: Any = None
    model_index_key: str | None = None
    model_index_name: Any = None
    eval_results: list[EvalFact] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)

    def as_expected(self) -> dict[str, Any]:
        """The facts in the shape of an EXPECTED_FACTS.json card entry."""
        return {
            "license": self.license,
            "pipeline_tag": self.pipeline_tag,
            "library_name": self.library_name,
            "datasets": list(self.datasets),
            "base_model": list(self.base_model),
            "base_model_relation": self.base_model_relation,
            "model_index_key": self.model_index_key,
            "model_index_name": self.model_index_name,
            "eval_results": [e.as_dict() for e in self.eval_results],
            "eval_result_count": len(self.eval_results),
        }


def string_list(value: Any, where: str, warn: Warn = _ignore) -> list[str]:
    """A field that should be a list of strings: a bare string becomes a one-element list,
    None an empty one; numbers are kept as text; anything else is dropped with a warning."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item.strip():
                out.append(item)
        elif isinstance(item, bool) or item is None:
            warn(f"{where}[{i}]: {item!r} is not a name; dropped")
        elif isinstance(item, int | float):
            out.append(str(item))
        else:
            warn(f"{where}[{i}]: a {type(item).__name__} is not a name; dropped")
    return out


def card_facts(card: dict[str, Any] | None, warn: Warn = _ignore) -> CardFacts:
    """The facts of a model card's metadata (see EXPECTED_FACTS.json's rules)."""
    facts = CardFacts()
    if not card:
        return facts
    facts.license = card.get("license")
    facts.pipeline_tag = card.get("pipeline_tag")
    facts.library_name = card.get("library_name")
    facts.datasets = string_list(card.get("datasets"), "datasets", warn)
    facts.base_model = string_list(card.get("base_model"), "base_model", warn)
    facts.base_model_relation = card.get("base_model_relation")
    facts.tags = string_list(card.get("tags"), "tags", warn)
    facts.language = string_list(card.get("language"), "language", warn)
    present = [k for k in MODEL_INDEX_KEYS if card.get(k) is not None]
    if len(present) > 1:
        warn("model-index: both 'model-index' and the legacy 'model_index' are given; "
             "read 'model-index'")
    if present:
        key = present[0]
        facts.model_index_key = key
        facts.model_index_name, facts.eval_results = parse_model_index(card[key], warn, key)
    return facts


def parse_model_index(model_index: Any, warn: Warn = _ignore, where: str = "model-index",
                      ) -> tuple[Any, list[EvalFact]]:
    """``(name of the first entry, [EvalFact per (result, metric)])`` of a model-index.

    Tolerates a mapping instead of a list, results without task or dataset, a singular
    ``metric:`` mapping, and skips (with a warning) entries that are not mappings.
    """
    entries: list[Any]
    if isinstance(model_index, list):
        entries = model_index
    elif isinstance(model_index, dict):
        warn(f"{where}: is a mapping, not a list of models; read as one entry")
        entries = [model_index]
    else:
        warn(f"{where}: a {type(model_index).__name__} is not a list of models; ignored")
        return None, []
    name: Any = None
    facts: list[EvalFact] = []
    for i, entry in enumerate(entries):
        path = f"{where}[{i}]"
        if not isinstance(entry, dict):
            warn(f"{path}: a {type(entry).__name__} is not a model entry; skipped")
            continue
        if i == 0:
            name = entry.get("name")
        results = entry.get("results")
        if results is None:
            warn(f"{path}: has no results")
            continue
        if isinstance(results, dict):
            warn(f"{path}.results: is a mapping, not a list; read as one result")
            results = [results]
        if not isinstance(results, list):
            warn(f"{path}.results: a {type(results).__name__} is not a list; skipped")
            continue
        for j, result in enumerate(results):
            facts.extend(_result_facts(result, f"{path}.results[{j}]", warn))
    return name, facts


def _section(value: Any, path: str, warn: Warn, text_key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        warn(f"{path}: is a string, not a mapping; read as its {text_key}")
        return {text_key: value}
    warn(f"{path}: a {type(value).__name__} is not a mapping; ignored")
    return {}


def _result_facts(result: Any, path: str, warn: Warn) -> list[EvalFact]:
    if not isinstance(result, dict):
        warn(f"{path}: a {type(result).__name__} is not a result; skipped")
        return []
    task = _section(result.get("task"), f"{path}.task", warn, "type")
    dataset = _section(result.get("dataset"), f"{path}.dataset", warn, "type")
    source = _section(result.get("source"), f"{path}.source", warn, "url")
    if "dataset" not in result:
        warn(f"{path}.dataset: missing; the results are kept without a dataset")
    metrics = result.get("metrics")
    if metrics is None and "metric" in result:
        metrics = result["metric"]
        mpath = f"{path}.metric"
    else:
        mpath = f"{path}.metrics"
    if isinstance(metrics, dict):
        metrics = [metrics]
    if metrics is None:
        warn(f"{mpath}: missing; the result has no values")
        return []
    if not isinstance(metrics, list):
        warn(f"{mpath}: a {type(metrics).__name__} is not a list of metrics; skipped")
        return []
    out: list[EvalFact] = []
    for k, metric in enumerate(metrics):
        mp = f"{mpath}[{k}]"
        if not isinstance(metric, dict):
            warn(f"{mp}: a {type(metric).__name__} is not a metric; skipped")
            continue
        out.append(EvalFact(
            task_type=task.get("type"), task_name=task.get("name"),
            dataset_type=dataset.get("type"), dataset_name=dataset.get("name"),
            dataset_config=dataset.get("config"), dataset_split=dataset.get("split"),
            metric_type=metric.get("type"), metric_name=metric.get("name"),
            value=metric.get("value"), dataset_revision=dataset.get("revision"),
            metric_config=metric.get("config"), verified=metric.get("verified"),
            source_name=source.get("name"), source_url=source.get("url"), path=mp))
    return out


# --- the newer .eval_results format (the API's evalResults) ----------------------------


@dataclass
class EvalResultFact:
    """One entry of a ``.eval_results/*.yaml`` file (the API's ``evalResults``)."""

    dataset_id: Any
    task_id: Any
    value: Any
    dataset_revision: Any = None
    date: Any = None
    source_url: Any = None
    source_name: Any = None
    source_user: Any = None
    source_org: Any = None
    notes: Any = None
    verified: bool = False
    path: str = ""


def parse_eval_results(items: Any, warn: Warn = _ignore, where: str = "evalResults",
                       ) -> list[EvalResultFact]:
    """Entries of the newer eval-results format, as the API lists them (``{filename, data}``
    wrappers, bare entries, or ``{filename, error}`` for files the Hub could not read)."""
    if items is None:
        return []
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        warn(f"{where}: a {type(items).__name__} is not a list; ignored")
        return []
    out: list[EvalResultFact] = []
    for i, item in enumerate(items):
        path = f"{where}[{i}]"
        if not isinstance(item, dict):
            warn(f"{path}: a {type(item).__name__} is not an entry; skipped")
            continue
        if item.get("error"):
            warn(f"{path}: the Hub could not read {item.get('filename') or 'the file'}: "
                 f"{item['error']}; skipped")
            continue
        data = item.get("data", item)
        if isinstance(data, list):
            out.extend(parse_eval_results(data, warn, f"{path}.data"))
            continue
        if not isinstance(data, dict):
            warn(f"{path}.data: a {type(data).__name__} is not an entry; skipped")
            continue
        dataset = _section(data.get("dataset"), f"{path}.dataset", warn, "id")
        source = _section(data.get("source"), f"{path}.source", warn, "url")
        if not dataset.get("id"):
            warn(f"{path}.dataset.id: missing; the result is kept without a dataset")
        if "value" not in data:
            warn(f"{path}.value: missing; skipped")
            continue
        out.append(EvalResultFact(
            dataset_id=dataset.get("id"), task_id=dataset.get("task_id"), value=data["value"],
            dataset_revision=dataset.get("revision"), date=data.get("date"),
            source_url=source.get("url"), source_name=source.get("name"),
            source_user=source.get("user"), source_org=source.get("org"),
            notes=data.get("notes"), verified=bool(data.get("verifyToken")), path=path))
    return out
