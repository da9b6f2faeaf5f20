"""The shipped Wikidata link tables: rebuilt from ../shared/data byte for byte, every QID
copied from a source, and the coverage the facts give (computed here from the sources)."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest

from mlmeta.labelspaces import (
    coco_concept_for,
    detect_label_space,
    imagenet_concept_for,
)
from mlmeta.link import class_statuses, coverage
from mlmeta.wikidata import (
    coco_classes,
    coco_links,
    hierarchy_arcs,
    imagenet_classes,
    imagenet_links,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "mlmeta" / "data"
TABLES = ("imagenet1k_classes.csv", "imagenet1k_wikidata.csv", "coco_wikidata.csv",
          "wikidata_hierarchy.csv", "wikidata_sources.csv")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_wikidata_tables",
                                                  REPO / "tools" / "build_wikidata_tables.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _molrn(shared: Path) -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(
        (shared / "wikidata" / "imagenet1k_synset_wikidata_mapping.json").read_text("utf-8"))
    return data


def _wnids(shared: Path) -> list[str]:
    index = json.loads((shared / "labels" / "imagenet1k_class_index.json").read_text("utf-8"))
    return [index[str(i)][0] for i in range(len(index))]


def _cili_bridge(shared: Path) -> dict[str, str]:
    """wnid -> WordNet 3.1 id through the CILI maps."""
    def tab(name: str) -> dict[str, str]:
        rows = (shared / "wikidata" / name).read_text("utf-8").splitlines()
        return dict(r.split("\t")[:2] for r in rows if "\t" in r)

    ili_of = {off: ili for ili, off in tab("cili-ili-map-pwn30.tab").items()}
    p31 = tab("cili-ili-map-pwn31.tab")
    return {w: p31[ili_of[w[1:] + "-n"]] for w in _wnids(shared)}


def test_tables_rebuild_identically(shared_data: Path, tmp_path: Path) -> None:
    assert _tool().main(["--shared", str(shared_data), "--out", str(tmp_path)]) == 0
    for name in TABLES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_every_qid_is_copied_from_a_source(shared_data: Path) -> None:
    molrn = {(str(e["inid"]), str(e["wdid"])) for e in _molrn(shared_data) if e["wdid"]}
    for link in imagenet_links():
        if link.qid:
            assert (link.class_id, link.qid) in molrn, link
    ai4c = json.loads((shared_data / "wikidata" / "coco_labels_wikidata_uris.json")
                      .read_text("utf-8"))
    ai4c_qids = {k: v.rsplit("/", 1)[-1] for k, v in ai4c.items()}
    molrn_qids = {q for _, q in molrn}
    for link in coco_links():
        if not link.qid:
            continue
        if link.method == "curated-table":
            assert ai4c_qids[link.item_label] == link.qid, link
        else:
            assert link.method == "label-match" and link.qid in molrn_qids, link
    arcs_path = shared_data / "wikidata" / "imagenet_animal_wikidata_graph_arcs.csv"
    with open(arcs_path, encoding="utf-8", newline="") as fh:
        arcs = {(r["child"], r["parent"]) for r in csv.DictReader(fh)}
    assert {(a.child, a.parent) for a in hierarchy_arcs()} == arcs


def test_imagenet_coverage_from_the_facts(shared_data: Path) -> None:
    molrn = _molrn(shared_data)
    wnids = _wnids(shared_data)
    bridge = _cili_bridge(shared_data)
    entries: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in molrn:
        entries[str(e["inid"])].append(e)
    with_item = {w for w in wnids if any(e["wdid"] for e in entries.get(w, []))}
    missing = [w for w in wnids if w not in entries]
    no_item = [w for w in wnids if w in entries and w not in with_item]
    several = {w for w in wnids if len([e for e in entries.get(w, []) if e["wdid"]]) > 1}
    disagree = {w for w in wnids if len(entries.get(w, [])) == 1 and entries[w][0]["wdid"]
                and entries[w][0]["wnid"] != bridge[w]}
    single_agree = {w for w in with_item - several - disagree}
    # The figures PROVENANCE-zoo.md states for these files.
    assert (len(molrn), len(entries), len(several), len(missing)) == (1025, 993, 29, 7)
    assert sum(1 for e in molrn if e["wdid"] is None) == 17 == len(no_item)
    assert sum(1 for e in molrn if e["wnid"] != bridge[str(e["inid"])]) == 46 == len(disagree)

    statuses = {s.class_id: s for s in class_statuses() if s.label_space == "imagenet-1k"}
    cov = {c.label_space: c for c in coverage(list(statuses.values()))}["imagenet-1k"]
    # Linked = every class the facts give an item for; nothing more, nothing less.
    assert cov.classes == 1000
    assert {w for w, s in statuses.items() if s.matches} == with_item
    assert cov.linked == len(with_item) == 976
    assert cov.by_status["missing"] == 7 and cov.by_status["no-item"] == 17
    assert {w for w, s in statuses.items() if s.status == "missing"} == set(missing)
    assert cov.by_status["cili-disagrees"] == 46
    assert {w for w, s in statuses.items() if s.status == "cili-disagrees"} == disagree
    assert {w for w, s in statuses.items() if s.status.startswith("ambiguous")} == several
    # A single candidate whose WordNet 3.1 id CILI confirms is an exact match.
    assert {w for w, s in statuses.items() if s.status == "ok"} == single_agree
    assert all(s.matches == (f"exact:{entries[w][0]['wdid']}",)
               for w, s in statuses.items() if w in single_agree)
    # Disputed links are close matches, never exact.
    assert all(m.startswith("close:") for w in disagree for m in statuses[w].matches)


def test_coco_coverage_from_the_facts(shared_data: Path) -> None:
    cats = json.loads((shared_data / "labels" / "coco_panoptic_categories.json")
                      .read_text("utf-8"))
    things = {str(c["id"]): str(c["name"]) for c in cats if c["isthing"]}
    ai4c = json.loads((shared_data / "wikidata" / "coco_labels_wikidata_uris.json")
                      .read_text("utf-8"))
    known = {i for i, n in things.items() if n in ai4c}
    assert len(things) == 80 and len(known) == 72
    statuses = {s.class_id: s for s in class_statuses() if s.label_space == "coco"}
    assert set(statuses) == set(things)
    exact = {i for i, s in statuses.items() if any(m.startswith("exact:") for m in s.matches)}
    assert exact == known  # every COCO class with a known item is linked, exactly
    unlinked = sorted(things[i] for i, s in statuses.items() if not s.matches)
    assert unlinked == sorted(["frisbee", "skis", "sports ball", "tennis racket", "donut", "tv",
                               "cell phone"])
    # "hair drier" is no key of the COCO table; it is a lemma of one ImageNet class.
    lemma_hits = [c for c in imagenet_classes() if "hair drier" in c.lemmas]
    assert len(lemma_hits) == 1
    exact_of = {x.qid for x in imagenet_links()
                if x.class_id == lemma_hits[0].wnid and x.match == "exact"}
    hd = statuses[next(i for i, n in things.items() if n == "hair drier")]
    assert hd.status == "label-match" and hd.matches == tuple(f"close:{q}" for q in exact_of)


def test_dog_breeds_reached_through_the_shipped_hierarchy(shared_data: Path) -> None:
    """Q144 (dog) reaches the ImageNet dog classes the arcs and the table connect to it."""
    arcs_path = shared_data / "wikidata" / "imagenet_animal_wikidata_graph_arcs.csv"
    children: dict[str, set[str]] = defaultdict(set)
    with open(arcs_path, encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            children[r["parent"]].add(r["child"])
    below, todo = {"Q144"}, ["Q144"]
    while todo:
        for c in children[todo.pop()]:
            if c not in below:
                below.add(c)
                todo.append(c)
    reached = {str(e["inid"]) for e in _molrn(shared_data) if e["wdid"] in below}
    wnids = _wnids(shared_data)
    dogs = set(wnids[151:269])  # ImageNet-1k's dog classes: indices 151-268
    assert len(dogs) == 118 and reached <= dogs
    assert len(reached) == 111
    # The same, from the shipped tables the graph is built from.
    shipped_below, todo = {"Q144"}, ["Q144"]
    kids: dict[str, set[str]] = defaultdict(set)
    for a in hierarchy_arcs():
        kids[a.parent].add(a.child)
    while todo:
        for c in kids[todo.pop()]:
            if c not in shipped_below:
                shipped_below.add(c)
                todo.append(c)
    linked = {x.class_id for x in imagenet_links() if x.match and x.qid in shipped_below}
    assert linked == reached
    labels = {c.wnid: c.label for c in imagenet_classes()}
    assert sorted(labels[w] for w in dogs - reached) == sorted([
        "Blenheim spaniel", "toy terrier", "Walker hound", "wire-haired fox terrier",
        "German short-haired pointer", "Eskimo dog", "miniature poodle"])


def test_classes_and_subsets_match_the_label_files(shared_data: Path) -> None:
    wnids = _wnids(shared_data)
    classes = imagenet_classes()
    assert [c.wnid for c in classes] == wnids
    assert [c.index for c in classes] == list(range(1000))
    bridge = _cili_bridge(shared_data)
    assert all(c.wn31 == bridge[c.wnid] for c in classes)
    for name, fname in (("imagenet-a", "timm-imagenet_a_synsets.txt"),
                        ("imagenet-r", "timm-imagenet_r_synsets.txt")):
        want = set((shared_data / "labels" / fname).read_text("utf-8").split())
        assert {c.wnid for c in classes if name in c.subsets} == want and len(want) == 200
    assert sum(1 for c in coco_classes() if c.kind == "class") == 80


def test_imagenet_concept_for_matches_index_and_label() -> None:
    ref = imagenet_concept_for(281, "tabby, tabby cat")
    assert ref is not None
    assert (ref.class_id, ref.label, ref.index, ref.label_space) == (
        "n02123045", "tabby", 281, "imagenet-1k")
    assert imagenet_concept_for(2, "great_white_shark") is not None
    assert imagenet_concept_for(281, "goldfish") is None  # another class's label
    assert imagenet_concept_for(1000, "tabby") is None
    assert imagenet_concept_for(-1) is None
    no_label = imagenet_concept_for(0)
    assert no_label is not None and no_label.class_id == "n01440764"


def test_detect_label_space_on_real_label_files(shared_data: Path) -> None:
    hub = (shared_data / "pytorch-hub" / "imagenet_classes.txt").read_text("utf-8").splitlines()
    assert detect_label_space(dict(enumerate(hub))) == "imagenet-1k"
    card = (shared_data / "huggingface" / "dataset_cards" / "imagenet-1k.md").read_text("utf-8")
    table = {int(i): label for i, label in
             re.findall(r"^\s*\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", card, re.M)}
    assert len(table) == 1000 and table[281] == "tabby, tabby cat"
    assert detect_label_space(table) == "imagenet-1k"
    shuffled = {i: table[(i + 1) % 1000] for i in table}
    assert detect_label_space(shuffled) is None
    paper = (shared_data / "labels" / "coco_paper_names_ai4c.txt").read_text("utf-8").split("\n")
    assert detect_label_space({i: n for i, n in enumerate(paper, start=1) if n}) == "coco"
    assert detect_label_space({0: "cat", 1: "dog"}) is None
    assert detect_label_space({"a": "tench"}) is None


def test_coco_concept_for() -> None:
    ref = coco_concept_for("Traffic Light")
    assert ref is not None and (ref.class_id, ref.label, ref.label_space) == (
        "10", "traffic light", "coco")
    by_id = coco_concept_for(category_id=18)
    assert by_id is not None and by_id.label == "dog"
    assert coco_concept_for("dog", 17) is None  # name and id disagree
    assert coco_concept_for("street sign") is None  # a paper slot, not a released class
    assert coco_concept_for() is None


@pytest.mark.parametrize("name", TABLES)
def test_every_row_names_its_source(name: str) -> None:
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    if name == "wikidata_sources.csv":
        assert all(r["url"].startswith("https://github.com/") for r in rows)
        return
    if name == "imagenet1k_classes.csv":
        return  # the class index itself
    sources = {r["key"] for r in csv.DictReader(
        (DATA / "wikidata_sources.csv").read_text("utf-8").splitlines())}
    assert all(r["source"] in sources for r in rows), name
