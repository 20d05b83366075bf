"""HTML -> Document: the article body, with the title, byline and dates from ``monitor.metadata``.

The body comes from trafilatura (precision mode, no comments, tables kept, no cross-call deduplication),
its XML walked into paragraphs; or, for sites it gets wrong, from a per-source CSS ``selector`` applied
with beautifulsoup4 after removing the ``exclude`` matches (``exclude`` alone prunes the page before
trafilatura runs). Both routes end in ``_clean``, which drops the lines that change between fetches of
an unchanged article (ad labels, relative timestamps, related links, the comment-form trailer): it is
what separates ``unchanged`` from ``modified``.

trafilatura's comparison of its extraction with readability's and jusText's is skipped where it cannot
change the result (``monitor.extract_compare``).

The metadata is read from the parsed tree before it is pruned (``read_metadata``); ``_clean`` also uses
it to drop a first line that repeats the title, byline or date. Pure: no I/O, no clock, no state between
calls (``deduplicate=False`` matters: trafilatura's deduplication keeps an LRU cache, so a second fetch
of a page would lose paragraphs).
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.etree import Comment, ErrorTypes, XPath, _Element
from lxml.html import HtmlElement, HTMLParser, fragment_fromstring, fromstring
from trafilatura.utils import is_dubious_html, repair_faulty_html

from monitor import extract_compare
from monitor.errors import ExtractionError
from monitor.metadata import PageMetadata, collapse, line_key, read_metadata
from monitor.models import Document
from monitor.normalise import comparable

__all__ = ["decode_html", "extract"]

# trafilatura's comparison with readability and jusText only where it can change the result.
extract_compare.install()

# ---------------------------------------------------------------------------------------------------
# Decoding

# UTF-32 LE before UTF-16 LE: its BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# As browsers do (WHATWG Encoding): these labels mean windows-1252. UTF-7 is never honoured, and a
# UTF-16/32 label without a BOM is wrong (the BOM is checked first).
_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
            "l1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252"}
_REFUSED = {"utf-7", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}


def _codec(label: str | None) -> str | None:
    """The Python text codec a declared charset label names, or None for unknown or bogus labels."""
    label = (label or "").strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_ALIASES.get(label, label))
    except (LookupError, ValueError):
        return None
    # rot13, base64, zlib ... are codecs too, but not text encodings
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("_", "-") in _REFUSED:
        return None
    return info.name


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Decode an HTML body deterministically; never raises.

    Order: a byte-order mark; the HTTP charset, if it names a text encoding and the bytes decode strictly
    with it; the first <meta charset> / <meta http-equiv> in the first 4 KB, on the same terms; UTF-8 if
    it decodes strictly; else UTF-8 with replacement characters when valid multi-byte characters outnumber
    the invalid bytes (a UTF-8 page with a stray byte); else windows-1252 with replacement characters (the
    usual truth behind a wrong UTF-8 label).
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace")
    match = _META_CHARSET.search(body[:4096])
    meta_label = match.group(1).decode("ascii", errors="replace") if match else None
    for label in (_codec(charset), _codec(meta_label), "utf-8"):
        if label:
            try:
                return body.decode(label)
            except UnicodeDecodeError:
                continue
    # One stray byte (a windows-1252 quote pasted into a UTF-8 page) must not turn every accented letter
    # of the article into mojibake, and back when it is gone: an edit reported that never happened.
    as_utf8 = body.decode("utf-8", errors="replace")
    invalid = as_utf8.count("\ufffd")
    multibyte = len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) - invalid
    if multibyte > invalid:
        return as_utf8
    return body.decode("cp1252", errors="replace")


# ---------------------------------------------------------------------------------------------------
# Paragraphs

# Tags that continue the current paragraph: trafilatura's XML (hi, ref, del, cell) and HTML inline tags.
_INLINE = frozenset({"hi", "ref", "del", "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn",
                     "em", "font", "i", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strong",
                     "sub", "sup", "time", "tt", "u", "var", "wbr", "label", "cell", "td", "th"})
_BREAKS = frozenset({"lb", "br"})
_CELLS = frozenset({"cell", "td", "th"})
_HEADINGS = frozenset({"head", "h1", "h2", "h3", "h4", "h5", "h6"})
# Never text. (Not <head>: in trafilatura's XML it is a heading.)
_SKIP = frozenset({"graphic", "script", "style", "noscript", "template", "svg", "img", "iframe", "button",
                   "select", "input", "textarea", "form", "nav", "title", "meta", "link"})


class _Paragraphs:
    """Collects text into paragraphs: block elements and line breaks end a paragraph."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.headings: set[str] = set()  # paragraphs that were headings
        self._parts: list[str] = []

    def add(self, text: str | None) -> None:
        if text:
            self._parts.append(text)

    def end(self) -> None:
        if text := collapse("".join(self._parts)):
            self.paragraphs.append(text)
        self._parts = []

    def walk(self, element: _Element) -> None:
        """trafilatura's XML (p, head, list/item, quote, table/row/cell, lb) or HTML (p, h2-h6, li,
        blockquote, div, tr, br): block elements become paragraphs, the cells of a row one line."""
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""  # comments and PIs have no str tag
            if tag in _BREAKS:
                self.end()
            elif tag and tag not in _SKIP:
                if tag in _CELLS and self._parts and self._parts[-1].strip():
                    self._parts.append(" | ")  # so that the numbers of two cells do not run together
                elif tag not in _INLINE:
                    self.end()
                before = len(self.paragraphs)
                self.add(child.text)
                self.walk(child)
                if tag not in _INLINE:
                    self.end()
                if tag in _HEADINGS:
                    self.headings.update(self.paragraphs[before:])
            self.add(child.tail)


# ---------------------------------------------------------------------------------------------------
# Clean-up: lines trafilatura keeps that are not article text and change between fetches

_SHORT = 20  # words: the patterns below apply only to paragraphs at most this long
# Anywhere in the body: furniture that changes between fetches (ad labels, relative timestamps,
# counters, reading times), list labels ("You may also like") and related-link lines ("Read more: <another
# story>", "[Related: ...]").
_NOISE = re.compile(
    r"""\[?(?:
        advertisement|advertising|sponsored(?:\ content)?|ad|
        (?:story|article)\ continues\ (?:below|after)\ (?:this\ )?(?:advertisement|ad)|
        (?:last\ |first\ )?(?:updated|published|posted|modified)(?:\ on|\ at)?:?
            \ (?=.*(?:\d|\bago|just\ now))[\w,:.+\ -]{0,50}|
        \d+\ (?:seconds?|minutes?|mins?|hours?|hrs?|days?)\ ago|
        \d+\ (?:comments?|replies|shares?|likes?)|(?:view|show|see|read)\ (?:all\ )?(?:\d+\ )?comments?|
        \d+\ ?(?:min|mins|minutes?)\ read|reading\ time:?\ .*|
        you\ (?:may|might)\ also\ (?:like|enjoy)|recommended(?:\ for\ you)?|
        most\ (?:read|popular|viewed|shared|watched)(?:\ in\ [\w\ ]{1,30})?|
        more|also|(?:related|read\ more|see\ more|see\ also|also\ read|read\ also|more\ on\ this|
           don'?t\ miss|watch|listen)(?:\ (?:posts?|stories|story|articles?|content|coverage|links?))?
           (?:\s*[:|»›>]\s*.*)?
    )[:.!…]*\]?""",
    re.I | re.X,
)
# Only at the end, working back from the last line: the page's trailer (comment form, share bar, related
# links, tags, copyright) as whole-line labels ...
_TRAILER = re.compile(
    r"""(?:
        leave\ a\ (?:comment|reply)|post\ a\ comment|add\ (?:a\ |your\ )?comment|comments?|
        \d+\ (?:comments?|responses?)|join\ the\ (?:conversation|discussion)|
        share(?:\ this)?(?:\ (?:article|story|post|page))?(?:\ (?:on|via)\b.*)?|
        (?:related|more)(?:\ (?:stories|articles|posts|content|coverage|news|links|reading))?|
        read\ (?:more|next)|(?:tags?|topics?|filed\ under)(?:\s*:.*)?|
        (?:copyright\b|\(c\)|©).*|all\ rights\ reserved\.?
    )[:.!…]*""",
    re.I | re.X,
)
# ... and calls to action anywhere in such a line (sign-ups, follow us, share with a friend).
_TRAILER_PHRASES = re.compile(
    r"""\b(?:newsletters?|subscribe|sign\ up|follow\ (?:us|him|her|them|@\w+|\w+\ on\ (?:twitter|facebook|x))|
        share\ (?:it|this)\ with|(?:like|enjoy(?:ed)?)\ this\ (?:story|article)|
        tell\ us\ what\ you\ think)\b""",
    re.I | re.X,
)


def _repeats_metadata(paragraph: str, meta: PageMetadata) -> bool:
    """A line at the top of the body that repeats the title, the byline ("By Jo Ng") or the date
    ("Monday, November 18, 2019", "5:45 AM PST 11/19/2019"): short, holding the year and the day of the
    published or modified date, numbers making up a quarter of its words."""
    byline = line_key(meta.byline or "-")
    if line_key(paragraph) in (line_key(meta.title), "by " + byline, byline):
        return True
    words = paragraph.split()
    numbers = {n.lstrip("0") for n in re.findall(r"\d+", paragraph)}
    return len(words) <= 12 and 4 * len(numbers) >= len(words) and any(
        {date[:4], date[8:10].lstrip("0")} <= numbers for date in (meta.published, meta.modified) if date)


def _clean(found: _Paragraphs, meta: PageMetadata) -> list[str]:
    kept = [p for p in found.paragraphs if len(p.split()) > _SHORT or not _NOISE.fullmatch(p)]
    while kept and _repeats_metadata(kept[0], meta):
        del kept[0]
    # a heading with nothing after it heads a section that was left out ("Get our morning briefing")
    while kept and len(kept[-1].split()) <= _SHORT and (
            kept[-1] in found.headings or _TRAILER.fullmatch(kept[-1]) or _TRAILER_PHRASES.search(kept[-1])):
        kept.pop()
    return kept


# ---------------------------------------------------------------------------------------------------
# Extraction

# What trafilatura deletes anyway (its MANUALLY_CLEANED list; <template> content is never rendered).
# Not <form>: ASP.NET sites wrap the whole page in one.
_NEVER_ARTICLE = ("script", "style", "svg", "noscript", "template", "nav", "footer", "aside", "iframe",
                  "button", "select", "input", "textarea", "video", "audio", "picture", "canvas", "map",
                  "object", "embed", Comment)
_PLAIN_PREFIX = re.compile(r"[\w ]*")
# Words of the class or id of promotion boxes, matched as whole words ("pushdown-promo", "promo_box").
_PROMOTION_WORDS = ("promo", "related", "recommended", "recommendations", "most read", "mostread",
                    "trending", "popular", "newsletter", "outbrain", "taboola", "more stories")
_PROMOTION_TAGS = ("div", "section", "ul", "ol")
# Matched in Python, not XPath: XPath 1.0 recomputes an element's words once per word (1 ms of a 5 ms page).
_PROMOTION_WORD = re.compile("(?<= )(?:" + "|".join(re.escape(word) for word in _PROMOTION_WORDS) + ")(?= )")
_WORD_SEPARATORS = str.maketrans("-_", "  ")
_PROMOTION_MAX_SHARE = 0.25
# Bounds on the work one page can cost. trafilatura's time grows with the square of the text nodes inside
# <p> elements (libxml2 merges node sets for its "//p//text()"), worst when they crowd into one paragraph:
# measured, 10,000 links in one paragraph took 11 s, 48,000 links in 24 paragraphs 17 s, 80,000 short
# paragraphs 19 s; a CSS selector (beautifulsoup4) costs about 40 us an element, 53 s for 10 MiB of <p>x</p>.
# At the caps the worst shapes measured took 6 s; real pages sit far below them (the 181 benchmark pages:
# at most 1,596 elements, 237 text nodes in paragraphs, 72 elements in one paragraph).
MAX_ELEMENTS = 50_000
MAX_PARAGRAPH_TEXTS = 30_000       # without a selector: trafilatura
MAX_PARAGRAPH_ELEMENTS = 2_000     # in one paragraph, without a selector
_STANDFIRST_XPATH = XPath('(//article | //*[contains(@itemtype, "Article")])//*[self::p or self::h2 or '
                          "self::div][starts-with(normalize-space(text()), $start)]")


# trafilatura parses with one HTMLParser shared by every thread, and lxml keeps the errors of a parse in its
# parser's error log, which the next parse on that parser (in any thread: trafilatura parses fragments while
# it extracts) clears. Pages are parsed here as trafilatura's load_html does, but with a parser of this
# thread's own, whose log no other thread can touch.
_PARSERS = threading.local()


def _parser() -> HTMLParser:
    parser: HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                              remove_comments=True, remove_pis=True)
    return parser


def _load(html: str) -> HtmlElement | None:
    """The page parsed as trafilatura's ``load_html`` parses it (None when it is not HTML);
    ExtractionError at the parser's limits."""
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    parser = _parser()
    tree: HtmlElement | None = None
    try:
        tree = fromstring(html, parser=parser)
    except ValueError:                    # a str with an XML encoding declaration: lxml wants bytes
        pass
    except Exception:                     # lxml's own verdict on garbage; trafilatura returns None too
        return None
    if tree is None or len(tree) < 1:     # as load_html: a second try, from bytes
        try:
            tree = fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
        except Exception:
            return None
    limits = [e for e in parser.error_log if e.type == ErrorTypes.ERR_RESOURCE_LIMIT]
    if limits:
        # libxml2 stops at its limits (256 levels of nesting; about 10,000,000 bytes of one text, tag or
        # comment) and returns what it read so far: stored, that would be an article silently cut short.
        raise ExtractionError(_parser_limit_reason(limits[0].message, limits[0].line))
    if tree is not None and dubious and len(tree) < 2:
        return None                       # trafilatura's test: not (well-formed) HTML at all
    if tree is not None:
        _check_elements(tree)
    return tree


def _parse(html: str) -> HtmlElement:
    if not html.strip():
        raise ExtractionError("no article text found: the page is empty")
    tree = _load(html)
    if tree is None:
        raise ExtractionError("no article text found: not an HTML document")
    return tree


def _parser_limit_reason(message: str, line: int) -> str:
    lowered = message.lower()
    if "depth" in lowered:
        what = "elements nested more than 255 levels deep"
    elif "buffer size" in lowered or "too long" in lowered:
        what = "one text, tag or comment of about 10,000,000 bytes or more"
    else:
        what = message.split(", try XML_PARSE_HUGE")[0].strip()
    return f"the HTML parser stops reading at line {line} ({what}): the rest of the page would be lost"


def _drop_never_article(tree: HtmlElement) -> None:
    """Delete what is never article text before trafilatura copies the tree once per extractor it
    compares (its own, readability, justext): 15% faster, identical output on all 181 benchmark pages.
    JSON-LD stays: trafilatura reads it to recognise forum pages."""
    for element in list(tree.iter(*_NEVER_ARTICLE)):
        parent = element.getparent()
        if parent is None or (element.tag == "script" and "ld+json" in element.get("type", "")):
            continue
        if element.tail:  # the text after the element belongs to its parent
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)


def _standfirst(tree: HtmlElement, description: str | None) -> str | None:
    """The standfirst, when the article shows the page's description as a paragraph of its own.

    trafilatura leaves out a standfirst that sits in the article's header rather than its body; the
    description is how to recognise it (a teaser of this article elsewhere on the page is not in it).
    The two are compared as comparable text, so curly quotes on the page and straight ones in the meta
    tag still match; the page's own wording is what is kept.
    """
    shown_description = collapse(description or "")
    wanted = comparable(shown_description)
    if len(wanted.split()) < 5:
        return None
    # XPath's starts-with compares raw characters: use the plain-word prefix that typography can't change.
    start = _PLAIN_PREFIX.match(shown_description).group()[:20]  # type: ignore[union-attr]
    for element in _STANDFIRST_XPATH(tree, start=start):
        shown = collapse(element.text_content())
        if comparable(shown) == wanted:
            return shown
    return None


def _drop_promotions(tree: HtmlElement) -> None:
    """Delete promotion boxes (related stories, most read, newsletters) that sit inside the article's
    container: their headlines rotate between fetches and would read as edits. A box is only dropped
    when it holds neither the headline nor a real share of the page's paragraph text, so a site that
    names its article container "related-content" keeps its article."""
    total = sum(len(p.text_content()) for p in tree.iter("p")) or 1
    for element in [e for e in tree.iter(*_PROMOTION_TAGS) if _is_promotion(e)]:
        if element.getparent() is None or element.find(".//h1") is not None:
            continue
        if sum(len(p.text_content()) for p in element.iter("p")) > _PROMOTION_MAX_SHARE * total:
            continue
        element.drop_tree()


def _is_promotion(element: HtmlElement) -> bool:
    """Whether a whole word of the element's class or id (``-`` and ``_`` separate words) names a promotion."""
    names = f" {element.get('class') or ''} {element.get('id') or ''} "
    return _PROMOTION_WORD.search(names.translate(_WORD_SEPARATORS)) is not None


def _check_elements(tree: HtmlElement) -> None:
    elements = sum(1 for _ in tree.iter())
    if elements > MAX_ELEMENTS:
        raise ExtractionError(f"the page has {elements:,} elements, more than the {MAX_ELEMENTS:,} newsmon reads")


def _check_paragraphs(tree: HtmlElement) -> None:
    """Refuse a page that trafilatura would take minutes over (see MAX_PARAGRAPH_TEXTS)."""
    advice = "newsmon reads without a CSS selector for the article (the source's `selector`)"
    texts = widest = 0
    for paragraph in tree.iter("p"):
        texts += sum(1 for _ in paragraph.itertext())
        widest = max(widest, sum(1 for _ in paragraph.iter()) - 1)
    if texts > MAX_PARAGRAPH_TEXTS:
        raise ExtractionError(f"the page's paragraphs hold {texts:,} pieces of text, more than the "
                              f"{MAX_PARAGRAPH_TEXTS:,} {advice}")
    if widest > MAX_PARAGRAPH_ELEMENTS:
        raise ExtractionError(f"one paragraph of the page holds {widest:,} elements, more than the "
                              f"{MAX_PARAGRAPH_ELEMENTS:,} {advice}")


def _generic(tree: HtmlElement, url: str | None) -> _Paragraphs:
    """trafilatura in precision mode. Balanced mode is no fallback: it rescued no benchmark page that
    precision missed, and on pages without an article it returns the navigation."""
    document = trafilatura.bare_extraction(tree, url=url, favor_precision=True, include_comments=False,
                                           include_tables=True, deduplicate=False, with_metadata=False)
    out = _Paragraphs()
    if (body := getattr(document, "body", None)) is not None:
        out.add(body.text)
        out.walk(body)
        out.end()
    return out


def _only_links(paragraphs: list[str], tree: HtmlElement) -> bool:
    """A short extraction that is nothing but link text: a menu, not an article. trafilatura returns
    one for pages without an article (error pages, consent walls); stored as a version, it would report
    the article as rewritten."""
    text = " ".join(paragraphs)
    if len(text.split()) > 50:
        return False
    for link in sorted({collapse(a.text_content()) for a in tree.iter("a")}, key=len, reverse=True):
        text = text.replace(link, " ") if link else text
    return re.search(r"\w", text) is None


def _apply_rules(html: str, selector: str | None, exclude: Sequence[str]) -> tuple[str, _Paragraphs]:
    """The page without its ``exclude`` matches and, with a ``selector``, the paragraphs of its matches."""
    # Imported here: only sources with CSS rules need beautifulsoup4, and importing it (with soupsieve)
    # costs each checking process about 75 ms of CPU.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for rule in exclude:
        for element in soup.select(rule):
            element.decompose()
    if selector is None:
        return str(soup), _Paragraphs()
    matches = soup.select(selector)
    if not matches:
        raise ExtractionError(f"no article text found: selector {selector!r} matched nothing")
    chosen, out = set(map(id, matches)), _Paragraphs()
    for element in matches:
        # a match inside another match ("article, article p") is already covered by its ancestor
        if not any(id(parent) in chosen for parent in element.parents):
            out.walk(fragment_fromstring(str(element), create_parent="div"))
            out.end()
    return str(soup), out


# Character references to C0 controls but tab, newline and carriage return, in decimal or hex.
_CONTROL_REFERENCE = re.compile(r"&#(?:[xX]0*(?:[1-8bcefBCEF]|1[0-9a-fA-F])|0*(?:[1-8]|1[124-9]|2[0-9]|3[01]));")


def extract(html: str | bytes, *, url: str | None = None, charset: str | None = None,
            selector: str | None = None, exclude: Sequence[str] = ()) -> Document:
    """Extract the article of one page. Raises ExtractionError, with the reason, when there is none."""
    text = decode_html(html, charset) if isinstance(html, bytes) else html
    # lxml gives up on a whole page at one reference to a C0 control (&#1;, &#x1b;, ...): a hostile or
    # sloppy page could hide its article that way. The characters are not text anyway.
    text = _CONTROL_REFERENCE.sub(" ", text)
    found = _Paragraphs()
    if text.strip() and (selector is not None or exclude):
        _load(text)                    # the parser's limits and MAX_ELEMENTS, before beautifulsoup4 (far slower)
        # metadata comes from the pruned page too: an excluded block may hold a stray <h1>
        text, found = _apply_rules(text, selector, exclude)
    tree = _parse(text)
    if selector is None:
        _check_paragraphs(tree)
    meta = read_metadata(tree)
    if selector is None:
        _drop_never_article(tree)
        _drop_promotions(tree)
        found = _generic(tree, url)
        if not found.paragraphs:
            raise ExtractionError("no article text found: trafilatura found no main content")
        if _only_links(found.paragraphs, tree):
            raise ExtractionError("no article text found: the page has only navigation links")
    elif not found.paragraphs:
        raise ExtractionError(f"no article text found: selector {selector!r} matched no text")
    paragraphs = _clean(found, meta)
    standfirst = _standfirst(tree, meta.description) if selector is None else None
    if standfirst and line_key(standfirst) not in set(map(line_key, paragraphs)):
        paragraphs.insert(0, standfirst)
    if not paragraphs:
        raise ExtractionError("no article text found: only boilerplate lines remained")
    return Document(title=meta.title, text="\n\n".join(unicodedata.normalize("NFC", p) for p in paragraphs),
                    byline=meta.byline, published=meta.published, modified=meta.modified, url=url or meta.url,
                    canonical=_absolute(meta.url, url))


def _absolute(href: str | None, base: str | None) -> str | None:
    """``href`` made absolute against the page's URL; None when it is missing or not http(s)."""
    if not href:
        return None
    absolute = urljoin(base or "", href)
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None
