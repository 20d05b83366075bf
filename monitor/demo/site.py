"""Realistic news pages built from the seed article format, for ``newsmon demo`` and the tests.

A page carries one article (headline, standfirst, body paragraphs) inside everything a real news page
wraps around it: navigation, a cookie banner, a breaking-news ticker, ad slots (one inside the body), a
"Read more:" box between two paragraphs, a share bar, related and most-read lists, a comment section with
a form, a newsletter sign-up and a footer. ``variant`` changes every piece of that noise (ad copy,
ticker, "Updated N minutes ago", headlines, comment counts, cache-busting asset URLs, a CSRF token), never
the article: two variants of one article are the same article fetched twice, and must extract alike.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources

__all__ = ["ArticleText", "load_seed", "parse_article_text", "render_article_page"]

# The seed's last line is the trailer of the page it was copied from, not article text.
_TRAILER = re.compile(r"leave a comment", re.I)


@dataclass(frozen=True)
class ArticleText:
    """An article in the seed format: line 1 the headline, line 2 the standfirst, then paragraphs."""

    title: str
    standfirst: str
    paragraphs: tuple[str, ...]


def parse_article_text(text: str) -> ArticleText:
    """Parse the seed format; blank lines are ignored and a final "Leave A Comment" line is dropped."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and _TRAILER.fullmatch(lines[-1]):
        lines.pop()
    if len(lines) < 3:
        raise ValueError("an article needs a headline, a standfirst and at least one paragraph")
    return ArticleText(title=lines[0], standfirst=lines[1], paragraphs=tuple(lines[2:]))


def load_seed() -> ArticleText:
    """The seed article shipped with the package (monitor/demo/article.txt)."""
    return parse_article_text(resources.files("monitor.demo").joinpath("article.txt").read_text("utf-8"))


# --------------------------------------------------------------------------------------------------------
# Noise. Each pool is indexed with a step coprime to its length, so consecutive variants always differ.

_SECTIONS = ("World", "UK", "Business", "Politics", "Technology", "Science", "Health", "Culture", "Sport",
             "Travel", "Opinion", "Podcasts")
_TICKER = (
    "Storm warning issued for the east coast as winds reach 90mph",
    "Central bank holds interest rates for a third month",
    "Rail strike called off after late-night talks",
    "Record number of visitors at the national museum this winter",
    "Ministers to publish housing plan next week",
    "Football: cup final moved to a later kick-off",
    "Wildfire near the capital brought under control",
    "Parliament votes to extend the session by two weeks",
    "Airport reopens after power cut grounds flights",
)
_ADS = (
    ("Switch and save", "Broadband from 19.99 a month. No price rises until 2027."),
    ("Winter sale now on", "Up to 60% off coats, boots and knitwear. Ends Sunday."),
    ("Your dream kitchen", "Book a free design visit today and get 10% off worktops."),
    ("Learn a language in 3 weeks", "Try the app rated best by 2 million learners."),
    ("Fly for less", "City breaks from 49 return. Limited seats available."),
    ("Protect your home", "Smart alarms installed in 24 hours. Call now."),
    ("New electric SUV", "Test drive it this weekend at your local showroom."),
)
_HEADLINES = (
    "How a small town rebuilt its high street",
    "The scientists racing to save the world's coral reefs",
    "Why house prices are rising again in the north",
    "Inside the factory making the next generation of batteries",
    "Five things we learned from the budget",
    "The chef who turned a food truck into an empire",
    "What the new border rules mean for travellers",
    "A year on the front line with the volunteer medics",
    "The hidden cost of fast fashion",
    "Can the old coal mines power the future?",
    "Meet the teenagers taking on the climate giants",
    "Why the price of coffee keeps going up",
    "The island that banned cars",
)
_READERS = (("Harper_77", "Thanks for the clear reporting, very informative."),
            ("J. Okafor", "I would like to know more about where these figures come from."),
            ("mountainview", "This has been going on for months and nobody seems to care."),
            ("Eleni K.", "Good piece. The map in the earlier story was helpful too."),
            ("R. Lindqvist", "Hard to believe the numbers are not higher."))


def _pick(pool: Sequence[str], variant: int, count: int, step: int) -> list[str]:
    return [pool[(variant * step + i) % len(pool)] for i in range(count)]


def _token(purpose: str, variant: int) -> str:
    return hashlib.sha256(f"{purpose}:{variant}".encode()).hexdigest()


def _links(items: Sequence[str], prefix: str) -> str:
    return "".join(f'<li><a href="{prefix}/{escape(re.sub(r"[^a-z0-9]+", "-", item.lower()).strip("-"))}">'
                   f"{escape(item)}</a></li>" for item in items)


def _ad(slot: str, variant: int, offset: int) -> str:
    headline, copy = _ADS[(variant * 3 + offset) % len(_ADS)]
    return (f'<div class="ad ad-{slot}" id="ad-{slot}" data-ad-slot="{_token(slot, variant)[:10]}">'
            f'<span class="ad-label">Advertisement</span> '
            f'<a class="ad-link" href="https://ads.example.net/click?id={_token("ad" + slot, variant)[:16]}">'
            f"<strong>{escape(headline)}</strong> {escape(copy)}</a></div>")


# --------------------------------------------------------------------------------------------------------
# The page


def _head(article: ArticleText, site: str, author: str, published: str, modified: str | None,
          variant: int) -> str:
    buster = _token("assets", variant)[:12]
    ld: dict[str, object] = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
        "description": article.standfirst, "datePublished": published,
        "author": [{"@type": "Person", "name": author}],
        "publisher": {"@type": "Organization", "name": site},
    }
    if modified:
        ld["dateModified"] = modified
    # html.escape() would corrupt JSON (a script's text is not entity-decoded); JSON's own \u escapes keep
    # "</script>" and "<!--" in a headline from ending the element early
    ld_json = json.dumps(ld, ensure_ascii=False).translate({ord("<"): "\\u003c", ord(">"): "\\u003e",
                                                           ord("&"): "\\u0026"})
    modified_meta = (f'<meta property="article:modified_time" content="{escape(modified)}">'
                     if modified else "")
    return f"""<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(article.title)} | {escape(site)}</title>
<meta name="description" content="{escape(article.standfirst)}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{escape(site)}">
<meta property="og:title" content="{escape(article.title)}">
<meta property="og:description" content="{escape(article.standfirst)}">
<meta property="article:published_time" content="{escape(published)}">
{modified_meta}
<meta name="csrf-token" content="{_token("csrf", variant)}">
<link rel="stylesheet" href="/static/site.css?v={buster}">
<script src="/static/app.js?v={buster}" defer></script>
<script>window.__ADS__ = {{"slot": "{_token("slot", variant)[:8]}", "refresh": {30 + variant % 7}}};</script>
<script type="application/ld+json">{ld_json}</script>
</head>"""


def _header(site: str, variant: int) -> str:
    ticker = "".join(f"<li>{escape(item)}</li>" for item in _pick(_TICKER, variant, 3, 2))
    return f"""<div class="cookie-banner" id="cookie-consent" role="dialog">
<p>We use cookies to improve your experience and to show you personalised ads. By continuing you agree to
our cookie policy.</p><button type="button">Accept all cookies</button> <a href="/privacy">Manage settings</a>
</div>
<header class="site-header">
<a class="logo" href="/">{escape(site)}</a>
<nav class="site-nav" aria-label="Sections"><ul>{_links(_SECTIONS, "")}</ul></nav>
<a class="subscribe" href="/subscribe">Subscribe</a> <a class="sign-in" href="/login">Sign in</a>
</header>
<div class="breaking-ticker" aria-live="polite">
<span class="ticker-label">Breaking</span><ul>{ticker}</ul></div>
{_ad("leaderboard", variant, 0)}"""


def _article(article: ArticleText, author: str, published: str, modified: str | None, variant: int) -> str:
    minutes = 2 + (variant * 7) % 57
    body: list[str] = []
    ad_at, read_more_at = min(3, len(article.paragraphs) - 1), max(1, len(article.paragraphs) // 2)
    for n, paragraph in enumerate(article.paragraphs):
        if n == ad_at:
            body.append(_ad("inline", variant, 1))
        if n == read_more_at:
            related = _HEADLINES[(variant * 5 + 2) % len(_HEADLINES)]
            body.append(f'<p class="read-more"><strong>Read more:</strong> <a href="/news/related-{variant}">'
                        f"{escape(related)}</a></p>")
        body.append(f"<p>{escape(paragraph)}</p>")
    updated = (f'<time class="updated" datetime="{escape(modified)}">Updated {minutes} minutes ago</time>'
               if modified else f'<span class="updated">Updated {minutes} minutes ago</span>')
    return f"""<article class="story" itemscope itemtype="https://schema.org/NewsArticle">
<header class="story-header">
<h1 class="headline" itemprop="headline">{escape(article.title)}</h1>
<p class="standfirst" itemprop="description">{escape(article.standfirst)}</p>
<div class="story-meta"><span class="byline" itemprop="author">{escape(author)}</span>
<time class="published" datetime="{escape(published)}">{escape(published[:10])}</time> {updated}</div>
</header>
<div class="story-body" itemprop="articleBody">
{"".join(body)}
</div>
<div class="share-bar"><span>Share this article</span>
<a href="https://twitter.com/intent/tweet?u={variant}">Twitter</a> <a href="https://facebook.com/sharer?u={variant}">Facebook</a>
<a href="mailto:?subject=shared">Email</a> <span class="share-count">{40 + variant * 13} shares</span></div>
</article>"""


def _after(variant: int) -> str:
    related = _links(_pick(_HEADLINES, variant, 4, 3), "/news")
    most_read = "".join(f'<li><span class="rank">{n}</span><a href="/news/most-read-{variant}-{n}">'
                        f"{escape(headline)}</a></li>"
                        for n, headline in enumerate(_pick(_HEADLINES[::-1], variant, 5, 4), 1))
    readers = [_READERS[(variant * 2 + n) % len(_READERS)] for n in range(2)]
    comments = "".join(
        f'<li class="comment"><p class="comment-author">{escape(name)}</p>'
        f'<p class="comment-body">{escape(text)}</p>'
        f'<span class="comment-likes">{(variant * 3 + n) % 20} likes</span></li>'
        for n, (name, text) in enumerate(readers))
    return f"""<section class="related-stories"><h2>Related stories</h2><ul>{related}</ul></section>
<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside>
{_ad("sidebar", variant, 2)}
<section class="comments" id="comments">
<h2>Leave A Comment</h2>
<p class="comment-count">{12 + variant * 5} comments</p>
<form class="comment-form" method="post" action="/comments">
<input type="hidden" name="csrf_token" value="{_token("form", variant)}">
<label>Name <input name="name"></label><label>Comment <textarea name="comment"></textarea></label>
<button type="submit">Post comment</button></form>
<ul class="comment-list">{comments}</ul>
</section>
<section class="newsletter"><h2>Get our morning briefing</h2>
<p>The day's top stories in your inbox every morning. Sign up to our newsletter.</p>
<form action="/newsletter"><input type="email" name="email" placeholder="Email address">
<input type="hidden" name="token" value="{_token("newsletter", variant)[:24]}"><button>Sign up</button></form>
</section>"""


def _footer(site: str) -> str:
    return f"""<footer class="site-footer">
<ul>{_links(("About us", "Contact", "Advertise", "Terms of use", "Privacy policy", "Cookies"), "")}</ul>
<p>&copy; 2025 {escape(site)}. All rights reserved.</p>
</footer>"""


def render_article_page(article: ArticleText, *, variant: int = 0, site: str = "The Daily Ledger",
                        byline: str = "By Min-ji Park", published: str = "2025-02-27T08:00:00Z",
                        modified: str | None = None) -> str:
    """A complete HTML5 news page carrying ``article``; ``variant`` changes the noise, never the article."""
    author = re.sub(r"^by\s+", "", byline.strip(), flags=re.I)
    return f"""<!DOCTYPE html>
<html lang="en">
{_head(article, site, author, published, modified, variant)}
<body class="article-page">
{_header(site, variant)}
<main class="layout">
{_article(article, byline, published, modified, variant)}
{_after(variant)}
</main>
{_footer(site)}
</body>
</html>
"""
