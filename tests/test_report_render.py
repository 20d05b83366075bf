"""The cache of compiled templates (report/render.py): it saves compiling, and never costs a page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from monitor.report.render import _environment, template_cache_dir


def render_with(templates: Path, cache_dir: Path) -> str:
    """One process's render: a fresh environment over ``templates``, compiled templates in ``cache_dir``."""
    env = _environment(FileSystemLoader(templates), template_cache_dir(cache_dir))
    return env.get_template("page.html.j2").render(name="<b>")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.html.j2").write_text("old {{ name }}\n", encoding="utf-8")
    return folder


def test_compiled_templates_are_reused_by_the_next_process(templates: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert render_with(templates, tmp_path / "cache") == "old &lt;b&gt;\n"
    assert len(list((tmp_path / "cache").iterdir())) == 1

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(Environment, "compile", no_compiling)
    assert render_with(templates, tmp_path / "cache") == "old &lt;b&gt;\n"


def test_a_changed_template_is_never_drawn_from_the_cache(templates: Path, tmp_path: Path) -> None:
    assert render_with(templates, tmp_path / "cache") == "old &lt;b&gt;\n"
    (templates / "page.html.j2").write_text("new <i>{{ name }}</i>\n", encoding="utf-8")   # an upgrade
    assert render_with(templates, tmp_path / "cache") == "new <i>&lt;b&gt;</i>\n"


def test_a_damaged_entry_is_compiled_again(templates: Path, tmp_path: Path) -> None:
    render_with(templates, tmp_path / "cache")
    for entry in (tmp_path / "cache").iterdir():
        entry.write_bytes(entry.read_bytes()[:40])
    assert render_with(templates, tmp_path / "cache") == "old &lt;b&gt;\n"


def test_a_cache_folder_that_cannot_be_written_only_costs_compiling(templates: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    assert template_cache_dir(tmp_path / "file" / "cache") is None
    assert render_with(templates, tmp_path / "file" / "cache") == "old &lt;b&gt;\n"
    # A folder that goes away (or turns read-only) after start: entries are not written, pages still are.
    env = _environment(FileSystemLoader(templates), template_cache_dir(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    assert env.get_template("page.html.j2").render(name="x") == "old x\n"


def test_a_folder_others_can_write_is_not_loaded_from(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert template_cache_dir(shared) is None
    assert template_cache_dir(tmp_path / "own") is not None
