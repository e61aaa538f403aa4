"""Settings parsing and the seed generator: pure functions, no database."""

from __future__ import annotations

import pytest
from geoapi.seed import REGIONS, generate_farms
from geoapi.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.app_version == "dev"
    assert settings.require_database is False


def test_environment_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:p@db:5432/geo",
            "APP_VERSION": "sha-1234abc",
            "PORT": "9000",
            "HOST": "0.0.0.0",  # nosec B104 - a value under test, nothing binds here
            "GEOAPI_REQUIRE_DATABASE": "TRUE",
        }
    )
    assert settings.database_url == "postgresql://u:p@db:5432/geo"
    assert settings.app_version == "sha-1234abc"
    assert settings.port == 9000
    assert settings.host == "0.0.0.0"  # nosec B104
    assert settings.require_database is True


def test_required_database_missing_is_an_error() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        Settings.from_env({"GEOAPI_REQUIRE_DATABASE": "true"})


def test_empty_database_url_counts_as_missing() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        Settings.from_env({"GEOAPI_REQUIRE_DATABASE": "1", "DATABASE_URL": ""})


@pytest.mark.parametrize("port", ["0", "70000", "http", "-1"])
def test_bad_port_is_rejected(port: str) -> None:
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_env({"PORT": port})


def test_bad_boolean_is_rejected() -> None:
    with pytest.raises(SettingsError, match="GEOAPI_REQUIRE_DATABASE"):
        Settings.from_env({"GEOAPI_REQUIRE_DATABASE": "maybe"})


def test_seed_is_deterministic() -> None:
    assert list(generate_farms(50, seed=3)) == list(generate_farms(50, seed=3))
    assert list(generate_farms(50, seed=3)) != list(generate_farms(50, seed=4))


def test_seeded_points_lie_in_their_cocoa_region() -> None:
    by_name = {region.name: region for region in REGIONS}
    rows = list(generate_farms(2_000, seed=11))
    assert len(rows) == 2_000
    for name, country, area, location in rows:
        region = by_name[name.rsplit(" farm ", 1)[0]]
        assert country == region.country
        assert 0.5 <= float(area) <= 8.0
        lon_text, lat_text = location.removeprefix("SRID=4326;POINT(").rstrip(")").split()
        assert region.contains(float(lat_text), float(lon_text)), (name, location)
    assert {row[1] for row in rows} == {"CI", "GH"}
