"""SAQ's PostgreSQL job operations in one statement each: a job costs three round trips, not about twelve.

SAQ's ``PostgresQueue`` (saq 0.26) sends, for each job: the INSERT and a NOTIFY to enqueue it; BEGIN,
the claiming UPDATE, a SAVEPOINT, an UPDATE of the job's bytes, RELEASE, COMMIT and a NOTIFY to take
it; and BEGIN, UPDATE, COMMIT for each status change (taken, finished). On the bench's 10-step
workflow those were about 12 of the 28 statements of an execution (``bench/workflow_queue.py``).
:class:`LeanPostgresQueue` keeps SAQ's tables, rows and semantics and sends instead:

- enqueue: the INSERT and its ``pg_notify`` in one statement (the notification only when a job was
  inserted, as before);
- dequeue: one autocommit UPDATE that claims the jobs and writes into their bytes what SAQ's worker
  writes next (``started``, ``touched``, one more attempt), so a job is never seen ``active`` with no
  touch time, with no second UPDATE per job and none when the worker marks the job active; the
  "dequeued" notification, which only wakes this process's own waiting task, is published in the
  process instead of through the server;
- a status change or a touch: one UPDATE in autocommit (a status given is written as given, as SAQ
  does; a touch keeps the status the row has, in the same statement instead of SELECT ... FOR UPDATE
  in a transaction);
- the LISTEN connection stays listening between waits (:class:`KeptListener`).

SAQ's INFO lines (enqueuing, finishing) are built only when that level is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from psycopg import AsyncConnection
from psycopg.sql import SQL
from saq.job import Job, Status
from saq.queue.postgres import DEQUEUE, ENQUEUE, ListenMultiplexer, PostgresQueue
from saq.utils import now, now_seconds

logger = logging.getLogger("saq")

ENQUEUE_SQL = """
WITH inserted AS (
  INSERT INTO {jobs_table} (key, job, queue, status, priority, group_key, scheduled)
  VALUES (%(key)s, %(job)s, %(queue)s, %(status)s, %(priority)s, %(group_key)s, %(scheduled)s)
  ON CONFLICT (key) DO UPDATE SET
    job = EXCLUDED.job, queue = EXCLUDED.queue, status = EXCLUDED.status, priority = EXCLUDED.priority,
    group_key = EXCLUDED.group_key, scheduled = EXCLUDED.scheduled, expire_at = null
  WHERE {jobs_table}.status IN ('aborted', 'complete', 'failed') AND EXCLUDED.scheduled > {jobs_table}.scheduled
  RETURNING 1
)
SELECT pg_notify(%(channel)s, %(payload)s) FROM inserted
"""
"""SAQ's enqueue (a key already queued or running is not queued again) and its notification, in one statement."""

DEQUEUE_SQL = """
WITH locked_job AS (
  SELECT key, convert_from(job, 'UTF8')::jsonb AS data FROM {jobs_table}
  WHERE status = 'queued' AND queue = %(queue)s AND %(now)s >= scheduled
    AND priority BETWEEN %(plow)s AND %(phigh)s
    AND group_key NOT IN (
      SELECT DISTINCT group_key FROM {jobs_table}
      WHERE status = 'active' AND queue = %(queue)s AND group_key IS NOT NULL
    )
  ORDER BY priority, scheduled
  LIMIT %(limit)s
  FOR UPDATE SKIP LOCKED
)
UPDATE {jobs_table} SET
  status = 'active',
  job = convert_to(
    (locked_job.data || jsonb_build_object(
      'started', %(now_ms)s::bigint,
      'touched', %(now_ms)s::bigint,
      'attempts', COALESCE((locked_job.data ->> 'attempts')::integer, 0) + 1
    ))::text,
    'UTF8'
  )
FROM locked_job
WHERE {jobs_table}.key = locked_job.key
RETURNING {jobs_table}.job
"""
"""SAQ's dequeue (the same choice of jobs) that also writes what SAQ's worker writes next: the jobs'
``started`` and ``touched`` times and one more attempt."""


class KeptListener(ListenMultiplexer):
    """SAQ's listener for the queue's notifications, kept listening while no task waits for a job.

    SAQ's stops (and gives its connection back) whenever its last waiting task got a job, and the
    next wait checks a connection out and sends LISTEN again: on a busy worker, about one LISTEN for
    every six jobs. This one stops with the queue's ``disconnect``, and starts again if it died.
    """

    async def start(self) -> None:
        async with self._lock:
            if self._daemon_task is None or self._daemon_task.done():
                self._daemon_task = asyncio.create_task(self._start())

    async def unsubscribe(self, queue: asyncio.Queue[dict[Any, Any]]) -> None:
        for channel in self._queues.pop(queue, set()):
            self._subscriptions[channel].discard(queue)

    async def close(self) -> None:
        task = self._daemon_task
        await super().close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # its connection is back in the pool before the pool closes


class LeanPostgresQueue(PostgresQueue):
    """SAQ's PostgreSQL queue sending one statement per job operation (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listener = KeptListener(self.pool, self._channel)
        self._taken: set[str] = set()
        """Keys of the jobs taken by :meth:`_dequeue` and not updated since (see :meth:`update`)."""

    async def disconnect(self) -> None:
        await self._listener.close()
        await super().disconnect()

    async def _enqueue(self, job: Job) -> Job | None:
        async with self.pool.connection() as conn, conn.cursor() as cursor:
            await cursor.execute(
                SQL(ENQUEUE_SQL).format(jobs_table=self.jobs_table),
                {
                    "key": job.key,
                    "job": self.serialize(job),
                    "queue": self.name,
                    "status": job.status,
                    "priority": job.priority,
                    "group_key": job.group_key,
                    "scheduled": job.scheduled or int(now_seconds()),
                    "channel": self._channel,
                    "payload": ENQUEUE,
                },
            )
            if await cursor.fetchone() is None:
                return None
        if logger.isEnabledFor(logging.INFO):
            logger.info("Enqueuing %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        return job

    async def _dequeue(self) -> None:
        if self._dequeue_lock.locked() or not self._waiting:
            return
        async with self._dequeue_lock:
            async with self.pool.connection() as conn, conn.cursor() as cursor:
                await cursor.execute(
                    SQL(DEQUEUE_SQL).format(jobs_table=self.jobs_table),
                    {
                        "queue": self.name,
                        "now": now_seconds(),
                        "now_ms": now(),
                        "limit": self._waiting,
                        "plow": self._priorities[0],
                        "phigh": self._priorities[1],
                    },
                )
                rows = await cursor.fetchall()
            for (data,) in rows:
                job = self.deserialize(data, Status.ACTIVE)
                assert job is not None
                job.attempts -= 1  # the row counts the attempt SAQ's worker is about to count on this copy
                self._taken.add(job.key)
                self._job_queue.put_nowait(job)
        if rows:
            # Wakes this process's task listening for jobs (SAQ sent this NOTIFY through the server).
            self._listener.publish(DEQUEUE, DEQUEUE)

    async def update(self, job: Job, **kwargs: Any) -> None:
        """Touch ``job`` and set ``kwargs`` on it, then write it (SAQ writes a copy; nothing here needs one).

        The first update of a job this queue just took, SAQ's worker marking it active, writes nothing:
        the dequeue wrote the same (the attempt, the start and touch times) into the row already. Only
        the worker's id is not in the row until the job's next write (SAQ reads it nowhere).
        """
        first = job.key in self._taken
        self._taken.discard(job.key)
        job.touched = now()
        for name, value in kwargs.items():
            if hasattr(job, name):
                setattr(job, name, value)
        if first and kwargs == {"status": Status.ACTIVE}:
            return
        await self._update(job, **kwargs)

    async def _update(self, job: Job, status: Status | None = None, **kwargs: Any) -> None:
        expire_at = kwargs.pop("expire_at", -1)
        connection: AsyncConnection[Any] | None = kwargs.pop("connection", None)
        if status:
            job.status = status
        statement = SQL(
            "UPDATE {jobs_table} SET job = %(job)s, status = COALESCE(%(status)s, status),"
            " scheduled = %(scheduled)s{expire_at} WHERE key = %(key)s"
        ).format(
            jobs_table=self.jobs_table,
            expire_at=SQL(", expire_at = %(expire_at)s" if expire_at != -1 else ""),
        )
        parameters = {
            "job": self.serialize(job),
            "status": status,
            "key": job.key,
            "scheduled": job.scheduled,
            "expire_at": expire_at,
        }
        if connection is not None:
            await connection.execute(statement, parameters)
            return
        async with self.pool.connection() as conn:
            await conn.execute(statement, parameters)

    async def finish(
        self, job: Job, status: Status, *, result: Any = None, error: str | None = None, **kwargs: Any
    ) -> None:
        """SAQ's ``finish``, its INFO line built only when shown."""
        job.status = status
        job.result = result
        job.error = error
        job.completed = now()
        if status == Status.COMPLETE:
            job.progress = 1.0
        await self._finish(job=job, status=status, result=result, error=error, **kwargs)
        if logger.isEnabledFor(logging.INFO):
            logger.info("Finished %s", job.info(logger.isEnabledFor(logging.DEBUG)))
        if status == Status.COMPLETE:
            self.complete += 1
        elif status == Status.FAILED:
            self.failed += 1
        elif status == Status.ABORTED:
            self.aborted += 1
