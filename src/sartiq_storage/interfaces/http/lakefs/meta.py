"""Server configuration, health and the current user: what clients ask before anything else."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sartiq_storage import __version__
from sartiq_storage.interfaces.http.lakefs.common import authed_router
from sartiq_storage.interfaces.http.lakefs.schemas import (
    Config,
    StorageConfig,
    VersionConfig,
)
from sartiq_storage.services.context import StorageContext

LAKEFS_API_VERSION = "1.50.0"
"""The lakeFS release whose API this subset follows (what the SDK's minimum expects)."""

public = APIRouter()
router = authed_router()


@public.get("/healthcheck", status_code=204)
async def healthcheck() -> Response:
    return Response(status_code=204)


def storage_config(context: StorageContext) -> StorageConfig:
    """What namespaces and import sources this deployment accepts: ``local://`` (the
    datasets folder) or ``s3://`` (buckets of their own), ``DATASETS_BLOCKSTORE_TYPE``.
    ``pre_sign_support`` true on the native engine: the SDKs then move object bytes
    straight to and from the store (S3, or the embedded backend's own signed URLs); pre-signed
    multipart only where the store has multipart uploads (S3)."""
    settings = context.settings
    native = not settings.LAKEFS_ENDPOINT
    scheme = settings.datasets_blockstore
    configured = settings.DATASETS_NAMESPACE_PREFIX.strip().rstrip("/")
    default: str | None
    if configured.startswith(f"{scheme}://"):
        default = configured
    elif "://" in configured:
        default = None  # another scheme: nothing this deployment accepts to suggest
    elif scheme == "local":
        default = f"local://{configured.strip('/')}"
    elif settings.DATASETS_ALLOW_CONTENT_BUCKET and not settings.embedded:
        default = f"s3://{settings.R2_BUCKET_NAME}/{configured.strip('/')}"
    else:
        default = None  # no dataset bucket to suggest: set DATASETS_NAMESPACE_PREFIX=s3://…
    example = default or "s3://example-bucket/datasets"
    return StorageConfig(
        blockstore_type=scheme,
        blockstore_namespace_example=f"{example}/example-repo",
        blockstore_namespace_validity_regex=f"^{scheme}://",
        default_namespace_prefix=default,
        pre_sign_support=native,
        pre_sign_support_ui=native,
        pre_sign_multipart_upload=native and scheme == "s3",
        import_support=True,
        import_validity_regex=f"^{scheme}://",
        blockstore_description="sartiq-storage: datasets in "
        + ("S3 buckets of their own" if scheme == "s3" else "a local folder of their own"),
    )


def version_config() -> VersionConfig:
    return VersionConfig(
        version=LAKEFS_API_VERSION, version_context=f"sartiq-storage {__version__}"
    )


@router.get("/config", response_model_exclude_none=True)
async def get_config(request: Request) -> Config:
    context: StorageContext = request.app.state.context
    return Config(version_config=version_config(), storage_config=storage_config(context))


@router.get("/config/version", response_model_exclude_none=True)
async def get_version() -> VersionConfig:
    return version_config()


@router.get("/config/storage", response_model_exclude_none=True)
async def get_storage_config(request: Request) -> StorageConfig:
    return storage_config(request.app.state.context)
