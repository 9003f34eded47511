"""The ingest pipeline: verify, then match or promote, then record (``docs/media.md``).

1. resolve the URL to a key under an allowed prefix; a source already ingested returns the
   resource it became (idempotent retries, even after the upload is gone);
2. :mod:`.verification`: one GET; missing → 410, over the size limit → 413; sniff the real
   type, hash, read metadata, rewrite a photo that carries any; the dominant colour starts
   decoding on a thread of its own;
3. :mod:`.promotion`: a dedup hit reuses the existing resource; a miss is copied
   create-only to ``media/{id}/file.{ext}`` and confirmed, while the colour decodes (pixels
   that do not decode then remove the copy: no row names it yet);
4. :mod:`.recording`: one transaction inserts the resource, the ingestion record, the
   attachment and the outbox row for the source; after the commit the source is deleted.

A crash after the copy and before the commit leaves only an unreferenced ``media/`` object,
which the orphan scanner removes after its grace period; no row ever points at a missing
object, because rows are written only after the copy is confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaIngestion, MediaResource
from sartiq_storage.adapters.db.transactions import run_transaction
from sartiq_storage.adapters.stores import ObjectStore
from sartiq_storage.core.errors import (
    ConflictError,
    ObjectNotFoundError,
    UnsupportedMediaError,
    UploadMissingError,
)
from sartiq_storage.core.keys import MediaKey
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media import promotion
from sartiq_storage.services.media.attachments import Attachments
from sartiq_storage.services.media.grouping import RecordGroups
from sartiq_storage.services.media.model import (
    IMMUTABLE,
    AttachTo,
    IngestResult,
    MediaInput,
    MediaSettings,
    slot_of,
)
from sartiq_storage.services.media.promotion import Known, Prepared
from sartiq_storage.services.media.recording import Recorder, Unconfirmed, new_resource
from sartiq_storage.services.media.verification import (
    Upload,
    Verified,
    verify,
    verify_or_stream,
    with_colour,
)

_A = TypeVar("_A")
_R = TypeVar("_R")


def _outcome(step: Callable[[_A], _R], argument: _A) -> _R | Exception:
    """Run one item's step of a batch, keeping its error as its result."""
    try:
        return step(argument)
    except Exception as exc:  # noqa: BLE001 - reported by the batch, item by item
        return exc


def _unsettled(outcome: object) -> Exception:
    """A step left unfinished is a bug; say so for that item instead of dropping it."""
    return RuntimeError(f"batch item left unsettled: {type(outcome).__name__}")


def _map_outcomes(
    pool: ThreadPoolExecutor | None, step: Callable[[_A], _R], arguments: Sequence[_A]
) -> list[_R | Exception]:
    """Each argument's :func:`_outcome`, on the pool's threads when there is one."""
    if pool is None:
        return [_outcome(step, argument) for argument in arguments]
    return list(pool.map(lambda argument: _outcome(step, argument), arguments))


def _follower_slot_reused(
    outcomes: Sequence[object], items: Sequence[tuple[MediaInput, AttachTo]]
) -> bool:
    """Whether an item after a follower (a ``Verified`` left to match its leader once the
    batch is recorded) targets the follower's slot, which recording it last would steal."""
    last = {slot_of(target): i for i, (_, target) in enumerate(items)}
    return any(
        isinstance(outcome, Verified) and last[slot_of(items[i][1])] > i
        for i, outcome in enumerate(outcomes)
    )


class Ingestion:
    """Runs the steps for one upload, a batch of them, or a key already in the bucket."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        urls: UrlResolver,
        settings: MediaSettings,
        attachments: Attachments,
        recorder: Recorder,
    ) -> None:
        self.db = db
        self.store = store
        self.urls = urls
        self.settings = settings
        self.attachments = attachments
        self.recorder = recorder
        self.groups = RecordGroups(recorder)

    def ingest(self, media: MediaInput, target: AttachTo) -> IngestResult:
        """Ingest one MediaInput for one slot of one entity."""
        if media.media_resource_id is not None:
            return self.attachments.attach_existing(media.media_resource_id, target)
        assert media.url is not None
        key = self.urls.key_from_url(media.url, prefix="temp/")
        return self.ingest_key(key, target, hints=media)

    def ingest_all(
        self, items: Sequence[tuple[MediaInput, AttachTo]], *, concurrency: int = 1
    ) -> list[IngestResult]:
        """Ingest several inputs, pipelined (see ``MediaResourceService.ingest_all``)."""
        outcomes = self.ingest_each(items, concurrency=concurrency)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return [o for o in outcomes if isinstance(o, IngestResult)]

    def ingest_each(
        self, items: Sequence[tuple[MediaInput, AttachTo]], *, concurrency: int = 1
    ) -> list[IngestResult | Exception]:
        """Each item's result or error, in item order: the batch pipeline of ``ingest_all``
        without raising, for callers that answer item by item (the batch HTTP route)."""
        if len(items) <= 1:
            return [_outcome(lambda item: self.ingest(*item), item) for item in items]

        # Bytes seen twice in one batch: the first (the leader) is promoted and recorded with
        # the batch; the others wait for it and then match it as a plain hit. Promoting both
        # would make the batch's transaction trip over its own unique content hash.
        def verify_item(item: tuple[MediaInput, AttachTo]) -> Verified | IngestResult:
            media, target = item
            if media.media_resource_id is not None:
                return self.attachments.attach_existing(media.media_resource_id, target)
            assert media.url is not None
            key = self.urls.key_from_url(media.url, prefix="temp/")
            return self.verify_upload(key, target, media, colour_later=True)

        workers = min(max(concurrency, 1), len(items))
        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        try:
            outcomes: list[Prepared | Verified | IngestResult | Exception]
            outcomes = list(_map_outcomes(pool, verify_item, items))
            leaders: dict[tuple[str, int], int] = {}
            for i, outcome in enumerate(outcomes):
                if isinstance(outcome, Verified):
                    leaders.setdefault((outcome.md5, outcome.size), i)
            known = promotion.known_many(self.db, [md5 for md5, _ in leaders])

            def match(i: int) -> Prepared:
                verified = outcomes[i]
                assert isinstance(verified, Verified)
                return self.match(verified, items[i][1], known=known.get(verified.md5, []))

            order = list(leaders.values())
            for i, matched in zip(order, _map_outcomes(pool, match, order), strict=True):
                outcomes[i] = matched if isinstance(matched, Exception) else self.coloured(matched)
        finally:
            if pool is not None:
                pool.shutdown()
        pending = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, Prepared)]
        if pending and not _follower_slot_reused(outcomes, items):
            try:
                recorded = self.recorder.record([o for _, o in pending])
            except (Unconfirmed, ConflictError):
                recorded = [None] * len(pending)  # settled one by one below
            for (i, _), result in zip(pending, recorded, strict=True):
                if result is not None:
                    outcomes[i] = result
        # The rest, one by one in item order: followers (their leader is recorded now), and
        # every item when a follower recorded last would take a slot from a later item.
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, Prepared):
                outcomes[i] = _outcome(self.finish, outcome)
            elif isinstance(outcome, Verified):
                outcomes[i] = _outcome(self.finish_follower, (outcome, items[i][1]))
        return [o if isinstance(o, IngestResult | Exception) else _unsettled(o) for o in outcomes]

    def ingest_key(
        self, key: str, target: AttachTo | None, *, hints: MediaInput | None
    ) -> IngestResult:
        """Every step for one source key: verify, match or promote, record."""
        verified = self.unless_ingested(
            key,
            target,
            lambda: verify_or_stream(self.store, key, self.settings, hints, colour_later=True),
        )
        if isinstance(verified, IngestResult):
            return verified
        if isinstance(verified, Upload):  # a big video: copied while it is hashed and probed
            promoted = promotion.promote_streaming(
                self.store, verified, self.settings, hints, target
            )
            return self.finish(self.match(promoted.verified, target, promoted=promoted))
        return self.finish(self.match(verified, target))

    def verify_upload(
        self,
        key: str,
        target: AttachTo | None,
        hints: MediaInput | None,
        *,
        colour_later: bool = False,
    ) -> Verified | IngestResult:
        """Verify ``key``; if it is gone because an earlier attempt took it, what it became.

        ``colour_later``: the dominant colour is left decoding (``Verified.colour``) for
        :meth:`coloured`."""
        return self.unless_ingested(
            key,
            target,
            lambda: verify(self.store, key, self.settings, hints, colour_later=colour_later),
        )

    def unless_ingested(
        self, key: str, target: AttachTo | None, check: Callable[[], _R]
    ) -> _R | IngestResult:
        """``check()`` of ``key``; if the upload is gone because an earlier attempt took it,
        what it became instead."""
        try:
            return check()
        except UploadMissingError:
            done = self.previously_ingested(key, target)
            if done is not None:
                return done
            raise

    def match(
        self,
        verified: Verified,
        target: AttachTo | None,
        *,
        promoted: Prepared | None = None,
        known: list[Known] | None = None,
    ) -> Prepared:
        """:func:`promotion.match`, looking the MD5 up first unless ``known`` is given."""
        if known is None:
            known = promotion.known_many(self.db, [verified.md5]).get(verified.md5, [])
        return promotion.match(self.store, verified, target, known, promoted=promoted)

    def coloured(self, prepared: Prepared) -> Prepared | Exception:
        """``prepared`` with its dominant colour, once decoded; pixels that do not decode
        refuse the upload (the error is returned), and the copy promoted for it meanwhile is
        removed: no row names it yet."""
        try:
            return replace(prepared, verified=with_colour(prepared.verified))
        except Exception as exc:  # noqa: BLE001 - the item's outcome; the copy goes first
            if prepared.canonical is not None and prepared.verified.colour is not None:
                promotion.discard(self.store, prepared.canonical)
            return exc

    def finish(self, prepared: Prepared) -> IngestResult:
        """Record one prepared ingest, settling what changed since it was prepared."""
        coloured = self.coloured(prepared)
        if isinstance(coloured, Exception):
            raise coloured
        prepared = coloured
        for _ in range(4):
            try:
                # Concurrent single calls share a transaction (``grouping``).
                result = self.groups.record(prepared)
            except Unconfirmed:  # a concurrent winner whose bytes need a look
                result = None
            if result is not None:
                return result
            # Meanwhile a hit vanished, or a winner needs confirming: look again.
            prepared = self.match(prepared.verified, prepared.target, promoted=prepared)
        raise ConflictError(f"{prepared.verified.key}: the matching resource kept changing")

    def finish_follower(self, follower: tuple[Verified, AttachTo]) -> IngestResult:
        verified, target = follower
        try:
            return self.finish(self.match(verified, target))
        except ObjectNotFoundError:
            # The same upload twice in one batch: the leader took it and its source is gone.
            done = self.previously_ingested(verified.key, target)
            if done is None:
                raise
            return done

    def previously_ingested(self, key: str, target: AttachTo | None) -> IngestResult | None:
        """What ``key`` became on an earlier ingest (attached to ``target`` now), if any."""

        def work(session: Session) -> IngestResult | None:
            record = session.get(MediaIngestion, key)
            if record is None:
                return None
            resource = session.get(MediaResource, record.media_resource_id)
            if resource is None:
                return None
            attachment = self.attachments.attach(session, resource, target) if target else None
            return IngestResult(resource, attachment, created=False)

        return run_transaction(self.db, work)

    def register_canonical(self, key: MediaKey, target: AttachTo | None) -> IngestResult:
        """Register an object already at its canonical key, in place (no copy)."""
        existing = self.previously_ingested(key.key, target)
        if existing is not None:
            return existing
        verified = verify(self.store, key.key, self.settings)
        if verified.kind.extension != key.extension.lower():
            raise UnsupportedMediaError(
                f"{key.key} holds {verified.kind.content_type}, not .{key.extension}"
            )
        if verified.payload is not None:  # registered in place: the cleaned bytes replace it
            self.store.put(
                key.key,
                verified.payload,
                content_type=verified.kind.content_type,
                cache_control=IMMUTABLE,
            )

        def work(session: Session) -> IngestResult:
            self.attachments.lock_slots(session, [target])
            duplicate = session.scalar(
                select(MediaResource).where(MediaResource.content_hash == verified.md5)
            )
            if duplicate is not None and duplicate.id != key.resource_id:
                raise ConflictError(
                    f"the same bytes are already media resource {duplicate.id}; reuse it"
                )
            resource = session.get(MediaResource, key.resource_id)
            created = resource is None
            if resource is None:
                resource = new_resource(key.resource_id, key.key, verified, self.settings.clock())
                session.add(resource)
                session.flush()
                session.add(MediaIngestion(source_key=key.key, media_resource_id=resource.id))
                session.flush()
            attachment = self.attachments.attach(session, resource, target) if target else None
            return IngestResult(resource, attachment, created=created)

        return run_transaction(self.db, work)
