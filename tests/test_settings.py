"""PACKFLOW_* settings."""

from __future__ import annotations

import pytest

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
