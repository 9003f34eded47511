"""Commits, history, diff, merge, revert and import."""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from fastapi import HTTPException, Query, Response
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import Commit, MergeStrategy
from sartiq_storage.interfaces.http.lakefs.auth import EngineDep, UserDep
from sartiq_storage.interfaces.http.lakefs.common import Amount, authed_router, page
from sartiq_storage.interfaces.http.lakefs.schemas import (
    CherryPickCreation,
    CommitCreation,
    CommitList,
    CommitOut,
    CommitOverrides,
    DiffList,
    DiffOut,
    FindMergeBaseResult,
    ImportCreation,
    ImportCreationResponse,
    ImportError_,
    ImportStatus,
    Merge,
    MergeResult,
    RevertCreation,
)
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.imports import ImportJob, ImportSource

router = authed_router()
logger = logging.getLogger(__name__)
_DATE_TIME = TypeAdapter(AwareDatetime)


def _date_time(name: str, text: str) -> datetime:
    """An RFC 3339 date-time, as lakeFS's spec validator takes (else 400)."""
    try:
        return _DATE_TIME.validate_python(text)
    except ValidationError:
        raise e.InvalidArgumentError(f"{name}: {text!r} is not a date-time") from None


STRATEGIES: dict[str, MergeStrategy | None] = {
    "": None,
    "source-wins": "source-wins",
    "dest-wins": "dest-wins",
}


@router.post("/repositories/{repository}/branches/{branch}/commits", status_code=201)
def commit(
    repository: str, branch: str, body: CommitCreation, engine: EngineDep, user: UserDep
) -> CommitOut:
    made = engine.commit(
        repository,
        branch,
        body.message,
        committer=user,
        metadata=body.metadata or {},
        allow_empty=body.allow_empty,
        date=body.date,
    )
    return CommitOut.of(made)


@router.get("/repositories/{repository}/commits/{commit_id}")
def get_commit(repository: str, commit_id: str, engine: EngineDep) -> CommitOut:
    """Any ref works here, as on lakeFS (the high-level SDK asks for a branch's head this way)."""
    return CommitOut.of(engine.get_commit(repository, engine.resolve(repository, commit_id)))


@router.get("/repositories/{repository}/refs/{ref}/commits")
def log_commits(
    repository: str,
    ref: str,
    engine: EngineDep,
    after: str = "",
    amount: Amount = 100,
    objects: Annotated[list[str] | None, Query()] = None,
    prefixes: Annotated[list[str] | None, Query()] = None,
    limit: bool = False,
    first_parent: bool = False,
    since: str = "",
) -> CommitList:
    """With ``limit``, ``amount`` bounds the whole answer rather than one page; ``since``
    leaves out commits made before it (lakeFS skips them, it does not stop at the first)."""
    oldest = _date_time("since", since).timestamp() if since else None  # "" allowed, as lakeFS

    def fetch(n: int) -> list[Commit]:
        found: list[Commit] = []
        cursor = after
        while len(found) < n:
            batch = engine.log(
                repository,
                ref,
                amount=n if oldest is None else 1000,
                after=cursor,
                objects=objects or (),
                prefixes=prefixes or (),
                first_parent=first_parent,
            )
            found += [c for c in batch if oldest is None or c.creation_date >= oldest]
            if oldest is None or len(batch) < 1000:
                break
            cursor = batch[-1].id
        return found[:n]

    items, pagination = page(fetch, amount, lambda c: c.id)
    if limit:
        pagination.has_more = False
        pagination.next_offset = ""
    return CommitList(pagination=pagination, results=[CommitOut.of(c) for c in items])


@router.get(
    "/repositories/{repository}/refs/{left_ref}/diff/{right_ref}", response_model_exclude_none=True
)
def diff_refs(
    repository: str,
    left_ref: str,
    right_ref: str,
    engine: EngineDep,
    after: str = "",
    amount: Amount = 100,
    prefix: str = "",
    delimiter: str = "",
    type: Literal["two_dot", "three_dot"] = "three_dot",
    include_right_stats: bool = False,
) -> DiffList:
    items, pagination = page(
        lambda n: engine.diff(
            repository,
            left_ref,
            right_ref,
            mode=type,
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            amount=n,
        ),
        amount,
        lambda d: d.path,
    )
    return DiffList(pagination=pagination, results=[DiffOut.of(d) for d in items])


@router.get("/repositories/{repository}/branches/{branch}/diff", response_model_exclude_none=True)
def diff_branch(
    repository: str,
    branch: str,
    engine: EngineDep,
    after: str = "",
    amount: Amount = 100,
    prefix: str = "",
    delimiter: str = "",
) -> DiffList:
    """Uncommitted changes; with ``delimiter``, one ``prefix_changed`` per common prefix."""
    items, pagination = page(
        lambda n: engine.diff_uncommitted(
            repository, branch, prefix=prefix, after=after, amount=n, delimiter=delimiter
        ),
        amount,
        lambda d: d.path,
    )
    return DiffList(pagination=pagination, results=[DiffOut.of(d) for d in items])


@router.post("/repositories/{repository}/refs/{source_ref}/merge/{destination_branch}")
def merge_into_branch(
    repository: str,
    source_ref: str,
    destination_branch: str,
    engine: EngineDep,
    user: UserDep,
    body: Merge | None = None,
) -> MergeResult:
    """409's message names every conflicting path, which lakeFS's does not."""
    body = body or Merge()
    if (body.strategy or "") not in STRATEGIES:
        raise e.InvalidArgumentError(f"invalid strategy {body.strategy!r}")
    made = engine.merge(
        repository,
        source_ref,
        destination_branch,
        message=body.message or None,
        committer=user,
        metadata=body.metadata or {},
        strategy=STRATEGIES[body.strategy or ""],
        allow_empty=body.allow_empty,
        force=body.force,
        squash=body.squash_merge,
    )
    return MergeResult(reference=made.id)


@router.get("/repositories/{repository}/refs/{source_ref}/merge/{destination_branch}")
def find_merge_base(
    repository: str, source_ref: str, destination_branch: str, engine: EngineDep
) -> FindMergeBaseResult:
    base = engine.merge_base(repository, destination_branch, source_ref)
    return FindMergeBaseResult(
        source_commit_id=engine.resolve(repository, source_ref),
        destination_commit_id=engine.resolve(repository, destination_branch),
        base_commit_id=base.id,
    )


@router.post("/repositories/{repository}/branches/{branch}/revert", status_code=204)
def revert_branch(
    repository: str, branch: str, body: RevertCreation, engine: EngineDep, user: UserDep
) -> Response:
    overrides = body.commit_overrides or CommitOverrides()
    engine.revert(
        repository,
        branch,
        body.ref,
        parent_number=body.parent_number,
        committer=user,
        allow_empty=body.allow_empty,
        force=body.force,
        message=overrides.message or None,
        metadata=overrides.metadata,
    )
    return Response(status_code=204)


@router.post("/repositories/{repository}/branches/{branch}/cherry-pick", status_code=201)
def cherry_pick(
    repository: str, branch: str, body: CherryPickCreation, engine: EngineDep, user: UserDep
) -> CommitOut:
    overrides = body.commit_overrides or CommitOverrides()
    made = engine.cherry_pick(
        repository,
        branch,
        body.ref,
        parent_number=body.parent_number or 0,
        committer=user,
        message=overrides.message or None,
        metadata=overrides.metadata,
        force=body.force,
    )
    return CommitOut.of(made)


# -- import: a job on the native engine (lakeFS's asynchronous import), else synchronous --------


def _import_id(commit_id: str, branch: str) -> str:
    """A real lakeFS behind us is waited for here; the id then carries the result."""
    raw = json.dumps({"c": commit_id, "b": branch, "t": int(datetime.now(UTC).timestamp())})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_import_id(import_id: str, branch: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(import_id + "=" * (-len(import_id) % 4))
        fields = cast(dict[str, object], json.loads(raw))
        commit_id, owner, when = fields["c"], fields["b"], fields["t"]
    except (ValueError, KeyError, TypeError):
        raise e.NotFoundError(f"import {import_id!r} not found") from None
    if not isinstance(commit_id, str) or owner != branch or not isinstance(when, int):
        raise e.NotFoundError(f"import {import_id!r} not found")
    return commit_id, when


def _run_in_background(engine: NativeDatasetEngine, repository: str, import_id: str) -> None:
    """As lakeFS's goroutine: the request answers 202 at once; status reports progress."""

    def run() -> None:
        try:
            engine.run_import(repository, import_id)
        except Exception:  # recorded in the job where it can be; never kill the worker
            logger.exception("import %s of %s failed", import_id, repository)

    threading.Thread(target=run, daemon=True, name=f"import-{import_id}").start()


@router.post("/repositories/{repository}/branches/{branch}/import", status_code=202)
def import_start(
    repository: str, branch: str, body: ImportCreation, engine: EngineDep, user: UserDep
) -> ImportCreationResponse:
    """Zero-copy import of prefixes and objects: checked and recorded, then run in the
    background (resumed by the next ``serve`` if this one stops)."""
    message = body.commit.message or f"Import objects from {body.paths[0].path}"
    if isinstance(engine, NativeDatasetEngine):
        import_id = engine.start_import(
            repository,
            branch,
            [ImportSource(p.type, p.path, p.destination) for p in body.paths],
            message=message,
            committer=user,
            metadata=body.commit.metadata or {},
        )
        _run_in_background(engine, repository, import_id)
        return ImportCreationResponse(id=import_id)
    if len(body.paths) != 1 or body.paths[0].type != "common_prefix":
        raise e.InvalidArgumentError("import takes exactly one location of type common_prefix")
    location = body.paths[0]
    made = engine.import_prefix(
        repository,
        branch,
        location.path,
        location.destination,
        message=message,
        committer=user,
        metadata=body.commit.metadata or {},
    )
    return ImportCreationResponse(id=_import_id(made.id, branch))


def _status_of(job: ImportJob) -> ImportStatus:
    return ImportStatus(
        completed=job.completed,
        update_time=datetime.fromtimestamp(job.updated, UTC),
        ingested_objects=job.ingested,
        metarange_id=job.commit.meta_range_id if job.commit else None,
        commit=CommitOut.of(job.commit) if job.commit else None,
        error=ImportError_(message=job.error) if job.error else None,
    )


@router.get("/repositories/{repository}/branches/{branch}/import", response_model_exclude_none=True)
def import_status(repository: str, branch: str, id: str, engine: EngineDep) -> ImportStatus:
    if isinstance(engine, NativeDatasetEngine):
        return _status_of(engine.import_status(repository, id, branch=branch))
    commit_id, when = _parse_import_id(id, branch)
    made = engine.get_commit(repository, commit_id)
    return ImportStatus(
        completed=True,
        update_time=datetime.fromtimestamp(when, UTC),
        metarange_id=made.meta_range_id,
        commit=CommitOut.of(made),
    )


@router.delete("/repositories/{repository}/branches/{branch}/import", status_code=204)
def import_cancel(repository: str, branch: str, id: str, engine: EngineDep) -> Response:
    """Cancels a running import (204); one that completed is a conflict (409), as lakeFS."""
    if isinstance(engine, NativeDatasetEngine):
        engine.cancel_import(repository, id, branch=branch)
        return Response(status_code=204)
    _parse_import_id(id, branch)
    raise HTTPException(409, "import already completed")
