"""The store's work for one modified article, as ``newsmon check`` does it: CPU per article, by call.

For each article whose text changed, the checker (``ArticleChecker._event`` in monitor/check.py) asks the
store for the previous version (``latest_version``), whether the new text is an old version's
(``version_with_fingerprint``), then writes the check with the new version (``record_many`` of one
``RecordItem`` with a ``NewVersion``: the HTML and the text compressed as zstd deltas against the previous
version's blobs). This benchmark times those three calls.

N articles of benchmarks/news_site.py (real-sized news pages, 20 sources) are extracted
(``monitor.extract``), then revised once (one figure changed each; every third also gets a sentence) and
extracted again, untimed. Each run, in a child process with the code of one tree: a new store gets the
first version of every article (``record_many`` one article at a time, as a check of new articles does);
the store is closed and opened again, its engine readied (as ``newsmon check`` readies it at its first
change), then for each article the three calls run and their CPU time (``time.process_time``) is summed.
It prints CPU ms per article for each call and their total; with several runs, the medians.

``--baseline REF`` runs the same measurement with the code of a git commit as well (extracted with
``git archive``), alternating with this tree's runs so both see the same load on the machine, and prints
both medians and their ratio. Every run also digests the rows of every table of its store (all columns,
ordered), so a baseline run says whether the two trees wrote exactly the same rows and blob bytes.
``--postgres URL`` runs on PostgreSQL instead, each run in a schema of its own (dropped afterwards).

Usage: python benchmarks/store_writes.py [--articles 200] [--repeat 5] [--baseline 17031ec]
       python benchmarks/store_writes.py --postgres postgresql+psycopg://root@127.0.0.1:5432/test --baseline 17031ec
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trees import trees_to_compare  # noqa: E402  (benchmarks/trees.py, beside this script)

CALLS = ("latest_version", "version_with_fingerprint", "record_many")

# One run, in a fresh process with a tree's code on PYTHONPATH: argv is the inputs (JSON), the store's URL
# and whether to digest the stored rows. Prints JSON: CPU ms per article of each call, and the digest.
CHILD = r"""
import hashlib, json, sys, time
from datetime import datetime
from sqlalchemy import inspect, text
from monitor.models import Document, Validators
from monitor.store import CheckRecord, NewVersion, RecordItem, open_store

inputs = json.loads(open(sys.argv[1], encoding="utf-8").read())
url, digest_rows = sys.argv[2], sys.argv[3] == "1"


def item(article, version, outcome):
    when = datetime.fromisoformat(version["when"])
    return RecordItem(
        url=article["url"], source=article["source"],
        check=CheckRecord(checked_at=when, outcome=outcome, status=200, wire_bytes=len(version["html"]),
                          body_bytes=len(version["html"]), duration=0.05, final_url=article["url"]),
        new_version=NewVersion(document=Document(**version["document"]), html=version["html"].encode(),
                               fingerprint=version["fingerprint"], created_at=when),
        validators=Validators(etag=version["etag"], last_modified=None), body_sha256=version["body_sha256"],
        gone=False, line_keys=tuple(version["line_keys"]))


with open_store(url) as store:                    # the first check: every article is new
    for article in inputs:
        store.record_many([item(article, article["versions"][0], "new")])

cpu = dict.fromkeys(("latest_version", "version_with_fingerprint", "record_many"), 0.0)
with open_store(url) as store:                    # the next check: each article modified
    store.engine                                  # readied before the first change, as newsmon check does
    for article in inputs:
        new = article["versions"][1]
        second = item(article, new, "modified")   # built untimed: the checker has it already
        started = time.process_time()
        previous = store.latest_version(article["url"])
        looked_up = time.process_time()
        reverted_to = store.version_with_fingerprint(article["url"], new["fingerprint"])
        recorded = time.process_time()
        number = store.record_many([second])[0]
        done = time.process_time()
        assert previous is not None and previous.number == 1 and reverted_to is None and number == 2
        cpu["latest_version"] += looked_up - started
        cpu["version_with_fingerprint"] += recorded - looked_up
        cpu["record_many"] += done - recorded
    digest = None
    if digest_rows:                               # every row of every table, all columns, in order
        rows = hashlib.sha256()
        with store.engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                width = len(inspect(conn).get_columns(table))
                order = ", ".join(str(i + 1) for i in range(width))
                rows.update(table.encode())
                for row in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')):
                    rows.update(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode())
        digest = rows.hexdigest()
print(json.dumps({"ms": {k: v * 1000 / len(inputs) for k, v in cpu.items()}, "digest": digest}))
"""


def build_inputs(articles: int) -> list[dict[str, object]]:
    """Two extracted versions of each article of the news site, as JSON-ready dicts."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from news_site import Site, url_of

    from monitor.boilerplate import line_keys
    from monitor.extract import extract
    from monitor.normalise import fingerprint

    site = Site(articles, hosts=20, seed=1, latency=0)
    start = datetime(2026, 11, 1, 6, tzinfo=UTC)
    found: list[dict[str, object]] = [{"url": url_of(n, 20, 8800), "source": f"host-{n % 20}", "versions": []}
                                      for n in range(articles)]

    def add(version: int) -> None:
        for n, article in enumerate(found):
            etag, _, _, html = site.page(n)
            document = extract(html, url=str(article["url"]))
            versions = article["versions"]
            assert isinstance(versions, list)
            versions.append({
                "when": (start + timedelta(hours=version, seconds=n)).isoformat(), "html": html.decode(),
                "etag": etag.decode(), "body_sha256": hashlib.sha256(html).hexdigest(),
                "document": {"title": document.title, "text": document.text, "byline": document.byline,
                             "published": document.published, "modified": document.modified,
                             "url": document.url},
                "fingerprint": fingerprint(document.title, document.text),
                "line_keys": line_keys(document.text)})

    add(0)
    site.new_round(1.0)
    add(1)
    return found


def run(tree: Path, inputs: Path, url: str, digest: bool) -> dict[str, object]:
    """``CHILD`` with the code of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(inputs), url, "1" if digest else "0"],
                          cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run with the code of {tree} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


class Stores:
    """A new, empty store for each run: a SQLite file, or a PostgreSQL schema of its own."""

    def __init__(self, work: Path, postgres: str | None) -> None:
        self._work = work
        self._postgres = postgres
        self._schemas: list[str] = []

    def new(self) -> str:
        if self._postgres is None:
            folder = Path(tempfile.mkdtemp(dir=self._work))
            return f"sqlite:///{folder / 'newsmon.db'}"
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        schema = f"newsmon_bench_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self._postgres)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        finally:
            engine.dispose()
        self._schemas.append(schema)
        url = make_url(self._postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop(self) -> None:
        if self._postgres is None or not self._schemas:
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(self._postgres)
        try:
            with engine.begin() as conn:
                for schema in self._schemas:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each tree")
    parser.add_argument("--baseline", help="a git commit to compare with")
    parser.add_argument("--postgres", help="a PostgreSQL URL (each run in a new schema of it) instead of SQLite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsmon-store-writes-"))
    stores = Stores(work, args.postgres)
    try:
        trees = trees_to_compare(work, args.baseline)
        inputs = work / "inputs.json"
        inputs.write_text(json.dumps(build_inputs(args.articles)), encoding="utf-8")
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{args.articles} modified articles on {backend}; CPU ms per article, {args.repeat} runs of each tree:")
        results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        digests: dict[str, object] = {}
        for repeat in range(args.repeat):
            for name, tree in trees.items():      # alternated, so both see the same load on the machine
                result = run(tree, inputs, stores.new(), digest=repeat == 0)
                ms = result["ms"]
                assert isinstance(ms, dict)
                results[name].append({**ms, "total": sum(ms.values())})
                if repeat == 0:
                    digests[name] = result["digest"]

        def median(name: str, call: str) -> float:
            return statistics.median(r[call] for r in results[name])

        columns = (*CALLS, "total")
        print(f"  {'':<28}" + "".join(f"{call:>26}" for call in columns))
        for name in results:
            print(f"  {name:<28}" + "".join(f"{median(name, call):26.3f}" for call in columns))
        for name, runs in results.items():
            print(f"  {name}, total of each run: " + ", ".join(f"{r['total']:.3f}" for r in runs))
        if args.baseline:
            print(f"  {args.baseline + ' / this tree':<28}"
                  + "".join(f"{median(args.baseline, call) / median('this tree', call):25.2f}x" for call in columns))
            same = digests[args.baseline] == digests["this tree"]
            print(f"  rows of every table, blobs included: {'identical' if same else 'DIFFERENT'} "
                  f"(sha256 {digests['this tree']})")
    finally:
        stores.drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
