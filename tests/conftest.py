"""Shared fixtures. The suite runs on the real parts, the packs built by `make packs`, except
where a test scripts what the language model writes (``scripted``, ``scripted_cli``)."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ragkit import Assistant, Config, ModelPacks, TextEncoder
from ragkit._config import DEFAULT_ENCODER, TINY_GENERATOR, default_home
from ragkit.models import Encoder
from ragkit.testing import Script, ScriptedGenerator

from .helpers import SAMPLES, Scripted


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


@pytest.fixture(scope="session")
def encoder(config: Config) -> TextEncoder:
    """The real encoder pack, loaded once for the session."""
    return Encoder(
        ModelPacks(config).get(config.encoder_pack(), "encoder"), threads=config.n_threads
    )


@pytest.fixture
def scripted(samples_index: Path, config: Config, encoder: TextEncoder) -> Iterator[Scripted]:
    """``scripted(script, **config_changes)``: an Assistant on the samples index (real
    encoder, real sqlite-vec) whose generator writes ``script`` (see ragkit.testing); the
    :class:`ScriptedGenerator` is its ``generator``, holding the prompts it was given.

    Asking reads the index and never writes it, so the session's index is shared."""
    opened: list[Assistant] = []

    def make(script: Script, **changes: object) -> Assistant:
        kb = Assistant(
            samples_index,
            config.replace(**changes) if changes else config,
            encoder=encoder,
            generator=ScriptedGenerator(script),
        )
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


@pytest.fixture
def scripted_cli(
    monkeypatch: pytest.MonkeyPatch, encoder: TextEncoder
) -> Callable[[Script], ScriptedGenerator]:
    """``scripted_cli(script)``: from then on the `ragkit` command answers with a
    :class:`ScriptedGenerator` writing ``script``, which is returned.

    The command builds its own Assistant and takes no generator object, so the Assistant
    it builds is given one."""
    import ragkit.cli._app as app

    def install(script: Script) -> ScriptedGenerator:
        generator = ScriptedGenerator(script)
        monkeypatch.setattr(
            app, "Assistant", functools.partial(Assistant, encoder=encoder, generator=generator)
        )
        return generator

    return install


class NetworkGuard:
    """Records every attempt to open a network connection, through Python's audit hooks.

    Hooks cannot be removed once added, so one hook is installed per process and switched on
    and off by the fixture.
    """

    installed = False
    active = False
    attempts: ClassVar[list[tuple[str, tuple]]] = []

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


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The connection string of the PostgreSQL server (with pgvector) the PostgreSQL tests use:
    ``$RAGKIT_TEST_POSTGRES``, which `make test` sets (.ci/with-postgres). Without it those
    tests are skipped, with the reason shown in the summary."""
    dsn = os.environ.get("RAGKIT_TEST_POSTGRES")
    if not dsn:
        pytest.skip(
            "PostgreSQL tests need a server: run them with `make test`, or start one with "
            "`.ci/postgres start DIR` and set RAGKIT_TEST_POSTGRES to the line it prints"
        )
    return dsn
