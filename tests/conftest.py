"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmeta.store import OxigraphStore

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real public data); the test is skipped, saying why, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent (looked in {SHARED_DATA}); "
                    "it holds the real zoo data this test reads")
    return SHARED_DATA


@pytest.fixture
def store() -> Iterator[OxigraphStore]:
    """A fresh in-memory embedded Oxigraph store."""
    s = OxigraphStore()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _isolated_default_store(tmp_path_factory: pytest.TempPathFactory,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test write to the user's real default store."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("MLMETA_STORE", raising=False)
