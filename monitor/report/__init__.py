"""Reports of a check run: Markdown for people, JSON for programs.

``write_run_reports`` writes both under the reports folder, named by the run's time, and refreshes
``latest.md`` / ``latest.json`` so there is always one stable place to look. The static site of every
change in the store (``newsmon report``) is ``monitor.report.site``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..models import CheckEvent
from .changes import changes_of
from .files import write_atomically
from .json_report import render_json
from .markdown import render_markdown

__all__ = ["RunReport", "render_json", "render_markdown", "write_run_reports", "changes_of"]

@dataclass(frozen=True)
class RunReport:
    """Paths of the reports written for one run."""

    markdown: Path
    json: Path


def write_run_reports(events: Sequence[CheckEvent], reports_dir: Path, started_at: datetime) -> RunReport:
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%S%fZ")
    markdown = render_markdown(events, started_at)
    json_text = render_json(events, started_at)
    md_path = reports_dir / f"check-{stamp}.md"
    json_path = reports_dir / f"check-{stamp}.json"
    for path, text in ((md_path, markdown), (json_path, json_text),
                       (reports_dir / "latest.md", markdown), (reports_dir / "latest.json", json_text)):
        write_atomically(path, text)
    return RunReport(md_path, json_path)
