"""monitor.urls: canonical URLs, registrable domains, and the address policy for discovered URLs."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import FetchError, NetworkError, UnsupportedScheme
from monitor.fetch import Fetcher, FetchSettings
from monitor.urls import AddressPolicy, canonicalize, guard_for, is_public_address, registrable_domain, same_site
from monitor.wire_mock import MockPool, MockReply, MockRequest

# --- canonicalize ----------------------------------------------------------------------------------

CANONICAL = [
    # case of scheme and host, default ports, empty path
    ("HTTP://Example.COM", "http://example.com/"),
    ("https://Example.com:443/A/B", "https://example.com/A/B"),
    ("http://example.com:80/", "http://example.com/"),
    ("http://example.com:8080/", "http://example.com:8080/"),
    ("https://example.com:80/", "https://example.com:80/"),
    ("https://www.example.com./a", "https://www.example.com/a"),
    # fragments
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?b=1#x?y", "https://example.com/a?b=1"),
    # tracking parameters dropped, the others kept in their order
    ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
    ("https://example.com/a?id=3&UTM_Campaign=x&page=2", "https://example.com/a?id=3&page=2"),
    ("https://example.com/a?z=1&a=2", "https://example.com/a?z=1&a=2"),
    ("https://example.com/a?fbclid=abc&gclid=def&mc_cid=1&mc_eid=2", "https://example.com/a"),
    ("https://example.com/a?ocid=msn&cmpid=rss&at_medium=x&at_campaign=y", "https://example.com/a"),
    ("https://example.com/a?CMP=share_btn_tw&xtor=RSS-1", "https://example.com/a"),
    ("https://example.com/a?ref=rss", "https://example.com/a"),
    ("https://example.com/a?ref=RSS&src=feed&partner=rss", "https://example.com/a"),
    ("https://example.com/a?ref=homepage", "https://example.com/a?ref=homepage"),
    ("https://example.com/a?source=twitter", "https://example.com/a?source=twitter"),
    ("https://example.com/a?q=1&&b=2&", "https://example.com/a?q=1&b=2"),
    ("https://example.com/a?flag&utm_term=x", "https://example.com/a?flag"),
    # percent-encoding: upper-case escapes, unreserved decoded, reserved kept escaped
    ("https://example.com/a%2fb%3d", "https://example.com/a%2Fb%3D"),
    ("https://example.com/%7Euser/%41%42", "https://example.com/~user/AB"),
    ("https://example.com/a b/ü", "https://example.com/a%20b/%C3%BC"),
    ("https://example.com/100%", "https://example.com/100%25"),
    ("https://example.com/s?q=a+b&r=%e2%82%ac", "https://example.com/s?q=a+b&r=%E2%82%AC"),
    # hosts
    ("https://BÜCHER.example/x", "https://xn--bcher-kva.example/x"),
    ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
    ("  https://example.com/padded  ", "https://example.com/padded"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize("url", [u for u, _ in CANONICAL])
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize(url)
    assert canonicalize(once) == once


_segment = st.text(alphabet="aZ09-._~%/?=&#+ü:@!$'()*,;[] ", max_size=12)


@given(path=_segment, query=_segment)
def test_canonicalize_is_idempotent_on_any_path_and_query(path: str, query: str) -> None:
    try:
        once = canonicalize(f"https://Example.com/{path}?{query}")
    except ValueError:
        return                            # e.g. "[" making the netloc unparseable
    assert canonicalize(once) == once


def test_canonicalize_rejects_a_bad_port() -> None:
    with pytest.raises(ValueError):
        canonicalize("https://example.com:99999/")


# --- registrable domains and sites -----------------------------------------------------------------

REGISTRABLE = [
    ("www.example.com", "example.com"),
    ("example.com", "example.com"),
    ("a.b.c.example.com", "example.com"),
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("www.gov.uk", "www.gov.uk"),
    ("www.ox.ac.uk", "ox.ac.uk"),
    ("www.theage.com.au", "theage.com.au"),
    ("www.asahi.co.jp", "asahi.co.jp"),
    ("g1.globo.com.br", "globo.com.br"),
    ("www.stuff.co.nz", "stuff.co.nz"),
    ("www.news24.co.za", "news24.co.za"),
    ("www.example.com.de", "example.com.de"),   # the generic rule for two-letter country domains
    ("www.lemonde.fr", "lemonde.fr"),
    ("alice.github.io", "alice.github.io"),
    ("www.alice.blogspot.com", "alice.blogspot.com"),
    ("WWW.Example.COM.", "example.com"),
    ("t.co", "t.co"),
    ("localhost", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
]


@pytest.mark.parametrize(("host", "expected"), REGISTRABLE)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


SAME_SITE = [
    ("https://www.bbc.co.uk/news/1", "https://feeds.bbc.co.uk/news/rss.xml", True),
    ("https://www.bbc.co.uk/news/1", "https://www.itv.co.uk/feed", False),
    ("https://evil.co.uk/x", "https://bbc.co.uk/feed", False),
    ("https://bob.github.io/x", "https://alice.github.io/feed.xml", False),
    ("http://127.0.0.1:8001/a", "http://127.0.0.1:9000/feed", True),
    ("https://cdn.example.net/a", ["https://example.com/feed", "example.net"], True),
    ("https://example.net/a", ["https://example.com/feed", "news.example.net"], False),
    ("https://news.example.net/a", ["https://example.com/feed", "news.example.net"], True),
    ("https://notexample.net/a", ["example.net"], False),
    ("mailto:someone@example.com", "https://example.com/feed", False),
]


@pytest.mark.parametrize(("url", "other", "expected"), SAME_SITE)
def test_same_site(url: str, other: str | list[str], expected: bool) -> None:
    assert same_site(url, other) is expected


# --- addresses -------------------------------------------------------------------------------------

ADDRESSES = [
    ("10.0.0.5", False), ("172.16.3.4", False), ("192.168.1.1", False), ("127.0.0.1", False),
    ("127.8.9.10", False), ("::1", False), ("169.254.169.254", False), ("169.254.1.1", False),
    ("fd00:ec2::254", False), ("fe80::1%eth0", False), ("::ffff:127.0.0.1", False), ("::ffff:10.1.2.3", False),
    ("100.64.0.1", False), ("100.127.255.254", False), ("100.100.100.200", False), ("0.0.0.0", False),
    ("::", False), ("224.0.0.1", False), ("ff02::1", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("192.0.2.1", False), ("2001:db8::1", False), ("2002:0a00:0001::1", False), ("64:ff9b::7f00:1", False),
    ("93.184.216.34", True), ("8.8.8.8", True), ("100.128.0.1", True), ("2606:4700:4700::1111", True),
    ("::ffff:93.184.216.34", True), ("64:ff9b::808:808", True),
]


@pytest.mark.parametrize(("address", "public"), ADDRESSES)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def fake_resolver(table: dict[str, list[str]]) -> Any:
    """A getaddrinfo stand-in: host -> addresses; unknown hosts fail the way DNS does."""
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


RESOLVER = fake_resolver({
    "news.example.com": ["93.184.216.34"],
    "dual.example.com": ["93.184.216.34", "2606:4700::6810:84e5"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
    "intranet.example.com": ["192.168.0.10"],
    "v6local.example.com": ["fe80::1%eth0"],
    "metadata.example.com": ["169.254.169.254"],
})

POLICY = [
    ("https://news.example.com/a", None),
    ("https://dual.example.com/a", None),
    ("http://93.184.216.34/a", None),
    ("http://[2606:4700:4700::1111]/a", None),
    ("http://10.0.0.5/a", "refusing a private address (10.0.0.5)"),
    ("http://127.0.0.1:8080/a", "refusing a loopback address (127.0.0.1)"),
    ("http://[::1]/a", "refusing a loopback address (::1)"),
    ("http://169.254.169.254/latest/meta-data/", "refusing a cloud metadata address (169.254.169.254)"),
    ("http://[fd00:ec2::254]/", "refusing a cloud metadata address (fd00:ec2::254)"),
    ("http://[::ffff:127.0.0.1]/", "refusing a loopback address (::ffff:7f00:1, i.e. 127.0.0.1)"),
    ("http://100.64.0.1/", "refusing a shared (CGNAT) address (100.64.0.1)"),
    ("http://2130706433/", "refusing a loopback address (127.0.0.1)"),     # decimal 127.0.0.1
    ("http://0x7f.1/", "refusing a loopback address (127.0.0.1)"),
    ("http://127.1/", "refusing a loopback address (127.0.0.1)"),
    ("https://intranet.example.com/", "refusing a private address (192.168.0.10, resolved from intranet"),
    ("https://rebind.example.com/", "refusing a private address (10.0.0.5, resolved from rebind"),
    ("https://v6local.example.com/", "refusing a link-local address (fe80::1"),
    ("https://metadata.example.com/", "refusing a cloud metadata address (169.254.169.254"),
    ("http://localhost:8000/", "refusing the local host name 'localhost'"),
    ("http://LocalHost./", "refusing the local host name 'localhost'"),
    ("http://app.localhost/", "refusing the local host name 'app.localhost'"),
    ("http://printer.local/", "refusing the local host name 'printer.local'"),
    ("http://metadata.google.internal/", "refusing the local host name 'metadata.google.internal'"),
    ("http://intranet/", "refusing the single-label host name 'intranet'"),
]


@pytest.mark.parametrize(("url", "refusal"), POLICY)
def test_address_policy(url: str, refusal: str | None) -> None:
    policy = AddressPolicy(resolver=RESOLVER)
    if refusal is None:
        policy.check(url)
        return
    with pytest.raises(FetchError) as info:
        policy.check(url)
    assert info.value.url == url
    assert refusal in info.value.reason
    assert "allow_private" in info.value.reason


def test_local_names_are_refused_without_asking_the_dns() -> None:
    resolver = fake_resolver({"localhost": ["93.184.216.34"]})
    with pytest.raises(FetchError):
        AddressPolicy(resolver=resolver).check("http://localhost/")
    assert resolver.calls == []


def test_an_unresolvable_name_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="could not resolve host nowhere.example"):
        AddressPolicy(resolver=RESOLVER).check("https://nowhere.example/")


def test_allow_private_allows_everything_and_resolves_nothing() -> None:
    resolver = fake_resolver({})
    guard = guard_for(True, resolver=resolver)
    for url in ("http://127.0.0.1/", "http://localhost/", "http://10.0.0.5/", "http://intranet/"):
        guard(url)
    assert resolver.calls == []


# --- the guard as the Fetcher's per-hop check ------------------------------------------------------


class GuardedFetcher(Fetcher):
    """How a later step wires the guard: every hop passes the scheme check, then the address policy."""

    def __init__(self, guard: Any, pool: MockPool) -> None:
        super().__init__(FetchSettings(user_agent="newsmon-test"), pool)
        self.guard = guard

    def check_url(self, url: str) -> None:
        super().check_url(url)
        self.guard(url)


def test_guard_refuses_a_redirect_to_a_private_address_before_requesting_it() -> None:
    requested: list[str] = []

    def handler(request: MockRequest) -> MockReply:
        requested.append(request.url)
        if urlsplit(request.url).hostname == "news.example.com":
            return MockReply(302, {"Location": "http://10.0.0.5/admin"})
        return MockReply(200, {"Content-Type": "text/html"}, b"<html><body>secret</body></html>")

    guard = guard_for(False, resolver=RESOLVER)
    with GuardedFetcher(guard, MockPool(handler)) as fetcher, pytest.raises(FetchError) as info:
        fetcher.fetch("https://news.example.com/story")
    assert requested == ["https://news.example.com/story"]
    assert info.value.url == "https://news.example.com/story"
    assert "refusing a private address (10.0.0.5)" in info.value.reason
    assert "redirected to http://10.0.0.5/admin" in info.value.reason


def test_guard_runs_after_the_scheme_check() -> None:
    with GuardedFetcher(guard_for(False, resolver=RESOLVER), MockPool(lambda request: MockReply(200))) \
            as fetcher, pytest.raises(UnsupportedScheme):
        fetcher.fetch("file:///etc/passwd")
