"""Branch -> slug -> names: examples, limits and properties over arbitrary text."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deploytool.errors import DeployError
from deploytool.naming import (
    DNS_LABEL_MAX_LEN,
    DNS_NAME_MAX_LEN,
    ECS_SERVICE_MAX_LEN,
    SLUG_MAX_LEN,
    TARGET_GROUP_MAX_LEN,
    Names,
    fit,
    names_for,
    short_hash,
    slugify,
    validate_domain,
    validate_env,
    validate_image_tag,
)

DOMAIN = "staging.theobroma.example"
NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
PLAIN_RE = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")


def assert_valid_names(names: Names) -> None:
    for value in (names.slug, names.workspace, names.service, names.target_group, names.log_prefix):
        assert NAME_RE.fullmatch(value), value
    assert len(names.target_group) <= TARGET_GROUP_MAX_LEN
    assert "--" not in names.target_group  # Elastic Load Balancing rejects it
    assert len(names.service) <= ECS_SERVICE_MAX_LEN
    assert len(names.host) <= DNS_NAME_MAX_LEN
    for label in names.host.split("."):
        assert NAME_RE.fullmatch(label), label
        assert len(label) <= DNS_LABEL_MAX_LEN


# --- examples -----------------------------------------------------------------------------------


def test_documented_example() -> None:
    names = names_for("staging", "feature/new-api-endpoint", DOMAIN)
    assert names.slug == "feature-new-api-endpoint"
    assert names.workspace == "staging-feature-new-api-endpoint"
    assert names.service == "staging-feature-new-api-endpoint"
    assert names.target_group == "staging-feature-new-api-endpoint"
    assert len(names.target_group) == 32
    assert names.host == "staging-feature-new-api-endpoint.staging.theobroma.example"
    assert names.log_prefix == "staging-feature-new-api-endpoint"
    assert names.branch == "feature/new-api-endpoint"
    assert names.env == "staging"


def test_as_dict_has_every_field() -> None:
    names = names_for("staging", "fix-1", DOMAIN)
    assert names.as_dict() == {
        "env": "staging",
        "branch": "fix-1",
        "slug": "fix-1",
        "workspace": "staging-fix-1",
        "service": "staging-fix-1",
        "target_group": "staging-fix-1",
        "host": "staging-fix-1.staging.theobroma.example",
        "log_prefix": "staging-fix-1",
    }


def test_environment_without_branch() -> None:
    names = names_for("production", None, "api.theobroma.example")
    assert names.workspace == "default"
    assert names.service == "theobroma-production"
    assert names.target_group == "theobroma-production"
    assert names.host == "api.theobroma.example"
    assert names.slug == "production"
    assert names.branch is None
    blue = names.colored("blue")
    green = names.colored("green")
    assert blue.service == "theobroma-production-blue"
    assert green.target_group == "theobroma-production-green"
    assert green.log_prefix == "theobroma-production-green"
    assert blue.workspace == "default"


def test_colour_suffix_fits_longest_environment_and_project() -> None:
    names = names_for("abcdefghijklmnop", None, DOMAIN, project="qrstuvwxyzabcdef")
    green = names.colored("green")
    assert len(green.target_group) <= TARGET_GROUP_MAX_LEN
    assert green.target_group.endswith("-green")
    assert_valid_names(green)


def test_unknown_colour_rejected() -> None:
    with pytest.raises(DeployError, match="colour"):
        names_for("production", None, DOMAIN).colored("red")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("main", "main"),
        ("fix-42", "fix-42"),
        ("feature/new-api-endpoint", "feature-new-api-endpoint"),
        ("a/b/c", "a-b-c"),
    ],
)
def test_plain_branches_keep_their_text(branch: str, slug: str) -> None:
    assert slugify(branch) == slug


@pytest.mark.parametrize(
    ("branch", "head"),
    [
        ("Feature/Login_Form", "feature-login-form"),
        ("feature//x", "feature-x"),
        ("-leading", "leading"),
        ("trailing/", "trailing"),
        ("release/1.2.3", "release-1-2-3"),
        ("  spaced out ", "spaced-out"),
        ("日本", "branch"),
        ("///", "branch"),
        ("ünïcode", "n-code"),
    ],
)
def test_other_branches_get_a_hash_of_the_original(branch: str, head: str) -> None:
    assert slugify(branch) == f"{head}--{short_hash(branch)}"


def test_case_variants_do_not_collide() -> None:
    assert slugify("Feature/X") != slugify("feature/x")
    assert slugify("feature_x") != slugify("feature-x")


def test_slash_and_dash_variants_share_a_slug() -> None:
    # The documented price of readable plain slugs.
    assert slugify("feature/x") == slugify("feature-x") == "feature-x"


@pytest.mark.parametrize("branch", ["", " ", "\t\n"])
def test_empty_branch_is_a_user_error(branch: str) -> None:
    with pytest.raises(DeployError, match="branch name is empty"):
        slugify(branch)


def test_long_branch_with_slashes_and_uppercase() -> None:
    branch = "Feature/JIRA-1234/" + "Make-The-Geo-Search-Endpoint-Faster/" * 2 + "AndCheaper-Too"
    branch = branch[:90]
    assert len(branch) == 90
    slug = slugify(branch)
    assert len(slug) <= SLUG_MAX_LEN
    assert slug.startswith("feature-jira-1234-make-the-geo")
    assert slug.endswith("--" + short_hash(branch))
    names = names_for("staging", branch, DOMAIN)
    assert_valid_names(names)
    assert len(names.host.split(".")[0]) <= DNS_LABEL_MAX_LEN
    assert names_for("staging", branch, DOMAIN) == names  # stable


def test_long_plain_branch_is_cut_with_hash() -> None:
    branch = "feature/" + "x" * 80
    slug = slugify(branch)
    assert len(slug) == SLUG_MAX_LEN
    assert slug.endswith("--" + short_hash(branch))


def test_branches_differing_after_32nd_character_get_different_target_groups() -> None:
    a = "feature/geo-search-by-bounding-box-v1"
    b = "feature/geo-search-by-bounding-box-v2"
    assert a[:32] == b[:32]
    ta = names_for("staging", a, DOMAIN).target_group
    tb = names_for("staging", b, DOMAIN).target_group
    assert ta != tb
    assert len(ta) <= TARGET_GROUP_MAX_LEN
    assert len(tb) <= TARGET_GROUP_MAX_LEN


def test_fit_keeps_short_names_and_cuts_long_ones() -> None:
    assert fit("abc", 32) == "abc"
    cut = fit("a" * 40, 32)
    assert len(cut) == 32
    assert cut.endswith("--" + short_hash("a" * 40))
    with pytest.raises(ValueError):
        fit("abc", 3)


@pytest.mark.parametrize("env", ["staging", "production", "local", "qa-2", "a", "a" * 16])
def test_valid_env_names(env: str) -> None:
    assert validate_env(env) == env


@pytest.mark.parametrize("env", ["", "Staging", "2nd", "qa-", "-qa", "qa--2", "a" * 17, "qa_2"])
def test_invalid_env_names(env: str) -> None:
    with pytest.raises(DeployError, match="invalid environment name"):
        names_for(env, "main", DOMAIN)


@pytest.mark.parametrize("domain", ["", "-a.example", "a..example", "a_b.example", "ex ample.com"])
def test_invalid_domains(domain: str) -> None:
    with pytest.raises(DeployError, match="invalid domain"):
        validate_domain(domain)


def test_domain_is_lowercased() -> None:
    assert validate_domain("Staging.Example.COM.") == "staging.example.com"


def test_overlong_host_is_rejected() -> None:
    domain = ".".join(["d" * 60] * 4)  # 243 characters
    with pytest.raises(DeployError, match="host name"):
        names_for("staging", "feature/new-api-endpoint", domain)


@pytest.mark.parametrize(
    "tag",
    ["v1.2.3", "latest", "abc123", "_x", "a" * 128, "sha256:" + "0" * 64, "main-3f2a9c1", "1.0-rc_1"],
)
def test_valid_image_tags(tag: str) -> None:
    assert validate_image_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    ["", ".v1", "-v1", "a" * 129, "v1:2", "v 1", "sha256:abc", "sha256:" + "G" * 64, "v1\n", "ü"],
)
def test_invalid_image_tags(tag: str) -> None:
    with pytest.raises(DeployError, match="invalid image tag"):
        validate_image_tag(tag)


# --- properties ---------------------------------------------------------------------------------

plain_branches = st.from_regex(r"[a-z0-9]{1,8}(?:[-/][a-z0-9]{1,8}){0,8}", fullmatch=True)
any_branches = st.one_of(st.text(max_size=120), plain_branches)
env_names = st.from_regex(r"[a-z][a-z0-9]{0,5}(?:-[a-z0-9]{1,4}){0,2}", fullmatch=True)


def _same_plain_text(a: str, b: str) -> bool:
    return bool(PLAIN_RE.fullmatch(a) and PLAIN_RE.fullmatch(b) and a.replace("/", "-") == b.replace("/", "-"))


@settings(max_examples=1000, deadline=None)
@given(env=st.one_of(env_names, st.text(max_size=20)), branch=st.one_of(st.none(), any_branches))
def test_names_are_valid_or_a_deploy_error(env: str, branch: str | None) -> None:
    try:
        names = names_for(env, branch, DOMAIN)
    except DeployError as exc:
        assert "\n" not in str(exc)
        return
    assert_valid_names(names)


@settings(max_examples=1000, deadline=None)
@given(branch=any_branches)
def test_slug_is_valid_and_stable(branch: str) -> None:
    try:
        slug = slugify(branch)
    except DeployError:
        assert not branch.strip()
        return
    assert NAME_RE.fullmatch(slug)
    assert len(slug) <= SLUG_MAX_LEN
    assert slugify(branch) == slug
    # a plain slug never contains "--", a hashed one always does
    assert ("--" in slug) != bool(PLAIN_RE.fullmatch(branch) and len(branch) <= SLUG_MAX_LEN)


@settings(max_examples=1000, deadline=None)
@given(a=any_branches, b=any_branches)
def test_distinct_branches_do_not_collide(a: str, b: str) -> None:
    assume(a != b and a.strip() and b.strip())
    assume(not _same_plain_text(a, b))
    na = names_for("staging", a, DOMAIN)
    nb = names_for("staging", b, DOMAIN)
    assert na.slug != nb.slug
    assert na.workspace != nb.workspace
    assert na.target_group != nb.target_group
    assert na.host != nb.host


@settings(max_examples=1000, deadline=None)
@given(base=plain_branches, variant=st.sampled_from(["upper", "underscore", "dot", "double"]))
def test_near_miss_variants_of_a_plain_branch_do_not_collide(base: str, variant: str) -> None:
    if variant == "upper":
        other = base.upper()
    elif variant == "underscore":
        other = base.replace("-", "_").replace("/", "_")
    elif variant == "dot":
        other = base + ".x"
    else:
        other = base.replace("-", "--")
    assume(other != base)
    assert slugify(base) != slugify(other)


@settings(max_examples=1000, deadline=None)
@given(branch=any_branches)
def test_long_branches_still_get_distinct_target_groups(branch: str) -> None:
    assume(branch.strip())
    a = names_for("staging", branch + "-tail-one" * 4, DOMAIN).target_group
    b = names_for("staging", branch + "-tail-two" * 4, DOMAIN).target_group
    assert a != b
