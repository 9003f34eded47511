"""Multipart uploads for the in-process backends (local disk, memory): parts as files.

Layout under ``root``::

    <upload id>/upload.json         key, content type, cache control, when it started
    <upload id>/<nnnnn>-<md5>.part  one part: its number and its MD5 (the part's ETag)

A part is written to a temporary file in its upload's folder, fsynced, then renamed to its
final name, so a part is either whole or absent; an upload of the same number again replaces
it. Completing checks the client's list against the stored parts (S3's rules,
:func:`check_completion`) and streams the parts, in order, into the store's own atomic ``put``:
the object appears whole or not at all (replacing one at the key, as on S3), and memory
holds one chunk at a time. Incomplete uploads older than a day are removed by
:meth:`PartsFolder.abort_stale`, which the embedded sweep calls, as the bucket's lifecycle
aborts them on S3 and R2.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from sartiq_storage.adapters.stores._common import Md5Counter, SignedUrlMixin, iter_body
from sartiq_storage.adapters.stores.base import (
    DEFAULT_CHUNK,
    Body,
    ObjectInfo,
    PresignedRequest,
    PutResult,
)
from sartiq_storage.core.errors import InvalidUploadError, UploadNotFoundError
from sartiq_storage.core.multipart import (
    MAX_PART_BYTES,
    UploadedPart,
    check_completion,
    check_part_number,
)
from sartiq_storage.core.validation import validate_key

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"([0-9]{5})-([0-9a-f]{32})\.part")
_MANIFEST = "upload.json"

Put = Callable[..., PutResult]
"""The owning store's ``put(key, body, *, content_type, cache_control, if_absent)``."""


class PartsFolder:
    """The multipart uploads of one in-process store, each a folder of part files."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _folder(self, key: str, upload_id: str) -> Path:
        """The upload's folder, when it exists and is an upload to ``key``."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadNotFoundError(f"no multipart upload {upload_id!r}")
        folder = self.root / upload_id
        manifest = self._manifest(folder)
        if manifest is None or manifest.get("key") != key:
            raise UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}")
        return folder

    @staticmethod
    def _manifest(folder: Path) -> dict[str, object] | None:
        try:
            data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def create(self, key: str, *, content_type: str, cache_control: str | None) -> str:
        upload_id = uuid.uuid4().hex
        folder = self.root / upload_id
        folder.mkdir()
        manifest = {
            "key": key,
            "content_type": content_type,
            "cache_control": cache_control,
            "started": time.time(),
        }
        tmp = folder / f".{_MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, folder / _MANIFEST)
        return upload_id

    def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> UploadedPart:
        check_part_number(part_number)
        folder = self._folder(key, upload_id)
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        counter = Md5Counter()
        try:
            with open(tmp, "wb") as out:
                for chunk in iter_body(body):
                    counter.update(chunk)
                    if counter.size > MAX_PART_BYTES:
                        raise InvalidUploadError(f"a part is at most {MAX_PART_BYTES} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            final = folder / f"{part_number:05d}-{counter.etag}.part"
            os.replace(tmp, final)
        except FileNotFoundError:  # aborted meanwhile: the folder went away
            raise UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        # An earlier upload of the same number (other bytes, other name) is replaced.
        for entry in os.scandir(folder):
            match = _PART_FILE.fullmatch(entry.name)
            if match and int(match[1]) == part_number and entry.name != final.name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        return UploadedPart(part_number, counter.etag, counter.size)

    def _files(self, folder: Path) -> dict[int, tuple[UploadedPart, str]]:
        """Part number → (the part, its file); the newest file wins a replacement's race."""
        found: dict[int, tuple[UploadedPart, str, float]] = {}
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return {}
        for entry in entries:
            match = _PART_FILE.fullmatch(entry.name)
            if match is None:
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            number = int(match[1])
            known = found.get(number)
            if known is None or st.st_mtime > known[2]:
                found[number] = (
                    UploadedPart(number, match[2], st.st_size),
                    entry.path,
                    st.st_mtime,
                )
        return {n: (part, path) for n, (part, path, _) in found.items()}

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        folder = self._folder(key, upload_id)
        return [part for _, (part, _) in sorted(self._files(folder).items())]

    def complete(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]], put: Put
    ) -> PutResult:
        folder = self._folder(key, upload_id)
        manifest = self._manifest(folder) or {}
        files = self._files(folder)
        chosen = check_completion(parts, (part for part, _ in files.values()))
        paths = [files[part.part_number][1] for part in chosen]
        content_type = manifest.get("content_type")
        cache_control = manifest.get("cache_control")
        result = put(
            key,
            _chunks(paths),
            content_type=content_type if isinstance(content_type, str) else None,
            cache_control=cache_control if isinstance(cache_control, str) else None,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return result

    def abort(self, key: str, upload_id: str) -> None:
        try:
            folder = self._folder(key, upload_id)
        except UploadNotFoundError:
            return
        shutil.rmtree(folder, ignore_errors=True)

    def abort_stale(self, started_before: datetime, *, apply: bool = True) -> int:
        """Remove the uploads started before ``started_before`` (and stray folders)."""
        cutoff = started_before.timestamp()
        count = 0
        for entry in os.scandir(self.root):
            if not entry.is_dir(follow_symlinks=False):
                continue
            manifest = self._manifest(Path(entry.path))
            started = manifest.get("started") if manifest else None
            if not isinstance(started, int | float):
                with contextlib.suppress(FileNotFoundError):
                    started = entry.stat().st_mtime
            if isinstance(started, int | float) and started < cutoff:
                count += 1
                if apply:
                    shutil.rmtree(entry.path, ignore_errors=True)
        return count


def _chunks(paths: Sequence[str]) -> Iterator[bytes]:
    """The parts' bytes in order, a chunk at a time."""
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(DEFAULT_CHUNK):
                yield chunk


class InProcessMultipart(SignedUrlMixin):
    """S3's multipart protocol on a store that keeps its parts in a :class:`PartsFolder`;
    part URLs are signed by the service itself (``PART_ROUTE``), as object URLs are."""

    def _parts(self) -> PartsFolder:
        raise NotImplementedError

    def create_multipart(
        self, key: str, *, content_type: str, cache_control: str | None = None
    ) -> str:
        key = validate_key(key)
        return self._parts().create(key, content_type=content_type, cache_control=cache_control)

    def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> UploadedPart:
        return self._parts().upload_part(validate_key(key), upload_id, part_number, body)

    def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_total: int | None = None,
    ) -> PresignedRequest:
        key = validate_key(key)
        check_part_number(part_number)
        self._parts().list_parts(key, upload_id)  # the upload exists, and is one to this key
        signer = self._require_signer()
        grant = signer.grant(
            "PUT",
            key,
            expires_in=expires_in,
            upload_id=upload_id,
            part_number=part_number,
            max_length=max_total,  # the part route holds the parts to it (a full disk)
        )
        return PresignedRequest(signer.sign(grant), "PUT", {}, expires_in)

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        return self._parts().list_parts(validate_key(key), upload_id)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        key = validate_key(key)
        self._parts().complete(key, upload_id, parts, self.put)
        return self.head(key)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._parts().abort(validate_key(key), upload_id)

    def abort_stale_multipart(self, started_before: datetime, *, apply: bool = True) -> int:
        return self._parts().abort_stale(started_before, apply=apply)
