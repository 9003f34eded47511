"""``DatasetStore`` over a lakeFS server (a real one, or this service's compatible API).

Calls go through the official ``lakefs_sdk`` client. Its ``ApiException`` statuses become our
typed errors; lakeFS's 400 and 403 cover several causes, told apart by lakeFS's own wording.
Object bytes move through raw requests on the SDK's connection pool (as the high-level SDK
does) so uploads and downloads stream instead of sitting in memory.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, Literal

import lakefs_sdk
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from sartiq_storage.core.datasets import errors as e
from sartiq_storage.core.datasets.model import (
    Branch,
    Commit,
    CommonPrefix,
    DiffEntry,
    Entry,
    GcReport,
    GcRules,
    Listing,
    MergeStrategy,
    ReflogEntry,
    Repository,
    Tag,
)
from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES, namespace_conflict
from sartiq_storage.core.datasets.protocol import Data, DiffMode, ResetType

PAGE = 1000
CHUNK = 1024 * 1024
META_PREFIX = "x-lakefs-meta-"
_AUTH = ["basic_auth", "cookie_auth", "oidc_auth", "saml_auth", "jwt_token"]


class AuthenticationFailedError(e.DatasetError):
    """lakeFS refused the access key pair."""

    status = 401


def _message(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            return str(parsed["message"])
        return body
    return str(exc.reason or f"HTTP {exc.status}")


def map_error(exc: ApiException) -> e.DatasetError:
    """One lakeFS status (and, for 400/403/409, its wording) → one of our error types."""
    message = _message(exc)
    low = message.lower()
    status = exc.status or 0
    if status == 400:
        if "dirty branch" in low:
            return e.DirtyBranchError(message)
        if "no changes" in low:
            return e.NoChangesError(message)
        if "invalid ref" in low or "ref: invalid" in low:
            return e.InvalidRefError(message)
        if "invalid name" in low or "id: invalid" in low or "name: invalid" in low:
            return e.InvalidNameError(message)
        return e.InvalidArgumentError(message)
    if status == 401:
        return AuthenticationFailedError(message)
    if status == 403:
        if "read-only" in low or "read only" in low:
            return e.ReadOnlyRepositoryError(message)
        return e.ProtectedBranchError(message)
    if status == 404:
        return e.NotFoundError(message)
    if status == 409:
        if "conflict" in low and "exists" not in low:
            return e.MergeConflictError([])
        return e.AlreadyExistsError(message)
    if status == 410:
        return e.GoneError(message)
    if status == 412:
        return e.PreconditionFailedError(message)
    if status == 429:
        return e.TooManyRetriesError(message)
    error = e.DatasetError(f"lakeFS answered {status}: {message}")
    error.status = status or 502
    return error


def _overrides(
    message: str | None, metadata: Mapping[str, str] | None
) -> lakefs_sdk.CommitOverrides | None:
    if message is None and metadata is None:
        return None
    return lakefs_sdk.CommitOverrides(
        message=message, metadata=None if metadata is None else dict(metadata)
    )


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise map_error(exc) from None


def _entry(stats: lakefs_sdk.ObjectStats) -> Entry:
    return Entry(
        path=stats.path,
        address=stats.physical_address,
        size=stats.size_bytes or 0,
        checksum=stats.checksum,
        content_type=stats.content_type or "application/octet-stream",
        mtime=stats.mtime,
        metadata=dict(stats.metadata or {}),
    )


def _commit(c: lakefs_sdk.Commit) -> Commit:
    return Commit(
        id=c.id,
        parents=tuple(c.parents),
        committer=c.committer,
        message=c.message,
        creation_date=c.creation_date,
        meta_range_id=c.meta_range_id,
        metadata=dict(c.metadata or {}),
        generation=c.generation or 0,
    )


def _repository(r: lakefs_sdk.Repository) -> Repository:
    return Repository(
        name=r.id,
        storage_namespace=r.storage_namespace,
        default_branch=r.default_branch,
        creation_date=r.creation_date,
        read_only=bool(r.read_only),
    )


def _diff(d: lakefs_sdk.Diff) -> DiffEntry:
    return DiffEntry(
        type=d.type,  # type: ignore[arg-type]  # lakefs_sdk validates the enum
        path=d.path,
        path_type=d.path_type,  # type: ignore[arg-type]
        size_bytes=d.size_bytes,
    )


def _spool(data: Data) -> tuple[IO[bytes], int]:
    """Any accepted data as a seekable file and its length (lakeFS wants Content-Length)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    if isinstance(data, bytes | bytearray | memoryview):
        spool.write(data)
    elif hasattr(data, "read"):
        while chunk := data.read(CHUNK):
            spool.write(chunk)
    else:
        for chunk in data:
            spool.write(chunk)
    size = spool.tell()
    spool.seek(0)
    return spool, size


class LakeFSEngine:
    """The lakeFS-backed engine: every operation is one or a few lakeFS API calls.

    ``namespace_prefix`` completes storage namespaces given without a scheme
    (``s3://garment-accuracy/repos`` + ``/ds`` for ``create_repository("x", "ds")``).
    """

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        namespace_prefix: str = "",
        import_poll_seconds: float = 0.2,
        import_timeout_seconds: float = 3600.0,
        content_bucket: str | None = None,
        reserved_prefixes: Sequence[str] = RESERVED_PREFIXES,
    ) -> None:
        """``content_bucket``: the platform's own bucket; a namespace in it may not overlap
        ``reserved_prefixes`` (the content zones), where our cleaners would delete lakeFS's
        objects."""
        self._content_bucket = content_bucket
        self._reserved = tuple(reserved_prefixes)
        config = lakefs_sdk.Configuration(
            host=endpoint.rstrip("/"), username=access_key_id, password=secret_access_key
        )
        self._client = LakeFSClient(config)  # type: ignore[no-untyped-call]
        self._api = self._client._api  # the ApiClient: auth headers and connection pool
        self._host = str(config.host).rstrip("/")
        self._prefix = namespace_prefix.rstrip("/")
        self._poll = import_poll_seconds
        self._import_timeout = import_timeout_seconds

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    @property
    def sdk(self) -> LakeFSClient:
        """The underlying ``lakefs_sdk`` client, for what the protocol does not cover."""
        return self._client

    # -- helpers -----------------------------------------------------------------------------

    def _pages(
        self, fetch: Callable[[str, int], Any], amount: int, after: str = ""
    ) -> Iterator[Any]:
        """Up to ``amount`` results across lakeFS's pages of at most 1000."""
        left = amount
        while left > 0:
            with _mapped():
                listing = fetch(after, min(left, PAGE))
            yield from listing.results[:left]
            left -= len(listing.results)
            if not listing.pagination.has_more or not listing.results:
                return
            after = listing.pagination.next_offset

    def _raw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: dict[str, str],
        body: IO[bytes] | None = None,
    ) -> Any:
        """A request on the SDK's own pool and auth, streamed both ways."""
        resource = urllib.parse.quote(path, encoding="utf-8")
        url = f"{self._host}{resource}?{urllib.parse.urlencode(query)}"
        self._api.update_params_for_auth(  # type: ignore[no-untyped-call]
            headers, None, _AUTH, resource, method, body
        )
        response = self._api.rest_client.pool_manager.request(
            method, url, headers=headers, body=body, preload_content=False
        )
        if not 200 <= response.status < 300:
            exc = ApiException(status=response.status, reason=response.reason)
            exc.body = response.read()
            response.release_conn()
            return exc
        return response

    def _namespace(self, storage_namespace: str) -> str:
        if "://" in storage_namespace or not self._prefix:
            return storage_namespace
        return f"{self._prefix}/{storage_namespace.lstrip('/')}"

    def _check_namespace(self, namespace: str) -> None:
        """Refuse a namespace in the content bucket that overlaps a content zone."""
        scheme, _, rest = namespace.partition("://")
        bucket, _, prefix = rest.partition("/")
        if self._content_bucket is None or scheme not in ("s3", "r2"):
            return
        if bucket != self._content_bucket:
            return
        problem = (
            namespace_conflict(prefix, reserved=self._reserved)
            if prefix.strip("/")
            else f"storage namespace {namespace!r} is the whole content bucket"
        )
        if problem is not None:
            raise e.InvalidArgumentError(problem)

    # -- repositories ------------------------------------------------------------------------

    def create_repository(
        self,
        name: str,
        storage_namespace: str,
        *,
        default_branch: str = "main",
        read_only: bool = False,
        committer: str = "sartiq-storage",
    ) -> Repository:
        namespace = self._namespace(storage_namespace)
        self._check_namespace(namespace)
        creation = lakefs_sdk.RepositoryCreation(
            name=name,
            storage_namespace=namespace,
            default_branch=default_branch,
            read_only=read_only,
            sample_data=False,
            storage_id=None,
        )
        with _mapped():
            return _repository(self._client.repositories_api.create_repository(creation))

    def get_repository(self, name: str) -> Repository:
        with _mapped():
            return _repository(self._client.repositories_api.get_repository(name))

    def list_repositories(self, *, after: str = "", amount: int = 100) -> list[Repository]:
        api = self._client.repositories_api
        found = self._pages(lambda a, n: api.list_repositories(after=a, amount=n), amount, after)
        return [_repository(r) for r in found]

    def delete_repository(self, name: str) -> None:
        with _mapped():
            self._client.repositories_api.delete_repository(name)

    # -- branches ----------------------------------------------------------------------------

    def create_branch(
        self, repo: str, name: str, source_ref: str, *, hidden: bool = False
    ) -> Branch:
        with _mapped():
            commit_id = self._client.branches_api.create_branch(
                repo,
                lakefs_sdk.BranchCreation(name=name, source=source_ref, force=False, hidden=hidden),
            )
        return Branch(name=name, commit_id=str(commit_id).strip())

    def get_branch(self, repo: str, name: str) -> Branch:
        with _mapped():
            ref = self._client.branches_api.get_branch(repo, name)
        return Branch(name=ref.id, commit_id=ref.commit_id)

    def list_branches(
        self,
        repo: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> list[Branch]:
        api = self._client.branches_api
        found = self._pages(
            lambda a, n: api.list_branches(
                repo, prefix=prefix, after=a, amount=n, show_hidden=show_hidden
            ),
            amount,
            after,
        )
        return [Branch(name=r.id, commit_id=r.commit_id) for r in found]

    def delete_branch(self, repo: str, name: str) -> None:
        with _mapped():
            self._client.branches_api.delete_branch(repo, name)

    def reset_changes(
        self, repo: str, branch: str, type: ResetType = "reset", path: str | None = None
    ) -> None:
        with _mapped():
            self._client.branches_api.reset_branch(
                repo, branch, lakefs_sdk.ResetCreation(type=type, path=path)
            )

    def hard_reset(
        self, repo: str, branch: str, ref: str, *, force: bool = False, actor: str = ""
    ) -> Branch:
        with _mapped():
            self._client.experimental_api.hard_reset_branch(repo, branch, ref, force=force)
        return self.get_branch(repo, branch)

    def reflog(self, repo: str, branch: str) -> list[ReflogEntry]:
        """lakeFS keeps no reflog: there is never anything to report."""
        self.get_branch(repo, branch)
        return []

    # -- objects -----------------------------------------------------------------------------

    def put_object(
        self,
        repo: str,
        branch: str,
        path: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> Entry:
        body, size = _spool(data)
        headers = {
            "Accept": "application/json",
            "Content-Type": content_type or "application/octet-stream",
            "Content-Length": str(size),
        }
        if if_absent:
            headers["If-None-Match"] = "*"
        for key, value in (metadata or {}).items():
            headers[META_PREFIX + key.lower()] = value
        with body:
            answer = self._raw(
                "POST",
                f"/repositories/{repo}/branches/{branch}/objects",
                {"path": path},
                headers,
                body,
            )
        if isinstance(answer, ApiException):
            raise map_error(answer)
        try:
            stats = lakefs_sdk.ObjectStats.from_dict(json.loads(answer.read()))
        finally:
            answer.release_conn()
        return _entry(stats)

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        """lakeFS ignores missing paths; we report them, as the protocol says."""
        self.stat_object(repo, branch, path)
        with _mapped():
            self._client.objects_api.delete_object(repo, branch, path)

    def delete_objects(self, repo: str, branch: str, paths: Sequence[str]) -> list[str]:
        missing: list[str] = []
        for path in paths:
            try:
                self.stat_object(repo, branch, path)
            except e.NotFoundError:
                missing.append(path)
        present = [p for p in paths if p not in set(missing)]
        for start in range(0, len(present), PAGE):
            with _mapped():
                self._client.objects_api.delete_objects(
                    repo, branch, lakefs_sdk.PathList(paths=present[start : start + PAGE])
                )
        return missing

    def stat_object(self, repo: str, ref: str, path: str) -> Entry:
        with _mapped():
            return _entry(self._client.objects_api.stat_object(repo, ref, path))

    def get_object(
        self, repo: str, ref: str, path: str, *, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes]:
        """The request is made now (errors surface here); the bytes stream as iterated."""
        headers: dict[str, str] = {}
        if start is not None or end is not None:
            first = start or 0
            if end is not None and end <= first:
                return iter(())
            headers["Range"] = f"bytes={first}-{'' if end is None else end - 1}"
        answer = self._raw(
            "GET", f"/repositories/{repo}/refs/{ref}/objects", {"path": path}, headers
        )
        if isinstance(answer, ApiException):
            if answer.status == 416:
                return iter(())
            raise map_error(answer)
        return self._stream(answer)

    @staticmethod
    def _stream(response: Any) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK)
        finally:
            response.release_conn()

    def list_objects(
        self,
        repo: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Listing:
        with _mapped():
            page = self._client.objects_api.list_objects(
                repo,
                ref,
                prefix=prefix,
                delimiter=delimiter,
                after=after,
                amount=min(max(amount, 1), PAGE),
            )
        items: list[Entry | CommonPrefix] = [
            CommonPrefix(path=s.path) if s.path_type == "common_prefix" else _entry(s)
            for s in page.results
        ]
        return Listing(
            items=tuple(items),
            has_more=page.pagination.has_more,
            next_offset=page.pagination.next_offset if page.pagination.has_more else "",
        )

    def copy_object(
        self, repo: str, branch: str, src_path: str, dest_path: str, *, src_ref: str | None = None
    ) -> Entry:
        creation = lakefs_sdk.ObjectCopyCreation(
            src_path=src_path, src_ref=src_ref or branch, force=False, shallow=False
        )
        with _mapped():
            return _entry(self._client.objects_api.copy_object(repo, branch, dest_path, creation))

    # -- versions ----------------------------------------------------------------------------

    def commit(
        self,
        repo: str,
        branch: str,
        message: str,
        *,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        allow_empty: bool = False,
        date: int | None = None,
    ) -> Commit:
        """lakeFS records the authenticated user as committer; ``committer`` is not sent."""
        creation = lakefs_sdk.CommitCreation(
            message=message, metadata=dict(metadata or {}), allow_empty=allow_empty, date=date
        )
        with _mapped():
            return _commit(self._client.commits_api.commit(repo, branch, creation))

    def get_commit(self, repo: str, commit_id: str) -> Commit:
        with _mapped():
            return _commit(self._client.commits_api.get_commit(repo, commit_id))

    def log(
        self,
        repo: str,
        ref: str,
        *,
        amount: int = 100,
        after: str = "",
        objects: Sequence[str] = (),
        prefixes: Sequence[str] = (),
        first_parent: bool = False,
    ) -> list[Commit]:
        api = self._client.refs_api
        found = self._pages(
            lambda a, n: api.log_commits(
                repo,
                ref,
                after=a,
                amount=n,
                objects=list(objects) or None,
                prefixes=list(prefixes) or None,
                first_parent=first_parent,
            ),
            amount,
            after,
        )
        return [_commit(c) for c in found]

    def diff(
        self,
        repo: str,
        left_ref: str,
        right_ref: str,
        *,
        mode: DiffMode = "three_dot",
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> list[DiffEntry]:
        api = self._client.refs_api
        found = self._pages(
            lambda a, n: api.diff_refs(
                repo,
                left_ref,
                right_ref,
                after=a,
                amount=n,
                prefix=prefix,
                delimiter=delimiter,
                type=mode,
            ),
            amount,
            after,
        )
        return [_diff(d) for d in found]

    def diff_uncommitted(
        self,
        repo: str,
        branch: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 1000,
        delimiter: str = "",
    ) -> list[DiffEntry]:
        api = self._client.branches_api
        found = self._pages(
            lambda a, n: api.diff_branch(
                repo, branch, after=a, amount=n, prefix=prefix, delimiter=delimiter
            ),
            amount,
            after,
        )
        return [_diff(d) for d in found]

    def merge_base(self, repo: str, left_ref: str, right_ref: str) -> Commit:
        with _mapped():
            found = self._client.refs_api.find_merge_base(repo, right_ref, left_ref)
        return self.get_commit(repo, found.base_commit_id)

    def merge(
        self,
        repo: str,
        source_ref: str,
        dest_branch: str,
        *,
        message: str | None = None,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
        strategy: MergeStrategy | None = None,
        resolutions: Mapping[str, Literal["source", "dest"]] | None = None,
        allow_empty: bool = False,
        force: bool = False,
        squash: bool = False,
    ) -> Commit:
        """On 409, a three-dot diff lists the conflicts lakeFS's answer leaves out."""
        if resolutions:
            raise e.InvalidArgumentError(
                "lakeFS has no per-path conflict resolutions (lakeFS #3639)"
            )
        body = lakefs_sdk.Merge(
            message=message,
            metadata=dict(metadata or {}),
            strategy=strategy,
            force=force,
            allow_empty=allow_empty,
            squash_merge=squash,
        )
        try:
            result = self._client.refs_api.merge_into_branch(repo, source_ref, dest_branch, body)
        except ApiException as exc:
            error = map_error(exc)
            if isinstance(error, e.MergeConflictError):
                raise self._conflicts(repo, source_ref, dest_branch) from None
            raise error from None
        return self.get_commit(repo, result.reference)

    def _conflicts(self, repo: str, source_ref: str, dest_branch: str) -> e.MergeConflictError:
        entries = self.diff(repo, dest_branch, source_ref, mode="three_dot", amount=10**9)
        return e.MergeConflictError(sorted(d.path for d in entries if d.type == "conflict"))

    def revert(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        allow_empty: bool = False,
        force: bool = False,
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        creation = lakefs_sdk.RevertCreation(
            ref=ref,
            parent_number=parent_number,
            allow_empty=allow_empty,
            force=force,
            commit_overrides=_overrides(message, metadata),
        )
        with _mapped():
            self._client.branches_api.revert_branch(repo, branch, creation)
        return self.get_commit(repo, branch)

    def cherry_pick(
        self,
        repo: str,
        branch: str,
        ref: str,
        *,
        parent_number: int = 0,
        committer: str = "sartiq-storage",
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
    ) -> Commit:
        creation = lakefs_sdk.CherryPickCreation(
            ref=ref,
            parent_number=parent_number or None,
            force=force,
            commit_overrides=_overrides(message, metadata),
        )
        with _mapped():
            made = self._client.branches_api.cherry_pick(repo, branch, creation)
        return self.get_commit(repo, made.id)

    def resolve(self, repo: str, ref: str) -> str:
        return self.get_commit(repo, ref).id

    # -- tags --------------------------------------------------------------------------------

    def create_tag(self, repo: str, name: str, ref: str, *, force: bool = False) -> Tag:
        with _mapped():
            made = self._client.tags_api.create_tag(
                repo, lakefs_sdk.TagCreation(id=name, ref=ref, force=force)
            )
        return Tag(name=made.id, commit_id=made.commit_id)

    def get_tag(self, repo: str, name: str) -> Tag:
        with _mapped():
            ref = self._client.tags_api.get_tag(repo, name)
        return Tag(name=ref.id, commit_id=ref.commit_id)

    def list_tags(
        self, repo: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Tag]:
        api = self._client.tags_api
        found = self._pages(
            lambda a, n: api.list_tags(repo, prefix=prefix, after=a, amount=n), amount, after
        )
        return [Tag(name=r.id, commit_id=r.commit_id) for r in found]

    def delete_tag(self, repo: str, name: str) -> None:
        with _mapped():
            self._client.tags_api.delete_tag(repo, name)

    # -- administration ----------------------------------------------------------------------

    def import_prefix(
        self,
        repo: str,
        branch: str,
        source: str,
        destination: str,
        *,
        message: str,
        committer: str = "sartiq-storage",
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        """Start lakeFS's import job and wait for it (lakeFS's imports are asynchronous)."""
        creation = lakefs_sdk.ImportCreation(
            paths=[
                lakefs_sdk.ImportLocation(
                    type="common_prefix", path=source, destination=destination
                )
            ],
            commit=lakefs_sdk.CommitCreation(
                message=message,
                metadata=dict(metadata or {}),
                date=None,
                allow_empty=False,
                force=False,
            ),
        )
        api = self._client.import_api
        with _mapped():
            started = api.import_start(repo, branch, creation)
        deadline = time.monotonic() + self._import_timeout
        while True:
            with _mapped():
                status = api.import_status(repo, branch, started.id)
            if status.error is not None:
                raise e.InvalidArgumentError(f"import failed: {status.error.message}")
            if status.completed and status.commit is not None:
                return _commit(status.commit)
            if time.monotonic() > deadline:
                raise e.TooManyRetriesError(f"import {started.id} still running after the timeout")
            time.sleep(self._poll)

    def get_gc_rules(self, repo: str) -> GcRules:
        with _mapped():
            rules = self._client.repositories_api.get_gc_rules(repo)
        return GcRules(
            default_retention_days=rules.default_retention_days,
            branches={b.branch_id: b.retention_days for b in rules.branches},
        )

    def set_gc_rules(self, repo: str, rules: GcRules) -> None:
        body = lakefs_sdk.GarbageCollectionRules(
            default_retention_days=rules.default_retention_days,
            branches=[
                lakefs_sdk.GarbageCollectionRule(branch_id=b, retention_days=d)
                for b, d in rules.branches.items()
            ],
        )
        with _mapped():
            self._client.repositories_api.set_gc_rules(repo, body)

    def gc(self, repo: str, *, dry_run: bool = True, grace_seconds: int = 6 * 3600) -> GcReport:
        """lakeFS collects garbage in its own job (Spark, or lakeFS Cloud): not from here."""
        self.get_repository(repo)
        raise e.InvalidArgumentError(
            "garbage collection on lakeFS runs as lakeFS's own GC job; set the rules here"
        )

    def get_branch_protection(self, repo: str) -> list[str]:
        with _mapped():
            rules = self._client.repositories_api.get_branch_protection_rules(repo)
        return [r.pattern for r in rules]

    def set_branch_protection(self, repo: str, patterns: Sequence[str]) -> None:
        rules = [lakefs_sdk.BranchProtectionRule(pattern=p) for p in patterns]
        with _mapped():
            self._client.repositories_api.set_branch_protection_rules(repo, rules)
