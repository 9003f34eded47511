"""lakeFS's staging API: the pre-signed write path, where the client uploads to the store.

``GET …/staging/backing`` (getPhysicalAddress) gives a signed address and a presigned PUT for
it; ``PUT …/staging/backing`` (linkPhysicalAddress) stages the uploaded object at a path. The
``…/staging/pmpu`` calls (createPresignMultipartUpload, completePresignMultipartUpload,
abortPresignMultipartUpload) do the same for large objects in parts, on S3 only (501 on the
embedded backend, as lakeFS on a blockstore without it). No object byte passes through here.
"""

from __future__ import annotations

import time

from fastapi import Header, Response
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.interfaces.http.lakefs.auth import EngineDep
from sartiq_storage.interfaces.http.lakefs.common import Path, authed_router
from sartiq_storage.interfaces.http.lakefs.presigning import presigner
from sartiq_storage.interfaces.http.lakefs.schemas import (
    AbortPresignMultipartUpload,
    CompletePresignMultipartUpload,
    ObjectStats,
    PresignMultipartUpload,
    StagingLocation,
    StagingMetadata,
)

router = authed_router()
_BRANCH = "/repositories/{repository}/branches/{branch}"
_NOT_HERE: dict[int | str, dict[str, object]] = {
    501: {"description": "the store has no multipart upload (the embedded backend)"}
}


@router.get(f"{_BRANCH}/objects/stage_allowed", status_code=204)
async def upload_object_preflight(repository: str, branch: str, path: Path) -> Response:
    """lakeFS's uploadObjectPreflight (its UI asks before a pre-signed upload): 204 when the
    caller may write objects, which the key pair always may; like lakeFS it checks nothing
    else (the repository, branch and protection are checked by the upload itself)."""
    return Response(status_code=204)


@router.get(f"{_BRANCH}/staging/backing", response_model_exclude_none=True)
async def get_physical_address(
    repository: str, branch: str, path: Path, engine: EngineDep, presign: bool = False
) -> StagingLocation:
    staging, request = await run_in_threadpool(
        presigner(engine).presign_upload, repository, branch, path, presign=presign
    )
    location = StagingLocation(physical_address=staging.physical_address)
    if request is not None:
        location.presigned_url = request.url
        location.presigned_url_expiry = int(time.time()) + request.expires_in
    return location


@router.put(f"{_BRANCH}/staging/backing", response_model_exclude_none=True)
async def link_physical_address(
    repository: str,
    branch: str,
    path: Path,
    body: StagingMetadata,
    engine: EngineDep,
    if_none_match: str | None = Header(default=None),
    if_match: str | None = Header(default=None),
) -> ObjectStats:
    """Stage the object uploaded to an address we issued; its size and checksum must be the
    store's (a mismatch is 400). ``If-None-Match: *`` makes it create-only, as on upload."""
    if if_none_match is not None and if_none_match.strip() != "*":
        raise e.InvalidArgumentError("If-None-Match supports only '*'")
    if if_match is not None:
        raise e.InvalidArgumentError("If-Match is not supported")
    physical_address = body.staging.physical_address or ""
    entry = await run_in_threadpool(
        lambda: presigner(engine).link_physical_address(
            repository,
            branch,
            path,
            physical_address,
            size=body.size_bytes,
            checksum=body.checksum,
            content_type=body.content_type,
            metadata=body.user_metadata,
            mtime=body.mtime,
            if_absent=if_none_match is not None,
        )
    )
    stats = ObjectStats.of(entry)
    return stats.model_copy(update={"physical_address": physical_address})


@router.post(f"{_BRANCH}/staging/pmpu", status_code=201, response_model_exclude_none=True)
async def create_presign_multipart_upload(
    repository: str, branch: str, path: Path, engine: EngineDep, parts: int = 0
) -> PresignMultipartUpload:
    started = await run_in_threadpool(
        presigner(engine).create_multipart, repository, branch, path, parts
    )
    return PresignMultipartUpload(
        upload_id=started.upload_id,
        physical_address=started.staging.physical_address,
        presigned_urls=list(started.part_urls) or None,
    )


@router.put(
    f"{_BRANCH}/staging/pmpu/{{upload_id}}", response_model_exclude_none=True, responses=_NOT_HERE
)
async def complete_presign_multipart_upload(
    repository: str,
    branch: str,
    upload_id: str,
    path: Path,
    body: CompletePresignMultipartUpload,
    engine: EngineDep,
) -> ObjectStats:
    parts = [(p.part_number, p.etag) for p in body.parts]
    entry = await run_in_threadpool(
        lambda: presigner(engine).complete_multipart(
            repository,
            branch,
            path,
            upload_id,
            body.physical_address,
            parts,
            content_type=body.content_type,
            metadata=body.user_metadata,
        )
    )
    namespace = await run_in_threadpool(lambda: engine.get_repository(repository).storage_namespace)
    return ObjectStats.of(entry, namespace=namespace)


@router.delete(f"{_BRANCH}/staging/pmpu/{{upload_id}}", status_code=204, responses=_NOT_HERE)
async def abort_presign_multipart_upload(
    repository: str,
    branch: str,
    upload_id: str,
    path: Path,
    body: AbortPresignMultipartUpload,
    engine: EngineDep,
) -> Response:
    await run_in_threadpool(
        presigner(engine).abort_multipart,
        repository,
        branch,
        path,
        upload_id,
        body.physical_address,
    )
    return Response(status_code=204)
