"""Repository administration as lakeFS serves it: repository metadata, an object's user
metadata, the committed tree's files (metaranges and ranges, which lakeFS's Spark and GC
tooling read) and the refs dump and restore (backups, moves between installations).

Served by the native engine only; behind a real lakeFS they answer 501 (ask that lakeFS).
"""

from __future__ import annotations

from typing import Literal

from fastapi import HTTPException, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.interfaces.http.lakefs.admin_schemas import (
    RefsDumpOut,
    RefsRestore,
    RepositoryMetadataKeys,
    RepositoryMetadataSet,
    StorageURI,
    UpdateObjectUserMetadata,
)
from sartiq_storage.interfaces.http.lakefs.auth import EngineDep
from sartiq_storage.interfaces.http.lakefs.common import Path, authed_router
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets import repo_admin as admin
from sartiq_storage.services.datasets.repo_admin import MetadataKind, RefsDump

router = authed_router()
NO_CONTENT = 204
_SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'none'",
}


def _native(engine: object) -> NativeDatasetEngine:
    if not isinstance(engine, NativeDatasetEngine):
        raise HTTPException(501, "Not implemented")
    return engine


# -- repository metadata --------------------------------------------------------------------


@router.get("/repositories/{repository}/metadata")
def get_repository_metadata(repository: str, engine: EngineDep) -> dict[str, str]:
    if not isinstance(engine, NativeDatasetEngine):
        engine.get_repository(repository)
        return {}
    return admin.get_repository_metadata(engine, repository)


@router.post("/repositories/{repository}/metadata", status_code=NO_CONTENT)
def set_repository_metadata(
    repository: str, body: RepositoryMetadataSet, engine: EngineDep
) -> Response:
    admin.set_repository_metadata(_native(engine), repository, body.metadata)
    return Response(status_code=NO_CONTENT)


@router.delete("/repositories/{repository}/metadata", status_code=NO_CONTENT)
def delete_repository_metadata(
    repository: str, body: RepositoryMetadataKeys, engine: EngineDep
) -> Response:
    admin.delete_repository_metadata(_native(engine), repository, body.keys)
    return Response(status_code=NO_CONTENT)


# -- object user metadata -------------------------------------------------------------------


@router.put(
    "/repositories/{repository}/branches/{branch}/objects/stat/user_metadata",
    status_code=NO_CONTENT,
)
def update_object_user_metadata(
    repository: str, branch: str, path: Path, body: UpdateObjectUserMetadata, engine: EngineDep
) -> Response:
    """204, as lakeFS's handler writes (its spec documents 201; the SDKs take either)."""
    admin.update_object_user_metadata(_native(engine), repository, branch, path, body.set)
    return Response(status_code=NO_CONTENT)


# -- metaranges and ranges ------------------------------------------------------------------


def _location(engine: object, repository: str, kind: MetadataKind, object_id: str) -> JSONResponse:
    location = admin.metadata_location(_native(engine), repository, kind, object_id)
    return JSONResponse(StorageURI(location=location).model_dump(), headers={"Location": location})


@router.get(
    "/repositories/{repository}/metadata/meta_range/{meta_range}", response_model=StorageURI
)
def get_meta_range(repository: str, meta_range: str, engine: EngineDep) -> JSONResponse:
    return _location(engine, repository, "meta_range", meta_range)


@router.get("/repositories/{repository}/metadata/range/{range}", response_model=StorageURI)
def get_range(repository: str, range: str, engine: EngineDep) -> JSONResponse:
    return _location(engine, repository, "range", range)


@router.get("/repositories/{repository}/metadata/object/{type}/{object_id}")
async def get_metadata_object(
    repository: str,
    type: Literal["range", "meta_range"],
    object_id: str,
    engine: EngineDep,
    presign: bool = False,
) -> Response:
    """The file's bytes. ``presign=true`` is 400 "operation not supported", what lakeFS's
    local block adapter answers; the pre-signed data path serves it when it lands."""
    native = _native(engine)
    if presign:
        raise e.InvalidArgumentError("operation not supported: presign")
    length, chunks = await run_in_threadpool(
        admin.read_metadata_object, native, repository, type, object_id
    )
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(length), **_SAFE_HEADERS},
    )


# -- refs dump and restore ------------------------------------------------------------------


@router.put("/repositories/{repository}/refs/dump", status_code=201)
def dump_refs(repository: str, engine: EngineDep) -> RefsDumpOut:
    dump = admin.dump_refs(_native(engine), repository)
    return RefsDumpOut(
        commits_meta_range_id=dump.commits_meta_range_id,
        tags_meta_range_id=dump.tags_meta_range_id,
        branches_meta_range_id=dump.branches_meta_range_id,
    )


@router.put("/repositories/{repository}/refs/restore", status_code=200)
def restore_refs(repository: str, body: RefsRestore, engine: EngineDep) -> Response:
    dump = RefsDump(
        commits_meta_range_id=body.commits_meta_range_id,
        branches_meta_range_id=body.branches_meta_range_id,
        tags_meta_range_id=body.tags_meta_range_id,
    )
    native = _native(engine)
    if not admin.is_bare(native, repository):
        raise HTTPException(400, admin.BARE_ONLY)  # lakeFS's words alone
    admin.restore_refs(native, repository, dump)
    return Response(status_code=200)
