"""Settings from a file (``ragkit.toml``) and the environment: :func:`load_config`.

``Config()`` itself reads neither, so an application embedding ragkit is never changed by a
file it does not know about; the CLI, and any caller that wants them, asks for them here.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import platformdirs

from ragkit._config import Config, default_home
from ragkit._errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = ["LoadedConfig", "load_config"]

FILE_NAME = "ragkit.toml"
_ENV_PREFIX = "RAGKIT_"
_CONFIG_ENV = "RAGKIT_CONFIG"


@dataclass(frozen=True, kw_only=True)
class LoadedConfig:
    """The settings :func:`load_config` assembled, with where each one came from."""

    config: Config
    """The settings in effect."""
    file: Path | None
    """The settings file that was read, or None when there was none."""
    searched: tuple[Path, ...]
    """The settings files looked for, in order: the one named (``file=`` or
    ``$RAGKIT_CONFIG``) alone, else ``ragkit.toml`` in the working folder and then in the user
    config folder."""
    origins: Mapping[str, str]
    """For every field of :class:`Config`, where its value came from: ``"default"``,
    ``"file <path>"``, ``"env RAGKIT_<FIELD>"`` or ``"flag"`` (the ``overrides``)."""


@dataclass(frozen=True)
class _Kind:
    """How a setting of one type is read from a TOML value and from an environment variable;
    both readers raise ValueError for a value of another type."""

    toml_what: str
    from_toml: Callable[[object], object]
    env_what: str
    from_text: Callable[[str], object]


def _typed(*accepted: type) -> Callable[[object], object]:
    def read(value: object) -> object:
        # TOML's booleans are Python bools, which are ints too: `top_k = true` is no count.
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise ValueError
        return value

    return read


def _number(value: object) -> float:
    # `temperature = 1` is a float setting written as a TOML integer.
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError
    return float(value)


def _path(value: object) -> Path:
    if not isinstance(value, str):
        raise ValueError
    return Path(value).expanduser()


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return tuple(value)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word not in _TRUE | _FALSE:
        raise ValueError
    return word in _TRUE


def _kind(hint: Any) -> _Kind:
    """The readers for a field annotated ``hint``."""
    if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint):
        (inner,) = (a for a in get_args(hint) if a is not type(None))
        kind = _kind(inner)
        # TOML has no null: a file leaves the key out for none, the environment sets it empty.
        return dataclasses.replace(
            kind,
            env_what=f"{kind.env_what}, or empty for none",
            from_text=lambda text: kind.from_text(text) if text.strip() else None,
        )
    if get_origin(hint) is Literal:
        choices = get_args(hint)

        def choice(value: object) -> object:
            if not isinstance(value, str) or value not in choices:
                raise ValueError
            return value

        what = "one of " + ", ".join(map(repr, choices))
        return _Kind(what, choice, what, lambda text: choice(text.strip()))
    if hint == tuple[str, ...]:
        return _Kind(
            "an array of strings",
            _names,
            "comma-separated names",
            lambda text: tuple(n.strip() for n in text.split(",") if n.strip()),
        )
    readers: dict[Any, _Kind] = {
        str: _Kind("a string", _typed(str), "text", str),
        int: _Kind("an integer", _typed(int), "an integer", lambda text: int(text.strip())),
        float: _Kind("a number", _number, "a number", lambda text: float(text.strip())),
        bool: _Kind("true or false", _typed(bool), "1, 0, true, false, yes or no", _flag),
        Path: _Kind("a path (a string)", _path, "a path", lambda text: Path(text).expanduser()),
    }
    if hint not in readers:
        raise TypeError(f"ragkit._settings cannot read a setting of type {hint!r}; teach _kind.")
    return readers[hint]


_FIELDS = [f.name for f in dataclasses.fields(Config)]
_HINTS = get_type_hints(Config)
_KINDS = {name: _kind(_HINTS[name]) for name in _FIELDS}
_OPTIONAL = {name for name in _FIELDS if get_origin(_HINTS[name]) in (Union, types.UnionType)}


def load_config(
    file: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedConfig:
    """The settings from a ``ragkit.toml`` file, the environment and ``overrides``.

    The file is ``file`` if given (it must exist), else the one ``$RAGKIT_CONFIG`` names,
    else ``ragkit.toml`` in ``cwd`` (by default the working folder), else ``ragkit.toml`` in
    the user config folder (``~/.config/ragkit`` on Linux), else none. Its top-level keys
    are :class:`Config`'s fields; relative paths in it are relative to its folder.
    ``RAGKIT_<FIELD>`` variables of ``environ`` (by default the process's environment) set
    fields too: lists comma-separated, booleans as 1/0/true/false/yes/no, and an empty
    variable unset (none, for a setting that may be none). ``overrides`` (what command line
    flags set) win over the environment, which wins over the file, which wins over the
    defaults.

    Raises :class:`ConfigError` naming the file and key, or the variable, at fault: an
    unknown key, a value of the wrong type, malformed TOML, a value :class:`Config` rejects.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path, searched = _find(file, environ, cwd)
    values: dict[str, Any] = {}
    origins = dict.fromkeys(_FIELDS, "default")
    if path is not None:
        values.update(_read_file(path))
        origins.update(dict.fromkeys(values, f"file {path}"))
    for name in _FIELDS:
        variable = _ENV_PREFIX + name.upper()
        text = environ.get(variable)
        if text is None or (not text.strip() and name not in _OPTIONAL):
            continue
        kind = _KINDS[name]
        try:
            values[name] = kind.from_text(text)
        except ValueError:
            raise ConfigError(
                f"${variable}={text!r}: {name} must be {kind.env_what}; correct or unset the "
                "variable."
            ) from None
        origins[name] = f"env {variable}"
    for name, value in (overrides or {}).items():
        if name not in _KINDS:
            raise ConfigError(f"{name!r} is not a setting{_suggestion(name)}.")
        values[name] = value
        origins[name] = "flag"
    # $RAGKIT_HOME is read from ``environ``, like every other variable, not from os.environ.
    values.setdefault("home", default_home(environ))
    try:
        config = Config(**values)
    except ConfigError as exc:
        raise ConfigError(_with_origins(str(exc), origins, path)) from exc
    return LoadedConfig(
        config=config, file=path, searched=searched, origins=types.MappingProxyType(origins)
    )


def _find(
    file: str | os.PathLike[str] | None, environ: Mapping[str, str], cwd: Path
) -> tuple[Path | None, tuple[Path, ...]]:
    """The settings file to read, if any, and the files looked for."""
    named_by = ""
    if file is None and environ.get(_CONFIG_ENV):
        file, named_by = environ[_CONFIG_ENV], f" (named by ${_CONFIG_ENV})"
    if file is not None:
        path = (cwd / Path(file).expanduser()).absolute()
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise ConfigError(
                f"{path}{named_by} {what}; name an existing settings file, or leave it out to "
                f"read {FILE_NAME} from the working folder or the user config folder."
            )
        return path, (path,)
    user = Path(platformdirs.user_config_dir("ragkit", appauthor=False))
    searched = ((cwd / FILE_NAME).absolute(), user / FILE_NAME)
    return next((p for p in searched if p.is_file()), None), searched


def _read_file(path: Path) -> dict[str, Any]:
    """The settings ``path`` holds, each checked and converted to its field's type."""
    try:
        # utf-8-sig: Windows editors may start the file with a byte order mark.
        data: dict[str, Any] = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"{path}: the settings file cannot be read ({exc}).") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from exc
    except tomllib.TOMLDecodeError as exc:
        # The parser's message ends with the line and column: "(at line 3, column 7)".
        raise ConfigError(f"{path}: not valid TOML: {exc}.") from exc
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KINDS:
            raise ConfigError(
                f"{path}: unknown setting {key!r}{_suggestion(key)}. The keys are the fields "
                "of ragkit.Config, listed in the README (Settings in a file)."
            )
        kind = _KINDS[key]
        try:
            read = kind.from_toml(value)
        except ValueError:
            raise ConfigError(
                f"{path}: {key} must be {kind.toml_what}, not {value!r}; correct it in the file."
            ) from None
        values[key] = path.parent / read if isinstance(read, Path) else read
    return values


def _suggestion(key: str) -> str:
    close = difflib.get_close_matches(key.lower(), _FIELDS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _with_origins(message: str, origins: Mapping[str, str], path: Path | None) -> str:
    """Config's ``message`` with where the settings it names were set: Config names a setting
    as ``name (value)`` or ``name is``, and knows nothing of files or variables."""
    named = [
        f"{name} from {origins[name]}"
        for name in _FIELDS
        if origins[name] != "default" and re.search(rf"\b{name}\b(?= \(| is )", message)
    ]
    if named:
        return f"{message} ({'; '.join(named)})"
    return f"{message} (settings file: {path})" if path is not None else message
