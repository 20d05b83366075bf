"""Boilerplate learned per source: short lines that recur across many of a source's articles.

Sign-offs ("Follow our live coverage on Telegram."), "Leave A Comment", newsletter pitches and helpline
notes sit inside the article body, so they survive extraction. One page cannot tell them from news; the
source can: a line found in many of its articles belongs to the template, not to any story.

- A *line* is a paragraph of at most ``MAX_LINE_WORDS`` words; its key is the sha256 of its comparable
  form (``monitor.normalise.comparable``), so typography never splits one line into two. The title is
  never a line, and longer paragraphs are never learned, however often they recur.
- A line is *boilerplate* when it was found in at least ``MIN_ARTICLES`` distinct articles of the source
  and in at least ``MIN_PERCENT`` per cent of the source's articles. Articles, not versions: a live page
  repeating a paragraph in fifty versions teaches nothing.
- Boilerplate is removed from both sides before two versions are compared, never from what is stored:
  a sign-off that changes across the site, or that becomes boilerplate between two checks, is not news,
  and unlearning a line can never make it look added or removed.

The store keeps the lines of each page (``Store.record(line_keys=...)``) and the learned set
(``Store.boilerplate``). ``RunBoilerplate`` adds what one check run sees, so that a template change across
a site stops being reported once enough of its pages have shown it, not only from the next run on.
Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from monitor.models import Document
from monitor.normalise import comparable

MAX_LINE_WORDS = 30
MIN_ARTICLES = 3
MIN_PERCENT = 20

__all__ = ["MAX_LINE_WORDS", "MIN_ARTICLES", "MIN_PERCENT", "RunBoilerplate", "is_boilerplate", "line_key",
           "line_keys", "strip_boilerplate"]


def line_key(paragraph: str) -> str | None:
    """The key of a paragraph that is short enough to be a line, else None (empty or too long)."""
    folded = comparable(paragraph)
    words = folded.split()
    if not words or len(words) > MAX_LINE_WORDS:
        return None
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def line_keys(text: str) -> list[str]:
    """The keys of the lines of an article's body text (paragraphs separated by blank lines), each once,
    in order of first appearance."""
    keys = (line_key(paragraph) for paragraph in Document(title="", text=text).paragraphs)
    return list(dict.fromkeys(key for key in keys if key is not None))


def strip_boilerplate(document: Document, keys: Collection[str]) -> Document:
    """``document`` without the paragraphs whose line key is in ``keys``. The title is always kept."""
    if not keys:
        return document
    kept = [p for p in document.paragraphs if line_key(p) not in keys]
    if len(kept) == len(document.paragraphs):
        return document
    return Document(title=document.title, text="\n\n".join(kept), byline=document.byline,
                    published=document.published, modified=document.modified, url=document.url)


def is_boilerplate(found_in: int, articles: int) -> bool:
    """Whether a line found in ``found_in`` distinct articles of a source with ``articles`` articles is
    boilerplate. Integer arithmetic, like the store's query: the share is never lost to rounding."""
    return found_in >= MIN_ARTICLES and found_in * 100 >= MIN_PERCENT * articles


class RunBoilerplate:
    """The boilerplate of one source during a check run (or, in the daemon, until it is read again).

    It starts from what the store has learned and adds the lines that recur, by the same rule, among the
    pages checked since: when a site changes its sign-off on every page, the first few pages checked
    report it (nothing can know a brand-new line yet) and the rest do not. The share is of the source's
    articles with a version when the store was read, plus those first stored since. What is learned here
    is what the store learns from the same pages at its next reading, only earlier.
    """

    def __init__(self, learned: Iterable[str], articles: int) -> None:
        self._keys = frozenset(learned)
        self._articles = articles
        self._found_in: Counter[str] = Counter()
        self._seen: set[str] = set()

    @property
    def keys(self) -> frozenset[str]:
        return self._keys

    def observe(self, url: str, keys: Sequence[str], *, new_article: bool) -> frozenset[str]:
        """Count the lines of one article's page (each article once); return the boilerplate now.

        ``new_article``: the article had no version before this check (it adds one to the source).
        """
        if url in self._seen:
            return self._keys
        self._seen.add(url)
        if new_article:
            self._articles += 1
        fresh = [key for key in dict.fromkeys(keys) if key not in self._keys]
        self._found_in.update(fresh)
        # The share's base only grows, so only the lines counted just now can have become boilerplate.
        learned = {key for key in fresh if is_boilerplate(self._found_in[key], self._articles)}
        if learned:
            self._keys = self._keys | learned
        return self._keys
