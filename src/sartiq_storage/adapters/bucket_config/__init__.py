"""Bucket lifecycle rules and CORS through the S3 API: render, read back, diff, apply.

Takes a boto3 S3 client and a bucket name, never settings, so it works on R2, S3 and MinIO
alike. ``lifecycle`` holds the expiry rules, ``cors`` the Web App's browser rule; both keep
the rules someone else put there unless asked to remove them.
"""

from __future__ import annotations

from sartiq_storage.adapters.bucket_config._common import MANAGED_ID_PREFIX
from sartiq_storage.adapters.bucket_config.cors import (
    CORS_RULE_ID,
    CorsDiff,
    CorsRule,
    apply_cors,
    desired_cors,
    diff_cors,
    parse_cors_rule,
    read_cors,
)
from sartiq_storage.adapters.bucket_config.lifecycle import (
    ABORT_MULTIPART_ID,
    BucketRule,
    ForeignConflict,
    LifecycleDiff,
    RuleChange,
    apply_lifecycle,
    desired_lifecycle,
    diff_lifecycle,
    parse_lifecycle_rule,
    read_lifecycle,
    render_lifecycle,
)
from sartiq_storage.core.lifecycle import expire_rule_id

__all__ = [
    "ABORT_MULTIPART_ID",
    "CORS_RULE_ID",
    "MANAGED_ID_PREFIX",
    "BucketRule",
    "CorsDiff",
    "CorsRule",
    "ForeignConflict",
    "LifecycleDiff",
    "RuleChange",
    "apply_cors",
    "apply_lifecycle",
    "desired_cors",
    "desired_lifecycle",
    "diff_cors",
    "diff_lifecycle",
    "expire_rule_id",
    "parse_cors_rule",
    "parse_lifecycle_rule",
    "read_cors",
    "read_lifecycle",
    "render_lifecycle",
]
