"""Theobroma Geo API: farm locations served from PostgreSQL + PostGIS."""

from geoapi import migrate
from geoapi.app import create_app
from geoapi.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app", "migrate"]
