"""Workspace schedules of workflows (docs/http-api.md, Schedules): the calendar of ticks, the catch-up and
overlap policies, the schedules' storage and service, and the firing of ticks as durable timers."""
