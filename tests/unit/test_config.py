"""deploy.toml loading: the repository's file, and one clear line for every kind of mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from deploytool.config import (
    CONFIG_ENV_VAR,
    Config,
    find_config,
    load_config,
    looks_secret,
    parse_config,
)
from deploytool.errors import DeployError

REPO_ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[environments.staging]
region = "us-east-1"
domain = "staging.theobroma.example"
"""


def config_error(text: str) -> str:
    with pytest.raises(DeployError) as info:
        parse_config(text)
    message = str(info.value.message)
    assert "\n" not in message
    assert message.startswith("deploy.toml: ")
    return message


def with_staging(extra: str) -> str:
    return MINIMAL + extra


# --- the repository's deploy.toml ---------------------------------------------------------------


def test_repository_config_https_lines_turn_https_on_for_aws_and_leave_local_on_http() -> None:
    """The commented HTTPS lines of deploy.toml, uncommented as the README says, are valid: staging and
    production get a created certificate and host records in their zone; local stays plain HTTP."""
    text = (REPO_ROOT / "deploy.toml").read_text()
    lines = ("hosted_zone_id = ", "create_certificate = true", "create_dns_records = true")
    uncommented = "\n".join(
        line.removeprefix("# ") if line.removeprefix("# ").startswith(lines) else line for line in text.splitlines()
    )
    assert uncommented != text
    config = parse_config(uncommented)
    for env in ("staging", "production"):
        platform = config.environment(env).platform
        assert (platform.create_certificate, platform.create_dns_records) == (True, True), env
        assert platform.hosted_zone_id is not None and platform.certificate_arn is None, env
    local = config.environment("local").platform
    assert (local.create_certificate, local.create_dns_records, local.certificate_arn) == (False, False, None)


def test_repository_config_loads() -> None:
    config = load_config(REPO_ROOT / "deploy.toml")
    assert config.environment_names == ["staging", "production", "local"]
    assert config.project.name == "theobroma"
    assert config.project.image_repository == "theobroma-geo-api"
    assert config.source == (REPO_ROOT / "deploy.toml").resolve()
    assert config.root == REPO_ROOT

    staging = config.environment("staging")
    assert staging.name == "staging"
    assert staging.cluster == "theobroma-staging"
    assert staging.strategy == "rolling"
    assert staging.branch_environments
    assert staging.ttl == timedelta(days=7)
    assert not staging.emulator
    assert staging.health.paths.basic == "/health"

    production = config.environment("production")
    assert production.strategy == "blue-green"
    assert not production.branch_environments
    assert production.ttl is None
    assert production.bake_minutes > 0
    assert production.platform.deletion_protection
    assert production.platform.db_multi_az

    local = config.environment("local")
    assert local.emulator
    assert local.cluster == "theobroma-local"
    # local starts from staging: same strategy, branches, size and smoke requests
    assert local.branch_environments
    assert local.strategy == staging.strategy
    assert (local.cpu, local.memory) == (staging.cpu, staging.memory)
    assert local.smoke == staging.smoke
    assert local.platform.nat == "none"
    assert local.platform.db_instance_class == staging.platform.db_instance_class


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(MINIMAL)
    env = config.environment("staging")
    assert env.cluster == "theobroma-staging"
    assert (env.cpu, env.memory, env.desired_count) == (256, 512, 1)
    assert env.health.timeout_seconds == 180
    assert env.health.request_timeout_seconds == 5
    assert env.health.consecutive_passes == 3
    assert env.health.paths.detailed == "/health/detailed"
    assert env.health.paths.metrics is None
    assert env.platform.deletion_protection
    assert config.project.state_bucket == "theobroma-terraform-state"
    assert config.project.ledger_prefix == "deploy-history"
    assert config.source is None


def test_cluster_default_follows_project_name() -> None:
    config = parse_config('[project]\nname = "cocoa"\n' + MINIMAL)
    assert config.environment("staging").cluster == "cocoa-staging"


def test_smoke_values_are_compared_as_json_text() -> None:
    config = parse_config(
        with_staging(
            """
[[environments.staging.smoke]]
name = "flag"
path = "/x"
json_field = "a.b"
expect_value = true

[[environments.staging.smoke]]
name = "count"
path = "/y"
json_field = "items.0.n"
expect_value = 3
"""
        )
    )
    values = [s.expect_value for s in config.environment("staging").smoke]
    assert values == ["true", "3"]


def test_plain_environment_values_become_strings() -> None:
    config = parse_config(with_staging("[environments.staging.environment]\nPORT = 8000\nDEBUG = false\n"))
    assert config.environment("staging").environment == {"PORT": "8000", "DEBUG": "false"}


# --- mistakes: one line naming the file, the key and the problem --------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "[environments.staging.health]\ntimeout_seconds = 0\n",
            "deploy.toml: environments.staging.health.timeout_seconds: must be > 0",
        ),
        (
            "[environments.staging.health]\ntimeout = 10\n",
            "environments.staging.health.timeout: unknown key (did you mean 'timeout_seconds'?)",
        ),
        (
            'strategy = "bluegreen"\n',
            "environments.staging.strategy: must be 'rolling' or 'blue-green' (got 'bluegreen')",
        ),
        ('extend = "production"\n', "environments.staging.extend: unknown key (did you mean 'extends'?)"),
        ('cpu = "256"\n', "environments.staging.cpu: must be an integer"),
        ("emulator = 1\n", "environments.staging.emulator: must be true or false"),
        ("cpu = 300\n", "environments.staging.cpu: must be a Fargate CPU size"),
        ("memory = 4096\n", "environments.staging: memory = 4096 does not fit cpu = 256"),
        ('ttl = "7 days"\n', "environments.staging.ttl: must be a duration"),
        ("desired_count = -1\n", "environments.staging.desired_count: must be >= 0"),
        (
            "desired_count = 5\n[environments.staging.autoscaling]\nmin = 1\nmax = 2\n",
            "environments.staging: desired_count = 5 must be within autoscaling min..max (1..2)",
        ),
        (
            "[environments.staging.autoscaling]\nmin = 3\nmax = 2\n",
            "environments.staging.autoscaling: min (3) must be <= max (2)",
        ),
        (
            '[environments.staging.platform]\nnat = "two"\n',
            "environments.staging.platform.nat: must be 'none', 'single' or 'one_per_az'",
        ),
        (
            '[environments.staging.platform]\nvpc_cidr = "10.0.0.1/16"\n',
            "environments.staging.platform.vpc_cidr: must be an IPv4 network",
        ),
        (
            "[environments.staging.platform]\ncreate_vpc = false\n",
            "environments.staging.platform: existing_vpc_id is required when create_vpc = false",
        ),
        (
            '[environments.staging.platform]\nexisting_vpc_id = "vpc-0123abcd"\n',
            "environments.staging.platform: existing_* network settings need create_vpc = false",
        ),
        (
            "[environments.staging.platform]\ncreate_dns_records = true\n",
            "hosted_zone_id is required when create_dns_records = true",
        ),
        (
            "[environments.staging.platform]\ncreate_certificate = true\n",
            "environments.staging.platform: hosted_zone_id is required when create_certificate = true",
        ),
        (
            "[environments.staging.platform]\ncreate_certificate = true\n"
            'hosted_zone_id = "Z0123456789ABC"\n'
            'certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"\n',
            "environments.staging.platform: set certificate_arn or create_certificate = true, not both",
        ),
        (
            '[environments.staging.platform]\ncertificate_arn = "my-cert"\n',
            "environments.staging.platform.certificate_arn: must be an ACM certificate ARN",
        ),
        (
            '[environments.staging.platform]\ngithub_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/x"\n',
            "environments.staging.platform.github_oidc_provider_arn: must be the ARN of the account's GitHub",
        ),
        (
            '[environments.staging.health.paths]\nbasic = "health"\n',
            "environments.staging.health.paths.basic: must be a URL path starting with '/'",
        ),
        (
            '[environments.staging.health]\nbase_url = "ftp://x"\n',
            "environments.staging.health.base_url: must be an http:// or https:// URL",
        ),
        (
            "[environments.staging.health]\nrequest_timeout_seconds = 30\ntimeout_seconds = 10\n",
            "environments.staging.health: request_timeout_seconds must be <= timeout_seconds",
        ),
        (
            '[[environments.staging.smoke]]\nname = "x"\n',
            "environments.staging.smoke[0].path: is required",
        ),
        (
            '[[environments.staging.smoke]]\nname = "x"\npath = "/"\nexpect_status = 700\n',
            "environments.staging.smoke[0].expect_status: must be <= 599",
        ),
        (
            '[[environments.staging.smoke]]\nname = "x"\npath = "/"\nexpect_value = "ok"\n',
            "environments.staging.smoke[0]: expect_value needs json_field",
        ),
        ('ttl = "7d"\n', "environments.staging: ttl needs branch_environments = true"),
        ("bake_minutes = 10\n", "environments.staging: bake_minutes needs strategy = 'blue-green'"),
        (
            'branch_environments = true\nstrategy = "blue-green"\n',
            "branch_environments = true needs strategy = 'rolling'",
        ),
        (
            '[environments.staging.secrets]\nDB_URL = "postgres://u:hunter2@db/x"\n',
            "environments.staging.secrets: DB_URL: must be a Secrets Manager/SSM ARN",
        ),
    ],
)
def test_mistakes_are_one_line_naming_the_key(extra: str, expected: str) -> None:
    assert expected in config_error(with_staging(extra))


def test_bad_region() -> None:
    message = config_error('[environments.staging]\nregion = "useast1"\ndomain = "x.example"\n')
    assert message == "deploy.toml: environments.staging.region: must be an AWS region such as us-east-1, got 'useast1'"


def test_missing_required_key() -> None:
    message = config_error('[environments.staging]\nregion = "us-east-1"\n')
    assert message == "deploy.toml: environments.staging.domain: is required"


def test_no_environments() -> None:
    assert "environments: is required" in config_error('[project]\nname = "theobroma"\n')
    assert "environments: needs at least 1 item" in config_error("[environments]\n")


def test_unknown_top_level_and_project_keys() -> None:
    assert "deploy.toml: enviroments: unknown key (did you mean 'environments'?)" in config_error(
        MINIMAL + '[enviroments.production]\nregion = "us-east-1"\n'
    )
    assert "project.bucket: unknown key" in config_error('[project]\nbucket = "x"\n' + MINIMAL)
    assert "project.name: must be 1-16 lowercase letters" in config_error('[project]\nname = "Theo"\n' + MINIMAL)
    assert "project.state_bucket: must be an S3 bucket name" in config_error(
        '[project]\nstate_bucket = "My_Bucket"\n' + MINIMAL
    )


def test_invalid_environment_name() -> None:
    message = config_error('[environments.Staging]\nregion = "us-east-1"\ndomain = "x.example"\n')
    assert "environments: 'Staging' is not a valid environment name" in message


def test_several_mistakes_stay_on_one_line() -> None:
    message = config_error(with_staging("cpu = 1\nmemory = 2\ndesired_count = -1\nemulator = 3\nfoo = 1\n"))
    assert message.count("; ") == 2
    assert message.endswith(" more)")


@pytest.mark.parametrize(
    "key",
    ["DB_PASSWORD", "API_KEY", "GITHUB_TOKEN", "SECRET_KEY_BASE", "aws_secret_access_key", "APIKEY", "PRIVATE_PEM"],
)
def test_secret_looking_environment_variables_are_rejected(key: str) -> None:
    message = config_error(with_staging(f'[environments.staging.environment]\n{key} = "x"\n'))
    assert f"environments.staging.environment: {key} looks like a secret: move it to [secrets]" in message
    assert '"x"' not in message


def test_database_url_with_password_is_rejected_without_echoing_it() -> None:
    message = config_error(
        with_staging('[environments.staging.environment]\nDATABASE_URL = "postgres://geo:hunter2@db:5432/geo"\n')
    )
    assert "DATABASE_URL looks like a secret" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("key", ["LOG_LEVEL", "KEYCLOAK_URL", "MONKEY_MODE", "PORT"])
def test_ordinary_names_are_not_secret(key: str) -> None:
    assert not looks_secret(key, "value")


def test_secrets_accept_references() -> None:
    config = parse_config(
        with_staging(
            "[environments.staging.secrets]\n"
            'DATABASE_URL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:geo-db-AbCdEf"\n'
            'API_KEY = "/theobroma/staging/api-key"\n'
        )
    )
    assert set(config.environment("staging").secrets) == {"DATABASE_URL", "API_KEY"}


def test_same_name_in_environment_and_secrets() -> None:
    message = config_error(
        with_staging(
            '[environments.staging.environment]\nDATABASE_HOST = "db"\n'
            '[environments.staging.secrets]\nDATABASE_HOST = "/x/db-host"\n'
        )
    )
    assert "DATABASE_HOST set in both environment and secrets" in message


def test_unknown_environment_lists_known_ones() -> None:
    config = parse_config(MINIMAL + '[environments.production]\nregion = "eu-west-1"\ndomain = "api.example.com"\n')
    with pytest.raises(DeployError) as info:
        config.environment("prod")
    assert str(info.value.message) == "unknown environment 'prod': deploy.toml defines staging, production"


def test_toml_syntax_error_names_line_and_column() -> None:
    message = config_error('[project]\nname = "theobroma"\nservice = \n')
    assert message.startswith("deploy.toml: line 3, column")
    assert "invalid TOML" in message


def test_syntax_error_in_loaded_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deploy.toml"
    path.write_text(MINIMAL + "[environments.staging\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DeployError) as info:
        load_config(path)
    assert str(info.value.message).startswith("deploy.toml: line 5, column")


# --- extends --------------------------------------------------------------------------------------


def test_extends_merges_tables_and_replaces_lists() -> None:
    config = parse_config(
        MINIMAL
        + """
[environments.staging.health]
timeout_seconds = 100
consecutive_passes = 4

[[environments.staging.smoke]]
name = "a"
path = "/a"

[environments.qa]
extends = "staging"
domain = "qa.theobroma.example"
smoke = []

[environments.qa.health]
timeout_seconds = 50
"""
    )
    qa = config.environment("qa")
    assert qa.region == "us-east-1"
    assert qa.domain == "qa.theobroma.example"
    assert qa.cluster == "theobroma-qa"
    assert qa.health.timeout_seconds == 50
    assert qa.health.consecutive_passes == 4
    assert qa.smoke == []
    assert len(config.environment("staging").smoke) == 1


def test_extends_chain_and_errors() -> None:
    chain = parse_config(
        MINIMAL + '[environments.a]\nextends = "staging"\n[environments.b]\nextends = "a"\nemulator = true\n'
    )
    assert chain.environment("b").region == "us-east-1"
    assert chain.environment("b").emulator
    assert "environments.a.extends: unknown environment 'nope'" in config_error(
        MINIMAL + '[environments.a]\nextends = "nope"\n'
    )
    assert "circular extends" in config_error('[environments.a]\nextends = "b"\n[environments.b]\nextends = "a"\n')


# --- finding the file ----------------------------------------------------------------------------


def test_found_walking_up_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deploy.toml").write_text(MINIMAL)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    assert find_config() == (tmp_path / "deploy.toml").resolve()
    assert load_config().environment_names == ["staging"]


def test_environment_variable_wins_over_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deploy.toml").write_text(MINIMAL)
    other = tmp_path / "other.toml"
    other.write_text('[environments.qa]\nregion = "us-east-1"\ndomain = "qa.example.com"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_ENV_VAR, str(other))
    assert load_config().environment_names == ["qa"]


def test_no_config_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    with pytest.raises(DeployError, match=f"no deploy.toml found in .*{CONFIG_ENV_VAR}"):
        load_config()


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="cannot read the configuration file"):
        load_config(tmp_path / "missing.toml")


# --- durations -----------------------------------------------------------------------------------


def test_config_model_is_usable_in_memory() -> None:
    config = Config.model_validate({"environments": {"qa": {"region": "eu-west-1", "domain": "qa.example.com"}}})
    assert config.environment("qa").cluster == "theobroma-qa"
    assert config.environment("qa").name == "qa"


# --- the image repository: an ECR repository, because deploy always asks ECR ------------------


@pytest.mark.parametrize(
    "repository",
    [
        "ghcr.io/theobroma/geo-api",
        "docker.io/theobroma/geo-api",
        "localhost:5000/geo-api",
        "localhost/geo-api",
        "registry.example.com:443/geo-api",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api",
    ],
)
def test_image_repository_outside_ecr_is_refused(repository: str) -> None:
    message = config_error(f'[project]\nimage_repository = "{repository}"\n' + MINIMAL)
    assert message.startswith("deploy.toml: project.image_repository: must be the name of an ECR repository")
    assert "not a registry path" in message and "\n" not in message


@pytest.mark.parametrize("repository", ["theobroma-geo-api", "theobroma/geo-api", "team_a/geo.api", "a1"])
def test_ecr_repository_names_are_accepted(repository: str) -> None:
    config = parse_config(f'[project]\nimage_repository = "{repository}"\n' + MINIMAL)
    assert config.project.image_repository == repository
