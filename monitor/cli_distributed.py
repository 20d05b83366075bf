"""``newsmon dispatch`` and ``newsmon worker``: checks spread over any number of processes and hosts through a
broker (``queue:`` in the configuration: Redis or RabbitMQ) into one PostgreSQL store. They register on
the same ``app`` as the commands in ``cli.py``, which imports this module at its end; Celery is imported
only when one of them runs, never at the start of another command.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .cli import DEFAULT_CONFIG, EXIT_USAGE, ConfigOption, app, fail, read_config
from .cli_service import LogFormat
from .errors import MonitorError

if TYPE_CHECKING:
    from .config import Config

LogOption = Annotated[LogFormat, typer.Option("--log-format", help="text (readable), or json (one object per line).")]


class Pool(StrEnum):
    threads = "threads"
    prefork = "prefork"


def distributed_config(path: Path, command: str) -> Config:
    """The configuration, refused unless it names a broker and PostgreSQL storage (workers on other hosts
    must reach the same store, and the dispatcher's lock is a PostgreSQL advisory lock)."""
    config = read_config(path, required=True)
    if config.queue is None:
        fail(f"{path}: queue: newsmon {command} needs a broker; add a top-level key such as "
             "'queue: redis://127.0.0.1:6379/0' (or amqp://user:password@host:5672//)", EXIT_USAGE)
    if not config.storage_url().startswith("postgresql"):
        fail(f"{path}: storage: newsmon {command} needs PostgreSQL storage shared by every worker, such as "
             f"'storage: postgresql+psycopg://newsmon@db.internal/newsmon'; got {config.storage!r}", EXIT_USAGE)
    return config


@app.command()
def dispatch(
    config_path: ConfigOption = DEFAULT_CONFIG,
    once: Annotated[bool, typer.Option("--once", help="One round (discovery, then queue every due article), "
                                                      "then exit: for cron and tests.")] = False,
    lease: Annotated[str, typer.Option("--lease", help="How long a queued article is not queued again: "
                                                       "the longest a lost task delays its article.")] = "10m",
    task_size: Annotated[int, typer.Option("--task-size", min=1, max=1000, help="Articles per task.")] = 10,
    backlog: Annotated[int, typer.Option("--backlog", min=1, help="Tasks allowed to wait in the queue.")] = 200,
    interval: Annotated[str, typer.Option("--interval", help="Time between two rounds.")] = "2s",
    standby_retry: Annotated[str, typer.Option("--standby-retry", help="How often a standby tries to take over.")]
    = "5s",
    log_format: LogOption = LogFormat.text,
) -> None:
    """Queue the checks of due articles for `newsmon worker` processes; read feeds and sitemaps.

    One dispatcher is active per storage (a PostgreSQL advisory lock); start more on other hosts as hot
    standbys. Needs `queue:` (Redis or RabbitMQ) and PostgreSQL `storage:` in the configuration.

    Example: newsmon dispatch -c /etc/newsmon/config.yaml --log-format json
    """
    import signal

    from .config import parse_duration

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    config = distributed_config(config_path, "dispatch")
    try:
        seconds = {name: parse_duration(value) for name, value in
                   (("--lease", lease), ("--interval", interval), ("--standby-retry", standby_retry))}
    except ValueError as exc:
        fail(f"{exc}", EXIT_USAGE)
    for name in ("--lease", "--standby-retry"):
        if seconds[name] <= 0:
            fail(f"{name}: expected a duration greater than zero", EXIT_USAGE)
    from .daemon import configure_logging
    from .distributed.dispatch import DispatchOptions
    from .distributed.dispatch import run as run_dispatch

    configure_logging(log_format.value)
    logging.getLogger("celery").setLevel(logging.WARNING)
    options = DispatchOptions(lease=seconds["--lease"], task_size=task_size, backlog=backlog,
                              interval=seconds["--interval"], standby_retry=seconds["--standby-retry"], once=once)
    try:
        code = run_dispatch(config, options, stopping=stopping)
    except MonitorError as exc:
        fail(str(exc))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)        # discovery threads stuck on a dead server must not hold the exit


@app.command()
def worker(
    config_path: ConfigOption = DEFAULT_CONFIG,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256,
                                             help="Tasks run at once (threads, or processes with --pool prefork).")]
    = 4,
    pool: Annotated[Pool, typer.Option("--pool", help="threads (one process), or prefork (a process per task "
                                                      "slot, for many cores).")] = Pool.threads,
    log_format: LogOption = LogFormat.text,
) -> None:
    """Run checks queued by `newsmon dispatch` (a Celery worker); start any number, on any hosts.

    A worker killed at any moment loses only the checks it was running: they are delivered again (Redis:
    after the queue's visibility_timeout), and a check run twice stores nothing twice.

    Example: newsmon worker -c /etc/newsmon/config.yaml --concurrency 8
    """
    import socket

    config = distributed_config(config_path, "worker")
    from .daemon import configure_logging
    from .distributed.app import make_app, queue_settings

    configure_logging(log_format.value)
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    celery_app = make_app(config)
    queue = queue_settings(config)
    logging.getLogger("monitor.distributed.worker").info(
        "worker started: %s pool, concurrency %d, queue %s on %s, storage %s", pool.value, concurrency,
        queue.name, queue.shown, config.storage_url().split("@")[-1])
    argv = ["worker", f"--pool={pool.value}", f"--concurrency={concurrency}", f"--queues={queue.name}",
            f"--hostname=newsmon-{os.getpid()}@{socket.gethostname()}", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    try:
        celery_app.worker_main(argv=argv)
    except MonitorError as exc:
        fail(str(exc))
