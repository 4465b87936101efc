"""Private by default: the index, its -wal and -shm and every folder ragkit creates are
0600/0700 whatever the umask, and `doctor` reports an index others can read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit import Assistant, Check, Config, ModelPacks, TextEncoder, doctor


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o000], ids=lambda m: f"umask {m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_the_index_its_side_files_and_its_folders_are_private(
    tmp_path: Path, config: Config, encoder: TextEncoder, umask: int
) -> None:
    db = tmp_path / "new" / "nested" / "index.db"
    existing = _mode(tmp_path)
    with Assistant(db, config, encoder=encoder) as kb:
        kb.add_texts([("note", "The clinic opens at eight on weekdays.")])
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: _mode(p) for p in (db, wal, shm)} == {
            "index.db": 0o600,
            "index.db-wal": 0o600,
            "index.db-shm": 0o600,
        }
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700 and _mode(db.parent.parent) == 0o700
    # A folder that existed before is not ragkit's to change.
    assert _mode(tmp_path) == existing


def test_the_home_and_models_folders_are_private(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "home"
    source = tmp_path / "tiny.gguf"
    source.write_bytes(b"GGUF" + bytes(60))
    ModelPacks(Config(home=home)).add_gguf(source, "tiny")
    assert _mode(home) == 0o700 and _mode(home / "models") == 0o700


def test_the_default_index_makes_the_home_private(
    tmp_path: Path, config: Config, encoder: TextEncoder, umask: int
) -> None:
    home = tmp_path / "home"
    with Assistant(config=config.replace(home=home), encoder=encoder) as kb:
        kb.add_texts([("note", "Visitors sign in at the front desk.")])
    assert _mode(home) == 0o700 and _mode(home / "index.db") == 0o600


def _permissions(checks: list[Check]) -> Check:
    (check,) = [c for c in checks if c.name == "index permissions"]
    return check


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_doctor_warns_about_an_index_others_can_read(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    home = tmp_path / "home"
    settings = config.replace(home=home)
    check = _permissions(doctor(settings))
    assert check.ok and "no index yet" in check.detail
    with Assistant(config=settings, encoder=encoder) as kb:
        kb.add_texts([("note", "Visitors sign in at the front desk.")])
    assert _permissions(doctor(settings)).ok
    # As an older ragkit left it under umask 022.
    (home / "index.db").chmod(0o644)
    check = _permissions(doctor(settings))
    assert not check.ok and f"{home / 'index.db'} (0644)" in check.detail
    assert "chmod 600" in check.detail
    (home / "index.db").chmod(0o600)
    home.chmod(0o755)
    check = _permissions(doctor(settings))
    assert not check.ok and f"{home} (0755)" in check.detail
    home.chmod(0o700)
    # An index given explicitly is the one checked.
    other = tmp_path / "elsewhere.db"
    other.write_bytes(b"")
    other.chmod(0o640)
    check = _permissions(doctor(settings, db=other))
    assert not check.ok and "elsewhere.db (0640)" in check.detail
    assert not _permissions(doctor(settings, db=tmp_path / "missing.db")).ok
