"""``/api/v1/datasets`` writes: what operators do in lakeFS's UI, with the bearer token.

The console's datasets view writes here for the reason it reads from ``/api/v1/datasets``
(``routes/datasets.py``): the lakeFS-compatible API takes the datasets key pair over HTTP
basic auth, a second secret a page would have to hold. Every write needs the
``datasets:write`` scope, so a read-only token (``datasets:read``) gets a 403 whatever the page
shows. The committer of a commit, merge or revert is the token's subject. Engine errors keep
lakeFS's statuses with this service's ``{"detail"}``; a merge conflict adds ``conflicts``, the
full list of paths, so the page can show every one and offer a strategy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import IO, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sartiq_storage.core.datasets.errors import DATASET_ERRORS, MergeConflictError
from sartiq_storage.interfaces.http.auth import ContextDep, DatasetsReadDep, DatasetsWriteDep
from sartiq_storage.interfaces.http.gate import body_limit
from sartiq_storage.interfaces.http.lakefs.schemas import CommitPublic, DiffOut
from sartiq_storage.interfaces.http.routes.datasets import ObjectPublic, RefPublic

router = APIRouter(prefix="/api/v1/datasets/repositories/{repo}", tags=["datasets"])

_T = TypeVar("_T")
Repo = Annotated[str, Path(min_length=1, max_length=63)]
BranchName = Annotated[str, Path(min_length=1, max_length=256)]
ObjectPath = Annotated[str, Query(min_length=1, max_length=1024)]
Metadata = Annotated[dict[str, str], Field(max_length=100)]
MAX_UPLOAD_BYTES = 5 * 1024**3
"""One object, as the lakeFS API's upload takes (S3's single PUT limit)."""
_SPOOL_IN_MEMORY = 8 * 1024 * 1024


async def _run(call: Callable[[], _T]) -> _T:
    """Run an engine call in the threadpool; its errors become ``{"detail"}`` answers."""
    try:
        return await run_in_threadpool(call)
    except DATASET_ERRORS as exc:
        raise HTTPException(exc.status, str(exc) or type(exc).__name__) from None


class BranchCreation(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=512, description="the ref it starts from")


class TagCreation(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    ref: str = Field(min_length=1, max_length=512)


class CommitCreation(BaseModel):
    message: str = Field(min_length=1, max_length=10_000)
    metadata: Metadata = {}


class MergeRequest(BaseModel):
    source: str = Field(min_length=1, max_length=512, description="the ref merged in")
    message: str | None = Field(default=None, max_length=10_000)
    metadata: Metadata = {}
    strategy: Literal["dest-wins", "source-wins"] | None = Field(
        default=None, description="how every conflict resolves; none: a conflict is a 409"
    )


class RevertRequest(BaseModel):
    ref: str = Field(min_length=1, max_length=512, description="the commit whose changes undo")
    parent_number: int = Field(default=0, ge=0, le=16, description="for a merge commit: 1 or 2")


class BranchProtection(BaseModel):
    patterns: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(max_length=100)


@router.get("/branches/{branch}/changes")
async def uncommitted_changes(
    repo: Repo,
    branch: BranchName,
    context: ContextDep,
    caller: DatasetsReadDep,
    after: str = "",
    amount: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[DiffOut]:
    """What a commit on ``branch`` would record: its staged, uncommitted changes."""
    entries = await _run(
        lambda: context.datasets.diff_uncommitted(repo, branch, after=after, amount=amount)
    )
    return [DiffOut.of(e) for e in entries]


@router.get("/branch-protection")
async def get_branch_protection(
    repo: Repo, context: ContextDep, caller: DatasetsReadDep
) -> BranchProtection:
    """The branch name patterns nobody may write, commit or reset on directly."""
    patterns = await _run(lambda: context.datasets.get_branch_protection(repo))
    return BranchProtection(patterns=patterns)


@router.put("/branch-protection")
async def set_branch_protection(
    repo: Repo, body: BranchProtection, context: ContextDep, caller: DatasetsWriteDep
) -> BranchProtection:
    """Replace the rules (lakeFS's ``PUT …/settings/branch_protection``)."""
    patterns = list(dict.fromkeys(p.strip() for p in body.patterns if p.strip()))
    await _run(lambda: context.datasets.set_branch_protection(repo, patterns))
    return BranchProtection(
        patterns=await _run(lambda: context.datasets.get_branch_protection(repo))
    )


@router.post("/branches", status_code=201)
async def create_branch(
    repo: Repo, body: BranchCreation, context: ContextDep, caller: DatasetsWriteDep
) -> RefPublic:
    branch = await _run(lambda: context.datasets.create_branch(repo, body.name, body.source))
    return RefPublic(name=branch.name, commit_id=branch.commit_id)


@router.delete("/branches/{branch}", status_code=204)
async def delete_branch(
    repo: Repo, branch: BranchName, context: ContextDep, caller: DatasetsWriteDep
) -> Response:
    """The default branch and protected branches stay (403)."""
    await _run(lambda: context.datasets.delete_branch(repo, branch))
    return Response(status_code=204)


async def _spool(request: Request) -> IO[bytes]:
    """The raw body, in memory up to 8 MiB and on disk beyond, so uploads never pin RAM."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return spool


class UploadTarget(BaseModel):
    """Where the browser PUTs one object itself (the pre-signed path): no byte through us."""

    physical_address: str
    upload_url: str
    upload_method: str = "PUT"
    upload_headers: dict[str, str]
    expires_in_seconds: int


class UploadLink(BaseModel):
    physical_address: str = Field(min_length=1, max_length=2048)
    size_bytes: int = Field(ge=0)
    checksum: str = Field(min_length=1, max_length=256, description="the PUT's ETag")
    content_type: str | None = Field(default=None, max_length=255)


def _presigning(context: ContextDep) -> Any:
    engine = context.datasets
    if not hasattr(engine, "presign_upload"):
        raise HTTPException(501, "pre-signed uploads need the native engine; use PUT …/objects")
    return engine


@router.post("/branches/{branch}/objects/presign")
async def presign_object_upload(
    repo: Repo, branch: BranchName, path: ObjectPath, context: ContextDep, caller: DatasetsWriteDep
) -> UploadTarget:
    """A signed address for ``path`` and a URL the browser PUTs the bytes to (the store's own,
    or the embedded store's signed route); then ``…/objects/link``. lakeFS's
    getPhysicalAddress, for a bearer token."""
    engine = _presigning(context)
    staging, request = await _run(lambda: engine.presign_upload(repo, branch, path))
    return UploadTarget(
        physical_address=staging.physical_address,
        upload_url=request.url,
        upload_method=request.method,
        upload_headers=request.headers,
        expires_in_seconds=request.expires_in,
    )


@router.post("/branches/{branch}/objects/link", status_code=201)
async def link_object_upload(
    repo: Repo,
    branch: BranchName,
    path: ObjectPath,
    body: UploadLink,
    context: ContextDep,
    caller: DatasetsWriteDep,
) -> ObjectPublic:
    """Stage what was PUT to an address ``…/objects/presign`` issued for ``path``; its size and
    ETag must be what the store holds (lakeFS's linkPhysicalAddress)."""
    engine = _presigning(context)
    entry = await _run(
        lambda: engine.link_physical_address(
            repo,
            branch,
            path,
            body.physical_address,
            size=body.size_bytes,
            checksum=body.checksum,
            content_type=body.content_type,
        )
    )
    return ObjectPublic.of(entry)


@router.put("/branches/{branch}/objects", status_code=201)
@body_limit(MAX_UPLOAD_BYTES)
async def upload_object(
    repo: Repo,
    branch: BranchName,
    path: ObjectPath,
    request: Request,
    context: ContextDep,
    caller: DatasetsWriteDep,
) -> ObjectPublic:
    """Stage the request body as ``path`` on ``branch`` (its Content-Type kept), as the lakeFS
    API's raw upload does; it shows in the branch's uncommitted changes until a commit."""
    content_type = request.headers.get("content-type") or None
    data = await _spool(request)
    try:
        entry = await _run(
            lambda: context.datasets.put_object(repo, branch, path, data, content_type=content_type)
        )
    finally:
        data.close()
    return ObjectPublic.of(entry)


@router.post("/branches/{branch}/commits", status_code=201)
async def commit(
    repo: Repo,
    branch: BranchName,
    body: CommitCreation,
    context: ContextDep,
    caller: DatasetsWriteDep,
) -> CommitPublic:
    made = await _run(
        lambda: context.datasets.commit(
            repo, branch, body.message, committer=caller.subject, metadata=body.metadata
        )
    )
    return CommitPublic.of(made)


@router.post("/branches/{branch}/merge", response_model=CommitPublic)
async def merge(
    repo: Repo,
    branch: BranchName,
    body: MergeRequest,
    context: ContextDep,
    caller: DatasetsWriteDep,
) -> Any:
    """Merge ``source`` into ``branch``. A conflict without a strategy is 409 with
    ``conflicts``: every conflicting path, not the first few the message names."""
    try:
        made = await run_in_threadpool(
            lambda: context.datasets.merge(
                repo,
                body.source,
                branch,
                message=body.message or None,
                committer=caller.subject,
                metadata=body.metadata,
                strategy=body.strategy,
            )
        )
    except MergeConflictError as exc:
        return JSONResponse(status_code=409, content={"detail": str(exc), "conflicts": exc.paths})
    except DATASET_ERRORS as exc:
        raise HTTPException(exc.status, str(exc) or type(exc).__name__) from None
    return CommitPublic.of(made)


@router.post("/branches/{branch}/revert", status_code=201)
async def revert(
    repo: Repo,
    branch: BranchName,
    body: RevertRequest,
    context: ContextDep,
    caller: DatasetsWriteDep,
) -> CommitPublic:
    """A new commit on ``branch`` that undoes ``ref``'s changes (the branch must be clean)."""
    made = await _run(
        lambda: context.datasets.revert(
            repo, branch, body.ref, parent_number=body.parent_number, committer=caller.subject
        )
    )
    return CommitPublic.of(made)


@router.post("/tags", status_code=201)
async def create_tag(
    repo: Repo, body: TagCreation, context: ContextDep, caller: DatasetsWriteDep
) -> RefPublic:
    tag = await _run(lambda: context.datasets.create_tag(repo, body.name, body.ref))
    return RefPublic(name=tag.name, commit_id=tag.commit_id)
