"""`newsmon demo` must work offline from any folder and show the figure change."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from monitor.demo.run import run_demo

FIXTURES = Path(__file__).parent / "fixtures"


def test_demo_runs_offline_and_shows_the_figure_change(tmp_path: Path) -> None:
    buffer = io.StringIO()
    status = run_demo(Console(file=buffer, width=200), workdir=tmp_path)
    output = buffer.getvalue()
    assert status == 0, output
    assert "1,000" in output and "1,500" in output
    for event in ("new", "unchanged", "modified"):
        assert event in output
    report = json.loads((tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"))
    modified = [c for c in report["changes"] if c["event"] == "modified"]
    assert modified and modified[0]["diff"]["figures"][0]["new_value"] == 1500
    assert str(tmp_path / "reports") in output


def test_demo_article_is_the_seed_fixture() -> None:
    packaged = Path(__file__).parent.parent / "monitor" / "demo" / "article.txt"
    assert packaged.read_bytes() == (FIXTURES / "article.txt").read_bytes()
