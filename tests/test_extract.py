"""monitor.extract: body text, title and metadata of news pages; per-source CSS rules; decoding.

How the title, byline and dates are read (JSON-LD, meta tags, site names in titles) is tested in
test_metadata.py; here, that extract() carries them into the Document.

Extraction tests state what must and must not appear rather than exact output, except on the demo pages,
whose article text is known exactly: there the extracted paragraphs must be the article's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from bs4 import BeautifulSoup

from monitor.demo.site import ArticleText, load_seed, parse_article_text, render_article_page
from monitor.errors import ExtractionError
from monitor.extract import MAX_ELEMENTS, MAX_PARAGRAPH_ELEMENTS, MAX_PARAGRAPH_TEXTS, decode_html, extract
from monitor.models import Document

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
REVISIONS = sorted((FIXTURES / "revisions").glob("*.txt"))
SEED = load_seed()

# Everything on a demo page that is not the article, by the CSS class of its container.
NOISE_CONTAINERS = (".cookie-banner", ".site-nav", ".breaking-ticker", ".ad", ".read-more", ".story-meta",
                    ".share-bar", ".related-stories", ".most-read", ".comments", ".newsletter",
                    ".site-footer")


def collapse(text: str) -> str:
    return " ".join(text.split())


def expected_paragraphs(article: ArticleText) -> tuple[str, ...]:
    return tuple(collapse(p) for p in (article.standfirst, *article.paragraphs))


def noise_snippets(html: str) -> list[str]:
    """The text of every noise container of a rendered demo page, line by line."""
    soup = BeautifulSoup(html, "html.parser")
    return [line for selector in NOISE_CONTAINERS for element in soup.select(selector)
            for line in (collapse(s) for s in element.stripped_strings) if len(line) > 2]


# --------------------------------------------------------------------------------------------------------
# The demo page built from the seed article


@pytest.fixture(scope="module")
def seed_document() -> Document:
    return extract(render_article_page(SEED))


def test_seed_fixture_is_the_packaged_seed() -> None:
    assert parse_article_text((FIXTURES / "article.txt").read_text(encoding="utf-8")) == SEED
    assert len(SEED.paragraphs) == 9 and "Leave A Comment" not in SEED.paragraphs


def test_title_is_exactly_the_headline(seed_document: Document) -> None:
    assert seed_document.title == SEED.title


def test_body_is_the_standfirst_and_every_paragraph_in_order(seed_document: Document) -> None:
    assert seed_document.paragraphs == expected_paragraphs(SEED)
    assert SEED.title not in seed_document.text


@pytest.mark.parametrize("variant", range(6))
def test_no_page_furniture_in_the_text(variant: int) -> None:
    html = render_article_page(SEED, variant=variant)
    text = extract(html).text
    snippets = noise_snippets(html)
    assert len(snippets) > 40  # the page really carries the noise the test is about
    assert [s for s in snippets if s in text] == []
    for word in ("Leave A Comment", "cookies", "Advertisement", "Read more", "Updated", "Most read",
                 "Sign up"):
        assert word not in text


def test_variants_change_the_noise_but_not_the_article() -> None:
    pages = [render_article_page(SEED, variant=v) for v in range(6)]
    assert len(set(pages)) == 6
    assert len({tuple(noise_snippets(page)) for page in pages}) == 6
    documents = [extract(page) for page in pages]
    assert {d.text for d in documents} == {documents[0].text}
    assert {d.title for d in documents} == {SEED.title}


@pytest.mark.parametrize("count", [1, 2, 4])
def test_short_articles_are_not_padded_with_page_furniture(count: int) -> None:
    # the less article there is, the more of the page the generic extractor is tempted to take
    article = ArticleText(SEED.title, SEED.standfirst, SEED.paragraphs[:count])
    for variant in range(6):
        document = extract(render_article_page(article, variant=variant))
        assert document.paragraphs == expected_paragraphs(article)


def test_variants_change_every_kind_of_noise() -> None:
    first, second = render_article_page(SEED, variant=0), render_article_page(SEED, variant=1)
    for pattern in (r"Updated \d+ minutes ago", r"\?v=\w+", r'name="csrf_token" value="\w+"',
                    r"\d+ comments", r'class="breaking-ticker".*?</ul>', r'class="ad ad-inline".*?</div>',
                    r'class="related-stories".*?</ul>', r'class="most-read".*?</ol>'):
        old, new = (re.search(pattern, page, re.S) for page in (first, second))
        assert old and new and old.group(0) != new.group(0), pattern


def test_everything_interpolated_is_escaped() -> None:
    article = ArticleText("Q&A: <b>“Tags”</b>", 'A "quoted" <standfirst> & more',
                          ("x < y & z > w", "</p><p>"))
    html = render_article_page(article, site="Ledger & Co <1>", byline="By <Ana>")
    assert "<b>" not in html and "<standfirst>" not in html and "</p><p></p>" not in html
    document = extract(html)
    assert document.title == article.title
    assert "x < y & z > w" in document.paragraphs


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.stem)
def test_revisions_differ_exactly_where_the_text_changed(path: Path, seed_document: Document) -> None:
    revision = parse_article_text(path.read_text(encoding="utf-8"))
    document = extract(render_article_page(revision, variant=3))
    assert document.paragraphs == expected_paragraphs(revision)
    assert document.title == revision.title
    changed = set(expected_paragraphs(revision)) ^ set(expected_paragraphs(SEED))
    assert set(document.paragraphs) ^ set(seed_document.paragraphs) == changed
    # a revision that only moves paragraphs changes the text without changing any paragraph
    same_text = expected_paragraphs(revision) == expected_paragraphs(SEED)
    assert (document.text == seed_document.text) == same_text
    assert (document.title == seed_document.title) == (revision.title == SEED.title)


def test_paragraphs_are_separated_by_one_blank_line(seed_document: Document) -> None:
    parts = seed_document.text.split("\n\n")
    assert len(parts) == 10
    assert all(part == collapse(part) and part for part in parts)


def test_byline_and_dates(seed_document: Document) -> None:
    assert seed_document.byline == "Min-ji Park"
    assert seed_document.published == "2025-02-27T08:00:00Z"
    assert seed_document.modified is None
    updated = extract(render_article_page(SEED, modified="2025-02-27T11:30:00Z", byline="By Ana Lim"))
    assert (updated.modified, updated.byline) == ("2025-02-27T11:30:00Z", "Ana Lim")


def test_url_is_the_one_given(seed_document: Document) -> None:
    assert extract(render_article_page(SEED), url="https://example.org/a").url == "https://example.org/a"


# --------------------------------------------------------------------------------------------------------
# Per-source rules

PARTNER_BOX = ('<div class="partner-box"><p>Our partners at Example Bank offer an easy-access savings '
               "account paying 5% interest: apply online today and receive a welcome bonus.</p></div>")


def with_partner_box() -> str:
    html = render_article_page(SEED)
    at = html.index("<p>Earlier intelligence")
    return html[:at] + PARTNER_BOX + html[at:]


def test_exclude_removes_what_generic_extraction_keeps() -> None:
    html = with_partner_box()
    assert "Example Bank" in extract(html).text
    document = extract(html, exclude=[".partner-box"])
    assert "Example Bank" not in document.text
    assert document.paragraphs == expected_paragraphs(SEED)


def test_selector_takes_the_text_of_its_matches() -> None:
    document = extract(with_partner_box(), selector=".story-body",
                       exclude=[".ad", ".read-more", ".partner-box"])
    assert document.paragraphs == SEED.paragraphs  # the standfirst is outside the selected element
    assert document.title == SEED.title and document.byline == "Min-ji Park"


def test_selector_block_elements_become_paragraphs() -> None:
    html = ("<html><body><div class='story'><h1>Title</h1><p>One <b>bold</b>\n word.</p><h2>Sub head</h2>"
            "<ul><li>first item</li><li>second item</li></ul><blockquote>A quote.</blockquote>"
            "<script>var x = 1;</script><p>Last<br>line</p></div></body></html>")
    document = extract(html, selector=".story")
    assert document.paragraphs == ("One bold word.", "Sub head", "first item", "second item", "A quote.",
                                   "Last", "line")


def test_nested_selector_matches_are_not_repeated() -> None:
    document = extract(render_article_page(SEED), selector=".story-body, .story-body p", exclude=[".ad"])
    assert len(document.paragraphs) == len(set(document.paragraphs)) == 9


def test_selector_matching_nothing_names_the_selector() -> None:
    with pytest.raises(ExtractionError, match=r"\.no-such-body"):
        extract(render_article_page(SEED), selector="div.no-such-body")


def test_selector_matching_only_empty_elements_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="no article text found"):
        extract(render_article_page(SEED), selector=".story-body", exclude=[".story-body p", ".ad"])


# --------------------------------------------------------------------------------------------------------
# Static pages of other templates


def test_wire_service_page_in_windows_1252() -> None:
    body = (PAGES / "wire.html").read_bytes()
    document = extract(body, charset=None)
    assert document == extract(body.decode("cp1252"))
    assert document.title == "Central bank holds rates steady, signals cut in spring"
    assert document.paragraphs[0].startswith("FRANKFURT, March 5 (Wire) – The central bank kept")
    assert "“The disinflation process is well on track, but the last mile is the hardest,”" in document.text
    assert "Economists polled by Wire last month" in document.text
    for junk in ("Breakingviews", "STOXX 600", "Advertisement", "Scroll to continue", "Related Coverage",
                 "Euro slips", "Trending", "Storm forces", "quotes delayed", "All rights reserved",
                 "Updated"):
        assert junk not in document.text
    assert (document.byline, document.published, document.modified) == (
        "Ana Ruiz", "2025-03-05T12:41:00Z", "2025-03-05T14:02:00Z")
    assert document.url == "https://wire.example.com/markets/central-bank-holds-rates-2025-03-05/"


def test_blog_page_with_a_comment_thread() -> None:
    document = extract((PAGES / "blog.html").read_bytes())
    assert document.title == "A year of growing tomatoes on a city balcony"
    for paragraph in ("Choosing the varieties", "Gardener’s Delight, a reliable red cherry",
                      "Pots, compost and water", "Water deeply in the evening, not a little every morning."):
        assert paragraph in document.paragraphs
    assert document.paragraphs[-1].startswith("A self-watering trough was the single best purchase")
    for junk in ("Brilliant post", "uneven watering is the usual cause", "thoughts on", "Leave a Reply",
                 "Share this", "Like this", "Related", "Five herbs", "Recent Posts", "Worm composting",
                 "Tagged", "powered by WordPress", "3 Comments", "Your email address"):
        assert junk not in document.text
    assert (document.byline, document.published) == ("Priya Natarajan", "2024-08-12T09:30:00+01:00")


def test_blog_page_noise_changes_do_not_change_the_text() -> None:
    html = (PAGES / "blog.html").read_text(encoding="utf-8")
    noisier = (html.replace("3 Comments", "4 Comments").replace("3 thoughts", "4 thoughts")
               .replace("style.css?ver=6.5.2", "style.css?ver=6.6.0")
               .replace('value="6f1e2a9c3b"', 'value="0a9"')
               .replace("</ol>\n<div id=\"respond\"", '<li class="comment"><div class="comment-content"><p>'
                        "Great tips, thanks!</p></div></li></ol>\n<div id=\"respond\""))
    assert noisier != html
    assert extract(noisier).text == extract(html).text


def test_live_page_with_a_table() -> None:
    document = extract((PAGES / "live.html").read_bytes())
    assert document.title == "Council elections live: results as counting continues"
    for paragraph in ("Party | Seats | Change", "Labour | 19 | -3", "Liberal Democrats | 11 | +4",
                      "Turnout was 34.2%, up from 29.8% at the last election", "Recount ordered in Hillside"):
        assert paragraph in document.paragraphs
    assert "exceeded 40% in three of them" in document.text
    for junk in ("Most read", "Bridge to close", "Updated 3 minutes ago", "LIVE", "Puzzles", "Registered in"):
        assert junk not in document.text
    assert document.byline == "Sam Oduya, Lena Fischer"
    assert (document.published, document.modified) == (
        "2025-05-02T06:00:00+01:00", "2025-05-02T13:47:00+01:00")


# --------------------------------------------------------------------------------------------------------
# Boilerplate and pages without an article

STORY = ("<p>All ferry crossings to the islands were cancelled on Tuesday as the storm moved north, the "
         "operator said, leaving hundreds of travellers stranded.</p><p>Forecasters expect gusts of up to "
         "80mph along the coast overnight, with the strongest winds arriving before dawn.</p>")


def page(head: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def test_trailing_boilerplate_and_repeated_title_are_dropped() -> None:
    html = page("<title>Ferry services cut as storm approaches | Coastal Times</title>",
                "<article><h1>Ferry services cut as storm approaches</h1>" + STORY +
                "<p>Share this article</p><p>Leave a comment</p><p>Tags: weather, ferries</p></article>")
    document = extract(html)
    assert document.title == "Ferry services cut as storm approaches"
    assert document.paragraphs[0].startswith("All ferry crossings") and len(document.paragraphs) == 2
    assert document.paragraphs[-1].endswith("arriving before dawn.")


def noisy_story(minutes: int, related: str, count: int) -> str:
    return page("<title>Ferry services cut</title>",
                f"<article><h1>Ferry services cut</h1><p>Updated {minutes} minutes ago</p>{STORY}"
                f"<p>Advertisement</p><p>Read more: {related}</p><p>Also: the harbour master resigned.</p>"
                f"<p>{count} comments</p><p>Coastguards rescued two sailors whose yacht lost its mast off "
                "the headland late on Monday, the lifeboat service said.</p></article>")


def test_noise_lines_inside_the_body_are_dropped_and_stable() -> None:
    document = extract(noisy_story(5, "Schools close as storm hits", 12))
    assert "Also: the harbour master resigned." in document.paragraphs  # short, but not furniture
    assert len(document.paragraphs) == 4
    for junk in ("Updated", "Advertisement", "Read more", "Schools close", "comments"):
        assert junk not in document.text
    assert extract(noisy_story(17, "Bridge reopens after repairs", 31)).text == document.text


def test_boilerplate_patterns_spare_long_paragraphs() -> None:
    closing = ("Readers who want to follow the storm can sign up for alerts from the coastguard, which "
               "said it would publish updates every hour until the ferries run again on Thursday.")
    document = extract(page("<title>Storm</title>", f"<article>{STORY}<p>{closing}</p></article>"))
    assert document.paragraphs[-1] == closing


NAVIGATION_ONLY = page("<title>Home</title>", "<nav><a href='/'>Home</a> <a href='/n'>News</a></nav>")


@pytest.mark.parametrize("html", ["", "   \n", b"", "<html><body></body></html>", NAVIGATION_ONLY])
def test_no_article_text_is_an_extraction_error(html: str | bytes) -> None:
    with pytest.raises(ExtractionError, match="no article text found"):
        extract(html)


# --------------------------------------------------------------------------------------------------------
# Decoding

CAFE = "Café “naïve” – 5 €"


@pytest.mark.parametrize(("body", "charset", "expected"), [
    (b"\xef\xbb\xbf" + CAFE.encode(), "windows-1251", CAFE),                       # BOM beats the header
    (b"\xff\xfe" + CAFE.encode("utf-16-le"), None, CAFE),
    (b"\xfe\xff" + CAFE.encode("utf-16-be"), "utf-8", CAFE),
    ("Привет".encode("windows-1251"), "windows-1251", "Привет"),                   # header charset
    ("Привет".encode("koi8-r"), "KOI8-R", "Привет"),
    (CAFE.encode("cp1252"), "iso-8859-1", CAFE),                                  # latin-1 label = cp1252
    (b'<meta charset="windows-1251">' + "Привет".encode("cp1251"), None,
     '<meta charset="windows-1251">Привет'),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">' + "Мир".encode("koi8-r"), None,
     '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">Мир'),
    (CAFE.encode("cp1252"), "utf-8", CAFE),                                       # wrong label: cp1252
    (b'<meta charset="utf-8">' + CAFE.encode("cp1252"), None, '<meta charset="utf-8">' + CAFE),
    (CAFE.encode(), "x-no-such-charset", CAFE),                                   # bogus labels ignored
    (CAFE.encode(), "rot13", CAFE),
    (CAFE.encode(), "utf-7", CAFE),
    (b'<meta charset="bogus">' + CAFE.encode(), "", '<meta charset="bogus">' + CAFE),
    (CAFE.encode(), None, CAFE),                                                  # undeclared UTF-8
    (b"\x81\x8d caf\xe9", None, "\ufffd\ufffd café"),                             # never raises
    # UTF-8 with one stray windows-1252 byte stays UTF-8: only that byte is lost
    (CAFE.encode() + b" \x92", "utf-8", CAFE + " \ufffd"),
    (CAFE.encode() + b" \x92", None, CAFE + " \ufffd"),
    # more invalid bytes than valid UTF-8 characters: windows-1252
    ("é".encode() + CAFE.encode("cp1252"), "utf-8", "Ã©" + CAFE),
])
def test_decode_html(body: bytes, charset: str | None, expected: str) -> None:
    assert decode_html(body, charset) == expected


def test_decode_html_is_deterministic_on_arbitrary_bytes() -> None:
    noise = bytes(range(256)) * 3
    assert decode_html(noise) == decode_html(noise) == decode_html(noise, "utf-8")


def test_extract_decodes_bytes_with_the_header_charset() -> None:
    html = page("<title>Київ</title>", "<article><h1>Київ</h1><p>" + "Новини дня з Києва та регіонів. " * 8
                + "</p></article>")
    document = extract(html.encode("koi8-u"), charset="koi8-u")
    assert document.title == "Київ" and document.text.startswith("Новини дня з Києва")


# --------------------------------------------------------------------------------------------------------
# Found on real pages by benchmarks/edit_detection.py


def _page_with_standfirst(standfirst: str, description: str, promos: tuple[str, ...] = ()) -> str:
    body = "".join(f"<p>{p}</p>" for p in SEED.paragraphs)
    # Cards with a headline and a teaser sentence, as real promotion boxes have: not bare link lists,
    # which the generic extractor already drops.
    promo = "".join(f"<div class='card'><h3>{title}</h3><p>{title} in a story that readers of this site "
                    f"are following closely today.</p></div>" for title in promos)
    return f"""<!doctype html><html><head><title>{SEED.title}</title>
<meta name="description" content="{description}"><meta property="og:title" content="{SEED.title}"></head>
<body><main><article><header><h1>{SEED.title}</h1><p class="dek">{standfirst}</p></header>
<div class="body">{body}</div>
<section class="pushdown-promo"><h2>More from us</h2>{promo}</section></article></main></body></html>"""


def test_standfirst_survives_typography_that_differs_from_the_description() -> None:
    straight = "Europa's plumes appear to be real, and they are wider than anyone had thought."
    curly = straight.replace("'", "\u2019")
    document = extract(_page_with_standfirst(curly, straight))
    assert document.paragraphs[0] == curly          # the page's own wording is kept
    assert extract(_page_with_standfirst(straight, straight)).paragraphs[1:] == document.paragraphs[1:]


def test_rotating_promotion_headlines_inside_the_article_are_not_text() -> None:
    first = extract(_page_with_standfirst("A dek of several words here.", "x",
                                          promos=("Singer wins award", "Storm hits coast", "Team wins cup")))
    second = extract(_page_with_standfirst("A dek of several words here.", "x",
                                           promos=("Markets fall again", "Actor retires", "New phone on sale")))
    assert first.text == second.text
    assert "Singer wins award" not in first.text and SEED.paragraphs[-1] in first.text


def test_a_container_named_related_that_holds_the_article_is_kept() -> None:
    body = "".join(f"<p>{p}</p>" for p in SEED.paragraphs)
    html = (f"<html><head><title>{SEED.title}</title></head><body><div class='related-content'>"
            f"<h1>{SEED.title}</h1>{body}</div></body></html>")
    assert SEED.paragraphs[3] in extract(html).text


@pytest.mark.parametrize(("attributes", "promotion"), [
    ("class='pushdown-promo'", True), ("id='most_read'", True), ("class='box' id='more-stories'", True),
    ("class='related'", True), ("class='promotional'", False), ("class='Promo'", False),   # whole words, as written
    ("class='most  read'", False), ("class='unrelated-links'", False), ("", False),
])
def test_a_promotion_box_is_named_by_a_whole_word_of_its_class_or_id(attributes: str, promotion: bool) -> None:
    from monitor.extract import _is_promotion

    assert _is_promotion(lxml.html.fromstring(f"<div {attributes}>x</div>")) is promotion


@pytest.mark.parametrize(("href", "expected"), [
    ("/news/budget", "https://example.com/news/budget"),                 # relative: against the page's URL
    ("https://example.com/news/budget?x=1", "https://example.com/news/budget?x=1"),
    ("javascript:alert(1)", None),                                      # only http(s) is a URL to track
    ("", None),
])
def test_the_canonical_url_a_page_declares_is_made_absolute(href: str, expected: str | None) -> None:
    page = (f"<html><head><title>Budget</title><link rel='canonical' href='{href}'></head><body><article>"
            "<h1>Budget</h1><p>The council approved a budget of 4,000 dollars on Tuesday after a long debate.</p>"
            "<p>Residents who spoke at the meeting asked for more money for parks and for the library.</p>"
            "</article></body></html>")
    document = extract(page, url="https://example.com/amp/budget")
    assert document.canonical == expected
    assert document.url == "https://example.com/amp/budget"


# --------------------------------------------------------------------------------------------------------
# The HTML parser's limits: libxml2 stops at them and returns what it read, which must not be stored as
# the article. (Whole hostile pages through `newsmon check`: test_hostile_responses.py.)

DEEP_INTRO = "".join(f"<p>The council met on Tuesday, meeting {n}, to vote on the budget and the bridge.</p>"
                     for n in range(3))
AFTER = "<p>After the nested block, the council also agreed to repair the old market hall roof.</p>"


def nested(levels: int) -> str:
    return page("<title>Council</title>", f"<article>{DEEP_INTRO}{'<div>' * levels}<p>Inside the nest, the "
                f"mayor spoke for an hour about the bridge.</p>{'</div>' * levels}{AFTER}</article>")


def test_a_page_nested_200_levels_deep_is_read_to_its_end() -> None:
    text = extract(nested(200)).text
    assert "Inside the nest" in text and "market hall" in text


@pytest.mark.parametrize("levels", [300, 100_000])
def test_a_page_nested_deeper_than_the_parser_reads_is_refused(levels: int) -> None:
    with pytest.raises(ExtractionError, match=r"stops reading at line \d+ \(elements nested more than 255 levels"):
        extract(nested(levels))
    with pytest.raises(ExtractionError, match="nested more than 255 levels"):   # the CSS selector route too
        extract(nested(levels), selector="article")


def test_a_text_node_beyond_the_parser_limit_is_refused() -> None:
    html = page("<title>Council</title>", f"<article>{DEEP_INTRO}<p>{'word ' * 2_100_000}</p>{AFTER}</article>")
    with pytest.raises(ExtractionError, match="about 10,000,000 bytes or more"):
        extract(html)


def test_a_limit_hit_in_one_thread_is_never_reported_for_another() -> None:
    """The parser (and its error log) is shared by every thread: each page gets its own verdict."""
    good, deep = nested(10), nested(300)

    def outcome(html: str) -> str:
        try:
            extract(html)
            return "ok"
        except ExtractionError:
            return "refused"

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # switch threads as often as possible, to give a race its chance
    try:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(outcome, [good, deep] * 40))
    finally:
        sys.setswitchinterval(interval)
    assert outcomes == ["ok", "refused"] * 40


# --------------------------------------------------------------------------------------------------------
# Bounds on the work of one page (MAX_ELEMENTS and co.): trafilatura is quadratic in the text nodes of
# paragraphs, so a 180 KB page of links in one paragraph took 11 s; such pages are refused in moments.

def test_a_page_of_too_many_elements_is_refused_whatever_the_route() -> None:
    html = page("<title>Council</title>", f"<article>{DEEP_INTRO}{'<i>x</i>' * MAX_ELEMENTS}</article>")
    routes: list[dict[str, Any]] = [{}, {"selector": "article"}, {"exclude": [".ad"]}]
    for rules in routes:
        began = time.monotonic()
        with pytest.raises(ExtractionError, match="the page has 50,0[0-9]{2} elements, more than the 50,000"):
            extract(html, **rules)
        assert time.monotonic() - began < 2


def test_too_many_pieces_of_text_in_paragraphs_is_refused_without_a_selector() -> None:
    paragraphs = "".join(f"<p>Line {n} of the council's list.</p>" for n in range(MAX_PARAGRAPH_TEXTS + 1))
    html = page("<title>Council</title>", f"<article>{paragraphs}</article>")
    began = time.monotonic()
    with pytest.raises(ExtractionError, match="paragraphs hold 30,001 pieces of text, more than the 30,000 .*selector"):
        extract(html)
    assert time.monotonic() - began < 2
    assert extract(html, selector="article").text.endswith("Line 30000 of the council's list.")


@pytest.mark.parametrize(("links", "refused"), [(MAX_PARAGRAPH_ELEMENTS, False), (MAX_PARAGRAPH_ELEMENTS + 1, True)])
def test_a_paragraph_of_too_many_elements_is_refused(links: int, refused: bool) -> None:
    crowded = "<p>The list: " + "<b>name</b>, " * links + "and more.</p>"
    html = page("<title>Council</title>", f"<article>{DEEP_INTRO}{crowded}</article>")
    if refused:
        with pytest.raises(ExtractionError, match="one paragraph of the page holds 2,001 elements, more than"):
            extract(html)
    else:
        assert "name, name" in extract(html).text


def test_a_fragment_without_an_html_tag_still_works_with_a_selector() -> None:
    """The limits are checked on the page before the selector's parse, which must not turn a fragment
    that trafilatura calls "not HTML" into an error."""
    sentence = "The council met on Tuesday to vote on the budget and the bridge."
    assert extract(f"<div class='story'><p>{sentence}</p></div>", selector=".story").text == sentence


def test_the_extractor_imports_beautifulsoup_only_for_css_rules() -> None:
    """Every checking process that meets a changed page imports the extractor: without CSS rules it must
    not pay for beautifulsoup4 and soupsieve (about 75 ms)."""
    script = ("import sys\n"
              "from monitor.extract import extract\n"
              "page = '<html><head><title>T</title></head><body><article>' + '<p>The council met to vote on "
              "the budget and the new bridge over the river.</p>' * 5 + '</article></body></html>'\n"
              "extract(page)\n"
              "print('bs4' in sys.modules, 'soupsieve' in sys.modules)\n"
              "extract(page, selector='article')\n"
              "print('bs4' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "False", "True"]
