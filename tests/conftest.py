"""Shared fixtures. The suite runs on the real parts: the packs built by `make packs`."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from ragkit import Assistant, Config, ModelPacks
from ragkit._config import DEFAULT_ENCODER, DEFAULT_GENERATOR, TINY_GENERATOR, default_home

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "corpus"
QUESTIONS = ROOT / "samples" / "questions.jsonl"


@pytest.fixture(scope="session")
def home() -> Path:
    """The ragkit home holding the built packs (``$RAGKIT_HOME``, as `make test` sets it)."""
    path = default_home()
    packs = ModelPacks(Config(home=path))
    missing = [n for n in (DEFAULT_ENCODER, TINY_GENERATOR) if not (packs.root / n).is_dir()]
    if missing:
        pytest.fail(f"model packs {missing} are missing from {packs.root}; run `make packs`.")
    return path


@pytest.fixture(scope="session")
def config(home: Path) -> Config:
    """Real encoder, tiny real generator (SmolLM2-135M), two threads."""
    return Config(home=home, generator=TINY_GENERATOR, threads=2)


@pytest.fixture(scope="session")
def default_config(home: Path) -> Config:
    if not (ModelPacks(Config(home=home)).root / DEFAULT_GENERATOR).is_dir():
        pytest.fail(f"the default generator pack is missing from {home}; run `make packs`.")
    return Config(home=home, threads=2)


@pytest.fixture(scope="session")
def samples_index(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    """An index of samples/ built once for the session (tests copy it before writing)."""
    db = tmp_path_factory.mktemp("samples") / "index.db"
    with Assistant(db, config) as kb:
        report = kb.add(SAMPLES)
    assert not report.failed, report.failed
    return db


@pytest.fixture
def samples_copy(tmp_path: Path, samples_index: Path) -> Path:
    """A private copy of the samples index a test may change."""
    target = tmp_path / "index.db"
    shutil.copyfile(samples_index, target)
    return target


class NetworkGuard:
    """Records every attempt to open a network connection, through Python's audit hooks.

    Hooks cannot be removed once added, so one hook is installed per process and switched on
    and off by the fixture.
    """

    installed = False
    active = False
    attempts: list[tuple[str, tuple]] = []

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        # Local IPC (AF_UNIX, used by multiprocessing's forkserver) is not network access.
        network = event == "socket.getaddrinfo" or (
            event in {"socket.connect", "socket.sendto", "socket.bind"}
            and getattr(args[0], "family", None) in (socket.AF_INET, socket.AF_INET6)
        )
        if network:
            cls.attempts.append((event, args))
            raise ConnectionRefusedError(f"ragkit tests forbid network access ({event} {args})")


@pytest.fixture
def no_network():
    """Fails any internet socket connect, bind or send and any DNS lookup during the test."""
    if not NetworkGuard.installed:
        sys.addaudithook(NetworkGuard.hook)
        NetworkGuard.installed = True
    NetworkGuard.attempts.clear()
    NetworkGuard.active = True
    try:
        yield NetworkGuard.attempts
    finally:
        NetworkGuard.active = False

