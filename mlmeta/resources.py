"""Where the ontology, shapes, saved queries and example zoo are.

In a wheel they are installed as ``mlmeta/_res/<name>``; in a checkout (an
editable install, or running from the source tree) they are the top-level
folders beside ``mlmeta/``.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder of a bundled resource: ``ontology``, ``shapes``, ``queries`` or ``examples``.

    :raises FileNotFoundError: if neither the installed nor the checkout copy exists.
    """
    for candidate in (_PKG / "_res" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mlmeta resource folder {name!r} is missing; reinstall mlmeta")


def ontology_path() -> Path:
    return resource_dir("ontology") / "mlmeta.ttl"


def context_path() -> Path:
    return resource_dir("ontology") / "context.jsonld"


def shapes_paths() -> list[Path]:
    return sorted(resource_dir("shapes").glob("*.ttl"))


def queries_dir() -> Path:
    return resource_dir("queries")


def examples_dir() -> Path:
    return resource_dir("examples")
