"""Workspace schedules (docs/http-api.md, Schedules): create, list, show, change, delete and trigger them, and
fire their ticks.

Every method takes the caller's workspace: another workspace's schedule is reported exactly as one that
does not exist. A schedule's ticks are durable timers of kind ``schedule`` (docs/workflow-language.md,
Timers): :meth:`ScheduleService.fire` is their handler, run in the unit that claimed the timer on
whichever process fires it (the app with the inline queue, a SAQ worker). It reads the schedule row
(locked), plans the due ticks (:func:`~packs.core.schedules.policy.plan_ticks`), applies the
overlap policy, inserts each run as a ``pending`` execution whose id is derived from the schedule and the
tick (two firings of one tick insert one execution), moves the schedule on and adds the timer of its
next tick, all in that unit; the runs are delivered to the queue once it has committed.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from packs.core.audit import record_action
from packs.core.db import current_session
from packs.core.models.schedule import WorkflowSchedule
from packs.core.models.workflow import WorkflowExecution
from packs.core.models.workflow_timers import WorkflowTimer
from packs.core.schedules.calendar import Calendar
from packs.core.schedules.policy import OverlapAction, jitter_of, overlap_action, plan_ticks, run_id
from packs.core.schedules.requests import ScheduleFields, checked_fields
from packs.core.tools.errors import NotFoundError, ValidationError
from packs.core.workflow import Execution, Status, cancel
from packs.core.workflow.model import utcnow
from packs.core.workflow.timers import Firing, Timer, timer_handlers
from packs.core.workflow_api.service import UnknownWorkflowError, WorkflowService

SCHEDULE_TIMER_KIND = "schedule"
"""The kind of the durable timers that fire schedules' ticks."""

BUFFER_CHECK_SECONDS = 1.0
"""How often a schedule holding a buffered tick (``overlap: buffer_one``) looks whether its run ended."""

NEXT_RUNS = 5
"""How many fire times a schedule shows (``next_runs``)."""

UNFINISHED = (Status.PENDING, Status.RUNNING, Status.HALTED)
"""A run in one of these statuses is unfinished: the overlap policy applies to the next tick."""

NO_USER = uuid.UUID(int=0)
"""The user a check of a schedule's input stands for when its creator was deleted."""

logger = logging.getLogger("packflow.schedules")


class ScheduleNotFoundError(NotFoundError):
    """No schedule with this id in the caller's workspace (404)."""


@dataclass(frozen=True)
class Actor:
    """Who changes a schedule, for the audit log (docs/http-api.md, Audit log): a user (``None``: an operator)
    and where from (``api``, ``console`` or ``cli``)."""

    user_id: str | None
    source: str = "api"


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as the API shows it: the row and its next fire times."""

    schedule: WorkflowSchedule
    next_runs: list[datetime.datetime]


def calendar_of(row: WorkflowSchedule) -> Calendar:
    """The schedule's calendar."""
    return Calendar(cron=row.cron, every=row.every_seconds, timezone=row.timezone)


def schedule_key(raw: str) -> uuid.UUID:
    """``raw`` as a schedule id; :class:`ScheduleNotFoundError` when it is not a UUID (no such schedule)."""
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise ScheduleNotFoundError(f"no schedule {raw}") from None


@dataclass
class ScheduleService:
    """The schedules of the loaded workflows, scoped to workspaces, on the workflow service's store."""

    workflows: WorkflowService
    timers_added: Any = None
    """Called with the timers a change added, once it committed (the queue's delivery at due time), if set."""

    @property
    def store(self) -> Any:
        return self.workflows.store

    def register_firing(self) -> None:
        """Make :meth:`fire` the handler of ``schedule`` timers in this process."""
        timer_handlers.register(SCHEDULE_TIMER_KIND, self.fire)

    # -- the API ---------------------------------------------------------------------------------

    async def create(
        self, workflow_id: str, body: Mapping[str, Any], *, workspace_id: str, user_id: str, actor: Actor | None = None
    ) -> ScheduleView:
        """A new schedule of ``workflow_id`` from ``body`` (:class:`ValidationError` naming a bad field,
        :class:`UnknownWorkflowError` for an unknown workflow)."""
        self.workflows.definition(workflow_id)
        fields = checked_fields(body, creating=True)
        self.workflows.caller_input(workflow_id, fields.values["input"], workspace_id=workspace_id, user_id=user_id)
        now = utcnow()
        values = fields.values
        row = WorkflowSchedule(
            id=uuid.uuid4(),
            workspace_id=uuid.UUID(workspace_id),
            workflow_id=workflow_id,
            created_by_id=uuid.UUID(user_id),
            cron=values.get("cron"),
            every_seconds=values.get("every"),
            timezone=values["timezone"],
            input=values["input"],
            overlap=values["overlap"],
            catch_up=values["catch_up"],
            catch_up_window=values["catch_up_window"],
            jitter=values["jitter"],
            paused=values["paused"],
            last_tick_at=now,
            created_at=now,
            updated_at=now,
        )
        added: list[Timer] = []
        async with self.store.unit():
            session = current_session()
            session.add(row)
            if not row.paused:
                added.append(await self._wait_for_next_tick(row, now))
            await session.flush()
            await self._audit(actor, "schedule_create", row, {"workflow_id": workflow_id})
        await self._notify(added)
        return self.view(row, now)

    async def page(
        self, workspace_id: str, *, workflow_id: str | None = None, page: int = 1, per_page: int = 100
    ) -> tuple[list[ScheduleView], int]:
        """The workspace's schedules, oldest first, one page of them, and how many there are."""
        table = WorkflowSchedule
        conditions = [table.workspace_id == uuid.UUID(workspace_id)]
        if workflow_id is not None:
            conditions.append(table.workflow_id == workflow_id)
        statement = (
            select(table)
            .where(*conditions)
            .order_by(table.created_at, table.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        async with self.store.unit():
            session = current_session()
            rows = list((await session.execute(statement)).scalars())
            total = (await session.execute(select(func.count()).select_from(table).where(*conditions))).scalar_one()
        now = utcnow()
        return [self.view(row, now) for row in rows], int(total)

    async def get(self, schedule_id: str, workspace_id: str) -> ScheduleView:
        """The schedule, if it belongs to ``workspace_id``; :class:`ScheduleNotFoundError` otherwise."""
        async with self.store.unit():
            row = await self._row(schedule_id, workspace_id)
        return self.view(row, utcnow())

    async def workspace_of(self, schedule_id: str) -> str:
        """The workspace of a schedule, for operators who name it by id only (:class:`ScheduleNotFoundError`)."""
        statement = select(WorkflowSchedule.workspace_id).where(WorkflowSchedule.id == schedule_key(schedule_id))
        async with self.store.unit():
            found = (await current_session().execute(statement)).scalar_one_or_none()
        if found is None:
            raise ScheduleNotFoundError(f"no schedule {schedule_id}")
        return str(found)

    async def change(
        self, schedule_id: str, workspace_id: str, body: Mapping[str, Any], *, actor: Actor | None = None
    ) -> ScheduleView:
        """Change the fields ``body`` gives (pause and resume with ``paused``). A new calendar, or a resume,
        starts from now: ticks before it are not caught up."""
        added: list[Timer] = []
        async with self.store.unit():
            row = await self._row(schedule_id, workspace_id, lock=True)
            current = {"cron": row.cron, "every": row.every_seconds, "timezone": row.timezone}
            fields = checked_fields(body, creating=False, current=current)
            values = fields.values
            if "input" in values:
                self.workflows.caller_input(
                    row.workflow_id,
                    values["input"],
                    workspace_id=workspace_id,
                    user_id=str(row.created_by_id or NO_USER),
                )
            now = utcnow()
            jitter, was_paused = row.jitter, row.paused
            restart = self._apply(row, fields)
            if restart or row.paused != was_paused or row.jitter != jitter:
                await self._drop_pending_timers(row)  # their ticks are not the schedule's any more
            if row.paused:
                row.next_tick_at = None
            elif restart or row.next_tick_at is None:
                row.last_tick_at = now
                added.append(await self._wait_for_next_tick(row, now))
            elif row.jitter != jitter:
                added.append(await self._wait_for_next_tick(row, now, row.next_tick_at))
            row.updated_at = now
            await current_session().flush()
            action = "schedule_update"
            if row.paused != was_paused:
                action = "schedule_pause" if row.paused else "schedule_resume"
            await self._audit(actor, action, row, {"fields": sorted(values)})
        await self._notify(added)
        return self.view(row, now)

    async def delete(self, schedule_id: str, workspace_id: str, *, actor: Actor | None = None) -> None:
        """Delete the schedule and its pending ticks (its runs stay, with their ``schedule_id``)."""
        async with self.store.unit():
            row = await self._row(schedule_id, workspace_id, lock=True)
            await self._drop_pending_timers(row)
            await self._audit(actor, "schedule_delete", row, {"workflow_id": row.workflow_id})
            await current_session().delete(row)

    async def trigger(self, schedule_id: str, workspace_id: str, *, actor: Actor | None = None) -> Execution:
        """Start one run now, whatever the calendar and the overlap policy (:class:`ScheduleNotFoundError`).

        The run is saved and audited under the schedule's lock, as a change or a delete takes it: a trigger
        racing a delete either starts its run first or finds no schedule. It is queued once that commits."""
        async with self.store.unit():
            row = await self._row(schedule_id, workspace_id, lock=True)
            try:
                runner = self.workflows.runner(row.workflow_id)
            except UnknownWorkflowError:
                raise ValidationError(
                    f"workflow {row.workflow_id!r} of this schedule is not loaded (is its pack disabled?)",
                    {"workflow_id": "no enabled pack provides it"},
                ) from None
            execution = runner.engine.new_execution(
                self._run_input(row),
                status=Status.PENDING,
                workspace_id=str(row.workspace_id),
                created_by_id=None if row.created_by_id is None else str(row.created_by_id),
                schedule_id=str(row.id),
            )
            await runner.add_pending(execution)
            await self._audit(actor, "schedule_trigger", row, {"execution_id": execution.id})
        await runner.deliver(execution.id)
        return await self.workflows.get(execution.id, workspace_id)

    def view(self, row: WorkflowSchedule, now: datetime.datetime) -> ScheduleView:
        """The schedule with its next :data:`NEXT_RUNS` fire times (none while paused)."""
        if row.paused:
            return ScheduleView(row, [])
        start = max(now, row.last_tick_at) if row.last_tick_at is not None else now
        return ScheduleView(row, calendar_of(row).after(start, NEXT_RUNS))

    # -- firing ----------------------------------------------------------------------------------

    async def fire(self, timer: Timer, firing: Firing) -> None:
        """The handler of ``schedule`` timers (see the module docstring)."""
        if timer.schedule_id is None:
            return
        session = current_session()
        statement = select(WorkflowSchedule).where(WorkflowSchedule.id == uuid.UUID(timer.schedule_id))
        await self._lock(uuid.UUID(timer.schedule_id))
        row = (await session.execute(statement)).scalar_one_or_none()
        if row is None or row.paused:
            return
        now = firing.now
        definition = self.workflows.definitions.get(row.workflow_id)
        unfinished = await self._unfinished(row.id)
        if row.buffered_tick_at is not None and not unfinished:
            if definition is not None:
                unfinished = [await self._start(row, row.buffered_tick_at, firing)]
            row.buffered_tick_at = None
        last_tick = row.last_tick_at or row.created_at
        ticks = plan_ticks(
            calendar_of(row),
            last_tick=last_tick,
            now=now,
            catch_up=row.catch_up,
            catch_up_window=row.catch_up_window,
            jitter=datetime.timedelta(seconds=row.jitter),
        )
        if ticks.missed:
            logger.info("schedule %s: %d missed tick(s) not run (catch_up %s)", row.id, len(ticks.missed), row.catch_up)
        for tick in ticks.runs:
            if definition is None:
                logger.warning("schedule %s: workflow %r is not loaded; tick %s skipped", row.id, row.workflow_id, tick)
                continue
            action = overlap_action(row.overlap, unfinished=bool(unfinished), buffered=row.buffered_tick_at is not None)
            if action is OverlapAction.SKIP:
                logger.info("schedule %s: tick %s skipped, a run is unfinished (overlap %s)", row.id, tick, row.overlap)
                continue
            if action is OverlapAction.BUFFER:
                row.buffered_tick_at = tick
                continue
            if action is OverlapAction.CANCEL_AND_START:
                for execution_id in unfinished:
                    await self._cancel(execution_id)
                unfinished = []
            unfinished.append(await self._start(row, tick, firing))
        moved = ticks.last_tick != last_tick or row.next_tick_at != ticks.next_tick
        row.last_tick_at = ticks.last_tick
        row.updated_at = now
        if moved or row.next_tick_at is None:
            await self._wait_for_next_tick(row, now, ticks.next_tick)
        if row.buffered_tick_at is not None:
            check = now + datetime.timedelta(seconds=BUFFER_CHECK_SECONDS)
            await self.store.add_timer(
                Timer(kind=SCHEDULE_TIMER_KIND, due_at=check, schedule_id=str(row.id), payload={"check": True})
            )
        await session.flush()

    async def _start(self, row: WorkflowSchedule, tick: datetime.datetime, firing: Firing) -> str:
        """Insert the run of ``tick`` as a pending execution (once per tick) and deliver it after the commit."""
        definition = self.workflows.definitions[row.workflow_id]
        execution = self.workflows.runner(row.workflow_id).engine.new_execution(
            self._run_input(row),
            run_id(str(row.id), tick),
            status=Status.PENDING,
            workspace_id=str(row.workspace_id),
            created_by_id=None if row.created_by_id is None else str(row.created_by_id),
            schedule_id=str(row.id),
        )
        await self.workflows.catalog.snapshot(definition)
        if await self.store.add(execution):
            firing.deliver(execution.id)
        return execution.id

    async def _cancel(self, execution_id: str) -> None:
        try:
            await cancel(self.store, execution_id)
        except Exception:  # it ended meanwhile: nothing to cancel
            logger.info("schedule run %s ended before it could be cancelled", execution_id)

    async def _unfinished(self, schedule_id: uuid.UUID) -> list[str]:
        """The schedule's runs that are pending, running or halted."""
        table = WorkflowExecution
        statement = select(table.id).where(
            table.schedule_id == schedule_id, table.status.in_([str(status) for status in UNFINISHED])
        )
        return [str(key) for key in (await current_session().execute(statement)).scalars()]

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    async def _audit(actor: Actor | None, action: str, row: WorkflowSchedule, details: dict[str, Any]) -> None:
        """Record ``action`` on the schedule in the audit log, in the open unit (it commits with the change)."""
        if actor is None:
            return
        await record_action(
            current_session(),
            workspace_id=row.workspace_id,
            actor_id=actor.user_id,
            action=action,
            target_type="schedule",
            target_id=str(row.id),
            source=actor.source,
            details=details,
        )

    def _run_input(self, row: WorkflowSchedule) -> dict[str, Any]:
        """A run's input: the schedule's, with the creator and workspace where the workflow declares them."""
        definition = self.workflows.definitions.get(row.workflow_id)
        run_input = dict(row.input or {})
        if definition is not None and "user_id" in definition.inputs and row.created_by_id is not None:
            run_input["user_id"] = str(row.created_by_id)
        if definition is not None and "workspace_id" in definition.inputs:
            run_input["workspace_id"] = str(row.workspace_id)
        return run_input

    async def _row(self, schedule_id: str, workspace_id: str, *, lock: bool = False) -> WorkflowSchedule:
        key = schedule_key(schedule_id)
        statement = select(WorkflowSchedule).where(
            WorkflowSchedule.id == key, WorkflowSchedule.workspace_id == uuid.UUID(workspace_id)
        )
        if lock:
            await self._lock(key, workspace_id)
        row = (await current_session().execute(statement)).scalar_one_or_none()
        if row is None:
            raise ScheduleNotFoundError(f"no schedule {schedule_id}")
        return row

    @staticmethod
    async def _lock(key: uuid.UUID, workspace_id: str | None = None) -> None:
        """Lock the schedule's row for the unit by writing it first: a row lock on PostgreSQL, and on SQLite the
        database's write lock taken before anything is read (a read-then-write transaction could otherwise
        find the lock taken by another process and fail at once instead of waiting)."""
        statement = update(WorkflowSchedule).where(WorkflowSchedule.id == key)
        if workspace_id is not None:
            statement = statement.where(WorkflowSchedule.workspace_id == uuid.UUID(workspace_id))
        await current_session().execute(
            statement.values(updated_at=WorkflowSchedule.updated_at).execution_options(synchronize_session=False)
        )

    @staticmethod
    def _apply(row: WorkflowSchedule, fields: ScheduleFields) -> bool:
        """Set the given fields on ``row``; whether its calendar changed or it was resumed (a restart)."""
        values = fields.values
        restart = False
        if "cron" in values or "every" in values:
            cron, every = values.get("cron"), values.get("every")
            restart = restart or (cron, every) != (row.cron, row.every_seconds)
            row.cron, row.every_seconds = cron, every
        if "timezone" in values:
            restart = restart or values["timezone"] != row.timezone
            row.timezone = values["timezone"]
        if "paused" in values:
            restart = restart or (row.paused and not values["paused"])
            row.paused = values["paused"]
        for name in ("input", "overlap", "catch_up", "catch_up_window", "jitter"):
            if name in values:
                setattr(row, name, values[name])
        return restart

    @staticmethod
    async def _drop_pending_timers(row: WorkflowSchedule) -> None:
        """Delete the schedule's timers that have not fired (its next tick's, a buffered run's check), in the
        open unit: a change of calendar, jitter or pause adds the timer of the tick it plans instead."""
        await current_session().execute(
            delete(WorkflowTimer).where(WorkflowTimer.schedule_id == row.id, WorkflowTimer.fired_at.is_(None))
        )

    async def _wait_for_next_tick(
        self, row: WorkflowSchedule, now: datetime.datetime, next_tick: datetime.datetime | None = None
    ) -> Timer:
        """Set the schedule's next tick (after ``now``) and add the timer that fires it (after its jitter)."""
        tick = next_tick or calendar_of(row).after(now, 1)[0]
        row.next_tick_at = tick
        timer = Timer(
            kind=SCHEDULE_TIMER_KIND,
            due_at=tick + jitter_of(str(row.id), tick, row.jitter),
            schedule_id=str(row.id),
            payload={"tick": tick.isoformat()},
        )
        await self.store.add_timer(timer)
        return timer

    async def _notify(self, added: list[Timer]) -> None:
        if added and self.timers_added is not None:
            try:
                await self.timers_added(added)
            except Exception:  # the sweep fires them anyway
                logger.warning("could not schedule the delivery of %d timer(s)", len(added), exc_info=True)


__all__ = ["SCHEDULE_TIMER_KIND", "Actor", "ScheduleNotFoundError", "ScheduleService", "ScheduleView", "calendar_of"]
