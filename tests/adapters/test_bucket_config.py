"""Lifecycle and CORS rules rendered from the policy, synced to each selected S3 server
(moto, SeaweedFS), and read back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sartiq_storage.adapters.bucket_config import (
    CORS_RULE_ID,
    BucketRule,
    desired_cors,
    diff_lifecycle,
    parse_lifecycle_rule,
    read_cors,
    read_lifecycle,
    render_lifecycle,
)
from sartiq_storage.adapters.stores import S3Store
from sartiq_storage.core.lifecycle import LifecyclePolicy, load_policy, parse_policy
from sartiq_storage.services import lifecycle
from tests.support.s3_servers import S3Server

ORIGINS = ["https://app.sartiq.com", "http://localhost:3000"]


@pytest.fixture
def s3_store(s3_server: S3Server, server_bucket: str) -> Iterator[S3Store]:
    """A fresh bucket on each selected S3 server in turn."""
    store = s3_server.store(server_bucket)
    yield store
    store.close()


def raw_rules(store: S3Store) -> list[dict[str, Any]]:
    answer = store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)
    return [dict(rule) for rule in answer["Rules"]]


def put_rules(store: S3Store, rules: list[dict[str, Any]]) -> None:
    store.client.put_bucket_lifecycle_configuration(
        Bucket=store.bucket,
        LifecycleConfiguration={"Rules": rules},  # type: ignore[typeddict-item]
    )


def cors_rules(store: S3Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.client.get_bucket_cors(Bucket=store.bucket)["CORSRules"]]


# --- rendering (pure) ---------------------------------------------------------------------------


def test_render_development(dev_policy: LifecyclePolicy) -> None:
    assert render_lifecycle(dev_policy) == [
        {
            "ID": "sartiq-expire-compute",
            "Filter": {"Prefix": "compute/"},
            "Status": "Enabled",
            "Expiration": {"Days": 3},
        },
        {
            "ID": "sartiq-expire-derived",
            "Filter": {"Prefix": "derived/"},
            "Status": "Enabled",
            "Expiration": {"Days": 30},
        },
        {
            "ID": "sartiq-expire-temp",
            "Filter": {"Prefix": "temp/"},
            "Status": "Enabled",
            "Expiration": {"Days": 1},
        },
        {
            "ID": "sartiq-abort-multipart",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]


def test_render_production_keeps_compute_longer() -> None:
    rendered = {r["ID"]: r for r in render_lifecycle(load_policy("production"))}
    assert rendered["sartiq-expire-compute"]["Expiration"] == {"Days": 30}
    assert rendered["sartiq-expire-temp"]["Expiration"] == {"Days": 1}
    # Permanent prefixes need no rule; filters are prefixes only (R2 has no tags).
    assert not any("media" in rule_id or "images" in rule_id for rule_id in rendered)
    assert all(set(r["Filter"]) == {"Prefix"} for r in rendered.values())


def test_parse_keeps_what_it_does_not_model() -> None:
    tagged = parse_lifecycle_rule(
        {
            "ID": "x",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}]}},
            "Expiration": {"Days": 3, "ExpiredObjectDeleteMarker": False},
        }
    )
    assert tagged.expire_days == 3
    assert "Tags" in tagged.other
    assert "ExpiredObjectDeleteMarker" not in tagged.other
    legacy = parse_lifecycle_rule({"ID": "y", "Prefix": "logs/", "Status": "Disabled"})
    assert (legacy.prefix, legacy.enabled, legacy.other) == ("logs/", False, "")


def test_cors_desired_rule() -> None:
    rule = desired_cors(ORIGINS)
    assert rule is not None
    s3 = rule.to_s3()
    assert s3["ID"] == CORS_RULE_ID
    assert sorted(s3["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert "ETag" in s3["ExposeHeaders"]
    assert s3["MaxAgeSeconds"] == 3600
    assert sorted(s3["AllowedOrigins"]) == sorted(ORIGINS)
    assert desired_cors([]) is None


# --- against each S3 server ---------------------------------------------------------------------


def test_fresh_bucket_plan_apply_check(s3_store: S3Store, dev_policy: LifecyclePolicy) -> None:
    before = lifecycle.plan(s3_store, dev_policy, ORIGINS)
    assert before.lifecycle is not None
    assert before.cors is not None
    assert {r.id for r in before.lifecycle.missing} == {
        "sartiq-expire-temp",
        "sartiq-expire-compute",
        "sartiq-expire-derived",
        "sartiq-abort-multipart",
    }
    assert before.cors.missing is not None
    assert not before.in_sync
    assert lifecycle.check(s3_store, dev_policy, ORIGINS) is False

    result = lifecycle.apply(s3_store, dev_policy, ORIGINS)
    assert result.lifecycle_written
    assert result.cors_written
    assert result.in_sync

    # Read back through the plain S3 API: exactly the rendered rules.
    by_id = {r["ID"]: r for r in raw_rules(s3_store)}
    assert by_id == {r["ID"]: r for r in render_lifecycle(dev_policy)}
    (cors,) = cors_rules(s3_store)
    assert sorted(cors["AllowedOrigins"]) == sorted(ORIGINS)
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert "ETag" in cors["ExposeHeaders"]
    assert cors["MaxAgeSeconds"] == 3600

    assert lifecycle.check(s3_store, dev_policy, ORIGINS) is True
    again = lifecycle.apply(s3_store, dev_policy, ORIGINS)
    assert not again.lifecycle_written
    assert not again.cors_written


def test_applied_cors_is_what_lets_the_web_app_upload(
    s3_server: S3Server, s3_store: S3Store, dev_policy: LifecyclePolicy
) -> None:
    """A browser's preflight for a presigned PUT, before and after ``lifecycle apply``.
    SeaweedFS (as S3) refuses it until the bucket has CORS rules, then allows the Web App's
    origins only; moto answers every origin while the bucket has no rules."""

    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{s3_server.endpoint}/{s3_store.bucket}/temp/x.png",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type,if-none-match",
            },
        )

    app, other = ORIGINS[0], "https://elsewhere.example"
    assert preflight(app).status_code == (403 if s3_server.strict else 200)
    assert lifecycle.apply(s3_store, dev_policy, ORIGINS).cors_written
    allowed = preflight(app)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == app
    assert "etag" in allowed.headers["access-control-expose-headers"].lower()
    assert preflight(other).status_code == 403


def test_hand_edited_rule_is_drift_and_foreign_rule_is_kept(
    s3_store: S3Store, dev_policy: LifecyclePolicy
) -> None:
    lifecycle.apply(s3_store, dev_policy, ORIGINS)
    rules = raw_rules(s3_store)
    for rule in rules:
        if rule["ID"] == "sartiq-expire-compute":
            rule["Expiration"] = {"Days": 1}  # someone shortened it in the dashboard
    rules.append(
        {
            "ID": "logs-cleanup",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "Expiration": {"Days": 5},
        }
    )
    put_rules(s3_store, rules)

    drifted = lifecycle.plan(s3_store, dev_policy, ORIGINS)
    assert drifted.lifecycle is not None
    (change,) = drifted.lifecycle.changed
    assert (change.current.expire_days, change.desired.expire_days) == (1, 3)
    assert [r.id for r in drifted.lifecycle.foreign] == ["logs-cleanup"]
    assert drifted.lifecycle.conflicts == ()  # logs/ is outside the policy
    assert lifecycle.check(s3_store, dev_policy, ORIGINS) is False

    lifecycle.apply(s3_store, dev_policy, ORIGINS)
    by_id = {r["ID"]: r for r in raw_rules(s3_store)}
    assert by_id["sartiq-expire-compute"]["Expiration"] == {"Days": 3}
    assert by_id["logs-cleanup"]["Expiration"] == {"Days": 5}  # kept, untouched
    assert lifecycle.check(s3_store, dev_policy, ORIGINS) is True

    lifecycle.apply(s3_store, dev_policy, ORIGINS, remove_foreign=True)
    assert "logs-cleanup" not in {r["ID"] for r in raw_rules(s3_store)}


@pytest.mark.parametrize(
    ("rule", "conflict"),
    [
        ({"Filter": {"Prefix": "media/"}, "Expiration": {"Days": 7}}, "permanently"),
        ({"Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}, "permanently"),
        ({"Filter": {"Prefix": "compute/"}, "Expiration": {"Days": 1}}, "other than"),
        ({"Filter": {"Prefix": "temp/"}, "Expiration": {"Days": 1}}, None),  # same effect
        ({"Filter": {"Prefix": "temp/x/"}, "Expiration": {"Days": 1}}, None),
        (
            {
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            },
            None,
        ),  # R2's default multipart rule deletes no object
        ({"Filter": {"Prefix": "media/"}, "Expiration": {"Days": 7}, "Status": "Disabled"}, None),
    ],
)
def test_foreign_rules_that_contradict_the_policy(
    dev_policy: LifecyclePolicy, rule: dict[str, Any], conflict: str | None
) -> None:
    foreign = parse_lifecycle_rule({"ID": "hand-made", "Status": "Enabled", **rule})
    diff = diff_lifecycle([foreign], dev_policy)
    if conflict is None:
        assert diff.conflicts == ()
    else:
        (found,) = diff.conflicts
        assert conflict in found.reason


def test_conflicting_foreign_rule_is_kept_until_removal_is_asked(
    s3_store: S3Store, dev_policy: LifecyclePolicy
) -> None:
    put_rules(
        s3_store,
        [
            {
                "ID": "old-media-expiry",
                "Filter": {"Prefix": "media/"},
                "Status": "Enabled",
                "Expiration": {"Days": 7},
            }
        ],
    )
    result = lifecycle.apply(s3_store, dev_policy, ORIGINS)
    assert result.lifecycle_written
    assert not result.in_sync
    assert "old-media-expiry" in {r["ID"] for r in raw_rules(s3_store)}
    assert lifecycle.apply(s3_store, dev_policy, ORIGINS, remove_foreign=True).in_sync
    assert "old-media-expiry" not in {r["ID"] for r in raw_rules(s3_store)}


def test_rules_dropped_from_the_policy_are_removed(s3_store: S3Store) -> None:
    policy = parse_policy(
        'version = 1\n[[rules]]\nprefix = "temp/"\nexpire_days = 1\n', "development"
    )
    put_rules(
        s3_store,
        [
            {
                "ID": "sartiq-expire-scratch",
                "Filter": {"Prefix": "scratch/"},
                "Status": "Enabled",
                "Expiration": {"Days": 2},
            },
        ],
    )
    before = lifecycle.plan(s3_store, policy, ORIGINS)
    assert before.lifecycle is not None
    assert [r.id for r in before.lifecycle.extra] == ["sartiq-expire-scratch"]
    lifecycle.apply(s3_store, policy, ORIGINS)
    assert [r.id for r in read_lifecycle(s3_store.client, s3_store.bucket)] == [
        "sartiq-expire-temp"
    ]

    nothing = parse_policy("version = 1\n", "development")
    assert lifecycle.apply(s3_store, nothing, []).in_sync
    assert read_lifecycle(s3_store.client, s3_store.bucket) == []  # configuration deleted


def test_cors_drift_foreign_rules_and_readback(
    s3_store: S3Store, dev_policy: LifecyclePolicy
) -> None:
    foreign = {
        "ID": "partner",
        "AllowedOrigins": ["https://partner.example"],
        "AllowedMethods": ["GET"],
    }
    s3_store.client.put_bucket_cors(
        Bucket=s3_store.bucket,
        CORSConfiguration={
            "CORSRules": [
                foreign,
                {
                    "ID": CORS_RULE_ID,
                    "AllowedOrigins": ORIGINS,
                    "AllowedMethods": ["PUT"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3600,
                },  # no ETag exposed
            ]
        },
    )
    drifted = lifecycle.plan(s3_store, dev_policy, ORIGINS)
    assert drifted.cors is not None
    assert drifted.cors.changed is not None
    assert not drifted.cors.changed[0].exposes_etag()
    assert [r.id for r in drifted.cors.foreign] == ["partner"]
    assert not lifecycle.check(s3_store, dev_policy, ORIGINS)

    lifecycle.apply(s3_store, dev_policy, ORIGINS)
    rules = cors_rules(s3_store)
    assert [r.get("ID") for r in rules] == [CORS_RULE_ID, "partner"]  # ours answers first
    assert "ETag" in rules[0]["ExposeHeaders"]
    assert rules[1]["AllowedOrigins"] == ["https://partner.example"]
    assert lifecycle.check(s3_store, dev_policy, ORIGINS)

    # A new Web App origin is drift until applied.
    assert not lifecycle.check(s3_store, dev_policy, [*ORIGINS, "https://new.sartiq.com"])

    # No origins configured: our rule goes, the foreign one stays.
    lifecycle.apply(s3_store, dev_policy, [])
    assert [r.id for r in read_cors(s3_store.client, s3_store.bucket)] == ["partner"]
    lifecycle.apply(s3_store, dev_policy, [], remove_foreign=True)
    assert read_cors(s3_store.client, s3_store.bucket) == []


def test_cors_rule_without_id_is_recognised_by_content(
    s3_store: S3Store, dev_policy: LifecyclePolicy
) -> None:
    """A store that drops rule IDs must not make every apply add another copy."""
    desired = desired_cors(ORIGINS)
    assert desired is not None
    anonymous = {k: v for k, v in desired.to_s3().items() if k != "ID"}
    anonymous["AllowedMethods"] = ["PUT", "HEAD", "GET"]  # order does not matter
    s3_store.client.put_bucket_cors(
        Bucket=s3_store.bucket,
        CORSConfiguration={"CORSRules": [anonymous]},  # type: ignore[list-item]
    )
    result = lifecycle.plan(s3_store, dev_policy, ORIGINS)
    assert result.cors is not None
    assert result.cors.in_sync
    assert result.cors.foreign == ()
    assert not lifecycle.apply(s3_store, dev_policy, ORIGINS).cors_written
    assert len(cors_rules(s3_store)) == 1


def test_embedded_store_has_no_engine(local_store: object, dev_policy: LifecyclePolicy) -> None:
    result = lifecycle.plan(local_store, dev_policy, ORIGINS)  # type: ignore[arg-type]
    assert result.lifecycle is None
    assert result.cors is None
    assert result.note is not None
    assert "sweep" in result.note
    assert result.in_sync
    assert lifecycle.check(local_store, dev_policy, ORIGINS)  # type: ignore[arg-type]
    applied = lifecycle.apply(local_store, dev_policy, ORIGINS)  # type: ignore[arg-type]
    assert not applied.lifecycle_written
    assert applied.in_sync


def test_bucket_rule_equality_ignores_the_raw_answer() -> None:
    assert BucketRule("a", "a/", expire_days=1, raw={"x": 1}) == BucketRule(
        "a", "a/", expire_days=1
    )
