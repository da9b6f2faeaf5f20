"""Regenerate mlmeta's Wikidata link tables from the public data in ../shared/data.

Run from the repository root (rerunnable; the output is deterministic)::

    python tools/build_wikidata_tables.py [--shared ../shared/data] [--out mlmeta/data]

Inputs (facts only; see ../shared/data/PROVENANCE-zoo.md for their origin):

- ``labels/imagenet1k_class_index.json``: class index -> (wnid, Keras label)
- ``labels/imagenet1k_LOC_synset_mapping.txt``: wnid -> WordNet lemmas
- ``labels/timm-imagenet_a_synsets.txt``, ``labels/timm-imagenet_r_synsets.txt``: the
  ImageNet-A and ImageNet-R subsets timm evaluates on
- ``wikidata/cili-ili-map-pwn30.tab``, ``wikidata/cili-ili-map-pwn31.tab``: the
  Collaborative Interlingual Index, bridging WordNet 3.0 offsets (ImageNet wnids) to
  WordNet 3.1 ids (the form Wikidata's P8814 holds)
- ``wikidata/imagenet1k_synset_wikidata_mapping.json``: a published wnid -> QID table
  (Molrn/animal-image-ontology) carrying its own WordNet 3.1 id per entry
- ``wikidata/imagenet_wiki_class_article_correspondences_*.csv``: wnid -> Wikipedia
  article titles (ImageNet-Wiki), used only to corroborate a candidate's label
- ``wikidata/imagenet_animal_wikidata_graph_arcs.csv``: parent/child arcs among the
  Wikidata items of the animal classes (the hierarchy the graph knows offline)
- ``labels/coco_panoptic_categories.json``: the 80 COCO thing classes with their ids
- ``labels/coco_paper_names_ai4c.txt``: the 91 category slots of the COCO paper
- ``wikidata/coco_labels_wikidata_uris.json``: a published COCO name -> QID table
  (datable-be/AI4C_ContentAnalysis)

Outputs (in ``--out``):

- ``imagenet1k_classes.csv``: one row per ImageNet-1k class
- ``imagenet1k_wikidata.csv``: one row per (class, candidate item); a class without a
  candidate has one row with an empty ``qid`` and its status
- ``coco_wikidata.csv``: one row per COCO thing class, per COCO supercategory, and per
  category slot of the COCO paper's 91 that the released 80 classes lack (``paper-only``,
  so that a detector's 91-slot label file is still recognised as COCO)
- ``wikidata_hierarchy.csv``: the arcs, child -> parent
- ``wikidata_sources.csv``: the URL (at the copied commit) of every source key

No QID is ever invented: every ``qid`` cell is copied from a source table. What the
tool decides is only the match kind, a confidence and a status, by these rules:

ImageNet, per class (``wn31`` is the CILI bridge of the class's WordNet 3.0 offset):

- one candidate, the table's WN 3.1 id equals ``wn31``: ``exact``, status ``ok``,
  confidence 0.95 when the item's label equals a lemma or the ImageNet-Wiki article
  title (normalised), else 0.85
- one candidate, the table's WN 3.1 id differs from ``wn31``: ``close``, status
  ``cili-disagrees``, confidence 0.6 when corroborated by label, else 0.5
- several candidates: when exactly one is corroborated by label it is ``exact`` (0.75,
  ``ambiguous-resolved``) and the others are kept as ``candidate-rejected`` (no match);
  otherwise every candidate is ``close`` with confidence 0.4, status ``ambiguous``
- a table entry with no item: status ``no-item``; a class absent from the table:
  status ``missing``

COCO, per class: a table entry is ``exact`` (``ok``; 0.9 when the same item is an
exact ImageNet link of a class whose lemma is the COCO name, else 0.8). A class the
table lacks is matched, when its name is a lemma of exactly one ImageNet class with an
exact link, to that item as ``close`` (``label-match``, 0.5); otherwise ``no-item``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "mlmeta" / "data"

_GH = "https://github.com/"
# Source keys used in the tables' ``source`` column; wikidata_sources.csv gives their URLs.
SOURCES: list[dict[str, str]] = [
    {"key": "molrn-synset-mapping",
     "url": _GH + "Molrn/animal-image-ontology/blob/b7714a7dcbde11e54d821941f7a252366673c9ee/"
            "Data/KaggleChallenge/synset_mapping.json",
     "license": "no LICENSE file in repo"},
    {"key": "molrn-graph-arcs",
     "url": _GH + "Molrn/animal-image-ontology/blob/b7714a7dcbde11e54d821941f7a252366673c9ee/"
            "Data/KaggleChallenge/graph_arcs.csv",
     "license": "no LICENSE file in repo"},
    {"key": "ai4c-wikidata-uris",
     "url": _GH + "datable-be/AI4C_ContentAnalysis/blob/143fa7937ac1c193d6d8a8fdac0929ce711f2237/"
            "development/app/data/wikidata_uris.json",
     "license": "MIT"},
    {"key": "panopticapi-categories",
     "url": _GH + "cocodataset/panopticapi/blob/7bb4655548f98f3fedc07bf37e9040a992b054b0/"
            "panoptic_coco_categories.json",
     "license": "BSD-2-Clause-style"},
    {"key": "ai4c-coco-names",
     "url": _GH + "datable-be/AI4C_ContentAnalysis/blob/143fa7937ac1c193d6d8a8fdac0929ce711f2237/"
            "scripts/color-detector/ssd_mobilenet/coco_names.txt",
     "license": "MIT"},
    {"key": "cili",
     "url": _GH + "globalwordnet/cili/blob/dfc99e15e11e5b20e143f29386220d7b69805628/"
            "ili-map-pwn31.tab",
     "license": "CC-BY-4.0"},
    {"key": "imagenet-class-index",
     "url": _GH + "mythrandire/adversarial_tutorial/blob/"
            "220c565676d45574b5354e9a8789d2813a724b9a/imagenet_class_index.json",
     "license": "no LICENSE file (a copy of the Keras imagenet_class_index.json)"},
    {"key": "imagenet-wiki",
     "url": _GH + "sebastianbujwid/ImageNet-Wiki_dataset/tree/"
            "354ef0f5c5720a3f66f4b105d98b190671f15a05/class_article_correspondences",
     "license": "no LICENSE file"},
    {"key": "timm-imagenet-subsets",
     "url": _GH + "huggingface/pytorch-image-models/tree/"
            "aa4b5850c1543fa488abf260f18390eda46cf85d/timm/data/_info",
     "license": "Apache-2.0"},
]
MOLRN, MOLRN_ARCS, AI4C, COCO_CATS, COCO_PAPER = (
    "molrn-synset-mapping", "molrn-graph-arcs", "ai4c-wikidata-uris", "panopticapi-categories",
    "ai4c-coco-names")

_NORM_RE = re.compile(r"[^a-z0-9]+")
_PAREN_RE = re.compile(r"\s*\([^)]*\)")


def norm(text: str) -> str:
    """Lower case, no parenthesised qualifier, punctuation and ``_`` as single spaces."""
    t = _PAREN_RE.sub("", text.replace("_", " ")).lower()
    return _NORM_RE.sub(" ", t).strip()


def read_tab(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[0]:
                out[parts[0]] = parts[1]
    return out


def read_articles(folder: Path) -> dict[str, list[str]]:
    titles: dict[str, list[str]] = defaultdict(list)
    for f in sorted(folder.glob("imagenet_wiki_class_article_correspondences_*.csv")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                wnid, _, rest = line.rstrip("\n").partition(",")
                for t in rest.split(","):
                    t = t.strip()
                    if t and t != "-" and t not in titles[wnid.strip()]:
                        titles[wnid.strip()].append(t)
    return titles


def imagenet_tables(shared: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    labels = shared / "labels"
    wd = shared / "wikidata"
    index = json.loads((labels / "imagenet1k_class_index.json").read_text("utf-8"))
    lemmas: dict[str, list[str]] = {}
    with open(labels / "imagenet1k_LOC_synset_mapping.txt", encoding="utf-8") as fh:
        for line in fh:
            wnid, _, text = line.rstrip("\n").partition(" ")
            lemmas[wnid] = [x.strip() for x in text.split(",") if x.strip()]
    subsets: dict[str, list[str]] = defaultdict(list)
    for name, fname in (("imagenet-a", "timm-imagenet_a_synsets.txt"),
                        ("imagenet-r", "timm-imagenet_r_synsets.txt")):
        for line in (labels / fname).read_text("utf-8").split():
            subsets[line.strip()].append(name)
    p30 = read_tab(wd / "cili-ili-map-pwn30.tab")
    p31 = read_tab(wd / "cili-ili-map-pwn31.tab")
    ili_of_30 = {off: ili for ili, off in p30.items()}
    articles = read_articles(wd)
    table = json.loads((wd / "imagenet1k_synset_wikidata_mapping.json").read_text("utf-8"))
    entries: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in table:
        entries[str(e["inid"])].append(e)

    classes: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    for i in range(len(index)):
        wnid, keras = index[str(i)]
        ili = ili_of_30.get(wnid[1:] + "-n", "")
        wn31 = p31.get(ili, "") if ili else ""
        lem = lemmas.get(wnid, [keras.replace("_", " ")])
        classes.append({
            "index": str(i), "wnid": wnid, "label": lem[0], "lemmas": "|".join(lem),
            "keras_label": keras, "ili": ili, "wn31": wn31,
            "subsets": "|".join(subsets.get(wnid, [])),
        })
        names = {norm(x) for x in lem} | {norm(t) for t in articles.get(wnid, [])}
        cands = [e for e in entries.get(wnid, []) if e.get("wdid")]
        base = {"wnid": wnid, "source": MOLRN}
        if not entries.get(wnid):
            links.append({**base, "qid": "", "wd_label": "", "table_wn31": "", "match": "",
                          "method": "", "confidence": "", "status": "missing",
                          "evidence": ""})
            continue
        if not cands:
            e = entries[wnid][0]
            links.append({**base, "qid": "", "wd_label": str(e.get("label") or ""),
                          "table_wn31": str(e.get("wnid") or ""), "match": "", "method":
                          "curated-table", "confidence": "", "status": "no-item",
                          "evidence": ""})
            continue
        corroborated = [e for e in cands if norm(str(e.get("label") or "")) in names]
        for e in cands:
            agrees = str(e.get("wnid")) == wn31
            hit = e in corroborated
            evidence = []
            if agrees:
                evidence.append("cili-agrees")
            if hit:
                evidence.append("label-corroborated")
            if len(cands) == 1:
                if agrees:
                    match, conf, status = "exact", (0.95 if hit else 0.85), "ok"
                else:
                    match, conf, status = "close", (0.6 if hit else 0.5), "cili-disagrees"
            elif len(corroborated) == 1:
                if hit:
                    match = "exact" if agrees else "close"
                    conf, status = 0.75, "ambiguous-resolved"
                else:
                    match, conf, status = "", 0.2, "candidate-rejected"
            else:
                match, conf, status = "close", 0.4, "ambiguous"
            links.append({**base, "qid": str(e["wdid"]), "wd_label": str(e.get("label") or ""),
                          "table_wn31": str(e.get("wnid") or ""), "match": match,
                          "method": "curated-table", "confidence": f"{conf:.2f}",
                          "status": status, "evidence": "|".join(evidence)})
    return classes, links


def coco_table(shared: Path, imagenet_classes: list[dict[str, str]],
               imagenet_links: list[dict[str, str]]) -> list[dict[str, str]]:
    cats = json.loads((shared / "labels" / "coco_panoptic_categories.json").read_text("utf-8"))
    uris = json.loads((shared / "wikidata" / "coco_labels_wikidata_uris.json").read_text("utf-8"))
    qid_of = {k: v.rsplit("/", 1)[-1] for k, v in uris.items()}
    # ImageNet exact links by normalised lemma, for corroboration and label matching.
    exact_by_wnid = {r["wnid"]: r["qid"] for r in imagenet_links if r["match"] == "exact"}
    by_lemma: dict[str, set[str]] = defaultdict(set)
    for c in imagenet_classes:
        for lemma in c["lemmas"].split("|"):
            by_lemma[norm(lemma)].add(c["wnid"])
    rows: list[dict[str, str]] = []
    supercats: list[str] = []
    for cat in cats:
        if not cat.get("isthing"):
            continue
        name = str(cat["name"])
        sup = str(cat.get("supercategory") or "")
        if sup and sup not in supercats:
            supercats.append(sup)
        row = {"kind": "class", "id": str(cat["id"]), "name": name, "supercategory": sup,
               "qid": "", "match": "", "method": "", "confidence": "", "status": "no-item",
               "evidence": "", "source": COCO_CATS}
        wnids = sorted(by_lemma.get(norm(name), set()))
        in_qids = {exact_by_wnid[w] for w in wnids if w in exact_by_wnid}
        if name in qid_of:
            q = qid_of[name]
            hit = q in in_qids
            row.update(qid=q, match="exact", method="curated-table",
                       confidence="0.90" if hit else "0.80", status="ok",
                       evidence="imagenet-lemma-agrees" if hit else "", source=AI4C)
        elif len(wnids) == 1 and wnids[0] in exact_by_wnid:
            row.update(qid=exact_by_wnid[wnids[0]], match="close", method="label-match",
                       confidence="0.50", status="label-match",
                       evidence=f"imagenet-lemma:{wnids[0]}", source=MOLRN)
        rows.append(row)
    # Names of the 91 category slots of the COCO paper that the released 80 classes lack.
    paper = (shared / "labels" / "coco_paper_names_ai4c.txt").read_text("utf-8").splitlines()
    thing_names = {str(c["name"]) for c in cats if c.get("isthing")}
    for i, name in enumerate(paper, start=1):
        if name.strip() and name.strip() not in thing_names:
            rows.append({"kind": "paper-only", "id": str(i), "name": name.strip(),
                         "supercategory": "", "qid": "", "match": "", "method": "",
                         "confidence": "", "status": "not-a-class", "evidence": "",
                         "source": COCO_PAPER})
    for sup in supercats:
        row = {"kind": "supercategory", "id": f"supercategory/{sup}", "name": sup,
               "supercategory": "", "qid": "", "match": "", "method": "", "confidence": "",
               "status": "no-item", "evidence": "", "source": COCO_CATS}
        if sup in qid_of:
            row.update(qid=qid_of[sup], match="close", method="curated-table",
                       confidence="0.70", status="ok", source=AI4C)
        rows.append(row)
    return rows


def hierarchy_table(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    path = shared / "wikidata" / "imagenet_animal_wikidata_graph_arcs.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            key = (r["child"], r["parent"])
            if key in seen:
                continue
            seen.add(key)
            rows.append({"child": r["child"], "parent": r["parent"],
                         "child_label": r["childLabel"], "parent_label": r["parentLabel"],
                         "source": MOLRN_ARCS})
    rows.sort(key=lambda r: (int(r["child"][1:]), int(r["parent"][1:])))
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], fields: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared data folder (default: ../shared/data)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the tables")
    args = ap.parse_args(argv)
    if not (args.shared / "wikidata").is_dir() or not (args.shared / "labels").is_dir():
        print(f"error: {args.shared} has no wikidata/ and labels/ folders", file=sys.stderr)
        return 2
    classes, links = imagenet_tables(args.shared)
    coco = coco_table(args.shared, classes, links)
    arcs = hierarchy_table(args.shared)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "imagenet1k_classes.csv", classes,
              ["index", "wnid", "label", "lemmas", "keras_label", "ili", "wn31", "subsets"])
    write_csv(args.out / "imagenet1k_wikidata.csv", links,
              ["wnid", "qid", "wd_label", "table_wn31", "match", "method", "confidence",
               "status", "evidence", "source"])
    write_csv(args.out / "coco_wikidata.csv", coco,
              ["kind", "id", "name", "supercategory", "qid", "match", "method", "confidence",
               "status", "evidence", "source"])
    write_csv(args.out / "wikidata_sources.csv", SOURCES, ["key", "url", "license"])
    write_csv(args.out / "wikidata_hierarchy.csv", arcs,
              ["child", "parent", "child_label", "parent_label", "source"])
    linked = {r["wnid"] for r in links if r["match"]}
    print(f"imagenet-1k: {len(classes)} classes, {len(linked)} linked; "
          f"coco: {sum(1 for r in coco if r['kind'] == 'class' and r['match'])} of "
          f"{sum(1 for r in coco if r['kind'] == 'class')} classes linked; "
          f"{len(arcs)} hierarchy arcs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
