"""Edit detection end to end: does ``diff_documents(extract(old), extract(new))`` on two real pages report
what an editor did to the page, and nothing else?

Data: html/<id>.html.gz of the public scrapinghub/article-extraction-benchmark, read from a path, never copied.
Each page is parsed with lxml and serialised (the baseline), then edited once per case and serialised the
same way, so that only the edit differs. Cases (details in each builder's docstring) and what passes:
control (raw page vs baseline) and noise (furniture, injected related links and timestamp, scripts, URL
query strings): ``unchanged``; figure (one number of the body edited): ``modified`` with exactly that
figure change; format-number (1,234 -> 1234) and format-quote (' -> ’): ``cosmetic`` or ``unchanged``
with nothing listed; title (one headline word replaced everywhere): that ``title`` change, no figures.
A case is skipped when the baseline has no article text or the page offers nothing to edit.

    python benchmarks/edit_detection.py [--data PATH] [--subset quick-subset-40.txt] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import lxml.html
from lxml.html import HtmlElement

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor.diff import diff_documents  # noqa: E402
from monitor.errors import ExtractionError  # noqa: E402
from monitor.extract import extract  # noqa: E402
from monitor.metadata import collapse, line_key  # noqa: E402
from monitor.models import Diff, Document  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "article-extraction-benchmark"
CASES = ("control", "noise", "figure", "format-number", "format-quote", "title")
NO_TEXT = frozenset({"script", "style", "noscript", "template", "head", "title", "textarea"})
NOISE_TAGS = frozenset({"nav", "aside", "footer", "header"})
NOISE_ATTR = re.compile(r"(?:^|[\s_-])ads?(?:$|[\s_-])|advert|promo|related|recommend|newsletter|comment|share"
                        r"|social|trending|most-?read|popular", re.I)
# A count in running text: not glued to letters, not part of a date, time, range, code or longer number.
BOUNDS = r"(?<![\w.,/:#+'’\-−]){}(?![\w/%]|[.,:\-–]\d)"
NUMBER = re.compile(BOUNDS.format(r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"))
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATE_BEFORE = re.compile(MONTH + r"\s+$", re.I)
NOT_A_COUNT_AFTER = re.compile(r"\s*(?:(?:of\s+)?" + MONTH + r"(?!\w)|[ap]\.?m\b|(?-i:GMT|UTC|BST|[ECMP][SD]?T)\b"
                               r"|hundred|thousand|million|billion|trillion|bn\b)", re.I)
COMMA_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d]|,\d)")
STRAIGHT, CURLY = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])"), re.compile(r"(?<=[^\W\d_])’(?=[^\W\d_])")
Slot = tuple[HtmlElement, str]                  # (element, "text" | "tail")
Repl = str | Callable[[re.Match[str]], str]
Check = Callable[[Diff], str | None]            # None when the diff is right, else what was expected


class Skip(Exception):
    """The page offers nothing to edit for this case."""


@dataclass
class Outcome:
    page: str
    case: str
    status: str                                 # pass, fail, skip
    detail: str = ""


def parse(raw: bytes) -> HtmlElement:
    return lxml.html.document_fromstring(raw, parser=lxml.html.HTMLParser(encoding="utf-8"))


def serialise(root: HtmlElement) -> str:
    return lxml.html.tostring(root, encoding="unicode")


def text_slots(root: HtmlElement) -> Iterator[Slot]:
    """Every piece of visible text under ``root``, in document order."""
    hidden = {d for e in root.iter(*NO_TEXT) for d in e.iter()}
    for el in root.iter():
        if isinstance(el.tag, str) and el not in hidden and el.text:
            yield el, "text"
        if el is not root and el.getparent() not in hidden and el.tail:
            yield el, "tail"


def rewrite(slots: Iterable[Slot], pattern: re.Pattern[str], repl: Repl, once: bool = False) -> None:
    """``pattern.sub`` on each slot; with ``once``, only the first match of all."""
    for el, slot in slots:
        new, n = pattern.subn(repl, getattr(el, slot) or "", count=int(once))
        if n:
            setattr(el, slot, new)
            if once:
                return


def holds_article(el: HtmlElement, base: Document) -> bool:
    """The headline, inside an article's own header, or enough of the body not to be page furniture."""
    if el.tag == "h1" or el.find(".//h1") is not None or any(
            h.tag == "header" and next(h.iterancestors("article"), None) is not None
            for h in (el, *el.iterancestors())):
        return True
    text, covered = collapse(el.text_content()), 0
    for p in base.paragraphs:
        if p[:80] in text:
            if len(p.split()) >= 20:
                return True
            covered += len(p)
    return covered >= 0.3 * len(base.text)


def scramble(text: str, rotate: bool) -> str:
    """Counters and times tick (digits change); with ``rotate``, the content too (word order reversed)."""
    text = re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), text)
    words = text.split()
    if not rotate or not words:
        return text
    body = " ".join(reversed(words)) if len(words) > 1 else words[0][::-1] + "x"
    return text[:len(text) - len(text.lstrip())] + body + text[len(text.rstrip()):]


def article_element(root: HtmlElement, base: Document) -> HtmlElement | None:
    """The smallest <article> or <main> holding at least half the body, if any."""
    best: tuple[int, HtmlElement] | None = None
    for el in root.iter("article", "main"):
        text = collapse(el.text_content())
        held = sum(len(p) for p in base.paragraphs if p[:80] in text)
        if held >= 0.5 * len(base.text) and (best is None or len(text) < best[0]) and el.getparent() is not None:
            best = (len(text), el)
    return best[1] if best else None


def expect(*kinds: str) -> Check:
    """The diff's kind is one of ``kinds`` and it lists no figure, no added and no removed sentence."""
    def check(diff: Diff) -> str | None:
        ok = diff.kind in kinds and not (diff.figures or diff.added or diff.removed)
        return None if ok else " or ".join(kinds)
    return check


def noise(root: HtmlElement, base: Document) -> Check:
    """In nav/aside/footer/header and elements whose class or id names ads, promos, related links, comments,
    sharing, ...: digits changed, link texts and texts of 6+ words rotated (labels such as "Most read" stay,
    as on real pages), except in elements that ``holds_article`` accepts. An ``<aside class="related">`` of five links
    after the article and an "Updated 3 minutes ago" ``<time>`` before it; scripts and the query strings of
    img/script/link URLs changed."""
    owners: dict[tuple[int, str], tuple[HtmlElement, str, HtmlElement]] = {}  # slot -> (*slot, owner)
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in NO_TEXT or holds_article(el, base) or (
                el.tag not in NOISE_TAGS and not NOISE_ATTR.search(f"{el.get('class', '')} {el.get('id', '')}")):
            continue
        owners[id(el), "text"] = (el, "text", el)
        for d in el.iterdescendants():
            owners[id(d), "text"] = (d, "text", d)
            owners[id(d), "tail"] = (d, "tail", d.getparent())
    for el, slot, owner in owners.values():
        text = getattr(el, slot)
        if text and text.strip() and (slot == "tail" or (isinstance(el.tag, str) and el.tag not in NO_TEXT)):
            # Boxes of links and teasers rotate; their labels ("Most read", "Share") stay as they are.
            in_link = owner.tag == "a" or next(owner.iterancestors("a"), None) is not None
            setattr(el, slot, scramble(text, in_link or len(text.split()) >= 6))
    links = "".join(f'<li><a href="/news/story-{i}?ref=related">Story number {i} that readers also liked</a></li>'
                    for i in range(1, 6))
    aside = lxml.html.fragment_fromstring(f'<aside class="related"><h2>Related</h2><ul>{links}</ul></aside>')
    stamp = lxml.html.fragment_fromstring('<div class="timestamp"><time datetime="2026-01-01T10:00:00Z">'
                                          "Updated 3 minutes ago</time></div>")
    if (article := article_element(root, base)) is not None:
        article.addprevious(stamp)
        article.addnext(aside)
    else:
        root.body.insert(0, stamp)
        root.body.append(aside)
    for el in root.iter("script", "img", "link"):
        if el.tag == "script" and el.text and "json" not in el.get("type", ""):
            el.text += "\nwindow.__cacheBuster = 1767261600;"
        attr = "href" if el.tag == "link" else "src"
        if el.get(attr) and "canonical" not in el.get("rel", ""):
            el.set(attr, urlunsplit(urlsplit(el.get(attr))._replace(query="v=1767261600")))
    return expect("unchanged")


def figure(root: HtmlElement, base: Document) -> Check:
    """The last digit of a number of the body changed, format kept: not a date, time or bare 1000-2099 (maybe
    a year); written once in the body and once in the page's text (the description follows, as in a CMS).
    The first such number, preferring those in paragraphs of 8+ words and of two or more digits."""
    candidates: list[tuple[bool, bool, int, str]] = []
    for p in base.paragraphs:
        for m in NUMBER.finditer(p):
            number, start = m.group(1), m.start()
            if not (re.fullmatch(r"1\d{3}|20\d\d|\d+\.\d{3}", number) or NOT_A_COUNT_AFTER.match(p, m.end())
                    or DATE_BEFORE.search(p[max(0, start - 12):start])):
                candidates.append((len(p.split()) < 8, len(number) < 2, len(candidates), number))
    for *_, number in sorted(candidates):
        exact = re.compile(BOUNDS.format(re.escape(number)))
        if len(exact.findall(base.text)) != 1 or sum(
                len(exact.findall(getattr(el, slot))) for el, slot in text_slots(root)) != 1:
            continue
        edited = number[:-1] + str(int(number[-1]) + 1 if number[-1] != "9" else 8)
        rewrite(text_slots(root), exact, edited, once=True)
        for meta in root.iter("meta"):  # a CMS rewrites the description along with the standfirst
            if "description" in meta.get("name", "") + meta.get("property", "") and meta.get("content"):
                meta.set("content", exact.sub(edited, meta.get("content", ""), count=1))
        wanted = [(float(number.replace(",", "")), float(edited.replace(",", "")))]

        def check(diff: Diff, wanted: list[tuple[float, float]] = wanted,
                  expected: str = f"one figure {number} -> {edited}") -> str | None:
            got = [(round(float(f.old_value), 9), round(float(f.new_value), 9)) for f in diff.figures]
            return None if diff.kind == "modified" and got == wanted else expected
        return check
    raise Skip("no number written once in the body and in the page")


def reformat(root: HtmlElement, base: Document, pattern: re.Pattern[str], repl: Repl, missing: str) -> Check:
    if not pattern.search(base.text):
        raise Skip(f"no {missing} in the body")
    rewrite(text_slots(root), pattern, repl)
    return expect("cosmetic", "unchanged")


def format_number(root: HtmlElement, base: Document) -> Check:
    return reformat(root, base, COMMA_NUMBER, lambda m: m.group().replace(",", ""), "thousands separator")


def format_quote(root: HtmlElement, base: Document) -> Check:
    """Apostrophes made curly, or straight when the body has only curly ones."""
    pattern, repl = (STRAIGHT, "’") if STRAIGHT.search(base.text) else (CURLY, "'")
    return reformat(root, base, pattern, repl, "apostrophe")


def title(root: HtmlElement, base: Document) -> Check:
    """The longest word of the headline replaced in <title>, og:/twitter:title, JSON-LD and the <h1>."""
    words = sorted(set(re.findall(r"[^\W\d_]{4,}", base.title)), key=lambda w: (-len(w), w))
    if not words:
        raise Skip("no word of four letters in the title")
    word, replacement = re.compile(rf"(?<!\w){re.escape(words[0])}(?!\w)"), "Revised"
    new_title = word.sub(replacement, base.title, count=1)
    # the <h1> agreeing with the headline (not another that shares the word) and every copy of the headline
    for el in root.iter("h1"):
        if line_key(base.title) in line_key(el.text_content()) or line_key(el.text_content()) in line_key(base.title):
            rewrite(text_slots(el), word, replacement, once=True)
    rewrite([(el, s) for el, s in text_slots(root) if collapse(getattr(el, s)) == base.title], word, replacement)
    rewrite([(el, "text") for el in root.iter("title")], word, replacement, once=True)
    for meta in root.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in ("og:title", "twitter:title"):
            meta.set("content", word.sub(replacement, meta.get("content", ""), count=1))
    for script in root.iter("script"):
        if "ld+json" in script.get("type", "") and script.text:
            script.text = script.text.replace(base.title, new_title)

    def check(diff: Diff) -> str | None:
        ok = diff.title is not None and (diff.title.old, diff.title.new) == (base.title, new_title)
        return None if ok and not diff.figures else f"title {base.title!r} -> {new_title!r}, no figures"
    return check


BUILDERS: dict[str, Callable[[HtmlElement, Document], Check]] = {
    "noise": noise, "figure": figure, "format-number": format_number, "format-quote": format_quote, "title": title}


def describe(diff: Diff) -> str:
    """kind, figures, title, and the first added, removed and changed sentence."""
    parts = [f"kind={diff.kind}", "figures=[" + ", ".join(f"{f.old}->{f.new}" for f in diff.figures) + "]",
             f"title={diff.title.old!r}->{diff.title.new!r}" if diff.title else ""]
    parts += [f"{sign}{len(items)} {items[0][:70]!r}" for sign, items in
              (("+", diff.added), ("-", diff.removed), ("~", [c.new for c in diff.changed])) if items]
    return " ".join(p for p in parts if p and p != "figures=[]")


def run_page(page: str, raw: bytes, cases: tuple[str, ...]) -> list[Outcome]:
    try:
        base = extract(serialise(parse(raw)))
    except (ExtractionError, ValueError) as error:
        return [Outcome(page, case, "skip", f"baseline: {error}") for case in cases]
    outcomes = []
    for case in cases:
        variant: str | bytes = raw
        try:
            check = expect("unchanged")
            if case != "control":
                root = parse(raw)
                check = BUILDERS[case](root, base)
                variant = serialise(root)
            expected = check(diff := diff_documents(base, extract(variant)))
        except Skip as skip:
            outcomes.append(Outcome(page, case, "skip", str(skip)))
        except Exception as error:  # an extraction error, or a crash: both are failures of the edited page
            outcomes.append(Outcome(page, case, "fail", f"edited page: {type(error).__name__}: {error}"))
        else:  # a title change that also changes the body passes, with a note
            note = f"body changed too: {describe(diff)}" if case == "title" and (
                diff.added or diff.removed or diff.changed) else ""
            outcomes.append(Outcome(page, case, "pass", note) if expected is None else
                            Outcome(page, case, "fail", f"expected {expected}; got {describe(diff)}"))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder (default: %(default)s)")
    parser.add_argument("--subset", help="file of page ids inside the data folder, e.g. quick-subset-40.txt")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N pages")
    parser.add_argument("--case", action="append", choices=CASES, help="run only this case (repeatable)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every outcome to this file")
    args = parser.parse_args(argv)
    if not (args.data / "html").is_dir():
        parser.error(f"no html/ folder in {args.data}")
    ids = ((args.data / args.subset).read_text().split() if args.subset
           else sorted(p.name.removesuffix(".html.gz") for p in (args.data / "html").glob("*.html.gz")))
    ids, cases = ids[:args.limit] if args.limit else ids, tuple(args.case or CASES)
    start, outcomes = time.perf_counter(), []
    for page in ids:
        outcomes += run_page(page, gzip.decompress((args.data / "html" / f"{page}.html.gz").read_bytes()), cases)
    elapsed = time.perf_counter() - start
    print(f"{len(ids)} pages from {args.data} ({args.subset or 'all'})")
    print(f"{'case':14} {'pass':>5} {'fail':>5} {'skip':>5} {'pass rate':>10}")
    n = Counter((o.case, o.status) for o in outcomes)
    for case in cases:
        tested = n[case, "pass"] + n[case, "fail"]
        rate = f"{n[case, 'pass'] / tested:.1%}" if tested else "-"
        print(f"{case:14} {n[case, 'pass']:5} {n[case, 'fail']:5} {n[case, 'skip']:5} {rate:>10}")
    failures = sorted((o for o in outcomes if o.status == "fail"), key=lambda o: (CASES.index(o.case), o.page))
    print(f"\n{len(failures)} failures{':' if failures else ''}")
    for o in failures:
        print(f"  {o.page[:12]}  {o.case:13}  {o.detail}")
    notes = [o for o in outcomes if o.status == "pass" and o.detail]
    print(f"\n{len(notes)} passes with a note{':' if notes else ''}")
    for o in notes:
        print(f"  {o.page[:12]}  {o.case:13}  {o.detail}")
    print(f"\ntotal time {elapsed:.1f} s ({elapsed / max(len(ids), 1) * 1000:.0f} ms per page)")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
