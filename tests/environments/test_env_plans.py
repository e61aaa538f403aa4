"""The environment roots: plans of the platform and app stacks, and the blue-green routing applied.

The app stacks get the platform's outputs in their input (``release.platform``, rendered by
deploytool from the platform's published outputs); the ``platform`` fixture creates the platform's
resources directly in the emulator (a VPC, an ECS cluster, an ALB with a listener, ...) and returns
their outputs, so an app stack plans and applies in seconds without the platform stack's slow
waiters. The app roots read no Terraform state but their own.

Every root's input object is rendered from the real deploy.toml through the templates deploytool
uses (``environments/<stack>.tfvars.j2``), so a template that drifts from its composition module fails here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from deploytool import naming
from deploytool.config import EnvironmentSettings, load_config
from deploytool.render import render_tfvars
from deploytool.state import APP_PLATFORM_ATTRIBUTES, PlatformOutputs, output_values
from tests.conftest import REGION, REPO, Emulator, TfRoot

ENVIRONMENTS = REPO / "environments"
STAGING_PLATFORM = ENVIRONMENTS / "staging" / "platform"
STAGING_APP = ENVIRONMENTS / "staging" / "app"
PRODUCTION_PLATFORM = ENVIRONMENTS / "production" / "platform"
PRODUCTION_APP = ENVIRONMENTS / "production" / "app"

# A recognisable database password: it must never show up where it could leak.
DB_PASSWORD = "Cacao-Pod-7f3e9b21-Secret"
CACHE_TOKEN = "Cacao-Cache-2b7d4e91-Token"
IMAGE_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api"
LONG_BRANCH = "Feature/JIRA-1234_Rework_The_Nearby_Search_Endpoint_For_Very_Large_Cacao_Plantations"

MakeRoot = Callable[[Path | str], TfRoot]
CONFIG = load_config(REPO / "deploy.toml")


# ---------------------------------------------------------------------------------------------------
# Fixtures: the DB secret, the platform's outputs, plans
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db_secret_arn(emulator: Emulator) -> str:
    """The DB master password secret, stored the way ``deploytool bootstrap`` stores it (plain string)."""
    sm = emulator.client("secretsmanager")
    name = f"theobroma-test-db-{uuid.uuid4().hex[:8]}"
    return str(sm.create_secret(Name=name, SecretString=DB_PASSWORD)["ARN"])


@pytest.fixture(scope="module")
def db_app_secret_arn(emulator: Emulator) -> str:
    """The service role's password secret, stored as ``deploytool bootstrap`` stores it."""
    sm = emulator.client("secretsmanager")
    name = f"theobroma-test-db-app-{uuid.uuid4().hex[:8]}"
    return str(sm.create_secret(Name=name, SecretString="app-role-password")["ARN"])


def _platform_outputs(emulator: Emulator, db_secret_arn: str, db_app_secret_arn: str | None = None) -> dict[str, Any]:
    """Create what the platform stack would, directly through the API, and return its outputs."""
    suffix = uuid.uuid4().hex[:6]
    ec2, ecs, elb = emulator.client("ec2"), emulator.client("ecs"), emulator.client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    private, public = [], []
    for i, az in enumerate(("us-east-1a", "us-east-1b")):
        public.append(ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=az)["Subnet"])
        private.append(ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.77.{i + 8}.0/24", AvailabilityZone=az)["Subnet"])

    def group(name: str) -> str:
        return str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"])

    alb_sg, tasks_sg, db_sg = group(f"alb-{suffix}"), group(f"tasks-{suffix}"), group(f"db-{suffix}")
    cluster = ecs.create_cluster(clusterName=f"theobroma-test-{suffix}")["cluster"]
    alb = elb.create_load_balancer(
        Name=f"theobroma-test-{suffix}", Subnets=[s["SubnetId"] for s in public], SecurityGroups=[alb_sg]
    )["LoadBalancers"][0]
    listener = elb.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]
    log_group = f"/ecs/theobroma-test-{suffix}"
    emulator.client("logs").create_log_group(logGroupName=log_group)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = emulator.client("iam").create_role(
        RoleName=f"theobroma-test-{suffix}-exec", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    return {
        "region": REGION,
        "cluster_name": cluster["clusterName"],
        "cluster_arn": cluster["clusterArn"],
        "vpc_id": vpc_id,
        "vpc_cidr_block": "10.77.0.0/16",
        "private_subnet_ids": [s["SubnetId"] for s in private],
        "public_subnet_ids": [s["SubnetId"] for s in public],
        "alb_arn": alb["LoadBalancerArn"],
        "alb_arn_suffix": alb["LoadBalancerArn"].split(":loadbalancer/")[1],
        "alb_dns_name": alb["DNSName"],
        "alb_zone_id": alb["CanonicalHostedZoneId"],
        "alb_security_group_id": alb_sg,
        "listener_arn": listener["ListenerArn"],
        "url_scheme": "http",
        "tasks_security_group_id": tasks_sg,
        "task_execution_role_arn": role["Arn"],
        "log_group_name": log_group,
        "db_address": f"theobroma-test-{suffix}.c0ffee.us-east-1.rds.amazonaws.com",
        "db_port": 5432,
        "db_username": "theobroma",
        "db_name": "postgres",
        "db_secret_arn": db_secret_arn,
        "db_app_username": "theobroma_staging_app" if db_app_secret_arn else None,
        "db_app_secret_arn": db_app_secret_arn,
        "db_security_group_id": db_sg,
        "db_instance_identifier": f"theobroma-test-{suffix}",
        "sns_topic_arn": f"arn:aws:sns:{REGION}:123456789012:theobroma-test-{suffix}-alarms",
        # No cache (deploy.toml's default).
        "cache_url": None,
        "cache_port": None,
        "cache_security_group_id": None,
        "cache_auth_token_secret_arn": None,
    }


@pytest.fixture(scope="module")
def platform(emulator: Emulator, db_secret_arn: str, db_app_secret_arn: str) -> dict[str, Any]:
    """The platform's outputs (as its root's ``platform`` object output holds them)."""
    return _platform_outputs(emulator, db_secret_arn, db_app_secret_arn)


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings (and of quoted object keys)."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value)
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def _rendered(root: Path, context: dict[str, Any]) -> dict[str, Any]:
    """The root's tfvars as deploytool renders them, as a dict (to adjust before a plan)."""
    return dict(_unquote(hcl2.loads(render_tfvars(root, context))))


def _platform_vars(
    env: str,
    db_secret_arn: str,
    *,
    github_repository: str | None = None,
    cache_secret_arn: str | None = None,
    settings: EnvironmentSettings | None = None,
    db_app_secret_arn: str | None = None,
) -> dict[str, Any]:
    project = CONFIG.project.model_copy(update={"github_repository": github_repository})
    settings = settings or CONFIG.environment(env)
    if cache_secret_arn is not None:
        platform = settings.platform.model_copy(update={"cache": True, "cache_node_type": "cache.t4g.small"})
        settings = settings.model_copy(update={"platform": platform})
    context = {
        "env": env,
        "settings": settings,
        "project": project,
        "db_secret_arn": db_secret_arn,
        "cache_secret_arn": cache_secret_arn,
        "db_app_secret_arn": db_app_secret_arn,
        "task_secret_arns": [],
    }
    tf_vars = _rendered(ENVIRONMENTS / env / "platform", context)
    tf_vars["platform"]["network"]["azs"] = ["us-east-1a", "us-east-1b"]
    return tf_vars


def _app_vars(
    env: str, platform: dict[str, Any], names: naming.Names, settings: EnvironmentSettings | None = None, **context: Any
) -> dict[str, Any]:
    settings = settings or CONFIG.environment(env)
    base = {
        "env": env,
        "settings": settings,
        "project": CONFIG.project,
        "names": names,
        "image_repository": IMAGE_REPOSITORY,
        "platform": PlatformOutputs(platform).for_app(),
        "listener_priority": None,
        "container_environment": dict(settings.environment),
        "image_tag": "",
    }
    return _rendered(ENVIRONMENTS / env / "app", {**base, **context})


def _staging_app_vars(
    platform: dict[str, Any], names: naming.Names, settings: EnvironmentSettings | None = None, **extra: Any
) -> dict[str, Any]:
    tf_vars = _app_vars("staging", platform, names, settings, listener_priority=1200, image_tag="3b1f2c9")
    tf_vars["release"].update(extra)
    return tf_vars


def _production_app_vars(
    platform: dict[str, Any], active: str, settings: EnvironmentSettings | None = None, **extra: Any
) -> dict[str, Any]:
    names = naming.names_for("production", None, settings.domain if settings else "api.theobroma.example.com")
    colors = {
        "active_color": active,
        "blue_image_tag": "v1.0.0",
        "green_image_tag": "v1.1.0",
        "blue_desired_count": 2 if active == "blue" else 0,
        "green_desired_count": 2 if active == "green" else 0,
        "blue_environment": {},
        "green_environment": {},
    }
    tf_vars = _app_vars("production", platform, names, settings, colors=colors)
    tf_vars["release"].update(extra)
    return tf_vars


class Planned:
    """A saved plan of a root: its JSON, its human text and the tftest wrapper."""

    def __init__(self, root: TfRoot, tf_vars: dict[str, Any]) -> None:
        self.tf = root.plan(tf_vars)
        planfile = root.workdir / "test.tfplan"
        self.json: dict[str, Any] = root.runner.show_json(planfile)
        # Terraform's own rendering, not the tool's redacted one: it must hide sensitive values itself.
        self.text: str = root.runner.run(["show", "-no-color", str(planfile)], stream=False).stdout

    def after(self, address: str) -> dict[str, Any]:
        for rc in self.json["resource_changes"]:
            if rc["address"] == address:
                return dict(rc["change"]["after"])
        raise AssertionError(f"{address} is not in the plan")

    def outputs(self) -> dict[str, Any]:
        """Planned output values by flat name (as deploytool reads them); unknown ones are None.

        ``planned_values`` leaves out a value that is not wholly known (the ``app`` object holds ARNs
        known after apply), so read the known parts from ``output_changes``."""
        changes = self.json["output_changes"]
        return output_values({name: {"value": change["after"]} for name, change in changes.items()})

    def by_type(self, rtype: str) -> list[dict[str, Any]]:
        return [rc for rc in self.json["resource_changes"] if rc["type"] == rtype and rc["mode"] == "managed"]


@pytest.fixture(scope="module")
def platform_plans(tf_root: MakeRoot, db_secret_arn: str) -> dict[str, Planned]:
    return {
        "staging": Planned(tf_root(STAGING_PLATFORM), _platform_vars("staging", db_secret_arn)),
        "production": Planned(
            tf_root(PRODUCTION_PLATFORM),
            _platform_vars("production", db_secret_arn, github_repository="theobroma/geo-api"),
        ),
    }


@pytest.fixture(scope="module")
def long_branch_plan(tf_root: MakeRoot, platform: dict[str, Any]) -> Planned:
    names = naming.names_for("staging", LONG_BRANCH, "staging.theobroma.example.com")
    return Planned(tf_root(STAGING_APP), _staging_app_vars(platform, names))


@pytest.fixture(scope="module")
def production_app(tf_root: MakeRoot) -> TfRoot:
    return tf_root(PRODUCTION_APP)


@pytest.fixture(scope="module")
def production_plans(production_app: TfRoot, platform: dict[str, Any]) -> dict[str, Planned]:
    return {color: Planned(production_app, _production_app_vars(platform, color)) for color in ("blue", "green")}


# ---------------------------------------------------------------------------------------------------
# Platform stacks
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "protected", "nat_gateways", "insights", "oidc"),
    [("staging", False, 1, "disabled", False), ("production", True, 2, "enabled", True)],
)
def test_platform_protection_and_availability(
    platform_plans: dict[str, Planned], env: str, protected: bool, nat_gateways: int, insights: str, oidc: bool
) -> None:
    plan = platform_plans[env]
    db = plan.after("module.platform.module.db.aws_db_instance.this")
    assert db["deletion_protection"] is protected
    assert db["multi_az"] is protected
    assert db["skip_final_snapshot"] is not protected
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert plan.after("module.platform.module.alb.aws_lb.this")["enable_deletion_protection"] is protected
    assert len(plan.by_type("aws_nat_gateway")) == nat_gateways
    settings = plan.after("module.platform.module.ecs_cluster.aws_ecs_cluster.this")["setting"]
    assert {"name": "containerInsights", "value": insights} in settings
    assert bool(plan.by_type("aws_iam_openid_connect_provider")) is oidc


@pytest.mark.parametrize("env", ["staging", "production"])
def test_platform_tasks_group_is_the_db_door(platform_plans: dict[str, Planned], env: str) -> None:
    plan = platform_plans[env]
    tasks = plan.after("module.platform.aws_security_group.tasks")
    assert tasks["name"] == f"theobroma-{env}-tasks"
    rules = {rc["address"]: rc["change"]["after"] for rc in plan.by_type("aws_security_group_rule")}
    own = {a: r for a, r in rules.items() if a.startswith("module.platform.aws_security_group_rule.tasks_")}
    assert {(r["type"], r["from_port"], tuple(r["cidr_blocks"])) for r in own.values()} == {
        ("egress", 443, ("0.0.0.0/0",)),
        ("egress", 5432, (f"10.{20 if env == 'staging' else 30}.0.0/16",)),
    }
    # The database admits exactly one security group: the tasks group (its ID is unknown until apply).
    db_ingress = [a for a in rules if a.startswith("module.platform.module.db.aws_security_group_rule.ingress")]
    assert db_ingress == ["module.platform.module.db.aws_security_group_rule.ingress[0]"]


def test_platform_has_no_cache_by_default(platform_plans: dict[str, Planned]) -> None:
    for env, plan in platform_plans.items():
        cache = [rc["address"] for rc in plan.json["resource_changes"] if ".cache" in rc["address"]]
        assert cache == [], env
        assert plan.outputs()["cache_url"] is None
        assert plan.outputs()["cache_auth_token_secret_arn"] is None


@pytest.fixture(scope="module")
def cache_secret_arn(emulator: Emulator) -> str:
    """The cache's auth token secret, stored the way ``deploytool bootstrap`` stores it (plain string)."""
    sm = emulator.client("secretsmanager")
    name = f"theobroma-test-cache-{uuid.uuid4().hex[:8]}"
    return str(sm.create_secret(Name=name, SecretString=CACHE_TOKEN)["ARN"])


@pytest.fixture(scope="module")
def cache_platform_plan(tf_root: MakeRoot, db_secret_arn: str, cache_secret_arn: str) -> Planned:
    tf_vars = _platform_vars("staging", db_secret_arn, cache_secret_arn=cache_secret_arn)
    return Planned(tf_root(STAGING_PLATFORM), tf_vars)


def test_platform_cache_on_request(cache_platform_plan: Planned, cache_secret_arn: str) -> None:
    plan = cache_platform_plan
    prefix = "module.platform.module.cache[0]."
    cache = sorted(rc["address"] for rc in plan.json["resource_changes"] if rc["address"].startswith(prefix))
    assert cache == [
        prefix + "aws_cloudformation_stack.this",
        prefix + "aws_security_group.this",
        prefix + "aws_security_group_rule.ingress[0]",
    ]
    # The tasks may reach it inside the VPC, and their execution role may read its token.
    egress = plan.after("module.platform.aws_security_group_rule.tasks_egress_cache[0]")
    assert (egress["type"], egress["from_port"], egress["cidr_blocks"]) == ("egress", 6379, ["10.20.0.0/16"])
    policies = [rc["change"]["after"] for rc in plan.by_type("aws_iam_role_policy")]
    assert any(cache_secret_arn in (p.get("policy") or "") for p in policies)
    # The module's ingress rule admits the tasks group (its ID is unknown until apply) and nothing else.
    config = _module_call_config(plan, "module.platform.module.cache")["expressions"]
    assert config["allowed_security_group_ids"]["references"][0] == "aws_security_group.tasks.id"
    assert config["subnet_ids"]["references"][0] == "module.network.private_subnet_ids"
    assert config["node_type"]["references"][0] == "local.settings.cache.node_type"
    assert plan.outputs()["cache_auth_token_secret_arn"] == cache_secret_arn


def test_platform_cache_token_never_in_plan_or_tfvars(
    cache_platform_plan: Planned, db_secret_arn: str, cache_secret_arn: str
) -> None:
    assert CACHE_TOKEN not in json.dumps(cache_platform_plan.json)
    assert CACHE_TOKEN not in cache_platform_plan.text
    tfvars = json.dumps(_platform_vars("staging", db_secret_arn, cache_secret_arn=cache_secret_arn))
    assert cache_secret_arn in tfvars and CACHE_TOKEN not in tfvars


def _paths_to(value: Any, needle: str, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths_to(v, needle, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths_to(v, needle, (*path, i))
    elif isinstance(value, str) and needle in value:
        yield path


def _marked_sensitive(plan: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the sensitivity mirror of ``path`` (after -> after_sensitive, values -> sensitive_values) is true."""
    mirrors = {"after": "after_sensitive", "before": "before_sensitive", "values": "sensitive_values"}
    # The innermost after/before/values holds the attribute (prior_state.values wraps the modules).
    for i in reversed(range(len(path))):
        mirror = mirrors.get(path[i]) if isinstance(path[i], str) else None
        if mirror is None:
            continue
        node: Any = plan
        for k in (*path[:i], mirror, *path[i + 1 :]):
            if node is True:
                return True
            try:
                node = node[k]
            except (KeyError, IndexError, TypeError):
                return False
        return node is True
    return False


@pytest.mark.parametrize("env", ["staging", "production"])
def test_platform_db_password_only_as_sensitive_value(platform_plans: dict[str, Planned], env: str) -> None:
    plan = platform_plans[env]
    # Terraform needs the password to create the instance, so the saved plan holds it, marked sensitive.
    paths = list(_paths_to(plan.json, DB_PASSWORD))
    assert paths, "the test password should reach the DB instance through the secret"
    unmarked = [p for p in paths if not _marked_sensitive(plan.json, p)]
    assert unmarked == []
    resource_paths = [p for p in paths if p[0] == "resource_changes"]
    addresses = {plan.json["resource_changes"][p[1]]["address"] for p in resource_paths}
    assert addresses == {"module.platform.module.db.aws_db_instance.this"}
    # What people read (plan output, PR comments) never shows it.
    assert "module.platform.module.db.aws_db_instance.this" in plan.text
    assert DB_PASSWORD not in plan.text
    assert DB_PASSWORD not in json.dumps(plan.json["configuration"])


def _tf_code(text: str) -> str:
    """HCL without comments and whitespace, so a copy with other comments or layout still compares equal."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"(#|//).*", "", text)
    return "".join(text.split())


def _tf_files(env: str) -> dict[Path, bytes]:
    return {
        p: p.read_bytes() for p in sorted((ENVIRONMENTS / env).rglob("*.tf")) if not p.name.endswith("_override.tf")
    }


def test_environment_roots_hold_no_copies() -> None:
    """What staging and production share lives in modules/: no .tf file of one repeats a file of the other."""
    assert _tf_code('a = "x" # one\n/* two */ b = 1\n') == _tf_code('a  =  "x"\n\n// three\nb = 1')
    staging, production = _tf_files("staging"), _tf_files("production")
    assert len(staging) >= 4 and len(production) >= 4, (staging, production)
    copies = [
        f"{s.relative_to(ENVIRONMENTS)} = {p.relative_to(ENVIRONMENTS)}"
        for s, s_text in staging.items()
        for p, p_text in production.items()
        if s_text == p_text or _tf_code(s_text.decode()) == _tf_code(p_text.decode())
    ]
    assert copies == [], "move what the environments share into a module"


# ---------------------------------------------------------------------------------------------------
# HTTPS and DNS as a real account runs them: a certificate the platform creates and validates in the
# environment's hosted zone, the HTTP listener redirecting to HTTPS, the hosts' records in the zone
# ---------------------------------------------------------------------------------------------------

HOSTED_ZONE_ID = "Z0THEOBROMATESTZONE"


def _with_https(env: str) -> EnvironmentSettings:
    """``env`` of deploy.toml with the hosted zone, a created certificate and host records."""
    settings = CONFIG.environment(env)
    update = {"create_certificate": True, "create_dns_records": True, "hosted_zone_id": HOSTED_ZONE_ID}
    return settings.model_copy(update={"platform": settings.platform.model_copy(update=update)})


@pytest.fixture(scope="module")
def https_platform_plan(tf_root: MakeRoot, db_secret_arn: str) -> Planned:
    settings = _with_https("staging")
    tf_vars = _platform_vars("staging", db_secret_arn, github_repository="theobroma/geo-api", settings=settings)
    return Planned(tf_root(STAGING_PLATFORM), tf_vars)


@pytest.fixture(scope="module")
def https_app_plans(tf_root: MakeRoot, platform: dict[str, Any]) -> dict[str, Planned]:
    """The app stacks of a platform serving HTTPS, with host records on."""
    https = {**platform, "url_scheme": "https"}
    staging = _with_https("staging")
    names = naming.names_for("staging", "feature/new-api-endpoint", staging.domain)
    return {
        "staging": Planned(tf_root(STAGING_APP), _staging_app_vars(https, names, staging)),
        "production": Planned(tf_root(PRODUCTION_APP), _production_app_vars(https, "blue", _with_https("production"))),
    }


def test_https_platform_requests_a_dns_validated_wildcard_certificate(https_platform_plan: Planned) -> None:
    domain = CONFIG.environment("staging").domain
    plan = https_platform_plan
    certificate = plan.after("module.platform.aws_acm_certificate.this[0]")
    assert certificate["domain_name"] == domain
    assert certificate["subject_alternative_names"] == [f"*.{domain}"]
    assert certificate["validation_method"] == "DNS"
    # The wildcard covers every branch host, however long the branch name.
    host = naming.names_for("staging", LONG_BRANCH, domain).host
    assert host.split(".", 1)[1] == domain


def test_https_platform_validates_the_certificate_in_the_hosted_zone(https_platform_plan: Planned) -> None:
    domain = CONFIG.environment("staging").domain
    plan = https_platform_plan
    # ACM asks for one record for the domain and its wildcard: one record, in the environment's zone.
    records = {rc["address"]: rc["change"]["after"] for rc in plan.by_type("aws_route53_record")}
    address = f'module.platform.aws_route53_record.certificate_validation["{domain}"]'
    assert list(records) == [address]
    record = records[address]
    assert (record["zone_id"], record["ttl"], record["allow_overwrite"]) == (HOSTED_ZONE_ID, 60, True)
    validation = "module.platform.aws_acm_certificate_validation.this[0]"
    plan.after(validation)
    expressions = _resource_config(plan, validation)["expressions"]
    assert "aws_acm_certificate.this" in expressions["certificate_arn"]["references"]
    assert "aws_route53_record.certificate_validation" in expressions["validation_record_fqdns"]["references"]


def test_https_platform_listener_serves_the_validated_certificate(https_platform_plan: Planned) -> None:
    plan = https_platform_plan
    address = "module.platform.module.alb.aws_lb_listener.https[0]"
    listener = plan.after(address)
    assert (listener["port"], listener["protocol"]) == (443, "HTTPS")
    (change,) = [rc["change"] for rc in plan.json["resource_changes"] if rc["address"] == address]
    assert change["after_unknown"]["certificate_arn"] is True  # the created certificate, known after apply
    # The platform hands the load balancer the validation's certificate ARN, so the listener waits for it.
    locals_block = hcl2.loads((REPO / "modules" / "platform" / "main.tf").read_text())["locals"][0]
    assert "aws_acm_certificate_validation.this[0].certificate_arn" in locals_block["certificate_arn"]
    alb_call = _module_call_config(plan, "module.platform.module.alb")["expressions"]
    assert alb_call["certificate_arn"]["references"] == ["local.certificate_arn"]
    (action,) = plan.after("module.platform.module.alb.aws_lb_listener.http")["default_action"]
    assert action["type"] == "redirect"
    (redirect,) = action["redirect"]
    assert (redirect["port"], redirect["protocol"], redirect["status_code"]) == ("443", "HTTPS", "HTTP_301")
    assert plan.outputs()["url_scheme"] == "https"
    ports = {
        rc["change"]["after"]["from_port"] for rc in plan.by_type("aws_security_group_rule") if ".alb." in rc["address"]
    }
    assert 443 in ports


@pytest.mark.parametrize("env", ["staging", "production"])
def test_platform_without_a_certificate_stays_http(platform_plans: dict[str, Planned], env: str) -> None:
    """deploy.toml as shipped (no hosted zone yet): no certificate, no records, plain HTTP."""
    plan = platform_plans[env]
    assert plan.by_type("aws_acm_certificate") == [] and plan.by_type("aws_route53_record") == []
    assert plan.outputs()["url_scheme"] == "http"
    assert plan.outputs()["certificate_arn"] is None


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"create_certificate": True}, "With create_certificate or create_records = true, set the dns hosted_zone_id"),
        ({"create_dns_records": True}, "With create_certificate or create_records = true, set the dns hosted_zone_id"),
        (
            {
                "create_certificate": True,
                "hosted_zone_id": HOSTED_ZONE_ID,
                "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
            },
            "Set the load_balancer certificate_arn or create_certificate = true, not both",
        ),
    ],
)
def test_platform_rejects_a_certificate_without_its_zone_or_twice(
    tf_root: MakeRoot, db_secret_arn: str, update: dict[str, Any], message: str
) -> None:
    """The composition holds what the settings model holds (a root can be planned without deploytool)."""
    settings = CONFIG.environment("staging")
    settings = settings.model_copy(update={"platform": settings.platform.model_copy(update=update)})
    result = tf_root(STAGING_PLATFORM).plan_raw(_platform_vars("staging", db_secret_arn, settings=settings))
    assert result.code != 0
    assert message in " ".join(result.output.split())


def test_https_platform_deploy_role_may_change_host_records_in_the_zone(https_platform_plan: Planned) -> None:
    """With host records on, the deploy role gets the zone (the role's statements for it are held by
    tests/modules/test_github_oidc.py; here the policy document is read at apply, after the cluster)."""
    call = _module_call_config(https_platform_plan, "module.platform.module.github_oidc[0]")
    references = call["expressions"]["route53_zone_ids"]["references"]
    assert {"local.settings.dns.create_records", "local.settings.dns.hosted_zone_id"} <= set(references)


def test_https_app_stacks_put_their_hosts_in_the_zone(
    https_app_plans: dict[str, Planned], platform: dict[str, Any]
) -> None:
    staging, production = https_app_plans["staging"], https_app_plans["production"]
    host = naming.names_for("staging", "feature/new-api-endpoint", CONFIG.environment("staging").domain).host
    records = {
        "staging": (staging, "module.app.module.service.aws_route53_record.this[0]", host),
        "production": (production, "module.app.aws_route53_record.this[0]", CONFIG.environment("production").domain),
    }
    for env, (plan, address, name) in records.items():
        record = plan.after(address)
        assert (record["zone_id"], record["name"], record["type"]) == (HOSTED_ZONE_ID, name, "A"), env
        (alias,) = record["alias"]
        assert (alias["name"], alias["zone_id"]) == (platform["alb_dns_name"], platform["alb_zone_id"]), env
        assert [rc["address"] for rc in plan.by_type("aws_route53_record")] == [address], env
        assert plan.outputs()["url"] == f"https://{name}", env


# ---------------------------------------------------------------------------------------------------
# How the app stacks get the platform: in their input, never from the platform's state
# ---------------------------------------------------------------------------------------------------


def _declared_platform_attributes(module: str) -> list[str]:
    """The attributes of the typed ``platform`` variable of a composition module."""
    text = (REPO / "modules" / module / "variables.tf").read_text()
    block = text.split('variable "platform" {', 1)[1].split("type = object({", 1)[1].split("})", 1)[0]
    return re.findall(r"^\s*([a-z_]+)\s*=", block, re.M)


@pytest.mark.parametrize("module", ["app-rolling", "app-blue-green"])
def test_app_platform_attributes_are_the_compositions_contract(module: str) -> None:
    assert list(APP_PLATFORM_ATTRIBUTES) == _declared_platform_attributes(module)


@pytest.mark.parametrize("root", [STAGING_APP, PRODUCTION_APP])
def test_app_roots_read_no_remote_state(root: Path) -> None:
    for tf in root.glob("*.tf"):
        if tf.name.endswith("_override.tf"):
            continue
        assert "terraform_remote_state" not in tf.read_text(), tf
    assert "platform = var.release.platform" in (root / "main.tf").read_text()


def test_app_tfvars_carry_the_platform_and_no_state_location(platform: dict[str, Any]) -> None:
    names = naming.names_for("staging", "feature/x", "staging.theobroma.example.com")
    release = _staging_app_vars(platform, names)["release"]
    assert "platform_state" not in release
    assert release["platform"] == {name: platform[name] for name in APP_PLATFORM_ATTRIBUTES}


# ---------------------------------------------------------------------------------------------------
# Staging app stack (one workspace per branch)
# ---------------------------------------------------------------------------------------------------


def _container(after: dict[str, Any]) -> dict[str, Any]:
    definitions = json.loads(after["container_definitions"])
    assert len(definitions) == 1
    return dict(definitions[0])


def test_staging_app_names_fit_for_a_long_branch(long_branch_plan: Planned) -> None:
    names = naming.names_for("staging", LONG_BRANCH, "staging.theobroma.example.com")
    plan = long_branch_plan
    tg = plan.after("module.app.module.service.aws_lb_target_group.this")
    assert tg["name"] == names.target_group and len(tg["name"]) <= 32
    (service,) = plan.by_type("aws_ecs_service")
    assert service["change"]["after"]["name"] == names.service and len(names.service) <= 255
    assert plan.after("module.app.module.service.aws_ecs_task_definition.this")["family"] == names.service
    assert len(plan.after("module.app.module.service.aws_security_group.this")["name"]) <= 255
    assert len(plan.after("module.app.module.service.aws_appautoscaling_policy.cpu[0]")["name"]) <= 255
    assert all(len(label) <= 63 for label in names.host.split("."))
    rule = plan.after("module.app.module.service.aws_lb_listener_rule.this[0]")
    assert rule["condition"][0]["host_header"][0]["values"] == [names.host]
    assert rule["priority"] == 1200
    assert plan.outputs()["url"] == f"http://{names.host}"


def test_staging_app_logs_and_database_wiring(long_branch_plan: Planned, platform: dict[str, Any]) -> None:
    names = naming.names_for("staging", LONG_BRANCH, "staging.theobroma.example.com")
    plan = long_branch_plan
    container = _container(plan.after("module.app.module.service.aws_ecs_task_definition.this"))
    assert container["image"] == f"{IMAGE_REPOSITORY}:3b1f2c9"
    assert container["logConfiguration"]["options"] == {
        "awslogs-group": platform["log_group_name"],
        "awslogs-region": REGION,
        "awslogs-stream-prefix": names.log_prefix,
    }
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["PGHOST"] == platform["db_address"] and env["PGPORT"] == "5432"
    # The service connects as its own role; the master user is the migration's alone.
    server = f"{platform['db_address']}:5432/postgres?sslmode=require"
    assert env["DATABASE_URL"] == f"postgresql://theobroma_staging_app@{server}"
    assert env["PGUSER"] == env["APP_DB_USER"] == "theobroma_staging_app"
    assert env["MIGRATION_DATABASE_URL"] == f"postgresql://theobroma@{server}"
    assert container["secrets"] == [
        {"name": "APP_DB_PASSWORD", "valueFrom": platform["db_app_secret_arn"]},
        {"name": "MIGRATION_DB_PASSWORD", "valueFrom": platform["db_secret_arn"]},
        {"name": "PGPASSWORD", "valueFrom": platform["db_app_secret_arn"]},
    ]
    # The branch's own security group is admitted by the database for the life of the branch.
    rule = plan.after("module.app.aws_security_group_rule.db_from_service")
    assert (rule["type"], rule["security_group_id"], rule["from_port"]) == (
        "ingress",
        platform["db_security_group_id"],
        5432,
    )


@pytest.fixture(scope="module")
def cache_platform(emulator: Emulator, platform: dict[str, Any], cache_secret_arn: str) -> dict[str, Any]:
    """The platform's outputs with a cache (its security group made in the emulator)."""
    ec2 = emulator.client("ec2")
    group = ec2.create_security_group(
        GroupName=f"cache-{uuid.uuid4().hex[:6]}", Description="cache", VpcId=platform["vpc_id"]
    )["GroupId"]
    return {
        **platform,
        "cache_url": "rediss://master.theobroma-test.abc123.use1.cache.amazonaws.com:6379",
        "cache_port": 6379,
        "cache_security_group_id": group,
        "cache_auth_token_secret_arn": cache_secret_arn,
    }


def test_apps_get_no_cache_without_one(long_branch_plan: Planned, production_plans: dict[str, Planned]) -> None:
    for plan in (long_branch_plan, *production_plans.values()):
        assert plan.by_type("aws_ecs_task_definition")
        for definition in plan.by_type("aws_ecs_task_definition"):
            container = _container(definition["change"]["after"])
            assert not {"REDIS_URL", "REDIS_AUTH_TOKEN"} & {e["name"] for e in container["environment"]}
            assert "REDIS_AUTH_TOKEN" not in {e["name"] for e in container["secrets"]}
        assert not [rc for rc in plan.by_type("aws_security_group_rule") if "cache_from_service" in rc["address"]]


def test_apps_get_the_cache_url_and_token_secret(
    tf_root: MakeRoot, production_app: TfRoot, cache_platform: dict[str, Any], cache_secret_arn: str
) -> None:
    names = naming.names_for("staging", "feature/cache", "staging.theobroma.example.com")
    plans = {
        "staging": Planned(tf_root(STAGING_APP), _staging_app_vars(cache_platform, names)),
        "production": Planned(production_app, _production_app_vars(cache_platform, "blue")),
    }
    for env, plan in plans.items():
        definitions = plan.by_type("aws_ecs_task_definition")
        assert len(definitions) == (1 if env == "staging" else 2)
        for definition in definitions:
            container = _container(definition["change"]["after"])
            environment = {e["name"]: e["value"] for e in container["environment"]}
            assert environment["REDIS_URL"] == cache_platform["cache_url"]
            assert {"name": "REDIS_AUTH_TOKEN", "valueFrom": cache_secret_arn} in container["secrets"]
        # Each service's own security group is admitted by the cache, on its port only.
        rules = [rc["change"]["after"] for rc in plan.by_type("aws_security_group_rule")]
        rules = [r for r in rules if r.get("security_group_id") == cache_platform["cache_security_group_id"]]
        assert len(rules) == len(definitions), env
        assert {(r["type"], r["protocol"], r["from_port"], r["to_port"]) for r in rules} == {
            ("ingress", "tcp", 6379, 6379)
        }
        assert CACHE_TOKEN not in json.dumps(plan.json) and CACHE_TOKEN not in plan.text


def test_app_plans_never_hold_the_db_password(long_branch_plan: Planned, production_plans: dict[str, Planned]) -> None:
    for plan in (long_branch_plan, *production_plans.values()):
        assert plan.json["resource_changes"], "the plan should not be empty"
        assert DB_PASSWORD not in json.dumps(plan.json)
        assert DB_PASSWORD not in plan.text


def test_every_ecs_service_has_the_circuit_breaker_with_rollback(
    long_branch_plan: Planned, production_plans: dict[str, Planned]
) -> None:
    services = [rc for p in (long_branch_plan, *production_plans.values()) for rc in p.by_type("aws_ecs_service")]
    assert len(services) == 5  # one branch service, blue + green in each production plan
    for rc in services:
        assert rc["change"]["after"]["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}], rc[
            "address"
        ]


def _resource_config(plan: Planned, address: str) -> dict[str, Any]:
    """The configuration of the resource at ``address`` (``module.a.module.b["k"].type.name[0]``)."""
    parts = re.sub(r"\[[^\]]*\]", "", address).split(".")
    node = plan.json["configuration"]["root_module"]
    while parts[0] == "module":
        node = node["module_calls"][parts[1]]["module"]
        parts = parts[2:]
    (resource,) = [r for r in node["resources"] if r["address"] == ".".join(parts)]
    return dict(resource)


def test_every_target_group_has_an_unhealthy_hosts_alarm(
    long_branch_plan: Planned, production_plans: dict[str, Planned], platform: dict[str, Any]
) -> None:
    """The unhealthy-host alarm of each service's target group, branch services included: the app stack
    that creates the target group alarms on it, to the platform's alarm topic."""
    for plan in (long_branch_plan, *production_plans.values()):
        groups = [rc["address"] for rc in plan.by_type("aws_lb_target_group")]
        alarms = {rc["address"]: rc for rc in plan.by_type("aws_cloudwatch_metric_alarm")}
        assert len(groups) == (1 if plan is long_branch_plan else 2)
        for group in groups:
            module = group.rsplit(".aws_lb_target_group.", 1)[0]
            address = f"{module}.aws_cloudwatch_metric_alarm.unhealthy_hosts[0]"
            assert address in alarms, f"no unhealthy-host alarm for {group}"
            alarm = alarms[address]["change"]["after"]
            assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/ApplicationELB", "UnHealthyHostCount")
            assert (alarm["comparison_operator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
            assert alarm["alarm_actions"] == [platform["sns_topic_arn"]]
            assert alarm["ok_actions"] == [platform["sns_topic_arn"]]
            # The dimensions hold the target group's ARN suffix, known after apply (the production apply
            # test reads them back): the load balancer the platform gives, the target group made here.
            assert alarms[address]["change"]["after_unknown"]["dimensions"] is True
            assert _resource_config(plan, address)["expressions"]["dimensions"]["references"] == [
                "var.unhealthy_hosts_alarm.load_balancer_arn_suffix",
                "var.unhealthy_hosts_alarm",
                "aws_lb_target_group.this.arn_suffix",
                "aws_lb_target_group.this",
            ]
            call = _module_call_config(plan, module)["expressions"]["unhealthy_hosts_alarm"]
            assert "local.platform.alb_arn_suffix" in call["references"]


def test_the_service_metrics_alarms_watch_the_environment_its_tasks_report(
    platform_plans: dict[str, Planned], long_branch_plan: Planned, production_plans: dict[str, Planned]
) -> None:
    """The service writes its metrics under ``Environment`` = its ``APP_ENV``: the platform's alarms on
    them must watch that value, or they never see a datapoint."""
    for env, app_plans in (("staging", [long_branch_plan]), ("production", list(production_plans.values()))):
        alarms = {
            rc["change"]["after"]["alarm_name"]: rc["change"]["after"]
            for rc in platform_plans[env].by_type("aws_cloudwatch_metric_alarm")
        }
        for name in (f"theobroma-{env}-geo-query-p95-latency", f"theobroma-{env}-connection-pool-exhausted"):
            assert alarms[name]["dimensions"] == {"Environment": env}, name
        task_definitions = [rc["change"]["after"] for p in app_plans for rc in p.by_type("aws_ecs_task_definition")]
        assert task_definitions
        for definition in task_definitions:
            environment = {e["name"]: e["value"] for e in _container(definition)["environment"]}
            assert environment["APP_ENV"] == env


def _module_call_config(plan: Planned, module: str) -> dict[str, Any]:
    """The configuration of the module call ``module`` (``module.a.module.b["k"]``)."""
    parts = re.sub(r"\[[^\]]*\]", "", module).split(".")
    node = plan.json["configuration"]["root_module"]
    call: dict[str, Any] = {}
    while parts:
        call = node["module_calls"][parts[1]]
        node = call["module"]
        parts = parts[2:]
    return call


# ---------------------------------------------------------------------------------------------------
# Production app stack (blue-green)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("active", ["blue", "green"])
def test_production_plan_weights_and_test_route(production_plans: dict[str, Planned], active: str) -> None:
    idle = "green" if active == "blue" else "blue"
    plan = production_plans[active]
    outputs = plan.outputs()
    assert outputs["active_color"] == active and outputs["idle_color"] == idle
    assert outputs["test_route_header"] == {"name": "X-Deploy-Target", "value": "idle"}
    assert outputs["url"] == "http://api.theobroma.example.com"

    production = plan.after("module.app.aws_lb_listener_rule.production")
    (forward,) = production["action"][0]["forward"]
    assert sorted(tg["weight"] for tg in forward["target_group"]) == [0, 100]
    assert production["condition"] == [
        {**production["condition"][0], "host_header": [{"values": ["api.theobroma.example.com"]}]}
    ]
    test = plan.after("module.app.aws_lb_listener_rule.test")
    assert test["priority"] < production["priority"]
    headers = [c["http_header"] for c in test["condition"] if c.get("http_header")]
    assert headers == [[{"http_header_name": "X-Deploy-Target", "values": ["idle"]}]]
    hosts = [c["host_header"] for c in test["condition"] if c.get("host_header")]
    assert hosts == [[{"values": ["api.theobroma.example.com"]}]]

    for color in ("blue", "green"):
        tg = plan.after(f'module.app.module.service["{color}"].aws_lb_target_group.this')
        assert tg["name"] == f"theobroma-production-{color}"
        container = _container(plan.after(f'module.app.module.service["{color}"].aws_ecs_task_definition.this'))
        tag = "v1.0.0" if color == "blue" else "v1.1.0"
        assert container["image"] == f"{IMAGE_REPOSITORY}:{tag}"
        assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == f"theobroma-production-{color}"
        assert {"name": "DEPLOY_COLOR", "value": color} in container["environment"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"active_color": "purple"}, "active_color must be blue or green"),
        ({"blue_image_tag": "-latest"}, "blue_image_tag and green_image_tag must be Docker tags"),
        ({"green_image_tag": "v1:2"}, "blue_image_tag and green_image_tag must be Docker tags"),
        ({"listener_priority": 50001}, "listener_priority must be an integer between 1 and 50000"),
        ({"test_listener_priority": 0}, "test_listener_priority must be an integer between 1 and 50000"),
        ({"test_listener_priority": 100, "listener_priority": 100}, "must be lower than listener_priority"),
        ({"target_group_name_prefix": "theobroma-production-abcdef"}, "must be 1-26 characters"),
        ({"test_route_token": "*"}, "test_route_token must be"),
        (
            {"autoscaling": {"enabled": True, "min": 2, "max": 10, "cpu_target": 101}},
            "autoscaling cpu_target must be a percentage above 0 and at most 100",
        ),
    ],
)
def test_production_app_rejects_bad_input(
    production_app: TfRoot, platform: dict[str, Any], override: dict[str, Any], message: str
) -> None:
    result = production_app.plan_raw(_production_app_vars(platform, "blue", **override))
    assert result.code != 0
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"target_group_name": "staging-feature-very-long-name-x1"}, "target_group_name must be 1-32"),
        ({"listener_priority": 0}, "listener_priority must be an integer between 1 and 50000"),
        ({"image_tag": "latest tag"}, "image_tag must be a Docker tag"),
        ({"host": "Staging_Feature.example.com"}, "host must be a lowercase DNS name"),
        ({"container_environment": {"PGPASSWORD": "x"}}, "Passwords never go into plain environment variables"),
        (
            {"autoscaling": {"enabled": True, "min": 1, "max": 2, "cpu_target": 0}},
            "autoscaling cpu_target must be a percentage above 0 and at most 100",
        ),
    ],
)
def test_staging_app_rejects_bad_input(
    tf_root: MakeRoot, platform: dict[str, Any], override: dict[str, Any], message: str
) -> None:
    names = naming.names_for("staging", "feature/x", "staging.theobroma.example.com")
    result = tf_root(STAGING_APP).plan_raw(_staging_app_vars(platform, names, **override))
    assert result.code != 0
    assert message in " ".join(result.output.split())


def test_production_autoscaling_from_deploy_toml(production_plans: dict[str, Planned]) -> None:
    """deploy.toml's production autoscaling reaches both colours: CPU target tracking at 70 %, the active
    colour between 2 and 10 tasks, the idle one held at its count."""
    for active, plan in production_plans.items():
        for color in ("blue", "green"):
            service = f'module.app.module.service["{color}"]'
            target = plan.after(f"{service}.aws_appautoscaling_target.this[0]")
            expected = (2, 10) if color == active else (0, 0)  # the idle colour held at 0 tasks
            assert (target["min_capacity"], target["max_capacity"]) == expected, (active, color)
            assert target["scalable_dimension"] == "ecs:service:DesiredCount"
            policy = plan.after(f"{service}.aws_appautoscaling_policy.cpu[0]")
            assert policy["policy_type"] == "TargetTrackingScaling"
            (tracking,) = policy["target_tracking_scaling_policy_configuration"]
            assert tracking["target_value"] == 70
            (metric,) = tracking["predefined_metric_specification"]
            assert metric["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"


# ---------------------------------------------------------------------------------------------------
# Applied: the flip on the emulator, checked through the load balancer API
# ---------------------------------------------------------------------------------------------------


def _weights(elb: Any, rule_arn: str) -> dict[str, int]:
    (rule,) = elb.describe_rules(RuleArns=[rule_arn])["Rules"]
    (action,) = rule["Actions"]
    return {tg["TargetGroupArn"]: tg["Weight"] for tg in action["ForwardConfig"]["TargetGroups"]}


def _forward_target(elb: Any, rule_arn: str) -> str:
    (rule,) = elb.describe_rules(RuleArns=[rule_arn])["Rules"]
    (action,) = rule["Actions"]
    return str(action.get("TargetGroupArn") or action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"])


@pytest.mark.apply
def test_production_flip_applied(tf_root: MakeRoot, emulator: Emulator, platform: dict[str, Any]) -> None:
    root = tf_root(PRODUCTION_APP)
    elb, ecs = emulator.client("elbv2"), emulator.client("ecs")
    blue_vars = _production_app_vars(platform, "blue")
    out = root.apply(blue_vars)
    try:
        blue_tg, green_tg = out["blue_target_group_arn"], out["green_target_group_arn"]
        assert _weights(elb, out["production_rule_arn"]) == {blue_tg: 100, green_tg: 0}
        assert _forward_target(elb, out["test_rule_arn"]) == green_tg
        cloudwatch = emulator.client("cloudwatch")
        for color in ("blue", "green"):
            (alarm,) = cloudwatch.describe_alarms(AlarmNames=[f"theobroma-production-{color}-unhealthy-hosts"])[
                "MetricAlarms"
            ]
            suffix = out[f"{color}_target_group_arn"].split(":", 5)[5]
            assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
                "LoadBalancer": platform["alb_arn_suffix"],
                "TargetGroup": suffix,
            }
            assert alarm["AlarmActions"] == [platform["sns_topic_arn"]]
        services = ecs.describe_services(cluster=platform["cluster_arn"], services=[out["blue_service_name"]])
        assert services["services"][0]["taskDefinition"] == out["blue_task_definition_arn"]

        # Flip: in place, nothing replaced, only the two rules change.
        flip_vars = _production_app_vars(platform, "green", green_desired_count=2, blue_desired_count=2)
        plan = Planned(root, flip_vars)
        changed = {
            rc["address"]: rc["change"]["actions"]
            for rc in plan.json["resource_changes"]
            if rc["change"]["actions"] != ["no-op"]
        }
        assert changed.keys() >= {"module.app.aws_lb_listener_rule.production", "module.app.aws_lb_listener_rule.test"}
        assert all(actions == ["update"] for actions in changed.values()), changed
        production = plan.after("module.app.aws_lb_listener_rule.production")
        (forward,) = production["action"][0]["forward"]
        assert {tg["arn"]: tg["weight"] for tg in forward["target_group"]} == {blue_tg: 0, green_tg: 100}
        assert plan.after("module.app.aws_lb_listener_rule.test")["action"][0]["target_group_arn"] == blue_tg

        out = root.apply(flip_vars)
        assert _weights(elb, out["production_rule_arn"]) == {blue_tg: 0, green_tg: 100}
        assert _forward_target(elb, out["test_rule_arn"]) == blue_tg
        assert (out["active_color"], out["idle_color"]) == ("green", "blue")
    finally:
        root.destroy(blue_vars)
    remaining = {tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]}
    assert blue_tg not in remaining and green_tg not in remaining


# ---------------------------------------------------------------------------------------------------
# HTTPS and DNS applied: the emulator issues a certificate only once its validation record is in
# the zone (deploytool.emulator_server), as ACM does
# ---------------------------------------------------------------------------------------------------

# What of the platform HTTPS needs: the load balancer with its listeners, the certificate and its
# validation (and what they depend on: the network). The database, cluster and roles are left out.
HTTPS_TARGETS = ("module.platform.module.alb", "module.platform.aws_acm_certificate_validation.this")


def _hosted_zone(emulator: Emulator, domain: str) -> str:
    zone = emulator.client("route53").create_hosted_zone(Name=domain, CallerReference=uuid.uuid4().hex)
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def _zone_records(emulator: Emulator, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    records = emulator.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"].rstrip("."), r["Type"]): r for r in records}


@pytest.mark.apply
def test_emulator_issues_a_certificate_only_with_its_validation_record(emulator: Emulator) -> None:
    """The stand-in is as strict as ACM: time alone never validates a certificate."""
    acm = emulator.client("acm")
    domain = f"{uuid.uuid4().hex[:8]}.theobroma.example.com"
    zone_id = _hosted_zone(emulator, domain)
    arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    try:
        time.sleep(4)  # past the emulator's validation wait
        certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        assert certificate["Status"] == "PENDING_VALIDATION"
        (option,) = certificate["DomainValidationOptions"]
        record = option["ResourceRecord"]
        change = {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": record["Name"],
                "Type": record["Type"],
                "TTL": 60,
                "ResourceRecords": [{"Value": "_wrong.acm-validations.aws."}],
            },
        }
        route53 = emulator.client("route53")
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
        change["Action"] = "UPSERT"
        change["ResourceRecordSet"]["ResourceRecords"] = [{"Value": record["Value"]}]  # type: ignore[index]
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    finally:
        acm.delete_certificate(CertificateArn=arn)


@pytest.mark.apply
def test_https_platform_and_branch_host_applied(
    tf_root: MakeRoot, emulator: Emulator, db_secret_arn: str, platform: dict[str, Any]
) -> None:
    """Applied: the certificate validated through the zone, HTTPS served with it, HTTP redirected,
    and a branch host's record in the zone pointing at the load balancer."""
    settings = _with_https("staging")
    domain = settings.domain
    zone_id = _hosted_zone(emulator, domain)
    with_zone = settings.platform.model_copy(update={"hosted_zone_id": zone_id})
    settings = settings.model_copy(update={"platform": with_zone})
    tf_vars = _platform_vars("staging", db_secret_arn, github_repository="theobroma/geo-api", settings=settings)
    root = tf_root(STAGING_PLATFORM)
    root._init()
    planfile = root.workdir / "https.tfplan"
    root.runner.plan(planfile, var_files=root._var_file(tf_vars), targets=HTTPS_TARGETS)
    elb, acm = emulator.client("elbv2"), emulator.client("acm")
    try:
        root.runner.apply(planfile)
        (arn,) = [
            c["CertificateArn"]
            for c in acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
            if c["DomainName"] == domain
        ]
        certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        assert certificate["Status"] == "ISSUED"
        assert set(certificate["SubjectAlternativeNames"]) == {domain, f"*.{domain}"}
        records = _zone_records(emulator, zone_id)
        for option in certificate["DomainValidationOptions"]:
            wanted = option["ResourceRecord"]
            record = records[(wanted["Name"].rstrip("."), wanted["Type"])]
            assert [r["Value"] for r in record["ResourceRecords"]] == [wanted["Value"]]

        listeners = {
            listener["Port"]: listener
            for lb in elb.describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"] == tf_vars["platform"]["name"]
            for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        }
        assert listeners.keys() == {80, 443}
        https = listeners[443]
        assert (https["Protocol"], [c["CertificateArn"] for c in https["Certificates"]]) == ("HTTPS", [arn])
        (redirect,) = listeners[80]["DefaultActions"]
        assert redirect["Type"] == "redirect"
        assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"]) == ("HTTPS", "443")

        # A branch's host in the zone, pointing at its load balancer (the app stack on the platform's outputs).
        https_platform = {**platform, "url_scheme": "https"}
        names = naming.names_for("staging", "feature/https-host", domain)
        app = tf_root(STAGING_APP)
        app_vars = _staging_app_vars(https_platform, names, settings)
        out = app.apply(app_vars)
        try:
            record = _zone_records(emulator, zone_id)[(names.host, "A")]
            assert record["AliasTarget"]["DNSName"].rstrip(".") == platform["alb_dns_name"]
            assert out["url"] == f"https://{names.host}"
        finally:
            app.destroy(app_vars)
        assert (names.host, "A") not in _zone_records(emulator, zone_id)
    finally:
        root.destroy(tf_vars)
    statuses = ["PENDING_VALIDATION", "ISSUED", "INACTIVE", "EXPIRED", "VALIDATION_TIMED_OUT", "REVOKED", "FAILED"]
    left = acm.list_certificates(CertificateStatuses=statuses)["CertificateSummaryList"]
    assert [c["CertificateArn"] for c in left if c["DomainName"] == domain] == []
