"""``python -m geoapi``: validate settings, then serve with uvicorn."""

from __future__ import annotations

import logging
import os
import sys
import threading

#: Exit status for a configuration error (sysexits.h EX_CONFIG).
EXIT_CONFIG = 78


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("geoapi")

    from geoapi.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        log.error("configuration error, not starting: %s", exc)
        return EXIT_CONFIG

    import uvicorn

    if settings.exit_after_s is not None:
        log.warning("GEOAPI_FAULT: exiting %.1f s after start (a test fault)", settings.exit_after_s)
        timer = threading.Timer(settings.exit_after_s, os._exit, args=(1,))
        timer.daemon = True
        timer.start()

    from geoapi.app import create_app

    log.info(
        "starting geoapi %s on %s:%d (database %s)",
        settings.app_version,
        settings.host,
        settings.port,
        "configured" if settings.database_url else "not configured",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
