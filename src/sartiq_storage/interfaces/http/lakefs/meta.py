"""Server configuration, health and the current user: what clients ask before anything else."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sartiq_storage import __version__
from sartiq_storage.interfaces.http.lakefs.auth import USER_ID
from sartiq_storage.interfaces.http.lakefs.common import authed_router
from sartiq_storage.interfaces.http.lakefs.schemas import (
    Config,
    CurrentUser,
    StorageConfig,
    User,
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
    """``pre_sign_support`` true on the native engine: the SDKs then move object bytes
    straight to and from the store (S3, or the embedded backend's own signed URLs); pre-signed
    multipart only where the store has multipart uploads (S3)."""
    settings = context.settings
    native = not settings.LAKEFS_ENDPOINT
    local = settings.embedded
    scheme = "local" if local else "s3"
    prefix = settings.DATASETS_NAMESPACE_PREFIX.strip("/")
    base = f"{scheme}://{prefix}" if local else f"s3://{settings.R2_BUCKET_NAME}/{prefix}"
    return StorageConfig(
        blockstore_type=scheme,
        blockstore_namespace_example=f"{base}/example-repo",
        blockstore_namespace_validity_regex=f"^{scheme}://",
        default_namespace_prefix=base,
        pre_sign_support=native,
        pre_sign_support_ui=native,
        pre_sign_multipart_upload=native and not local,
        import_support=True,
        import_validity_regex=f"^{scheme}://",
        blockstore_description=f"sartiq-storage: {context.store.description}",
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


@router.get("/user", response_model_exclude_none=True)
async def current_user() -> CurrentUser:
    return CurrentUser(user=User(id=USER_ID, creation_date=0))
