"""The one user-facing error type and the exit codes the CLI promises.

The core raises ``DeployError`` (or a subclass) with a message that says what went wrong and what
to do; it knows nothing of click. The CLI (``deploytool.cli.base``) prints it as one line and exits
with its ``exit_code``.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)


class ExitCode(IntEnum):
    """Exit codes of every deploytool command (documented in --help and the README)."""

    OK = 0
    ERROR = 1  # bad input, configuration, Terraform failure
    USAGE = 2  # wrong command-line usage (click's own code)
    ROLLED_BACK = 3  # deploy failed, the previous release was restored and verified
    ROLLBACK_FAILED = 4  # deploy failed and rollback failed or was impossible
    LOCKED = 5  # state locked by another run


class DeployError(Exception):
    """An error the user can act on: one line, no traceback (unless --debug).

    ``result`` carries what a failed run still has to report (for example a deploy's outcome, so
    that ``--output json`` can print it).
    """

    default_exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, exit_code: int | None = None, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code if exit_code is not None else self.default_exit_code)
        self.result = result

    def __str__(self) -> str:
        return self.message


class StateLockedError(DeployError):
    """Another run holds the Terraform state lock."""

    default_exit_code = ExitCode.LOCKED

    def __init__(self, message: str, *, lock_id: str | None = None, holder: str | None = None) -> None:
        super().__init__(message)
        self.lock_id = lock_id
        self.holder = holder


class DeployLockedError(StateLockedError):
    """Another run holds the workspace's deploy lock (``deploytool.deploylock``); nothing was changed."""


class RolledBackError(DeployError):
    """The deploy failed verification; the previous release was re-applied and verified."""

    default_exit_code = ExitCode.ROLLED_BACK


class RollbackFailedError(DeployError):
    """The deploy failed and the rollback failed or was impossible."""

    default_exit_code = ExitCode.ROLLBACK_FAILED


# -- AWS errors a user can cause and fix ---------------------------------------------------------------
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
_BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
    | {"AuthFailure"}
)
_OTHER_REGION = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"})
_ACTION = re.compile(r"not authorized to perform:?\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")
_PRINCIPAL = re.compile(r"User: (arn:aws[\w-]*:[^\s]+)")
_SIGN_IN = "sign in (`aws sso login`, `aws configure`, or AWS_PROFILE / AWS_ACCESS_KEY_ID) and re-run"
_SET_REGION = "set `region` for the environment in deploy.toml"


def aws_error_message(exc: BaseException) -> str | None:
    """What to do about an AWS error the user can fix (credentials, region, permissions), in one line.

    None for anything else. Covers botocore's own errors (no credentials, an expired SSO session,
    an endpoint that cannot be reached, an invalid region) and the service errors for expired or
    invalid tokens, a resource in another region and access denied (naming the denied action).
    """
    if isinstance(exc, ClientError):
        return _service_error_message(exc)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return f"no usable AWS credentials found: {_SIGN_IN}; or add --local to target the local emulator"
    if isinstance(exc, (TokenRetrievalError, SSOTokenLoadError, UnauthorizedSSOTokenError)):
        return f"the AWS SSO session has expired or is missing: run `aws sso login` and re-run ({_first_line(exc)})"
    if isinstance(exc, (NoRegionError, InvalidRegionError)):
        return f"{_first_line(exc)}: {_SET_REGION} to an AWS region such as us-east-1"
    if isinstance(exc, EndpointConnectionError):
        url = urlsplit(str(exc.kwargs.get("endpoint_url", "")))
        return (
            f"cannot reach the AWS endpoint {url.scheme}://{url.netloc}: check the environment's `region` "
            "in deploy.toml (an unknown region has no endpoint) and the network or proxy"
        )
    return None


def _service_error_message(exc: ClientError) -> str | None:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    where = f"{code} calling {exc.operation_name}"
    if code in _EXPIRED:
        return f"the AWS credentials have expired ({where}): {_SIGN_IN}"
    if code in _BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({where}): check them or {_SIGN_IN}"
    if code in _OTHER_REGION:
        return f"AWS answered {where}: the resource is in another region; {_SET_REGION} to the state bucket's region"
    if code not in _DENIED:
        return None
    message = str(error.get("Message", ""))
    action = _ACTION.search(message)
    principal = _PRINCIPAL.search(message)
    who = f" to {principal.group(1)}" if principal else ""
    return (
        f"AWS denied {action.group(1) if action else exc.operation_name}{who} ({code}): use credentials or a role "
        "that allows it (the deploy roles are described in docs/ci-cd.md)"
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
