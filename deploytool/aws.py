"""boto3 sessions for a target: real AWS (the usual credential chain) or the local emulator."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from deploytool.emulator import FAKE_CREDENTIALS, Credentials

_RETRIES = BotoConfig(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class Clients:
    """Creates boto3 clients for one region, pointed at the emulator when ``endpoint`` is set.

    On the emulator they sign with ``credentials`` (an assumed role's session, when the emulator
    enforces IAM) or else the fake key; on AWS with the usual credential chain.
    """

    def __init__(self, region: str, endpoint: str | None = None, credentials: Credentials | None = None) -> None:
        self.region = region
        self.endpoint = endpoint
        if endpoint and credentials is not None:
            self.session = boto3.Session(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                region_name=region,
            )
        elif endpoint:
            self.session = boto3.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=region,
            )
        else:
            self.session = boto3.Session(region_name=region)
        self._cache: dict[str, Any] = {}

    @property
    def emulator(self) -> bool:
        return self.endpoint is not None

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint, config=_RETRIES
            )
        return self._cache[service]
