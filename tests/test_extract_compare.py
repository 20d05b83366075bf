"""trafilatura's comparison with readability and jusText is skipped only where it cannot change the result:
the same documents either way, and the comparison still runs where it can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import trafilatura
import trafilatura.core
from lxml.html import fragment_fromstring, fromstring

from monitor import extract_compare
from monitor.demo.site import parse_article_text, render_article_page
from monitor.extract import extract

FIXTURES = Path(__file__).parent / "fixtures"
PRECISION = SimpleNamespace(focus="precision", min_extracted_size=250)

pytestmark = pytest.mark.skipif(not extract_compare.installed(),
                                reason=f"trafilatura {trafilatura.__version__} is not a release the skip was "
                                       f"checked against ({', '.join(extract_compare.VERIFIED)}): nothing replaced")


def seed_page() -> str:
    return render_article_page(parse_article_text((FIXTURES / "article.txt").read_text(encoding="utf-8")))


def page_mostly_furniture() -> str:
    """The seed article followed by six times its length of text outside any paragraph: trafilatura's own
    extractor keeps the article, readability takes the rest too, and being more than twice as long wins."""
    spans = "".join(f"<span>Another story about the war, part {n}, with a long headline and more words. </span>"
                    for n in range(150))
    return seed_page().replace("</body>", f"<div>{spans}</div></body>")


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each call of trafilatura's own comparison, by the shim."""
    calls: list[str] = []
    original = extract_compare._original
    assert original is not None

    def counted(*args: object) -> object:
        calls.append("compared")
        return original(*args)

    monkeypatch.setattr(extract_compare, "_original", counted)
    yield calls


def without_skip(html: str | bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(trafilatura.core, "compare_extraction", extract_compare._original)
        return extract(html)


def test_trafilatura_calls_the_shim() -> None:
    assert trafilatura.core.compare_extraction is extract_compare.compare_extraction


@pytest.mark.parametrize("name", ["blog.html", "live.html", "wire.html", "seed", "furniture"])
def test_the_documents_are_the_same_with_and_without_the_skip(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    html: str | bytes = {"seed": seed_page, "furniture": page_mostly_furniture}.get(
        name, lambda: (FIXTURES / "pages" / name).read_bytes())()   # the fixtures are in several encodings
    assert extract(html) == without_skip(html, monkeypatch)


def test_an_article_that_is_most_of_its_page_skips_the_comparison(comparisons: list[str]) -> None:
    document = extract(seed_page())
    assert "1,000" in document.text or "troops" in document.text
    assert comparisons == []


def test_a_page_with_more_text_around_the_article_is_compared(comparisons: list[str]) -> None:
    document = extract(page_mostly_furniture())
    assert comparisons == ["compared"]
    assert "part 149" in document.text          # readability's longer text won, as without the skip


def page_of_videos() -> str:
    """Two paragraphs and 150 embedded videos: readability writes "VIDEO" into each iframe it keeps, so its
    text can be longer than all the text of the page, and here it is preferred."""
    text = "Officials said at least 1,500 soldiers had been killed in the fighting, a sharp rise from before. " * 2
    videos = "".join(f'<iframe src="https://www.youtube.com/embed/v{n}"></iframe>' for n in range(150))
    return (f"<html><head><title>Videos</title></head><body><article><p>{text[:160]}</p><p>{text[:160]}</p>"
            f"{videos}</article></body></html>")


def test_text_readability_adds_keeps_the_comparison(comparisons: list[str]) -> None:
    """newsmon removes iframes before trafilatura sees them; any other caller in the process gets the same
    result from trafilatura with the shim as without it."""
    html = page_of_videos()
    options = {"favor_precision": True, "include_comments": False, "output_format": "xml"}
    with_shim = trafilatura.extract(html, **options)
    assert comparisons == ["compared"]
    with extract_compare.trafilatura_as_released():
        assert trafilatura.extract(html, **options) == with_shim
    assert "<main>" in (with_shim or "")          # readability's text was preferred, as without the shim


def body(html: str) -> object:
    return fragment_fromstring(html, create_parent="body")


LONG = "Officials said at least 1,500 soldiers had been killed in the fighting near the border. " * 5


@pytest.mark.parametrize(("extracted", "why"), [
    (f"<p>{LONG[:200]}</p>", "shorter than min_extracted_size: jusText would be tried"),
    (f"<p>{LONG}</p><figure>a chart</figure>", "a figure (SANITIZED_XPATH): jusText would be tried"),
    (f"<div>{LONG}</div>", "no paragraph text: readability may win on structure"),
    (f"<p>{LONG}</p><table><tr><td>1</td></tr></table><table><tr><td>2</td></tr></table>",
     "more tables than paragraphs"),
])
def test_each_rule_that_could_change_the_result_keeps_the_comparison(extracted: str, why: str) -> None:
    tree = body(extracted)
    text = " ".join(tree.text_content().split())
    page = fromstring(f"<html><body>{extracted}</body></html>")
    assert not extract_compare._own_extraction_stands(page, tree, text, PRECISION), why


def test_a_clean_long_extraction_that_is_most_of_the_page_stands() -> None:
    tree = body(f"<p>{LONG}</p><p>{LONG}</p>")
    text = " ".join(tree.text_content().split())
    page = fromstring(f"<html><body><nav>Home World</nav><p>{LONG}</p><p>{LONG}</p></body></html>")
    assert extract_compare._own_extraction_stands(page, tree, text, PRECISION)
    crowded = fromstring(f"<html><body><p>{LONG}</p><p>{LONG}</p><div>{LONG * 3}</div></body></html>")
    assert not extract_compare._own_extraction_stands(crowded, tree, text, PRECISION)
    assert not extract_compare._own_extraction_stands(page, tree, text, SimpleNamespace(
        focus="recall", min_extracted_size=250))


def test_benchmarks_can_time_trafilatura_as_released(comparisons: list[str]) -> None:
    with extract_compare.trafilatura_as_released():
        assert trafilatura.core.compare_extraction is extract_compare._original
        extract(seed_page())
    assert trafilatura.core.compare_extraction is extract_compare.compare_extraction
    assert comparisons == ["compared"]           # trafilatura's own step ran, the shim's rule did not


@pytest.mark.parametrize("change", ["another release", "another signature"])
def test_nothing_is_replaced_in_a_trafilatura_not_checked(change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = extract_compare._original
    monkeypatch.setattr(extract_compare, "_original", None)
    if change == "another release":
        monkeypatch.setattr(trafilatura.core, "compare_extraction", original)
        monkeypatch.setattr(trafilatura, "__version__", "2.4.0")
    else:
        def compare_extraction(tree: object, backup_tree: object, body: object, text: str, len_text: int,
                               options: object) -> object:
            raise AssertionError("never called")
        monkeypatch.setattr(trafilatura.core, "compare_extraction", compare_extraction)
    before = trafilatura.core.compare_extraction
    assert extract_compare.install() is False
    assert trafilatura.core.compare_extraction is before
    assert not extract_compare.installed()
