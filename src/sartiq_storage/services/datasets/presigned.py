"""The pre-signed data path: the client moves the bytes to and from the store, we sign and link.

As lakeFS: ``getPhysicalAddress`` hands out a fresh signed address under the namespace (and a
presigned PUT for it), ``linkPhysicalAddress`` stages an entry pointing at what was uploaded
there, the pre-signed multipart calls do the same for large objects in parts, and reads are
presigned GETs. The server never sees the bytes, so the entry's checksum is the store's ETag,
read when linking; unlike lakeFS (which trusts the client) a size or checksum that does not
match what the store holds is refused, so an entry never describes bytes it does not point at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.adapters.stores.base import (
    PresignedRequest,
    normalize_etag,
)
from sartiq_storage.core.config import MAX_SIGNED_PUT_BYTES
from sartiq_storage.core.datasets.errors import (
    InvalidArgumentError,
    NotSupportedError,
)
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.datasets.names import validate_path
from sartiq_storage.core.datasets.ranges import entry_to_record
from sartiq_storage.core.errors import (
    InvalidUploadError,
    ObjectNotFoundError,
    UploadNotFoundError,
)
from sartiq_storage.services.datasets.engine_base import EngineParts
from sartiq_storage.services.datasets.link_addresses import LinkAddresses
from sartiq_storage.services.datasets.object_ops import ObjectOperations
from sartiq_storage.services.datasets.records import RepoRecord

PRESIGN_SECONDS = 15 * 60
"""How long a presigned URL works: lakeFS's default ``pre_signed_expiry``."""
MAX_PARTS = 10_000
"""S3's (and so lakeFS's ``manager.MaxUploadParts``) limit on parts of one upload."""
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class StagingAddress:
    """Where a pre-signed write goes: ``address`` relative to the namespace (signed),
    ``physical_address`` as lakeFS shows it (namespace + address), ``key`` on the store."""

    address: str
    physical_address: str
    key: str


@dataclass(frozen=True, slots=True)
class MultipartStart:
    staging: StagingAddress
    upload_id: str
    part_urls: tuple[str, ...]


def _strip_etag(value: str) -> str:
    """lakeFS's ``StripQuotesAndSpaces``."""
    return value.strip().strip('"').strip()


class PresignedOperations(ObjectOperations, EngineParts):
    links: LinkAddresses

    # -- the one place that knows which store holds a repository's objects ----------------
    def _repo_store(self, r: RepoRecord) -> tuple[ObjectStore, str]:
        """The store and key prefix of ``r``'s namespace (its own bucket, the datasets folder,
        or the content store for repositories made before buckets of their own)."""
        return self.stores.resolve(r.namespace_key)

    def _staging(self, r: RepoRecord, address: str) -> StagingAddress:
        _store, prefix = self._repo_store(r)
        namespace = r.repository.storage_namespace.strip().rstrip("/")
        return StagingAddress(address, f"{namespace}/{address}", f"{prefix}/{address}")

    def _relative(self, r: RepoRecord, physical_address: str) -> str:
        """The address inside the namespace that ``physical_address`` names, else 400: only
        addresses we issued may be linked (lakeFS also links external ones; we refuse them)."""
        namespace = r.repository.storage_namespace.strip().rstrip("/") + "/"
        _store, prefix = self._repo_store(r)
        for start in (namespace, prefix + "/"):
            if physical_address.startswith(start):
                return physical_address[len(start) :]
        raise InvalidArgumentError("physical address must be relative to the storage namespace")

    # -- single objects --------------------------------------------------------------------
    def presign_upload(
        self, repo: str, branch: str, path: str, *, presign: bool = True
    ) -> tuple[StagingAddress, PresignedRequest | None]:
        """A new address for ``path`` on ``branch`` and, with ``presign``, a PUT URL for it.

        The write checks run now (lakeFS runs them only at link): no bytes should go to a
        read-only repository or a protected branch only to be refused afterwards."""
        r = self._staging_target(repo, branch)
        validate_path(path)
        staging = self._staging(r, self.links.issue(r, branch, path, self.clock()))
        if not presign:
            return staging, None
        store, _prefix = self._repo_store(r)
        request = store.presign_put(
            staging.key,
            content_type=None,
            expires_in=PRESIGN_SECONDS,
            # Create-only where the URL can say so (the embedded store), so a URL reused
            # after the link cannot change linked bytes; S3 would need the client to send
            # If-None-Match, which the SDKs do not.
            if_absent=store.signed_put_create_only,
            max_length=MAX_SIGNED_PUT_BYTES,
        )
        return staging, request

    def link_physical_address(
        self,
        repo: str,
        branch: str,
        path: str,
        physical_address: str,
        *,
        size: int,
        checksum: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        mtime: int | None = None,
        if_absent: bool = False,
    ) -> Entry:
        """Stage ``path`` as the object uploaded to ``physical_address`` (issued for it)."""
        r = self._staging_target(repo, branch)
        validate_path(path)
        address = self._relative(r, physical_address)
        self.links.verify(r, branch, path, address, self.clock())
        claimed = _strip_etag(checksum)
        if not claimed:
            raise InvalidArgumentError("checksum is required")
        store, prefix = self._repo_store(r)
        try:
            info = store.head(f"{prefix}/{address}")
        except ObjectNotFoundError:
            raise InvalidArgumentError(
                f"nothing was uploaded to {physical_address!r}: upload first, then link"
            ) from None
        if info.size != size:
            raise InvalidArgumentError(
                f"size_bytes {size} does not match the {info.size} bytes uploaded"
            )
        etag = normalize_etag(info.etag) or ""
        if claimed.lower() != etag.lower():
            raise InvalidArgumentError(
                f"checksum {claimed!r} does not match the uploaded object's ETag {etag!r}"
            )
        entry = Entry(
            path=path,
            address=address,
            size=info.size,
            checksum=etag,
            content_type=content_type or info.content_type or "application/octet-stream",
            mtime=mtime if mtime is not None else self._now(),
            metadata=dict(sorted((metadata or {}).items())),
        )
        if if_absent:
            self._stage_if_absent(r, branch, path, entry_to_record(entry))
        else:
            self._stage(r, branch, [(path, entry_to_record(entry))])
        return entry

    def presign_entry(self, repo: str, entry: Entry) -> PresignedRequest:
        """A GET URL for an entry's bytes (an imported one's on the store it was imported from)."""
        r = self.repos.get(repo)
        if entry.external:  # imported by reference: the source's own store and key
            store, key = self.stores.resolve(entry.address)
        else:
            store, prefix = self._repo_store(r)
            key = f"{prefix}/{entry.address}"
        return store.presign_get(key, expires_in=PRESIGN_SECONDS)

    def presign_download(self, repo: str, ref: str, path: str) -> tuple[Entry, PresignedRequest]:
        entry = self.stat_object(repo, ref, path)
        return entry, self.presign_entry(repo, entry)

    # -- multipart -------------------------------------------------------------------------
    @property
    def presign_multipart_supported(self) -> bool:
        """Whether new repositories' namespaces are on S3, where pre-signed multipart is."""
        return self.stores.scheme == "s3"

    def _multipart_store(self, r: RepoRecord) -> ObjectStore:
        """S3's multipart uploads, as lakeFS serves them on an S3 blockstore only; the embedded
        backend's parts (``docs/uploads.md``) are not offered here, as lakeFS's local
        blockstore offers none (501)."""
        store, _prefix = self._repo_store(r)
        if store.kind != "s3":
            raise NotSupportedError("presign multipart upload API is not supported")
        return store

    def create_multipart(self, repo: str, branch: str, path: str, parts: int) -> MultipartStart:
        r = self._staging_target(repo, branch)
        store = self._multipart_store(r)
        if not path:
            raise InvalidArgumentError("path is required")
        validate_path(path)
        if not 0 <= parts <= MAX_PARTS:
            raise InvalidArgumentError(f"parts can be between 0 and {MAX_PARTS}")
        staging = self._staging(r, self.links.issue(r, branch, path, self.clock()))
        upload_id = store.create_multipart(staging.key, content_type=OCTET_STREAM)
        urls = tuple(
            store.presign_upload_part(staging.key, upload_id, n, expires_in=PRESIGN_SECONDS).url
            for n in range(1, parts + 1)
        )
        return MultipartStart(staging, upload_id, urls)

    def _verified_upload(
        self, repo: str, branch: str, path: str, upload_id: str, physical_address: str
    ) -> tuple[RepoRecord, ObjectStore, StagingAddress]:
        r = self._staging_target(repo, branch)
        store = self._multipart_store(r)
        if not upload_id:
            raise InvalidArgumentError("upload_id is required")
        if not path:
            raise InvalidArgumentError("path is required")
        if not physical_address:
            raise InvalidArgumentError("physical_address is required")
        address = self._relative(r, physical_address)
        self.links.verify(r, branch, path, address, self.clock())
        return r, store, self._staging(r, address)

    def complete_multipart(
        self,
        repo: str,
        branch: str,
        path: str,
        upload_id: str,
        physical_address: str,
        parts: Sequence[tuple[int, str]],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Entry:
        if not parts:
            raise InvalidArgumentError("parts are required")
        r, store, staging = self._verified_upload(repo, branch, path, upload_id, physical_address)
        try:
            info = store.complete_multipart(staging.key, upload_id, parts)
        except (InvalidUploadError, UploadNotFoundError) as exc:
            raise InvalidArgumentError(f"the store refused the upload: {exc}") from None
        entry = Entry(
            path=path,
            address=staging.address,
            size=info.size,
            checksum=normalize_etag(info.etag) or "",
            content_type=content_type or OCTET_STREAM,
            mtime=self._now(),
            metadata=dict(sorted((metadata or {}).items())),
        )
        self._stage(r, branch, [(path, entry_to_record(entry))])
        return entry

    def abort_multipart(
        self, repo: str, branch: str, path: str, upload_id: str, physical_address: str
    ) -> None:
        _r, store, staging = self._verified_upload(repo, branch, path, upload_id, physical_address)
        try:
            store.list_parts(staging.key, upload_id)  # an unknown upload is refused, as on S3
            store.abort_multipart(staging.key, upload_id)
        except (InvalidUploadError, UploadNotFoundError) as exc:
            raise InvalidArgumentError(f"the store refused the abort: {exc}") from None
