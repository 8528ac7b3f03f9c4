"""Tests of workspace schedules (packs/core/schedules): the calendar, the policies, the HTTP API, the firing."""
