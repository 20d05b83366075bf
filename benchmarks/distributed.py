"""Distributed checks end to end: ``newsmon dispatch`` and 1, 2, 4 ``newsmon worker`` processes over the local
news site (benchmarks/news_site.py), PostgreSQL storage, Redis queue.

For each worker count: a fresh PostgreSQL schema and Redis queue, the site's articles written into a
configuration (``per_host_delay: 0``: the pipeline's throughput, not the politeness ceiling, which is
hosts / per_host_delay requests per second whatever the worker count), workers started, then the dispatcher;
the clock stops when every article has a version. Reported: articles per second, CPU seconds of the
newsmon processes (workers and dispatcher, from their rusage; PostgreSQL and Redis not included) per
article, and duplicates: versions sharing (article_id, number) and versions sharing (article_id,
fingerprint), both of which must be 0. ``--kill`` adds a run where one of two workers is SIGKILLed a third
of the way through: every article must still be checked (its tasks come back after the queue's
visibility timeout, set to 10 s here) with no duplicate.

    python benchmarks/distributed.py --articles 20000 --workers 1 2 4 --kill
    python benchmarks/distributed.py --articles 2000 --workers 2 --pool prefork
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from news_site import url_of  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

NEWSMON = [sys.executable, "-m", "monitor"]
PG = os.environ.get("NEWSMON_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS = "redis://127.0.0.1:6379/11"


def start_site(articles: int, hosts: int) -> tuple[subprocess.Popen[str], int]:
    site = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "news_site.py"), "--articles", str(articles),
                             "--hosts", str(hosts), "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert site.stdout is not None
    line = site.stdout.readline()                      # "listening on 0.0.0.0:PORT ..."
    return site, int(line.split()[2].rsplit(":", 1)[1])


def write_config(folder: Path, schema: str, queue: str, urls: list[str]) -> Path:
    path = folder / "config.yaml"
    listed = "\n".join(f"      - {url}" for url in urls)
    path.write_text(f"storage: '{PG}?options=-csearch_path%3D{schema}'\nqueue: '{queue}'\nreports: reports/\n"
                    f"per_host_delay: 0\nconcurrency: 16\nsources:\n  - name: bench\n    interval: 1d\n"
                    f"    urls:\n{listed}\n")
    return path


def counts(engine: object, schema: str) -> tuple[int, int, int, int]:
    """(articles with a version, versions, duplicate (article, number), duplicate (article, fingerprint))."""
    with engine.connect() as conn:                                   # type: ignore[attr-defined]
        conn.execute(text(f'SET search_path TO "{schema}"'))
        try:
            done = conn.execute(text("SELECT count(*) FROM articles WHERE latest_version IS NOT NULL")).scalar()
            stored = conn.execute(text("SELECT count(*) FROM versions")).scalar()
            numbers = conn.execute(text("SELECT count(*) FROM (SELECT 1 FROM versions GROUP BY article_id, number "
                                        "HAVING count(*) > 1) d")).scalar()
            prints = conn.execute(text("SELECT count(*) FROM (SELECT 1 FROM versions GROUP BY article_id, "
                                       "fingerprint HAVING count(*) > 1) d")).scalar()
        except Exception:  # noqa: BLE001 -- tables not created yet
            return 0, 0, 0, 0
    return int(done or 0), int(stored or 0), int(numbers or 0), int(prints or 0)


def one_run(urls: list[str], workers: int, args: argparse.Namespace, kill: bool) -> dict[str, float | int | str]:
    schema = f"newsmon_bench_{uuid.uuid4().hex[:8]}"
    name = f"newsmon-bench-{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    folder = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    config = write_config(folder, schema, f"{REDIS}?name={name}&visibility_timeout=10", urls)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    logs = [(folder / f"worker-{i}.log").open("w") for i in range(workers)]
    processes = [subprocess.Popen([*NEWSMON, "worker", "-c", str(config), "--concurrency", str(args.concurrency),
                                   "--pool", args.pool], stdout=subprocess.DEVNULL, stderr=log) for log in logs]
    started = time.perf_counter()
    dispatcher = subprocess.Popen([*NEWSMON, "dispatch", "-c", str(config), "--interval", "0.5"],
                                  stdout=subprocess.DEVNULL, stderr=(folder / "dispatch.log").open("w"))
    killed = False
    try:
        while True:
            done, *_ = counts(engine, schema)
            if done >= len(urls) or time.perf_counter() - started > args.timeout:
                break
            if kill and not killed and done >= len(urls) // 3:
                processes[0].send_signal(signal.SIGKILL)
                killed = True
                print(f"  SIGKILL worker 1 at {done} articles checked", flush=True)
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        for process in (*processes, dispatcher):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (*processes, dispatcher):
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done, stored, dup_numbers, dup_prints = counts(engine, schema)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
    return {"workers": workers, "killed": "yes" if kill else "no", "checked": done, "versions": stored,
            "wall": wall, "rate": done / wall, "cpu_ms": 1000 * cpu / max(done, 1),
            "dup_numbers": dup_numbers, "dup_prints": dup_prints}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4, help="tasks at once per worker")
    parser.add_argument("--pool", choices=("threads", "prefork"), default="threads")
    parser.add_argument("--kill", action="store_true", help="also a run of 2 workers, one SIGKILLed mid-run")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    site, port = start_site(args.articles, args.hosts)
    urls = [url_of(i, args.hosts, port) for i in range(args.articles)]
    runs = [(w, False) for w in args.workers] + ([(2, True)] if args.kill else [])
    print(f"{args.articles} articles on {args.hosts} hosts, {os.cpu_count()} CPUs, {args.pool} pool, "
          f"concurrency {args.concurrency} per worker, first check of every article (all new)", flush=True)
    print("| workers | SIGKILL | checked | versions | wall s | articles/s | CPU ms/article | dup (id, number) | "
          "dup (id, fingerprint) |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    try:
        for workers, kill in runs:
            r = one_run(urls, workers, args, kill)
            print(f"| {r['workers']} | {r['killed']} | {r['checked']:,} | {r['versions']:,} | {r['wall']:.1f} | "
                  f"{r['rate']:.0f} | {r['cpu_ms']:.1f} | {r['dup_numbers']} | {r['dup_prints']} |", flush=True)
    finally:
        site.terminate()
        site.wait()


if __name__ == "__main__":
    main()
