"""Reading the XML parts of a zip document (.docx, .pptx, .odt) within bounds, so that a
hostile file (a zip bomb, an entity bomb, an encoding trick) ends as a LoadError instead
of exhausting memory or time."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from ragkit._errors import LoadError

from ._normalize import error_cause

DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
# Password-protected Office files and legacy .doc/.ppt files are OLE compound files, not zips.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_MAX_PART_BYTES = 50 << 20
# WordprocessingML deflates a few times over, a few tens with repetitive formatting (38 MB of
# random words measured 2.4:1); over 100:1 in a large part is a file built to exhaust
# memory. Small parts cannot do harm whatever their ratio.
_MAX_RATIO = 100
_RATIO_CHECKED_ABOVE = 1 << 20
# Small parts at any ratio can still add up: 60,000 slides of 1 MB deflate to a 64 MB file.
# Twice one part's limit leaves a document at its limit room for its notes and comments.
_MAX_PACKAGE_BYTES = 2 * _MAX_PART_BYTES
# Opening and parsing a part costs time whatever its size (about 0.2 ms); charged at least
# this much, the budget also bounds their count (12,800), or 600,000 empty slides would
# take minutes.
_MIN_PART_COST = 8 << 10


@dataclass(frozen=True)
class Part:
    """One part's bytes, read from the zip ``path`` (a file of type ``kind``, ".docx")."""

    path: Path
    kind: str
    name: str
    data: bytes

    def tree(self) -> ElementTree.Element:
        """The part parsed whole; raises :class:`LoadError` for XML that is not well-formed
        or declares an encoding other than UTF-8 or UTF-16."""
        with self._xml_errors():
            return ElementTree.fromstring(self.data)

    def children(self, level: int, parent: str | None = None) -> Iterator[ElementTree.Element]:
        """The children of the elements ``level`` deep (the root is 1), in order, streamed:
        each is handed out when it ends and then dropped, so a large part never exists as a
        whole element tree. With ``parent`` (a tag), only the children of such elements.

        Raises :class:`LoadError` as :meth:`tree` does, at the fault: the children before
        it have been handed out.
        """
        with self._xml_errors():
            depth = 0
            holder: ElementTree.Element | None = None
            for event, element in ElementTree.iterparse(
                io.BytesIO(self.data), events=("start", "end")
            ):
                if event == "start":
                    depth += 1
                    if depth == level:
                        holder = element
                    continue
                depth -= 1
                if depth == level and holder is not None:
                    if parent is None or holder.tag == parent:
                        yield element
                    holder.clear()

    @contextmanager
    def _xml_errors(self) -> Iterator[None]:
        declared = _declared_encoding(self.data)
        if declared is not None:
            raise LoadError(
                self.path,
                f"not a readable {self.kind} file: {self.name} declares the encoding "
                f"{declared}, not UTF-8",
            )
        try:
            yield
        # expat raises ParseError; ValueError is left for a UTF-16 part that declares a
        # multi-byte encoding in UTF-16, which _declared_encoding cannot read.
        except (ElementTree.ParseError, ValueError) as error:
            raise LoadError(
                self.path,
                f"not a readable {self.kind} file: invalid XML in {self.name}: "
                f"{error_cause(error)}",
            ) from error


class Package:
    """An open zip document whose parts are read within bounds: each part's size and
    compression ratio, and the total all parts may expand to."""

    def __init__(self, path: Path, kind: str, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.kind = kind
        self.names = frozenset(archive.namelist())
        self._archive = archive
        self._budget = _MAX_PACKAGE_BYTES

    def read(self, name: str) -> Part:
        """A part the document cannot do without; raises :class:`LoadError` when it is
        missing, would expand past the bounds (a zip bomb) or does not decompress."""
        if name not in self.names:
            article = "an" if self.kind[1:2] in ("a", "e", "i", "o") else "a"
            raise LoadError(
                self.path, f"not {article} {self.kind} file: the zip archive has no {name}"
            )
        info = self._archive.getinfo(name)
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > _MAX_PART_BYTES:
            reason = (
                f"{size / (1 << 20):.1f} MB uncompressed, over the {_MAX_PART_BYTES >> 20} MB limit"
            )
        elif size > _RATIO_CHECKED_ABOVE and size > _MAX_RATIO * packed:
            reason = f"compressed {size // packed}:1, over {_MAX_RATIO}:1"
        elif max(size, _MIN_PART_COST) > self._budget:
            reason = f"the parts expand to over {_MAX_PACKAGE_BYTES >> 20} MB in all"
        else:
            self._budget -= max(size, _MIN_PART_COST)
            # Bounded twice: zipfile stops at the declared size (and fails the CRC check if
            # the data runs on), and so does this read.
            return Part(self.path, self.kind, name, self._guarded(name))
        raise LoadError(self.path, f"refusing to expand {name}: {reason} (possible zip bomb)")

    def read_optional(self, name: str) -> Part | None:
        """A part the document can do without, or None when :meth:`read` would fail."""
        try:
            return self.read(name)
        except LoadError:
            return None

    def optional_xml(self, name: str) -> ElementTree.Element | None:
        """An optional part (styles, metadata, notes) parsed, or None when :meth:`read`
        would fail or it is not well-formed XML."""
        part = self.read_optional(name)
        try:
            return None if part is None else part.tree()
        except LoadError:
            return None

    def _guarded(self, name: str) -> bytes:
        # zipfile raises many unrelated exception types on a corrupt archive (BadZipFile,
        # zlib.error, EOFError, lzma.LZMAError, NotImplementedError for odd compression,
        # RuntimeError for encrypted members, ...), so reading is guarded broadly.
        try:
            with self._archive.open(name) as stream:
                return stream.read(_MAX_PART_BYTES)
        except Exception as error:
            raise LoadError(
                self.path, f"not a readable {self.kind} file: {error_cause(error)}"
            ) from error


@contextmanager
def open_package(path: Path, data: bytes, kind: str, *, ole_reason: str) -> Iterator[Package]:
    """``data``, the file ``path`` of type ``kind`` (".docx"), opened as a zip.

    Raises :class:`LoadError` with ``ole_reason`` for an OLE compound file (an encrypted
    Office file or a legacy binary one), and for anything else that is not a readable zip.
    """
    if data.startswith(_OLE_MAGIC):
        raise LoadError(path, ole_reason)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as error:  # as broad as the guard in Package._guarded
        raise LoadError(path, f"not a readable {kind} file: {error_cause(error)}") from error
    with archive:
        yield Package(path, kind, archive)


def _declared_encoding(xml: bytes) -> str | None:
    """The encoding an XML declaration names, if it is not UTF-8 or UTF-16.

    Office and OpenDocument parts are UTF-8 or UTF-16 by their standards. expat would hand
    any other name to Python's codecs: "rot13" raises LookupError, "shift_jis" ValueError,
    and "unicode_escape" decodes with a DeprecationWarning.
    """
    match = _XML_ENCODING.match(xml)
    if match is None:
        return None
    name = match.group(1).decode("ascii")
    return (
        None
        if name.lower().replace("_", "-") in ("utf-8", "utf8", "utf-16", "utf-16le", "utf-16be")
        else name
    )


def found(
    element: ElementTree.Element, tags: Collection[str], skipped: Collection[str] = ()
) -> Iterator[ElementTree.Element]:
    """The elements with one of ``tags`` in ``element``, in document order, not looking
    inside them, nor inside elements with one of the ``skipped`` tags."""
    # They may sit inside content controls, groups and other wrappers; walked with a list
    # rather than recursion, so deep nesting cannot overflow the stack.
    pending = [element]
    while pending:
        node = pending.pop()
        if node.tag in tags:
            yield node
        elif node.tag not in skipped:
            pending.extend(reversed(node))


def core_title(package: Package) -> str | None:
    """The title in an Office file's document properties (docProps/core.xml), if any."""
    core = package.optional_xml("docProps/core.xml")
    title = core.find(DC_TITLE) if core is not None else None
    return title.text if title is not None else None
