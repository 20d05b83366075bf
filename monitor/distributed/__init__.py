"""Distributed checks: ``newsmon dispatch`` leases due articles and queues their checks on a broker (Redis or
RabbitMQ, through Celery); any number of ``newsmon worker`` processes, on any hosts, run them with the same
pipeline as the daemon (``monitor.daemon.Daemon.check_batch``) into one PostgreSQL store.

Modules, one job each:

- ``settings``: the ``queue:`` URL of the configuration, newsmon's own parameters split off (no Celery).
- ``leader``: the dispatcher's PostgreSQL advisory lock (one active dispatcher, the others hot standbys).
- ``leases``: the lease written before a check is queued, and the worker's fencing check against it.
- ``limiter``: per-host politeness shared by every process (Redis, or PostgreSQL under RabbitMQ).
- ``app``: the Celery app (late acknowledgement, short Redis visibility timeout); imports Celery.
- ``tasks``: the check task and the per-process state the worker keeps between tasks.
- ``dispatch``: the dispatcher's loop.

Nothing here is imported by the other commands: Celery costs a quarter of a second to import.
"""
