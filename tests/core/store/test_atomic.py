"""Atomic writes: all or nothing, readable results, no temporary files left behind."""

from __future__ import annotations

import json
import stat

import pytest

from digit_core.store.atomic import atomic_write_bytes, atomic_write_json, read_json


def test_written_files_are_complete_and_readable_by_others(tmp_path) -> None:
    path = atomic_write_json(tmp_path / "deep" / "x.json", {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = atomic_write_bytes(tmp_path / "model.bin", b"old")

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("digit_core.store.atomic.os.replace", no_space)
    with pytest.raises(OSError, match=r"Cannot write .*model.bin: No space left on device"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_invalid_json_names_the_file(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        read_json(tmp_path / "bad.json")
