"""``newsmon check`` cycles against a local news site, side by side with urlwatch and trafilatura.

Starts benchmarks/news_site.py (N articles over H loopback hosts, ETag/Last-Modified, 304s) in its own
process, then runs three cycles, each tool after the other in the same cycle:

  first       every article is new (200s, extract, store version 1)
  unchanged   nothing changed (conditional GETs answered 304)
  changed     --changed of the articles got a new revision (one figure, sometimes a sentence) just before

Tools, each run as a child process from scratch (import and start-up included, as cron would run them):

  newsmon     ``python -m monitor check -c CFG --format json``: per_host_delay 0, --concurrency requests
              in flight (newsmon's default 16), storage and reports in a temporary folder; one source per host
  urlwatch    from PyPI, in its own virtual environment (/tmp/urlwatch-venv, created when missing), one job
              per URL with ``filter: html2text`` (its default method), its default 10 threads, its own cache
              and config in the temporary folder; stdout reporter only (it prints every NEW and CHANGED job)

For each run: wall time; CPU time (user + sys) and peak memory (ru_maxrss) of the child, from
``os.wait4``, with the CPU of helper processes that outlive it (newsmon's extraction forkserver and its
workers exit just after the checker; this script is the child subreaper, so they are reparented here and
reaped with wait4: their CPU is added, and also shown apart with their peak RSS); requests per second
and requests by status, from the site's own counts; the site's CPU share of the wall time (it must stay
well below 100%, or the site is the bottleneck); events printed.
``start-up`` is the fixed cost of a run: the same command on one article that answers 304 (its own store
and cache; the median of five runs), so "marginal" CPU per article leaves it out. CPU per
modified article is estimated from the changed cycle, taking the unchanged cycle's marginal CPU per article
for the articles that did not change.

Then trafilatura.extract (``include_comments=False, favor_precision=True``, as benchmarks/extraction.py)
and newsmon's ``extract()`` on the same pages (first revision, up to 1,000), in this process: CPU ms per
page and pages per second, to show what extraction alone costs next to a whole check.

    python benchmarks/check_cycles.py                       # 1,000 articles on 20 hosts, with urlwatch
    python benchmarks/check_cycles.py --articles 10000 --skip-urlwatch
    options: --hosts 20 --changed 0.1 --latency-ms 0 --concurrency 16 --seed 1 --repeat 1 --keep
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import news_site  # noqa: E402

URLWATCH_VENV = Path("/tmp/urlwatch-venv")
CYCLES = ("first", "unchanged", "changed")
# The stdout reporter's summary lines: "01. NEW: http://...", "02. CHANGED: ...", "03. ERROR: ...".
URLWATCH_EVENT = re.compile(r"^\d+\. (NEW|CHANGED|ERROR|UNCHANGED|EMPTY-DIFF)\b", re.M)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Run:
    """One child process: what it cost and what it did."""

    tool: str
    cycle: str
    wall: float
    cpu: float
    maxrss_mb: float
    returncode: int
    requests: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0
    repeat: int = 0
    helper_cpu: float = 0.0        # CPU of processes that outlived the child (included in cpu)
    helper_rss_mb: float = 0.0


# -- the site ----------------------------------------------------------------------------------------

class SiteProcess:
    """benchmarks/news_site.py in a child process on a free port; killed at exit whatever happens."""

    def __init__(self, articles: int, hosts: int, seed: int, latency_ms: float, log: Path) -> None:
        self._log = log
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "news_site.py"), "--articles", str(articles), "--hosts", str(hosts),
             "--port", "0", "--seed", str(seed), "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
        atexit.register(self.stop)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]  # "listening on 0.0.0.0:PORT ..."
        if not line.startswith("listening on "):
            self.stop()
            sys.exit(f"check_cycles: the news site did not start:\n{line}{log.read_text()[-3000:]}")
        self.port = int(line.split()[2].rsplit(":", 1)[1])

    def control(self, path: str, post: bool = False) -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/_control/{path}",
                                         method="POST" if post else "GET")
        with NO_PROXY.open(request, timeout=60) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- running a child -----------------------------------------------------------------------------------

def child_env(home: Path) -> dict[str, str]:
    """The environment without proxies (everything is on loopback) and with a private HOME/XDG dirs."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
               NO_PROXY="*")
    return env


def become_subreaper() -> bool:
    """Make this process the child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): the helper processes a
    child leaves behind (newsmon's extraction forkserver and workers, which exit just after it) are then
    reparented here rather than to init, so their CPU can be counted too."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children() -> set[int]:
    """This process's children, zombies included (Linux /proc)."""
    found: set[int] = set()
    for path in Path("/proc/self/task").glob("*/children"):
        found.update(int(pid) for pid in path.read_text().split())
    return found


def reap_orphans(known: set[int], timeout: float = 30.0) -> tuple[float, float]:
    """Wait for the children that were not ours before the run (orphans of the child, reparented here);
    (their CPU seconds, their largest peak RSS in MB). Any still alive after ``timeout`` is killed."""
    cpu = rss = 0.0
    deadline = time.monotonic() + timeout
    while pids := children() - known:
        for pid in pids:
            if time.monotonic() > deadline:
                print(f"  ! process {pid} outlived the child by {timeout:g} s: killed", file=sys.stderr)
                os.kill(pid, signal.SIGKILL)
            done, _, usage = os.wait4(pid, os.WNOHANG)
            if done:
                cpu += usage.ru_utime + usage.ru_stime
                rss = max(rss, usage.ru_maxrss / 1024)
        time.sleep(0.005)
    return cpu, rss


def run_child(tool: str, cycle: str, command: list[str], out: Path, env: dict[str, str],
              site: SiteProcess | None) -> Run:
    """Run ``command``; wall time around it, CPU and peak RSS of the child (and its own children) from
    os.wait4, plus the CPU of the processes it left behind (see become_subreaper; counted in ``cpu``, and
    shown apart as ``helper_cpu``), the site's request counts and CPU before and after."""
    before = site.control("stats") if site else None
    err = out.with_suffix(".err")
    known = children()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    helper_cpu, helper_rss = reap_orphans(known)
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(tool, cycle, wall, usage.ru_utime + usage.ru_stime + helper_cpu, usage.ru_maxrss / 1024,
              proc.returncode, helper_cpu=helper_cpu, helper_rss_mb=helper_rss)
    if site and before:
        after = site.control("stats")
        run.requests = Counter(after["requests"]) - Counter(before["requests"])
        run.server_cpu = after["cpu"] - before["cpu"]
    if proc.returncode != 0:
        print(f"  ! {tool} {cycle} exited with status {proc.returncode}; end of its stderr ({err}):\n"
              + err.read_text(errors="replace")[-2000:], file=sys.stderr)
    return run


def newsmon_events(out: Path) -> Counter[str]:
    events: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        if line.startswith("{"):
            events[json.loads(line)["event"]] += 1
    return events


def urlwatch_events(out: Path) -> Counter[str]:
    return Counter(match.lower() for match in URLWATCH_EVENT.findall(out.read_text(errors="replace")))


# -- configuration ---------------------------------------------------------------------------------

def newsmon_config(path: Path, work: Path, urls_by_host: dict[int, list[str]], concurrency: int) -> None:
    lines = [f"storage: {work / 'newsmon-store'}/", f"reports: {work / 'newsmon-reports'}/",
             "per_host_delay: 0", f"concurrency: {concurrency}"]
    if not urls_by_host:
        lines.append("sources: []")
    else:
        lines.append("sources:")
        for host, urls in sorted(urls_by_host.items()):
            lines += [f"  - name: host-{host}", "    urls:"] + [f"      - {url}" for url in urls]
    path.write_text("\n".join(lines) + "\n")


def urlwatch_setup() -> Path:
    """urlwatch's executable, installed from PyPI into its own virtual environment when missing."""
    executable = URLWATCH_VENV / "bin" / "urlwatch"
    if not executable.exists():
        print(f"installing urlwatch into {URLWATCH_VENV} ...", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", "urlwatch"], check=True)
    return executable


def urlwatch_files(work: Path, urls: list[str], name: str) -> list[str]:
    """urls.yaml (one job per URL, html2text filter) and the arguments pointing urlwatch at its files."""
    jobs = work / f"{name}-urls.yaml"
    jobs.write_text("".join(f"---\nname: article {i}\nurl: {url}\nfilter: html2text\n"
                            for i, url in enumerate(urls)) if urls else "")
    return ["--urls", str(jobs), "--config", str(work / "urlwatch.yaml"), "--cache",
            str(work / f"{name}-cache.db"), "--hooks", str(work / "hooks.py")]


# -- extraction in this process --------------------------------------------------------------------------

def extraction(articles: int, seed: int) -> list[tuple[str, float, int]]:
    """(label, CPU seconds, pages) for trafilatura.extract and newsmon's extract() on the same pages."""
    import trafilatura

    from monitor.extract import extract
    from monitor.extract_compare import trafilatura_as_released

    def plain_trafilatura(html: str) -> str | None:
        with trafilatura_as_released():     # importing monitor.extract replaced its comparison step
            return trafilatura.extract(html, include_comments=False, favor_precision=True)

    pages = [page.decode() for page in news_site.pages(min(articles, 1000), seed)]
    results = []
    for label, function in ((f"trafilatura {trafilatura.__version__} extract()", plain_trafilatura),
                            ("newsmon extract()", extract)):
        for html in pages[:20]:                   # warm: imports, lxml, caches
            function(html)
        started = time.process_time()
        for html in pages:
            assert function(html), "nothing extracted"
        results.append((label, time.process_time() - started, len(pages)))
    return results


# -- the report --------------------------------------------------------------------------------------

def median_runs(runs: list[Run]) -> tuple[list[Run], dict[tuple[str, str], list[float]]]:
    """For each (tool, cycle), the run with the median CPU time (all its figures are shown), and every
    run's CPU time (to show the spread)."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.tool, run.cycle), []).append(run)
    chosen = [sorted(group, key=lambda r: r.cpu)[(len(group) - 1) // 2] for group in groups.values()]
    order = {cycle: i for i, cycle in enumerate(CYCLES)}
    chosen.sort(key=lambda r: order[r.cycle])
    return chosen, {key: [r.cpu for r in group] for key, group in groups.items()}


def ratio_cell(ratios: list[float]) -> str:
    """The median ratio, and each repetition's when there are several."""
    median = sorted(ratios)[(len(ratios) - 1) // 2]
    return f"{median:.2f}" + (f" ({', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else "")


def print_table(all_runs: list[Run], startup: dict[str, Run], articles: int, changed: int) -> None:
    runs, spread = median_runs(all_runs)
    repeated = any(len(cpus) > 1 for cpus in spread.values())
    print()
    print("| tool | cycle | wall s | CPU s | CPU ms/article | marginal ms/article | requests/s | 200 | 304 "
          "| peak RSS MB | helpers: CPU s, peak RSS MB | site CPU % | events |"
          + (" CPU s, every run |" if repeated else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if repeated else ""))
    for run in runs:
        base = startup[run.tool].cpu if run.tool in startup else 0.0
        total = sum(run.requests.values())
        print(f"| {run.tool} | {run.cycle} | {run.wall:.2f} | {run.cpu:.2f} "
              f"| {run.cpu / articles * 1000:.2f} | {(run.cpu - base) / articles * 1000:.2f} "
              f"| {total / run.wall:.0f} | {run.requests.get('200', 0)} | {run.requests.get('304', 0)} "
              f"| {run.maxrss_mb:.0f} | {run.helper_cpu:.2f}, {run.helper_rss_mb:.0f} "
              f"| {run.server_cpu / run.wall * 100:.0f} "
              f"| {', '.join(f'{k} {v}' for k, v in sorted(run.events.items())) or '-'} |"
              + (f" {', '.join(f'{c:.2f}' for c in spread[run.tool, run.cycle])} |" if repeated else ""))
    for tool, run in startup.items():
        print(f"| {tool} | start-up (1 article, 304) | {run.wall:.2f} | {run.cpu:.2f} | | | | | "
              f"| {run.maxrss_mb:.0f} | {run.helper_cpu:.2f}, {run.helper_rss_mb:.0f} | | |")

    print()
    by = {(run.tool, run.cycle): run for run in runs}
    for tool in dict.fromkeys(run.tool for run in runs):
        first, same, edit = (by.get((tool, cycle)) for cycle in CYCLES)
        if not (first and same and edit) or changed == 0:
            continue
        base = startup[tool].cpu
        per_unchanged = (same.cpu - base) / articles
        per_modified = (edit.cpu - base - (articles - changed) * per_unchanged) / changed
        print(f"{tool}: marginal CPU per article: new {(first.cpu - base) / articles * 1000:.2f} ms, "
              f"unchanged (304) {per_unchanged * 1000:.2f} ms, modified (estimated) {per_modified * 1000:.2f} ms")
    if any(run.tool == "urlwatch" for run in runs):
        # Each ratio is of the two tools' runs in the same repetition (one right after the other, so under
        # the same load); the median over the repetitions, then every repetition's.
        pairs = {(run.tool, run.cycle, run.repeat): run for run in all_runs}
        print()
        print("| cycle | urlwatch wall / newsmon wall | urlwatch CPU / newsmon CPU |")
        print("|---|---|---|")
        for cycle in CYCLES:
            walls, cpus = [], []
            for (tool, run_cycle, repeat), ours in pairs.items():
                theirs = pairs.get(("urlwatch", cycle, repeat))
                if tool == "newsmon" and run_cycle == cycle and theirs:
                    walls.append(theirs.wall / ours.wall)
                    cpus.append(theirs.cpu / ours.cpu)
            if walls:
                print(f"| {cycle} | {ratio_cell(walls)} | {ratio_cell(cpus)} |")


def check_events(runs: list[Run], articles: int, changed: int) -> None:
    """Say so when a tool did not see what the site did (the figures would then mean little)."""
    expected = {"first": {"new": articles}, "unchanged": {"unchanged": articles},
                "changed": {"modified": changed, "unchanged": articles - changed}}
    for run in runs:
        if run.tool != "newsmon":
            continue
        want = Counter({k: v for k, v in expected[run.cycle].items() if v})
        if run.events != want:
            print(f"  ! newsmon {run.cycle}: expected events {dict(want)}, got {dict(run.events)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--changed", type=float, default=0.1, help="share of articles edited before the last cycle")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the site waits this long before each page")
    parser.add_argument("--concurrency", type=int, default=16, help="newsmon's concurrency setting")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-urlwatch", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the three cycles this many times (fresh stores each time); the run with the "
                             "median CPU time of each tool and cycle is shown")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (stores, outputs, logs)")
    args = parser.parse_args()

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the site is stopped and the folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="newsmon-cycles-"))
    try:
        bench(args, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def describe_tree() -> str:
    """The commit newsmon runs from, and whether monitor/ has changes not committed (others' work)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "monitor"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{ROOT} (not a git checkout)"
    return f"{ROOT} at {commit}" + (", monitor/ with uncommitted changes" if dirty else "")


def bench(args: argparse.Namespace, work: Path) -> None:
    env = child_env(work / "home")
    print(f"newsmon: {describe_tree()}; Python {sys.version.split()[0]}")
    if not become_subreaper():
        print("  ! cannot become a child subreaper: CPU of helper processes that outlive a run is not counted")
    urlwatch = None if args.skip_urlwatch else urlwatch_setup()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    started = time.perf_counter()
    site = SiteProcess(args.articles, args.hosts, args.seed, args.latency_ms, work / "site.log")
    print(f"news site: {args.articles} articles on {args.hosts} hosts, port {site.port}, "
          f"ready in {time.perf_counter() - started:.1f} s; latency {args.latency_ms:g} ms")
    urls_by_host: dict[int, list[str]] = {}
    for number in range(args.articles):
        urls_by_host.setdefault(1 + number % args.hosts, []).append(news_site.url_of(number, args.hosts, site.port))
    urls = [url for host in sorted(urls_by_host) for url in urls_by_host[host]]

    newsmon = [sys.executable, "-m", "monitor", "check", "--format", "json", "-c"]
    # The fixed cost of a run: a check of one article that answers 304 (the same store and cache checked
    # six times: the first finds it new, the median of the other five is counted).
    (work / "one").mkdir()
    newsmon_config(work / "one" / "newsmon.yaml", work / "one", {1: urls[:1]}, args.concurrency)
    startup_commands = {"newsmon": [*newsmon, str(work / "one" / "newsmon.yaml")]}
    # Each repetition starts from empty stores (its own folder), so its first cycle finds every article new.
    tools_by_repeat: list[dict[str, list[str]]] = []
    for repeat in range(args.repeat):
        folder = work / f"run{repeat}"
        folder.mkdir()
        newsmon_config(folder / "newsmon.yaml", folder, urls_by_host, args.concurrency)
        tools_by_repeat.append({"newsmon": [*newsmon, str(folder / "newsmon.yaml")]})
    if urlwatch:
        version = subprocess.run([str(urlwatch), "--version"], capture_output=True, text=True).stdout.strip()
        print(f"urlwatch: {version} ({urlwatch})")
        for repeat, tools in enumerate(tools_by_repeat):
            tools["urlwatch"] = [str(urlwatch), *urlwatch_files(work, urls, f"run{repeat}/articles")]
        startup_commands["urlwatch"] = [str(urlwatch), *urlwatch_files(work, urls[:1], "one/articles")]
        # The first call writes urlwatch's default config (stdout reporter on): not part of any timing.
        subprocess.run([*startup_commands["urlwatch"], "--list"], env=env, capture_output=True, check=True)

    startup = {}
    for tool, command in startup_commands.items():
        trials = [run_child(tool, "start-up", command, work / f"{tool}-startup.out", env, None) for _ in range(6)]
        startup[tool] = sorted(trials[1:], key=lambda r: r.cpu)[2]      # the first stored it; median of 5
    runs: list[Run] = []
    changed = 0
    for repeat, tools in enumerate(tools_by_repeat):
        for cycle in CYCLES:
            if cycle == "changed":
                changed = len(site.control(f"round?changed={args.changed}", post=True)["changed"])
            for tool, command in tools.items():
                out = work / f"run{repeat}" / f"{tool}-{cycle}.out"
                print(f"{repeat + 1}/{args.repeat} {cycle:<10} {tool:<9}", end=" ", flush=True)
                run = run_child(tool, cycle, command, out, env, site)
                run.events = newsmon_events(out) if tool == "newsmon" else urlwatch_events(out)
                run.repeat = repeat
                runs.append(run)
                print(f"{run.wall:7.2f} s wall {run.cpu:7.2f} s CPU ({run.helper_cpu:.2f} s in helpers)  "
                      f"{dict(run.events)}", flush=True)

    stats = site.control("stats")
    site.stop()
    print(f"\n{args.articles} articles on {args.hosts} loopback hosts, {changed} changed before the last cycle, "
          f"latency {args.latency_ms:g} ms, newsmon concurrency {args.concurrency}"
          f"{', urlwatch 10 threads' if urlwatch else ''}; "
          f"site served {sum(stats['requests'].values())} requests ({stats['requests']})")
    print_table(runs, startup, args.articles, changed)
    check_events(runs, args.articles, changed)
    if urlwatch:
        print("(urlwatch prints nothing for an unchanged job, so its unchanged events are not counted)")

    store = work / "run0" / "newsmon-store"
    print(f"\nnewsmon store after the cycles: {sum(p.stat().st_size for p in store.glob('*')) / 1e6:.1f} MB "
          f"({', '.join(p.name for p in sorted(store.glob('*')))})")
    if urlwatch:
        cache = work / "run0" / "articles-cache.db"
        print(f"urlwatch cache after the cycles: {cache.stat().st_size / 1e6:.1f} MB")

    print("\nextraction alone, in one process, on the same pages (first revision):")
    print("| extractor | pages | CPU ms/page | pages/s (CPU) |")
    print("|---|---|---|---|")
    for label, cpu, pages in extraction(args.articles, args.seed):
        print(f"| {label} | {pages} | {cpu / pages * 1000:.2f} | {pages / cpu:.0f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
