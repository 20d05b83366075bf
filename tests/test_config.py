"""Tests for monitor/config.py: the repository's example, defaults, parsers, and every kind of bad file."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import config as config_module
from monitor.config import (
    DEFAULT_USER_AGENT,
    ArticleTarget,
    Config,
    NotifyTarget,
    SourceConfig,
    StoriesConfig,
    Timeouts,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def parse(text: str, base_dir: Path | None = None) -> Config:
    return parse_config(text, filename="c.yaml", base_dir=base_dir)


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


# --- the repository's example ------------------------------------------------------------------------


def test_repo_config_yaml_loads() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.base_dir == ROOT
    assert config.warnings == []
    assert len(config.sources) >= 3
    assert all(source.urls for source in config.sources)
    hosts = {re.sub(r"^https://(www\.)?([^/]+)/.*", r"\2", t.url) for t in config.articles()}
    assert {"bbc.com", "reuters.com"} <= hosts
    assert config.storage_url() == f"sqlite:///{ROOT.as_posix()}/snapshots/newsmon.db"


def test_repo_config_yaml_commented_examples_are_valid_too() -> None:
    # Uncommenting an example must give a working file: turn "    # feeds:" into "    feeds:".
    text = (ROOT / "config.yaml").read_text()
    uncommented = re.sub(r"(?m)^( *)# ( *(?:- |[a-z_]+:(?: |$)).*)$", r"\1\2", text)
    assert uncommented != text
    config = parse(uncommented)
    loaded = load_config(ROOT / "config.yaml")
    assert len(config.sources) > len(loaded.sources)
    assert any(source.feeds for source in config.sources)
    assert any(source.sitemaps for source in config.sources)
    assert any(source.selector for source in config.sources)


def test_repo_config_yaml_documents_every_key() -> None:
    text = (ROOT / "config.yaml").read_text()
    keys = [f.name for section in (Config, SourceConfig, Timeouts, NotifyTarget) for f in dataclasses.fields(section)]
    missing = [key for key in keys if key not in {"base_dir", "warnings"} and f"{key} " not in text
               and f"{key}:" not in text]
    assert missing == []


# --- defaults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "sources: []\n", "sources:\n", "---\n"])
def test_empty_configuration_is_valid_and_has_defaults(text: str, tmp_path: Path) -> None:
    config = parse(text, base_dir=tmp_path)
    assert config.sources == [] and config.articles() == []
    assert config.user_agent == DEFAULT_USER_AGENT
    assert (config.storage, config.reports) == ("snapshots/", "reports/")
    assert (config.concurrency, config.per_host_delay, config.max_bytes) == (16, 2.0, 10 * 1024 * 1024)
    assert (config.timeout.connect, config.timeout.idle, config.timeout.total) == (10, 20, 60)
    assert config.base_dir == tmp_path
    assert config.storage_url() == f"sqlite:///{tmp_path.as_posix()}/snapshots/newsmon.db"
    assert config.reports_dir() == tmp_path / "reports"


def test_source_defaults() -> None:
    source = parse("sources:\n  - name: bbc\n").sources[0]
    assert source == SourceConfig(name="bbc")
    assert (source.urls, source.feeds, source.sitemaps, source.exclude, source.ignore, source.domains) == (
        [], [], [], [], [], [])
    assert (source.interval, source.max_age, source.selector) == (None, None, None)
    assert source.allow_private is False


def test_every_key_is_read() -> None:
    config = parse("""\
storage: /var/lib/newsmon
reports: out
user_agent: test-agent/1.0
concurrency: 4
per_host_delay: 500
timeout: {connect: 1s, idle: 2, total: 1m}
max_bytes: 500kB
sources:
  - name: " bbc "
    urls: [https://www.bbc.com/news/articles/a]
    feeds: [https://feeds.bbci.co.uk/news/rss.xml]
    sitemaps: [https://www.bbc.com/sitemaps/news.xml]
    interval: 1h30m
    selector: article
    exclude: [.related, "div#ads"]
    ignore: ['^Updated \\d+ minutes ago$']
    allow_private: true
    max_age: 7d
    domains: [BBC.co.uk]
""")
    assert (config.storage, config.reports) == ("/var/lib/newsmon", "out")
    assert config.user_agent == "test-agent/1.0"
    assert (config.concurrency, config.per_host_delay, config.max_bytes) == (4, 500.0, 500_000)
    assert config.timeout == Timeouts(connect=1, idle=2, total=60)
    source = config.sources[0]
    assert source.name == "bbc"
    assert source.feeds == ["https://feeds.bbci.co.uk/news/rss.xml"]
    assert source.sitemaps == ["https://www.bbc.com/sitemaps/news.xml"]
    assert (source.interval, source.max_age) == (5400.0, 7 * 86400.0)
    assert (source.selector, source.exclude) == ("article", [".related", "div#ads"])
    assert source.ignore == [r"^Updated \d+ minutes ago$"]
    assert source.allow_private is True
    assert source.domains == ["bbc.co.uk"]


@pytest.mark.parametrize(("text", "expected"), [
    ("timeout: 30\n", Timeouts(total=30)),
    ("timeout: 2m\n", Timeouts(total=120)),
    ("timeout:\n  connect: 3\n", Timeouts(connect=3)),
    ("timeout:\n", Timeouts()),
])
def test_timeout_plain_number_sets_total(text: str, expected: Timeouts) -> None:
    assert parse(text).timeout == expected


# --- durations and sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (2.5, 2.5), (0, 0.0), ("90", 90.0), ("30s", 30.0), ("15m", 900.0), ("1h", 3600.0),
    ("1d", 86400.0), ("1h30m", 5400.0), ("1h 30m", 5400.0), ("1.5h", 5400.0), ("2d12h", 216000.0),
    (" 45s ", 45.0),
])
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["abc", "", "h", "1x", "1 hour", "1H", "30s30", "-5", -1, "nan", "inf",
                                   True, None, [1]])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"expected a duration such as 90 \(seconds\), '30s'.*got"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "size"), [
    (1000, 1000), (0, 0), (2048.0, 2048), ("123", 123), ("500kB", 500_000), ("500KB", 500_000),
    ("2MB", 2_000_000), ("1GB", 10**9), ("10MiB", 10 * 1024**2), ("1.5KiB", 1536), ("64 kib", 65536),
    ("1GiB", 1024**3), ("7B", 7),
])
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["ten", "", "10 MiBs", "MiB", "-1", -1, 1.5, "10TB", True, None, [1]])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"expected a size such as 10485760, '500kB'.*got"):
        parse_size(value)


# --- bad configurations: each error names its line, its field path and what was expected --------------

SOURCE = "sources:\n  - name: bbc\n"  # lines 1-2; a case's own lines start at 3
BAD = [
    # (id, text, line, field path or None, fragments of the message)
    ("unknown source key", SOURCE + "    urlz: []\n", 3, "sources.0.urlz",
     ["unknown key 'urlz'", "did you mean 'urls'?", "valid keys: name, urls, feeds, sitemaps"]),
    ("unknown top key", "concurency: 4\n", 1, "concurency",
     ["unknown key 'concurency'", "did you mean 'concurrency'?", "valid keys: storage, reports"]),
    ("unknown key, nothing close", "colour: blue\n", 1, "colour", ["unknown key 'colour'; valid keys:"]),
    ("unknown timeout key", "timeout:\n  connect: 1\n  idel: 2\n", 3, "timeout.idel",
     ["did you mean 'idle'?", "valid keys: connect, idle, total"]),
    ("base_dir is not a key", "base_dir: /tmp\n", 1, "base_dir", ["unknown key 'base_dir'"]),
    ("warnings is not a key", "warnings: []\n", 1, "warnings", ["unknown key 'warnings'"]),
    ("key that is not text", "1: 2\n", 1, "1", ["unknown key 1"]),
    # notify: targets (SOURCE's lines 1-2, then "notify:" on line 3, the first entry on line 4)
    ("unknown notify key", SOURCE + "notify:\n  - url: ntfy://ntfy.sh/news\n    min_sig: high\n", 5,
     "notify.0.min_sig", ["unknown key 'min_sig'", "did you mean 'min_significance'?",
                          "valid keys: url, min_significance, sources"]),
    ("notify without url", SOURCE + "notify:\n  - min_significance: high\n", 4, "notify.0.url",
     ["this key is required"]),
    ("notify url without scheme", SOURCE + "notify:\n  - url: hooks.example.com/x\n", 4, "notify.0.url",
     ["expected an apprise URL", "'hooks.example.com/x'"]),
    ("notify url with a space", SOURCE + "notify:\n  - url: 'ntfy://ntfy.sh/a b'\n", 4, "notify.0.url",
     ["without spaces"]),
    ("notify webhook without host", SOURCE + "notify:\n  - url: 'https:///hook'\n", 4, "notify.0.url",
     ["no host name"]),
    ("bad significance", SOURCE + "notify:\n  - url: ntfy://x/y\n    min_significance: hgih\n", 5,
     "notify.0.min_significance", ["expected one of none, low, medium, high, got 'hgih'",
                                   "did you mean 'high'?"]),
    ("significance a number", SOURCE + "notify:\n  - url: ntfy://x/y\n    min_significance: 3\n", 5,
     "notify.0.min_significance", ["expected text, got 3"]),
    ("notify unknown source", SOURCE + "notify:\n  - url: ntfy://x/y\n    sources:\n      - bbc\n      - bcc\n",
     7, "notify.0.sources.1", ["unknown source 'bcc' (did you mean 'bbc'?); configured sources: bbc"]),
    ("notify source, none configured", "notify:\n  - url: ntfy://x/y\n    sources: [bbc]\n", 3,
     "notify.0.sources.0", ["unknown source 'bbc'; no sources are configured"]),
    ("notify not a list", SOURCE + "notify: ntfy://x/y\n", 3, "notify", ["expected a list"]),
    ("file URL", SOURCE + "    urls:\n      - https://www.bbc.com/news/a\n      - file:///etc/passwd\n", 5,
     "sources.0.urls.1", ["only http and https URLs are supported", "'file:///etc/passwd'"]),
    ("ftp feed", SOURCE + "    feeds: [ftp://example.com/rss]\n", 3, "sources.0.feeds.0",
     ["only http and https URLs are supported"]),
    ("javascript sitemap", SOURCE + "    sitemaps: ['javascript:alert(1)']\n", 3, "sources.0.sitemaps.0",
     ["expected an absolute URL starting with https://"]),
    ("URL without scheme", SOURCE + "    urls: [www.bbc.com/news/a]\n", 3, "sources.0.urls.0",
     ["expected an absolute URL starting with https://", "'www.bbc.com/news/a'"]),
    ("host and port only", SOURCE + "    urls: ['localhost:8080/a']\n", 3, "sources.0.urls.0",
     ["expected an absolute URL"]),
    ("URL without host", SOURCE + "    urls: ['https:///path']\n", 3, "sources.0.urls.0", ["no host name"]),
    ("URL with a bad port", SOURCE + "    urls: ['https://bbc.com:http/x']\n", 3, "sources.0.urls.0",
     ["invalid URL"]),
    ("URL with a space", SOURCE + "    urls: ['https://bbc.com/a b']\n", 3, "sources.0.urls.0",
     ["without spaces"]),
    ("URL that is a number", SOURCE + "    urls: [42]\n", 3, "sources.0.urls.0", ["expected text, got 42"]),
    ("urls is one string", SOURCE + "    urls: https://www.bbc.com/news/a\n", 3, "sources.0.urls",
     ["expected a list", "got 'https://www.bbc.com/news/a'"]),
    ("concurrency not a number", "concurrency: abc\n", 1, "concurrency",
     ["expected a whole number, got 'abc'"]),
    ("concurrency a fraction", "concurrency: 2.5\n", 1, "concurrency", ["expected a whole number, got 2.5"]),
    ("concurrency a boolean", "concurrency: yes\n", 1, "concurrency", ["expected a whole number, got true"]),
    ("concurrency zero", "concurrency: 0\n", 1, "concurrency", ["expected a number >= 1, got 0"]),
    ("concurrency too high", "concurrency: 5000\n", 1, "concurrency",
     ["expected a number <= 1000, got 5000"]),
    ("per_host_delay not a duration", "per_host_delay: abc\n", 1, "per_host_delay",
     ["expected a duration such as 90 (seconds)", "got 'abc'"]),
    ("per_host_delay negative", "per_host_delay: -1\n", 1, "per_host_delay", ["got -1"]),
    ("max_bytes not a size", "max_bytes: lots\n", 1, "max_bytes", ["expected a size", "got 'lots'"]),
    ("max_bytes zero", "max_bytes: 0\n", 1, "max_bytes", ["expected a number > 0, got 0"]),
    ("timeout zero", "timeout: 0\n", 1, "timeout", ["greater than zero, got 0"]),
    ("timeout a list", "timeout: [1, 2]\n", 1, "timeout", ["expected a duration", "got a list"]),
    ("timeout part not a duration", "timeout:\n  total: soon\n", 2, "timeout.total", ["got 'soon'"]),
    ("interval not a duration", SOURCE + "    interval: hourly\n", 3, "sources.0.interval",
     ["expected a duration", "'1h30m'", "got 'hourly'"]),
    ("interval zero", SOURCE + "    interval: 0s\n", 3, "sources.0.interval", ["greater than zero"]),
    ("max_age not a duration", SOURCE + "    max_age: forever\n", 3, "sources.0.max_age", ["got 'forever'"]),
    ("bad regular expression", SOURCE + "    ignore:\n      - '^ok$'\n      - '(unclosed'\n", 5,
     "sources.0.ignore.1", ["invalid regular expression '(unclosed'", "missing )"]),
    ("bad selector", SOURCE + "    selector: 'div[['\n", 3, "sources.0.selector",
     ["invalid CSS selector 'div[['"]),
    ("bad exclude", SOURCE + "    exclude: [.ok, '']\n", 3, "sources.0.exclude.1",
     ["invalid CSS selector ''"]),
    ("selector a number", SOURCE + "    selector: 5\n", 3, "sources.0.selector", ["expected text, got 5"]),
    ("bad domain", SOURCE + "    domains: ['https://bbc.co.uk/']\n", 3, "sources.0.domains.0",
     ["expected a host name"]),
    ("allow_private not a boolean", SOURCE + "    allow_private: maybe\n", 3, "sources.0.allow_private",
     ["expected true or false, got 'maybe'"]),
    ("name missing", SOURCE + "  - urls: []\n", 3, "sources.1.name", ["this key is required"]),
    ("name empty", "sources:\n  - name: ''\n", 2, "sources.0.name", ["must not be empty"]),
    ("name a number", "sources:\n  - name: 2024\n", 2, "sources.0.name", ["expected text, got 2024"]),
    ("duplicate source name", SOURCE + "  - name: ap\n  - name: bbc\n", 4, "sources.2.name",
     ["source name 'bbc' is already used by sources.0"]),
    ("sources a mapping", "sources:\n  name: bbc\n", 1, "sources", ["expected a list", "got a mapping"]),
    ("source a string", "sources:\n  - bbc\n", 2, "sources.0", ["expected a mapping", "got 'bbc'"]),
    ("user_agent two lines", 'user_agent: "a\\nb"\n', 1, "user_agent", ["expected one line of text"]),
    ("storage http URL", "storage: https://example.com/db\n", 1, "storage",
     ["expected a folder, a sqlite:/// URL or a postgresql+psycopg:// URL"]),
    ("first error in file order", "sources:\n  - name: bbc\n    urls: [nope]\nconcurrency: abc\n", 3,
     "sources.0.urls.0", ["expected an absolute URL"]),
    # YAML-level problems: a line, no field path
    ("top level a list", "- bbc\n", 1, None,
     ["expected settings (key: value lines) at the top level, got a list"]),
    ("top level a string", "just text\n", 1, None, ["at the top level, got 'just text'"]),
    ("bad indentation", "sources:\n  - name: bbc\n   urls: []\n", 3, None, ["invalid YAML", "indentation"]),
    ("tab", "sources:\n\t- name: bbc\n", 2, None, ["invalid YAML", "'\\t'"]),
    ("unclosed quote", 'storage: "snapshots/\n', 2, None, ["invalid YAML"]),
    ("duplicate key", "concurrency: 1\nstorage: x\nconcurrency: 2\n", 3, None,
     ["duplicate key 'concurrency' (first on line 1)"]),
    ("duplicate key in a source", SOURCE + "    urls: []\n    urls: []\n", 4, None, ["duplicate key 'urls'"]),
    ("anchor", "storage: &s snapshots/\nreports: reports/\n", 1, None,
     ["anchors and aliases", "not allowed"]),
    ("alias", "sources:\n  - name: a\n    urls: [https://a.com/x]\n  - name: b\n    urls: *u\n", 5, None,
     ["anchors and aliases"]),
    ("merge key", "base: &b {interval: 1h}\nsources:\n  - <<: *b\n    name: x\n", 1, None,
     ["anchors and aliases"]),
    ("python tag", "storage: !!python/object/apply:os.system ['true']\n", 1, None,
     ["could not determine a constructor"]),
    ("two documents", "storage: a\n---\nstorage: b\n", 2, None, ["expected a single document"]),
    ("NUL character", "storage: snapshots/\nreports: rep\x00orts/\n", 2, None,
     ["control character U+0000 is not allowed"]),
    ("escape character", SOURCE + "    urls: [https://bbc.com/\x1b[2J]\n", 3, None, ["U+001B"]),
    # other schemes and sizes (part 3 of issue #6)
    ("notify file URL", SOURCE + "notify:\n  - url: file:///etc/passwd\n", 4, "notify.0.url",
     ["file:// is not a notification service", "'file:///etc/passwd'"]),
    ("notify javascript URL", SOURCE + "notify:\n  - url: 'javascript://alert(1)'\n", 4, "notify.0.url",
     ["javascript:// is not a notification service"]),
    ("data URL", SOURCE + "    urls: ['data:text/html,<script>alert(1)</script>']\n", 3, "sources.0.urls.0",
     ["expected an absolute URL starting with https://"]),
    ("scheme-relative URL", SOURCE + "    urls: ['//bbc.com/a']\n", 3, "sources.0.urls.0",
     ["expected an absolute URL starting with https://"]),
    ("URL with a NUL escape", SOURCE + "    urls: [\"https://bbc.com/a\\0b\"]\n", 3, "sources.0.urls.0",
     ["without spaces"]),
    ("interval past datetime's range", SOURCE + "    interval: 99999999999d\n", 3, "sources.0.interval",
     ["at most 100 years"]),
    ("max_age past datetime's range", SOURCE + "    max_age: 1e300\n", 3, "sources.0.max_age",
     ["at most 100 years"]),
    ("per_host_delay absurd", "per_host_delay: 1e308\n", 1, "per_host_delay", ["at most 100 years"]),
    ("per_host_delay an integer beyond any float", "per_host_delay: 1" + "0" * 400 + "\n", 1, "per_host_delay",
     ["at most 100 years"]),
    ("a number longer than Python reads", SOURCE + "    interval: 1" + "0" * 5000 + "\n", 3, None,
     ["a number of more than 4300 digits"]),
    ("a date that does not exist", SOURCE + "    interval: 2024-13-45\n", 3, None,
     ["invalid value: month must be in 1..12"]),
    ("name null", "sources:\n  - name: ~\n", 2, "sources.0.name", ["this key is required"]),
]


@pytest.mark.parametrize(("text", "line", "field", "fragments"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_configuration(text: str, line: int, field: str | None, fragments: list[str]) -> None:
    error = error_of(text)
    assert (error.file, error.line, error.field) == ("c.yaml", line, field)
    prefix = f"c.yaml:{line}: " + (f"{field}: " if field else "")
    assert str(error).startswith(prefix), str(error)
    for fragment in fragments:
        assert fragment in error.message, (fragment, str(error))


def test_error_text_is_file_line_field_message() -> None:
    error = error_of(SOURCE + "    urls:\n      - https://www.bbc.com/news/a\n      - file:///etc/passwd\n")
    assert str(error) == ("c.yaml:5: sources.0.urls.1: only http and https URLs are supported, "
                          "got 'file:///etc/passwd'")


def test_alias_bomb_is_refused_quickly() -> None:
    # "Billion laughs": nine levels of nine aliases each would expand to 9**9 strings.
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.perf_counter()
    error = error_of("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 0.5
    assert error.line == 1
    assert "anchors and aliases" in str(error)


_YAMLISH = st.lists(st.sampled_from(["sources:", "\n", "  - ", "name: ", "urls: ", "[", "]", "{", "}", ",", ":",
                                     "&a ", "*a", "!!python/name:os.system", "'", '"', "\t", "\x00", "\x1b",
                                     "https://bbc.com/a", "file:///etc/passwd", "interval: ", "1e308", "-", "#",
                                     "notify:", "url: ", "---", "? ", "<<: ", "\ufeff", "%YAML 1.1"]),
                    max_size=40).map("".join)


@given(st.one_of(st.text(max_size=200), _YAMLISH))
def test_any_text_is_a_configuration_or_a_config_error_naming_the_file(text: str) -> None:
    try:
        parse_config(text, filename="c.yaml")
    except ConfigError as error:
        assert error.file == "c.yaml" and str(error).startswith("c.yaml:")


def test_deeply_nested_yaml_is_an_error_not_a_crash() -> None:
    error = error_of("storage: " + "[" * 5000 + "]" * 5000 + "\n")
    assert error.line == 1 and error.file == "c.yaml"


def test_parse_config_default_filename() -> None:
    with pytest.raises(ConfigError, match=r"^<config>:1: concurrency: expected a whole number"):
        parse_config("concurrency: many\n")


# --- files ---------------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f"{path}: configuration file not found"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("user_agent: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text"):
        load_config(path)


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  - name: bbc\n    urlz: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:3: sources.0.urlz: unknown key 'urlz'")


def test_relative_folders_resolve_against_the_config_file_not_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.yaml").write_text("storage: data\nreports: ../out\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("conf/config.yaml")
    assert config.base_dir == folder
    assert config.storage_url() == f"sqlite:///{folder.as_posix()}/data/newsmon.db"
    assert config.reports_dir() == tmp_path / "out"


# --- storage and reports -------------------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "expected"), [
    ("snapshots/", "sqlite:///{base}/snapshots/newsmon.db"),
    ("./a/../b", "sqlite:///{base}/b/newsmon.db"),
    ("/srv/newsmon", "sqlite:////srv/newsmon/newsmon.db"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("sqlite:////var/lib/newsmon.db", "sqlite:////var/lib/newsmon.db"),
    ("postgresql+psycopg://newsmon:secret@db.example/newsmon", "postgresql+psycopg://newsmon:secret@db.example/newsmon"),
    ("postgresql://localhost/newsmon", "postgresql://localhost/newsmon"),
])
def test_storage_url(storage: str, expected: str, tmp_path: Path) -> None:
    config = parse(f"storage: '{storage}'\n", base_dir=tmp_path)
    assert config.storage_url() == expected.format(base=tmp_path.as_posix())


def test_storage_url_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse("storage: ~/newsmon\n").storage_url() == f"sqlite:///{tmp_path.as_posix()}/newsmon/newsmon.db"


def test_reports_dir(tmp_path: Path) -> None:
    assert parse("reports: site/reports\n", base_dir=tmp_path).reports_dir() == tmp_path / "site" / "reports"
    assert parse("reports: /srv/www\n", base_dir=tmp_path).reports_dir() == Path("/srv/www")


# --- duplicates, articles, sources ---------------------------------------------------------------------

DUPLICATES = """\
sources:
  - name: bbc
    urls:
      - https://www.bbc.com/news/articles/a
      - https://www.bbc.com/news/articles/b
      - https://www.bbc.com/news/articles/a
  - name: mirror
    urls:
      - https://WWW.BBC.COM/news/articles/b#comments
      - https://example.com/only-here
    feeds: [https://example.com/rss]
  - name: other
    feeds: [https://example.com/rss]
"""


def test_duplicate_urls_are_merged_with_a_warning_naming_both_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.config"):
        config = parse(DUPLICATES)
    assert config.sources[0].urls == ["https://www.bbc.com/news/articles/a", "https://www.bbc.com/news/articles/b"]
    assert config.sources[1].urls == ["https://example.com/only-here"]
    assert config.sources[1].feeds == ["https://example.com/rss"] and config.sources[2].feeds == []
    assert config.warnings == [
        "c.yaml:6: sources.0.urls.2: https://www.bbc.com/news/articles/a is already listed on line 4 "
        "(source 'bbc'); checking it once, under 'bbc'",
        "c.yaml:9: sources.1.urls.0: https://WWW.BBC.COM/news/articles/b#comments is already listed on "
        "line 5 (source 'bbc'); checking it once, under 'bbc'",
        "c.yaml:13: sources.2.feeds.0: https://example.com/rss is already listed on line 11 "
        "(source 'mirror'); checking it once, under 'mirror'",
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "monitor.config"] == config.warnings


def test_articles_lists_every_url_once_under_its_first_source() -> None:
    config = parse(DUPLICATES)
    assert config.articles() == [
        ArticleTarget("https://www.bbc.com/news/articles/a", "bbc"),
        ArticleTarget("https://www.bbc.com/news/articles/b", "bbc"),
        ArticleTarget("https://example.com/only-here", "mirror"),
    ]
    assert config.articles("mirror") == [ArticleTarget("https://example.com/only-here", "mirror")]
    assert config.articles("other") == []


def test_articles_deduplicates_a_config_built_in_code() -> None:
    config = Config(sources=[SourceConfig(name="a", urls=["https://x.com/1", "https://x.com/1"]),
                             SourceConfig(name="b", urls=["https://x.com/1", "https://x.com/2"])])
    assert config.articles() == [ArticleTarget("https://x.com/1", "a"), ArticleTarget("https://x.com/2", "b")]
    assert config.articles("b") == [ArticleTarget("https://x.com/2", "b")]


def test_unknown_source_lists_the_valid_names() -> None:
    config = parse(DUPLICATES)
    assert config.source("mirror").name == "mirror"
    with pytest.raises(ConfigError) as info:
        config.articles("bcc")
    assert str(info.value) == ("source: unknown source 'bcc' (did you mean 'bbc'?); "
                               "configured sources: bbc, mirror, other")
    with pytest.raises(ConfigError, match="no sources are configured"):
        parse("").source("bbc")


def test_notify_targets() -> None:
    config = parse(SOURCE + """\
  - name: reuters
notify:
  - url: "slack://TokenA/TokenB/TokenC/#newsroom"
    min_significance: high
    sources: [bbc]
  - url: https://hooks.example.com/newsmon
  - url: json://localhost:8000/hook
    min_significance: none
    sources:
""")
    assert [(t.url, t.min_significance, t.sources) for t in config.notify] == [
        ("slack://TokenA/TokenB/TokenC/#newsroom", "high", ["bbc"]),
        ("https://hooks.example.com/newsmon", "medium", []),
        ("json://localhost:8000/hook", "none", []),
    ]
    assert parse("").notify == []
    assert NotifyTarget(url="ntfy://ntfy.sh/x") == NotifyTarget(url="ntfy://ntfy.sh/x", min_significance="medium")


def test_notify_sources_are_checked_in_code_too() -> None:
    with pytest.raises(ConfigError, match="unknown source 'b'") as info:
        Config(sources=[SourceConfig(name="a")], notify=[NotifyTarget(url="ntfy://x/y", sources=["b"])])
    assert info.value.field == "notify.0.sources.0"


def test_duplicate_source_names_are_refused_in_code_too() -> None:
    with pytest.raises(ConfigError, match="already used by sources.0") as info:
        Config(sources=[SourceConfig(name="a"), SourceConfig(name="a")])
    assert info.value.field == "sources.1.name"


def test_stories_threshold_defaults_to_the_measured_value_and_is_checked() -> None:
    from monitor.stories import DEFAULT_THRESHOLD

    assert parse_config("").stories.threshold == DEFAULT_THRESHOLD
    assert parse_config("stories:\n  threshold: 0.45\n").stories.threshold == 0.45
    with pytest.raises(ConfigError) as info:
        parse_config("sources: []\nstories:\n  threshold: 1.5\n")
    assert info.value.line == 3 and info.value.field == "stories.threshold"


@pytest.mark.parametrize(("text", "section"), [
    ("zz: 1\n", Config),
    (SOURCE + "    zz: 1\n", SourceConfig),
    ("timeout:\n  zz: 1\n", Timeouts),
    ("notify:\n  - url: ntfy://x/y\n    zz: 1\n", NotifyTarget),
    ("stories:\n  zz: 1\n", StoriesConfig),
])
def test_every_field_of_a_section_is_one_of_its_valid_keys(text: str, section: type) -> None:
    valid = error_of(text).message.split("valid keys: ")[1].split(", ")
    assert valid == [f.name for f in dataclasses.fields(section) if f.name not in {"base_dir", "warnings"}]


def test_from_dict_reads_a_section_as_the_file_does() -> None:
    assert SourceConfig.from_dict({"name": " bbc ", "max_age": "2d", "feeds": None}) == SourceConfig(
        name="bbc", max_age=172800.0)
    assert Config.from_dict({"timeout": 30}).timeout == Timeouts(total=30.0)
    with pytest.raises(ConfigError) as info:
        SourceConfig.from_dict({"name": "bbc", "urls": ["https://bbc.com/a", "nope"]})
    assert (info.value.field, info.value.file) == ("urls.1", None)
    assert "expected an absolute URL" in info.value.message


def test_values_keep_their_types() -> None:
    config = parse("per_host_delay: 1\ntimeout: {connect: 1, total: 2}\nstories: {threshold: 1}\n"
                   "sources:\n  - name: a\n    interval: 90\n")
    assert [type(v) for v in (config.per_host_delay, config.timeout.connect, config.timeout.total,
                              config.stories.threshold, config.sources[0].interval)] == [float] * 5
    assert type(parse("max_bytes: 10.0\n").max_bytes) is int


def test_a_copy_with_changes_keeps_the_rest(tmp_path: Path) -> None:
    config = parse(DUPLICATES, base_dir=tmp_path)
    copy = dataclasses.replace(config, concurrency=3)
    assert (copy.concurrency, copy.base_dir, copy.sources, copy.warnings) == (
        3, tmp_path, config.sources, config.warnings)


# --- libyaml and the pure-Python parser agree --------------------------------------------------------

_AGREEMENT_CASES = [
    "sources:\n  - name: a\n    urls: [https://a.example/1, 'https://a.example/2']\n",
    "per_host_delay: 2s\nconcurrency: 4\nsources:\n  - name: a\n    urls:\n      - https://a.example/x # note\n",
    "sources:\n  - name: a\n    urls: &u [https://a.example/1]\n  - name: b\n    urls: *u\n",
    "sources:\n  - name: a\n    name: b\n",
    "sources:\n\t- name: a\n",
    "sources:\n  - name: a\n   urls: []\n",
    "concurrency: 4\x1b\n",
    "concurrency: 4\x85\n",
    "\ufeffconcurrency: 4\n",
    "concurrency: 4\n---\nconcurrency: 5\n",
    "---\n", "null\n", "", "- a\n- b\n", "concurrency: [1, 2\n", "concurrency: '4\n",
    "sources:\n  - name: \"caf\\u00e9\"\n    urls: [https://a.example/\u00e9t\u00e9]\n",
    "concurrency: !!python/object:os.system ls\n",
    "concurrency: 0x10\nper_host_delay: .inf\n",
]


def _outcome(text: str) -> str:
    try:
        values = dataclasses.asdict(parse_config(text, base_dir=Path("/base")))
        del values["warnings"]  # messages about the file, not its settings
        return repr(values)
    except ConfigError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("text", _AGREEMENT_CASES)
def test_libyaml_reads_a_configuration_as_the_python_parser_does(text: str, monkeypatch) -> None:
    """The fast path (libyaml) must never change what a file means or what an error says."""
    fast = _outcome(text)
    monkeypatch.setattr(config_module, "_fast_read", lambda _text: None)
    assert fast == _outcome(text)


@settings(max_examples=int(os.environ.get("NEWSMON_YAML_EXAMPLES", "1000")))
@given(st.text(alphabet=st.sampled_from(list("sources:-name urlhtps/.\n\r\t &*'\"[]{}!#?|>%@`,~=\\"
                                              "\x00\x1b\x85\ufeffé1")), max_size=80))
def test_libyaml_and_the_python_parser_agree_on_any_text(text: str) -> None:
    _assert_parsers_agree(text)


def test_a_long_configuration_is_read_by_libyaml() -> None:
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML was built without libyaml")
    text = "sources:\n  - name: a\n    urls:\n" + "".join(f"      - https://a.example/{i}\n" for i in range(50))
    assert config_module._fast_read(text) is not None


_SCALAR = st.text(alphabet=st.sampled_from(list("abc:/.?&=#%!'\" -_~[]{},|>@*\\é\u00a0\u2028")), min_size=1,
                  max_size=30)


@settings(max_examples=int(os.environ.get("NEWSMON_YAML_EXAMPLES", "1000")))
@given(st.lists(st.tuples(_SCALAR, st.lists(_SCALAR, max_size=4)), max_size=4), st.sampled_from(["", "'", '"']))
def test_libyaml_and_the_python_parser_agree_on_block_configurations(sources, quote) -> None:
    """Block-style files as people write them, with any characters in the values."""
    lines = ["sources:"]
    for name, urls in sources:
        lines += [f"  - name: {quote}{name}{quote}", "    urls:"] + [f"      - {quote}{u}{quote}" for u in urls]
    _assert_parsers_agree("\n".join(lines) + "\n")


def _assert_parsers_agree(text: str) -> None:
    # Hypothesis runs many examples in one test, so the parser is swapped here rather than by monkeypatch.
    fast = _outcome(text)
    original = config_module._fast_read
    config_module._fast_read = lambda _text: None
    try:
        assert fast == _outcome(text)
    finally:
        config_module._fast_read = original
