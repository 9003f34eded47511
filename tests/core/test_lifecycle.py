"""The retention policy: packaged defaults per environment, overrides and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sartiq_storage.core.config import Environment, load_settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.lifecycle import (
    MAX_BUCKET_RULES,
    Rule,
    expire_rule_id,
    expires_at,
    load_policy,
    parse_policy,
    policy_for,
)

HEADER = "version = 1\n"


def days_by_prefix(environment: str) -> dict[str, int | None]:
    return {rule.prefix: rule.expire_days for rule in load_policy(environment).rules}


@pytest.mark.parametrize(
    ("environment", "compute_days"),
    [("development", 3), ("staging", 7), ("production", 30)],
)
def test_packaged_defaults(environment: str, compute_days: int) -> None:
    policy = load_policy(environment)
    assert policy.environment is Environment(environment)
    assert days_by_prefix(environment) == {
        "temp/": 1,
        "compute/": compute_days,
        "derived/": 30,
        "media/": None,
        "images/": None,
        "shooting_looks/": None,
    }
    assert policy.abort_incomplete_multipart_days == 1
    assert {r.prefix for r in policy.permanent} == {"media/", "images/", "shooting_looks/"}
    assert policy.bucket_rule_count == 4  # temp, compute, derived + the multipart rule
    assert "built-in" in policy.source


def test_rule_for_picks_the_most_specific_rule_and_nothing_outside() -> None:
    policy = parse_policy(
        HEADER
        + """
[[rules]]
prefix = "compute/"
expire_days = 3
[[rules]]
prefix = "compute/generations/"
expire_days = 3
[[rules]]
prefix = "media/"
permanent = true
""",
        "development",
    )
    assert policy.rule_for("compute/generations/t/result_0.webp") == policy.rules[1]
    assert policy.rule_for("compute/other") == policy.rules[0]
    assert policy.rule_for("media/x/file.png") == policy.rules[2]
    assert policy.rule_for("mediax/file.png") is None
    assert policy.rule_for("unknown/file") is None
    # Nested rules of equal retention are swept once, through the outer prefix.
    assert [r.prefix for r in policy.sweep_rules()] == ["compute/"]


def test_expires_at() -> None:
    written = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert expires_at(Rule("temp/", 1), written) == written + timedelta(days=1)
    assert expires_at(Rule("media/", None), written) is None
    assert Rule("temp/", 1).retention == timedelta(hours=24)


def test_rule_ids() -> None:
    assert expire_rule_id("temp/") == "sartiq-expire-temp"
    assert expire_rule_id("compute/generations/") == "sartiq-expire-compute-generations"


def test_override_file_through_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    override = tmp_path / "retention.toml"
    override.write_text(
        HEADER + '[[rules]]\nprefix = "temp/"\nexpire_days = { development = 2, staging = 3, '
        "production = 4 }\n",
        "utf-8",
    )
    monkeypatch.setenv("STORAGE_LIFECYCLE_FILE", str(override))
    monkeypatch.setenv("ENVIRONMENT", "staging")
    policy = policy_for(load_settings())
    assert policy.environment is Environment.staging
    assert [(r.prefix, r.expire_days) for r in policy.rules] == [("temp/", 3)]
    assert policy.abort_incomplete_multipart_days is None
    assert policy.source == str(override)


def test_broken_override_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('version = 1\n[[rules]]\nprefix = "temp/"\nexpire_days = ', "utf-8")
    with pytest.raises(ConfigurationError, match=r"broken\.toml: not valid TOML"):
        load_policy("development", broken)
    with pytest.raises(ConfigurationError, match=r"missing\.toml: cannot read it"):
        load_policy("development", tmp_path / "missing.toml")


def test_unknown_environment() -> None:
    with pytest.raises(ConfigurationError, match="unknown environment 'qa'"):
        load_policy("qa")


def rule(prefix: str, value: str) -> str:
    return f'[[rules]]\nprefix = "{prefix}"\n{value}\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "version: must be 1"),
        ("version = 2\n", "version: must be 1"),
        (HEADER + "retention = 3\n", "unknown setting"),
        (HEADER + "rules = 3\n", "array of tables"),
        (HEADER + rule("temp/", "expire_days = 1\nexpires = 2"), "unknown setting.*expires"),
        (HEADER + "[[rules]]\nexpire_days = 1\n", "needs a prefix"),
        (HEADER + rule("temp", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("/temp/", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("temp//", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("tëmp/", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("a/../", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("temp*/", "expire_days = 1"), "a prefix is one or more ASCII segments"),
        (HEADER + rule("temp./", "expire_days = 1"), "'temp./'"),
        (HEADER + rule("temp/", "expire_days = -1"), "at least 1, got -1"),
        (HEADER + rule("temp/", "expire_days = 0"), "at least 1, got 0"),
        (HEADER + rule("temp/", "expire_days = 1.5"), "whole number"),
        (HEADER + rule("temp/", "expire_days = true"), "whole number"),
        (HEADER + rule("temp/", 'expire_days = "1"'), "whole number"),
        (HEADER + rule("temp/", ""), "exactly one of expire_days or permanent"),
        (HEADER + rule("temp/", "expire_days = 1\npermanent = true"), "exactly one of"),
        (HEADER + rule("temp/", 'permanent = "yes"'), "permanent must be true or false"),
        (
            HEADER + rule("temp/", "expire_days = { development = 1, staging = 1 }"),
            "no value for the production environment",
        ),
        (
            HEADER
            + rule(
                "temp/",
                "expire_days = { development = 1, staging = 1, production = 1, qa = 1 }",
            ),
            "unknown environment",
        ),
        (
            HEADER
            + rule(
                "compute/",
                "expire_days = { development = 3, staging = 7, production = -30 }",
            ),
            r"production\): days must be at least 1",
        ),
        (HEADER + "abort_incomplete_multipart_days = -1\n", "at least 1"),
        (HEADER + rule("temp/", "expire_days = 1") * 2, "declared twice"),
        (
            HEADER + rule("temp/", "expire_days = 1") + rule("temp/keep/", "permanent = true"),
            "overlap with different retention",
        ),
        (
            HEADER + rule("temp/", "expire_days = 1") + rule("temp/slow/", "expire_days = 7"),
            "overlap with different retention",
        ),
        (HEADER + rule("media/", "expire_days = 30"), "keeps permanently"),
        (HEADER + rule("images/temp/", "expire_days = 30"), "keeps permanently"),
        (HEADER + rule("a-b/", "expire_days = 1") + rule("a/b/", "expire_days = 2"), "sartiq"),
    ],
)
def test_validation(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_policy(text, "development", source="bad.toml")


def test_errors_name_the_file_and_the_rule() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(HEADER + rule("temp/", "expire_days = -2"), "production", source="x.toml")
    assert str(caught.value).startswith("lifecycle file x.toml: rule 1 ('temp/')")


def test_overlap_with_equal_retention_is_allowed() -> None:
    policy = parse_policy(
        HEADER + rule("temp/", "expire_days = 1") + rule("temp/a/", "expire_days = 1"),
        "development",
    )
    assert [r.prefix for r in policy.sweep_rules()] == ["temp/"]


def test_more_rules_than_r2_allows() -> None:
    many = "".join(rule(f"p{i:04}/", "expire_days = 1") for i in range(MAX_BUCKET_RULES))
    ok = parse_policy(HEADER + many, "development")  # 1,000 rules, no multipart rule
    assert ok.bucket_rule_count == MAX_BUCKET_RULES
    with pytest.raises(ConfigurationError, match="1001 bucket rules"):
        parse_policy(HEADER + "abort_incomplete_multipart_days = 1\n" + many, "development")
