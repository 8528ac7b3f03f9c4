"""The settings file (packflow.toml): core settings under [packflow], each pack's under [packs.<name>]."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError

EXAMPLE = """
[packflow]
packs = ["contacts_service", "pftest_configured"]
database_url = "sqlite+aiosqlite:///from-file.db"
max_body_bytes = 2048
auto_migrate = false
env = "production"
lease_seconds = 2.5

[packs.pftest_configured]
api_key = "k-123"
retries = 5

[packs.pftest_also_configured]
greeting = "hi"
"""


def write(folder: Path, text: str, name: str = "packflow.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_named_by_packflow_settings_file_sets_core_and_pack_settings(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE, "deploy.toml")
    settings = Settings.from_env({"PACKFLOW_SETTINGS_FILE": str(path)})
    assert settings.settings_file == str(path)
    assert settings.packs == ("contacts_service", "pftest_configured")
    assert settings.database_url == "sqlite+aiosqlite:///from-file.db"
    assert (settings.max_body_bytes, settings.auto_migrate, settings.production) == (2048, False, True)
    assert settings.lease_seconds == 2.5
    assert settings.pack_settings == {
        "pftest_configured": {"api_key": "k-123", "retries": 5},
        "pftest_also_configured": {"greeting": "hi"},
    }
    assert settings.pack_sources["pftest_configured"] == {
        "api_key": f"{path} [packs.pftest_configured]",
        "retries": f"{path} [packs.pftest_configured]",
    }


def test_packflow_toml_in_the_current_directory_is_read_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, EXAMPLE)
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).packs == ("contacts_service", "pftest_configured")
    monkeypatch.chdir(tmp_path.parent)
    assert Settings.from_env({}).packs == ("contacts_service",)
    assert Settings.from_env({}).settings_file is None


def test_environment_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    settings = Settings.from_env(
        {
            "PACKFLOW_SETTINGS_FILE": str(path),
            "PACKFLOW_PACKS": "pftest_configured",
            "PACKFLOW_MAX_BODY_BYTES": "4096",
            "PACKFLOW_PFTEST_CONFIGURED__RETRIES": "9",
            "PACKFLOW_PFTEST_CONFIGURED__REGION": "us",
        }
    )
    assert settings.packs == ("pftest_configured",)
    assert settings.max_body_bytes == 4096
    assert settings.auto_migrate is False  # not overridden: from the file
    assert settings.pack_settings["pftest_configured"] == {"api_key": "k-123", "retries": "9", "region": "us"}
    assert settings.pack_sources["pftest_configured"]["retries"] == "PACKFLOW_PFTEST_CONFIGURED__RETRIES"
    assert "configured__retries" not in settings.extra


def test_an_empty_packs_list_enables_core_only(tmp_path: Path) -> None:
    path = write(tmp_path, "[packflow]\npacks = []\n")
    assert Settings.from_env({"PACKFLOW_SETTINGS_FILE": str(path)}).enabled_packs == ("core",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[packflow]\npacks = [", "is not valid TOML"),
        ("[packflow]\ndatabse_url = 'x'\n", "[packflow]: unknown setting 'databse_url'; known settings: auto_migrate"),
        (
            "[deals]\ncurrency = 'EUR'\n",
            "unknown table or key 'deals'; core settings go under [packflow], a pack's under [packs.<pack name>]",
        ),
        (
            "[packflow]\npacks = 'contacts_service'\n",
            "[packflow] packs must be a list of pack names, got 'contacts_service'",
        ),
        ("[packflow]\nmax_body_bytes = 'lots'\n", "[packflow] max_body_bytes must be a positive integer, got 'lots'"),
        ("[packflow]\nqueue = 'celery'\n", "[packflow] queue must be one of inline, saq, got 'celery'"),
        (
            "[packflow]\nauto_migrate = [true]\n",
            "[packflow] auto_migrate must be a string, number or boolean, got [True]",
        ),
        ("packs = 3\n", "[packs] must be a table, got int 3"),
        ("[packs]\ndeals = 3\n", "[packs.deals] must be a table, got int 3"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PACKFLOW_SETTINGS_FILE": str(path)})
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_a_missing_settings_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(
        SettingsError, match=re.escape(f"PACKFLOW_SETTINGS_FILE: settings file {missing} does not exist")
    ):
        Settings.from_env({"PACKFLOW_SETTINGS_FILE": str(missing)})
