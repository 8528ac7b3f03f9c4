"""The ticks of a schedule (docs/http-api.md, Schedules): cron on the timezone's wall clock across DST, and
``every`` on the epoch's grid."""

from __future__ import annotations

import datetime

import pytest

from packs.core.schedules.calendar import Calendar, CalendarError

UTC = datetime.UTC


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def paris_walls(ticks: list[datetime.datetime]) -> list[str]:
    zone = Calendar(every=1, timezone="Europe/Paris").zone
    return [tick.astimezone(zone).isoformat() for tick in ticks]


def test_a_nightly_cron_in_paris_keeps_its_wall_time_across_both_dst_changes() -> None:
    nightly = Calendar(cron="0 2 * * *", timezone="Europe/Paris")
    march = nightly.after(at(2026, 3, 27), 4)
    # 29 March 2026: 02:00 CET does not exist (clocks jump to 03:00 CEST); the run is not lost.
    assert paris_walls(march) == [
        "2026-03-27T02:00:00+01:00",
        "2026-03-28T02:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:00:00+02:00",
    ]
    assert march[-1] - march[-2] == datetime.timedelta(hours=23)
    october = nightly.after(at(2026, 10, 22, 12), 4)
    # 25 October 2026: 02:00 happens twice (CEST, then CET); the run fires once, at the first.
    assert paris_walls(october) == [
        "2026-10-23T02:00:00+02:00",
        "2026-10-24T02:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-26T02:00:00+01:00",
    ]
    assert october[-1] - october[-2] == datetime.timedelta(hours=25)


def test_a_skipped_wall_time_lands_after_the_jump_by_as_much_and_ties_fire_once() -> None:
    half_hourly = Calendar(cron="*/30 1-3 * * *", timezone="Europe/Paris")
    ticks = half_hourly.between(at(2026, 3, 28, 23), at(2026, 3, 29, 2), 100)
    # 02:00 and 02:30 CET do not exist: they land on 03:00 and 03:30 CEST, which the cron has anyway.
    assert paris_walls(ticks) == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_a_cron_in_utc_and_in_a_fixed_offset_zone() -> None:
    assert Calendar(cron="15 8 * * 1").after(at(2026, 12, 1), 2) == [at(2026, 12, 7, 8, 15), at(2026, 12, 14, 8, 15)]
    tokyo = Calendar(cron="0 9 * * *", timezone="Asia/Tokyo")
    assert tokyo.after(at(2026, 11, 30, 23), 2) == [at(2026, 12, 1, 0, 0), at(2026, 12, 2, 0, 0)]


def test_after_is_strictly_after_and_between_is_left_open_right_closed() -> None:
    hourly = Calendar(cron="0 * * * *")
    assert hourly.after(at(2026, 12, 1, 10), 1) == [at(2026, 12, 1, 11)]
    assert hourly.between(at(2026, 12, 1, 10), at(2026, 12, 1, 12), 10) == [at(2026, 12, 1, 11), at(2026, 12, 1, 12)]
    assert hourly.between(at(2026, 12, 1, 10), at(2026, 12, 1, 15), 2) == [at(2026, 12, 1, 14), at(2026, 12, 1, 15)]
    assert hourly.between(at(2026, 12, 1, 12), at(2026, 12, 1, 12), 10) == []


def test_every_ticks_on_the_epoch_grid_whatever_the_timezone() -> None:
    moment = datetime.datetime(2026, 12, 1, 0, 0, 1, 500, tzinfo=UTC)
    assert Calendar(every=2, timezone="Europe/Paris").after(moment, 3) == [
        at(2026, 12, 1, 0, 0, 2),
        at(2026, 12, 1, 0, 0, 4),
        at(2026, 12, 1, 0, 0, 6),
    ]
    assert Calendar(every=2).between(at(2026, 12, 1), at(2026, 12, 1, 0, 0, 7), 10) == [
        at(2026, 12, 1, 0, 0, 2),
        at(2026, 12, 1, 0, 0, 4),
        at(2026, 12, 1, 0, 0, 6),
    ]
    # Across a DST change the grid keeps real-time spacing.
    every_hour = Calendar(every=3600, timezone="Europe/Paris").after(at(2026, 3, 29, 0, 30), 2)
    assert every_hour[1] - every_hour[0] == datetime.timedelta(hours=1)


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ({"cron": "0 2 * *"}, "cron", "has 4 field(s); give five"),
        ({"cron": "0 2 * * * *"}, "cron", "has 6 field(s)"),
        ({"cron": "61 2 * * *"}, "cron", "is not valid"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown timezone 'Mars/Olympus'"),
        ({"cron": "0 2 * * *", "timezone": "../etc/passwd"}, "timezone", "unknown timezone"),
        # Files of the zoneinfo folder that name no IANA zone: this machine's own, a placeholder, a leap-second copy.
        ({"cron": "0 2 * * *", "timezone": "localtime"}, "timezone", "unknown timezone 'localtime'"),
        ({"cron": "0 2 * * *", "timezone": "Factory"}, "timezone", "unknown timezone 'Factory'"),
        ({"cron": "0 2 * * *", "timezone": "posixrules"}, "timezone", "unknown timezone 'posixrules'"),
        ({"cron": "0 2 * * *", "timezone": "right/UTC"}, "timezone", "unknown timezone 'right/UTC'"),
        ({"every": 0}, "every", "at least 1"),
        ({}, "cron", "either cron"),
        ({"cron": "0 2 * * *", "every": 5}, "cron", "not both"),
    ],
)
def test_a_bad_calendar_names_its_field(given: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(CalendarError) as raised:
        Calendar(**given)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert words in str(raised.value)
