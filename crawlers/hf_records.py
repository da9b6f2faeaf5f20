"""Hugging Face API bodies (and card metadata) to mlmeta records. Pure, no network.

:func:`model_record` turns the JSON of ``GET /api/models/{id}`` (or one item of
the list endpoint with ``expand=``) into a :class:`~mlmeta.records.ModelRecord`;
:func:`dataset_record` does the same for datasets. Problems are reported through
``warn`` with the field they concern and never raise.

Decisions (documented here because the cards do not settle them):

- The evaluation dataset is ``dataset.type`` (the spec says: a Hub dataset id),
  even when it does not look like one (``"MIX 6"``, ``"train.csv"``): it is
  kept verbatim with a warning, and normalisation slugs it. ``dataset.name``
  is used only when the type is missing; it is a display name
  (``"Common Voice pt"``) and would be a worse identifier.
- The metric is ``metric.type`` verbatim (the name when the type is missing);
  a type and name that name two different known metrics are warned about.
- Base models: the card's ``base_model`` ids and the Hub's
  ``base_model:<relation>:<id>`` tags. Local paths (``./checkpoint``,
  ``/home/...``) are not model ids and are dropped with a warning. The relation
  is the card's ``base_model_relation``, else the tag's, else what the repo's
  tags show (gguf, or a -GGUF repo: quantized, peft or lora: adapter, several card bases:
  merge), else finetune, the Hub's default.
- An entry of the newer ``.eval_results`` format names its benchmark
  ``task_id`` and no metric: the task id is the metric.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mlmeta.normalize import table
from mlmeta.records import (
    ConceptRef,
    DatasetRecord,
    DatasetSplit,
    EvaluationRecord,
    Lineage,
    ModelRecord,
    SourceInfo,
)

from .hf_cards import (
    CardFacts,
    EvalFact,
    EvalResultFact,
    Warn,
    card_facts,
    parse_eval_results,
    parse_model_index,
    string_list,
)

HUB_SITE = "https://huggingface.co"
HUB_RELATIONS = ("finetune", "adapter", "quantized", "merge")
_REPO_ID_RE = re.compile(r"^(?:[\w][\w.\-]*/)?[\w][\w.\-]{0,95}$")
_FILE_RE = re.compile(r"\.(csv|tsv|json|jsonl|txt|parquet|arrow|zip|tar|gz|pkl|npy)$", re.I)
_URL_ID_RE = re.compile(r"^https?://(?:www\.)?huggingface\.co/(?:datasets/)?([^/?#]+(?:/[^/?#]+)?)")


def _ignore(_: str) -> None:
    return None


def is_repo_id(text: str) -> bool:
    """True for a plausible Hub repo id: ``name`` or ``org/name``, no spaces or paths."""
    return bool(_REPO_ID_RE.match(text)) and ".." not in text and "--" not in text


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        return str(value)
    return None


def parse_time(value: Any, where: str, warn: Warn = _ignore) -> datetime | None:
    """An ISO timestamp from the API (``2023-09-05T15:27:12.000Z``), or None with a warning."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    warn(f"{where}: {value!r} is not an ISO date; dropped")
    return None


def version_of(info: dict[str, Any]) -> str | None:
    """The source version of a repo: its commit sha, else its lastModified time."""
    sha = info.get("sha")
    if isinstance(sha, str) and sha:
        return sha
    lm = info.get("lastModified")
    return lm if isinstance(lm, str) and lm else None


def repo_id_of(info: dict[str, Any]) -> str | None:
    """The repo id of an API body (``id``; 2022 list items only have ``modelId``)."""
    for key in ("id", "modelId"):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _tag_values(tags: list[str], prefix: str) -> list[str]:
    return [t[len(prefix):] for t in tags if t.startswith(prefix) and len(t) > len(prefix)]


# --- models ----------------------------------------------------------------------------


def model_record(info: dict[str, Any], card: dict[str, Any] | None = None,
                 config: dict[str, Any] | None = None, warn: Warn = _ignore,
                 retrieved: datetime | None = None) -> ModelRecord | None:
    """A ModelRecord from a model's API body.

    :param card: the card metadata when it was read from the README; by default the
        body's ``cardData``.
    :param config: the repo's ``config.json`` when it was downloaded (for ``id2label``).
    :returns: None (with a warning) when the body has no repo id.
    """
    repo_id = repo_id_of(info)
    if repo_id is None:
        warn("id: the API body has no repo id; skipped")
        return None
    if card is None:
        raw_card = info.get("cardData")
        if raw_card is not None and not isinstance(raw_card, dict):
            warn(f"cardData: a {type(raw_card).__name__} is not a mapping; ignored")
        card = raw_card if isinstance(raw_card, dict) else None
    facts = card_facts(card, warn)
    if facts.model_index_key is None and info.get("model-index"):
        facts.model_index_key = "model-index"
        facts.model_index_name, facts.eval_results = parse_model_index(
            info["model-index"], warn, "model-index")
    tags = string_list(info.get("tags"), "tags", warn)
    all_tags = _dedupe(tags + facts.tags)
    rec = ModelRecord(
        source_id=repo_id,
        source=SourceInfo("huggingface", url=f"{HUB_SITE}/{repo_id}", version=version_of(info),
                          retrieved=retrieved),
        tags=all_tags,
    )
    author = _text(info.get("author"))
    if author:
        rec.authors = [author]
    rec.license = _license(facts.license, tags, warn)
    rec.tasks = _dedupe([t for t in (_text(info.get("pipeline_tag")),
                                     _text(facts.pipeline_tag)) if t])
    rec.library = _text(info.get("library_name")) or _text(facts.library_name)
    rec.trained_on = _dedupe(facts.datasets + _tag_values(tags, "dataset:"))
    rec.derived_from = _lineage(repo_id, facts, tags, warn)
    rec.created = parse_time(info.get("createdAt"), "createdAt", warn)
    rec.modified = parse_time(info.get("lastModified"), "lastModified", warn)
    for key, attr in (("downloads", "downloads"), ("likes", "likes")):
        value = info.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(rec, attr, value)
        elif value is not None:
            warn(f"{key}: {value!r} is not a count; dropped")
    gated = info.get("gated")
    if isinstance(gated, bool | str):
        rec.gated = gated
    rec.parameter_count = _parameters(info.get("safetensors"), warn)
    cfg = info.get("config") if isinstance(info.get("config"), dict) else None
    if cfg and isinstance(cfg.get("model_type"), str):
        rec.architecture_family = cfg["model_type"]
    arxiv = _tag_values(tags, "arxiv:")
    if arxiv and re.match(r"^[\w./-]+$", arxiv[0]):
        rec.paper_url = f"https://arxiv.org/abs/{arxiv[0]}"
    labels = (config or {}).get("id2label") if config else None
    if labels is None and cfg:
        labels = cfg.get("id2label")
    rec.concepts = concepts_from_id2label(labels, warn) if labels is not None else []
    evaluations = [e for f in facts.eval_results if (e := evaluation_from_fact(f, warn))]
    for r in parse_eval_results(info.get("evalResults"), warn):
        e = evaluation_from_result(r, warn)
        if e is not None:
            evaluations.append(e)
    rec.evaluations = evaluations
    return rec


def _license(value: Any, tags: list[str], warn: Warn) -> str | list[str] | None:
    if value is None:
        from_tags = _tag_values(tags, "license:")
        return from_tags[0] if len(from_tags) == 1 else (from_tags or None)
    if isinstance(value, str):
        return value.strip() or None
    items = string_list(value, "license", warn)
    if not isinstance(value, list):
        warn(f"license: a {type(value).__name__} is not a licence id; kept as text")
    return items or None


def _parameters(st: Any, warn: Warn) -> int | None:
    if st is None:
        return None
    total = st.get("total") if isinstance(st, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    if isinstance(st, dict) and isinstance(st.get("parameters"), dict):
        counts = [v for v in st["parameters"].values() if isinstance(v, int)]
        if counts:
            return sum(counts)
    warn("safetensors.total: no parameter count; dropped")
    return None


def base_model_id(raw: str, where: str, warn: Warn = _ignore) -> str | None:
    """A base model reference as a repo id, or None (with a warning) for local paths and
    other things that are not ids. Hub URLs are reduced to their id."""
    text = raw.strip()
    m = _URL_ID_RE.match(text)
    if m:
        warn(f"{where}: {raw!r} is a URL; read as the repo id {m.group(1)!r}")
        text = m.group(1)
    if text.startswith(("/", "./", "../", "~", ".\\")) or "\\" in text or re.match(
            r"^[A-Za-z]:", text):
        warn(f"{where}: {raw!r} is a local path, not a model id; dropped")
        return None
    if not is_repo_id(text):
        warn(f"{where}: {raw!r} is not a Hub model id; dropped")
        return None
    return text


def _lineage(repo_id: str, facts: CardFacts, tags: list[str], warn: Warn) -> list[Lineage]:
    tag_relation: dict[str, str] = {}
    tag_bases: list[str] = []
    for value in _tag_values(tags, "base_model:"):
        rel, sep, rest = value.partition(":")
        if sep and rel in HUB_RELATIONS and rest:
            tag_relation.setdefault(rest, rel)
            tag_bases.append(rest)
        elif not sep:
            tag_bases.append(value)
    card_rel = _text(facts.base_model_relation)
    if card_rel is not None and card_rel not in HUB_RELATIONS:
        warn(f"base_model_relation: {card_rel!r} is not one of {', '.join(HUB_RELATIONS)}; "
             "ignored")
        card_rel = None
    card_bases = [b for i, raw in enumerate(facts.base_model)
                  if (b := base_model_id(raw, f"base_model[{i}]", warn))]
    tag_bases = _dedupe([b for b in tag_bases if is_repo_id(b)])
    if tag_bases:
        # The tags hold the Hub's resolution of the card's ids (renamed repos included).
        for i, b in enumerate(card_bases):
            if b not in tag_bases:
                warn(f"base_model[{i}]: {b!r} is not among the Hub's resolved base models "
                     f"({', '.join(tag_bases)}); the Hub's ids are used")
        card_bases = [b for b in card_bases if b in tag_bases]
    bases = _dedupe(card_bases + tag_bases)
    lower = {t.lower() for t in tags}
    if "gguf" in lower or repo_id.lower().endswith("gguf"):
        guess = "quantized"
    elif lower & {"peft", "lora"}:
        guess = "adapter"
    elif len(card_bases) > 1:
        guess = "merge"
    else:
        guess = "finetune"
    out = []
    for b in bases:
        raw = (card_rel if b in card_bases else None) or tag_relation.get(b)
        out.append(Lineage(base=b, relation=raw or guess, raw_relation=raw))
    return out


def concepts_from_id2label(id2label: Any, warn: Warn = _ignore) -> list[ConceptRef]:
    """The label space of a classifier: ``{"0": "cat", ...}`` as ConceptRefs in index order."""
    if not isinstance(id2label, dict):
        warn(f"config.id2label: a {type(id2label).__name__} is not a mapping; ignored")
        return []
    out: list[tuple[int, ConceptRef]] = []
    for key, label in id2label.items():
        try:
            index = int(str(key))
        except ValueError:
            warn(f"config.id2label: key {key!r} is not a class index; skipped")
            continue
        text = _text(label)
        if text is None:
            warn(f"config.id2label[{key}]: {label!r} is not a label; skipped")
            continue
        out.append((index, ConceptRef(text, class_id=str(index), index=index)))
    return [c for _, c in sorted(out, key=lambda p: p[0])]


def evaluation_from_fact(f: EvalFact, warn: Warn = _ignore) -> EvaluationRecord | None:
    """One model-index (result, metric) pair as an EvaluationRecord, or None with a warning."""
    mtype, mname = _text(f.metric_type), _text(f.metric_name)
    metric = mtype or mname
    if metric is None:
        warn(f"{f.path}: neither a metric type nor a name; skipped")
        return None
    if mtype is None:
        warn(f"{f.path}.type: missing; the metric name {mname!r} is used")
    elif mtype.lower() in ("none", "null", "n/a", "-"):
        warn(f"{f.path}.type: {mtype!r} is a placeholder, not a metric; kept as given")
    elif mname is not None:
        t_entry, n_entry = table("metric").lookup(mtype), table("metric").lookup(mname)
        if t_entry is not None and n_entry is not None and t_entry.id != n_entry.id:
            warn(f"{f.path}: type {mtype!r} and name {mname!r} name different metrics; "
                 "the type is used")
    value = f.value
    if value is None:
        warn(f"{f.path}.value: missing; skipped")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        warn(f"{f.path}.value: a {type(value).__name__} is not a value; skipped")
        return None
    return EvaluationRecord(
        metric=metric, value=value, dataset=_eval_dataset(f, warn),
        dataset_config=_text(f.dataset_config), split=_text(f.dataset_split),
        task=_text(f.task_type) or _text(f.task_name), metric_name=mname,
        source_url=_text(f.source_url), reported_by=_text(f.source_name))


def _eval_dataset(f: EvalFact, warn: Warn) -> str | None:
    dtype, dname = _text(f.dataset_type), _text(f.dataset_name)
    where = f.path.rsplit(".metric", 1)[0] + ".dataset"
    if dtype is None:
        if dname is not None:
            warn(f"{where}.type: missing; the dataset name {dname!r} is used")
        return dname
    if _FILE_RE.search(dtype):
        warn(f"{where}.type: {dtype!r} is a file name, not a Hub dataset id; kept as given")
    elif not is_repo_id(dtype):
        warn(f"{where}.type: {dtype!r} is not a Hub dataset id; kept as given")
    return dtype


def evaluation_from_result(r: EvalResultFact, warn: Warn = _ignore) -> EvaluationRecord | None:
    """One ``.eval_results`` entry as an EvaluationRecord (the benchmark task is the metric)."""
    value = r.value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        warn(f"{r.path}.value: {value!r} is not a value; skipped")
        return None
    task_id = _text(r.task_id)
    if task_id is None:
        warn(f"{r.path}.dataset.task_id: missing; the metric is called 'score'")
    notes = _text(r.notes)
    name = task_id or "score"
    return EvaluationRecord(
        metric=name, value=value, dataset=_text(r.dataset_id),
        metric_name=f"{name} ({notes})" if notes else name, date=_text(r.date),
        source_url=_text(r.source_url),
        reported_by=_text(r.source_name) or _text(r.source_org) or _text(r.source_user))


# --- datasets --------------------------------------------------------------------------


def _flat(value: Any, where: str, warn: Warn) -> list[str]:
    """Card fields that are a string, a list, or (legacy cards) a mapping per config."""
    if isinstance(value, dict):
        out: list[str] = []
        for k, v in value.items():
            out.extend(string_list(v, f"{where}.{k}", warn))
        return _dedupe(out)
    return string_list(value, where, warn)


def dataset_record(info: dict[str, Any], card: dict[str, Any] | None = None,
                   warn: Warn = _ignore, retrieved: datetime | None = None,
                   ) -> DatasetRecord | None:
    """A DatasetRecord from a dataset's API body (and its card metadata).

    Legacy keys (``languages``, ``licenses``) and per-config mappings are read too.
    :returns: None (with a warning) when the body has no id.
    """
    ds_id = repo_id_of(info)
    if ds_id is None:
        warn("id: the API body has no dataset id; skipped")
        return None
    if card is None:
        raw_card = info.get("cardData")
        if raw_card is not None and not isinstance(raw_card, dict):
            warn(f"cardData: a {type(raw_card).__name__} is not a mapping; ignored")
        card = raw_card if isinstance(raw_card, dict) else {}
    tags = string_list(info.get("tags"), "tags", warn)
    rec = DatasetRecord(
        source_id=ds_id,
        source=SourceInfo("huggingface", url=f"{HUB_SITE}/datasets/{ds_id}",
                          version=version_of(info), retrieved=retrieved),
        tags=tags,
    )
    rec.name = _text(card.get("pretty_name"))
    lic_key = "license" if "license" in card else "licenses"
    licenses = _flat(card.get(lic_key), lic_key, warn) or _tag_values(tags, "license:")
    rec.license = licenses[0] if len(licenses) == 1 else (licenses or None)
    lang_key = "language" if "language" in card else "languages"
    rec.languages = _flat(card.get(lang_key), lang_key, warn)
    sizes = _flat(card.get("size_categories"), "size_categories", warn)
    rec.size_category = sizes[0] if sizes else None
    rec.annotation_creators = _flat(card.get("annotations_creators"), "annotations_creators",
                                    warn)
    rec.language_creators = _flat(card.get("language_creators"), "language_creators", warn)
    rec.multilinguality = _flat(card.get("multilinguality"), "multilinguality", warn)
    rec.tasks = _flat(card.get("task_categories"), "task_categories", warn)
    rec.task_ids = _flat(card.get("task_ids"), "task_ids", warn)
    rec.source_datasets = _source_datasets(
        _flat(card.get("source_datasets"), "source_datasets", warn))
    pwc = card.get("paperswithcode_id", info.get("paperswithcode_id"))
    rec.paperswithcode_id = _text(pwc)
    rec.splits = _splits(card.get("dataset_info"), warn)
    rec.modified = parse_time(info.get("lastModified"), "lastModified", warn)
    downloads = info.get("downloads")
    if isinstance(downloads, int) and not isinstance(downloads, bool):
        rec.downloads = downloads
    return rec


def _source_datasets(values: list[str]) -> list[str]:
    """``original`` means none; ``extended|glue`` means glue."""
    out = []
    for v in values:
        if v in ("original", "extended"):
            continue
        out.append(v.split("|", 1)[1] if v.startswith("extended|") else v)
    return _dedupe([v for v in out if v])


def _splits(info: Any, warn: Warn) -> list[DatasetSplit]:
    configs = info if isinstance(info, list) else [info] if isinstance(info, dict) else []
    if info is not None and not configs:
        warn(f"dataset_info: a {type(info).__name__} is not a mapping; ignored")
    many = len(configs) > 1
    out: list[DatasetSplit] = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, dict):
            warn(f"dataset_info[{i}]: not a mapping; ignored")
            continue
        splits = cfg.get("splits")
        if isinstance(splits, dict):  # older cards: {name: {num_examples: ...}}
            splits = [{"name": k, **(v if isinstance(v, dict) else {})} for k, v in splits.items()]
        if not isinstance(splits, list):
            continue
        prefix = f"{cfg.get('config_name')}/" if many and cfg.get("config_name") else ""
        for sp in splits:
            if not isinstance(sp, dict) or not _text(sp.get("name")):
                continue
            n = sp.get("num_examples")
            out.append(DatasetSplit(f"{prefix}{_text(sp.get('name'))}",
                                    n if isinstance(n, int) and not isinstance(n, bool) else None))
    return out
