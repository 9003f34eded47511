"""Repositories, branches, tags and repository settings (GC rules, branch protection)."""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import suppress

from fastapi import Header, Request, Response
from fastapi.responses import PlainTextResponse

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import GcRules
from sartiq_storage.interfaces.http.lakefs.auth import EngineDep, UserDep
from sartiq_storage.interfaces.http.lakefs.common import Amount, authed_router, page
from sartiq_storage.interfaces.http.lakefs.meta import storage_config
from sartiq_storage.interfaces.http.lakefs.schemas import (
    BranchCreation,
    BranchProtectionRule,
    GarbageCollectionRule,
    GarbageCollectionRules,
    Ref,
    RefList,
    RepositoryCreation,
    RepositoryList,
    RepositoryOut,
    ResetCreation,
    TagCreation,
)
from sartiq_storage.services.datasets import NativeDatasetEngine
from sartiq_storage.services.datasets.samples import populate_sample

router = authed_router()
NO_CONTENT = 204


# -- repositories ---------------------------------------------------------------------------


@router.get("/repositories")
def list_repositories(
    engine: EngineDep, prefix: str = "", after: str = "", amount: Amount = 100, search: str = ""
) -> RepositoryList:
    def fetch(n: int) -> list[RepositoryOut]:
        # The engine pages by name only: filter by prefix/search here, a page at a time.
        found: list[RepositoryOut] = []
        cursor = after
        while len(found) < n:
            batch = engine.list_repositories(after=cursor, amount=1000)
            for repo in batch:
                if prefix and not repo.name.startswith(prefix):
                    if repo.name > prefix:
                        return found
                    continue
                if search and search not in repo.name:
                    continue
                found.append(RepositoryOut.of(repo))
            if len(batch) < 1000:
                break
            cursor = batch[-1].name
        return found

    items, pagination = page(fetch, amount, lambda r: r.id)
    return RepositoryList(pagination=pagination, results=items)


@router.post("/repositories", status_code=201)
def create_repository(
    body: RepositoryCreation, request: Request, engine: EngineDep, user: UserDep, bare: bool = False
) -> RepositoryOut:
    """``bare``: no branch and no first commit, what ``restoreRefs`` fills (the native
    engine; a real lakeFS behind ``LAKEFS_ENDPOINT`` gets the ordinary creation).

    In lakeFS's order: an existing repository is 409 before the body is judged further; the
    one storage here has the empty id; ``sample_data`` fills the new repository.
    """
    with suppress(e.NotFoundError):
        engine.get_repository(body.name)
        raise e.AlreadyExistsError(f"repository {body.name!r} already exists")
    if body.storage_id:
        raise e.InvalidArgumentError(f"storage id: no storage {body.storage_id!r} is configured")
    validity = storage_config(request.app.state.context).blockstore_namespace_validity_regex
    if "://" in body.storage_namespace and re.match(validity, body.storage_namespace) is None:
        # A scheme must be the one /config/storage advertises, as on lakeFS; a bare prefix
        # stays a key prefix on the one store (docs/decisions.md).
        raise e.InvalidArgumentError(
            f"storage namespace {body.storage_namespace!r} does not match {validity}"
        )
    if bare and isinstance(engine, NativeDatasetEngine):
        repo = engine.create_repository(
            body.name,
            body.storage_namespace,
            default_branch=body.default_branch or "main",
            read_only=body.read_only,
            committer=user,
            bare=True,
        )
        return RepositoryOut.of(repo)
    repo = engine.create_repository(
        body.name,
        body.storage_namespace,
        default_branch=body.default_branch or "main",
        read_only=body.read_only,
        committer=user,
    )
    if body.sample_data:
        populate_sample(engine, repo.name, repo.default_branch, committer=user)
    return RepositoryOut.of(repo)


@router.get("/repositories/{repository}")
def get_repository(repository: str, engine: EngineDep) -> RepositoryOut:
    return RepositoryOut.of(engine.get_repository(repository))


@router.delete("/repositories/{repository}", status_code=NO_CONTENT)
def delete_repository(repository: str, engine: EngineDep, force: bool = False) -> Response:
    engine.delete_repository(repository)
    return Response(status_code=NO_CONTENT)


# -- branches -------------------------------------------------------------------------------


@router.get("/repositories/{repository}/branches")
def list_branches(
    repository: str,
    engine: EngineDep,
    prefix: str = "",
    after: str = "",
    amount: Amount = 100,
    show_hidden: bool = False,
) -> RefList:
    items, pagination = page(
        lambda n: engine.list_branches(
            repository, prefix=prefix, after=after, amount=n, show_hidden=show_hidden
        ),
        amount,
        lambda b: b.name,
    )
    return RefList(pagination=pagination, results=[Ref.of(b) for b in items])


@router.post("/repositories/{repository}/branches", status_code=201)
def create_branch(repository: str, body: BranchCreation, engine: EngineDep) -> PlainTextResponse:
    """lakeFS answers with the new branch's commit id as plain text."""
    branch = engine.create_branch(repository, body.name, body.source, hidden=body.hidden)
    return PlainTextResponse(branch.commit_id, status_code=201)


@router.get("/repositories/{repository}/branches/{branch}")
def get_branch(repository: str, branch: str, engine: EngineDep) -> Ref:
    return Ref.of(engine.get_branch(repository, branch))


@router.delete("/repositories/{repository}/branches/{branch}", status_code=NO_CONTENT)
def delete_branch(repository: str, branch: str, engine: EngineDep, force: bool = False) -> Response:
    engine.delete_branch(repository, branch)
    return Response(status_code=NO_CONTENT)


@router.put("/repositories/{repository}/branches/{branch}", status_code=NO_CONTENT)
def reset_branch(repository: str, branch: str, body: ResetCreation, engine: EngineDep) -> Response:
    """Discard uncommitted changes: one object, a prefix, or all of them."""
    if body.type != "reset" and not body.path:
        raise e.InvalidArgumentError("path is required for an object or common_prefix reset")
    engine.reset_changes(repository, branch, body.type, None if body.type == "reset" else body.path)
    return Response(status_code=NO_CONTENT)


@router.put("/repositories/{repository}/branches/{branch}/hard_reset", status_code=NO_CONTENT)
def hard_reset_branch(
    repository: str, branch: str, ref: str, engine: EngineDep, user: UserDep, force: bool = False
) -> Response:
    engine.hard_reset(repository, branch, ref, force=force, actor=user)
    return Response(status_code=NO_CONTENT)


# -- tags -----------------------------------------------------------------------------------


@router.get("/repositories/{repository}/tags")
def list_tags(
    repository: str, engine: EngineDep, prefix: str = "", after: str = "", amount: Amount = 100
) -> RefList:
    items, pagination = page(
        lambda n: engine.list_tags(repository, prefix=prefix, after=after, amount=n),
        amount,
        lambda t: t.name,
    )
    return RefList(pagination=pagination, results=[Ref.of(t) for t in items])


@router.post("/repositories/{repository}/tags", status_code=201)
def create_tag(repository: str, body: TagCreation, engine: EngineDep) -> Ref:
    return Ref.of(engine.create_tag(repository, body.id, body.ref, force=body.force))


@router.get("/repositories/{repository}/tags/{tag}")
def get_tag(repository: str, tag: str, engine: EngineDep) -> Ref:
    return Ref.of(engine.get_tag(repository, tag))


@router.delete("/repositories/{repository}/tags/{tag}", status_code=NO_CONTENT)
def delete_tag(repository: str, tag: str, engine: EngineDep, force: bool = False) -> Response:
    engine.delete_tag(repository, tag)
    return Response(status_code=NO_CONTENT)


# -- settings -------------------------------------------------------------------------------


@router.get("/repositories/{repository}/settings/gc_rules")
def get_gc_rules(repository: str, engine: EngineDep) -> GarbageCollectionRules:
    rules = engine.get_gc_rules(repository)
    return GarbageCollectionRules(
        default_retention_days=rules.default_retention_days,
        branches=[
            GarbageCollectionRule(branch_id=b, retention_days=d) for b, d in rules.branches.items()
        ],
    )


@router.put("/repositories/{repository}/settings/gc_rules", status_code=NO_CONTENT)
def set_gc_rules(repository: str, body: GarbageCollectionRules, engine: EngineDep) -> Response:
    rules = GcRules(
        default_retention_days=body.default_retention_days,
        branches={b.branch_id: b.retention_days for b in body.branches},
    )
    engine.set_gc_rules(repository, rules)
    return Response(status_code=NO_CONTENT)


def _protection_etag(patterns: list[str]) -> str:
    """Empty without rules, as lakeFS's: ``If-Match: ""`` then means "only if none exist"."""
    return hashlib.sha256(json.dumps(patterns).encode()).hexdigest() if patterns else ""


@router.get("/repositories/{repository}/settings/branch_protection")
def get_branch_protection_rules(
    repository: str, engine: EngineDep, response: Response
) -> list[BranchProtectionRule]:
    """With an ETag, so a client can update the rules with ``If-Match`` as on lakeFS."""
    patterns = list(engine.get_branch_protection(repository))
    response.headers["ETag"] = f'"{_protection_etag(patterns)}"'
    return [BranchProtectionRule(pattern=p) for p in patterns]


@router.put("/repositories/{repository}/settings/branch_protection", status_code=NO_CONTENT)
def set_branch_protection_rules(
    repository: str,
    body: list[BranchProtectionRule],
    engine: EngineDep,
    if_match: str | None = Header(default=None),
) -> Response:
    patterns = [rule.pattern for rule in body]
    if if_match is None:
        engine.set_branch_protection(repository, patterns)
        return Response(status_code=NO_CONTENT)
    current = list(engine.get_branch_protection(repository))
    if if_match.strip('"') != _protection_etag(current):
        raise e.PreconditionFailedError(
            message="branch protection rules changed since they were read"
        )
    # The rules the ETag names: set only if they are still those (two writers that read
    # the same ETag: one wins, the other gets 412, as on lakeFS).
    engine.set_branch_protection(repository, patterns, expected=current)
    return Response(status_code=NO_CONTENT)
