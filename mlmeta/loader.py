"""The user's own records: YAML, JSON and JSON-LD files.

A YAML / JSON file holds one record (a mapping with ``type:``) or several
(``records: [...]``, or a top-level list). ``type`` is one of ``model``,
``dataset``, ``evaluation``, ``hardware``, ``prediction``, ``training-run``.
Field names are those of the record dataclasses in :mod:`mlmeta.records`
(see ``examples/README.md``). Unknown fields, wrong types and malformed files
are reported with the file, the record and the field, never a traceback.

JSON-LD files (``.jsonld``) using our context are read as RDF directly; see
:func:`load_jsonld`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from mlmeta.errors import InputFormatError, Violation
from mlmeta.records import (
    DatasetRecord,
    EvaluationRecord,
    HardwareRecord,
    Hyperparameter,
    Lineage,
    ModelRecord,
    PredictionRecord,
    Record,
    SourceInfo,
    StandaloneEvaluation,
    TrainingRunRecord,
)

TYPES: dict[str, type] = {
    "model": ModelRecord,
    "dataset": DatasetRecord,
    "evaluation": EvaluationRecord,
    "hardware": HardwareRecord,
    "prediction": PredictionRecord,
    "training-run": TrainingRunRecord,
}

# Fields a user file spells differently from the dataclass.
_ID_FIELD = {"model": "source_id", "dataset": "source_id", "hardware": "name"}


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin is list:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return {str: "text", int: "a whole number", float: "a number", bool: "true/false",
            datetime: "a date-time"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[str] = []
        # Try the exact Python type first, so "1.0" stays text where text is allowed.
        for a in sorted((a for a in args if a is not type(None)),
                        key=lambda a: 0 if isinstance(a, type) and type(value) is a else 1):
            try:
                return _convert(value, a, path)
            except _FieldError as e:
                errors.append(e.message)
        raise _FieldError(path, f"expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in get_args(tp):
            return value
        raise _FieldError(path, f"expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        (item_tp,) = get_args(tp)
        if not isinstance(value, list):
            value = [value]
        return [_convert(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _FieldError(path, f"expected a mapping, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return _dataclass(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _FieldError(path, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _FieldError(path, f"expected a whole number, got {value!r}")
        try:
            f = float(value)
        except ValueError:
            raise _FieldError(path, f"expected a whole number, got {value!r}") from None
        if f != int(f):
            raise _FieldError(path, f"expected a whole number, got {value!r}")
        return int(f)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _FieldError(path, f"expected a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise _FieldError(path, f"expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # YAML reads version 1.0 as a float; keep it as text
        if isinstance(value, date | datetime):
            return value.isoformat()
        raise _FieldError(path, f"expected text, got {value!r}")
    if tp is datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                d = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _FieldError(path, f"expected an ISO date-time, got {value!r}") from None
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        raise _FieldError(path, f"expected an ISO date-time, got {value!r}")
    return value


def _shortcuts(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    hps = data.get("hyperparameters")
    if isinstance(hps, Mapping):
        data["hyperparameters"] = [{"name": k, "value": v} for k, v in hps.items()]
    if cls is ModelRecord:
        dfs = data.get("derived_from")
        if isinstance(dfs, str | Mapping):
            dfs = [dfs]
        if isinstance(dfs, list):
            data["derived_from"] = [{"base": d} if isinstance(d, str) else d for d in dfs]
        cs = data.get("concepts")
        if isinstance(cs, list):
            data["concepts"] = [{"label": c} if isinstance(c, str) else c for c in cs]
    for key in ("software",):
        sw = data.get(key)
        if isinstance(sw, Mapping) and cls is not EvaluationRecord:
            data[key] = [sw]
    if cls is DatasetRecord:
        sp = data.get("splits")
        if isinstance(sp, list):
            data["splits"] = [{"name": s} if isinstance(s, str) else s for s in sp]
    return data


def _dataclass(cls: type, value: Any, path: str) -> Any:
    if cls is Hyperparameter and isinstance(value, Mapping) and "name" not in value \
            and len(value) == 1:
        (k, v), = value.items()
        value = {"name": k, "value": v}
    if cls is Lineage and isinstance(value, str):
        value = {"base": value}
    if not isinstance(value, Mapping):
        raise _FieldError(path, f"expected a mapping with fields of {cls.__name__}, got {value!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    value = _shortcuts(cls, dict(value))
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _FieldError(f"{path}.{unknown[0]}" if path else unknown[0],
                          f"unknown field {unknown[0]!r}; valid fields: "
                          + ", ".join(sorted(fields)))
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in value:
            kwargs[name] = _convert(value[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _FieldError(sub, f"missing required field {name!r}")
    return cls(**kwargs)


def parse_record(data: Any, file: str, index: int, default_zoo: str = "user") -> Record:
    """Build one record from a parsed YAML / JSON mapping.

    :raises InputFormatError: naming the file, the record and the field.
    """
    rid = f"#{index}"
    try:
        if not isinstance(data, Mapping):
            raise _FieldError("(record)", f"a record must be a mapping, got {type(data).__name__}")
        data = dict(data)
        rid = str(data.get("id") or data.get("name") or rid)
        kind = data.pop("type", None)
        if kind not in TYPES:
            raise _FieldError("type", f"type must be one of {', '.join(TYPES)}; got {kind!r}")
        src = data.pop("source", None) or {}
        if isinstance(src, str):
            src = {"url": src}
        zoo = data.pop("zoo", None) or (src.get("system") if isinstance(src, Mapping) else None)
        if isinstance(src, Mapping):
            src = {**src, "system": zoo or default_zoo}
        source = _dataclass(SourceInfo, src, "source")
        cls = TYPES[kind]
        if kind in _ID_FIELD and "id" in data:
            data[_ID_FIELD[kind]] = data.pop("id")
        if kind == "evaluation":
            eid = data.pop("id", None) or f"{Path(file).stem}-{index}"
            ev = _dataclass(EvaluationRecord, data, "")
            return StandaloneEvaluation(ev, str(eid), source)
        data["source"] = source
        return typing.cast(Record, _dataclass(cls, data, ""))
    except _FieldError as e:
        raise InputFormatError(
            f"{file}: record {rid!r}: {e.message}",
            [Violation(record_id=rid, field=e.field, message=e.message, source=file)],
        ) from None


def read_file(path: str | Path) -> list[Any]:
    """The raw record mappings of a YAML / JSON file.

    :raises InputFormatError: if the file cannot be read or parsed.
    """
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFormatError(f"{p}: cannot read the file: {e}",
                               [Violation("(file)", "(file)", str(e), str(p))]) from None
    try:
        if p.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
            doc = docs[0] if len(docs) == 1 else docs
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        msg = f"malformed {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: " + \
            " ".join(str(e).split())
        raise InputFormatError(f"{p}: {msg}", [Violation("(file)", "(file)", msg, str(p))]
                               ) from None
    if isinstance(doc, Mapping) and "records" in doc:
        items = doc["records"]
        if not isinstance(items, list):
            raise InputFormatError(f"{p}: 'records' must be a list",
                                   [Violation("(file)", "records", "must be a list", str(p))])
        return items
    if isinstance(doc, list):
        return doc
    if doc is None:
        return []
    return [doc]


def load_file(path: str | Path) -> tuple[list[Record], list[Violation]]:
    """Read every record of a file. Returns the records that could be built and a
    violation for each one that could not (a malformed file gives one violation).
    """
    p = Path(path)
    if p.suffix.lower() == ".jsonld":
        raise InputFormatError(f"{p}: JSON-LD files are read with load_jsonld")
    try:
        items = read_file(p)
    except InputFormatError as e:
        return [], e.violations
    records: list[Record] = []
    problems: list[Violation] = []
    for i, item in enumerate(items):
        try:
            records.append(parse_record(item, str(p), i))
        except InputFormatError as e:
            problems.extend(e.violations)
    return records, problems
