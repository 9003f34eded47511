"""The embedded default: objects as files under a data folder.

Layout under ``root``::

    objects/<key>.       the bytes
    meta/<hh>/<sha256>   content type, cache control, ETag and size (a JSON sidecar), named by
                         the SHA-256 of the key in 256 fixed buckets, so a write makes no folder
    tmp/                 files being written; renamed into place when complete
    multipart/           multipart uploads in progress, a folder each (``_parts.py``)

Why the trailing dot: a key segment never ends in one (:func:`validate_key` forbids it), so a
file ``a.`` and a folder ``a/`` can sit side by side. The keys ``a`` and ``a/b`` can then both
exist, exactly as on S3.

Guarantees:

* **Atomic writes.** Bytes go to ``tmp/`` and are fsynced, then renamed into place, so a crash
  leaves either the old object or the new one, never half of one. Create-only writes use a
  hard link, which fails if the key exists, so two writers cannot both win.
* **No escape.** Keys pass :func:`validate_key`, and the resolved path must lie inside
  ``objects/`` (symlinks are not followed out of it). A key with a segment over 254 UTF-8
  bytes, which no file system here can name, is refused as invalid (S3 and R2 accept it).
* **Sorted listing.** Keys come back in the same lexicographic order S3 uses, which the
  orphan scanner's sorted merge relies on. Memory grows with the largest single folder
  (its names, about 100 bytes an entry).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sartiq_storage.adapters.stores._common import Md5Counter, iter_body
from sartiq_storage.adapters.stores._parts import InProcessMultipart, PartsFolder
from sartiq_storage.adapters.stores.base import (
    DEFAULT_CHUNK,
    SOURCE_CHANGED,
    Body,
    ObjectInfo,
    ObjectStream,
    PutResult,
    resolve_range,
)
from sartiq_storage.core.errors import (
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
)
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.validation import validate_key, validate_prefix

_STALE_TMP_SECONDS = 3600
_FOLDER_RACES = 8
"""Times a write makes its folder again after a concurrent delete pruned it."""
_MAX_SEGMENT_BYTES = 254  # NAME_MAX (255) less the trailing dot every object file carries


def _blocked(folder: str) -> bool:
    """Whether something other than a folder stands at ``folder`` or on its way."""
    while folder and folder != os.path.dirname(folder):
        if os.path.lexists(folder) and not os.path.isdir(folder):
            return True
        folder = os.path.dirname(folder)
    return False


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalStore(InProcessMultipart):
    """Objects on the local file system, safe against crashes and traversal."""

    kind = "local"

    def __init__(self, root: str | os.PathLike[str], *, signer: UrlSigner | None = None) -> None:
        self.root = Path(root).expanduser().absolute()
        self.objects = self.root / "objects"
        self.meta = self.root / "meta"
        self.tmp = self.root / "tmp"
        for folder in (self.objects, self.meta, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._real_objects = Path(os.path.realpath(self.objects))
        self._real_objects_str = str(self._real_objects)
        self._objects_str, self._meta_str, self._tmp_str = map(
            str, (self.objects, self.meta, self.tmp)
        )
        self.signer = signer
        self._multipart = PartsFolder(self.root / "multipart")
        self._clean_stale_tmp()

    @property
    def description(self) -> str:
        return f"local disk at {self.root}"

    def _parts(self) -> PartsFolder:
        return self._multipart

    def _clean_stale_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for entry in os.scandir(self.tmp):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)

    # -- paths -----------------------------------------------------------------------------
    # Paths are plain strings inside the store: pathlib's object per join costs more than the
    # file system calls themselves on the ingest path.

    def _path(self, key: str) -> tuple[str, str]:
        key = validate_key(key)
        if len(key) > _MAX_SEGMENT_BYTES // 4 and any(
            len(segment.encode("utf-8")) > _MAX_SEGMENT_BYTES for segment in key.split("/")
        ):
            # The file system's own limit (255 bytes a name, our trailing dot included): refused
            # here as a bad key rather than failing later as an OSError (a 500).
            raise InvalidKeyError(
                key, f"a path segment over {_MAX_SEGMENT_BYTES} bytes (local disk limit)"
            )
        path = f"{self._objects_str}/{key}."
        if self._has_symlink(key):  # rare: only then is the full resolution needed
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(self._real_objects) or real == self._real_objects:
                raise InvalidKeyError(key, "resolves outside the storage root")
        return key, path

    def _has_symlink(self, key: str) -> bool:
        """Whether a component of the key's path below ``objects/`` is a symlink.

        A valid key has no ``..`` and no empty segment, so only a symlink can lead out of
        the root. Checking the key's own components (``realpath`` would also walk every
        folder above the root, on every call) keeps the hot path to a few ``lstat`` calls.
        """
        current = self._real_objects_str
        for segment in f"{key}.".split("/"):
            current = f"{current}/{segment}"
            try:
                mode = os.lstat(current).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return False  # nothing further down exists, so nothing can be followed
            if stat.S_ISLNK(mode):
                return True
        return False

    def _meta_path(self, key: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return f"{self._meta_str}/{digest[:2]}/{digest}"

    def _tmp_path(self, suffix: str = "") -> str:
        return f"{self._tmp_str}/{uuid.uuid4().hex}{suffix}"

    def _read_meta(self, key: str, size: int) -> dict[str, object]:
        try:
            with open(self._meta_path(key), encoding="utf-8") as handle:
                meta = json.loads(handle.read())
        except (OSError, ValueError):
            return {}
        # A sidecar from an interrupted overwrite describes other bytes: ignore it.
        return meta if isinstance(meta, dict) and meta.get("size") == size else {}

    def _info(self, key: str, path: str, st: os.stat_result | None = None) -> ObjectInfo:
        if st is None:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectNotFoundError(key) from None
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFoundError(key)
        meta = self._read_meta(key, st.st_size)
        etag = meta.get("etag")
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=etag if isinstance(etag, str) else None,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            content_type=_opt_str(meta.get("content_type")),
            cache_control=_opt_str(meta.get("cache_control")),
        )

    # -- writes ----------------------------------------------------------------------------

    def _write_tmp(self, body: Body) -> tuple[str, Md5Counter]:
        tmp = self._tmp_path()
        counter = Md5Counter()
        try:
            with open(tmp, "wb") as out:
                for chunk in iter_body(body):
                    counter.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            _unlink(tmp)
            raise
        return tmp, counter

    def _write_meta(self, key: str, meta: dict[str, object]) -> None:
        target = self._meta_path(key)
        tmp = self._tmp_path(".json")
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(json.dumps(meta))
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # its bucket folder is missing: made once, then reused
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(tmp, target)

    def _commit(
        self, key: str, path: str, tmp: str, meta: dict[str, object], *, if_absent: bool
    ) -> None:
        """Move a finished temp file to its key: the single step that publishes the object.

        A delete of the last object in a folder prunes it (and its empty parents) at any
        moment, so the folder made here may be gone again by the time the file moves in:
        made again, and the move retried (a signed PUT beside a deletion was a 500)."""
        parent = os.path.dirname(path)
        # The sidecar goes first; it names the size, so it is ignored until the bytes match.
        self._write_meta(key, meta)
        try:
            for attempt in range(_FOLDER_RACES + 1):
                self._make_folder(key, parent)
                try:
                    if if_absent:
                        os.link(tmp, path)
                    else:
                        os.replace(tmp, path)
                    break
                except FileExistsError:
                    raise PreconditionFailedError(key) from None
                except FileNotFoundError:
                    if attempt == _FOLDER_RACES or not os.path.exists(tmp):
                        raise
        except BaseException:
            _unlink(tmp)
            raise
        if if_absent:
            _unlink(tmp)  # the object is its link now
        _fsync_dir(parent)

    @staticmethod
    def _make_folder(key: str, parent: str) -> None:
        """``parent`` made, whatever a concurrent pruning removes meanwhile."""
        for _ in range(_FOLDER_RACES):
            if os.path.isdir(parent):
                return
            try:
                os.makedirs(parent, exist_ok=True)
                return
            except FileNotFoundError:
                continue  # a folder on the way pruned mid-way
            except (FileExistsError, NotADirectoryError):
                if _blocked(parent):
                    raise InvalidKeyError(
                        key, "a stray file under the data folder blocks it"
                    ) from None
        os.makedirs(parent, exist_ok=True)

    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        key, path = self._path(key)
        if if_absent and os.path.exists(path):
            raise PreconditionFailedError(key)
        tmp, counter = self._write_tmp(body)
        meta: dict[str, object] = {
            "etag": counter.etag,
            "size": counter.size,
            "content_type": content_type,
            "cache_control": cache_control,
        }
        self._commit(key, path, tmp, meta, if_absent=if_absent)
        return PutResult(key, counter.etag, counter.size)

    def copy(
        self,
        source: str,
        destination: str,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        if_absent: bool = False,
        source_info: ObjectInfo | None = None,
    ) -> ObjectInfo:
        source, source_path = self._path(source)
        destination, dest_path = self._path(destination)
        if if_absent and os.path.exists(dest_path):
            raise PreconditionFailedError(destination)
        linked = self._link_copy(source, source_path)
        if linked is not None:
            tmp, info = linked
            etag, size = info.etag, info.size
        else:
            info = self._info(source, source_path)
            with open(source_path, "rb") as src:
                tmp, counter = self._write_tmp(src)
            etag, size = counter.etag, counter.size
        if source_info is not None and source_info.etag not in (None, etag):
            _unlink(tmp)
            raise PreconditionFailedError(source, SOURCE_CHANGED)
        replace_meta = content_type is not None or cache_control is not None
        meta: dict[str, object] = {
            "etag": etag,
            "size": size,
            "content_type": content_type if replace_meta else info.content_type,
            "cache_control": cache_control if replace_meta else info.cache_control,
        }
        self._commit(destination, dest_path, tmp, meta, if_absent=if_absent)
        if linked is not None:  # the linked inode is the new object: no need to look again
            return ObjectInfo(
                key=destination,
                size=size,
                etag=etag,
                last_modified=info.last_modified,
                content_type=_opt_str(meta["content_type"]),
                cache_control=_opt_str(meta["cache_control"]),
            )
        return self._info(destination, dest_path)

    def _link_copy(self, key: str, path: str) -> tuple[str, ObjectInfo] | None:
        """A zero-copy copy: a second hard link to the source's inode, as a temp file.

        Safe because no object file is ever written in place (every write is a new file
        renamed over the key), so an inode's bytes never change. The sidecar's ETag is used
        only if the key still names the linked inode afterwards; otherwise, or when the
        filesystem refuses links, the caller copies the bytes.
        """
        tmp = self._tmp_path()
        try:
            os.link(path, tmp)
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        except OSError:
            return None
        try:
            linked = os.stat(tmp)
            info = self._info(key, path, linked)  # the linked inode's size
            current = os.stat(path)
        except BaseException:
            _unlink(tmp)
            raise
        if (linked.st_ino, linked.st_dev) != (current.st_ino, current.st_dev) or not info.etag:
            _unlink(tmp)
            return None
        # A copy is a new object, as on S3: its last-modified is now, so grace periods that
        # protect fresh objects (the orphan scan's) start at the copy. The source shares the
        # inode and so looks fresh too, which only delays its expiry.
        os.utime(tmp)
        return tmp, replace(info, last_modified=datetime.now(UTC))

    def delete(self, key: str) -> None:
        key, path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            return
        _unlink(self._meta_path(key))
        self._prune_empty_parents(os.path.dirname(path), self._objects_str)

    @staticmethod
    def _prune_empty_parents(folder: str, stop: str) -> None:
        while folder != stop and folder.startswith(f"{stop}/"):
            try:
                os.rmdir(folder)
            except OSError:
                return
            folder = os.path.dirname(folder)

    # -- reads -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        key, path = self._path(key)
        return self._info(key, path)

    def file_path(self, key: str) -> str:
        """The file holding ``key``'s bytes (validated, inside the root), for a server that
        sends files itself (the derivative fast path); the object may not exist."""
        return self._path(key)[1]

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> ObjectStream:
        key, path = self._path(key)
        try:
            handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the stream
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFoundError(key) from None
        try:  # the open file's own size and date, even if the key is replaced meanwhile
            info = self._info(key, path, os.fstat(handle.fileno()))
            lo, hi = resolve_range(info.size, start, end)
        except BaseException:
            handle.close()
            raise
        handle.seek(lo)

        def chunks() -> Iterator[bytes]:
            remaining = hi - lo
            while remaining > 0:
                chunk = handle.read(min(DEFAULT_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

        return ObjectStream(
            info, chunks(), (lo, hi), close=[handle], whole=lambda: handle.read(hi - lo)
        )

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        prefix = validate_prefix(prefix)
        yield from self._walk(self.objects, "", prefix, start_after)

    def _walk(
        self, folder: str | Path, rel: str, prefix: str, start_after: str | None
    ) -> Iterator[ObjectInfo]:
        # Folders sort as "name/" and files "name." as "name": S3's byte-wise key order. Only
        # these names are held while a folder is walked, not its directory entries: a folder
        # of a million objects (``media/``) held as entries was over half a gigabyte.
        try:
            with os.scandir(folder) as found:
                names = [
                    entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name[:-1]
                    for entry in found
                    if entry.name.endswith(".") or entry.is_dir(follow_symlinks=False)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
        names.sort()
        for sort_name in names:
            key = rel + sort_name
            if sort_name.endswith("/"):
                # Descend only into folders that can hold keys matching the prefix.
                if not (key.startswith(prefix) or prefix.startswith(key)):
                    continue
                if start_after is not None and not (
                    key > start_after or start_after.startswith(key)
                ):
                    continue
                path = os.path.join(folder, sort_name[:-1])
                yield from self._walk(path, key, prefix, start_after)
            elif key.startswith(prefix):
                if start_after is not None and key <= start_after:
                    continue
                try:
                    st = os.lstat(os.path.join(folder, sort_name + "."))
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    # Like an S3 listing: size and date, no content type (no sidecar read).
                    yield ObjectInfo(
                        key=key,
                        size=st.st_size,
                        etag=None,
                        last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
                    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
