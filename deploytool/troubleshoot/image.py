"""The image checks: the running tag is the one the last deploy recorded, and it exists in ECR."""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.aws import Clients
from deploytool.awschecks import task_definition_label
from deploytool.errors import DeployError
from deploytool.troubleshoot.facts import Facts, service_ok
from deploytool.troubleshoot.findings import Finding, failed, not_checked, passed, unavailable
from deploytool.troubleshoot.locate import Where, aws_error, error_code

ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>.+)$")


def split_image(image: str) -> tuple[str, str, str]:
    """(repository, separator, tag or digest) of an image reference.

    ``("repo", ":", "v1")`` for ``repo:v1``, ``("repo", "@", "sha256:..")`` for a digest reference.
    """
    if "@" in image:
        repo, ref = image.split("@", 1)
        return repo, "@", ref
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], ":", image[colon + 1 :]
    return image, ":", "latest"


def expected_image_tag(where: Where, facts: Facts) -> tuple[str | None, str]:
    """The tag the last deploy recorded (the ledger), else the one in the app stack's state; and where from."""
    try:
        recorded = where.target.ledger().current_image(where.env, where.names.workspace)
    except (DeployError, ClientError, BotoCoreError):
        recorded = None
    if recorded:
        return recorded, "the deploy history"
    tag = facts.app_outputs.get("image_tag")
    return (str(tag), "the app stack's state") if tag else (None, "")


def check_image_tag(where: Where, facts: Facts) -> Finding:
    """``image.tag``: the service runs the tag the last deploy recorded."""
    name = "image.tag"
    if not service_ok(facts) or facts.container is None:
        return not_checked(name, "the service or its task definition is missing", "ecs.service")
    image = str(facts.container.get("image", ""))
    _, _, actual = split_image(image)
    expected, source = expected_image_tag(where, facts)
    label = task_definition_label(str(facts.service.get("taskDefinition", ""))) if facts.service else "?"
    if expected is None:
        return failed(
            name,
            f"the service runs {actual}; no deploy of {where.names.workspace} is recorded to compare with",
            f"deploy through deploytool so the release is recorded: {where.command('deploy', '--image-tag', actual)}",
        )
    if actual != expected:
        return failed(
            name,
            f"task definition {label} runs image tag {actual}, but {source} says {expected}",
            f"the service was changed outside deploytool; restore the recorded release: "
            f"{where.command('rollback', '--to', expected)}, or deploy the tag you meant",
        )
    return passed(name, f"task definition {label} runs {actual}, as {source} records")


def check_image_in_ecr(where: Where, facts: Facts, clients: Clients) -> Finding:  # noqa: PLR0911
    """``image.ecr``: the running image exists in its ECR repository."""
    name = "image.ecr"
    if not service_ok(facts) or facts.container is None:
        return not_checked(name, "the service or its task definition is missing", "ecs.service")
    image = str(facts.container.get("image", ""))
    repo, sep, ref = split_image(image)
    match = ECR_IMAGE.match(repo)
    if match is None:
        return unavailable(name, f"{image} is not an ECR image: its registry is not checked")
    image_id = {"imageDigest": ref} if sep == "@" else {"imageTag": ref}
    repository = match["repo"]
    try:
        clients("ecr").describe_images(registryId=match["account"], repositoryName=repository, imageIds=[image_id])
    except ClientError as exc:
        code = error_code(exc)
        if code == "ImageNotFoundException":
            return failed(
                name,
                f"{repository}{sep}{ref} is not in ECR: tasks fail with CannotPullContainerError",
                "push the image (CI builds and pushes it on merge) or deploy a tag that exists "
                f"(`aws ecr describe-images --repository-name {repository}`)",
            )
        if code == "RepositoryNotFoundException":
            return failed(
                name,
                f"ECR repository {repository} does not exist",
                f"create it: `deploytool bootstrap --env {where.env}`, then push the image",
            )
        return failed(name, f"describe_images failed: {aws_error(exc)}", "check the credentials may read ECR")
    except BotoCoreError as exc:
        return failed(name, f"describe_images failed: {aws_error(exc)}", "check the network path to ECR")
    return passed(name, f"{repository}{sep}{ref} exists in ECR")
