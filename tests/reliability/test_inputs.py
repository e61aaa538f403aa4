"""Bad input: fuzzed branch names, image tags, environment names and configuration files, and
branch names written to break out of wherever they go.

Every fuzz test drives the real command line (click's ``CliRunner``) with Terraform replaced by a
fake that records each command the tool would run (``subprocess.Popen`` of the runner), and the
AWS lookups of the app context replaced by constants. The promises: a valid input gives valid
output within the name limits; anything else is one ``Error:`` line with exit code 1 (2 for
usage); never a traceback, never an "unexpected" error, and never an apply.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import string
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hcl2
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploytool import inputs, naming, plansummary, stackops
from deploytool.cli import main
from deploytool.errors import DeployError
from deploytool.health import CheckResult, Verdict
from deploytool.ledger import Ledger, Record
from deploytool.release import rolling
from deploytool.stack import Target
from deploytool.state import APP_PLATFORM_ATTRIBUTES, AppOutputs, PlatformOutputs
from deploytool.terraform import Runner
from tests.conftest import REPO

REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api"
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SAFE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")

# --- an independent statement of Docker's tag grammar (distribution/reference) and OCI digests ---
_WORD = frozenset(string.ascii_letters + string.digits + "_")


def docker_tag_ok(tag: str) -> bool:
    """``[\\w][\\w.-]{0,127}`` with ASCII ``\\w``."""
    return 1 <= len(tag) <= 128 and tag[0] in _WORD and all(c in _WORD or c in ".-" for c in tag)


def sha256_digest_ok(tag: str) -> bool:
    """``sha256:`` and exactly 64 lowercase hex digits (OCI image spec)."""
    algorithm, sep, encoded = tag.partition(":")
    return bool(sep) and algorithm == "sha256" and len(encoded) == 64 and all(c in "0123456789abcdef" for c in encoded)


def image_ok(tag: str) -> bool:
    return docker_tag_ok(tag) or sha256_digest_ok(tag)


def module_tag_pattern() -> re.Pattern[str]:
    """The ``image_tag`` validation regex of modules/ecs-service (what Terraform enforces)."""
    text = (REPO / "modules" / "ecs-service" / "variables.tf").read_text()
    match = re.search(r'can\(regex\("((?:[^"\\]|\\.)*)",\s*var\.image_tag\)\)', text)
    assert match, "the ecs-service module no longer validates image_tag with a regex"
    return re.compile(json.loads(f'"{match.group(1)}"'))


MODULE_TAG_PATTERN = module_tag_pattern()


# --- fakes: Terraform, the AWS lookups, the ledger ----------------------------------------------------


class FakeTerraform:
    """Stands in for ``subprocess`` in deploytool.terraform: records every command, answers like Terraform."""

    PIPE = -1
    DEVNULL = -3

    def __init__(self) -> None:
        self.calls: list[SimpleNamespace] = []
        self.allow_apply = False
        self.applied: list[list[str]] = []

    def Popen(self, argv: list[str], *, cwd: Path, env: dict[str, str], **_: Any) -> SimpleNamespace:
        args = list(argv[len(_engine_argv()) :])
        self.calls.append(SimpleNamespace(argv=list(argv), args=args, cwd=Path(cwd), env=dict(env)))
        code, out = 0, ""
        if args[:2] == ["workspace", "show"]:
            out = "default\n"
        elif args[:2] == ["workspace", "list"]:
            out = "* default\n"
        elif args[:1] == ["output"]:
            out = "{}"
        elif args[:1] == ["plan"]:
            code = 2
        elif args[:2] == ["show", "-json"]:
            out = json.dumps(_plan_json(self.calls))
        elif args[:2] == ["show", "-no-color"]:
            out = "  # module.service.aws_ecs_task_definition.this will be created\n  + resource {}\n"
        elif args[:1] == ["apply"]:
            self.applied.append(args)
            if not self.allow_apply:
                pytest.fail(f"an apply was run: {argv}")
        return SimpleNamespace(
            stdout=io.StringIO(out),
            stderr=io.StringIO(""),
            wait=lambda: code,
            poll=lambda: code,
            returncode=code,
            pid=0,
            send_signal=lambda _sig: None,
            kill=lambda: None,
        )

    def reset(self) -> None:
        self.calls.clear()
        self.applied.clear()


def _engine_argv() -> tuple[str, ...]:
    from deploytool.toolchain import resolve_engine

    return resolve_engine().argv


def _plan_json(calls: list[SimpleNamespace]) -> dict[str, Any]:
    """A plan creating the task definition with the image tag the last plan's tfvars carried."""
    plan = next(c for c in reversed(calls) if c.args[:1] == ["plan"])
    var_file = next(a.split("=", 1)[1] for a in plan.args if a.startswith("-var-file="))
    tag = json.loads(re.search(r"^\s*image_tag\s*=\s*(.+)$", Path(var_file).read_text(), re.M).group(1))  # type: ignore[union-attr]
    image = f"{REPOSITORY}@{tag}" if tag.startswith("sha256:") else f"{REPOSITORY}:{tag}"
    definitions = json.dumps([{"name": "app", "image": image}])
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [
            {
                "address": "module.service.aws_ecs_task_definition.this",
                "type": "aws_ecs_task_definition",
                "mode": "managed",
                "change": {"actions": ["create"], "before": None, "after": {"container_definitions": definitions}},
            }
        ],
    }


class FakeLedger(Ledger):
    """The ledger's own logic over an in-memory list (no S3)."""

    def __init__(self) -> None:
        self.written: list[Record] = []
        self.branches: dict[tuple[str, str], str] = {}

    def write(self, record: Record) -> str:
        self.written.append(record)
        return record.id

    def records(self, env: str, workspace: str | None = None) -> list[Record]:
        return []

    def current_image(self, env: str, workspace: str) -> str | None:
        return None

    def last_known_good(self, env: str, workspace: str, *, exclude: str | None = None) -> Record | None:
        return None

    def branch_of(self, env: str, workspace: str) -> str | None:
        return self.branches.get((env, workspace))

    def claim_branch(self, env: str, workspace: str, branch: str) -> str:
        return self.branches.setdefault((env, workspace), branch)

    def forget_branch(self, env: str, workspace: str) -> None:
        self.branches.pop((env, workspace), None)


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """CliRunner against the repository's deploy.toml, Terraform and AWS faked, a private data root."""
    fake = FakeTerraform()
    ledger = FakeLedger()
    data_root = tmp_path / "data"
    monkeypatch.setenv("DEPLOYTOOL_CONFIG", str(REPO / "deploy.toml"))
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(data_root))
    monkeypatch.setenv("DEPLOYTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEPLOYTOOL_TERRAFORM_BIN", raising=False)
    monkeypatch.delenv("DEPLOYTOOL_DEBUG", raising=False)
    monkeypatch.setattr("deploytool.terraform.subprocess", fake)
    # The faked Terraform registers no task definition to run a migration from (that path:
    # tests/e2e/test_migration.py): these deploys go straight to the apply.
    monkeypatch.setattr("deploytool.release.migration.command", lambda _target: [])
    # The checkout's roots are read, never written: no override file is added or removed there.
    monkeypatch.setattr("deploytool.stack.emu.write_override", lambda *a, **k: None)
    monkeypatch.setattr("deploytool.stack.emu.remove_override", lambda *a, **k: None)
    monkeypatch.setattr(Target, "ledger", lambda self: ledger)
    monkeypatch.setattr(Target, "deploy_lock", lambda self, *a, **k: contextlib.nullcontext())  # no S3 here
    platform = PlatformOutputs(
        {name: f"platform-{name}" for name in APP_PLATFORM_ATTRIBUTES}
        | {"listener_arn": "arn:aws:elb:listener/x", "db_port": 5432, "private_subnet_ids": ["subnet-a"]}
    )
    monkeypatch.setattr(inputs, "platform_outputs", lambda target: platform)
    monkeypatch.setattr(inputs, "image_repository_uri", lambda target: REPOSITORY)
    # The registry holds every image these runs name (its refusals are tested in tests/unit/test_image_refusal.py).
    monkeypatch.setattr(inputs, "require_image", lambda target, ref, deploy=True: None)
    monkeypatch.setattr(inputs, "listener_priority", lambda *a: 1234)
    monkeypatch.setattr(stackops, "app_outputs", lambda target, workspace: None)  # no deployed state
    yield SimpleNamespace(runner=CliRunner(), fake=fake, ledger=ledger, data_root=data_root)


def one_line_error(result: Result) -> str:
    """The single ``Error:`` line of a failed run (asserting there is exactly one, and no traceback)."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "unexpected" not in errors[0], errors[0]
    return errors[0]


KNOWN_FLAGS = {
    "-input",
    "-no-color",
    "-detailed-exitcode",
    "-lock-timeout",
    "-auto-approve",
    "-json",
    "-reconfigure",
    "-backend",
    "-upgrade",
    "-force",
    "-destroy",
    "-target",
    "-var",
}


def assert_safe_commands(fake: FakeTerraform, data_root: Path, workspace: str, raw: str | None = None) -> None:
    """Every Terraform command is the engine plus fixed flags, paths under the data root and names
    built from the slug; the user's branch text itself never appears."""
    root = data_root.resolve()
    for call in fake.calls:
        assert call.argv[: len(_engine_argv())] == list(_engine_argv())
        assert call.cwd.is_dir() and call.cwd.name == "app" and call.cwd.parent.parent.name == "environments"
        data_dir = Path(call.env["TF_DATA_DIR"]).resolve()
        assert data_dir.is_relative_to(root) and data_dir.name == workspace
        args = call.args
        for arg in args[1:]:
            assert not any(c in arg for c in "\n\r\x00`$;|&<>"), args
            flag, sep, value = arg.partition("=")
            if sep and flag in ("-out", "-var-file", "-backend-config"):
                assert Path(value).resolve().is_relative_to(root), args
            elif arg.startswith("-"):
                # Fixed flags only: a flag the branch could have smuggled in would not be one of these.
                assert flag in KNOWN_FLAGS, args
            elif "/" in arg:
                assert Path(arg).resolve().is_relative_to(root), args
            elif raw is not None and re.search(r"[^a-z0-9._-]", raw):
                # Text that could do harm (spaces, quotes, uppercase, unicode...) never reaches an argument.
                assert raw not in arg, args
        if args[:2] in (["workspace", "new"], ["workspace", "select"]):
            assert args[-1] == workspace and SAFE_NAME.fullmatch(workspace)
        if args[:1] == ["apply"]:
            # A saved plan, or (one process: plan and apply) the rendered tfvars.
            last = args[-1]
            assert Path(last.removeprefix("-var-file=")).resolve().is_relative_to(root), args


# --- row 6: fuzz ------------------------------------------------------------------------------------

any_text = st.text(max_size=80)
branches = st.one_of(
    any_text,
    st.from_regex(r"[a-z0-9]{1,10}(?:[-/][a-z0-9]{1,10}){0,6}", fullmatch=True),
    st.sampled_from(["$(rm -rf /)", "a;b", "`id`", "../../etc", "x\ny", "-chdir=/", "日本/功能", "a" * 1000]),
)
tags = st.one_of(
    any_text,
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True),
    st.from_regex(r"sha256:[0-9a-fA-F]{62,66}", fullmatch=True),
    st.builds(lambda h: "sha256:" + h, st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
)


@FUZZ
@given(branch=branches, tag=tags)
def test_fuzzed_branch_and_tag_give_a_valid_plan_or_one_line(cli: SimpleNamespace, branch: str, tag: str) -> None:
    cli.fake.reset()
    result = cli.runner.invoke(
        main, ["plan", "--env", "staging", f"--branch={branch}", f"--image-tag={tag}", "--output", "json"]
    )
    valid = bool(branch.strip()) and image_ok(tag)
    if not valid:
        line = one_line_error(result)
        assert result.exit_code == 1
        # an empty tag means "the deployed one", of which this fresh workspace has none
        expected = "has no deployed image yet" if tag == "" and branch.strip() else ("image tag", "branch")
        assert any(word in line for word in ([expected] if isinstance(expected, str) else expected)), line
        assert tag == "" or not cli.fake.calls, "a bad tag must be refused before Terraform runs"
        return
    assert result.exit_code == 0, result.output
    names = naming.names_for("staging", branch, "staging.theobroma.example")
    summary = json.loads(result.stdout)
    assert summary["workspace"] == names.workspace
    assert [c["after"] for c in summary["image_changes"]] == [tag]  # the tag went through tfvars and back
    assert len(names.target_group) <= naming.TARGET_GROUP_MAX_LEN and len(names.workspace) <= 63
    assert_safe_commands(cli.fake, cli.data_root, names.workspace, branch)


@FUZZ
@given(branch=branches, tag=tags)
def test_fuzzed_deploy_reaches_apply_only_with_valid_input(cli: SimpleNamespace, branch: str, tag: str) -> None:
    """``deploy`` with any branch and tag: bad input stops before Terraform runs; valid input gets as
    far as the apply, where the fake stops it (no apply is ever real here)."""
    cli.fake.reset()
    cli.ledger.branches.clear()  # each example is a first deploy
    cli.fake.allow_apply = True

    def stop(self: Runner, plan: Path, **_: object) -> None:
        cli.fake.applied.append(["apply", str(plan)])
        raise DeployError("stopped at the apply by the test")

    def stop_now(self: Runner, *, var_files: Sequence[Path] = (), **_: object) -> None:
        # One process (plan and apply, no saved plan): what it would apply from is the rendered tfvars.
        cli.fake.applied.append(["apply", *(f"-var-file={f}" for f in var_files)])
        raise DeployError("stopped at the apply by the test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Runner, "apply", stop)
        mp.setattr(Runner, "apply_now", stop_now)
        result = cli.runner.invoke(
            main, ["deploy", "--env", "staging", f"--branch={branch}", f"--image-tag={tag}", "--yes"]
        )
    line = one_line_error(result)
    if bool(branch.strip()) and image_ok(tag):
        assert line == "Error: stopped at the apply by the test", line
        assert len(cli.fake.applied) == 1
        assert_safe_commands(
            cli.fake, cli.data_root, naming.names_for("staging", branch, "staging.theobroma.example").workspace, branch
        )
    else:
        assert not cli.fake.applied and not cli.fake.calls, "bad input reached Terraform"


@FUZZ
@given(
    env=st.one_of(any_text, st.sampled_from(["staging", "production", "local"])), branch=st.one_of(st.none(), branches)
)
def test_fuzzed_names_are_within_limits_or_one_line(cli: SimpleNamespace, env: str, branch: str | None) -> None:
    args = ["names", f"--env={env}", "--output", "json"] + ([f"--branch={branch}"] if branch is not None else [])
    result = cli.runner.invoke(main, args)
    if result.exit_code != 0:
        one_line_error(result)
        return
    names = json.loads(result.stdout)
    for key in ("workspace", "service", "target_group", "log_prefix"):
        assert SAFE_NAME.fullmatch(names[key]) or names[key] == "default", names
    assert len(names["target_group"]) <= naming.TARGET_GROUP_MAX_LEN and "--" not in names["target_group"]
    assert all(len(label) <= naming.DNS_LABEL_MAX_LEN for label in names["host"].split("."))


# Configuration files: the repository's deploy.toml as data, mutated, written back as TOML text.
BASE_CONFIG: dict[str, Any] = tomllib.loads((REPO / "deploy.toml").read_text())


def utf8_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(codec="utf-8"), max_size=max_size)


scalars = st.one_of(
    utf8_text(20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(utf8_text(8), inner, max_size=3)),
    max_leaves=6,
)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += leaf_paths(item, (*prefix, index))
    return paths


@st.composite
def mutated_configs(draw: st.DrawFn) -> str:
    data = json.loads(json.dumps(BASE_CONFIG))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = leaf_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["replace", "delete", "add"]))
        if kind == "replace":
            parent[path[-1]] = draw(values)
        elif kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(utf8_text(12))] = draw(values)
    return toml_document(data)


configs = st.one_of(mutated_configs(), utf8_text(200))


@FUZZ
@given(text=configs)
def test_fuzzed_config_files_load_or_fail_in_one_line(cli: SimpleNamespace, tmp_path: Path, text: str) -> None:
    path = tmp_path / "deploy.toml"
    path.write_text(text, encoding="utf-8")
    result = cli.runner.invoke(main, ["names", "--env", "staging", "--branch", "feature/x", "--config", str(path)])
    if result.exit_code == 0:
        assert "workspace: staging-feature-x" in result.stdout.splitlines()
        return
    line = one_line_error(result)
    assert result.exit_code == 1
    assert line.startswith(f"Error: {path}: ") or "unknown environment" in line, line


# --- row 7: image tags and digests --------------------------------------------------------------------


@FUZZ
@given(tag=tags)
def test_image_tags_follow_dockers_grammar_in_the_tool_and_the_module(tag: str) -> None:
    """The tool and the ecs-service module accept exactly Docker tags and sha256 digests."""
    try:
        accepted = naming.validate_image_tag(tag) == tag
    except DeployError as exc:
        assert "\n" not in exc.message
        accepted = False
    assert accepted == image_ok(tag), tag
    assert bool(MODULE_TAG_PATTERN.fullmatch(tag)) == image_ok(tag), tag


@pytest.mark.apply
def test_digest_renders_repository_at_digest_in_the_staging_app_plan(
    faults: Any, fault_branch: str, local_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest deploys as ``<repository>@sha256:<hex>``, never ``<repository>:sha256:...``: the
    staging app root planned through the local target (its plan JSON, nothing applied)."""
    import dataclasses

    digest = "sha256:" + "0123456789abcdef" * 4
    monkeypatch.setenv("DEPLOYTOOL_DATA_DIR", str(faults.data_dir))
    target = dataclasses.replace(local_target, endpoint=faults.proxy.endpoint)
    result = stackops.plan_stack(target, "app", branch=fault_branch, image_tag=digest)
    changes = {rc["address"]: rc["change"] for rc in result.plan_json["resource_changes"]}
    after = changes["module.app.module.service.aws_ecs_task_definition.this"]["after"]
    image = json.loads(after["container_definitions"])[0]["image"]
    repository = inputs.image_repository_uri(target)
    assert image == f"{repository}@{digest}"
    assert result.summary.image_tag == digest


# --- row 8: branch names written to break out ----------------------------------------------------------

MALICIOUS = [
    "$(rm -rf /)",
    "feature; rm -rf / #",
    "`reboot`",
    "../../../../etc/passwd",
    "feature\nError: injected line",
    "x" * 1000,
    "功能/登录-🚀",
    "-chdir=/",
    "--var-file=/etc/shadow",
    'a" = 1\nimage_tag = "evil',
    "</details>\n```\n<script>alert(1)</script>",
    "\u202egnp.exe",
]


@pytest.mark.parametrize("branch", MALICIOUS, ids=lambda b: repr(b)[:24])
def test_malicious_branch_cannot_inject_anywhere(cli: SimpleNamespace, branch: str) -> None:
    names = naming.names_for("staging", branch, "staging.theobroma.example")
    assert SAFE_NAME.fullmatch(names.workspace) and len(names.workspace) <= 63

    # Terraform arguments, workspace names and data directories
    result = cli.runner.invoke(
        main, ["plan", "--env", "staging", "--branch", branch, "--image-tag", "v1", "--output", "markdown"]
    )
    assert result.exit_code == 0, result.output
    assert_safe_commands(cli.fake, cli.data_root, names.workspace, branch)
    assert any(c.args[:2] == ["workspace", "new"] for c in cli.fake.calls)

    # The rendered tfvars: the branch is only a JSON-escaped comment, every value is the slug's
    tfvars = (cli.data_root / "tfdata" / "staging" / "app" / names.workspace / "deploytool.tfvars").read_text()
    header = f"# Rendered by deploytool for {names.workspace} of staging (rolling, branch "
    assert tfvars.splitlines()[0].startswith(header)
    assert len(tfvars.splitlines()) == len(_reference_tfvars(cli).splitlines())
    release = hcl2.loads(tfvars)["release"]
    parsed = {key: json.loads(value) for key, value in release.items() if isinstance(value, str)}
    assert parsed["service_name"] == names.service and parsed["host"] == names.host
    assert parsed["image_tag"] == "v1"

    # The PR comment: the branch text is nowhere outside the plan's code fence
    markdown = result.stdout
    assert branch not in markdown

    def comment(plan_text: str) -> tuple[str, str]:
        body = plansummary.render_markdown(
            plansummary.summarize({}),
            env="staging",
            workspace=names.workspace,
            plan_text=plan_text,
            url=f"https://{names.host}",
            marker="staging",
        )
        outside, inside = _split_fence(body)
        return re.sub(r"\(\d+ lines\)", "(N lines)", outside), inside

    outside, inside = comment(f'  + tags = {{ "Branch" = "{branch}" }}\n')
    assert outside == comment('  + tags = { "Branch" = "plain" }\n')[0]  # nothing outside the fence moved
    assert all(line.strip() in inside for line in branch.splitlines())

    # A deploy of it (verification stubbed) applies the saved plan from the data root
    cli.fake.reset()
    cli.ledger.branches.clear()  # each example is a first deploy
    cli.fake.allow_apply = True
    with pytest.MonkeyPatch.context() as mp:
        verdict = Verdict((CheckResult("http.basic", "pass", "stub"),))
        mp.setattr(rolling, "verify", lambda *a, **k: ("http://127.0.0.1:9", verdict))
        applied = AppOutputs(
            {"cluster_name": "c", "service_name": names.service, "task_definition_arn": "td", "target_group_arn": "tg"}
        )
        mp.setattr(stackops, "stack_outputs", lambda stack: applied)
        deployed = cli.runner.invoke(
            main,
            [
                "deploy",
                "--env",
                "staging",
                "--branch",
                branch,
                "--image-tag",
                "v1",
                "--health-url",
                "http://127.0.0.1:9",
                "--yes",
            ],
        )
    assert deployed.exit_code == 0, deployed.output
    assert len(cli.fake.applied) == 1
    assert_safe_commands(cli.fake, cli.data_root, names.workspace, branch)
    assert all(r.workspace == names.workspace for r in cli.ledger.written)
    for path in cli.data_root.rglob("*"):
        assert path.resolve().is_relative_to(cli.data_root.resolve())
        assert branch not in path.name or SAFE_NAME.fullmatch(branch)


def _reference_tfvars(cli: SimpleNamespace) -> str:
    """The tfvars of a plain branch, for comparing line counts."""
    result = cli.runner.invoke(main, ["plan", "--env", "staging", "--branch", "plain", "--image-tag", "v1"])
    assert result.exit_code == 0, result.output
    return str((cli.data_root / "tfdata" / "staging" / "app" / "staging-plain" / "deploytool.tfvars").read_text())


def _split_fence(markdown: str) -> tuple[str, str]:
    """(text outside the diff code fence, text inside it)."""
    match = re.search(r"^(`{3,})diff\n(.*?)^\1$", markdown, re.M | re.S)
    assert match, markdown
    return markdown[: match.start()] + markdown[match.end() :], match.group(2)
