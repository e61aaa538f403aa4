"""Plan JSON -> summary and PR comment: counts, image changes, sensitive values, size limit."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from deploytool.plansummary import (
    REDACTED,
    PlanSummary,
    diff_lines,
    image_tag,
    redact,
    render_markdown,
    sensitive_values,
    summarize,
)

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api"
OLD_PASSWORD = "hunter2-first"
NEW_PASSWORD = "correct-horse-battery"
SECRET_STRING = '{"username":"geo","password":"s3cr3t-Pa$$"}'


def containers(tag: str, *, sidecar: str | None = None) -> str:
    defs: list[dict[str, Any]] = [{"name": "geo-api", "image": f"{ECR}:{tag}", "essential": True}]
    if sidecar:
        defs.append({"name": "otel", "image": sidecar})
    return json.dumps(defs)


def resource(address: str, actions: list[str], **change: Any) -> dict[str, Any]:
    rtype, name = address.split(".")[-2:]
    entry: dict[str, Any] = {
        "address": address,
        "mode": "data" if address.startswith("data.") else "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": None,
            "after": None,
            "after_unknown": {},
            "before_sensitive": False,
            "after_sensitive": False,
            **change,
        },
    }
    reason = change.pop("action_reason", None)
    if reason:
        entry["action_reason"] = reason
        del entry["change"]["action_reason"]
    return entry


def recorded_plan() -> dict[str, Any]:
    """A plan in the shape of ``terraform show -json`` (format 1.2, Terraform 1.15)."""
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "variables": {
            "db_password": {"value": NEW_PASSWORD},
            "image_tag": {"value": "v2"},
        },
        "resource_changes": [
            resource("aws_ecs_service.app", ["create"], after={"name": "staging-x"}, after_unknown={"id": True}),
            resource(
                "aws_lb_listener_rule.host",
                ["update"],
                before={"priority": 10},
                after={"priority": 11},
                before_sensitive={},
                after_sensitive={},
            ),
            resource(
                "aws_ecs_task_definition.app",
                ["create", "delete"],
                before={"family": "staging-x", "container_definitions": containers("v1", sidecar="otel:0.9")},
                after={"family": "staging-x", "container_definitions": containers("v2", sidecar="otel:0.9")},
                before_sensitive={},
                after_sensitive={},
                action_reason="replace_because_cannot_update",
            ),
            resource(
                "module.worker.aws_ecs_task_definition.this",
                ["delete", "create"],
                before={"family": "worker", "container_definitions": containers("v1")},
                after={"family": "worker"},
                after_unknown={"container_definitions": True, "arn": True},
                before_sensitive={},
                after_sensitive={},
            ),
            resource(
                "aws_lb_target_group.old",
                ["delete"],
                before={"name": "staging-old"},
                before_sensitive={},
                action_reason="delete_because_no_resource_config",
            ),
            resource(
                "aws_db_instance.main",
                ["update"],
                before={"password": OLD_PASSWORD, "instance_class": "db.t3.micro"},
                after={"password": NEW_PASSWORD, "instance_class": "db.t3.small"},
                before_sensitive={"password": True},
                after_sensitive={"password": True},
            ),
            resource(
                "aws_secretsmanager_secret_version.db",
                ["create"],
                after={"secret_string": SECRET_STRING},
                after_sensitive={"secret_string": True},
            ),
            resource("data.aws_caller_identity.current", ["read"], after={"account_id": "123456789012"}),
            resource(
                "aws_cloudwatch_log_group.app",
                ["no-op"],
                before={"name": "/ecs/x"},
                after={"name": "/ecs/x"},
            ),
        ],
        "output_changes": {
            "db_endpoint": {
                "actions": ["update"],
                "before": "old.db.internal",
                "after": "new-db-endpoint.internal",
                "before_sensitive": True,
                "after_sensitive": True,
            },
            "url": {"actions": ["no-op"], "before": "https://x", "after": "https://x"},
        },
        "configuration": {
            "root_module": {
                "variables": {
                    "db_password": {"sensitive": True, "description": "master password"},
                    "image_tag": {"description": "image tag"},
                }
            }
        },
    }


SECRETS = (OLD_PASSWORD, NEW_PASSWORD, SECRET_STRING, "new-db-endpoint.internal")

# `terraform show` of a real plan (Terraform 1.15.5): the `output` attribute of terraform_data is
# not marked sensitive, so the previous password appears in clear text.
PLAN_TEXT = """\
Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place
  - destroy
-/+ destroy and then create replacement

Terraform will perform the following actions:

  # terraform_data.gone[0] will be destroyed
  # (because index [0] is out of range for count)
  - resource "terraform_data" "gone" {
      - id     = "710e82f7-a8e9-5dec-1865-9d93b5fe263b" -> null
      - input  = "bye" -> null
      - output = "bye" -> null
    }

  # terraform_data.keep will be updated in-place
  ~ resource "terraform_data" "keep" {
        id     = "57d3924d-0d13-7270-1b86-cfeb5b4df4cc"
      ~ input  = "v1" -> "v2"
      ~ output = "v1" -> (known after apply)
    }

  # terraform_data.replaced must be replaced
-/+ resource "terraform_data" "replaced" {
      ~ id               = "bef09517-819a-00f3-fa43-875450bc6b4a" -> (known after apply)
      ~ output           = "x" -> (known after apply)
      ~ triggers_replace = [
          ~ 1 -> 2,
        ]
        # (1 unchanged attribute hidden)
    }

  # terraform_data.secret will be updated in-place
  ~ resource "terraform_data" "secret" {
        id     = "f1b69b89-8ee2-5869-3834-1acf1fd9806e"
      ~ input  = {
          ~ password = (sensitive value)
            # (1 unchanged attribute hidden)
        }
      ~ output = {
          - password = "hunter2-first"
          - user     = "geo"
        } -> (known after apply)
    }

  # terraform_data.task will be updated in-place
  ~ resource "terraform_data" "task" {
        id     = "a11359ae-2c77-bb31-7590-e77ba5b0b63a"
      ~ input  = jsonencode(
          ~ [
              ~ {
                  ~ image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api:v1" -> "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api:v2"
                    name  = "app"
                },
            ]
        )
      ~ output = jsonencode(
            [
              - {
                  - image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api:v1"
                  - name  = "app"
                },
            ]
        ) -> (known after apply)
    }

Plan: 1 to add, 3 to change, 2 to destroy.

Changes to Outputs:
  ~ pw  = (sensitive value)
  ~ tag = "v1" -> "v2"
"""  # noqa: E501


def summary_json(summary: PlanSummary) -> str:
    return json.dumps(summary.to_dict())


# --- summary -------------------------------------------------------------------------------------


def test_counts_replace_once_and_skip_reads_and_no_ops() -> None:
    summary = summarize(recorded_plan())
    assert (summary.add, summary.change, summary.replace, summary.destroy) == (2, 2, 2, 1)
    assert summary.headline() == "2 to add, 2 to change, 2 to replace, 1 to destroy"
    actions = {r.address: r.action for r in summary.resources}
    assert actions == {
        "aws_ecs_service.app": "create",
        "aws_lb_listener_rule.host": "update",
        "aws_ecs_task_definition.app": "replace",
        "module.worker.aws_ecs_task_definition.this": "replace",
        "aws_lb_target_group.old": "delete",
        "aws_db_instance.main": "update",
        "aws_secretsmanager_secret_version.db": "create",
    }
    assert summary.has_changes
    assert [r.address for r in summary.destructive] == [
        "aws_ecs_task_definition.app",
        "module.worker.aws_ecs_task_definition.this",
        "aws_lb_target_group.old",
    ]
    reasons = {r.address: r.reason for r in summary.resources}
    assert reasons["aws_lb_target_group.old"] == "delete_because_no_resource_config"
    assert summary.output_changes == ("db_endpoint",)
    assert summary.terraform_version == "1.15.5"


def test_image_changes_are_found_in_container_definitions() -> None:
    summary = summarize(recorded_plan())
    changes = [(c.address, c.container, c.before, c.after) for c in summary.image_changes]
    assert changes == [
        ("aws_ecs_task_definition.app", "geo-api", "v1", "v2"),
        ("module.worker.aws_ecs_task_definition.this", "geo-api", "v1", "(known after apply)"),
    ]  # the unchanged sidecar is not listed
    assert summary.image_tag == "v2"


def test_created_task_definition_has_no_before_tag() -> None:
    plan = {
        "resource_changes": [
            resource(
                "aws_ecs_task_definition.app",
                ["create"],
                after={"container_definitions": json.dumps([{"name": "geo-api", "image": f"{ECR}@sha256:{'a' * 64}"}])},
            )
        ]
    }
    (change,) = summarize(plan).image_changes
    assert (change.before, change.after) == (None, "sha256:" + "a" * 64)


def test_sensitive_container_definitions_hide_the_image() -> None:
    plan = {
        "resource_changes": [
            resource(
                "aws_ecs_task_definition.app",
                ["create", "delete"],
                before={"container_definitions": containers("v1-secret")},
                after={"container_definitions": containers("v2-secret")},
                before_sensitive={"container_definitions": True},
                after_sensitive={"container_definitions": True},
            )
        ]
    }
    summary = summarize(plan)
    assert [(c.container, c.before, c.after) for c in summary.image_changes] == [(REDACTED, REDACTED, REDACTED)]
    assert "secret" not in summary_json(summary)
    assert summary.image_tag is None


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        (f"{ECR}:v1.2.3", "v1.2.3"),
        ("theobroma-geo-api", "latest"),
        ("localhost:5000/geo-api", "latest"),
        ("localhost:5000/geo-api:main-1", "main-1"),
        (f"{ECR}@sha256:{'b' * 64}", "sha256:" + "b" * 64),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_empty_plan_has_no_changes() -> None:
    summary = summarize({"format_version": "1.2", "resource_changes": []})
    assert not summary.has_changes
    assert summary.to_dict()["has_changes"] is False
    body = render_markdown(summary, env="staging", workspace="default", plan_text="")
    assert "No changes" in body


def test_import_and_forget_are_counted_apart() -> None:
    plan = {
        "resource_changes": [
            resource("aws_s3_bucket.state", ["no-op"], importing={"id": "bucket"}),
            resource("aws_iam_role.old", ["forget"]),
        ]
    }
    summary = summarize(plan)
    assert (summary.imported, summary.forget, summary.add, summary.destroy) == (1, 1, 0, 0)
    assert summary.to_dict()["import"] == 1


def test_to_dict_is_json_ready() -> None:
    data = json.loads(summary_json(summarize(recorded_plan())))
    assert data["replace"] == 2
    assert data["image_changes"][0] == {
        "address": "aws_ecs_task_definition.app",
        "container": "geo-api",
        "before": "v1",
        "after": "v2",
    }
    assert {"address", "type", "action", "reason"} == set(data["resources"][0])


# --- sensitive values ----------------------------------------------------------------------------


def test_sensitive_values_come_from_every_marked_place() -> None:
    found = sensitive_values(recorded_plan())
    assert set(SECRETS) <= found
    assert "v2" not in found
    assert "db.t3.small" not in found
    assert "staging-x" not in found


def test_sensitive_variable_values_are_collected() -> None:
    plan = {
        "variables": {"token": {"value": "tok-123456"}, "region": {"value": "us-east-1"}},
        "configuration": {"root_module": {"variables": {"token": {"sensitive": True}, "region": {}}}},
    }
    assert sensitive_values(plan) == {"tok-123456"}


def test_state_sensitive_values_and_outputs() -> None:
    module = {
        "resources": [
            {"values": {"a": ["x", "secret-in-list"], "b": "plain"}, "sensitive_values": {"a": [False, True]}}
        ],
        "child_modules": [{"resources": [{"values": {"k": {"n": "nested-secret"}}, "sensitive_values": {"k": True}}]}],
    }
    plan = {
        "planned_values": {"outputs": {"o": {"sensitive": True, "value": "output-secret"}}, "root_module": module},
        "prior_state": {"values": {"outputs": {"p": {"sensitive": False, "value": "public-value"}}}},
    }
    assert sensitive_values(plan) == {"secret-in-list", "nested-secret", "output-secret"}


def test_sensitive_values_never_reach_summary_or_markdown() -> None:
    plan = recorded_plan()
    summary = summarize(plan)
    secrets = sensitive_values(plan)
    body = render_markdown(summary, env="staging", workspace="staging-x", plan_text=redact(PLAN_TEXT, secrets))
    for secret in SECRETS:
        assert secret not in summary_json(summary)
        assert secret not in body


def test_redact_real_plan_text() -> None:
    assert OLD_PASSWORD in PLAN_TEXT  # terraform show itself leaks it here
    redacted = redact(PLAN_TEXT, {OLD_PASSWORD, NEW_PASSWORD})
    assert OLD_PASSWORD not in redacted
    assert f'- password = "{REDACTED}"' in redacted


def test_redact_json_escaped_and_multiline_secrets() -> None:
    secret = 'pa"ss\\word'
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----"
    text = f"a={json.dumps(secret)} b={secret} c=MIIEvQIBADANBgkqhkiG9w0BAQEF"
    out = redact(text, [secret, key, ""])
    assert out == f'a="{REDACTED}" b={REDACTED} c={REDACTED}'


def test_redact_prefers_longest_match() -> None:
    assert redact("abcdef abc", ["abc", "abcdef"]) == f"{REDACTED} {REDACTED}"
    assert redact("nothing here", []) == "nothing here"


# --- markdown ------------------------------------------------------------------------------------


def render(summary: PlanSummary | None = None, plan_text: str = PLAN_TEXT, **kwargs: Any) -> str:
    return render_markdown(
        summary or summarize(recorded_plan()),
        env="staging",
        workspace="staging-feature-new-api-endpoint",
        plan_text=plan_text,
        **kwargs,
    )


def assert_closed(body: str) -> None:
    assert body.count("<details>") == body.count("</details>")
    fences = re.findall(r"^(`{3,})", body, flags=re.MULTILINE)
    assert len(fences) % 2 == 0
    if "<details>" in body:
        assert body.rstrip().endswith("</details>")


def test_markdown_layout() -> None:
    body = render(url="https://staging-x.staging.theobroma.example", ttl=timedelta(days=7), marker="plan:staging-x")
    assert body.startswith("<!-- deploytool:plan:staging-x -->\n")
    assert "`staging`" in body
    assert "`staging-feature-new-api-endpoint`" in body
    assert "**2 to add, 2 to change, 2 to replace, 1 to destroy**" in body
    assert "| ♻️ Replace | 2 ⚠️ |" in body
    assert "| 🗑️ Destroy | 1 ⚠️ |" in body
    assert "| ⚠️ replace | `aws_ecs_task_definition.app` | `replace_because_cannot_update` |" in body
    assert "| ⚠️ delete | `aws_lb_target_group.old` |" in body
    assert "| ⚠️ replace | `module.worker.aws_ecs_task_definition.this` |  |" in body
    assert "| `aws_ecs_task_definition.app` | `geo-api` | `v1` | `v2` |" in body
    assert "https://staging-x.staging.theobroma.example" in body
    assert "7 days" in body
    assert "<details><summary>Full plan (" in body
    assert "```diff\n" in body
    assert "truncated" not in body
    assert_closed(body)


def test_diff_signs_move_to_column_zero() -> None:
    lines = diff_lines(
        '\x1b[1mx\x1b[0m\n  ~ resource "a" "b" {\n      - id = 1\n-/+ resource\n      + n = 2\n  # note\n\n'
    )
    assert lines == ["x", '!   resource "a" "b" {', "-       id = 1", "-/+ resource", "+       n = 2", "  # note"]


def test_plan_text_with_backticks_gets_a_longer_fence() -> None:
    body = render(plan_text='  + user_data = "```\n```bash\necho hi\n````"\n')
    assert "`````diff" in body
    assert_closed(body)


def test_secrets_passed_to_render_are_redacted_too() -> None:
    body = render(plan_text=f"  + x = {OLD_PASSWORD}\n", secrets=[OLD_PASSWORD])
    assert OLD_PASSWORD not in body
    assert REDACTED in body


def test_invalid_marker() -> None:
    with pytest.raises(ValueError, match="marker"):
        render(marker="x --> <script>")


def test_huge_plan_is_truncated_with_closed_blocks() -> None:
    line = '      + container_definitions = jsonencode([{ image = "repo:v2", name = "geo-api" }])\n'
    huge = line * (5_000_000 // len(line))
    assert len(huge) >= 4_900_000
    body = render(plan_text=huge, marker="plan:x", full_plan_url="https://ci.example/run/1")
    assert len(body) <= 60_000
    assert len(body) > 50_000  # the budget is used, not thrown away
    assert "truncated" in body
    assert "[the full plan](https://ci.example/run/1)" in body
    assert "lines in total)" in body
    assert_closed(body)


def test_single_enormous_line_is_cut() -> None:
    body = render(plan_text="+ " + "x" * 5_000_000)
    assert len(body) <= 60_000
    assert "truncated" in body
    assert_closed(body)


@pytest.mark.parametrize("limit", [10_000, 20_000, 65_000])
def test_custom_limits_are_respected(limit: int) -> None:
    body = render(plan_text="  + a = 1\n" * 100_000, limit=limit)
    assert len(body) <= limit
    assert_closed(body)


def test_many_destroys_are_capped_in_the_table() -> None:
    plan = {"resource_changes": [resource(f"aws_route53_record.r{i}", ["delete"]) for i in range(5_000)]}
    body = render(summarize(plan), plan_text="  - x\n" * 10)
    assert "… and 4950 more" in body
    assert len(body) <= 60_000
    assert_closed(body)


def test_tiny_limit_leaves_the_plan_out_or_fails_loudly() -> None:
    summary = summarize(recorded_plan())
    limit = len(render(summary, plan_text="")) + 250
    body = render(summary, limit=limit)
    assert len(body) <= limit
    assert "<details>" not in body
    assert "left out" in body
    with pytest.raises(ValueError, match="too small"):
        render(summary, limit=100)


def test_table_cells_are_escaped() -> None:
    plan = {"resource_changes": [resource('aws_route53_record.r["a|b`c"]', ["delete"])]}
    plan["resource_changes"][0]["address"] = 'aws_route53_record.r["a|b`c"]'
    body = render(summarize(plan), plan_text="")
    assert '`aws_route53_record.r["a\\|b\'c"]`' in body


def test_summary_is_not_mutated_by_input_changes() -> None:
    plan = recorded_plan()
    summary = summarize(plan)
    plan["resource_changes"].clear()
    assert summary.add == 2
