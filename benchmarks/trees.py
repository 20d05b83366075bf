"""The code trees an A/B benchmark compares: this one and, with ``--baseline REV``, the ``monitor`` package
of a git commit, extracted beside the benchmark's files.

Both are compiled to bytecode, as an installed newsmon is: a tree without it (one extracted by ``git
archive``, with PYTHONDONTWRITEBYTECODE set) compiles its modules again in every child process, about 75 ms
of CPU per process in its disfavour.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def trees_to_compare(work: Path, baseline: str | None) -> dict[str, Path]:
    """{label: tree root}: "this tree", and the baseline commit's extracted under ``work`` if given."""
    trees = {"this tree": ROOT}
    if baseline:
        trees[baseline] = work / "baseline"
        trees[baseline].mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", baseline, "monitor"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(trees[baseline])], input=archive, check=True)
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "monitor")], check=True)
    return trees
