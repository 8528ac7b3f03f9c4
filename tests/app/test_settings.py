"""PACKFLOW_* settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults_need_nothing_installed() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.packs == ("contacts_service",)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.auto_migrate is True
    assert settings.production is False


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "PACKFLOW_DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "PACKFLOW_PACKS": "a,b",
            "PACKFLOW_MAX_BODY_BYTES": "2048",
            "PACKFLOW_ENV": "Production",
            "PACKFLOW_AUTO_MIGRATE": "false",
            "PACKFLOW_ECHO_SQL": "yes",
            "PACKFLOW_CRM_API_KEY": "secret",
            "OTHER": "ignored",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.enabled_packs == ("core", "a", "b")
    assert settings.max_body_bytes == 2048
    assert settings.production is True
    assert settings.auto_migrate is False
    assert settings.echo_sql is True
    assert settings.extra == {"crm_api_key": "secret"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PACKFLOW_MAX_BODY_BYTES": "lots"},
            "PACKFLOW_MAX_BODY_BYTES must be a positive integer, got 'lots'",
        ),
        ({"PACKFLOW_MAX_BODY_BYTES": "0"}, "PACKFLOW_MAX_BODY_BYTES must be a positive integer, got '0'"),
        ({"PACKFLOW_ENV": "staging"}, "PACKFLOW_ENV must be one of development, production, got 'staging'"),
        ({"PACKFLOW_AUTO_MIGRATE": "maybe"}, "PACKFLOW_AUTO_MIGRATE must be true or false, got 'maybe'"),
    ],
)
def test_bad_values_are_refused_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert str(raised.value) == message


def test_the_queue_is_inline_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.queue, settings.queue_url, settings.queue_name) == ("inline", None, "packflow-workflows")
    assert (settings.worker_concurrency, settings.lease_seconds, settings.max_attempts) == (10, 30.0, 5)
    assert (settings.retry_backoff_seconds, settings.sweep_seconds) == (1.0, 5.0)
    assert (settings.timer_resolution_seconds, settings.timer_retention_seconds) == (0.5, 3600.0)


def test_the_timer_resolution_is_a_setting() -> None:
    assert Settings.from_env({"PACKFLOW_TIMER_RESOLUTION_SECONDS": "0.1"}).timer_resolution_seconds == 0.1


def test_the_retention_of_fired_timers_is_a_setting_and_the_apps_sweep_uses_it(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PACKFLOW_TIMER_RETENTION_SECONDS": "60", "PACKFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    )
    assert settings.timer_retention_seconds == 60.0
    timers = create_app(settings).state.workflows.timers
    assert timers is not None
    assert timers.retention == 60.0
    with pytest.raises(SettingsError, match="PACKFLOW_TIMER_RETENTION_SECONDS"):
        Settings.from_env({"PACKFLOW_TIMER_RETENTION_SECONDS": "0"})


def test_the_saq_queue_lives_in_the_postgresql_database_unless_told_otherwise() -> None:
    on_postgres = Settings.from_env(
        {"PACKFLOW_QUEUE": "saq", "PACKFLOW_DATABASE_URL": "postgresql+asyncpg://u:pw@h:5432/db"}
    )
    assert on_postgres.queue_url == "postgresql://u:pw@h:5432/db"
    on_redis = Settings.from_env(
        {
            "PACKFLOW_QUEUE": "SAQ",
            "PACKFLOW_QUEUE_URL": "redis://127.0.0.1:6379/0",
            "PACKFLOW_QUEUE_NAME": "crm-workflows",
            "PACKFLOW_WORKER_CONCURRENCY": "3",
            "PACKFLOW_LEASE_SECONDS": "2.5",
            "PACKFLOW_MAX_ATTEMPTS": "7",
            "PACKFLOW_RETRY_BACKOFF_SECONDS": "0.5",
            "PACKFLOW_SWEEP_SECONDS": "0.25",
        }
    )
    assert (on_redis.queue, on_redis.queue_url, on_redis.worker_concurrency) == ("saq", "redis://127.0.0.1:6379/0", 3)
    assert (on_redis.lease_seconds, on_redis.max_attempts, on_redis.queue_name) == (2.5, 7, "crm-workflows")
    assert (on_redis.retry_backoff_seconds, on_redis.sweep_seconds) == (0.5, 0.25)
    assert "queue" not in on_redis.extra


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PACKFLOW_QUEUE": "celery"}, "PACKFLOW_QUEUE must be one of inline, saq, got 'celery'"),
        ({"PACKFLOW_QUEUE": "saq"}, "PACKFLOW_QUEUE=saq needs a broker: set PACKFLOW_QUEUE_URL"),
        ({"PACKFLOW_LEASE_SECONDS": "soon"}, "PACKFLOW_LEASE_SECONDS must be a positive number, got 'soon'"),
        ({"PACKFLOW_SWEEP_SECONDS": "0"}, "PACKFLOW_SWEEP_SECONDS must be a positive number, got '0'"),
        (
            {"PACKFLOW_TIMER_RESOLUTION_SECONDS": "0"},
            "PACKFLOW_TIMER_RESOLUTION_SECONDS must be a positive number, got '0'",
        ),
        ({"PACKFLOW_MAX_ATTEMPTS": "-1"}, "PACKFLOW_MAX_ATTEMPTS must be a positive integer, got '-1'"),
        # float() reads these, and a lease of nan or inf seconds made every claim fail: nothing queued ever ran.
        ({"PACKFLOW_LEASE_SECONDS": "nan"}, "PACKFLOW_LEASE_SECONDS must be a positive number, got 'nan'"),
        ({"PACKFLOW_LEASE_SECONDS": "inf"}, "PACKFLOW_LEASE_SECONDS must be a positive number, got 'inf'"),
        (
            {"PACKFLOW_TIMER_RESOLUTION_SECONDS": "NaN"},
            "PACKFLOW_TIMER_RESOLUTION_SECONDS must be a positive number, got 'NaN'",
        ),
        ({"PACKFLOW_SWEEP_SECONDS": "1e999"}, "PACKFLOW_SWEEP_SECONDS must be a positive number, got '1e999'"),
        # Refused before anything connects (each was a traceback from SQLAlchemy, a driver import or SAQ).
        ({"PACKFLOW_DATABASE_URL": "nonsense"}, "PACKFLOW_DATABASE_URL is not a database URL: give e.g. sqlite+"),
        ({"PACKFLOW_DATABASE_URL": "postgresql://u@h/db"}, "PACKFLOW_DATABASE_URL must be a SQLite (sqlite+aiosqlite)"),
        ({"PACKFLOW_DATABASE_URL": "mysql+aiomysql://u@h/db"}, "got 'mysql+aiomysql'"),
        (
            {"PACKFLOW_QUEUE": "saq", "PACKFLOW_QUEUE_URL": "bogus://x"},
            "PACKFLOW_QUEUE_URL must be a postgresql:// or redis:// URL (the SAQ broker), got 'bogus'",
        ),
    ],
)
def test_bad_queue_settings_are_refused_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)
