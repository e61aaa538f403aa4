"""An evaluator of ECR lifecycle policies, to test what a policy expires without waiting a day on AWS.

ECR's documented semantics (Amazon ECR user guide, "Lifecycle policy evaluation rules" and
"Lifecycle policy properties"), as strict as ECR where it refuses a policy:

* rules apply in ascending ``rulePriority`` (unique values); a rule with ``tagStatus`` ``any`` must
  have the highest priority; at most one rule may select untagged images; no two rules share a
  tag prefix;
* ``tagStatus``: ``tagged`` needs a ``tagPrefixList`` (an image is selected when each prefix of the
  list starts one of its tags), ``untagged`` selects images without tags and takes no list, ``any``
  selects every image and takes no list;
* ``countType``: ``imageCountMoreThan`` keeps the newest ``countNumber`` selected images (by push
  time) and expires the rest; ``sinceImagePushed`` (``countUnit`` ``days``) expires selected images
  pushed more than ``countNumber`` days ago;
* an image is expired by at most one rule: an image selected by a higher-priority rule is never
  expired by a lower-priority one, though the lower rule still counts it among its images.

``tagPatternList`` (wildcards) is not supported here and is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


class PolicyError(ValueError):
    """A policy ECR would refuse (or one this evaluator cannot read)."""


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


def _rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = policy.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("a policy needs a non-empty list of rules")
    priorities = [rule.get("rulePriority") for rule in rules]
    if any(not isinstance(p, int) or isinstance(p, bool) or p < 1 for p in priorities):
        raise PolicyError(f"rulePriority must be a positive integer: {priorities}")
    if len(set(priorities)) != len(priorities):
        raise PolicyError(f"rulePriority values must be unique: {priorities}")
    ordered = sorted(rules, key=lambda rule: rule["rulePriority"])
    statuses = [rule.get("selection", {}).get("tagStatus") for rule in ordered]
    if "any" in statuses[:-1]:
        raise PolicyError("a rule with tagStatus any must have the highest rulePriority")
    if statuses.count("untagged") + statuses.count("any") > 1:
        raise PolicyError("only one rule may select untagged images")
    prefixes: list[str] = []
    for rule in ordered:
        _check_rule(rule)
        prefixes += rule["selection"].get("tagPrefixList", [])
    if len(set(prefixes)) != len(prefixes):
        raise PolicyError(f"rules must use a unique set of tag prefixes: {prefixes}")
    return ordered


def _check_rule(rule: Mapping[str, Any]) -> None:
    selection = rule.get("selection")
    if not isinstance(selection, Mapping):
        raise PolicyError(f"rule {rule.get('rulePriority')}: selection is required")
    status = selection.get("tagStatus")
    if status not in ("tagged", "untagged", "any"):
        raise PolicyError(f"rule {rule['rulePriority']}: tagStatus must be tagged, untagged or any: {status!r}")
    if "tagPatternList" in selection:
        raise PolicyError("tagPatternList is not supported by this evaluator")
    prefixes = selection.get("tagPrefixList")
    if status == "tagged" and (not isinstance(prefixes, list) or not prefixes or not all(prefixes)):
        raise PolicyError(f"rule {rule['rulePriority']}: tagStatus tagged needs a tagPrefixList")
    if status != "tagged" and prefixes is not None:
        raise PolicyError(f"rule {rule['rulePriority']}: tagPrefixList is only for tagStatus tagged")
    count_type, number = selection.get("countType"), selection.get("countNumber")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise PolicyError(f"rule {rule['rulePriority']}: countNumber must be a positive integer: {number!r}")
    if count_type == "imageCountMoreThan":
        if "countUnit" in selection:
            raise PolicyError(f"rule {rule['rulePriority']}: countUnit is only for sinceImagePushed")
    elif count_type == "sinceImagePushed":
        if selection.get("countUnit") != "days":
            raise PolicyError(f"rule {rule['rulePriority']}: sinceImagePushed needs countUnit days")
    else:
        raise PolicyError(f"rule {rule['rulePriority']}: unknown countType {count_type!r}")
    if rule.get("action") != {"type": "expire"}:
        raise PolicyError(f"rule {rule['rulePriority']}: action must be {{'type': 'expire'}}")


def selects(rule: Mapping[str, Any], image: Image) -> bool:
    """Whether ``rule``'s tag requirements select ``image``."""
    selection = rule["selection"]
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    return bool(image.tags) and all(
        any(tag.startswith(prefix) for tag in image.tags) for prefix in selection["tagPrefixList"]
    )


def expired(policy: Mapping[str, Any], images: Iterable[Image], now: datetime) -> set[str]:
    """The digests of the images ``policy`` expires at ``now``."""
    images = list(images)
    rules = _rules(policy)
    gone: set[str] = set()
    claimed: set[str] = set()  # selected by a higher-priority rule: no lower rule may expire them
    for rule in rules:
        selected = sorted(
            (image for image in images if selects(rule, image)), key=lambda image: image.pushed_at, reverse=True
        )
        selection = rule["selection"]
        if selection["countType"] == "imageCountMoreThan":
            candidates = selected[selection["countNumber"] :]
        else:
            limit = now - timedelta(days=selection["countNumber"])
            candidates = [image for image in selected if image.pushed_at < limit]
        gone |= {image.digest for image in candidates if image.digest not in claimed}
        claimed |= {image.digest for image in selected}
    return gone
