"""The Celery app of ``newsmon dispatch`` and ``newsmon worker``, built from the configuration.

Delivery is at least once, and each setting below serves that:

- ``task_acks_late``: a task is acknowledged when it has run, not when a worker takes it, so a worker
  that dies mid-check leaves the task on the broker;
- ``task_reject_on_worker_lost``: a pool process killed under a task gives the task back (requeued)
  instead of recording it as failed;
- ``worker_prefetch_multiplier = 1``: a worker holds no more tasks than it runs, so a killed worker strands
  little and a busy one does not hoard work another could do;
- Redis ``visibility_timeout`` (the ``queue:`` URL's parameter, 60 s by default instead of Celery's hour)
  with the unacked-restore sweep every few seconds: the tasks of a worker killed with SIGKILL come back
  within about that long. RabbitMQ needs none of it: it redelivers when the dead worker's connection closes.
- JSON only: nothing the broker hands a worker is unpickled.

Exactly-once *in effect* comes from the store, not the broker (see ``leases``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.config import Config
from monitor.distributed.settings import QueueSettings, parse_queue_url

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["TASK", "make_app", "queue_settings"]

TASK = "newsmon.check"


def queue_settings(config: Config) -> QueueSettings:
    """The configuration's queue (``queue`` is validated at load time; its absence is the caller's error)."""
    assert config.queue is not None
    return parse_queue_url(config.queue)


def make_app(config: Config) -> Celery:
    from celery import Celery

    queue = queue_settings(config)
    app = Celery("newsmon", broker=queue.broker_url, set_as_current=False)
    transport: dict[str, object] = {}
    if queue.is_redis:
        sweep = max(1, min(10, round(queue.visibility_timeout / 4)))
        transport = {"visibility_timeout": queue.visibility_timeout,
                     # kombu sweeps for expired unacked tasks every interval * throttle seconds (100 by
                     # default): far too rare for a short visibility timeout.
                     "unacked_restore_interval": sweep, "unacked_restore_throttle": 1}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=queue.name,
        task_routes={TASK: {"queue": queue.name}},
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_enable_remote_control=False,     # no pidbox queues and broadcasts: workers need none
        enable_utc=True,
    )
    from monitor.distributed.tasks import register

    register(app, config)
    return app
