"""trafilatura's comparison with readability and jusText, skipped where it cannot change the result.

After its own extractor, trafilatura (outside its fast mode) runs readability on the whole page and
compares: readability's text replaces its own when its own is empty, or readability's is more than twice
as long, or its own has no paragraph text (or more tables than paragraphs); jusText is tried when its own
text is shorter than ``min_extracted_size`` or holds elements a page's furniture is made of. Readability
takes a third of an extraction on a typical news page (1 to 2 ms), and on most pages it cannot win.

``compare_extraction`` below keeps trafilatura's own extraction at once when none of those rules can
apply: its text is long enough, clean and made of paragraphs, and at least half of all the text of the
page readability would be given (readability picks from that text, adding only "VIDEO" to the iframes of
video sites, so its own can never be twice as long).
Otherwise trafilatura's comparison runs as before. The result is the same either way; only the work that
could not change it is left out. Measured: identical output on all 181 pages of the extraction benchmark
(half of them skip the comparison: 15.0 -> 13.1 ms a page) and on benchmarks/news_site.py's pages (all of
them skip it: 5.3 -> 3.2 ms a page).

The rules are those of the trafilatura release this was checked against (``VERIFIED``); with any other
release (or if its code is not laid out as expected) nothing is replaced.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import trafilatura
import trafilatura.core
import trafilatura.external
from trafilatura.utils import trim

__all__ = ["VERIFIED", "install", "installed", "trafilatura_as_released"]

log = logging.getLogger(__name__)

VERIFIED = ("2.3.1",)
# The only text readability adds to the page's: "VIDEO" in each iframe of a video site it keeps (its sanitize()).
_VIDEO_TEXT = len("VIDEO")
# Headroom over the bound: where readability joins pieces the page had apart, a run of white space the page
# collapsed into one space can become two (one character more per junction).
_MARGIN = 64

_original: Callable[..., Any] | None = None


def compare_extraction(cleaned_tree: Any, raw_tree: Any, body: Any, text: str, options: Any) -> tuple[Any, str]:
    """trafilatura's ``compare_extraction``, returning its own extraction at once where that is the result."""
    assert _original is not None
    if _own_extraction_stands(raw_tree, body, text, options):
        return body, text
    return _original(cleaned_tree, raw_tree, body, text, options)


def _own_extraction_stands(raw_tree: Any, body: Any, text: str, options: Any) -> bool:
    """Whether trafilatura's comparison would keep its own extraction whatever readability finds."""
    length = len(text)
    return (options.focus == "precision"                      # recall mode has rules of its own
            and length >= options.min_extracted_size          # else jusText is tried
            and not body.xpath(trafilatura.external.SANITIZED_XPATH)   # else jusText is tried
            and bool(body.xpath(".//p//text()"))              # else readability may win on structure
            and len(body.findall(".//table")) <= len(body.findall(".//p"))
            # readability's text comes from this tree: it can never be more than twice as long
            and 2 * length >= _most_readability_can_find(raw_tree))


def _most_readability_can_find(raw_tree: Any) -> int:
    """An upper bound of the length of readability's text from ``raw_tree``: all of its text, the "VIDEO" it
    writes into iframes, and the headroom for white space."""
    iframes = len(raw_tree.xpath("//iframe[@src]"))
    return len(trim(raw_tree.text_content())) + _VIDEO_TEXT * iframes + _MARGIN


def install() -> bool:
    """Put ``compare_extraction`` in trafilatura's place, once; False (and nothing replaced) if the installed
    trafilatura is not a release these rules were checked against."""
    global _original
    if _original is not None:
        return True
    current = getattr(trafilatura.core, "compare_extraction", None)
    if trafilatura.__version__ not in VERIFIED or current is None:
        return False
    if list(inspect.signature(current).parameters) != ["cleaned_tree", "raw_tree", "body", "text", "options"]:
        log.debug("trafilatura's compare_extraction is not the one checked; it is left as it is")
        return False
    _original = current
    trafilatura.core.compare_extraction = compare_extraction
    return True


def installed() -> bool:
    return _original is not None


@contextmanager
def trafilatura_as_released() -> Iterator[None]:
    """trafilatura's own comparison back in place for the block: the benchmarks time trafilatura as it is
    released next to newsmon's extract(), in one process. Not for threads that extract meanwhile."""
    if _original is None:
        yield
        return
    trafilatura.core.compare_extraction = _original
    try:
        yield
    finally:
        trafilatura.core.compare_extraction = compare_extraction
