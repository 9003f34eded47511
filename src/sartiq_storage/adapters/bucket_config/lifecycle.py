"""Bucket lifecycle rules through the S3 API: render, read back, diff, apply.

Rules we own carry IDs starting with ``sartiq-``; every other rule is *foreign*: it is
reported and kept unless the caller explicitly asks to remove it, because someone put it there
by hand and may still need it. The S3 API replaces the document as a whole, so an apply writes
our rules plus the foreign ones it keeps.

R2 facts this follows (``docs/lifecycle.md``): lifecycle filters are literal prefixes only
(R2 has no object tags), at most 1,000 rules, and due objects are removed lazily, usually
within 24 h.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from sartiq_storage.adapters.bucket_config._common import is_managed, read_rules, writing
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.lifecycle import (
    MAX_BUCKET_RULES,
    RULE_ID_PREFIX,
    LifecyclePolicy,
    expire_rule_id,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef

ABORT_MULTIPART_ID: Final = f"{RULE_ID_PREFIX}abort-multipart"

_MODELLED_LIFECYCLE_KEYS: Final = frozenset(
    {"ID", "Status", "Filter", "Prefix", "Expiration", "AbortIncompleteMultipartUpload"}
)


@dataclass(frozen=True, slots=True)
class BucketRule:
    """One lifecycle rule in the form we compare: what it does, not how the XML spelt it."""

    id: str
    prefix: str
    enabled: bool = True
    expire_days: int | None = None
    abort_multipart_days: int | None = None
    other: str = ""
    """Canonical JSON of anything we do not model (tags, dates, transitions…), so any
    difference in it still counts."""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The rule as read from the bucket, written back unchanged when it is kept."""

    @property
    def managed(self) -> bool:
        return is_managed(self.id)

    @property
    def removes_objects(self) -> bool:
        """Whether the rule can delete objects (anything beyond aborting multipart uploads)."""
        return self.enabled and (self.expire_days is not None or bool(self.other))

    def describe(self) -> str:
        parts: list[str] = []
        if self.expire_days is not None:
            parts.append(f"expire after {self.expire_days} d")
        if self.abort_multipart_days is not None:
            parts.append(f"abort multipart after {self.abort_multipart_days} d")
        if self.other:
            parts.append(f"other: {self.other}")
        if not self.enabled:
            parts.append("disabled")
        where = repr(self.prefix) if self.prefix else "whole bucket"
        return f"{where}: {', '.join(parts) or 'no action'}"

    def to_s3(self) -> LifecycleRuleTypeDef:
        """The rule as ``PutBucketLifecycleConfiguration`` takes it (prefix filter only)."""
        if self.raw is not None:
            return cast("LifecycleRuleTypeDef", dict(self.raw))
        rule: dict[str, Any] = {
            "ID": self.id,
            "Filter": {"Prefix": self.prefix},
            "Status": "Enabled" if self.enabled else "Disabled",
        }
        if self.expire_days is not None:
            rule["Expiration"] = {"Days": self.expire_days}
        if self.abort_multipart_days is not None:
            rule["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": self.abort_multipart_days
            }
        return cast("LifecycleRuleTypeDef", rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "enabled": self.enabled,
            "expire_days": self.expire_days,
            "abort_multipart_days": self.abort_multipart_days,
            "other": self.other or None,
        }


def desired_lifecycle(policy: LifecyclePolicy) -> list[BucketRule]:
    """The bucket rules a policy needs: one per expiring prefix, one bucket-wide abort rule.

    Permanent prefixes need no rule: objects without a matching rule are kept.
    """
    rules = [
        BucketRule(id=expire_rule_id(rule.prefix), prefix=rule.prefix, expire_days=rule.expire_days)
        for rule in sorted(policy.expiring, key=lambda r: r.prefix)
    ]
    if policy.abort_incomplete_multipart_days:
        rules.append(
            BucketRule(
                id=ABORT_MULTIPART_ID,
                prefix="",
                abort_multipart_days=policy.abort_incomplete_multipart_days,
            )
        )
    return rules


def render_lifecycle(policy: LifecyclePolicy) -> list[LifecycleRuleTypeDef]:
    """The policy as S3 ``LifecycleConfiguration`` rules."""
    return [rule.to_s3() for rule in desired_lifecycle(policy)]


def _meaningful(value: object) -> bool:
    """False for values that configure nothing (``False``, ``None``, empty), which some
    stores echo back; they must not read as drift."""
    return value not in (None, False, "", [], {})


def parse_lifecycle_rule(raw: Mapping[str, Any]) -> BucketRule:
    """Read one rule as a bucket returns it, keeping anything unmodelled in ``other``."""
    other: dict[str, Any] = {
        k: v for k, v in raw.items() if k not in _MODELLED_LIFECYCLE_KEYS and _meaningful(v)
    }
    prefix = ""
    filt = raw.get("Filter")
    if isinstance(filt, Mapping):
        prefix = str(filt.get("Prefix", ""))
        unmodelled_filter = {k: v for k, v in filt.items() if k != "Prefix" and _meaningful(v)}
        if unmodelled_filter:
            other["Filter"] = unmodelled_filter
    elif "Prefix" in raw:  # the pre-2016 form, which some stores still return
        prefix = str(raw.get("Prefix") or "")
    expiration = raw.get("Expiration")
    expire_days: int | None = None
    if isinstance(expiration, Mapping):
        days = expiration.get("Days")
        expire_days = int(days) if days is not None else None
        rest = {k: v for k, v in expiration.items() if k != "Days" and _meaningful(v)}
        if rest:
            other["Expiration"] = rest
    abort = raw.get("AbortIncompleteMultipartUpload")
    abort_days: int | None = None
    if isinstance(abort, Mapping) and abort.get("DaysAfterInitiation") is not None:
        abort_days = int(abort["DaysAfterInitiation"])
    return BucketRule(
        id=str(raw.get("ID") or ""),
        prefix=prefix,
        enabled=raw.get("Status", "Enabled") == "Enabled",
        expire_days=expire_days,
        abort_multipart_days=abort_days,
        other=json.dumps(other, sort_keys=True, default=str) if other else "",
        raw=dict(raw),
    )


def read_lifecycle(client: S3Client, bucket: str) -> list[BucketRule]:
    """The bucket's lifecycle rules; none configured reads as an empty list."""
    rules = read_rules(
        lambda: cast("Mapping[str, Any]", client.get_bucket_lifecycle_configuration(Bucket=bucket)),
        field="Rules",
        absent="NoSuchLifecycleConfiguration",
        action="reading lifecycle rules",
        bucket=bucket,
    )
    return [parse_lifecycle_rule(r) for r in rules]


@dataclass(frozen=True, slots=True)
class RuleChange:
    """A rule we own whose bucket copy differs from the policy."""

    current: BucketRule
    desired: BucketRule


@dataclass(frozen=True, slots=True)
class ForeignConflict:
    """A rule we do not own that deletes objects the policy keeps longer (or forever)."""

    rule: BucketRule
    reason: str


@dataclass(frozen=True, slots=True)
class LifecycleDiff:
    """How the bucket's lifecycle rules differ from the policy's."""

    desired: tuple[BucketRule, ...]
    current: tuple[BucketRule, ...]
    missing: tuple[BucketRule, ...]
    changed: tuple[RuleChange, ...]
    extra: tuple[BucketRule, ...]
    """Rules with our ID prefix that the policy no longer has: removed on apply."""
    foreign: tuple[BucketRule, ...]
    """Rules someone else made: kept on apply unless removal is asked for."""
    conflicts: tuple[ForeignConflict, ...]

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.conflicts)

    def target(self, *, remove_foreign: bool = False) -> list[BucketRule]:
        """The rules an apply writes: the policy's, then the foreign ones it keeps."""
        return [*self.desired, *(() if remove_foreign else self.foreign)]

    def needs_write(self, *, remove_foreign: bool = False) -> bool:
        return bool(self.missing or self.changed or self.extra or (remove_foreign and self.foreign))

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_sync": self.in_sync,
            "missing": [r.as_dict() for r in self.missing],
            "changed": [
                {"current": c.current.as_dict(), "desired": c.desired.as_dict()}
                for c in self.changed
            ],
            "extra": [r.as_dict() for r in self.extra],
            "foreign": [r.as_dict() for r in self.foreign],
            "conflicts": [{"rule": c.rule.as_dict(), "reason": c.reason} for c in self.conflicts],
        }


def _foreign_conflict(rule: BucketRule, policy: LifecyclePolicy) -> str | None:
    """Why a foreign rule contradicts the policy, or ``None`` when it does not.

    It does when it can delete objects under a prefix the policy declares (or one enclosing
    it) and does not do exactly what the policy's rule does there.
    """
    if not rule.removes_objects:
        return None
    # Permanent prefixes first: deleting what must be kept is the gravest contradiction.
    for declared in sorted(policy.rules, key=lambda r: r.expire_days is not None):
        if not (rule.prefix.startswith(declared.prefix) or declared.prefix.startswith(rule.prefix)):
            continue
        if declared.expire_days is None:
            return f"deletes objects under {declared.prefix!r}, which the policy keeps permanently"
        same = (
            rule.prefix.startswith(declared.prefix)
            and rule.expire_days == declared.expire_days
            and not rule.other
        )
        if not same:
            return (
                f"deletes objects under {declared.prefix!r} other than the policy's "
                f"{declared.describe()}"
            )
    return None


def diff_lifecycle(current: Iterable[BucketRule], policy: LifecyclePolicy) -> LifecycleDiff:
    """Compare the bucket's rules with the policy's (order does not matter)."""
    current = tuple(current)
    desired = tuple(desired_lifecycle(policy))
    by_id = {rule.id: rule for rule in current if rule.managed}
    wanted = {rule.id for rule in desired}
    missing: list[BucketRule] = []
    changed: list[RuleChange] = []
    for rule in desired:
        have = by_id.get(rule.id)
        if have is None:
            missing.append(rule)
        elif have != rule:
            changed.append(RuleChange(have, rule))
    extra = tuple(rule for rule in current if rule.managed and rule.id not in wanted)
    foreign = tuple(rule for rule in current if not rule.managed)
    conflicts = tuple(
        ForeignConflict(rule, reason)
        for rule in foreign
        if (reason := _foreign_conflict(rule, policy)) is not None
    )
    return LifecycleDiff(
        desired, current, tuple(missing), tuple(changed), extra, foreign, conflicts
    )


def apply_lifecycle(
    client: S3Client, bucket: str, diff: LifecycleDiff, *, remove_foreign: bool = False
) -> bool:
    """Write the policy's rules (keeping foreign ones unless asked); ``True`` if anything
    was written. Nothing is written when the bucket already matches, so an apply never
    restarts R2's evaluation of existing objects for nothing.
    """
    if not diff.needs_write(remove_foreign=remove_foreign):
        return False
    target = diff.target(remove_foreign=remove_foreign)
    if len(target) > MAX_BUCKET_RULES:
        raise ConfigurationError(
            f"bucket {bucket!r} would hold {len(target)} lifecycle rules "
            f"({len(diff.foreign)} foreign); R2 allows at most {MAX_BUCKET_RULES}"
        )
    with writing("writing lifecycle rules", bucket):
        if target:
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={"Rules": [rule.to_s3() for rule in target]},
            )
        else:
            client.delete_bucket_lifecycle(Bucket=bucket)
    return True
