"""Reports of a check run: Markdown for people, JSON for programs.

``write_run_reports`` writes both under the reports folder, named by the run's time, and refreshes
``latest.md`` / ``latest.json`` so there is always one stable place to look.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..models import CheckEvent
from .changes import changes_of
from .json_report import render_json
from .markdown import render_markdown

__all__ = ["RunReport", "render_json", "render_markdown", "write_run_reports", "changes_of"]



@dataclass(frozen=True)
class RunReport:
    """Paths of the reports written for one run."""

    markdown: Path
    json: Path


def _write_atomically(path: Path, text: str) -> None:
    # A reader (or a crash) never sees half a report: write a temporary file, then rename it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run_reports(events: Sequence[CheckEvent], reports_dir: Path, started_at: datetime) -> RunReport:
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%S%fZ")
    markdown = render_markdown(events, started_at)
    json_text = render_json(events, started_at)
    md_path = reports_dir / f"check-{stamp}.md"
    json_path = reports_dir / f"check-{stamp}.json"
    for path, text in ((md_path, markdown), (json_path, json_text),
                       (reports_dir / "latest.md", markdown), (reports_dir / "latest.json", json_text)):
        _write_atomically(path, text)
    return RunReport(md_path, json_path)
