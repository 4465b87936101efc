"""Model packs: a folder holding model files and a ``manifest.json`` that pins their sha256.

A pack is verified before use, and a stamp (``.verified.json``) records, per file, its size
and mtime, when it was last fully hashed and a digest of a fixed sample of its blocks:

- files up to :data:`FULL_HASH_LIMIT` (the encoder's ONNX model and tokenizer) are fully
  re-hashed on every load (tens of milliseconds);
- larger files (GGUFs) are fully re-hashed when their size or mtime changed, or when the last
  full hash is older than ``Config.verify_after_days``; on every other load only the sample
  (:data:`SPOT_BLOCKS` blocks of :data:`SPOT_BLOCK` bytes, evenly spaced, first and last
  included) is read and compared, which catches in-place damage inside those blocks only.

A generator pack may hold its GGUF by reference instead (``add_gguf(..., copy=False)``,
:meth:`ModelPacks.import_models`): the manifest entry records the absolute ``path`` of a file
another tool (Ollama, LM Studio) keeps, pinned and verified like a file inside the pack, and
never deleted with the pack.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

from ragkit._config import Config
from ragkit._errors import ModelPackError
from ragkit._hashing import Progress, sha256_file
from ragkit._private import private_folder
from ragkit.models._local import LocalModel, ollama_name

__all__ = ["ImportResult", "ImportStatus", "ModelPack", "ModelPacks", "PackKind", "Progress"]

PackKind = Literal["encoder", "generator"]
"""What a pack holds: an ``"encoder"`` (ONNX, for vectors) or a ``"generator"`` (GGUF, for
answers)."""

MANIFEST = "manifest.json"
# Pack names become folder names: no separators, no leading dot, so no way out of models/.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STAMP = ".verified.json"
FORMAT_VERSION = 1
STAMP_VERSION = 2
FULL_HASH_LIMIT = 64 << 20
"""Files up to this size are fully re-hashed on every load (read at call time)."""
SPOT_BLOCKS = 64
SPOT_BLOCK = 64 << 10
"""A larger file's spot check reads ``SPOT_BLOCKS`` blocks of ``SPOT_BLOCK`` bytes."""
_REBUILD = "Rebuild the pack (ragkit.models.build_packs) or re-add it (ragkit models add)."
# The default generator's name, beside the packs (a file: never taken for a pack).
_DEFAULT = "default.json"
_DIGEST_NAME = re.compile(r"sha256-[0-9a-f]{64}")

ImportStatus = Literal["added", "updated", "unchanged"]
"""What :meth:`ModelPacks.import_models` did with a model: registered it as a new pack,
registered it again under the name of a pack it had imported before (the file changed), or
nothing (a pack already holds this file)."""


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """One model :meth:`ModelPacks.import_models` was given: the ``model`` found, the
    ``name`` of the pack that holds it, and the ``status`` (what was, or with ``dry_run``
    would be, done)."""

    model: LocalModel
    name: str
    status: ImportStatus


@dataclass(frozen=True)
class ModelPack:
    """A model pack on disk. Obtain one from :class:`ModelPacks`; it is verified there."""

    name: str
    kind: PackKind
    path: Path
    manifest: Mapping[str, Any]

    def file(self, role: str) -> Path:
        """The path of the pack file with the given role (``model``, ``tokenizer``)."""
        for entry in self.manifest["files"]:
            if entry.get("role") == role:
                return _located(self.path, entry)
        raise ModelPackError(
            f"model pack {self.name!r} ({self.path / MANIFEST}) has no file with role {role!r}; "
            "rebuild it (ragkit.models.build_packs) or add it again."
        )

    @property
    def license(self) -> str:
        return str(self.manifest.get("license", "unknown"))

    @property
    def size(self) -> int:
        """The pack's files' bytes, as the manifest records them (a referenced file's too)."""
        return sum(int(entry["size"]) for entry in self.manifest["files"])

    @property
    def reference(self) -> Path | None:
        """The file outside the pack that it holds by reference (``add_gguf(copy=False)``,
        :meth:`ModelPacks.import_models`), or ``None`` when its files are all inside it."""
        return next((Path(e["path"]) for e in self.manifest["files"] if "path" in e), None)

    @property
    def recipe(self) -> str:
        """How the pack's model was built (export and quantization), as recorded."""
        recipe = self.manifest.get("recipe")
        if recipe:
            return f"{recipe['export']}; {recipe['quantization']}"
        return str(self.manifest.get("quantization", "not recorded"))

    @property
    def source(self) -> str:
        return str(self.manifest.get("source", "unknown"))


def _located(folder: Path, entry: Mapping[str, Any]) -> Path:
    """Where a manifest entry's file is: its recorded ``path`` when the pack holds it by
    reference, else inside the pack's ``folder``."""
    external = entry.get("path")
    return Path(external) if external is not None else folder / str(entry["name"])


def _remedy(pack: ModelPack, entry: Mapping[str, Any]) -> str:
    """What to do about a pack file that is missing, damaged or replaced."""
    if "path" not in entry:
        return _REBUILD
    return (
        f"Model pack {pack.name!r} holds it by reference: register the model as it is now "
        "(ModelPacks.import_models, or ModelPacks.add_gguf with copy=False), or remove the "
        f"pack (ModelPacks.remove({pack.name!r}))."
    )


def pack_name(model: str) -> str:
    """A valid pack name made from a model's name (``qwen2.5:0.5b`` -> ``qwen2.5-0.5b``)."""
    # Room is left for the "-N" that tells apart two models of the same name.
    name = re.sub(r"[^a-z0-9._+-]+", "-", model.lower())[:120].strip("._+-")
    return name or "model"


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ModelPackError(
            f"{name!r} is not a valid model pack name; use letters, digits, '.', '_', '+' and "
            "'-', starting with a letter or digit."
        )
    return name


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelPackError(f"{path} is missing; this folder is not a model pack.") from None
    except (OSError, ValueError) as exc:
        raise ModelPackError(f"{path} cannot be read ({exc}); rebuild or re-add the pack.") from exc
    if not isinstance(manifest, dict):
        raise ModelPackError(f"{path} is not a JSON object; rebuild or re-add the pack.")
    for key in ("name", "kind", "files"):
        if key not in manifest:
            raise ModelPackError(f"{path} lacks the field {key!r}; rebuild or re-add the pack.")
    if manifest["kind"] not in ("encoder", "generator"):
        raise ModelPackError(f"{path}: unknown kind {manifest['kind']!r}.")
    files = manifest["files"]
    if not isinstance(files, list) or not all(
        isinstance(f, dict)
        and isinstance(f.get("name"), str)
        and _NAME.fullmatch(f["name"])
        and isinstance(f.get("size"), int)
        and isinstance(f.get("sha256"), str)
        and _SHA256.fullmatch(f["sha256"])
        and ("path" not in f or (isinstance(f["path"], str) and Path(f["path"]).is_absolute()))
        for f in files
    ):
        raise ModelPackError(
            f"{path}: every entry of 'files' needs a plain file name, a size and a sha256 (and "
            "an absolute path, if any); rebuild or re-add the pack."
        )
    return manifest


class _PinnedFile(TypedDict):
    role: str
    name: str
    size: int
    sha256: str


class _FileEntry(_PinnedFile, total=False):
    """One entry of a manifest's ``files`` list; ``path`` only for a file held by reference
    (``name`` then keys its stamp)."""

    path: str


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _spot_digest(path: Path, size: int) -> str:
    """The sha256 of ``SPOT_BLOCKS`` evenly spaced blocks (first and last included)."""
    digest = hashlib.sha256(f"{SPOT_BLOCKS}x{SPOT_BLOCK}:{size}:".encode())
    span = max(size - SPOT_BLOCK, 0)
    offsets = sorted({span * i // (SPOT_BLOCKS - 1) for i in range(SPOT_BLOCKS)})
    with path.open("rb") as stream:
        for offset in offsets:
            stream.seek(offset)
            digest.update(stream.read(SPOT_BLOCK))
    return digest.hexdigest()


def _stamp_entry(path: Path, key: list[int]) -> dict[str, Any]:
    """What the stamp records for a file that has just been fully hashed.

    A small file is re-hashed on every load anyway, so its entry holds no time (and the
    stamp is not rewritten on each load).
    """
    if key[0] <= FULL_HASH_LIMIT:
        return {"stat": key}
    return {
        "stat": key,
        "verified_at": time.time(),
        "spot": _spot_digest(path, key[0]),
        "spot_layout": [SPOT_BLOCKS, SPOT_BLOCK],
    }


def _read_stamp(path: Path) -> dict[str, Any]:
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    # An older stamp (size + mtime only) has no verification time: every file is re-hashed.
    if not isinstance(stamp, dict) or stamp.get("version") != STAMP_VERSION:
        return {}
    files = stamp.get("files")
    return files if isinstance(files, dict) else {}


def _trusted(path: Path, key: list[int], old: object, max_age: float) -> bool:
    """Whether a large file may skip its full hash: same size and mtime as when it was
    last fully hashed, within the policy's age, and its sampled blocks unchanged.

    Small files are never trusted (they are cheap to hash). A sample that differs is not
    an error by itself (the stamp may be what is damaged): the full hash then decides.
    """
    if key[0] <= FULL_HASH_LIMIT or not isinstance(old, dict) or old.get("stat") != key:
        return False
    verified_at = old.get("verified_at")
    if not isinstance(verified_at, (int, float)):
        return False
    age = time.time() - verified_at
    if not 0 <= age < max_age:  # a time in the future (clock moved back) is not trusted
        return False
    if old.get("spot_layout") != [SPOT_BLOCKS, SPOT_BLOCK]:
        return False
    return bool(old.get("spot") == _spot_digest(path, key[0]))


class ModelPacks:
    """The model packs under ``config.models_dir``: list, verify, add and build them."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.root = self.config.models_dir

    def list(self) -> list[ModelPack]:
        """Every pack whose manifest can be read, sorted by kind then name (not hashed)."""
        packs = []
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if folder.is_dir() and (folder / MANIFEST).is_file():
                    try:
                        packs.append(self._pack(folder))
                    except ModelPackError:
                        continue
        return sorted(packs, key=lambda p: (p.kind, p.name))

    def _pack(self, folder: Path) -> ModelPack:
        manifest = _read_manifest(folder)
        return ModelPack(manifest["name"], manifest["kind"], folder, manifest)

    def _find(self, name: str) -> ModelPack:
        folder = self.root / _check_name(name)
        if not (folder / MANIFEST).is_file():
            known = ", ".join(p.name for p in self.list()) or "none"
            raise ModelPackError(
                f"model pack {name!r} not found in {self.root} (installed: {known}). "
                "Build the default packs with ragkit.models.build_packs, or add a GGUF with "
                "ModelPacks.add_gguf."
            )
        return self._pack(folder)

    def get(self, name: str, kind: PackKind | None = None) -> ModelPack:
        """Load the pack called ``name`` and verify it.

        Files up to ``FULL_HASH_LIMIT`` are fully re-hashed. A larger file is fully re-hashed
        when its size or mtime changed or its last full hash is older than
        ``config.verify_after_days``; otherwise a sample of its blocks is compared with the
        sample taken at that full hash.
        """
        pack = self._find(name)
        if kind and pack.kind != kind:
            raise ModelPackError(
                f"model pack {name!r} is a {pack.kind} pack, but a {kind} pack is needed here; "
                "check the encoder/generator setting."
            )
        self._verify(pack, full=False)
        return pack

    def verify(self, name: str, progress: Progress | None = None) -> ModelPack:
        """Re-hash every file of the pack against its manifest."""
        pack = self._find(name)
        self._verify(pack, full=True, progress=progress)
        return pack

    def _verify(self, pack: ModelPack, *, full: bool, progress: Progress | None = None) -> None:
        stamp_path = pack.path / _STAMP
        stamp = {} if full else _read_stamp(stamp_path)
        max_age = self.config.verify_after_days * 86400.0
        fresh: dict[str, Any] = {}
        for entry in pack.manifest["files"]:
            path = _located(pack.path, entry)
            remedy = _remedy(pack, entry)
            if not path.is_file():
                raise ModelPackError(f"{path} is missing from model pack {pack.name!r}. {remedy}")
            try:
                key = _stat_key(path)
                if key[0] != entry["size"]:
                    raise ModelPackError(
                        f"{path} is {key[0]} bytes but the manifest says {entry['size']}; the "
                        f"file is damaged or was replaced. {remedy}"
                    )
                old = stamp.get(entry["name"])
                if _trusted(path, key, old, max_age):
                    fresh[entry["name"]] = old
                    continue
                digest = sha256_file(path, progress, f"verifying {pack.name}/{entry['name']}")
            except OSError as exc:  # a file held by reference may be another user's
                raise ModelPackError(
                    f"{path} of model pack {pack.name!r} cannot be read ({exc}). {remedy}"
                ) from exc
            if digest != entry["sha256"]:
                raise ModelPackError(
                    f"{path} has sha256 {digest[:16]}… but the manifest pins "
                    f"{entry['sha256'][:16]}…; the file is damaged or was replaced. {remedy}"
                )
            fresh[entry["name"]] = _stamp_entry(path, key)
        if fresh != stamp:
            # The stamp only saves re-hashing; a read-only pack still verifies without it.
            try:
                tmp = stamp_path.with_name(f"{_STAMP}.{os.getpid()}")
                tmp.write_text(json.dumps({"version": STAMP_VERSION, "files": fresh}))
                os.replace(tmp, stamp_path)
            except OSError:
                pass

    def install(
        self,
        name: str,
        kind: PackKind,
        files: Iterable[tuple[str, str, Path]],
        meta: Mapping[str, Any],
        *,
        move: bool = False,
        link: bool = False,
        progress: Progress | None = None,
    ) -> ModelPack:
        """Create (or replace) a pack from ``(role, name_in_pack, source_path)`` files.

        The files are copied into the pack, or moved with ``move``; with ``link`` they stay
        where they are and the manifest records their absolute paths (each is hashed either
        way). The pack is assembled in a temporary folder beside its destination and renamed
        into place, so a crash never leaves a half-written pack that looks complete.
        """
        _check_name(name)
        private_folder(self.root)  # ragkit's home and models/ are 0700 when made here
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        try:
            entries: list[_FileEntry] = []
            for role, target, source in files:
                if link:
                    dest = Path(source).resolve()
                    if dest.is_relative_to(self.root.resolve()):
                        # Removing or replacing that pack would delete the file under this one.
                        raise ModelPackError(
                            f"{source} belongs to a model pack in {self.root}; a pack cannot "
                            "refer to another pack's file: copy it instead."
                        )
                else:
                    dest = tmp / target
                    if move:
                        shutil.move(str(source), dest)
                    else:
                        shutil.copyfile(source, dest)
                entry: _FileEntry = {
                    "role": role,
                    "name": target,
                    "size": dest.stat().st_size,
                    "sha256": sha256_file(dest, progress, f"hashing {name}/{target}"),
                }
                if link:
                    entry["path"] = str(dest)
                entries.append(entry)
            manifest = {"format": FORMAT_VERSION, "name": name, "kind": kind, **meta}
            manifest["files"] = entries
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            stamp = {
                e["name"]: _stamp_entry(_located(tmp, e), _stat_key(_located(tmp, e)))
                for e in entries
            }
            (tmp / _STAMP).write_text(json.dumps({"version": STAMP_VERSION, "files": stamp}))
            # mkdtemp and temporary files are private (0700/0600); packs are ordinary files.
            tmp.chmod(0o755)
            for entry in entries:
                if "path" not in entry:  # a referenced file is not ragkit's to change
                    (tmp / entry["name"]).chmod(0o644)
            final = self.root / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._pack(final)

    def add_gguf(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        license: str = "unknown",
        copy: bool = True,
        progress: Progress | None = None,
    ) -> ModelPack:
        """Register a GGUF file a user brings as a generator pack: copied into the pack, or
        with ``copy=False`` held by reference (the manifest records its absolute path; the
        file must then stay where it is, unchanged).

        ``name`` defaults to the model's name when the file is an Ollama blob (from Ollama's
        manifests beside it), else to the file name without ``.gguf``. The model's own chat
        template, stored inside the GGUF, is used at run time.
        """
        source = Path(path).expanduser()
        if not source.is_file():
            raise ModelPackError(f"{source}: no such file; give the path of a .gguf model file.")
        with source.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            raise ModelPackError(
                f"{source} is not a GGUF file (it does not start with 'GGUF'); convert the model "
                "with llama.cpp's convert_hf_to_gguf.py first."
            )
        if name is None:
            model = ollama_name(source.resolve())
            if model is None and _DIGEST_NAME.fullmatch(source.stem):
                raise ModelPackError(
                    f"{source} is named by its digest alone (an Ollama blob?) and no Ollama "
                    "manifest beside it names the model; give the pack a name, or import "
                    "Ollama's models by their names (ModelPacks.import_models)."
                )
            name = pack_name(model or source.stem)
        how = "added from" if copy else "held by reference:"
        meta = {"license": license, "source": f"{how} {source}"}
        return self._install_gguf(name, source, meta, copy=copy, progress=progress)

    def _install_gguf(
        self,
        name: str,
        source: Path,
        meta: Mapping[str, Any],
        *,
        copy: bool,
        progress: Progress | None,
    ) -> ModelPack:
        return self.install(
            name,
            "generator",
            [("model", "model.gguf", source)],
            {"chat_format": "gguf-template", **meta},
            link=not copy,
            progress=progress,
        )

    def import_models(
        self,
        found: Iterable[LocalModel],
        *,
        copy: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> tuple[ImportResult, ...]:
        """Register models other tools downloaded (:func:`ragkit.models.find_local_models`)
        as generator packs, by reference unless ``copy``; with ``dry_run`` nothing is
        written and the results say what would be done.

        A model some pack already holds (the same sha256) is left ``"unchanged"``. A pack
        is named after its model (``qwen2.5:0.5b`` -> ``qwen2.5-0.5b``); a pack of that name
        imported from the same model is replaced (``"updated"``: the tool downloaded it
        again), any other keeps its name and the new one gets a ``-2`` (``-3``, ...) suffix.
        """
        installed = self.list()
        generators = [p for p in installed if p.kind == "generator"]
        # Each pack name, with the model it was imported from (None: not imported).
        taken: dict[str, object] = {p.name: p.manifest.get("origin") for p in installed}
        done: dict[str, str] = {}  # a model listed twice (two Ollama tags, one blob) -> pack
        results = []
        for model in found:
            key = model.sha256 or str(model.path.resolve())
            held = done.get(key) or self._holder(model, generators, progress)
            if held is not None:
                results.append(ImportResult(model=model, name=held, status="unchanged"))
                continue
            origin = f"{model.source} {model.name}"
            base = name = pack_name(model.name)
            n = 1
            while name in taken and taken[name] != origin:
                n += 1
                name = f"{base}-{n}"
            status: ImportStatus = "updated" if name in taken else "added"
            if not dry_run:
                # A referenced file's path is in the manifest anyway; a copy's is provenance.
                source = f"{origin} (copied from {model.path})" if copy else origin
                meta = {"license": model.license, "source": source, "origin": origin}
                self._install_gguf(name, model.path, meta, copy=copy, progress=progress)
            taken[name], done[key] = origin, name
            results.append(ImportResult(model=model, name=name, status=status))
        return tuple(results)

    def _holder(
        self, model: LocalModel, generators: Sequence[ModelPack], progress: Progress | None
    ) -> str | None:
        """The name of the generator pack that holds ``model``'s file (the same sha256)."""
        digest = model.sha256
        for pack in generators:
            entry = next((e for e in pack.manifest["files"] if e.get("role") == "model"), None)
            if entry is None or entry["size"] != model.size:
                continue
            external = entry.get("path")
            if external is not None and not Path(external).is_file():
                continue  # that pack's file is gone (a moved folder): this model replaces it
            if digest is None and external == str(model.path.resolve()):
                # LM Studio records no digest: the pack that refers to this very file checks
                # it as loading would (its stamp spares re-hashing a file that did not change).
                try:
                    self._verify(pack, full=False)
                    return pack.name
                except ModelPackError:
                    continue
            if digest is None:
                try:
                    digest = sha256_file(model.path, progress, f"hashing {model.name}")
                except OSError as exc:
                    raise ModelPackError(
                        f"{model.path} ({model.source} model {model.name}) cannot be read "
                        f"({exc}); check its permissions, or leave its folder out of the import."
                    ) from exc
            if entry["sha256"] == digest:
                return pack.name
        return None

    def default(self) -> str | None:
        """The default generator pack's name (:meth:`set_default`), which
        ``Config.generator="auto"`` answers with; ``None`` when none is set or that pack is
        gone."""
        try:
            data = json.loads((self.root / _DEFAULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        name = data.get("generator") if isinstance(data, dict) else None
        if (
            isinstance(name, str)
            and _NAME.fullmatch(name)
            and (self.root / name / MANIFEST).is_file()
        ):
            return name
        return None

    def set_default(self, name: str | None) -> None:
        """Make the installed generator pack ``name`` the one ``Config.generator="auto"``
        answers with (``None``: no default, "auto" picks from ``Config.ladder`` again).
        An explicit pack name in ``Config.generator`` still wins."""
        path = self.root / _DEFAULT
        if name is None:
            path.unlink(missing_ok=True)
            return
        generators = [p.name for p in self.list() if p.kind == "generator"]
        if name not in generators:
            raise ModelPackError(
                f"{name!r} is not an installed generator pack in {self.root} (installed "
                f"generators: {', '.join(generators) or 'none'}); ModelPacks.import_models "
                "registers the models Ollama and LM Studio downloaded, ModelPacks.add_gguf one "
                "you bring."
            )
        tmp = path.with_name(f".{_DEFAULT}.{os.getpid()}")
        tmp.write_text(json.dumps({"generator": name}) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def remove(self, name: str) -> ModelPack:
        """Delete the pack ``name`` (a file it holds by reference stays where it is); if it
        was the default generator, no default is left. Returns the pack as it was."""
        pack = self._find(name)
        if self.default() == pack.name:
            self.set_default(None)
        # The manifest goes first: a removal cut short leaves a folder no one takes for a pack.
        (pack.path / MANIFEST).unlink()
        shutil.rmtree(pack.path)
        return pack
