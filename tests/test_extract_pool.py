"""Extraction in worker processes: the same documents and errors as in-process, a broken pool survived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from monitor.demo.site import load_seed, render_article_page
from monitor.errors import ExtractionError
from monitor.extract import extract
from monitor.extract_pool import Extractor

PAGES = [render_article_page(load_seed(), variant=v).encode("utf-8") for v in range(3)]
URL = "https://news.example/world/story"

needs_two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a pool is only used with 2 cores or more")


def run(extractor: Extractor, page: bytes) -> object:
    return extractor(page, url=URL, charset="utf-8", selector=None, exclude=())


@needs_two_cores
def test_workers_give_the_documents_extract_gives() -> None:
    extractor = Extractor(workers=2, inline=1)
    try:
        first = run(extractor, PAGES[0])
        assert not extractor.started                         # the first page: in the calling thread
        rest = [run(extractor, page) for page in PAGES[1:]]
        assert extractor.started
        assert [first, *rest] == [extract(page, url=URL, charset="utf-8") for page in PAGES]
        with pytest.raises(ExtractionError, match="no article text found"):
            run(extractor, b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    finally:
        extractor.close()


@needs_two_cores
def test_a_broken_pool_falls_back_to_the_calling_thread() -> None:
    extractor = Extractor(workers=2, inline=0)
    try:
        expected = run(extractor, PAGES[0])
        pool = extractor._pool
        assert pool is not None
        for pid in list(pool._processes):                     # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        assert run(extractor, PAGES[0]) == expected         # the broken pool is noticed, the page still done
        assert run(extractor, PAGES[0]) == expected
    finally:
        extractor.close()


def test_one_core_or_few_pages_start_no_process() -> None:
    single = Extractor(workers=1, inline=0)
    few = Extractor(workers=2, inline=10)
    for page in PAGES:
        run(single, page)
        run(few, page)
    assert not single.started and not few.started


@needs_two_cores
def test_nothing_outlives_a_checker_killed_with_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "checker.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from monitor.extract_pool import Extractor
        from monitor.demo.site import load_seed, render_article_page
        if __name__ == "__main__":
            extractor = Extractor(workers=2, inline=0)
            extractor(render_article_page(load_seed(), variant=0).encode(), url="{URL}", charset="utf-8",
                      selector=None, exclude=())
            print(" ".join(str(p) for p in extractor._pool._processes), flush=True)
            time.sleep(60)
    """), encoding="utf-8")
    checker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parent.parent)
    assert checker.stdout is not None
    workers = [int(p) for p in checker.stdout.readline().split()]
    assert workers                                       # started on demand: one task, at least one worker
    checker.kill()
    checker.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


@needs_two_cores
def test_a_checker_killed_while_its_pool_starts_leaves_nothing(tmp_path: Path) -> None:
    """The race: the checker dies while the forkserver is still importing. Every process that carries the
    checker's PID in its environment (the forkserver, any worker) must be gone a few seconds later."""
    script = tmp_path / "checker.py"
    script.write_text(textwrap.dedent(f"""
        import os, threading
        from monitor.extract_pool import Extractor
        from monitor.demo.site import load_seed, render_article_page
        if __name__ == "__main__":
            extractor = Extractor(workers=2, inline=0)
            page = render_article_page(load_seed(), variant=0).encode()
            threading.Thread(target=extractor, args=(page,), daemon=True,
                             kwargs=dict(url="{URL}", charset="utf-8", selector=None, exclude=())).start()
            print(os.getpid(), flush=True)
            threading.Event().wait(60)
    """), encoding="utf-8")
    for delay in (0.0, 0.05, 0.2):
        checker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).parent.parent)
        assert checker.stdout is not None
        pid = int(checker.stdout.readline())
        time.sleep(delay)
        checker.kill()
        checker.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and helpers_of(pid):
            time.sleep(0.1)
        assert helpers_of(pid) == [], f"left running after a kill {delay} s into the pool's start"


def helpers_of(checker: int) -> list[int]:
    """Live processes started for the checker ``checker`` (they carry its PID in their environment)."""
    found = []
    mark = f"NEWSMON_CHECKER_PID={checker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if mark in environ.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False
