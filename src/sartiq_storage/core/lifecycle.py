"""Retention as code: one declarative policy for what the bucket keeps and for how long.

The policy lives in ``lifecycle.toml`` beside this module (``STORAGE_LIFECYCLE_FILE`` replaces
it). The same policy is synced to the bucket's lifecycle rules and enforced by the sweeper on
stores without a lifecycle engine, so the two can never disagree. Pure: the only I/O is reading
the policy file. See ``docs/lifecycle.md``.

Validation refuses anything R2 or S3 could not express exactly, and anything that could delete
data the key schema declares permanent:

* prefixes are literal (``temp/``), end in ``/`` and use plain ASCII segments, because lifecycle
  filters are literal prefixes and rule IDs are derived from them;
* retention is whole days ≥ 1 (S3's ``Expiration.Days``);
* two prefixes where one contains the other must have the same retention: a bucket cannot
  express "expire ``temp/`` but keep ``temp/keep/``" (the outer rule would still apply);
* an expiring rule may not reach into a zone the key schema calls permanent (``media/``,
  ``images/``, ``shooting_looks/``), so a typo cannot schedule the deletion of media;
* at most 1,000 bucket rules (R2's limit).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Final, Protocol

from sartiq_storage.core.config import Environment, Settings
from sartiq_storage.core.errors import ConfigurationError, InvalidKeyError
from sartiq_storage.core.keys import ZONE_PREFIXES, Retention, retention_for
from sartiq_storage.core.validation import validate_prefix

MAX_BUCKET_RULES: Final = 1000
"""R2 accepts at most 1,000 lifecycle rules per bucket."""
MAX_RULE_ID: Final = 255
"""S3's limit on a lifecycle rule ID."""
RULE_ID_PREFIX: Final = "sartiq-"
"""Bucket rules whose ID starts with this are ours; anything else is someone else's."""
POLICY_VERSION: Final = 1
PACKAGED_POLICY: Final = "lifecycle.toml"

_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.-]*/)+")
_RULE_KEYS: Final = frozenset({"prefix", "expire_days", "permanent", "description"})
_TOP_KEYS: Final = frozenset({"version", "abort_incomplete_multipart_days", "rules"})
_PERMANENT_ZONE_PREFIXES: Final = tuple(
    prefix for zone, prefix in ZONE_PREFIXES.items() if retention_for(zone) is Retention.permanent
)


class _PathLike(Protocol):
    """What ``open`` accepts besides ``str`` (``core`` may not import ``os`` or ``pathlib``)."""

    def __fspath__(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Rule:
    """What happens to the objects under one literal key prefix."""

    prefix: str
    expire_days: int | None
    """Whole days after the last write; ``None`` means permanent."""
    description: str = ""

    @property
    def permanent(self) -> bool:
        return self.expire_days is None

    @property
    def retention(self) -> timedelta | None:
        return None if self.expire_days is None else timedelta(days=self.expire_days)

    def matches(self, key: str) -> bool:
        """Literal prefix match, exactly as R2 and S3 lifecycle filters match."""
        return key.startswith(self.prefix)

    def describe(self) -> str:
        if self.expire_days is None:
            return "permanent"
        return f"expire after {self.expire_days} day{'s' if self.expire_days != 1 else ''}"


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """The retention rules for one environment, validated and resolved."""

    environment: Environment
    rules: tuple[Rule, ...]
    abort_incomplete_multipart_days: int | None
    """Days before unfinished multipart uploads are aborted, bucket-wide; ``None``: no rule."""
    source: str = "built-in"
    """Where the policy came from, for reports."""

    @property
    def expiring(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.expire_days is not None)

    @property
    def permanent(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.expire_days is None)

    @property
    def bucket_rule_count(self) -> int:
        """How many lifecycle rules the bucket needs (permanent prefixes need none)."""
        return len(self.expiring) + (1 if self.abort_incomplete_multipart_days else 0)

    def rule_for(self, key: str) -> Rule | None:
        """The most specific rule covering ``key``; ``None`` for keys outside the policy."""
        best: Rule | None = None
        for rule in self.rules:
            if rule.matches(key) and (best is None or len(rule.prefix) > len(best.prefix)):
                best = rule
        return best

    def sweep_rules(self) -> tuple[Rule, ...]:
        """Expiring rules not nested in another one, so a sweep lists every key once.

        Nested expiring rules have the same retention (validation ensures it), so the outer
        rule alone decides.
        """
        kept: list[Rule] = []
        for rule in sorted(self.expiring, key=lambda r: r.prefix):
            # Sorted, a nested prefix directly follows the rule that contains it.
            if not (kept and rule.prefix.startswith(kept[-1].prefix)):
                kept.append(rule)
        return tuple(kept)


def expire_rule_id(prefix: str) -> str:
    """The bucket rule ID for a prefix: ``temp/`` → ``sartiq-expire-temp``,
    ``compute/generations/`` → ``sartiq-expire-compute-generations``."""
    return f"{RULE_ID_PREFIX}expire-{prefix.rstrip('/').replace('/', '-')}"


def expires_at(rule: Rule, last_modified: datetime) -> datetime | None:
    """When an object written at ``last_modified`` becomes due; ``None`` if never.

    S3 rounds this up to the next midnight UTC and R2 removes due objects lazily (usually
    within 24 h), so a bucket deletes a little later than this, never earlier.
    """
    if rule.expire_days is None:
        return None
    return last_modified + timedelta(days=rule.expire_days)


# --- loading ------------------------------------------------------------------------------------


def load_policy(
    environment: Environment | str, path: str | _PathLike | None = None
) -> LifecyclePolicy:
    """Read and validate the policy for ``environment``: the packaged file, or ``path``.

    The whole file is validated for every environment, so a broken production value fails
    in development too. Every problem is a :class:`ConfigurationError` naming the file.
    """
    if path is None:
        source = f"built-in {PACKAGED_POLICY}"
        data = resources.files(__package__).joinpath(PACKAGED_POLICY).read_bytes()
    else:
        source = path if isinstance(path, str) else path.__fspath__()
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigurationError(
                f"lifecycle file {source}: cannot read it ({exc.strerror or exc})"
            ) from None
    return parse_policy(data, environment, source=source)


def policy_for(settings: Settings) -> LifecyclePolicy:
    """The policy the settings choose (``STORAGE_LIFECYCLE_FILE`` or the built-in one)."""
    return load_policy(settings.ENVIRONMENT, settings.STORAGE_LIFECYCLE_FILE)


def parse_policy(
    data: bytes | str, environment: Environment | str, *, source: str = "policy"
) -> LifecyclePolicy:
    """Parse TOML text into the policy for ``environment``, validating all of it."""
    env = _environment(environment, source)
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"lifecycle file {source}: not valid TOML ({exc})") from None
    per_env = {e: _build(document, e, source) for e in Environment}
    policy = per_env[env]
    return LifecyclePolicy(
        environment=env,
        rules=policy.rules,
        abort_incomplete_multipart_days=policy.abort_incomplete_multipart_days,
        source=source,
    )


def _environment(value: Environment | str, source: str) -> Environment:
    try:
        return Environment(value)
    except ValueError:
        names = ", ".join(e.value for e in Environment)
        raise ConfigurationError(
            f"lifecycle policy {source}: unknown environment {value!r} (expected {names})"
        ) from None


def _fail(source: str, where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"lifecycle file {source}: {where}: {message}")


def _build(document: Mapping[str, Any], env: Environment, source: str) -> LifecyclePolicy:
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise _fail(source, "top level", f"unknown setting(s) {', '.join(unknown)}")
    version = document.get("version")
    if version != POLICY_VERSION:
        raise _fail(source, "version", f"must be {POLICY_VERSION}, got {version!r}")
    abort = document.get("abort_incomplete_multipart_days")
    abort_days = (
        None
        if abort is None
        else _days(abort, env, source, "abort_incomplete_multipart_days", allow_table=True)
    )
    raw_rules = document.get("rules", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise _fail(source, "rules", "must be an array of tables ([[rules]])")
    rules = tuple(_rule(raw, index, env, source) for index, raw in enumerate(raw_rules, 1))
    _check_rules(rules, source)
    policy = LifecyclePolicy(env, rules, abort_days, source)
    if policy.bucket_rule_count > MAX_BUCKET_RULES:
        raise _fail(
            source,
            "rules",
            f"{policy.bucket_rule_count} bucket rules in {env.value}; R2 allows at most "
            f"{MAX_BUCKET_RULES}",
        )
    return policy


def _rule(raw: Mapping[str, Any], index: int, env: Environment, source: str) -> Rule:
    where = f"rule {index}"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise _fail(source, where, f"unknown setting(s) {', '.join(unknown)}")
    prefix = raw.get("prefix")
    if not isinstance(prefix, str):
        raise _fail(source, where, "needs a prefix (a string such as 'temp/')")
    where = f"rule {index} ({prefix!r})"
    _check_prefix(prefix, source, where)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, where, "description must be a string")
    permanent = raw.get("permanent", False)
    if not isinstance(permanent, bool):
        raise _fail(source, where, "permanent must be true or false")
    has_days = "expire_days" in raw
    if permanent == has_days:
        raise _fail(source, where, "set exactly one of expire_days or permanent = true")
    days = _days(raw["expire_days"], env, source, where, allow_table=True) if has_days else None
    return Rule(prefix=prefix, expire_days=days, description=description)


def _check_prefix(prefix: str, source: str, where: str) -> None:
    if not _PREFIX.fullmatch(prefix):
        raise _fail(
            source,
            where,
            "a prefix is one or more ASCII segments ([A-Za-z0-9_.-], not starting with a "
            "dot or dash) each ending in '/', such as 'temp/' or 'compute/generations/'",
        )
    try:
        validate_prefix(prefix)
    except InvalidKeyError as exc:
        raise _fail(source, where, exc.reason) from None


def _days(value: object, env: Environment, source: str, where: str, *, allow_table: bool) -> int:
    if isinstance(value, dict) and allow_table:
        unknown = sorted(set(value) - {e.value for e in Environment})
        if unknown:
            raise _fail(source, where, f"unknown environment(s) {', '.join(unknown)}")
        if env.value not in value:
            raise _fail(source, where, f"no value for the {env.value} environment")
        return _days(value[env.value], env, source, f"{where} ({env.value})", allow_table=False)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, where, f"days must be a whole number, got {value!r}")
    if value < 1:
        raise _fail(source, where, f"days must be at least 1, got {value}")
    return value


def _check_rules(rules: tuple[Rule, ...], source: str) -> None:
    seen: dict[str, Rule] = {}
    ids: dict[str, Rule] = {}
    for rule in rules:
        if rule.prefix in seen:
            raise _fail(source, f"rule {rule.prefix!r}", "the prefix is declared twice")
        seen[rule.prefix] = rule
        rule_id = expire_rule_id(rule.prefix)
        if len(rule_id) > MAX_RULE_ID:
            raise _fail(source, f"rule {rule.prefix!r}", "prefix too long for a rule ID")
        if rule_id in ids:
            raise _fail(
                source,
                f"rules {ids[rule_id].prefix!r} and {rule.prefix!r}",
                f"both would be the bucket rule {rule_id!r}",
            )
        ids[rule_id] = rule
    # Keys sharing a prefix sort together, so each rule's nested rules follow it directly.
    ordered = sorted(rules, key=lambda r: r.prefix)
    for index, outer in enumerate(ordered):
        for inner in itertools.islice(ordered, index + 1, None):
            if not inner.prefix.startswith(outer.prefix):
                break
            if inner.expire_days != outer.expire_days:
                raise _fail(
                    source,
                    f"rules {outer.prefix!r} and {inner.prefix!r}",
                    f"overlap with different retention ({outer.describe()} vs "
                    f"{inner.describe()}); a bucket applies every matching rule, so the "
                    "inner one cannot be an exception",
                )
    for rule in rules:
        if rule.expire_days is None:
            continue
        for permanent in _PERMANENT_ZONE_PREFIXES:
            if rule.prefix.startswith(permanent) or permanent.startswith(rule.prefix):
                raise _fail(
                    source,
                    f"rule {rule.prefix!r}",
                    f"expires objects in {permanent!r}, which the key schema keeps permanently",
                )
