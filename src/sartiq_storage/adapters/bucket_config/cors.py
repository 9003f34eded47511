"""Bucket CORS through the S3 API: render, read back, diff, apply.

The Web App's rule carries an ID starting with ``sartiq-``; other rules are foreign and kept
unless removal is asked for. CORS must expose ``ETag`` or browser multipart uploads cannot
read part ETags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from sartiq_storage.adapters.bucket_config._common import is_managed, read_rules, writing
from sartiq_storage.core.http_headers import CORS_EXPOSE_HEADERS
from sartiq_storage.core.lifecycle import RULE_ID_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CORSRuleTypeDef

CORS_RULE_ID: Final = f"{RULE_ID_PREFIX}web-app"
CORS_METHODS: Final = ("GET", "HEAD", "PUT")
CORS_ALLOWED_HEADERS: Final = ("*",)
"""Any request header: the presigned URL's signature already binds the ones that matter."""
CORS_MAX_AGE: Final = 3600


def _sorted_unique(values: Iterable[str], *, fold: bool = False) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower() if fold else value, value)
    return tuple(seen[k] for k in sorted(seen))


@dataclass(frozen=True, slots=True)
class CorsRule:
    """One CORS rule. Compared as sets: order, method case and header case do not matter."""

    id: str | None
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        rule_id: str | None,
        origins: Iterable[str],
        methods: Iterable[str],
        allowed_headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
        max_age: int | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> CorsRule:
        return cls(
            id=rule_id or None,
            origins=_sorted_unique(origins),
            methods=_sorted_unique(m.upper() for m in methods),
            allowed_headers=_sorted_unique(allowed_headers, fold=True),
            expose_headers=_sorted_unique(expose_headers, fold=True),
            max_age=max_age,
            raw=raw,
        )

    @property
    def managed(self) -> bool:
        return is_managed(self.id)

    def _effect(self) -> tuple[object, ...]:
        return (
            self.origins,
            self.methods,
            tuple(h.lower() for h in self.allowed_headers),
            tuple(h.lower() for h in self.expose_headers),
            self.max_age,
        )

    def same_effect(self, other: CorsRule) -> bool:
        """Equal in everything but the ID (a store may drop or rename CORS rule IDs)."""
        return self._effect() == other._effect()

    def exposes_etag(self) -> bool:
        return any(h.lower() == "etag" for h in self.expose_headers)

    def to_s3(self) -> CORSRuleTypeDef:
        if self.raw is not None:
            return cast("CORSRuleTypeDef", dict(self.raw))
        rule: dict[str, Any] = {
            "AllowedOrigins": list(self.origins),
            "AllowedMethods": list(self.methods),
        }
        if self.id:
            rule["ID"] = self.id
        if self.allowed_headers:
            rule["AllowedHeaders"] = list(self.allowed_headers)
        if self.expose_headers:
            rule["ExposeHeaders"] = list(self.expose_headers)
        if self.max_age is not None:
            rule["MaxAgeSeconds"] = self.max_age
        return cast("CORSRuleTypeDef", rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "origins": list(self.origins),
            "methods": list(self.methods),
            "allowed_headers": list(self.allowed_headers),
            "expose_headers": list(self.expose_headers),
            "max_age": self.max_age,
        }


def desired_cors(origins: Sequence[str]) -> CorsRule | None:
    """The rule the Web App needs: presigned PUTs and reads from its origins, ETag exposed.

    No origins, no rule (an apply then removes ours).
    """
    if not origins:
        return None
    return CorsRule.build(
        rule_id=CORS_RULE_ID,
        origins=origins,
        methods=CORS_METHODS,
        allowed_headers=CORS_ALLOWED_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=CORS_MAX_AGE,
    )


def parse_cors_rule(raw: Mapping[str, Any]) -> CorsRule:
    max_age = raw.get("MaxAgeSeconds")
    return CorsRule.build(
        rule_id=raw.get("ID"),
        origins=raw.get("AllowedOrigins", []),
        methods=raw.get("AllowedMethods", []),
        allowed_headers=raw.get("AllowedHeaders", []),
        expose_headers=raw.get("ExposeHeaders", []),
        max_age=int(max_age) if max_age is not None else None,
        raw=dict(raw),
    )


def read_cors(client: S3Client, bucket: str) -> list[CorsRule]:
    """The bucket's CORS rules; none configured reads as an empty list."""
    rules = read_rules(
        lambda: cast("Mapping[str, Any]", client.get_bucket_cors(Bucket=bucket)),
        field="CORSRules",
        absent="NoSuchCORSConfiguration",
        action="reading CORS rules",
        bucket=bucket,
    )
    return [parse_cors_rule(r) for r in rules]


@dataclass(frozen=True, slots=True)
class CorsDiff:
    """How the bucket's CORS rules differ from what the Web App needs."""

    desired: CorsRule | None
    current: tuple[CorsRule, ...]
    missing: CorsRule | None
    changed: tuple[CorsRule, CorsRule] | None
    """``(current, desired)`` when our rule is there but says something else."""
    extra: tuple[CorsRule, ...]
    foreign: tuple[CorsRule, ...]

    @property
    def in_sync(self) -> bool:
        return self.missing is None and self.changed is None and not self.extra

    def target(self, *, remove_foreign: bool = False) -> list[CorsRule]:
        """Ours first: a browser request is answered by the first rule that matches it."""
        ours = [self.desired] if self.desired is not None else []
        return [*ours, *(() if remove_foreign else self.foreign)]

    def needs_write(self, *, remove_foreign: bool = False) -> bool:
        return not self.in_sync or (remove_foreign and bool(self.foreign))

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_sync": self.in_sync,
            "desired": self.desired.as_dict() if self.desired else None,
            "missing": self.missing.as_dict() if self.missing else None,
            "changed": (
                {"current": self.changed[0].as_dict(), "desired": self.changed[1].as_dict()}
                if self.changed
                else None
            ),
            "extra": [r.as_dict() for r in self.extra],
            "foreign": [r.as_dict() for r in self.foreign],
        }


def diff_cors(current: Iterable[CorsRule], origins: Sequence[str]) -> CorsDiff:
    """Compare the bucket's CORS rules with the Web App's needs.

    Our rule is recognised by its ID, or by its content when a store dropped the ID, so an
    apply never adds a second copy of it.
    """
    current = tuple(current)
    desired = desired_cors(origins)
    match: CorsRule | None = None
    if desired is not None:
        match = next((r for r in current if r.same_effect(desired)), None)
    ours = [r for r in current if r.managed]
    missing: CorsRule | None = None
    changed: tuple[CorsRule, CorsRule] | None = None
    if desired is not None and match is None:
        same_id = next((r for r in ours if r.id == desired.id), None)
        if same_id is None:
            missing = desired
        else:
            changed = (same_id, desired)
    settled = {id(r) for r in (match, changed[0] if changed else None) if r is not None}
    extra = tuple(r for r in ours if id(r) not in settled)
    foreign = tuple(r for r in current if not r.managed and id(r) not in settled)
    return CorsDiff(desired, current, missing, changed, extra, foreign)


def apply_cors(
    client: S3Client, bucket: str, diff: CorsDiff, *, remove_foreign: bool = False
) -> bool:
    """Write the Web App's rule first, then the foreign ones kept; ``True`` if written."""
    if not diff.needs_write(remove_foreign=remove_foreign):
        return False
    target = diff.target(remove_foreign=remove_foreign)
    with writing("writing CORS rules", bucket):
        if target:
            client.put_bucket_cors(
                Bucket=bucket, CORSConfiguration={"CORSRules": [r.to_s3() for r in target]}
            )
        else:
            client.delete_bucket_cors(Bucket=bucket)
    return True
