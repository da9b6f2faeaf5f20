"""The bundled example zoo: load every example record file into a store."""

from __future__ import annotations

from pathlib import Path

from mlmeta.errors import InputFormatError
from mlmeta.ingest import IngestReport, ingest
from mlmeta.loader import load_file
from mlmeta.resources import examples_dir
from mlmeta.store import Store

EXAMPLE_SUFFIXES = (".yaml", ".yml", ".json")


def example_files(directory: Path | None = None) -> list[Path]:
    """The example zoo's record files (``examples/zoo/*.yaml`` and the top-level examples)."""
    d = directory or examples_dir()
    return sorted(p for p in d.rglob("*") if p.suffix in EXAMPLE_SUFFIXES and p.is_file()
                  and not p.name.startswith("invalid"))


def load_example_zoo(store: Store, directory: Path | None = None) -> IngestReport:
    """Validate and store every record of the example zoo.

    :raises InputFormatError: if an example file is malformed (a packaging bug).
    """
    total = IngestReport()
    for f in example_files(directory):
        records, problems = load_file(f)
        if problems:
            raise InputFormatError(f"example file {f} is malformed", problems)
        total.merge(ingest(store, records, source=str(f.name)))
    return total
