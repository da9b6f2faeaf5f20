"""Synthetic model zoos shaped like a Hugging Face crawl, at any size, streamed.

:func:`generate` yields the same record types the crawlers produce
(:mod:`mlmeta.records`), so a benchmark measures the whole ingest path:
mapping, validation, storing. Every record is a pure function of
``(seed, index, revision)``: the stream is deterministic, needs no memory of
earlier records (a base model is named by its index alone), and a re-crawl
with a fraction of records changed is the same call with ``changed=0.01``.

Shape (proportions chosen after the Hugging Face and timm data in
``../shared/data``; the point is realistic selectivity, not exact numbers):

- 92% hub-style models (``huggingface``), 8% image classifiers (``timm``) with
  ImageNet results and hardware benchmark rows (throughput, latency on a
  device, batch size, precision).
- Lineage on 55% of hub models: a power-law choice among a small pool of
  foundation models (fan-out in the thousands at 1M) or a recent model (which
  builds chains several levels deep); finetune 60%, adapter 20%, quantized 15%,
  merge 5% (two or three bases).
- Model-index evaluations on 12% of hub models (1-6 results, some in percent),
  training datasets on 30%, a label space (ImageNet or the model's own classes)
  on image classifiers.
- One hub dataset card (:class:`DatasetRecord`) per 25 models.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlmeta.records import (
    ConceptRef,
    DatasetRecord,
    DatasetSplit,
    EvaluationRecord,
    Hyperparameter,
    Lineage,
    ModelRecord,
    Record,
    SoftwareStack,
    SourceInfo,
)

HUB = "huggingface"
TIMM = "timm"
DATASET_EVERY = 25  # one dataset card per this many models

_EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
RETRIEVED = datetime(2026, 11, 1, tzinfo=UTC)

_TASKS = ["text-classification", "text-generation", "token-classification", "question-answering",
          "fill-mask", "feature-extraction", "automatic-speech-recognition", "summarization",
          "translation", "image-classification", "object-detection", "text-to-image",
          "image-to-text", "text2text-generation", "reinforcement-learning"]
_TASK_W = [18, 22, 6, 5, 4, 6, 5, 3, 3, 10, 3, 6, 2, 4, 3]
_LIBRARIES = ["transformers", "peft", "diffusers", "sentence-transformers", "timm",
              "stable-baselines3", "gguf", "adapter-transformers"]
_LIB_W = [60, 12, 6, 6, 4, 4, 6, 2]
_LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", "openrail", "llama2",
             "llama3", "other", "bsd-3-clause", "gpl-3.0", "creativeml-openrail-m"]
_LIC_W = [40, 20, 6, 5, 6, 4, 4, 8, 2, 1, 4]
_TEXT_DATASETS = ["glue", "sst2", "mnli", "squad", "squad_v2", "wikitext", "conll2003",
                  "samsum", "cnn_dailymail", "imdb", "yelp_review_full", "tweet_eval"]
_IMAGE_DATASETS = ["imagenet-1k", "imagenet-21k", "cifar10", "cifar100", "coco",
                   "beans", "food101"]
_AUDIO_DATASETS = ["common_voice", "librispeech_asr"]
_TEXT_METRICS = [("accuracy", ""), ("f1", ""), ("exact_match", ""), ("bleu", ""),
                 ("rouge", ""), ("perplexity", ""), ("loss", "")]
_IMAGE_EVAL_SETS = ["imagenet-1k", "imagenet-real", "imagenetv2", "imagenet-sketch",
                    "imagenet-a", "imagenet-r"]
_HARDWARE = ["rtx3090", "rtx4090", "a100", "v100", "i9-10940x", "jetson-nano", "pixel-7"]
_PRECISIONS = ["fp32", "amp", "bf16", "int8"]
_ARCHS = ["resnet50", "resnet18", "resnet101", "vit_base_patch16_224", "mobilenetv2_100",
          "inception_v3", "convnext_tiny", "efficientnet_b0", "deit_small_patch16_224",
          "regnety_040"]
_ARCH_FAMILY = {"resnet50": "resnet", "resnet18": "resnet", "resnet101": "resnet",
                "vit_base_patch16_224": "vit", "mobilenetv2_100": "mobilenet",
                "inception_v3": "inception", "convnext_tiny": "convnext",
                "efficientnet_b0": "efficientnet", "deit_small_patch16_224": "deit",
                "regnety_040": "regnet"}
_HUB_BASES = ["bert-base-uncased", "roberta-base", "gpt2", "t5-small", "llama-2-7b",
              "mistral-7b", "whisper-small", "vit-base-patch16-224", "stable-diffusion-v1-5",
              "distilbert-base-uncased"]
_RELATIONS = ["finetune", "adapter", "quantized", "merge"]
_REL_W = [60, 20, 15, 5]


@dataclass(frozen=True)
class ZooShape:
    """Knobs of the generated zoo; the defaults are the realistic shape described above."""

    timm_share: float = 0.08
    lineage_share: float = 0.55
    foundation_pull: float = 0.5  # of derived models, the share whose base is a foundation model
    eval_share: float = 0.12
    trained_on_share: float = 0.30


def _rng(seed: int, index: int, salt: int = 0) -> random.Random:
    return random.Random((seed * 1_000_003 + index) * 7 + salt)


def foundation_count(n_models: int) -> int:
    """How many foundation models the zoo has: the first indices, about 1 per 1000."""
    return max(10, n_models // 1000)


def is_timm(seed: int, index: int, shape: ZooShape = ZooShape()) -> bool:
    return index >= 10 and _rng(seed, index, 1).random() < shape.timm_share


def model_source_id(seed: int, index: int, shape: ZooShape = ZooShape()) -> str:
    """The source id of the model at ``index`` (needed to name bases without state)."""
    if index < len(_HUB_BASES):
        return f"synth-foundation/{_HUB_BASES[index]}"
    if is_timm(seed, index, shape):
        r = _rng(seed, index, 2)
        return f"{r.choice(_ARCHS)}.synth_{index}"
    return f"synth-org-{index % 9973}/model-{index}"


def model_key(seed: int, index: int, shape: ZooShape = ZooShape()) -> str:
    zoo = TIMM if is_timm(seed, index, shape) else HUB
    return f"{zoo}:{model_source_id(seed, index, shape)}"


def _revision(seed: int, index: int, changed: float, change_seed: int) -> int:
    if changed <= 0:
        return 0
    return 1 if _rng(seed + change_seed, index, 99).random() < changed else 0


def _version(seed: int, index: int, revision: int) -> str:
    return f"{_rng(seed, index, 50 + revision).getrandbits(160):040x}"


def _pick_base(r: random.Random, index: int, n_found: int) -> int:
    if r.random() < 0.5:
        # Zipf-like: the first foundations take most of the fan-out.
        k = min(int(r.paretovariate(1.1)) - 1, n_found - 1)
        return min(k, index - 1)
    back = int(r.expovariate(1 / 50)) + 1
    return max(0, index - back)


def model_record(seed: int, index: int, n_models: int, revision: int = 0,
                 shape: ZooShape = ZooShape()) -> ModelRecord:
    """The model at ``index`` of a zoo of ``n_models`` (revision 1 = changed since revision 0)."""
    r = _rng(seed, index)
    source_id = model_source_id(seed, index, shape)
    created = _EPOCH + timedelta(minutes=index * 3 % 1_500_000)
    src = SourceInfo(system=TIMM if is_timm(seed, index, shape) else HUB,
                     url=f"https://huggingface.co/{source_id}",
                     version=_version(seed, index, revision), retrieved=RETRIEVED)
    if src.system == TIMM:
        return _timm_model(r, source_id, src, created, revision)
    task = r.choices(_TASKS, _TASK_W)[0]
    rec = ModelRecord(
        source_id=source_id, source=src, name=source_id.rsplit("/", 1)[-1],
        license=r.choices(_LICENSES, _LIC_W)[0] if r.random() < 0.7 else None,
        tasks=[task] if r.random() < 0.85 else [],
        library=r.choices(_LIBRARIES, _LIB_W)[0],
        tags=[f"tag-{r.randrange(500)}" for _ in range(r.randrange(2, 7))] + [task],
        created=created, modified=created + timedelta(days=r.randrange(400) + 30 * revision),
        downloads=int(r.paretovariate(0.8)) + 100 * revision, likes=int(r.paretovariate(1.5)) - 1,
    )
    n_found = foundation_count(n_models)
    if index >= n_found and r.random() < shape.lineage_share:
        rel = r.choices(_RELATIONS, _REL_W)[0]
        bases = {_pick_base(r, index, n_found) for _ in range(r.randrange(2, 4) if rel == "merge"
                                                               else 1)}
        rec.derived_from = [Lineage(model_key(seed, b, shape), rel) for b in sorted(bases)]
    if r.random() < shape.trained_on_share:
        pool = _IMAGE_DATASETS if task.startswith(("image", "object")) else (
            _AUDIO_DATASETS if "speech" in task else _TEXT_DATASETS)
        rec.trained_on = sorted({r.choice(pool) for _ in range(r.randrange(1, 3))})
        # Some text models name a hub dataset card of the zoo (one that precedes them, so it
        # exists at every size); a separate stream keeps the draws above unchanged.
        x = _rng(seed, index, 11)
        if pool is _TEXT_DATASETS and index >= DATASET_EVERY and x.random() < 0.2:
            rec.trained_on.append(dataset_source_id(x.randrange(index // DATASET_EVERY)))
    if r.random() < shape.eval_share:
        for _ in range(r.randrange(1, 7)):
            metric, _u = r.choice(_TEXT_METRICS)
            pct = r.random() < 0.3
            v = r.uniform(0.3, 0.99)
            rec.evaluations.append(EvaluationRecord(
                metric=metric, value=round(v * 100, 2) if pct else round(v, 4),
                unit="%" if pct else None, dataset=r.choice(_TEXT_DATASETS), split="test",
                task=task, reported_by="model card"))
    if task == "image-classification":
        if r.random() < 0.5:
            rec.label_space = "imagenet-1k"
        else:
            rec.concepts = [ConceptRef(f"class-{k}", str(k), k) for k in range(r.randrange(2, 11))]
    if r.random() < 0.2:
        rec.hyperparameters = [Hyperparameter("learning_rate", r.choice([1e-5, 2e-5, 5e-5])),
                               Hyperparameter("num_epochs", r.randrange(1, 10))]
    if revision:
        rec.description = f"revised card {revision}"
    return rec


def _timm_model(r: random.Random, source_id: str, src: SourceInfo, created: datetime,
                revision: int) -> ModelRecord:
    arch = source_id.split(".", 1)[0]
    rec = ModelRecord(
        source_id=source_id, source=src, name=source_id, license="apache-2.0",
        architecture=arch, architecture_family=_ARCH_FAMILY[arch],
        parameter_count=r.randrange(3_000_000, 90_000_000), flops=round(r.uniform(0.3, 20), 2),
        tasks=["image-classification"], library="timm", tags=["image-classification", "timm"],
        trained_on=["imagenet-1k"], label_space="imagenet-1k", created=created,
        modified=created + timedelta(days=30 * revision),
        software=[SoftwareStack("pytorch", version=r.choice(["2.1.0", "2.3.1", "2.5.0"]))],
    )
    top1 = r.uniform(60, 88)
    for ds in r.sample(_IMAGE_EVAL_SETS, r.randrange(1, 4)):
        drop = 0 if ds == "imagenet-1k" else r.uniform(2, 40)
        rec.evaluations.append(EvaluationRecord("top1", round(top1 - drop, 3), unit="%", dataset=ds,
                                                split="validation", image_size=224))
        rec.evaluations.append(EvaluationRecord("top5", round(min(99.9, top1 - drop + 15), 3),
                                                unit="%", dataset=ds, split="validation"))
    for hw in r.sample(_HARDWARE, r.randrange(1, 3)):
        bs = r.choice([1, 32, 256])
        prec = r.choice(_PRECISIONS)
        size = 224 if arch != "inception_v3" else 299
        rec.evaluations.append(EvaluationRecord(
            "throughput", round(r.uniform(50, 5000), 2), unit="samples/s", hardware=hw,
            batch_size=bs, precision=prec, kind="measured", image_size=size))
        rec.evaluations.append(EvaluationRecord(
            "latency", round(r.uniform(0.5, 200), 3), unit="ms", hardware=hw, batch_size=bs,
            precision=prec, kind="measured", image_size=size))
    return rec


def dataset_record(seed: int, index: int, revision: int = 0) -> DatasetRecord:
    """The ``index``-th dataset card of the zoo."""
    r = _rng(seed, index, 7)
    sid = dataset_source_id(index)
    # Annotation facts on a quarter of the cards (a separate stream: the draws below keep
    # their values); crowdsourced and expert annotations give an annotator count.
    x = _rng(seed, index, 12)
    creators: list[str] = []
    annotators = None
    if x.random() < 0.25:
        creators = [x.choices(["crowdsourced", "expert-generated", "machine-generated", "found"],
                              [4, 2, 2, 2])[0]]
        if creators[0] in ("crowdsourced", "expert-generated"):
            annotators = int(x.paretovariate(1.0) * 10)
    return DatasetRecord(
        source_id=sid, name=sid.rsplit("/", 1)[-1],
        source=SourceInfo(system=HUB, url=f"https://huggingface.co/datasets/{sid}",
                          version=_version(seed, -index - 1, revision), retrieved=RETRIEVED),
        license=r.choices(_LICENSES, _LIC_W)[0], size_category=r.choice(["1K<n<10K", "10K<n<100K"]),
        languages=[r.choice(["en", "de", "fr", "zh"])], tasks=[r.choices(_TASKS, _TASK_W)[0]],
        source_datasets=[r.choice(_TEXT_DATASETS)] if r.random() < 0.3 else [],
        splits=[DatasetSplit("train", r.randrange(1000, 100000)),
                DatasetSplit("test", r.randrange(100, 10000))],
        downloads=int(r.paretovariate(0.9)),
        annotation_creators=creators, annotator_count=annotators,
    )


def dataset_source_id(index: int) -> str:
    """The hub id of the ``index``-th dataset card."""
    return f"synth-data-{index % 997}/dataset-{index}"


def generate(n_models: int, seed: int = 42, *, changed: float = 0.0, change_seed: int = 1,
             shape: ZooShape = ZooShape(), datasets: bool = True) -> Iterator[Record]:
    """Stream the records of a zoo of ``n_models`` models (plus one dataset card per
    :data:`DATASET_EVERY` models when ``datasets``).

    :param changed: the fraction of records whose source changed since the first crawl
        (a new version, more downloads, a revised description); 0 reproduces it exactly.
    :raises ValueError: for a negative size or a fraction outside 0..1.
    """
    if n_models < 0 or not 0 <= changed <= 1:
        raise ValueError("n_models must be >= 0 and changed within 0..1")
    for i in range(n_models):
        yield model_record(seed, i, n_models, _revision(seed, i, changed, change_seed), shape)
        if datasets and i % DATASET_EVERY == DATASET_EVERY - 1:
            j = i // DATASET_EVERY
            yield dataset_record(seed, j, _revision(seed, -j - 1, changed, change_seed))


def count_records(n_models: int, datasets: bool = True) -> int:
    """How many records :func:`generate` yields for ``n_models``."""
    return n_models + (n_models // DATASET_EVERY if datasets else 0)


def probe_params(seed: int = 42) -> dict[str, str]:
    """Parameter values that hit generated entities, for saved queries whose defaults match
    nothing in a synthetic zoo. Keys are parameter names as saved queries spell them."""
    base = model_key(seed, 0)
    from mlmeta.mapping import model_iri

    model = model_iri(base, HUB).value
    return {
        "model": model, "base": model, "model_iri": model, "root": model, "iri": model,
        "key": base, "model_key": base, "id": base, "source_id": base.split(":", 1)[1],
        "dataset": "imagenet-1k", "metric": "top1", "task": "image-classification",
        "hardware": "rtx3090", "device": "rtx3090", "zoo": HUB, "license": "apache-2.0",
        "architecture": "resnet50", "family": "resnet", "label_space": "imagenet-1k",
        "label": "class-1", "concept": "class-1", "text": "model-1", "name": "model-1",
        "q": "model-1", "search": "model-1",
    }
