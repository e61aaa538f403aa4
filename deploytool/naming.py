"""Branch -> slug -> every name a deploy uses.

Every workspace, service, target group, host and log prefix is built here and nowhere else, so
that a name can be predicted from the branch alone and always fits AWS's limits:

* target group (and ALB) names: at most 32 characters;
* DNS labels: at most 63 characters, a host name at most 253;
* ECS service names: at most 255 characters;
* all of them ``[a-z0-9-]``, never starting or ending with ``-``.

The slug rule
-------------
A branch is *plain* when it is lowercase ASCII letters and digits in segments joined by single
``-`` or ``/`` characters (``feature/new-api-endpoint``, ``fix-42``). A plain branch that fits
in ``max_len`` characters slugs to itself with ``/`` turned into ``-``:
``feature/new-api-endpoint`` -> ``feature-new-api-endpoint``.

Every other branch (uppercase, ``_``, ``.``, spaces, non-ASCII, repeated or edge separators, or
too long) is lowercased, every run of characters outside ``[a-z0-9]`` becomes one ``-``, the
result is trimmed and cut, and ``--`` plus the first six hex digits of the SHA-256 of the
*original* branch name is appended: ``Feature/Login_Form`` -> ``feature-login-form--3f2a9c``.
A branch with no usable character at all (``日本``) becomes ``branch--<hash>``.

What this guarantees: a plain slug never contains ``--`` and a hashed slug always does, so the
two kinds never meet. Two distinct branches can share a slug only when

1. both are plain and differ only in using ``/`` or ``-`` at the same separator positions
   (``feature/x`` and ``feature-x``) — the price of keeping plain names readable (the first to
   deploy owns the workspace, the other is refused: ``deploytool.stackops.check_branch``); or
2. both are hashed, share the same readable head and their 24-bit hashes collide (about one in
   16 million for a given pair).

Names longer than a limit (for example a target group) are cut the same way, with a hash of the
full name, so distinct slugs keep distinct names up to the same hash-collision odds. Load balancer
and target group names may not contain ``--`` at all, so ``lb_name`` folds it to ``-``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from typing import Literal

from deploytool.errors import DeployError

HASH_LEN = 6
"""Hex digits of SHA-256 appended to a name that had to be altered or cut."""

ENV_MAX_LEN = 16
"""Longest environment name: keeps ``<env>-<slug>`` within one DNS label."""

DNS_LABEL_MAX_LEN = 63
DNS_NAME_MAX_LEN = 253
TARGET_GROUP_MAX_LEN = 32
ECS_SERVICE_MAX_LEN = 255

SLUG_MAX_LEN = DNS_LABEL_MAX_LEN - ENV_MAX_LEN - 1
"""Longest slug (46): ``<env>-<slug>`` always fits a DNS label, whatever the environment."""

Color = Literal["blue", "green"]
COLORS: tuple[Color, ...] = ("blue", "green")
COLOR_SUFFIX_MAX_LEN = max(len(c) for c in COLORS) + 1
"""Room a non-branch target group keeps free for a ``-blue``/``-green`` suffix."""

DEFAULT_WORKSPACE = "default"

_MIN_SLUG_LEN = HASH_LEN + 3  # one readable character + "--" + hash
_PLAIN_BRANCH = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def short_hash(text: str, length: int = HASH_LEN) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``text`` (stable across runs and hosts)."""
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:length]


def _hashed(head: str, digest: str, max_len: int) -> str:
    room = max_len - len(digest) - 2
    cut = head[:room].rstrip("-")
    return f"{cut}--{digest}"


def fit(name: str, max_len: int) -> str:
    """``name`` unchanged if it fits in ``max_len``, else cut with ``--<hash of name>`` appended."""
    if max_len < _MIN_SLUG_LEN:
        raise ValueError(f"max_len must be at least {_MIN_SLUG_LEN}, got {max_len}")
    if len(name) <= max_len:
        return name
    return _hashed(name, short_hash(name), max_len)


def lb_name(name: str, max_len: int) -> str:
    """A load balancer or target group name: ``fit`` it, then fold ``--`` to ``-``.

    Elastic Load Balancing rejects names with ``--`` (``(?!.*--)``), so the hash separator of
    hashed slugs becomes a single ``-`` here. The plain/hashed distinction of slugs does not survive
    that fold; two target groups can then meet only if a plain branch ends in the exact 6-digit
    hash of another branch with the same readable head (one in 16 million, and deliberate).
    """
    return re.sub(r"-{2,}", "-", fit(name, max_len))


def slugify(branch: str, max_len: int = SLUG_MAX_LEN) -> str:
    """Turn a branch name into a slug of ``[a-z0-9-]`` (see the module docstring for the rule).

    Raises ``DeployError`` for an empty or whitespace-only branch name.
    """
    if max_len < _MIN_SLUG_LEN:
        raise ValueError(f"max_len must be at least {_MIN_SLUG_LEN}, got {max_len}")
    if not branch.strip():
        raise DeployError("branch name is empty: pass the Git branch to deploy, e.g. feature/login")
    base = _NOT_SLUG_CHARS.sub("-", branch.lower()).strip("-")
    if _PLAIN_BRANCH.fullmatch(branch) and len(base) <= max_len:
        return base
    return _hashed(base or "branch", short_hash(branch), max_len)


def validate_env(env: str) -> str:
    """Return ``env`` if it is a valid environment name, else raise ``DeployError``.

    Valid: 1 to 16 characters, lowercase letters, digits and single ``-``, starting with a letter
    and not ending with ``-`` (``staging``, ``production``, ``qa-2``).
    """
    if len(env) > ENV_MAX_LEN or not _NAME.fullmatch(env):
        raise DeployError(
            f"invalid environment name {env!r}: use 1-{ENV_MAX_LEN} lowercase letters, digits and "
            "single '-', starting with a letter (e.g. staging)"
        )
    return env


def validate_project(project: str) -> str:
    """Return ``project`` if it is a valid project name (same grammar as an environment name)."""
    if len(project) > ENV_MAX_LEN or not _NAME.fullmatch(project):
        raise DeployError(
            f"invalid project name {project!r}: use 1-{ENV_MAX_LEN} lowercase letters, digits and "
            "single '-', starting with a letter (e.g. theobroma)"
        )
    return project


def validate_domain(domain: str) -> str:
    """Return ``domain`` lowercased if it is a valid DNS name, else raise ``DeployError``."""
    candidate = domain.lower().rstrip(".")
    labels = candidate.split(".")
    if (
        not candidate
        or len(candidate) > DNS_NAME_MAX_LEN
        or not candidate.isascii()
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
    ):
        raise DeployError(
            f"invalid domain {domain!r}: use DNS labels of a-z, 0-9 and '-' joined by '.' (e.g. staging.example.com)"
        )
    return candidate


def is_image_digest(ref: str) -> bool:
    """Whether ``ref`` is an image digest (``sha256:<64 hex>``) rather than a tag."""
    return bool(_IMAGE_DIGEST.fullmatch(ref))


def validate_image_tag(tag: str) -> str:
    """Return ``tag`` if it is a Docker image tag or a ``sha256:<64 hex>`` digest.

    Tag grammar: ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``. Raises ``DeployError`` otherwise.
    """
    if _IMAGE_TAG.fullmatch(tag) or _IMAGE_DIGEST.fullmatch(tag):
        return tag
    raise DeployError(
        f"invalid image tag {tag!r}: use up to 128 characters of letters, digits, '_', '.' and '-' "
        "not starting with '.' or '-', or a digest sha256:<64 hex digits>"
    )


@dataclass(frozen=True)
class Names:
    """Every name of one deployment target (an environment, or one branch in it).

    Fields:
        env: the environment (``staging``).
        branch: the Git branch for a branch environment, ``None`` for the environment itself.
        slug: the branch slug; the environment name when there is no branch.
        workspace: the Terraform workspace of the app stack
            (``staging-feature-new-api-endpoint``; ``default`` without a branch).
        service: the ECS service name (the workspace name for a branch; ``<project>-<env>``
            otherwise, to which blue-green adds ``-blue``/``-green``, see ``colored``).
        target_group: the ALB target group name, <= 32 characters (without a branch it keeps
            6 characters free for the colour suffix).
        host: the fully qualified host name (``<env>-<slug>.<domain>``; the domain itself
            without a branch).
        log_prefix: the CloudWatch Logs stream prefix (the service name).
    """

    env: str
    branch: str | None
    slug: str
    workspace: str
    service: str
    target_group: str
    host: str
    log_prefix: str

    def as_dict(self) -> dict[str, str | None]:
        """The names as a plain dict (for ``--output json`` and template rendering)."""
        return asdict(self)

    def colored(self, color: Color) -> Names:
        """The names of one blue-green colour: service, target group and log prefix suffixed."""
        if color not in COLORS:
            raise DeployError(f"invalid colour {color!r}: use blue or green")
        return replace(
            self,
            service=f"{self.service}-{color}",
            target_group=fit(f"{self.target_group}-{color}", TARGET_GROUP_MAX_LEN),
            log_prefix=f"{self.log_prefix}-{color}",
        )


def names_for(env: str, branch: str | None, domain: str, *, project: str = "theobroma") -> Names:
    """Every name for ``env`` (and ``branch`` when it is a branch environment).

    >>> n = names_for("staging", "feature/new-api-endpoint", "staging.theobroma.example")
    >>> n.workspace, n.target_group, n.host
    ('staging-feature-new-api-endpoint', 'staging-feature-new-api-endpoint', \
'staging-feature-new-api-endpoint.staging.theobroma.example')
    >>> n = names_for("production", None, "api.theobroma.example")
    >>> n.workspace, n.service, n.host
    ('default', 'theobroma-production', 'api.theobroma.example')
    """
    validate_env(env)
    validate_project(project)
    domain = validate_domain(domain)
    if branch is None:
        base = f"{project}-{env}"
        return _checked(
            Names(
                env=env,
                branch=None,
                slug=env,
                workspace=DEFAULT_WORKSPACE,
                service=base,
                target_group=lb_name(base, TARGET_GROUP_MAX_LEN - COLOR_SUFFIX_MAX_LEN),
                host=domain,
                log_prefix=base,
            )
        )
    return _branch_names(env, branch, slugify(branch), domain)


def names_for_workspace(env: str, workspace: str, domain: str) -> Names:
    """The names of the branch environment in app workspace ``<env>-<slug>``, without its branch.

    For callers that know a branch environment only by its workspace (the janitor, which lists
    workspaces, not branches). Every name derives from the slug, so they are the names ``names_for``
    gave the branch.
    """
    validate_env(env)
    slug = workspace.removeprefix(f"{env}-")
    if slug == workspace or len(slug) > SLUG_MAX_LEN or not _SLUG.fullmatch(slug):
        raise DeployError(f"{workspace!r} is not a branch environment workspace of {env}")
    return _branch_names(env, None, slug, validate_domain(domain))


def _branch_names(env: str, branch: str | None, slug: str, domain: str) -> Names:
    base = f"{env}-{slug}"
    return _checked(
        Names(
            env=env,
            branch=branch,
            slug=slug,
            workspace=base,
            service=base,
            target_group=lb_name(base, TARGET_GROUP_MAX_LEN),
            host=f"{base}.{domain}",
            log_prefix=base,
        )
    )


def db_schema(names: Names) -> str:
    """The database schema of a deployment: ``public`` for the environment itself, one per branch
    environment (its workspace with ``_`` for ``-``: ``staging_feature_new_api_endpoint``, <= 63)."""
    if names.workspace == DEFAULT_WORKSPACE:
        return "public"
    return names.workspace.replace("-", "_")


def _checked(names: Names) -> Names:
    if len(names.host) > DNS_NAME_MAX_LEN:
        raise DeployError(
            f"host name {names.host!r} is longer than {DNS_NAME_MAX_LEN} characters: use a shorter domain"
        )
    return names
