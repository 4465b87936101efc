"""E-mail loading (.eml): the headers that say who wrote to whom and when, the body, and the
attachments that are text."""

from __future__ import annotations

import csv
from email import policy
from email.message import MIMEPart
from email.parser import BytesParser
from pathlib import Path

from ragkit._errors import LoadError

from ._html import html_sections, web_encoding
from ._normalize import error_cause
from ._table import csv_text
from ._text import decode_text
from ._types import Section

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_TEXT_ATTACHMENTS = frozenset({"text/plain", "text/markdown", "text/csv", "text/html"})
_FORWARDED = "message/rfc822"


def load_email(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load an ``.eml`` file (RFC 5322, MIME): its Subject is the title.

    The first section, headed "Message", holds the From, To, Cc, Date and Subject headers
    as lines such as "From: A. Keller <ak@example.com>" (so they are searchable and cited)
    and then the body: the text/plain part, else the text/html part as text. Each attachment
    that is text (plain, Markdown, CSV, HTML) is a section headed "Attachment: notes.txt",
    and a forwarded message attached whole is one with its headers and body; other
    attachments are not read. A part's declared charset is used when its bytes are valid in
    it, and the encoding is detected otherwise, so a mislabelled part reads as text.
    Raises :class:`LoadError` only when the e-mail package cannot take the file apart.
    """
    # The e-mail package collects most faults as defects, but its header parsers still
    # raise assorted exceptions (IndexError, TypeError, AttributeError) on some malformed
    # headers, and finding the body and the attachments parses their headers.
    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
        sections = [_message_section(path, message, "Message")]
        for part in message.iter_attachments():
            section = _attachment_section(path, part)
            if section is not None:
                sections.append(section)
        title = _header(message, "Subject")
    except RecursionError as error:
        raise LoadError(path, "not a readable e-mail: MIME parts nested too deeply") from error
    except Exception as error:
        raise LoadError(path, f"not a readable e-mail: {error_cause(error)}") from error
    return title or None, tuple(sections)


def _message_section(path: Path, message: MIMEPart, heading: str) -> Section:
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    body = message.get_body(("plain", "html"))
    text = _part_text(path, body) if body is not None else None
    return Section("\n".join(lines) + (f"\n\n{text}" if text else ""), heading=heading)


def _attachment_section(path: Path, part: MIMEPart) -> Section | None:
    content_type = part.get_content_type()
    name = part.get_filename()
    if content_type == _FORWARDED:
        inner = part.get_payload(0) if part.is_multipart() else None
        if not isinstance(inner, MIMEPart):
            return None
        label = name or _header(inner, "Subject") or "forwarded message"
        return _message_section(path, inner, f"Attachment: {label}")
    if content_type not in _TEXT_ATTACHMENTS:
        return None
    text = _part_text(path, part)
    return Section(text, heading=f"Attachment: {name}" if name else "Attachment") if text else None


def _part_text(path: Path, part: MIMEPart) -> str | None:
    """A text part's content as text (HTML as its readable text, CSV as labelled rows), or
    None when it holds none: empty, binary, or not a single part."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return None
    charset = part.get_content_charset()
    try:
        text = decode_text(path, payload, web_encoding(charset) if charset else None)
    except LoadError:  # NUL bytes: a binary file sent as text
        return None
    content_type = part.get_content_type()
    if content_type == "text/html":
        return "\n\n".join(section.text for section in html_sections(text)[1])
    if content_type == "text/csv":
        try:
            return csv_text(text)
        except csv.Error:  # a broken table is still worth its words
            return text
    return text


def _header(message: MIMEPart, name: str) -> str:
    """A header's decoded value on one line, or "" when it is absent.

    An address the e-mail package fails to parse ("To: <", say, raises IndexError) is
    given as written rather than losing the message.
    """
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:
        raw = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), "")
        # Bytes that are not ASCII come as surrogates, which nothing downstream can store.
        text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(text.split())
