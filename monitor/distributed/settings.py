"""The ``queue:`` URL of the configuration: the broker for Celery, with newsmon's own parameters split off.

    queue: redis://127.0.0.1:6379/0                       # Redis, queue "newsmon"
    queue: redis://broker.internal:6379/2?visibility_timeout=5m&name=newsmon-eu
    queue: amqp://guest:guest@127.0.0.1:5672//            # RabbitMQ

newsmon's parameters (every other parameter goes to the broker's client unchanged):

- ``name``: the queue's name (default ``newsmon``); it also prefixes the shared limiter's Redis keys, so two
  deployments on one Redis keep apart.
- ``visibility_timeout`` (Redis only; default 60 s, a duration such as ``90``, ``2m``): how long a task
  taken by a worker stays invisible to the others before Redis hands it out again. A worker killed with
  SIGKILL never acknowledges its tasks; they come back within this long plus the restore sweep's period
  (a quarter of it, at most 10 s; Celery's default is an hour). It should exceed the longest task (a few
  articles, seconds), or a slow task is run twice: harmless (see ``leases``), only wasteful.

No Celery import here: ``monitor.config`` validates the URL with ``parse_queue_url`` at every start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.config_values import parse_duration

__all__ = ["DEFAULT_NAME", "DEFAULT_VISIBILITY", "QueueSettings", "parse_queue_url"]

DEFAULT_NAME = "newsmon"
DEFAULT_VISIBILITY = 60.0
REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


@dataclass(frozen=True)
class QueueSettings:
    broker_url: str              # what Celery is given: the URL without newsmon's parameters
    name: str                    # the queue (and the limiter's key prefix)
    visibility_timeout: float    # seconds (Redis)

    @property
    def is_redis(self) -> bool:
        return urlsplit(self.broker_url).scheme in REDIS_SCHEMES

    @property
    def shown(self) -> str:
        """The broker URL without its password, for logs and errors."""
        parts = urlsplit(self.broker_url)
        if parts.password is None:
            return self.broker_url
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


def parse_queue_url(url: str) -> QueueSettings:
    """Split a ``queue:`` URL; ValueError says what is wrong with it, in words a person can act on."""
    expected = ("expected a broker URL such as redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//, "
                f"got {url!r}")
    try:
        parts = urlsplit(url.strip())
        port = parts.port                     # raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme.lower() not in (*REDIS_SCHEMES, *AMQP_SCHEMES) or not parts.hostname:
        raise ValueError(expected)
    if port == 0:
        raise ValueError(f"port 0 is not a broker's port in {url!r}")
    redis = parts.scheme.lower() in REDIS_SCHEMES
    if redis and parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise ValueError(f"a Redis URL's path is a database number (redis://host:6379/0), got {parts.path!r}")
    name, visibility = DEFAULT_NAME, DEFAULT_VISIBILITY
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "name":
            if not _NAME.fullmatch(value):
                raise ValueError(f"queue name {value!r}: expected letters, digits, '.', '_', ':' or '-' "
                                 "(at most 100)")
            name = value
        elif key == "visibility_timeout":
            if not redis:
                raise ValueError("visibility_timeout applies to a Redis broker only (RabbitMQ redelivers a "
                                 "dead worker's tasks as soon as its connection closes)")
            try:
                visibility = parse_duration(value)
            except ValueError as exc:
                raise ValueError(f"visibility_timeout: {exc}") from None
            if visibility < 1:
                raise ValueError(f"visibility_timeout: expected at least 1 second, got {value!r}")
        else:
            rest.append((key, value))
    broker = urlunsplit(parts._replace(query=urlencode(rest)))
    return QueueSettings(broker_url=broker, name=name, visibility_timeout=visibility)
