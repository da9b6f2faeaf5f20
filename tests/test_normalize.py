"""Canonical entities and value normalisation."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from mlmeta.normalize import normalize_license, normalize_value, parse_number, table


@pytest.mark.parametrize("spelling", ["ImageNet", "imagenet-1k", "ILSVRC 2012", "ImageNet-1K",
                                      "ILSVRC/imagenet-1k", "in1k"])
def test_imagenet_spellings_meet(spelling: str) -> None:
    entry = table("dataset").lookup(spelling)
    assert entry is not None and entry.id == "imagenet-1k"


@pytest.mark.parametrize("spelling", ["top1", "acc@1", "Top 1 Accuracy", "top-1"])
def test_top1_spellings_meet(spelling: str) -> None:
    entry = table("metric").lookup(spelling)
    assert entry is not None and entry.id == "top1-accuracy"


def test_unknown_names_get_a_slug() -> None:
    cid, known = table("dataset").canonical_id("My Private Set v2")
    assert (cid, known) == ("my-private-set-v2", False)


def test_every_table_row_is_traceable_and_unique() -> None:
    for name in ("datasets", "metrics", "tasks", "hardware", "architectures", "licenses"):
        text = resources.files("mlmeta.data").joinpath(f"{name}.csv").read_text("utf-8")
        rows = list(csv.DictReader(text.splitlines()))
        assert rows, name
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicate ids in {name}.csv"
        assert "source" in rows[0], f"{name}.csv has no source column"


def test_no_alias_points_at_two_entities() -> None:
    for kind in ("dataset", "metric", "task", "hardware", "architecture", "license"):
        seen: dict[str, str] = {}
        t = table(kind)
        for e in t:
            for alias in filter(None, (e.get("aliases") or "").split("|")):
                got = t.lookup(alias)
                assert got is not None
                seen.setdefault(alias.lower(), got.id)
                assert got.id == seen[alias.lower()]


@pytest.mark.parametrize("raw,expected", [
    (94.1, (94.1, None, False)), ("94.1", (94.1, None, False)), ("94.1%", (94.1, None, True)),
    ("233.56 +/- 53.89", (233.56, 53.89, False)), ("n/a", (None, None, False)),
    (True, (None, None, False)), (None, (None, None, False)), (3, (3.0, None, False)),
])
def test_parse_number(raw: object, expected: tuple[object, ...]) -> None:
    assert parse_number(raw) == expected


def test_percent_becomes_fraction_and_keeps_raw() -> None:
    top1 = table("metric").lookup("top1")
    v = normalize_value("80.4", top1, "%")
    assert v.value == pytest.approx(0.804) and v.raw == "80.4" and v.converted
    assert normalize_value(0.804, top1).value == pytest.approx(0.804)
    # No unit, value above 1: read as a percent.
    assert normalize_value(80.4, top1).value == pytest.approx(0.804)
    # Explicit fraction unit and a value above 1: not a fraction, no canonical value.
    bad = normalize_value(80.4, top1, "fraction")
    assert bad.value is None and bad.warning and "fraction" in bad.warning


def test_non_fraction_metrics_keep_their_unit() -> None:
    latency = table("metric").lookup("latency")
    assert normalize_value(0.25, latency, "s").value == pytest.approx(250.0)
    assert normalize_value(12, latency, "ms").unit == "ms"


def test_license_lists_and_unknowns() -> None:
    assert normalize_license(["apache-2.0", "MIT"]) == [("apache-2.0", "Apache-2.0", True),
                                                         ("MIT", "MIT", True)]
    assert normalize_license("my-own-licence") == [("my-own-licence", "my-own-licence", False)]
    assert normalize_license(None) == []
