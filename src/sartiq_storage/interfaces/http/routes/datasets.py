"""``/api/v1/datasets``: a read-only view of the versioned datasets, with the bearer token.

The console reads repositories, branches, tags, the commit log, diffs and listings here rather
than through the lakeFS-compatible API: that one takes HTTP basic auth with the datasets key
pair, which a browser page would have to hold as a second secret (and a 401 with
``WWW-Authenticate: Basic`` opens the browser's own password dialog). Writes stay with the
lakeFS API and the CLI. Errors are this service's ``{"detail": …}`` with lakeFS's statuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.datasets.errors import DATASET_ERRORS
from sartiq_storage.core.datasets.model import CommonPrefix, Entry
from sartiq_storage.interfaces.http.auth import ContextDep, DatasetsReadDep
from sartiq_storage.interfaces.http.lakefs.schemas import CommitPublic, DiffOut

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

_T = TypeVar("_T")
Amount = Annotated[int, Query(ge=1, le=1000)]
Repo = Annotated[str, Path(min_length=1, max_length=63)]
Ref = Annotated[str, Query(min_length=1, max_length=512)]


async def _run(call: Callable[[], _T]) -> _T:
    """Run an engine call in the threadpool; its errors become ``{"detail"}`` answers."""
    try:
        return await run_in_threadpool(call)
    except DATASET_ERRORS as exc:
        raise HTTPException(exc.status, str(exc) or type(exc).__name__) from None


class RepositoryPublic(BaseModel):
    name: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    read_only: bool


class RefPublic(BaseModel):
    name: str
    commit_id: str


class RefsPublic(BaseModel):
    branches: list[RefPublic]
    tags: list[RefPublic]


class ObjectPublic(BaseModel):
    path: str
    path_type: Literal["object", "common_prefix"]
    size: int | None = None
    checksum: str | None = None
    content_type: str | None = None
    mtime: int | None = None
    metadata: dict[str, str] | None = None

    @classmethod
    def of(cls, item: Entry | CommonPrefix) -> ObjectPublic:
        if isinstance(item, CommonPrefix):
            return cls(path=item.path, path_type="common_prefix")
        return cls(
            path=item.path,
            path_type="object",
            size=item.size,
            checksum=item.checksum,
            content_type=item.content_type,
            mtime=item.mtime,
            metadata=dict(item.metadata),
        )


class ObjectListing(BaseModel):
    items: list[ObjectPublic]
    has_more: bool
    next_offset: str


@router.get("/repositories")
async def list_repositories(
    context: ContextDep, caller: DatasetsReadDep, after: str = "", amount: Amount = 100
) -> list[RepositoryPublic]:
    repos = await _run(lambda: context.datasets.list_repositories(after=after, amount=amount))
    return [
        RepositoryPublic(
            name=r.name,
            storage_namespace=r.storage_namespace,
            default_branch=r.default_branch,
            creation_date=r.creation_date,
            read_only=r.read_only,
        )
        for r in repos
    ]


@router.get("/repositories/{repo}/refs")
async def list_refs(
    repo: Repo, context: ContextDep, caller: DatasetsReadDep, amount: Amount = 1000
) -> RefsPublic:
    """Branches and tags, each with the commit it points at."""

    def read() -> RefsPublic:
        engine = context.datasets
        branches = engine.list_branches(repo, amount=amount)
        tags = engine.list_tags(repo, amount=amount)
        return RefsPublic(
            branches=[RefPublic(name=b.name, commit_id=b.commit_id) for b in branches],
            tags=[RefPublic(name=t.name, commit_id=t.commit_id) for t in tags],
        )

    return await _run(read)


@router.get("/repositories/{repo}/log")
async def commit_log(
    repo: Repo,
    ref: Ref,
    context: ContextDep,
    caller: DatasetsReadDep,
    after: str = "",
    amount: Amount = 50,
) -> list[CommitPublic]:
    """Commits reachable from ``ref``, newest first."""
    commits = await _run(lambda: context.datasets.log(repo, ref, amount=amount, after=after))
    return [CommitPublic.of(c) for c in commits]


@router.get("/repositories/{repo}/diff")
async def diff(
    repo: Repo,
    left: Ref,
    right: Ref,
    context: ContextDep,
    caller: DatasetsReadDep,
    mode: Literal["three_dot", "two_dot"] = "three_dot",
    prefix: str = "",
    after: str = "",
    amount: Amount = 500,
) -> list[DiffOut]:
    """What changed from ``left`` to ``right`` (three-dot: since their merge base)."""
    entries = await _run(
        lambda: context.datasets.diff(
            repo, left, right, mode=mode, prefix=prefix, after=after, amount=amount
        )
    )
    return [DiffOut.of(e) for e in entries]


@router.get("/repositories/{repo}/objects")
async def list_objects(
    repo: Repo,
    ref: Ref,
    context: ContextDep,
    caller: DatasetsReadDep,
    prefix: str = "",
    delimiter: Annotated[str, Query(max_length=1)] = "/",
    after: str = "",
    amount: Amount = 200,
) -> ObjectListing:
    """Objects at ``ref`` under ``prefix``, folders first-class with the ``/`` delimiter."""
    listing = await _run(
        lambda: context.datasets.list_objects(
            repo, ref, prefix=prefix, delimiter=delimiter, after=after, amount=amount
        )
    )
    return ObjectListing(
        items=[ObjectPublic.of(item) for item in listing.items],
        has_more=listing.has_more,
        next_offset=listing.next_offset,
    )
