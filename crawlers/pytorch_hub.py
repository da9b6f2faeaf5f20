"""Crawl PyTorch Hub: the model pages of the pytorch/hub repository.

Each page (``<owner>_<repo>_<model>.md``) has a YAML front matter (title, summary,
category, author, tags, github-link) and a Markdown body with ``torch.hub.load`` calls
and, on many pages, a table of reported top-1 / top-5 errors or accuracies.

Records: one :class:`ModelRecord` per model entry point a page loads (``resnet50`` on
``pytorch_vision_resnet.md``), ``source_id`` ``<page>/<entry point>``, so that each
can carry its own architecture (``resnet50`` -> ResNet-50) and its own table row.
Entry points are read from every ``torch.hub.load`` call, commented-out variants
included; a variable entry point is resolved through its string assignments on the
page. Helper entry points (``*_utils``, ``transforms``, ``tokenizer``, ``config``) are
not models. A page that loads no model entry point gives one record for the page.
The front matter goes to every record of the page: summary -> description, author,
tags and category -> tags, github-link -> code repository; ``trained_on`` is what the
summary says the models were (pre)trained on.

Table rows become reported evaluations (percent) of the entry point they name, on the
dataset the sentence before the table names; a top-1 error also gives the top-1
accuracy it implies (100 - error, labelled so). A row that names no entry point of
the page is reported with its line number. ``imagenet_classes.txt`` is not a page: it
is the label file of the models whose pages download it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import click
import yaml

from mlmeta.clikit import State, pass_state
from mlmeta.errors import CrawlError, SourceNotFound
from mlmeta.normalize import parse_number, table
from mlmeta.records import EvaluationRecord, ModelIO, ModelRecord, SoftwareStack, SourceInfo

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
    sha256,
)

ZOO = "pytorch-hub"
DEFAULT_SOURCE = "https://raw.githubusercontent.com/pytorch/hub/master/"
PAGE_URL = "https://pytorch.org/hub/{}/"
LABELS = "imagenet_classes.txt"
LABELS_URL = "https://raw.githubusercontent.com/pytorch/hub/master/imagenet_classes.txt"

# The model pages of pytorch/hub@c7895df7 (a URL has no directory listing).
KNOWN_PAGES = (
    "datvuthanh_hybridnets.md", "facebookresearch_WSL-Images_resnext.md",
    "facebookresearch_pytorch-gan-zoo_dcgan.md", "facebookresearch_pytorch-gan-zoo_pgan.md",
    "facebookresearch_pytorchvideo_resnet.md", "facebookresearch_pytorchvideo_slowfast.md",
    "facebookresearch_pytorchvideo_x3d.md",
    "facebookresearch_semi-supervised-ImageNet1K-models_resnext.md",
    "huggingface_pytorch-transformers.md", "hustvl_yolop.md", "intelisl_midas_v2.md",
    "mateuszbuda_brain-segmentation-pytorch_unet.md", "nicolalandro_ntsnet-cub200_ntsnet.md",
    "nvidia_deeplearningexamples_efficientnet.md", "nvidia_deeplearningexamples_fastpitch.md",
    "nvidia_deeplearningexamples_gpunet.md", "nvidia_deeplearningexamples_hifigan.md",
    "nvidia_deeplearningexamples_resnet50.md", "nvidia_deeplearningexamples_resnext.md",
    "nvidia_deeplearningexamples_se-resnext.md", "nvidia_deeplearningexamples_ssd.md",
    "nvidia_deeplearningexamples_tacotron2.md", "nvidia_deeplearningexamples_waveglow.md",
    "pytorch_fairseq_roberta.md", "pytorch_fairseq_translation.md", "pytorch_vision_alexnet.md",
    "pytorch_vision_deeplabv3_resnet101.md", "pytorch_vision_densenet.md",
    "pytorch_vision_fcn_resnet101.md", "pytorch_vision_ghostnet.md",
    "pytorch_vision_googlenet.md", "pytorch_vision_hardnet.md", "pytorch_vision_ibnnet.md",
    "pytorch_vision_inception_v3.md", "pytorch_vision_meal_v2.md",
    "pytorch_vision_mobilenet_v2.md", "pytorch_vision_once_for_all.md",
    "pytorch_vision_proxylessnas.md", "pytorch_vision_resnest.md", "pytorch_vision_resnet.md",
    "pytorch_vision_resnext.md", "pytorch_vision_shufflenet_v2.md", "pytorch_vision_snnmlp.md",
    "pytorch_vision_squeezenet.md", "pytorch_vision_vgg.md", "pytorch_vision_wide_resnet.md",
    "sigsep_open-unmix-pytorch_umx.md", "simplenet.md", "snakers4_silero-models_stt.md",
    "snakers4_silero-models_tts.md", "snakers4_silero-vad_vad.md", "ultralytics_yolov5.md",
)
_NOT_PAGES = {"README.md", "PROVENANCE.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"}
_HELPERS = {"transforms", "tokenizer", "config"}

_FRONT_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_LOAD_RE = re.compile(r"torch\.hub\.load\s*\(")
_COMMENT_RE = re.compile(r"^(\s*)#\s?", re.M)
_TRAINED_RE = re.compile(r"\b(?:pre-?)?trained on (?:the )?([A-Z][\w-]*(?: \d+[A-Za-z]*)?)")
_DATASETS = ("ImageNet", "Kinetics", "COCO", "CIFAR-10", "CIFAR-100", "Cityscapes", "BDD100K")
_TOPK_RE = re.compile(r"top[\s_-]*([15])\b", re.I)
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class EntryPoint:
    """A ``torch.hub.load(repo, entry)`` call: the repository (``owner/repo``), its ref
    (``v0.10.0``) and the entry point."""

    repo: str
    ref: str | None
    entry: str


def _uncomment(text: str) -> str:
    """Commented-out code lines as code, so that ``# model = torch.hub.load(...)``
    variants count."""
    return _COMMENT_RE.sub(r"\1", text)


def _call_text(text: str, start: int) -> str | None:
    """The text of a call from its ``(`` to the matching ``)``, or None if unbalanced."""
    depth = 0
    quote: str | None = None
    for i in range(start, min(len(text), start + 2000)):
        c = text[i]
        if quote:
            if c == quote and text[i - 1] != "\\":
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


def _assignments(code: str, name: str) -> list[str]:
    """The string literals assigned to ``name`` on the page (``model_type = "DPT_Large"``)."""
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*=\s*(['\"])([^'\"]+)\1", re.M)
    out: list[str] = []
    for m in pattern.finditer(code):
        if m.group(2) not in out:
            out.append(m.group(2))
    return out


def entry_points(body: str) -> list[EntryPoint]:
    """Every entry point the page's ``torch.hub.load`` calls name, in order; the calls are
    parsed (never run) with :mod:`ast`."""
    code = _uncomment(body)
    out: list[EntryPoint] = []
    for m in _LOAD_RE.finditer(code):
        call = _call_text(code, m.end() - 1)
        if call is None:
            continue
        try:
            node = ast.parse("f" + call, mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(node, ast.Call):
            continue
        args: list[ast.expr] = list(node.args[:2])
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        repo_node = args[0] if args else kw.get("repo_or_dir") or kw.get("github")
        entry_node = args[1] if len(args) > 1 else kw.get("model")
        if not (isinstance(repo_node, ast.Constant) and isinstance(repo_node.value, str)):
            continue
        repo, _, ref = repo_node.value.partition(":")
        if isinstance(entry_node, ast.Constant) and isinstance(entry_node.value, str):
            names = [entry_node.value]
        elif isinstance(entry_node, ast.Name):
            names = _assignments(code, entry_node.id)
        else:
            names = []
        for n in names:
            ep = EntryPoint(repo, ref or None, n)
            if n and ep not in out:
                out.append(ep)
    return out


def is_helper(entry: str) -> bool:
    """Entry points that load pre/post-processing helpers, not models."""
    return entry.lower().endswith("utils") or entry in _HELPERS


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _cell(text: str) -> str:
    return _LINK_RE.sub(r"\1", text).replace("**", "").replace("`", "").strip()


@dataclass
class Table:
    """A Markdown table of reported results: its header, first line, rows and the dataset
    the sentence before it names."""

    header: list[str]
    line: int  # line number of the header
    rows: list[tuple[int, list[str]]]
    dataset: str | None


def tables(text: str) -> list[Table]:
    """The Markdown tables of a page that have a top-1 or top-5 column."""
    lines = text.splitlines()
    out: list[Table] = []
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("|") or i + 1 >= len(lines) or \
                not re.match(r"^\s*\|?[\s:|-]+\|?\s*$", lines[i + 1]) or "-" not in lines[i + 1]:
            i += 1
            continue
        header = [_cell(c) for c in lines[i].strip().strip("|").split("|")]
        start = i
        i += 2
        rows: list[tuple[int, list[str]]] = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            rows.append((i + 1, [_cell(c) for c in lines[i].strip().strip("|").split("|")]))
            i += 1
        if any(_TOPK_RE.search(h) for h in header):
            # The dataset named just before the table, else that of the table before it,
            # else the first one the page names at all.
            before = " ".join(lines[max(0, start - 10):start])
            dataset = _first_dataset(before) or (out[-1].dataset if out else None) or \
                _first_dataset(text)
            out.append(Table(header, start + 1, rows, dataset))
    return out


def _first_dataset(text: str) -> str | None:
    low = text.lower()
    found = [(low.find(d.lower()), d) for d in _DATASETS if d.lower() in low]
    return min(found)[1] if found else None


def _columns(header: list[str]) -> list[tuple[int, list[tuple[str, str]]]]:
    """``[(column, [(metric, kind), ...]), ...]``: which columns hold which top-k values
    (kind ``error`` or ``accuracy``); ``Top-1/Top-5`` holds two."""
    out: list[tuple[int, list[tuple[str, str]]]] = []
    for i, h in enumerate(header):
        ks = _TOPK_RE.findall(h)
        if not ks or i == 0:
            continue
        kind = "error" if "err" in h.lower() else "accuracy"
        out.append((i, [(f"Top-{k} {kind}", kind) for k in ks]))
    return out


@dataclass
class _Page:
    file: SourceFile
    front: dict[str, Any]
    body: str
    records: dict[str, ModelRecord] = field(default_factory=dict)


def _front_matter(text: str) -> tuple[dict[str, Any] | None, str, str | None]:
    m = _FRONT_RE.match(text)
    if not m:
        return None, text, "no YAML front matter"
    try:
        front = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        return None, text, f"front matter is not valid YAML: {str(e).splitlines()[0]}"
    if not isinstance(front, dict):
        return None, text, "front matter is not a mapping"
    return front, text[m.end():], None


def _str(value: object) -> str | None:
    if value is None:
        return None
    t = str(value).strip()
    return t or None


def _tags(value: object) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",") if value else []
    return [t for t in (str(x).strip() for x in items) if t]


def page_records(f: SourceFile, labels: tuple[str, str] | None,
                 ) -> tuple[list[ModelRecord], list[CrawlItem], list[tuple[int, str]]]:
    """``(records, rejected rows and warnings, [(row, record key)])`` of one page."""
    items: list[CrawlItem] = []
    used: list[tuple[int, str]] = []
    text = f.text()
    front, body, why = _front_matter(text)
    if front is None:
        return [], [Rejected(f.name, 1, why or "no front matter")], []
    stem = f.name.rsplit("/", 1)[-1].removesuffix(".md")
    title = _str(front.get("title"))
    summary = _str(front.get("summary"))
    tags = _tags(front.get("tags"))
    category = _str(front.get("category"))
    if category:
        tags.append(f"category:{category}")
    trained = _TRAINED_RE.findall(summary or "")
    outputs: list[ModelIO] = []
    if LABELS in body and labels is not None:
        outputs = [ModelIO(modality="classification", label_file_url=labels[0],
                           label_file_checksum=labels[1],
                           description="ImageNet class names (imagenet_classes.txt)")]
    eps = entry_points(body)
    models = [ep for ep in eps if not is_helper(ep.entry)]
    author = _str(front.get("author"))

    def record(source_id: str, name: str, ep: EntryPoint | None) -> ModelRecord:
        arch_name = ep.entry if ep else (title or stem)
        return ModelRecord(
            source_id=source_id,
            source=SourceInfo(ZOO, url=f.url, version=f.sha256),
            name=name,
            version=ep.ref if ep else None,
            description=summary,
            authors=[author] if author else [],
            architecture=arch_name if table("architecture").lookup(arch_name) else None,
            tags=list(tags),
            trained_on=list(trained),
            software=[SoftwareStack("PyTorch")],
            outputs=[ModelIO(o.modality, label_file_url=o.label_file_url,
                             label_file_checksum=o.label_file_checksum,
                             description=o.description) for o in outputs],
            label_space="imagenet-1k" if outputs else None,
            homepage=PAGE_URL.format(stem),
            code_url=_str(front.get("github-link")),
            entry_points=[ep.entry] if ep else [e.entry for e in eps],
        )

    records: dict[str, ModelRecord] = {}
    if models:
        for ep in models:
            sid = f"{stem}/{ep.entry}"
            if sid not in records:
                records[sid] = record(sid, ep.entry, ep)
    else:
        records[stem] = record(stem, title or stem, None)
    for r in records.values():
        used.append((1, r.key))
    by_entry = {_norm(r.name or ""): r for r in records.values()} if models else {}
    for t in tables(body):
        cols = _columns(t.header)
        offset = text[:len(text) - len(body)].count("\n")
        for line, cells in t.rows:
            row = line + offset
            label = cells[0] if cells else ""
            target = _match(label, cells, by_entry)
            if target is None:
                items.append(Rejected(f.name, row, "the table row names no model entry point "
                                                   "of the page", label or None))
                continue
            evs = _row_evaluations(cells, cols, t, f.url)
            if not evs:
                items.append(Rejected(f.name, row, "no number in the top-1 / top-5 columns",
                                      label or None))
                continue
            target.evaluations.extend(evs)
            used.append((row, target.key))
    return list(records.values()), items, used


def _match(label: str, cells: list[str], by_entry: dict[str, ModelRecord]) -> ModelRecord | None:
    candidates = [c for c in (_norm(label), _norm(" ".join(cells[:2]))) if c]
    for c in candidates:
        if c in by_entry:
            return by_entry[c]
    for c in candidates:
        if len(c) < 4:
            continue
        hits = [r for k, r in by_entry.items() if k.startswith(c)]
        if len(hits) == 1:
            return hits[0]
    return None


def _row_evaluations(cells: list[str], cols: list[tuple[int, list[tuple[str, str]]]],
                     t: Table, url: str) -> list[EvaluationRecord]:
    out: list[EvaluationRecord] = []
    task = "image-classification" if t.dataset == "ImageNet" else None
    for i, metrics in cols:
        if i >= len(cells):
            continue
        parts = cells[i].split("/") if len(metrics) > 1 else [cells[i]]
        for (metric, kind), part in zip(metrics, parts, strict=False):
            value, _, _ = parse_number(part.replace("%", "").strip())
            if value is None:
                continue
            common: dict[str, Any] = dict(dataset=t.dataset, task=task, unit="%",
                                          source_url=url)
            out.append(EvaluationRecord(metric=metric, value=value,
                                        metric_name=t.header[i], **common))
            if kind == "error" and 0 <= value <= 100:
                out.append(EvaluationRecord(
                    metric=metric.replace("error", "accuracy"), value=round(100 - value, 6),
                    metric_name=f"100 - {t.header[i]} (derived from the reported error)",
                    **common))
    return out


def _labels(src: Source, names: list[str]) -> tuple[str, str] | None:
    """(URL, sha256) of imagenet_classes.txt when the source has it."""
    if src.remote or LABELS in names:
        try:
            f = src.read(LABELS)
        except (SourceNotFound, CrawlError):
            return None
        return (LABELS_URL if src.dir is not None else f.url), sha256(f.data)
    return None


def crawl_pytorch_hub(source: str | None = None, *, ledger: Ledger | None = None,
                      fetcher: Fetcher | None = None) -> Iterator[CrawlItem]:
    """Crawl PyTorch Hub model pages: a local copy of pytorch/hub (its ``*.md`` pages) or a
    base URL (default: the public GitHub raw files).

    Yields :class:`~mlmeta.records.ModelRecord` (one per model entry point of a page),
    :class:`Rejected` pages and table rows, and :class:`CrawlWarning`.

    :raises UsageError: if a local source does not exist.
    :raises CrawlError: if no page can be read, or a URL cannot be fetched after retries.
    """
    src = open_source(source, DEFAULT_SOURCE, fetcher=fetcher)
    ledger = ledger if ledger is not None else Ledger()
    names = [n for n in src.names(["*.md"], KNOWN_PAGES)
             if n.rsplit("/", 1)[-1] not in _NOT_PAGES]
    labels = _labels(src, src.names([LABELS], (LABELS,)))
    hint = "point --source at a copy of the pytorch/hub repository"
    for f in read_files(src, names, "PyTorch Hub pages", hint):
        if isinstance(f, CrawlWarning):
            yield f
            continue
        name = f.name
        try:
            records, items, used = page_records(f, labels)
        except CrawlError as e:
            records, items, used = [], [Rejected(name, 1, str(e))], []
        rows = {1} | {r.row for r in items if isinstance(r, Rejected) and r.row} | \
            {row for row, _ in used}
        ledger.expect(name, len(rows))
        for item in items:
            if isinstance(item, Rejected):
                ledger.reject(item)
            yield item
        for row, key in used:
            ledger.use(name, row, key)
        yield from records


@click.command("pytorch-hub")
@source_option(DEFAULT_SOURCE, "the pytorch/hub repository (its model pages)")
@crawl_options
@pass_state
def command(state: State, source: str | None, force: bool, strict: bool) -> None:
    """Crawl PyTorch Hub model pages (pytorch/hub *.md).

    Every model entry point a page loads with torch.hub.load becomes a model with the
    page's title, summary, author, tags and GitHub link, and the top-1 / top-5 results
    of its table row. Rows and pages that cannot be read are reported on stderr.
    """
    ledger = Ledger()
    run_crawl(state, ZOO, crawl_pytorch_hub(source, ledger=ledger), ledger=ledger,
              force=force, strict=strict)
