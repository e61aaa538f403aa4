"""The test evaluator of ECR lifecycle policies (tests/ecr_lifecycle.py) reads policies as ECR does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.ecr_lifecycle import Image, PolicyError, expired

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def image(name: str, *tags: str, days_ago: float) -> Image:
    return Image(f"sha256:{name}", tags, NOW - timedelta(days=days_ago))


def rule(priority: int, status: str, count_type: str, number: int, prefixes: list[str] | None = None) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status, "countType": count_type, "countNumber": number}
    if prefixes is not None:
        selection["tagPrefixList"] = prefixes
    if count_type == "sinceImagePushed":
        selection["countUnit"] = "days"
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def test_count_keeps_the_newest_selected_images() -> None:
    images = [image(f"s{i}", f"staging-{i}", days_ago=i) for i in range(5)] + [image("p", "prod-1", days_ago=9)]
    policy = {"rules": [rule(1, "tagged", "imageCountMoreThan", 2, ["staging-"])]}
    assert expired(policy, images, NOW) == {"sha256:s2", "sha256:s3", "sha256:s4"}


def test_since_pushed_expires_by_age() -> None:
    images = [image("old", days_ago=15), image("new", days_ago=13), image("tagged", "v1", days_ago=30)]
    policy = {"rules": [rule(1, "untagged", "sinceImagePushed", 14)]}
    assert expired(policy, images, NOW) == {"sha256:old"}


def test_any_selects_every_image() -> None:
    images = [image("a", "prod-1", days_ago=3), image("b", days_ago=2), image("c", "staging-1", days_ago=1)]
    assert expired({"rules": [rule(1, "any", "imageCountMoreThan", 1)]}, images, NOW) == {"sha256:a", "sha256:b"}


def test_an_image_selected_by_a_higher_priority_rule_is_never_expired_by_a_lower_one() -> None:
    images = [image("p1", "prod-1", days_ago=5), image("p2", "prod-2", days_ago=4), image("s", "staging-1", days_ago=1)]
    policy = {
        "rules": [
            rule(1, "tagged", "imageCountMoreThan", 100, ["prod-"]),
            rule(2, "any", "imageCountMoreThan", 1),
        ]
    }
    # The any rule counts the production images (the newest image is the staging one) but may not expire them.
    assert expired(policy, images, NOW) == set()
    assert expired({"rules": [rule(1, "any", "imageCountMoreThan", 1)]}, images, NOW) == {"sha256:p1", "sha256:p2"}


def test_rules_apply_in_priority_order_not_list_order() -> None:
    images = [image("p1", "prod-1", days_ago=2), image("s1", "staging-1", days_ago=1)]
    policy = {"rules": [rule(9, "any", "imageCountMoreThan", 1), rule(3, "tagged", "imageCountMoreThan", 5, ["prod-"])]}
    assert expired(policy, images, NOW) == set()


def test_every_prefix_of_a_list_must_start_one_of_the_tags() -> None:
    both = image("both", "staging-1", "lkg-staging", days_ago=3)
    one = image("one", "staging-2", days_ago=2)
    newest = image("newest", "staging-3", "lkg-x", days_ago=1)
    policy = {"rules": [rule(1, "tagged", "imageCountMoreThan", 1, ["staging-", "lkg-"])]}
    assert expired(policy, [both, one, newest], NOW) == {"sha256:both"}


def test_tags_match_by_prefix_only() -> None:
    images = [image("a", "xstaging-1", days_ago=2), image("b", "staging", days_ago=1)]
    assert expired({"rules": [rule(1, "tagged", "imageCountMoreThan", 1, ["staging-"])]}, images, NOW) == set()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "non-empty list of rules"),
        ([rule(1, "any", "imageCountMoreThan", 1), rule(2, "untagged", "sinceImagePushed", 1)], "highest"),
        ([rule(1, "untagged", "sinceImagePushed", 1), rule(1, "tagged", "imageCountMoreThan", 1, ["a"])], "unique"),
        ([rule(1, "untagged", "sinceImagePushed", 1), rule(2, "untagged", "imageCountMoreThan", 1)], "untagged"),
        (
            [rule(1, "tagged", "imageCountMoreThan", 1, ["a"]), rule(2, "tagged", "imageCountMoreThan", 2, ["a"])],
            "prefix",
        ),
        ([rule(1, "tagged", "imageCountMoreThan", 1)], "needs a tagPrefixList"),
        ([rule(1, "tagged", "imageCountMoreThan", 1, [])], "needs a tagPrefixList"),
        ([rule(1, "any", "imageCountMoreThan", 1, ["a"])], "only for tagStatus tagged"),
        ([rule(1, "tagged", "imageCountMoreThan", 0, ["a"])], "positive integer"),
        ([rule(0, "tagged", "imageCountMoreThan", 1, ["a"])], "positive integer"),
        ([{**rule(1, "untagged", "sinceImagePushed", 1), "action": {"type": "delete"}}], "action"),
        ([{"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["a*"]}}], "tagPatternList"),
        (
            [
                {
                    "rulePriority": 1,
                    "action": {"type": "expire"},
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countNumber": 1,
                        "countUnit": "hours",
                    },
                }
            ],
            "countUnit days",
        ),
    ],
)
def test_policies_ecr_refuses_are_refused(rules: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        expired({"rules": rules}, [image("a", "a1", days_ago=1)], NOW)
