"""A local news site for end-to-end tests: pages that tests change between checks, with ETags."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.demo.site import ArticleText, parse_article_text

FIXTURES = Path(__file__).parent / "fixtures"


def cli(*args: str, code: int = 0) -> str:
    """Run ``newsmon ARGS`` in-process; its stdout, once the exit code is ``code``."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def revision(name: str) -> ArticleText:
    return parse_article_text((FIXTURES / "revisions" / f"{name}.txt").read_text(encoding="utf-8"))


@dataclass
class Site:
    """What the local server answers for each path; tests change it between checks."""

    pages: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # path -> (status, type, body)
    requests: list[Request] = field(default_factory=list)

    def publish(self, path: str, html: str) -> None:
        self.pages[path] = (200, "text/html; charset=utf-8", html)

    def answer(self, request: Request) -> Response:
        self.requests.append(request)
        status, content_type, body = self.pages.get(request.path, (404, "text/html", "<h1>Not found</h1>"))
        if status != 200:
            return Response(body, status=status, content_type=content_type)
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:12] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, status=200, content_type=content_type, headers={"ETag": etag})


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    site = Site()
    httpserver.expect_request(re.compile(r"^/.*$")).respond_with_handler(site.answer)
    return site
