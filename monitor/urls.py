"""URLs found in feeds and sitemaps: canonical form, site identity, and which addresses may be fetched.

Pure functions; the only I/O is the DNS resolver ``AddressPolicy`` is given (``socket.getaddrinfo`` by
default, a fake in tests).

- ``canonicalize`` makes one spelling per article, so a URL listed by a feed with ``?utm_source=rss``
  and by a sitemap without it is tracked once. It drops only parameters that are known to be tracking
  (``TRACKING_PARAMS`` and friends below); anything else may select content and is kept, in order.
- ``registrable_domain`` is a small heuristic, not the Public Suffix List: a documented set of
  second-level suffixes (``co.uk``, ``com.au``, ...), a generic rule for two-letter country domains and
  a few hosting platforms whose customers get sibling subdomains. Erring towards a *longer* registrable
  domain only makes the same-site check stricter, which is the safe direction.
- ``AddressPolicy`` refuses discovered URLs that point into private networks (SSRF): literal IPs, names
  that resolve to such addresses, and local names that are refused without resolving. Every resolved
  address must be public, because whoever controls the DNS controls which one we connect to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor.errors import FetchError, NetworkError

__all__ = ["METADATA_ADDRESSES", "TRACKING_PARAMS", "AddressPolicy", "canonicalize", "guard_for",
           "is_public_address", "registrable_domain", "same_site"]

# --- canonical URLs ---------------------------------------------------------------------------------

# Query parameters that only say where a click came from (compared case-insensitively).
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ocid", "cmpid", "cmp", "at_medium", "at_campaign", "xtor", "_ga", "_gl", "mkt_tok", "wt.mc_id",
    "s_cid", "smid", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "sr_share",
    "__twitter_impression", "guccounter", "ito",
})
TRACKING_PREFIXES = ("utm_", "at_custom", "at_link", "pk_")  # utm_source, AT Internet, Matomo (pk_campaign)
# Parameters that are tracking only with these values: ``ref=rss`` is, ``ref=2`` may select a page.
TRACKING_VALUES: dict[str, frozenset[str]] = dict.fromkeys(
    ("ref", "src", "source", "from", "partner", "emc", "feed"),
    frozenset({"rss", "rss2", "rssfeed", "rss_feed", "feed", "feeds", "atom", "feedburner", "sitemap"}),
)

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Everything RFC 3986 allows unescaped in a path or query; other characters are percent-encoded.
_ALLOWED = _UNRESERVED | frozenset("!$&'()*+,;=:@/?")
_HEX = frozenset("0123456789abcdefABCDEF")


def _normalise_escapes(part: str) -> str:
    """Upper-case escapes, decode escaped unreserved characters, encode what must be encoded.

    Escaped reserved characters (``%2F``, ``%3D``) stay escaped: decoding them changes the meaning.
    A ``%`` not followed by two hex digits becomes ``%25``, so the result is stable when re-applied.
    """
    out: list[str] = []
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "%" and i + 2 < len(part) and part[i + 1] in _HEX and part[i + 2] in _HEX:
            decoded = chr(int(part[i + 1:i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + part[i + 1:i + 3].upper())
            i += 3
            continue
        if ch in _ALLOWED:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        i += 1
    return "".join(out)


def _is_tracking(pair: str) -> bool:
    name, _, value = pair.partition("=")
    name = name.lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return True
    values = TRACKING_VALUES.get(name)
    return values is not None and value.lower() in values


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host                    # not valid IDNA: keep it; the fetch will say what is wrong


def canonicalize(url: str) -> str:
    """One spelling per resource; raises ``ValueError`` for a URL that cannot be parsed.

    Lower-case scheme and host (IDNA-encoded), no default port, no fragment, no tracking parameters
    (other parameters kept in their order), ``/`` for an empty path, uniform percent-encoding.
    Idempotent: ``canonicalize(canonicalize(u)) == canonicalize(u)``.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _ascii_host((parts.hostname or "").rstrip(".")).lower()
    port = parts.port                  # ValueError for a port that is not a number in range
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    path = _normalise_escapes(parts.path) or ("/" if netloc else "")
    pairs = [_normalise_escapes(p) for p in parts.query.split("&") if p and not _is_tracking(p)]
    return urlunsplit((scheme, netloc, path, "&".join(pairs), ""))


# --- sites -----------------------------------------------------------------------------------------

# Second-level labels under which anyone can register, for common news countries. Beyond this list,
# a two-letter country domain whose second label is one of _GENERIC_SECOND is treated the same way.
_SECOND_LEVEL = frozenset({
    "co.uk", "org.uk", "gov.uk", "ac.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "nhs.uk", "sch.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
    "co.nz", "net.nz", "org.nz", "govt.nz", "ac.nz",
    "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "gr.jp", "ed.jp", "lg.jp",
    "com.br", "net.br", "org.br", "gov.br", "edu.br", "art.br", "blog.br",
    "co.in", "net.in", "org.in", "gen.in", "firm.in", "ind.in", "gov.in", "nic.in",
    "co.za", "org.za", "gov.za", "web.za", "co.kr", "or.kr", "go.kr", "com.cn", "gov.cn",
    "com.hk", "com.tw", "com.sg", "com.my", "com.mx", "gob.mx", "com.ar", "gob.ar", "com.tr", "gov.tr",
    "co.il", "org.il", "co.id", "or.id", "go.id", "co.th", "in.th", "com.ph", "com.pk", "com.ng",
    "com.eg", "com.ua", "com.co", "com.pe", "com.ve", "com.sa", "com.qa", "com.lb", "co.ke",
})
_GENERIC_SECOND = frozenset({"co", "com", "net", "org", "gov", "govt", "gob", "edu", "ac", "or", "ne",
                             "go", "mil"})
# Hosting platforms (from the Public Suffix List's private section) where sibling subdomains belong to
# different people: alice.github.io must not vouch for bob.github.io.
_PLATFORMS = frozenset({"github.io", "gitlab.io", "blogspot.com", "appspot.com", "herokuapp.com",
                        "netlify.app", "vercel.app", "pages.dev", "workers.dev", "azurewebsites.net",
                        "cloudfront.net", "wordpress.com", "substack.com", "medium.com", "tumblr.com"})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """The part of ``host`` a registrant controls: ``news.bbc.co.uk`` -> ``bbc.co.uk``.

    IP addresses and single labels come back as they are (lower case).
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    if _is_ip(host):
        return host
    labels = host.split(".")
    if len(labels) < 3:
        return host
    last_two = ".".join(labels[-2:])
    if (last_two in _SECOND_LEVEL or last_two in _PLATFORMS
            or (len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND)):
        return ".".join(labels[-3:])
    return last_two


def _host_of(url_or_host: str) -> str:
    if "://" in url_or_host:
        return (urlsplit(url_or_host).hostname or "").rstrip(".")
    return url_or_host.strip().rstrip(".").lower()


def same_site(url: str, other: str | Iterable[str]) -> bool:
    """Whether ``url`` belongs to ``other``: a URL, or a list of URLs and domain names.

    A URL in ``other`` matches on registrable domain (``www.bbc.co.uk`` and ``news.bbc.co.uk`` are one
    site). A bare domain name matches itself and its subdomains only: listing ``news.example.com``
    does not admit ``example.com``.
    """
    host = _host_of(url)
    if not host:
        return False
    candidates = [other] if isinstance(other, str) else list(other)
    for candidate in candidates:
        if "://" in candidate:
            other_host = _host_of(candidate)
            if other_host and registrable_domain(other_host) == registrable_domain(host):
                return True
        else:
            domain = _host_of(candidate)
            if domain and (host == domain or host.endswith("." + domain)):
                return True
    return False


# --- addresses -------------------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"),   # AWS, GCP, Azure, OpenStack, ...
    ipaddress.ip_address("fd00:ec2::254"),     # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),   # Alibaba Cloud
})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that only mean something on this machine or its network: refused without asking the DNS.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), which is what gets reached."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _classify(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched ("loopback", "private", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return _classify(inner)
    checks = (
        (ip in METADATA_ADDRESSES, "cloud metadata"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),   # documentation ranges, benchmarking, ...
    )
    return next((kind for refused, kind in checks if refused), None)


def _show(ip: IPAddress) -> str:
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return f"{ip}, i.e. {inner}" if inner is not None else str(ip)


def is_public_address(ip: str | IPAddress) -> bool:
    """True for an address on the public internet; False for private, loopback, metadata and the like."""
    address = ipaddress.ip_address(ip.split("%")[0]) if isinstance(ip, str) else ip
    return _classify(address) is None


def _literal_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address, including the legacy IPv4 forms (``127.1``, ``0x7f.1``, ``2130706433``)
    that ``inet_aton`` and therefore the connecting socket accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


class AddressPolicy:
    """Refuses URLs whose host is, or resolves to, a non-public address.

    ``check(url)`` returns None for an acceptable URL and raises ``FetchError`` otherwise (a
    ``NetworkError`` when the name cannot be resolved). The check and the connection resolve the name
    separately, so a DNS server answering differently the second time (rebinding) would get past it:
    ``check_peer`` closes that gap, called by the fetcher with the address the connection actually
    reached, before anything is sent (``monitor.wire.Pool.get``'s ``peer_check``).
    """

    def __init__(self, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo) -> None:
        self.allow_private = allow_private
        self.resolver = resolver

    def __call__(self, url: str) -> None:
        self.check(url)

    def check(self, url: str) -> None:
        if self.allow_private:
            return
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise FetchError(url, "the URL has no host name")
        hint = "for a discovered URL (set allow_private: true on the source to allow it)"
        literal = _literal_ip(host)
        if literal is not None:
            kind = _classify(literal)
            if kind:
                raise FetchError(url, f"refusing a {kind} address ({_show(literal)}) {hint}")
            return
        if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
            raise FetchError(url, f"refusing the local host name {host!r} {hint}")
        if "." not in host:
            # Single labels are completed by the resolver's search domains: an intranet host.
            raise FetchError(url, f"refusing the single-label host name {host!r} {hint}")
        for address in self._resolve(url, host, port or DEFAULT_PORTS.get(parts.scheme.lower(), 80)):
            kind = _classify(address)
            if kind:
                raise FetchError(url, f"refusing a {kind} address ({_show(address)}, resolved from {host}) {hint}")

    def check_peer(self, url: str, address: str) -> None:
        """Refuse a connection that reached a non-public ``address`` (the peer's IP), whatever the name
        resolved to when ``check`` looked."""
        if self.allow_private:
            return
        try:
            peer = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            raise FetchError(url, f"the connection reached an invalid address {address!r}") from None
        kind = _classify(peer)
        if kind:
            raise FetchError(url, f"refusing a {kind} address ({_show(peer)}) that the connection reached (the "
                                  "name resolved to another address when it was checked: DNS rebinding?)")

    def _resolve(self, url: str, host: str, port: int) -> list[IPAddress]:
        try:
            infos = self.resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:   # socket.gaierror is an OSError
            raise NetworkError(url, f"could not resolve host {host} ({exc})") from None
        addresses = []
        for info in infos:
            text = str(info[4][0]).split("%")[0]  # an IPv6 sockaddr may carry a %scope
            try:
                addresses.append(ipaddress.ip_address(text))
            except ValueError:
                raise FetchError(url, f"the resolver returned an invalid address {text!r} for {host}") from None
        if not addresses:
            raise NetworkError(url, f"could not resolve host {host} (no addresses)")
        return addresses


def guard_for(allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> AddressPolicy:
    """A per-hop check for discovered URLs, to run after ``Fetcher.check_url`` on every hop.

    ``Fetcher.check_url(url) -> None`` raises ``FetchError`` to stop a fetch before any request to
    ``url``; this has the same shape, so a subclass can call both::

        class DiscoveredFetcher(Fetcher):
            def check_url(self, url: str) -> None:
                super().check_url(url)
                guard(url)
    """
    return AddressPolicy(allow_private, resolver)
