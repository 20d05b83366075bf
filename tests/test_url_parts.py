"""The run-sized cache of URL splits (monitor/url_parts.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from monitor import url_parts
from monitor.url_parts import CACHED_URLS, LONGEST_CACHED, split_url


def test_a_run_of_thousands_of_urls_is_split_once_each() -> None:
    # The standard library's own cache holds 128 URLs: a second pass over a run's articles missed every time.
    urls = [f"http://127.0.0.{1 + n % 20}:8811/news/world/article-{n}" for n in range(5000)]
    first = [split_url(url) for url in urls]
    assert all(split_url(url) is parts for url, parts in zip(urls, first, strict=True))
    assert first == [urlsplit(url) for url in urls]
    assert CACHED_URLS >= 10_000


def test_an_invalid_url_raises_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            split_url("http://[::1")


def test_a_long_url_is_split_but_not_kept() -> None:
    # A redirect's Location is the site's choice: tens of kilobytes each must not pile up in the cache.
    kept = url_parts._cached_split.cache_info().currsize
    for n in range(3):
        long = f"http://example.test/{n}/" + "a" * 60_000
        assert split_url(long) == urlsplit(long)
    assert url_parts._cached_split.cache_info().currsize == kept
    short = "http://example.test/" + "a" * (LONGEST_CACHED - 30)
    assert split_url(short) is split_url(short)
    assert url_parts._cached_split.cache_info().currsize == kept + 1
