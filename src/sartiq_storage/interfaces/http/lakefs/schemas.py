"""lakeFS's JSON shapes, field for field as ``lakefs_sdk`` (1.x) parses them.

Responses are what the SDK's pydantic models require; request bodies accept what the SDK sends
(unknown fields are ignored, as lakeFS's own server does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sartiq_storage.core.datasets.model import (
    Branch,
    CommonPrefix,
    Entry,
    Repository,
    Tag,
)
from sartiq_storage.interfaces.http.schemas import Projection

MAX_AMOUNT = 1000
"""lakeFS's cap on one page of any listing."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- responses ------------------------------------------------------------------------------


class Pagination(BaseModel):
    has_more: bool
    next_offset: str
    results: int
    max_per_page: int


class VersionConfig(BaseModel):
    version: str
    version_context: str | None = None


class StorageConfig(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    blockstore_type: str
    blockstore_namespace_example: str
    blockstore_namespace_validity_regex: str = Field(alias="blockstore_namespace_ValidityRegex")
    default_namespace_prefix: str | None = None
    pre_sign_support: bool = False
    pre_sign_support_ui: bool = False
    import_support: bool = True
    import_validity_regex: str
    pre_sign_multipart_upload: bool = False
    blockstore_id: str | None = None
    blockstore_description: str | None = None


class Config(BaseModel):
    version_config: VersionConfig
    storage_config: StorageConfig


class User(BaseModel):
    id: str
    creation_date: int
    friendly_name: str | None = None


class CurrentUser(BaseModel):
    user: User


class RepositoryOut(BaseModel):
    id: str
    creation_date: int
    default_branch: str
    storage_namespace: str
    storage_id: str = ""
    read_only: bool = False

    @classmethod
    def of(cls, repo: Repository) -> RepositoryOut:
        return cls(
            id=repo.name,
            creation_date=repo.creation_date,
            default_branch=repo.default_branch,
            storage_namespace=repo.storage_namespace,
            read_only=repo.read_only,
        )


class RepositoryList(BaseModel):
    pagination: Pagination
    results: list[RepositoryOut]


class Ref(BaseModel):
    """A branch or a tag: its name and the commit it points at."""

    id: str
    commit_id: str

    @classmethod
    def of(cls, ref: Branch | Tag) -> Ref:
        return cls(id=ref.name, commit_id=ref.commit_id)


class RefList(BaseModel):
    pagination: Pagination
    results: list[Ref]


class CommitPublic(Projection):
    """A commit as every API answers it; the console's view (``/api/v1/datasets``) stops
    here, :class:`CommitOut` adds what only lakeFS clients read."""

    id: str
    parents: list[str]
    committer: str
    message: str
    creation_date: int
    metadata: dict[str, str]


class CommitOut(CommitPublic):
    """lakeFS's ``Commit``."""

    meta_range_id: str
    generation: int
    version: int = 1


class CommitList(BaseModel):
    pagination: Pagination
    results: list[CommitOut]


class DiffOut(Projection):
    """One changed path, as lakeFS and the console's view answer it."""

    type: str
    path: str
    path_type: str
    size_bytes: int | None = None


class DiffList(BaseModel):
    pagination: Pagination
    results: list[DiffOut]


def qualified(namespace: str, address: str) -> str:
    """``address`` as a full URI: one relative to the namespace is joined to it (lakeFS's
    ``ResolveNamespace``); a qualified one (an import's ``s3://…``) is kept."""
    if not namespace or "://" in address:
        return address
    return f"{namespace.strip().rstrip('/')}/{address}"


class ObjectStats(BaseModel):
    path: str
    path_type: Literal["object", "common_prefix"] = "object"
    physical_address: str
    checksum: str
    size_bytes: int | None = None
    mtime: int
    metadata: dict[str, str] | None = None
    content_type: str | None = None
    physical_address_expiry: int | None = None
    """Set when ``physical_address`` is a presigned URL (``presign=true``): when it expires."""

    @classmethod
    def of(
        cls, item: Entry | CommonPrefix, *, user_metadata: bool = True, namespace: str = ""
    ) -> ObjectStats:
        """``namespace``: the repository's storage namespace, which qualifies an address
        relative to it (``data/…``) as lakeFS answers it (``s3://bucket/ns/data/…``)."""
        if isinstance(item, CommonPrefix):
            return cls(
                path=item.path, path_type="common_prefix", physical_address="", checksum="", mtime=0
            )
        return cls(
            path=item.path,
            physical_address=qualified(namespace, item.address),
            checksum=item.checksum,
            size_bytes=item.size,
            mtime=item.mtime,
            metadata=dict(item.metadata) if user_metadata else None,
            content_type=item.content_type,
        )


class ObjectStatsList(BaseModel):
    pagination: Pagination
    results: list[ObjectStats]


class ObjectError(BaseModel):
    status_code: int
    message: str
    path: str | None = None


class ObjectErrorList(BaseModel):
    errors: list[ObjectError]


class MergeResult(BaseModel):
    reference: str


class FindMergeBaseResult(BaseModel):
    source_commit_id: str
    destination_commit_id: str
    base_commit_id: str


class ImportCreationResponse(BaseModel):
    id: str


class ImportError_(BaseModel):
    message: str


class ImportStatus(BaseModel):
    completed: bool
    update_time: datetime
    ingested_objects: int | None = None
    metarange_id: str | None = None
    commit: CommitOut | None = None
    error: ImportError_ | None = None


class GarbageCollectionRule(_Body):
    branch_id: str
    retention_days: int


class GarbageCollectionRules(_Body):
    default_retention_days: int
    branches: list[GarbageCollectionRule] = []


class BranchProtectionRule(_Body):
    pattern: str = Field(min_length=1)


# -- requests -------------------------------------------------------------------------------


class RepositoryCreation(_Body):
    name: str
    storage_namespace: str
    default_branch: str | None = None
    sample_data: bool = False
    read_only: bool = False
    storage_id: str | None = None


class BranchCreation(_Body):
    name: str
    source: str
    force: bool = False
    hidden: bool = False


class ResetCreation(_Body):
    type: Literal["object", "common_prefix", "reset"]
    path: str | None = None
    force: bool = False


class CommitCreation(_Body):
    message: str
    metadata: dict[str, str] | None = None
    date: int | None = None
    allow_empty: bool = False
    force: bool = False


class Merge(_Body):
    message: str | None = None
    metadata: dict[str, str] | None = None
    strategy: str | None = None
    force: bool = False
    allow_empty: bool = False
    squash_merge: bool = False


class CommitOverrides(_Body):
    message: str | None = None
    metadata: dict[str, str] | None = None


class RevertCreation(_Body):
    ref: str
    parent_number: int = 0
    force: bool = False
    allow_empty: bool = False
    commit_overrides: CommitOverrides | None = None


class CherryPickCreation(_Body):
    ref: str
    parent_number: int | None = None
    commit_overrides: CommitOverrides | None = None
    force: bool = False


class TagCreation(_Body):
    id: str
    ref: str
    force: bool = False


class PathList(_Body):
    paths: list[str]


class ObjectCopyCreation(_Body):
    src_path: str
    src_ref: str | None = None
    force: bool = False
    shallow: bool = False


class ImportLocation(_Body):
    type: Literal["common_prefix", "object"]
    path: str
    destination: str


class ImportCreation(_Body):
    paths: list[ImportLocation] = Field(min_length=1)
    commit: CommitCreation
    force: bool = False


# -- the pre-signed data path (staging/backing, staging/pmpu) --------------------------------


class StagingLocation(BaseModel):
    physical_address: str | None = None
    presigned_url: str | None = None
    presigned_url_expiry: int | None = None


class StagingLocationIn(_Body):
    physical_address: str | None = None
    presigned_url: str | None = None
    presigned_url_expiry: int | None = None


class StagingMetadata(_Body):
    staging: StagingLocationIn
    checksum: str
    size_bytes: int = Field(ge=0)
    user_metadata: dict[str, str] | None = None
    content_type: str | None = None
    mtime: int | None = None
    force: bool = False


class PresignMultipartUpload(BaseModel):
    upload_id: str
    physical_address: str
    presigned_urls: list[str] | None = None


class UploadPartIn(_Body):
    part_number: int = Field(ge=1, le=10_000)
    etag: str


class CompletePresignMultipartUpload(_Body):
    physical_address: str
    parts: list[UploadPartIn]
    user_metadata: dict[str, str] | None = None
    content_type: str | None = None


class AbortPresignMultipartUpload(_Body):
    physical_address: str
