"""Settings from ragkit.toml and RAGKIT_<SETTING> variables: load_config and `ragkit config
show`. No model is needed."""

from __future__ import annotations

import dataclasses
import json
import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import click.testing
import platformdirs
import pytest
from click.testing import CliRunner

from ragkit import Config, ConfigError, load_config
from ragkit._settings import _kind
from ragkit.cli import main

FIELDS = [f.name for f in dataclasses.fields(Config)]
HINTS = get_type_hints(Config)


@pytest.fixture(autouse=True)
def user_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user config folder of the test's own, and no RAGKIT_ variables: neither the
    settings of whoever runs the tests nor `make test`'s $RAGKIT_HOME may reach them."""
    folder = tmp_path / "user-config"
    folder.mkdir()
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda *args, **kwargs: str(folder))
    for variable in [v for v in os.environ if v.startswith("RAGKIT_")]:
        monkeypatch.delenv(variable)
    return folder


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The working folder load_config looks in: empty unless a test writes ragkit.toml."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def sample(name: str, tmp_path: Path) -> Any:
    """A value for setting ``name`` other than its default, that Config accepts on its own."""
    hint = HINTS[name]
    default = getattr(Config(), name)
    if get_origin(hint) is Literal:
        return next(choice for choice in get_args(hint) if choice != default)
    if isinstance(hint, types.UnionType):  # an optional setting: X | None
        (hint,) = (a for a in get_args(hint) if a is not type(None))
    samples: dict[Any, Callable[[], Any]] = {
        int: lambda: (default or 2) + 1,
        float: lambda: (default or 0.0) + 0.125,
        bool: lambda: not default,
        str: lambda: "custom-pack",
        tuple[str, ...]: lambda: ("pack-a", "pack-b"),
        Path: lambda: tmp_path / "elsewhere",
    }
    if hint not in samples:
        pytest.fail(f"no sample value for {name}: {hint!r}; add one for the type")
    return samples[hint]()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ",".join(value)
    return repr(value) if isinstance(value, float) else str(value)


def settings_file(folder: Path, text: str, name: str = "ragkit.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# every setting -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_is_read_from_a_file(name: str, tmp_path: Path, work: Path) -> None:
    value = sample(name, tmp_path)
    file = settings_file(tmp_path, f"{name} = {toml_value(value)}\n")
    loaded = load_config(file, environ={}, cwd=work)
    assert getattr(loaded.config, name) == value
    assert loaded.file == file
    assert loaded.origins == {n: f"file {file}" if n == name else "default" for n in FIELDS}


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_is_read_from_the_environment(name: str, tmp_path: Path, work: Path) -> None:
    value = sample(name, tmp_path)
    variable = f"RAGKIT_{name.upper()}"
    loaded = load_config(environ={variable: env_value(value)}, cwd=work)
    assert getattr(loaded.config, name) == value
    assert loaded.file is None
    assert loaded.origins == {n: f"env {variable}" if n == name else "default" for n in FIELDS}


def test_booleans_read_from_the_environment() -> None:
    # No setting is a bool yet; the reader is there for the first one.
    read = _kind(bool).from_text
    assert [read(t) for t in ("1", "true", "Yes", "on", "0", "FALSE", "no", "off")] == [
        True
    ] * 4 + [False] * 4
    with pytest.raises(ValueError):
        read("maybe")


def test_config_itself_reads_no_file(monkeypatch: pytest.MonkeyPatch, work: Path) -> None:
    settings_file(work, "top_k = 5\n")
    monkeypatch.chdir(work)
    assert Config().top_k == 4
    assert load_config(environ={}).config.top_k == 5


# precedence --------------------------------------------------------------------------------


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path, work: Path) -> None:
    file = settings_file(tmp_path, "top_k = 5\ncandidates = 50\nchunk_overlap = 30\n")
    loaded = load_config(
        file,
        overrides={"top_k": 7},
        environ={"RAGKIT_TOP_K": "6", "RAGKIT_CANDIDATES": "60"},
        cwd=work,
    )
    config = loaded.config
    assert (config.top_k, config.candidates, config.chunk_overlap, config.chunk_tokens) == (
        7,
        60,
        30,
        200,
    )
    assert loaded.origins["top_k"] == "flag"
    assert loaded.origins["candidates"] == "env RAGKIT_CANDIDATES"
    assert loaded.origins["chunk_overlap"] == f"file {file}"
    assert loaded.origins["chunk_tokens"] == "default"


def test_an_empty_variable_is_none_for_an_optional_setting_and_unset_for_others(
    tmp_path: Path, work: Path
) -> None:
    file = settings_file(tmp_path, "threads = 3\ntop_k = 5\n")
    loaded = load_config(file, environ={"RAGKIT_THREADS": "", "RAGKIT_TOP_K": " "}, cwd=work)
    assert loaded.config.threads is None
    assert loaded.origins["threads"] == "env RAGKIT_THREADS"
    assert loaded.config.top_k == 5
    assert loaded.origins["top_k"] == f"file {file}"


def test_other_ragkit_variables_are_not_settings(work: Path) -> None:
    environ = {
        v: "x"
        for v in ("RAGKIT_DB", "RAGKIT_KEY", "RAGKIT_KEY_FILE", "RAGKIT_API_KEY", "RAGKIT_TOPK")
    }
    loaded = load_config(environ=environ, cwd=work)
    assert set(loaded.origins.values()) == {"default"}


def test_home_comes_from_the_given_environment_only(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_config(environ={"RAGKIT_HOME": str(tmp_path / "h")}, cwd=work)
    assert loaded.config.home == tmp_path / "h"
    assert loaded.origins["home"] == "env RAGKIT_HOME"
    monkeypatch.setenv("RAGKIT_HOME", str(tmp_path / "process"))
    default = load_config(environ={}, cwd=work)
    assert default.config.home == Path(platformdirs.user_data_dir("ragkit", appauthor=False))
    assert default.origins["home"] == "default"


def test_a_malformed_variable_is_named(work: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$RAGKIT_TOP_K='six': top_k must be an integer"):
        load_config(environ={"RAGKIT_TOP_K": "six"}, cwd=work)
    with pytest.raises(ConfigError, match=r"RAGKIT_OCR.*one of 'auto', 'off', 'force'"):
        load_config(environ={"RAGKIT_OCR": "sometimes"}, cwd=work)
    with pytest.raises(ConfigError, match=r"RAGKIT_THREADS.*an integer, or empty for none"):
        load_config(environ={"RAGKIT_THREADS": "all"}, cwd=work)


# discovery ---------------------------------------------------------------------------------


def test_files_are_found_in_order(tmp_path: Path, work: Path, user_config_dir: Path) -> None:
    nothing = load_config(environ={}, cwd=work)
    assert nothing.file is None
    assert nothing.searched == (work / "ragkit.toml", user_config_dir / "ragkit.toml")
    user = settings_file(user_config_dir, "top_k = 5\n")
    from_user = load_config(environ={}, cwd=work)
    assert (from_user.file, from_user.config.top_k) == (user, 5)
    here = settings_file(work, "top_k = 6\n")
    assert load_config(environ={}, cwd=work).file == here
    named = settings_file(tmp_path, "top_k = 7\n", "named.toml")
    by_env = load_config(environ={"RAGKIT_CONFIG": str(named)}, cwd=work)
    assert (by_env.file, by_env.config.top_k, by_env.searched) == (named, 7, (named,))
    given = settings_file(tmp_path, "top_k = 8\n", "given.toml")
    by_argument = load_config(given, environ={"RAGKIT_CONFIG": str(named)}, cwd=work)
    assert (by_argument.file, by_argument.config.top_k) == (given, 8)


def test_a_relative_file_name_is_relative_to_the_working_folder(work: Path) -> None:
    file = settings_file(work / "conf", "top_k = 5\n", "mine.toml")
    assert load_config("conf/mine.toml", environ={}, cwd=work).file == file


def test_a_named_file_must_exist(tmp_path: Path, work: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        load_config(tmp_path / "nope.toml", environ={}, cwd=work)
    with pytest.raises(ConfigError, match=r"gone\.toml \(named by \$RAGKIT_CONFIG\) does not"):
        load_config(environ={"RAGKIT_CONFIG": str(tmp_path / "gone.toml")}, cwd=work)
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path, environ={}, cwd=work)


# what a file may hold ----------------------------------------------------------------------


def test_an_unknown_key_is_named_with_the_closest_setting(tmp_path: Path, work: Path) -> None:
    file = settings_file(tmp_path, "topk = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={}, cwd=work)
    assert f"{file}: unknown setting 'topk' (did you mean 'top_k'?)" in str(caught.value)
    far = settings_file(tmp_path, "[retrieval]\nk = 5\n", "far.toml")
    with pytest.raises(ConfigError, match="unknown setting 'retrieval'") as caught:
        load_config(far, environ={}, cwd=work)
    assert str(far) in str(caught.value) and "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('top_k = "six"', "top_k must be an integer, not 'six'"),
        ("top_k = true", "top_k must be an integer, not True"),
        ("top_k = 4.5", "top_k must be an integer, not 4.5"),
        ('ladder = "a,b"', "ladder must be an array of strings, not 'a,b'"),
        ('ocr = "sometimes"', "ocr must be one of 'auto', 'off', 'force', not 'sometimes'"),
        ("home = 3", "home must be a path (a string), not 3"),
        ("dense_weight = false", "dense_weight must be a number, not False"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(
    line: str, expected: str, tmp_path: Path, work: Path
) -> None:
    file = settings_file(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={}, cwd=work)
    assert f"{file}: {expected}" in str(caught.value)


def test_an_integer_is_a_number(tmp_path: Path, work: Path) -> None:
    file = settings_file(tmp_path, "temperature = 1\n")
    temperature = load_config(file, environ={}, cwd=work).config.temperature
    assert temperature == 1.0 and isinstance(temperature, float)


def test_malformed_toml_names_the_file_and_line(tmp_path: Path, work: Path) -> None:
    file = settings_file(tmp_path, "top_k = 5\nchunk_tokens =\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2") as caught:
        load_config(file, environ={}, cwd=work)
    assert str(caught.value).startswith(f"{file}: ")


def test_a_value_config_rejects_is_traced_to_where_it_was_set(tmp_path: Path, work: Path) -> None:
    file = settings_file(tmp_path, "chunk_overlap = 300\n")
    with pytest.raises(ConfigError, match="must be smaller than chunk_tokens") as caught:
        load_config(file, environ={}, cwd=work)
    assert f"(chunk_overlap from file {file})" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={"RAGKIT_CHUNK_OVERLAP": "20", "RAGKIT_TOP_K": "50"}, cwd=work)
    assert "(top_k from env RAGKIT_TOP_K)" in str(caught.value)
    empty = settings_file(tmp_path, "ladder = []\n", "empty.toml")
    with pytest.raises(ConfigError, match=r"ladder is empty.*\(ladder from file .*empty\.toml\)"):
        load_config(empty, environ={}, cwd=work)


def test_relative_paths_are_relative_to_the_file(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = settings_file(tmp_path / "conf", 'home = "data"\n')
    assert load_config(file, environ={}, cwd=work).config.home == tmp_path / "conf" / "data"
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    file.write_text('home = "~/ragkit"\n', encoding="utf-8")
    assert load_config(file, environ={}, cwd=work).config.home == tmp_path / "user" / "ragkit"


# the command line --------------------------------------------------------------------------


def run(*args: str, code: int = 0) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_config_show_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = settings_file(tmp_path, 'top_k = 5\nladder = ["a", "b"]\nhome = "data"\n', "s.toml")
    monkeypatch.setenv("RAGKIT_CANDIDATES", "50")
    result = run("--config", str(file), "--encoder", "my-encoder", "config", "show", "--json")
    data = json.loads(result.output)
    assert data["file"] == str(file)
    settings = data["settings"]
    assert list(settings) == FIELDS
    assert settings["top_k"] == {"value": 5, "from": f"file {file}"}
    assert settings["ladder"] == {"value": ["a", "b"], "from": f"file {file}"}
    assert settings["home"] == {"value": str(tmp_path / "data"), "from": f"file {file}"}
    assert settings["candidates"] == {"value": 50, "from": "env RAGKIT_CANDIDATES"}
    assert settings["encoder"] == {"value": "my-encoder", "from": "flag"}
    assert settings["threads"] == {"value": None, "from": "default"}


def test_config_show_finds_the_file_by_variable_or_in_the_working_folder(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work)
    here = settings_file(work, "top_k = 5\n")
    assert json.loads(run("config", "show", "--json").output)["file"] == str(here)
    named = settings_file(tmp_path, "top_k = 6\n", "named.toml")
    monkeypatch.setenv("RAGKIT_CONFIG", str(named))
    data = json.loads(run("config", "show", "--json").output)
    assert (data["file"], data["settings"]["top_k"]["value"]) == (str(named), 6)


def test_config_show_table(tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    output = run("config", "show").output
    assert f"no settings file (looked for {work / 'ragkit.toml'}" in output
    file = settings_file(work, "top_k = 5\n")
    output = run("config", "show").output
    assert f"settings file: {file}" in output
    rows = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}
    assert rows["top_k"] == ["5", "file"]
    assert rows["chunk_tokens"] == ["200", "default"]
    assert rows["setting"] == ["value", "from"]


def test_a_setting_from_the_file_reaches_a_command(tmp_path: Path) -> None:
    file = settings_file(tmp_path, f"home = {toml_value(tmp_path / 'elsewhere')}\n")
    result = run("--config", str(file), "ls", code=1)
    assert str(tmp_path / "elsewhere" / "index.db") in result.output
    flagged = run("--config", str(file), "--home", str(tmp_path / "flag"), "ls", code=1)
    assert str(tmp_path / "flag" / "index.db") in flagged.output


def test_a_bad_file_stops_the_command(tmp_path: Path) -> None:
    file = settings_file(tmp_path, "top_k = 5\nchunk_tokenz = 100\n")
    result = run("--config", str(file), "config", "show", code=1)
    assert "unknown setting 'chunk_tokenz' (did you mean 'chunk_tokens'?)" in result.output
    missing = run("--config", str(tmp_path / "missing.toml"), "config", "show", code=2)
    assert "missing.toml" in missing.output
