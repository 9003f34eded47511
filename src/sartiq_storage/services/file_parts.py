"""A local file to a key in parts, resumable: what ``sartiq-storage put`` does for big files.

The upload id and the parts done so far are kept in a small JSON state file, rewritten
atomically after every part. Run again after a crash, a Ctrl-C or a dropped network, the same
command finds the state, asks the store which parts it really holds (the store is the truth:
a part written but not yet recorded is found too), and sends only the rest. A state whose file
changed since (size or modification time) is not resumed: its upload is aborted and a new one
started. A state whose upload is gone (completed, aborted, or past the bucket's one-day abort
rule) starts over too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sartiq_storage.adapters.stores import ObjectInfo, ObjectStore
from sartiq_storage.core.errors import PreconditionFailedError, UploadNotFoundError
from sartiq_storage.core.multipart import part_size_for, parts_needed

Progress = Callable[[int], None]
"""Called with the bytes of each part as it is stored (and of those already stored)."""


@dataclass(slots=True)
class PartState:
    """What the state file holds."""

    source: str
    size: int
    mtime_ns: int
    key: str
    upload_id: str
    part_size: int
    done: dict[int, str] = field(default_factory=dict)
    """Part number → ETag."""

    def to_json(self) -> str:
        data = {
            "source": self.source,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "key": self.key,
            "upload_id": self.upload_id,
            "part_size": self.part_size,
            "done": {str(n): etag for n, etag in sorted(self.done.items())},
        }
        return json.dumps(data, indent=1)

    @classmethod
    def read(cls, path: Path) -> PartState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                source=str(data["source"]),
                size=int(data["size"]),
                mtime_ns=int(data["mtime_ns"]),
                key=str(data["key"]),
                upload_id=str(data["upload_id"]),
                part_size=int(data["part_size"]),
                done={int(n): str(e) for n, e in dict(data.get("done", {})).items()},
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class PartUploadResult:
    info: ObjectInfo
    parts: int
    resumed_parts: int
    """Parts a previous run had already stored."""


def state_path(folder: Path, source: Path, key: str) -> Path:
    """Where the state of uploading ``source`` to ``key`` is kept (one file per pair)."""
    digest = hashlib.sha256(f"{source.resolve()}\0{key}".encode()).hexdigest()[:32]
    return folder / f"{digest}.json"


def _write_state(path: Path, state: PartState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json(), encoding="utf-8")
    os.replace(tmp, path)


class FilePartUpload:
    """One file's upload in parts, with its state file."""

    def __init__(
        self,
        store: ObjectStore,
        source: Path,
        key: str,
        *,
        state_file: Path,
        content_type: str,
        cache_control: str | None = None,
        part_size: int,
        concurrency: int = 4,
    ) -> None:
        self.store = store
        self.source = source
        self.key = key
        self.state_file = state_file
        self.content_type = content_type
        self.cache_control = cache_control
        self.preferred_part_size = part_size
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()

    def _fresh(self, size: int, mtime_ns: int) -> PartState:
        upload_id = self.store.create_multipart(
            self.key, content_type=self.content_type, cache_control=self.cache_control
        )
        state = PartState(
            source=str(self.source.resolve()),
            size=size,
            mtime_ns=mtime_ns,
            key=self.key,
            upload_id=upload_id,
            part_size=part_size_for(size, self.preferred_part_size),
        )
        _write_state(self.state_file, state)
        return state

    def _resumable(self, size: int, mtime_ns: int, resume: bool) -> PartState | None:
        """The previous run's state with the parts the store holds, or None to start anew."""
        state = PartState.read(self.state_file)
        if state is None:
            return None
        same_file = (state.size, state.mtime_ns, state.key) == (size, mtime_ns, self.key)
        if not (resume and same_file):
            with contextlib.suppress(UploadNotFoundError, PreconditionFailedError):
                self.store.abort_multipart(state.key, state.upload_id)
            return None
        try:
            stored = self.store.list_parts(self.key, state.upload_id)
        except UploadNotFoundError:
            return None
        state.done = {p.part_number: p.etag for p in stored}
        return state

    def run(self, *, resume: bool = True, progress: Progress | None = None) -> PartUploadResult:
        st = self.source.stat()
        state = self._resumable(st.st_size, st.st_mtime_ns, resume)
        if state is None:
            state = self._fresh(st.st_size, st.st_mtime_ns)
        total = parts_needed(state.size, state.part_size)
        resumed = sum(1 for n in state.done if n <= total)
        if progress is not None:
            for number in state.done:
                if number <= total:
                    progress(self._length(state, number))
        missing = [n for n in range(1, total + 1) if n not in state.done]
        with open(self.source, "rb") as handle, ThreadPoolExecutor(self.concurrency) as pool:
            fd = handle.fileno()
            futures = [pool.submit(self._send, fd, state, n, progress) for n in missing]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()  # the parts under way finish; the rest wait for a rerun
                raise
        parts = [(n, state.done[n]) for n in range(1, total + 1)]
        info = self.store.complete_multipart(self.key, state.upload_id, parts)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        return PartUploadResult(info, total, resumed)

    @staticmethod
    def _length(state: PartState, number: int) -> int:
        start = (number - 1) * state.part_size
        return max(0, min(state.part_size, state.size - start))

    def _send(self, fd: int, state: PartState, number: int, progress: Progress | None) -> None:
        length = self._length(state, number)
        data = os.pread(fd, length, (number - 1) * state.part_size)
        if len(data) != length:
            raise OSError(f"{self.source} changed while it was being uploaded")
        part = self.store.upload_part(self.key, state.upload_id, number, data)
        with self._lock:
            state.done[number] = part.etag
            _write_state(self.state_file, state)
        if progress is not None:
            progress(length)
