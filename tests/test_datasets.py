"""The public module wires the engine from settings and runs the migrations."""

from __future__ import annotations

from pathlib import Path

from sartiq_storage.core.config import load_settings
from sartiq_storage.datasets import NativeDatasetEngine, open_engine
from tests.support.datasets import read


def test_open_engine_from_settings(tmp_path: Path) -> None:
    settings = load_settings(STORAGE_DATA_DIR=tmp_path / "data", STORAGE_BACKEND="local")
    engine = open_engine(settings)
    assert isinstance(engine, NativeDatasetEngine)
    engine.create_repository("facade", "local://datasets/facade")
    engine.put_object("facade", "main", "x", b"persisted")
    engine.commit("facade", "main", "x")
    engine.close()
    again = open_engine(settings)
    assert read(again, "facade", "main", "x") == b"persisted"
    again.close()
