"""SAQ's PostgreSQL queue as Packflow runs it: a sweep that finishes stuck jobs at once, and only stuck ones.

SAQ's own ``PostgresQueue.sweep`` (saq 0.26) reads every ``active`` job, then for each stuck one
(its worker stopped touching it for its heartbeat) marks it ``aborting``, waits up to five seconds
for the worker's answer, and finishes it; one job after the other. A job of a SIGKILLed worker never
answers, so each costs the sweep five seconds: a few dead workers' jobs kept the sweep busy for a
minute, their jobs ``active``/``aborting`` all that time, and the jobs of live workers, read at the
start of that long pass, looked stuck by its end (their touches came after the read) and were aborted
too, cancelling running executions.

Here a job is a delivery (``app/queue.py``): the execution's lease, not the job, says who runs it,
and the workflow recovery sweep queues the execution of a dead worker again. So the sweep of
:class:`PackflowPostgresQueue` finishes a stuck job in one statement, with no wait, and only if the
row is still the one it read (the job's serialized bytes compare equal): a job its worker touched
or finished meanwhile is left alone. A live worker whose job was swept (it did not touch it for a
heartbeat) sees ``aborted`` and cancels it, as with SAQ's sweep. Deleting expired jobs and stats and
the sweep lock are SAQ's. The queue's other operations are one statement each (:mod:`app.saq_statements`).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar_saq import QueueConfig
from psycopg.sql import SQL
from saq.job import Job, Status
from saq.queue.base import Queue
from saq.utils import now, now_seconds

from app.saq_statements import LeanPostgresQueue

logger = logging.getLogger("saq")

StuckRow = tuple[str, bytes, str]
"""A job row the sweep read: ``(key, job, status)``."""


class PackflowPostgresQueue(LeanPostgresQueue):
    """SAQ's PostgreSQL queue whose sweep finishes a stuck job at once, and only a job still stuck; each job
    operation is one statement (:class:`~app.saq_statements.LeanPostgresQueue`)."""

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """Delete jobs and stats past their expiry and finish the stuck jobs (the keys of those finished).

        ``abort`` (SAQ's wait for a stuck job's worker) is not used: see the module docstring.
        """
        if not await self._take_sweep_lock():
            return []
        await self._delete_expired()
        swept = []
        for row in await self.active_rows():
            if await self.finish_stuck(row):
                swept.append(row[0])
        return swept

    async def _take_sweep_lock(self) -> bool:
        """Whether this queue holds the sweep lock of its queue name (taken once, held by a pooled connection)."""
        if self._has_sweep_lock:
            return True
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(
                SQL("SELECT pg_try_advisory_lock(%(key1)s, hashtext(%(queue)s))"),
                {"key1": self.saq_lock_keyspace, "queue": self.name},
            )
            result = await cursor.fetchone()
        self._has_sweep_lock = bool(result and result[0])
        return self._has_sweep_lock

    async def _delete_expired(self) -> None:
        """Delete finished jobs and worker stats past their expiry (SAQ's statements)."""
        now_ts = now_seconds()
        async with self.pool.connection() as conn:
            await conn.execute(
                SQL(
                    "DELETE FROM {jobs_table} WHERE queue = %(queue)s"
                    " AND status IN ('aborted', 'complete', 'failed') AND %(now)s >= expire_at"
                ).format(jobs_table=self.jobs_table),
                {"queue": self.name, "now": now_ts},
            )
            await conn.execute(
                SQL("DELETE FROM {stats_table} WHERE %(now)s >= expire_at").format(stats_table=self.stats_table),
                {"now": now_ts},
            )

    async def active_rows(self) -> list[StuckRow]:
        """The rows of this queue's ``active`` and ``aborting`` jobs, as read now."""
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(
                SQL(
                    "SELECT key, job, status FROM {jobs_table} WHERE queue = %(queue)s"
                    " AND status IN ('active', 'aborting')"
                ).format(jobs_table=self.jobs_table),
                {"queue": self.name},
            )
            return [(str(key), bytes(job), str(status)) for key, job, status in await cursor.fetchall()]

    async def finish_stuck(self, row: StuckRow) -> bool:
        """Finish the job of ``row`` if it is stuck and its row is unchanged since read; whether it was finished.

        A retryable job is queued again (as SAQ's sweep does), any other is ``aborted`` with SAQ's
        swept error; a job whose TTL is negative is deleted instead.
        """
        key, blob, status = row
        job = self.deserialize(blob, status)
        if job is None or not job.stuck:
            return False
        logger.info("Sweeping %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        if job.retryable:
            retried = self._retried(job)
            changed = await self._replace_row(key, blob, retried, Status.QUEUED, None)
            if changed:
                self.retried += 1
            return changed
        job.status = Status.ABORTED
        job.error = self.swept_error_message
        job.completed = job.touched = now()
        if job.ttl < 0:
            changed = await self._replace_row(key, blob, None, Status.ABORTED, None)
        else:
            expire_at = now_seconds() + job.ttl if job.ttl > 0 else None
            changed = await self._replace_row(key, blob, job, Status.ABORTED, expire_at)
        if changed:
            self.aborted += 1
        return changed

    def _retried(self, job: Job) -> Job:
        """``job`` queued again after its retry delay, as SAQ's ``retry`` leaves it."""
        delay = job.next_retry_delay()
        job.status = Status.QUEUED
        job.error = self.swept_error_message
        job.completed = job.started = 0
        job.progress = 0
        job.touched = now()
        job.scheduled = int(now_seconds() + delay) if delay else int(job.scheduled or now_seconds())
        return job

    async def _replace_row(
        self, key: str, read: bytes, job: Job | None, status: Status, expire_at: float | None
    ) -> bool:
        """Write ``job`` (or delete the row when ``None``) if the row still holds the bytes ``read``."""
        parameters: dict[str, Any] = {"key": key, "read": read}
        if job is None:
            statement = SQL("DELETE FROM {jobs_table} WHERE key = %(key)s AND job = %(read)s RETURNING 1")
        else:
            statement = SQL(
                "UPDATE {jobs_table} SET job = %(job)s, status = %(status)s, scheduled = %(scheduled)s,"
                " expire_at = %(expire_at)s WHERE key = %(key)s AND job = %(read)s RETURNING 1"
            )
            parameters |= {
                "job": self.serialize(job),
                "status": status,
                "scheduled": job.scheduled,
                "expire_at": expire_at,
            }
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(statement.format(jobs_table=self.jobs_table), parameters)
            return await cursor.fetchone() is not None


class PackflowQueueConfig(QueueConfig):
    """litestar-saq's queue configuration whose PostgreSQL queue is :class:`PackflowPostgresQueue`."""

    @property
    def queue_class(self) -> type[Queue]:
        """:class:`PackflowPostgresQueue` on PostgreSQL, else litestar-saq's choice."""
        if self.broker_type == "postgres":
            return PackflowPostgresQueue
        return super().queue_class
