"""Local files as Documents, for ``newsmon diff OLD NEW`` and ``newsmon extract PAGE``.

An HTML file goes through the extractor. A plain-text file is taken as it is: paragraphs are separated by
blank lines, or, when the file has none, by line breaks (one paragraph per line, as in the seed article).
Its first line is the headline when it looks like one: the file has more lines, and the first is short and
does not end like a sentence. A single sentence is therefore always body text, so sentence pairs diff as
sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .errors import MonitorError
from .extract import decode_html, extract
from .models import Document

# Markup starts with a tag, a doctype, a comment or an XML declaration; prose does not.
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<[!?a-zA-Z]")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
MAX_HEADLINE_CHARS = 200


def looks_like_html(data: bytes) -> bool:
    return bool(_HTML_START.match(data[:1024]))


def document_from_text(text: str) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if re.search(r"\n[ \t]*\n", text.strip()):
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", text)]
    else:
        paragraphs = [" ".join(line.split()) for line in text.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    title = ""
    if len(paragraphs) > 1 and len(paragraphs[0]) <= MAX_HEADLINE_CHARS and not _SENTENCE_END.search(paragraphs[0]):
        title, paragraphs = paragraphs[0], paragraphs[1:]
    return Document(title=title, text="\n\n".join(paragraphs))


def load_document(path: str | Path, *, selector: str | None = None, exclude: Sequence[str] = ()) -> Document:
    """Read an HTML or plain-text file; raises MonitorError naming the file when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MonitorError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if looks_like_html(data):
        return extract(data, selector=selector, exclude=exclude)
    return document_from_text(decode_html(data))
