"""The command line: contracts of every command's output, exit codes, and the README documenting them."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sites import FIXTURES, Site, revision
from typer.testing import CliRunner
from werkzeug import Response

from monitor import check_processes
from monitor.cli import app
from monitor.demo.site import load_seed, render_article_page

ROOT = Path(__file__).parent.parent
EVENT_KEYS = {"url", "source", "event", "version", "previous_version", "diff", "error"}
DIFF_KEYS = {"kind", "significance", "title", "figures", "added", "removed", "changed", "moved"}

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_config(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "config.yaml"
    url_list = "".join(f"\n      - {u}" for u in urls)
    path.write_text(f"storage: snapshots/\nreports: reports/\nper_host_delay: 0\n"
                    f"sources:\n  - name: wire\n    urls:{url_list}\n", encoding="utf-8")
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_check_json_lines_follow_the_contract(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/story")
    config = write_config(tmp_path, url)
    site.publish("/story", render_article_page(load_seed()))

    code, stdout, _ = run("check", "-c", str(config), "--format", "json")
    assert code == 0
    [first] = json_lines(stdout)
    assert first.keys() >= EVENT_KEYS
    assert (first["url"], first["source"], first["event"], first["version"]) == (url, "wire", "new", 1)

    site.publish("/story", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=2))
    code, stdout, _ = run("check", "-c", str(config), "--format", "json")
    [second] = json_lines(stdout)
    assert (second["event"], second["version"], second["previous_version"]) == ("modified", 2, 1)
    assert second["diff"].keys() >= DIFF_KEYS
    figure = next(f for f in second["diff"]["figures"] if f["old_value"] == 1000)
    assert (figure["old"], figure["new"], figure["new_value"]) == ("1,000", "1,500", 1500)

    # Every run leaves a Markdown and a JSON report.
    latest = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert latest["counts"]["modified"] == 1
    assert "1,500" in (tmp_path / "reports" / "latest.md").read_text()

    # history and show read the same store.
    code, stdout, _ = run("history", url, "-c", str(config), "--format", "json")
    versions = json.loads(stdout)
    assert [v["number"] for v in versions] == [1, 2]
    assert {"number", "time", "title", "size"} <= versions[0].keys()
    code, stdout, _ = run("show", url, "-c", str(config), "--version", "1")
    assert "at least 1,000 of the 11,000" in stdout and "captured or wounded" not in stdout
    code, stdout, _ = run("diff", url, "--from", "1", "--to", "2", "-c", str(config), "--format", "json")
    assert code == 0 and json.loads(stdout)["kind"] == "modified"


def test_check_exit_code_is_1_when_an_article_fails(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    site.publish("/ok", render_article_page(load_seed()))
    config = write_config(tmp_path, httpserver.url_for("/ok"), httpserver.url_for("/gone"))
    code, stdout, _ = run("check", "-c", str(config), "--format", "json")
    assert code == 1
    assert sorted(e["event"] for e in json_lines(stdout)) == ["error", "new"]


def test_text_output_names_the_change(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, httpserver.url_for("/s"))
    site.publish("/s", render_article_page(load_seed()))
    run("check", "-c", str(config))
    site.publish("/s", render_article_page(revision("01_killed_figure_and_new_paragraph")))
    code, stdout, _ = run("check", "-c", str(config))
    assert code == 0
    assert "modified" in stdout and "1,000" in stdout and "1,500" in stdout


def test_check_shows_its_progress_on_a_terminal(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """20 articles or more, text output and a terminal: a progress bar, drawn through the real console."""
    import io

    from monitor import cli
    from monitor.console import lazy_console

    for n in range(20):
        site.publish(f"/p{n}", render_article_page(load_seed()))
    config = write_config(tmp_path, *(httpserver.url_for(f"/p{n}") for n in range(20)))
    terminal = io.StringIO()
    monkeypatch.setattr(cli, "err", lazy_console(file=terminal, force_terminal=True, width=80))
    # The bar starts no thread: one running when the run decides how many processes to use keeps it in one.
    threads_at_start: list[list[str]] = []
    deciding = check_processes.process_count
    monkeypatch.setattr(check_processes, "process_count", lambda targets, concurrency: (
        threads_at_start.append([type(t).__name__ for t in threading.enumerate()]),
        deciding(targets, concurrency))[1])
    code, stdout, _ = run("check", "-c", str(config))
    assert code == 0, stdout
    assert stdout.count("new ") == 20
    assert "20 checked: 20 new" in terminal.getvalue()
    assert len(threads_at_start) == 1 and "_RefreshThread" not in threads_at_start[0]


def test_invalid_config_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: x\n    urlz: [http://example.com/]\n", encoding="utf-8")
    code, _, stderr = run("check", "-c", str(bad))
    assert code == 2
    assert f"{bad}:3" in stderr and "urlz" in stderr


def test_diff_of_two_files_as_json() -> None:
    code, stdout, _ = run("diff", str(FIXTURES / "article.txt"),
                          str(FIXTURES / "revisions" / "06_several_figures.txt"), "--format", "json")
    assert code == 0
    result = json.loads(stdout)
    assert result["kind"] == "modified" and result["significance"] == "high"
    assert {(f["old_value"], f["new_value"]) for f in result["figures"]} >= {(1000, 3000), (11000, 12000)}


def test_diff_of_typography_is_cosmetic_and_lists_nothing() -> None:
    code, stdout, _ = run("diff", str(FIXTURES / "article.txt"),
                          str(FIXTURES / "revisions" / "02_typography_only.txt"), "--format", "json")
    result = json.loads(stdout)
    assert result["kind"] == "cosmetic"
    assert result["figures"] == result["added"] == result["removed"] == result["changed"] == []


@pytest.mark.parametrize("fmt", ["markdown", "html", "text"])
def test_diff_formats_show_the_figure(fmt: str) -> None:
    code, stdout, _ = run("diff", str(FIXTURES / "article.txt"),
                          str(FIXTURES / "revisions" / "01_killed_figure_and_new_paragraph.txt"), "--format", fmt)
    assert code == 0
    assert "1,000" in stdout and "1,500" in stdout
    if fmt == "html":
        assert "<ins>" in stdout and stdout.lstrip().lower().startswith("<!doctype html>")


def test_diff_html_escapes_article_text(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("Officials said 10 people were hurt.", encoding="utf-8")
    new.write_text("Officials said 12 people were hurt. <script>alert(1)</script>", encoding="utf-8")
    _, stdout, _ = run("diff", str(old), str(new), "--format", "html")
    assert "<script>alert" not in stdout and "&lt;script&gt;" in stdout


def test_diff_of_a_missing_file_names_it(tmp_path: Path) -> None:
    code, _, stderr = run("diff", str(tmp_path / "nope.html"), str(FIXTURES / "article.txt"))
    assert code == 3 and "nope.html" in stderr


def test_extract_json_contract(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(render_article_page(load_seed()), encoding="utf-8")
    code, stdout, _ = run("extract", str(page), "--format", "json")
    assert code == 0
    data = json.loads(stdout)
    assert {"title", "text", "byline", "published", "modified", "url"} <= data.keys()
    seed = load_seed()
    assert data["title"] == seed.title
    assert seed.paragraphs[0] in data["text"] and "Leave A Comment" not in data["text"]
    assert seed.title not in data["text"]


def test_extract_from_a_url(site: Site, httpserver: HTTPServer) -> None:
    site.publish("/p", render_article_page(load_seed()))
    code, stdout, _ = run("extract", httpserver.url_for("/p"), "--format", "json")
    assert code == 0 and json.loads(stdout)["title"] == load_seed().title


def test_history_of_an_unknown_url_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://example.com/a")
    code, _, stderr = run("history", "http://example.com/unknown", "-c", str(config))
    assert code == 3 and "http://example.com/unknown" in stderr


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    assert len(commands) >= 6
    for name in commands:
        assert re.search(rf"newsmon {name}\b", readme), f"README has no example of `newsmon {name}`"


def test_check_polite_honours_robots_txt(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    site.publish("/open", render_article_page(load_seed()))
    site.publish("/private/story", render_article_page(revision("04_headline_rewritten")))
    site.pages["/robots.txt"] = (200, "text/plain", "User-agent: *\nDisallow: /private/\n")
    config = write_config(tmp_path, httpserver.url_for("/open"), httpserver.url_for("/private/story"))

    code, stdout, _ = run("check", "-c", str(config), "--format", "json", "--polite")
    events = {e["url"]: e for e in json_lines(stdout)}
    assert events[httpserver.url_for("/open")]["event"] == "new"
    blocked = events[httpserver.url_for("/private/story")]
    assert blocked["event"] == "error" and "robots.txt" in blocked["error"]
    assert code == 1
    assert "/private/story" not in [r.path for r in site.requests]
    assert "/robots.txt" in [r.path for r in site.requests]

    # Without --polite the listed URL is fetched: the user asked for it by name.
    code, stdout, _ = run("check", "-c", str(config), "--format", "json")
    assert {e["event"] for e in json_lines(stdout)} == {"new", "unchanged"}


def test_check_notifies_a_webhook_of_the_figure_change(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    received: list[dict] = []
    # One-shot handlers are matched before the site's catch-all; a second POST would reach the site.
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_handler(
        lambda request: (received.append(json.loads(request.data)), Response("ok"))[1])
    site.publish("/story", render_article_page(load_seed()))
    config = write_config(tmp_path, httpserver.url_for("/story"))
    config.write_text(config.read_text() + f"notify:\n  - url: {httpserver.url_for('/hook')}\n"
                      "    min_significance: high\n", encoding="utf-8")
    run("check", "-c", str(config))
    assert received == []                       # a new article is not a change worth a message
    site.publish("/story", render_article_page(revision("01_killed_figure_and_new_paragraph")))
    code, _, _ = run("check", "-c", str(config))
    assert code == 0 and len(received) == 1
    assert "at least 1,000 -> at least 1,500" in received[0]["body"]
    run("check", "-c", str(config))             # unchanged now: nothing more is sent
    assert len(received) == 1 and [r for r in site.requests if r.method == "POST"] == []
