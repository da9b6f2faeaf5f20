"""Canonical entities across zoos: datasets, metrics, tasks, hardware, architectures,
licences and units.

The alias tables are CSV files in :mod:`mlmeta.data`, one row per canonical
entity, each traceable to a source. Lookups are case- and
punctuation-insensitive ("ImageNet-1K", "imagenet 1k" and "ILSVRC2012" meet).
Names no table knows get a slugged id of their own, so they are still one
entity per spelling-family and can be linked later.

Values: :func:`normalize_value` turns the raw value of a metric into the
canonical unit (percent becomes a fraction), keeping the raw value.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from mlmeta.iri import slug

_KEY_RE = re.compile(r"[^a-z0-9@]+")


def _key(text: str) -> str:
    return _KEY_RE.sub("", text.strip().lower())


@dataclass(frozen=True)
class Entry:
    """One canonical entity of an alias table."""

    id: str
    label: str
    fields: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value else None


class AliasTable:
    """A table of canonical entities with their aliases.

    :param kind: the entity kind, e.g. ``dataset``; also the CSV's stem (plural).
    """

    def __init__(self, kind: str, rows: list[dict[str, str]]) -> None:
        self.kind = kind
        self.entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}
        for row in rows:
            entry = Entry(row["id"], row.get("label") or row["id"], dict(row))
            self.entries[entry.id] = entry
            names = [entry.id, entry.label, *(row.get("aliases") or "").split("|")]
            for name in names:
                k = _key(name)
                if k and k not in self._aliases:
                    self._aliases[k] = entry.id

    def lookup(self, name: str | None) -> Entry | None:
        """The canonical entry for a spelling, or None when the table does not know it."""
        if not name:
            return None
        cid = self._aliases.get(_key(name))
        return self.entries[cid] if cid else None

    def canonical_id(self, name: str) -> tuple[str, bool]:
        """``(id, known)``: the canonical id, or a slug of the name when unknown."""
        entry = self.lookup(name)
        if entry is not None:
            return entry.id, True
        return slug(name), False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


@cache
def table(kind: str) -> AliasTable:
    """The alias table of a kind (``dataset``, ``metric``, ``task``, ``hardware``,
    ``architecture``, ``license``, ``unit``), loaded once from the package data.

    :raises FileNotFoundError: if the package data is missing (a broken install).
    """
    name = {"dataset": "datasets", "metric": "metrics", "task": "tasks",
            "hardware": "hardware", "architecture": "architectures",
            "license": "licenses", "unit": "units"}[kind]
    text = resources.files("mlmeta.data").joinpath(f"{name}.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return AliasTable(kind, rows)


# --- values -------------------------------------------------------------------

_NUM_RE = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?)\s*(%)?\s*$")
_PM_RE = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(%)?\s*(?:\+/-|±|\+-)\s*"
    r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(%)?\s*$"
)


@dataclass(frozen=True)
class NormalizedValue:
    """A metric value in canonical units, with what the source said.

    ``value`` is None when the raw value could not be read as a number;
    ``warning`` then says why.
    """

    value: float | None
    unit: str  # canonical unit id
    raw: str
    raw_unit: str | None
    stddev: float | None = None
    converted: bool = False  # True when percent was turned into a fraction
    warning: str | None = None


def parse_number(raw: object) -> tuple[float | None, float | None, bool]:
    """Read a number from a messy value: ``94.1``, ``"94.1"``, ``"94.1%"``,
    ``"233.56 +/- 53.89"``. Returns ``(value, stddev, had_percent_sign)``;
    value is None when there is no number to read.
    """
    if isinstance(raw, bool):
        return None, None, False
    if isinstance(raw, int | float):
        return float(raw), None, False
    if not isinstance(raw, str):
        return None, None, False
    m = _NUM_RE.match(raw)
    if m:
        return float(m.group(1).replace(",", ".")), None, bool(m.group(2))
    m = _PM_RE.match(raw)
    if m:
        return float(m.group(1)), float(m.group(3)), bool(m.group(2) or m.group(4))
    return None, None, False


def normalize_value(raw: object, metric: Entry | None, unit: str | None = None) -> NormalizedValue:
    """Turn a raw metric value into the metric's canonical unit.

    Fraction-valued metrics (accuracy, F1, AP, WER...) take a value in percent
    when the unit says so (``%``, ``percent``) or when the source gave no unit
    and the value lies in (1, 100]: such a value is divided by 100. A value
    that still is outside [0, 1] keeps no canonical value and gets a warning.
    """
    raw_text = raw if isinstance(raw, str) else repr(raw) if isinstance(raw, bool) else str(raw)
    value, stddev, pct_sign = parse_number(raw)
    canonical_unit = metric.get("unit") if metric else None
    unit_entry = table("unit").lookup(unit) if unit else None
    if value is None:
        return NormalizedValue(None, canonical_unit or (unit_entry.id if unit_entry else "score"),
                               raw_text, unit, warning=f"value {raw_text!r} is not a number")
    if canonical_unit == "fraction":
        is_percent = pct_sign or (unit_entry is not None and unit_entry.id == "percent")
        if unit_entry is not None and unit_entry.id == "fraction":
            is_percent = False
        elif unit_entry is None and not pct_sign and 1.0 < abs(value) <= 100.0:
            is_percent = True
        if is_percent:
            value = value / 100.0
            stddev = stddev / 100.0 if stddev is not None else None
        if not 0.0 <= value <= 1.0:
            return NormalizedValue(None, "fraction", raw_text, unit, stddev,
                                   warning=f"value {raw_text!r} cannot be a fraction or a percent")
        return NormalizedValue(round(value, 12), "fraction", raw_text, unit, stddev,
                               converted=is_percent)
    out_unit = canonical_unit or (unit_entry.id if unit_entry else "score")
    if unit_entry is not None and canonical_unit and unit_entry.id != canonical_unit:
        converted = _convert(value, unit_entry.id, canonical_unit)
        if converted is not None:
            return NormalizedValue(converted, canonical_unit, raw_text, unit, stddev, True)
    return NormalizedValue(value, out_unit, raw_text, unit, stddev)


_FACTORS = {("s", "ms"): 1000.0, ("gigabytes", "megabytes"): 1024.0}


def _convert(value: float, src: str, dst: str) -> float | None:
    f = _FACTORS.get((src, dst))
    if f is not None:
        return value * f
    r = _FACTORS.get((dst, src))
    return value / r if r is not None else None


def normalize_license(raw: str | list[str] | None) -> list[tuple[str, str, bool]]:
    """``[(raw, canonical id, known), ...]`` for a licence given as a string or a list."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[tuple[str, str, bool]] = []
    for item in items:
        if item is None or str(item).strip() == "":
            continue
        text = str(item).strip()
        cid, known = table("license").canonical_id(text)
        out.append((text, cid if known else text.lower(), known))
    return out
