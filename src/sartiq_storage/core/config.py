"""One settings object, read from the environment and an optional ``.env``.

The platform's own variable names are kept (``R2_*``, ``CDN_URL``, ``ENVIRONMENT``...), so a
service already configured for the Backend or the Compute Server works unchanged.
Secrets are :class:`SecretStr`: they never appear in ``repr``, logs or ``config show``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.multipart import (
    DEFAULT_MAX_VIDEO_BYTES,
    DEFAULT_PART_BYTES,
    MAX_PART_BYTES,
    MAX_PARTS,
    MIN_PART_BYTES,
)


class Environment(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class BackendKind(StrEnum):
    local = "local"
    s3 = "s3"
    memory = "memory"


DEFAULT_PUBLIC_BASES: dict[Environment, str] = {
    Environment.production: "https://media.sartiq.com",
    Environment.staging: "https://staging-media.sartiq.com",
    Environment.development: "http://localhost:9002/shootify-media-dev",
}
"""The seed's URL-resolution table; ``CDN_URL`` overrides it."""

_SQL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A schema or table name that needs no quoting on PostgreSQL."""

DEFAULT_VERSION_TABLE = "alembic_version"
"""Alembic's own default, kept for the databases made before the name could be chosen."""

MAX_UPLOAD_BYTES = 52_428_800
"""The platform's ``max_file_size`` (50 MB)."""

MAX_SIGNED_PUT_BYTES = 5 * 1024**3
"""The most any signed PUT to the embedded backend may carry: a dataset object staged through
lakeFS's pre-signed path (S3's, and so lakeFS's, single-PUT limit). Media uploads stay under
``MAX_UPLOAD_BYTES``: their grants bind the length or fall back to it."""


def _check_http_url(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{name} must be an http(s) URL with a host, got {value!r}")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ValueError(f"{name} must not carry a query, fragment or credentials")
    return value.rstrip("/")


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""One machine's names for itself: a page at any of them is this service on loopback."""


def _check_origin(value: str) -> str:
    """A browser's ``Origin``: ``scheme://host[:port]``, nothing after it (or ``*``)."""
    if value == "*":
        return value
    parsed = urlparse(value)
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parsed = parsed._replace(scheme="")
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or parsed.path
        or parsed.params
        or parsed.query
        or parsed.fragment
        or parsed.username is not None
    ):
        raise ValueError(
            f"{value!r} is not an origin: scheme://host[:port], "
            "as a browser sends it (http://localhost:3000), comma-separated"
        )
    return value


class Settings(BaseSettings):
    """Everything the storage layer reads from its environment, validated at start."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        validate_default=True,
    )

    ENVIRONMENT: Environment = Environment.development
    R2_BUCKET_NAME: str = "shootify-media-dev"
    R2_ENDPOINT_URL: str | None = None
    R2_ACCESS_KEY_ID: str | None = None
    R2_SECRET_ACCESS_KEY: SecretStr | None = None
    R2_REGION: str = "auto"
    CDN_URL: str | None = None
    CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED: bool = False
    DATABASE_URL: str | None = Field(default=None, repr=False)  # may hold a password
    STORAGE_DB_SCHEMA: str | None = Field(
        default=None,
        description="PostgreSQL schema for our tables and migration history (unset: the "
        "connection's own, as before); for a host application's database",
    )
    STORAGE_DB_VERSION_TABLE: str = Field(
        default=DEFAULT_VERSION_TABLE,
        description="Alembic's version table for our migrations (in STORAGE_DB_SCHEMA if set)",
    )
    STORAGE_DATA_DIR: Path = Path("data")
    AUTH_JWT_SECRET: SecretStr | None = None
    STORAGE_BACKEND: BackendKind | None = None
    STORAGE_S3_FLAVOR: str | None = Field(
        default=None, description="aws, r2 or generic; detected from R2_ENDPOINT_URL when unset"
    )
    STORAGE_SERVICE_URL: str | None = Field(
        default=None,
        description="This service's own base URL (signed upload URLs and embedded file URLs)",
    )
    STORAGE_SIGNING_SECRET: SecretStr | None = None
    STORAGE_REQUIRE_UPLOAD_SIZE: bool = Field(
        default=False, description="Strict uploads: presigning requires the file's size"
    )
    STORAGE_MAX_VIDEO_UPLOAD_BYTES: int = Field(
        default=DEFAULT_MAX_VIDEO_BYTES,
        ge=MIN_PART_BYTES,
        le=MAX_PARTS * MAX_PART_BYTES,
        description="Largest video a multipart upload takes (images keep the 50 MB limit)",
    )
    STORAGE_MULTIPART_PART_BYTES: int = Field(
        default=DEFAULT_PART_BYTES,
        ge=MIN_PART_BYTES,
        le=MAX_PART_BYTES,
        description="Part size offered to multipart uploads (grown when 10,000 parts are short)",
    )
    STORAGE_MULTIPART_THRESHOLD_BYTES: int = Field(
        default=64 * 1024 * 1024,
        ge=MIN_PART_BYTES,
        description="`sartiq-storage put` and the console (videos) send this large in parts",
    )
    STORAGE_MAX_CONCURRENT_DECODES: int = Field(
        default=2, ge=1, le=64, description="Image decodes at once per process (memory bound)"
    )
    STORAGE_DECODE_WAIT_SECONDS: float = Field(
        default=5.0, ge=0, le=300, description="Wait for a decode slot before answering 503"
    )
    WEB_APP_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )
    STORAGE_LIFECYCLE_FILE: Path | None = Field(
        default=None, description="A retention policy file replacing the built-in one"
    )
    ORPHAN_GRACE_HOURS: float = Field(
        default=72.0, gt=0, description="Age before an unreferenced object or resource is removed"
    )
    WORKER_POLL_SECONDS: float = Field(default=5.0, gt=0, le=3600)
    WORKER_SWEEP_EVERY_MINUTES: float = Field(default=60.0, gt=0)
    WORKER_SCAN_EVERY_MINUTES: float = Field(default=360.0, gt=0)
    WORKER_HEAL_EVERY_MINUTES: float = Field(default=60.0, gt=0)
    DATASETS_ACCESS_KEY_ID: str | None = Field(
        default=None, description="Basic-auth key of the embedded lakeFS-compatible API"
    )
    DATASETS_SECRET_ACCESS_KEY: SecretStr | None = None
    DATASETS_S3_GATEWAY_PORT: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the S3 gateway that serve starts beside the API (unset: none)",
    )
    DATASETS_NAMESPACE_PREFIX: str = Field(
        default="datasets",
        description="Key prefix under which repositories get their storage namespaces",
    )
    DATASETS_KV: Literal["sql", "dynamodb"] = Field(
        default="sql",
        description="Dataset metadata store: the SQL database, or DynamoDB (lakeFS's kvstore)",
    )
    DATASETS_DYNAMODB_TABLE: str = Field(
        default="kvstore", min_length=3, max_length=255, description="lakeFS's table_name"
    )
    DATASETS_DYNAMODB_REGION: str | None = Field(
        default=None, description="lakeFS's aws_region; unset: the AWS chain's"
    )
    DATASETS_DYNAMODB_ENDPOINT: str | None = Field(
        default=None, description="lakeFS's endpoint (DynamoDB Local, moto); unset: AWS"
    )
    DATASETS_DYNAMODB_ACCESS_KEY_ID: str | None = Field(
        default=None, description="lakeFS's aws_access_key_id; unset: the AWS chain"
    )
    DATASETS_DYNAMODB_SECRET_ACCESS_KEY: SecretStr | None = None
    DATASETS_DYNAMODB_SCAN_LIMIT: int = Field(
        default=1000, ge=1, le=10_000, description="lakeFS's scan_limit: items per Query page"
    )
    DATASETS_DYNAMODB_CREATE_TABLE: bool = Field(
        default=True, description="Create the table on first use when it does not exist"
    )
    DATASETS_DYNAMODB_READ_CAPACITY: int | None = Field(
        default=None, ge=1, description="lakeFS's read_capacity_units (with write: provisioned)"
    )
    DATASETS_DYNAMODB_WRITE_CAPACITY: int | None = Field(default=None, ge=1)
    DATASETS_BLOCKSTORE_TYPE: Literal["local", "s3"] | None = Field(
        default=None,
        description="lakeFS's blockstore.type: where repositories keep their objects (unset: "
        "s3 when the content backend or DATASETS_S3_ENDPOINT is S3, else local)",
    )
    DATASETS_LOCAL_PATH: Path | None = Field(
        default=None,
        description="lakeFS's blockstore.local.path: the local:// datasets folder (unset: "
        "<STORAGE_DATA_DIR>/datasets, beside the content store's <STORAGE_DATA_DIR>/store)",
    )
    DATASETS_S3_ENDPOINT: str | None = Field(
        default=None, description="lakeFS's blockstore.s3.endpoint (moto, MinIO); unset: AWS"
    )
    DATASETS_S3_REGION: str | None = Field(
        default=None, description="lakeFS's blockstore.s3.region; unset: the AWS chain's"
    )
    DATASETS_S3_ACCESS_KEY_ID: str | None = Field(
        default=None, description="lakeFS's blockstore.s3.credentials; unset: the AWS chain"
    )
    DATASETS_S3_SECRET_ACCESS_KEY: SecretStr | None = None
    DATASETS_IMPORT_BATCH: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Objects an import lists and saves per step (what a restart may redo)",
    )
    DATASETS_ALLOW_CONTENT_BUCKET: bool = Field(
        default=False,
        description="Let s3:// namespaces and imports name the content bucket (R2_BUCKET_NAME); "
        "its content zones stay refused",
    )
    LOG_FORMAT: Literal["text", "json"] = Field(
        default="text", description="Log lines as text, or one JSON object a line"
    )
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="INFO logs every request; WARNING only failures"
    )
    LAKEFS_ENDPOINT: str | None = Field(
        default=None, description="A real lakeFS server; when set the datasets use it"
    )
    LAKEFS_ACCESS_KEY_ID: str | None = None
    LAKEFS_SECRET_ACCESS_KEY: SecretStr | None = None

    @field_validator(
        "R2_ENDPOINT_URL",
        "CDN_URL",
        "STORAGE_SERVICE_URL",
        "LAKEFS_ENDPOINT",
        "DATASETS_DYNAMODB_ENDPOINT",
        "DATASETS_S3_ENDPOINT",
    )
    @classmethod
    def _urls(cls, value: str | None, info: Any) -> str | None:
        return _check_http_url(value, info.field_name)

    @field_validator("WEB_APP_ORIGINS", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip().rstrip("/") for v in value.split(",") if v.strip()]
        return value

    @field_validator("WEB_APP_ORIGINS")
    @classmethod
    def _origins_valid(cls, value: list[str]) -> list[str]:
        return [_check_origin(origin) for origin in value]

    @field_validator("LOG_FORMAT", "LOG_LEVEL", mode="before")
    @classmethod
    def _log_words(cls, value: object, info: Any) -> object:
        if isinstance(value, str):
            return (
                value.strip().lower() if info.field_name == "LOG_FORMAT" else value.strip().upper()
            )
        return value

    @field_validator("STORAGE_DB_SCHEMA", "STORAGE_DB_VERSION_TABLE")
    @classmethod
    def _sql_name(cls, value: str | None, info: Any) -> str | None:
        if value is None or value == "":
            return None if info.field_name == "STORAGE_DB_SCHEMA" else DEFAULT_VERSION_TABLE
        if not _SQL_NAME.fullmatch(value) or value.startswith("pg_"):
            raise ValueError(
                f"{info.field_name} {value!r} must be a lower-case SQL name "
                "(letters, digits, '_'; at most 63; not pg_*)"
            )
        return value

    @field_validator("R2_BUCKET_NAME")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not (3 <= len(value) <= 63) or not all(c.isalnum() or c in "-." for c in value):
            raise ValueError(f"R2_BUCKET_NAME {value!r} is not a valid bucket name")
        return value

    @field_validator("STORAGE_S3_FLAVOR")
    @classmethod
    def _flavor(cls, value: str | None) -> str | None:
        if value is not None and value not in ("aws", "r2", "generic"):
            raise ValueError("STORAGE_S3_FLAVOR must be aws, r2 or generic")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.backend is BackendKind.memory and self.ENVIRONMENT is Environment.production:
            raise ValueError("STORAGE_BACKEND=memory would lose every object in production")
        if self.backend is BackendKind.s3 and bool(self.R2_ACCESS_KEY_ID) != bool(
            self.R2_SECRET_ACCESS_KEY
        ):
            raise ValueError("R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY must be set together")
        if bool(self.DATASETS_S3_ACCESS_KEY_ID) != bool(self.DATASETS_S3_SECRET_ACCESS_KEY):
            raise ValueError(
                "DATASETS_S3_ACCESS_KEY_ID and DATASETS_S3_SECRET_ACCESS_KEY must be set together"
            )
        if bool(self.DATASETS_DYNAMODB_ACCESS_KEY_ID) != bool(
            self.DATASETS_DYNAMODB_SECRET_ACCESS_KEY
        ):
            raise ValueError(
                "DATASETS_DYNAMODB_ACCESS_KEY_ID and DATASETS_DYNAMODB_SECRET_ACCESS_KEY "
                "must be set together"
            )
        return self

    # -- derived ---------------------------------------------------------------------------

    @property
    def backend(self) -> BackendKind:
        """The platform's rule: S3 when an endpoint and a key are set, local disk otherwise."""
        if self.STORAGE_BACKEND is not None:
            return self.STORAGE_BACKEND
        if self.R2_ENDPOINT_URL and self.R2_ACCESS_KEY_ID:
            return BackendKind.s3
        return BackendKind.local

    @property
    def embedded(self) -> bool:
        """True when this service stores and serves the bytes itself."""
        return self.backend is not BackendKind.s3

    @property
    def data_dir(self) -> Path:
        return self.STORAGE_DATA_DIR.expanduser().absolute()

    @property
    def datasets_blockstore(self) -> Literal["local", "s3"]:
        """Where new repositories keep their objects: local:// (a folder of its own) or s3://
        (buckets of their own), as lakeFS has one blockstore type per installation."""
        if self.DATASETS_BLOCKSTORE_TYPE is not None:
            return self.DATASETS_BLOCKSTORE_TYPE
        return "s3" if self.backend is BackendKind.s3 or self.DATASETS_S3_ENDPOINT else "local"

    @property
    def datasets_local_path(self) -> Path:
        """The local:// datasets folder, never the content store's folder."""
        path = self.DATASETS_LOCAL_PATH or self.data_dir / "datasets"
        return path.expanduser().absolute()

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{self.data_dir / 'storage.db'}"

    @property
    def service_url(self) -> str:
        return self.STORAGE_SERVICE_URL or "http://127.0.0.1:8000"

    @property
    def cors_origins(self) -> list[str]:
        """The origins this service answers CORS for: ``WEB_APP_ORIGINS`` and, on the
        embedded store, its own (the console's presigned PUTs go to ``service_url``, which a
        page opened at ``localhost`` reaches from another origin than ``127.0.0.1``)."""
        origins = list(self.WEB_APP_ORIGINS)
        if not self.embedded or "*" in origins:
            return origins
        own = urlparse(self.service_url)
        port = f":{own.port}" if own.port else ""
        netloc = own.netloc.lower()
        hosts = _LOOPBACK_HOSTS if netloc.removesuffix(port) in _LOOPBACK_HOSTS else ()
        for origin in [f"{own.scheme}://{netloc}"] + [f"{own.scheme}://{h}{port}" for h in hosts]:
            if origin not in origins:
                origins.append(origin)
        return origins

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets replaced, for ``config show``."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown[name] = "********" if value.get_secret_value() else "(empty)"
            elif value is None:
                shown[name] = "(unset)"
            elif isinstance(value, list):
                shown[name] = ",".join(map(str, value))
            else:
                shown[name] = str(value.value if isinstance(value, StrEnum) else value)
        if self.DATABASE_URL:
            shown["DATABASE_URL"] = mask_url_password(self.DATABASE_URL)
        shown["(backend)"] = self.backend.value
        shown["(database)"] = mask_url_password(self.database_url)
        return shown


def mask_url_password(url: str) -> str:
    """Hide the password in a URL such as ``postgresql://user:pw@host/db``."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":********@", 1)
    return url


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings, turning pydantic's report into one clear error."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None
