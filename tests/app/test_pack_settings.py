"""Each pack's settings section, validated against the Struct it declares (register_settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Router

from app import create_app
from app.packs import PackError, load_packs, route_name
from app.settings import Settings
from packs.core import pack_settings
from packs.core.http.resources import ResourcesController
from packs.core.settings import registry
from tests.fixture_packs.also_configured import AlsoConfiguredSettings
from tests.fixture_packs.configured import ConfiguredSettings
from tests.fixture_packs.probe import explode
from tests.support.harness import auth, harness_for, http_client, make_settings
from tests.support.processes import litestar_in, plain

FILE = "packflow.toml [packs.pftest_configured]"


def load(packs: tuple[str, ...], settings: dict[str, dict[str, Any]], source: str = FILE) -> None:
    load_packs(
        packs,
        settings=settings,
        setting_sources={pack: dict.fromkeys(section, source) for pack, section in settings.items()},
    )


def test_a_pack_reads_its_validated_section_by_its_own_struct() -> None:
    load(
        ("pftest_configured", "pftest_also_configured"),
        {"pftest_configured": {"api_key": "k", "retries": "7", "verbose": "true"}},
    )
    assert pack_settings(ConfiguredSettings) == ConfiguredSettings(api_key="k", retries=7, verbose=True)
    assert pack_settings(AlsoConfiguredSettings) == AlsoConfiguredSettings()  # no section: the defaults
    assert registry.of("pftest_configured") == ConfiguredSettings(api_key="k", retries=7, verbose=True)


def test_the_settings_of_a_pack_that_is_no_longer_enabled_are_gone() -> None:
    load(("pftest_configured",), {"pftest_configured": {"api_key": "k"}})
    load((), {"pftest_configured": {"api_key": "k"}})  # a disabled pack's section is ignored
    with pytest.raises(LookupError, match="no enabled pack declares the settings ConfiguredSettings"):
        pack_settings(ConfiguredSettings)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"api_key": "k", "retries": "many"},
            f"pack 'pftest_configured': setting 'retries' ({FILE}): Expected `int`, got `str`",
        ),
        ({"api_key": "k", "retries": -1}, f"pack 'pftest_configured': setting 'retries' ({FILE}): Expected `int` >= 0"),
        (
            {"api_key": "k", "region": "mars"},
            f"pack 'pftest_configured': setting 'region' ({FILE}): Invalid enum value 'mars'",
        ),
        ({"retries": 1}, "pack 'pftest_configured': setting 'api_key' is required (ConfiguredSettings) but not set"),
        (
            {"api_key": "k", "retry": 1},
            f"pack 'pftest_configured': unknown setting 'retry' ({FILE}); "
            "known settings: api_key, retries, region, verbose",
        ),
    ],
)
def test_bad_settings_stop_startup_naming_the_pack_the_key_and_the_problem(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(PackError) as raised:
        load(("pftest_configured",), {"pftest_configured": section})
    assert message in str(raised.value)


def test_settings_for_a_pack_that_declares_none_stop_startup() -> None:
    with pytest.raises(PackError) as raised:
        load(("contacts_service",), {"contacts_service": {"colour": "blue"}}, "PACKFLOW_CONTACTS_SERVICE__COLOUR")
    assert str(raised.value) == (
        "pack 'contacts_service' declares no settings (no register_settings hook), but settings are given for it: "
        "'colour' (PACKFLOW_CONTACTS_SERVICE__COLOUR)"
    )


def test_register_settings_must_return_a_struct_class() -> None:
    with pytest.raises(
        PackError, match=r"pack 'pftest_bad_settings_hook': hook register_settings must return a msgspec.Struct"
    ):
        load_packs(["pftest_bad_settings_hook"])


def test_packs_list_shows_the_setting_names() -> None:
    loaded = load_packs(["pftest_configured"], settings={"pftest_configured": {"api_key": "k"}})
    assert loaded.contributions["pftest_configured"].summary()["settings"] == [
        "api_key",
        "retries",
        "region",
        "verbose",
    ]
    assert loaded.contributions["core"].summary()["settings"] == []


async def test_tools_read_their_packs_settings_over_http(sqlite_database_url: str) -> None:
    settings = make_settings(
        sqlite_database_url,
        packs=("pftest_configured", "pftest_also_configured"),
        pack_settings={
            "pftest_configured": {"api_key": "secret", "region": "us"},
            "pftest_also_configured": {"greeting": "hi"},
        },
    )
    async with harness_for(settings) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            configured = await client.get("/api/v1/configured/settings", headers=auth(issued))
            also = await client.get("/api/v1/also_configured/settings", headers=auth(issued))
    assert configured.json()["data"] == {"api_key": "secret", "retries": 3, "region": "us", "verbose": False}
    assert also.json()["data"] == {"retries": 1, "greeting": "hi"}


def test_create_app_stops_on_bad_settings_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "packflow.toml"
    path.write_text(
        '[packflow]\npacks = ["pftest_configured"]\n\n[packs.pftest_configured]\napi_key = "k"\nretries = "x"\n'
    )
    with pytest.raises(PackError) as raised:
        create_app(Settings.from_env({"PACKFLOW_SETTINGS_FILE": str(path), "PACKFLOW_AUTO_MIGRATE": "false"}))
    assert str(raised.value).startswith(
        f"pack 'pftest_configured': setting 'retries' ({path} [packs.pftest_configured]): "
    )


@pytest.mark.processes
def test_the_command_line_stops_on_bad_settings_with_the_message(tmp_path: Path, fixture_packs: Path) -> None:
    (tmp_path / "packflow.toml").write_text(
        '[packflow]\npacks = ["pftest_configured"]\n\n[packs.pftest_configured]\nretries = 2\n'
    )
    result = litestar_in(tmp_path, fixture_packs, "database", "upgrade", "--no-prompt")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr  # the message alone
    assert "pack 'pftest_configured': setting 'api_key' is required (ConfiguredSettings) but not set" in plain(
        result.stderr
    )
    assert not (tmp_path / "never.db").exists()


def test_packs_list_names_a_route_handler_by_its_method_and_path() -> None:
    """A function route (``@get(...)``) was listed as its object's repr, with a memory address."""
    assert route_name(explode) == "GET /probe/explode"
    assert route_name(ResourcesController) == "ResourcesController"
    assert route_name(Router(path="/extra", route_handlers=[])) == "router /extra"
