"""Pack discovery through real entry points, enabling by configuration, and startup errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import create_app
from app.packs import PackError, installed_packs, load_packs
from app.settings import Settings
from packs.core.features import registry as features
from packs.core.schemas import registry as schemas
from tests.support.harness import auth, harness_for, http_client, make_settings
from tests.support.processes import litestar_in, plain


def test_in_repo_packs_are_declared_as_entry_points() -> None:
    installed = installed_packs()
    assert installed["core"].module == "packs.core.hooks"
    assert installed["contacts_service"].module == "packs.contacts_service.hooks"
    assert installed["core"].distribution == "packflow-platform"
    assert installed["pftest_probe"].distribution == "packflow-fixture-packs"
    assert installed["pftest_probe"].version == "1.2.3"


def test_core_is_always_enabled_and_first() -> None:
    loaded = load_packs(["contacts_service", "core"])
    assert loaded.enabled == ("core", "contacts_service")
    assert load_packs([]).enabled == ("core",)


def test_enabled_packs_fill_the_registries() -> None:
    load_packs(["contacts_service"])
    assert schemas.slugs() == ["contact"]
    assert [feature.slug for feature in features.all()] == ["workspaces/contacts"]
    assert features.owner("workspaces", "contacts") == "contacts_service"
    load_packs([])
    assert schemas.slugs() == []
    assert features.all() == []


def test_a_pack_that_is_not_installed_stops_startup_listing_the_installed_ones() -> None:
    with pytest.raises(PackError) as raised:
        create_app(Settings(packs=("contacts_service", "crm"), auto_migrate=False))
    message = str(raised.value)
    assert "'crm' is enabled (PACKFLOW_PACKS or the settings file's [packflow] packs) but not installed" in message
    assert "installed packs: " in message
    for name in ("contacts_service", "core", "pftest_probe"):
        assert name in message.split("installed packs: ")[1]


def test_two_packs_registering_one_feature_stop_startup_naming_both() -> None:
    with pytest.raises(
        PackError,
        match=r"feature 'probes/things' is registered by pack 'pftest_probe' and by pack 'pftest_clash_feature'",
    ):
        load_packs(["pftest_probe", "pftest_clash_feature"])


def test_two_packs_registering_one_schema_stop_startup_naming_both() -> None:
    with pytest.raises(
        PackError,
        match=(
            r"schema 'contact' is registered by pack 'contacts_service' \(Contact\) "
            r"and by pack 'pftest_clash_schema'"
        ),
    ):
        load_packs(["contacts_service", "pftest_clash_schema"])


@pytest.mark.parametrize(
    ("pack", "message"),
    [
        (
            "pftest_broken_hook",
            "pack 'pftest_broken_hook': hook register_features raised RuntimeError: "
            "the feature list could not be built",
        ),
        ("pftest_unknown_hook", "pack 'pftest_unknown_hook': unknown hook 'register_widgets'"),
        ("pftest_missing_module", "pack 'pftest_missing_module': cannot import 'tests.fixture_packs.does_not_exist'"),
    ],
)
def test_broken_packs_stop_startup_naming_the_pack(pack: str, message: str) -> None:
    with pytest.raises(PackError) as raised:
        load_packs([pack])
    assert message in str(raised.value)


def test_a_feature_whose_schema_no_pack_registers_stops_startup() -> None:
    with pytest.raises(PackError, match=r"pack 'pftest_orphan_feature': feature orphans/things uses schema 'nowhere'"):
        load_packs(["pftest_orphan_feature"])


async def test_core_only_app_answers_404_for_contacts(sqlite_database_url: str) -> None:
    async with harness_for(make_settings(sqlite_database_url, packs=())) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            response = await client.get("/api/v1/workspaces/contacts", headers=auth(issued))
            assert response.status_code == 404
            assert response.json() == {"error": "no feature workspaces/contacts"}
            assert "/api/v1/workspaces/contacts" not in (await client.get("/schema/openapi.json")).json()["paths"]


async def test_app_with_contacts_enabled_answers_contacts(sqlite_database_url: str) -> None:
    async with harness_for(make_settings(sqlite_database_url, packs=("contacts_service",))) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            response = await client.get("/api/v1/workspaces/contacts", headers=auth(issued))
            assert response.status_code == 200


def test_packs_setting_comes_from_the_environment() -> None:
    assert Settings.from_env({"PACKFLOW_PACKS": " contacts_service , pftest_probe ,"}).packs == (
        "contacts_service",
        "pftest_probe",
    )
    assert Settings.from_env({"PACKFLOW_PACKS": ""}).enabled_packs == ("core",)
    assert Settings.from_env({}).enabled_packs == ("core", "contacts_service")


@pytest.mark.parametrize(
    ("packs", "pack_settings", "message"),
    [
        ("pftest_broken_hook", "", "pack 'pftest_broken_hook': hook register_features raised RuntimeError"),
        (
            "pftest_probe,pftest_clash_feature",
            "",
            "feature 'probes/things' is registered by pack 'pftest_probe' and by pack 'pftest_clash_feature'",
        ),
        ("pftest_bad_workflows", "", "(pack 'pftest_bad_workflows'): "),
        ("pftest_configured", "retries = -1\napi_key = 'k'\n", "pack 'pftest_configured': setting 'retries' ("),
    ],
)
@pytest.mark.processes
def test_a_bad_pack_stops_a_real_server_before_it_serves(
    packs: str, pack_settings: str, message: str, tmp_path: Path, fixture_packs: Path
) -> None:
    (tmp_path / "packflow.toml").write_text(f"[packs.pftest_configured]\n{pack_settings}", encoding="utf-8")
    # startup stops before the server would listen (on a port nobody may take)
    result = litestar_in(tmp_path, fixture_packs, "run", "--port", "1", PACKFLOW_PACKS=packs)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in plain(result.stderr)
    assert not (tmp_path / "never.db").exists()
