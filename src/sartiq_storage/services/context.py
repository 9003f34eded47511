"""What every service and interface needs at hand: settings, the store, URL resolution."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.local_secrets import load_or_create_secret
from sartiq_storage.adapters.stores import ObjectStore, open_store, signer_for
from sartiq_storage.adapters.vips import DECODES
from sartiq_storage.core.config import MAX_UPLOAD_BYTES, Settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.tokens import VerifiedTokens
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.compute import ComputeStorage
from sartiq_storage.services.delivery import DeliveryService
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.multipart import MultipartUploadService
from sartiq_storage.services.tags import TagService
from sartiq_storage.services.uploads import UploadService

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sartiq_storage.core.datasets.protocol import DatasetStore
    from sartiq_storage.services.datasets import NativeDatasetEngine
    from sartiq_storage.services.datasets.locations import NamespaceStores


@dataclass(slots=True)
class StorageContext:
    settings: Settings
    store: ObjectStore
    urls: UrlResolver
    jwt_secret: str
    jwt_secret_generated: bool
    signer: UrlSigner | None
    """Signs the URLs this service answers itself; None when the bucket does that."""
    db: Database
    media: MediaResourceService
    tags: TagService
    uploads: UploadService
    delivery: DeliveryService
    compute: ComputeStorage
    multipart: MultipartUploadService
    tokens: VerifiedTokens
    """Bearer tokens checked with ``jwt_secret``, each success kept a few seconds."""
    datasets_access_key_id: str | None = None
    """Basic-auth key pair of the lakeFS-compatible API (None: that API refuses everyone)."""
    datasets_secret_access_key: str | None = None
    datasets_credentials_generated: bool = False
    _datasets: DatasetStore | None = None
    _datasets_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def datasets(self) -> DatasetStore:
        """The dataset engine, built on first use: only the datasets API needs it."""
        if self._datasets is None:
            with self._datasets_lock:
                if self._datasets is None:
                    # A host's engine is shared; our own URL gets the engine its own pool.
                    shared = None if self.db.owns_engine else self.db
                    self._datasets = open_datasets(self.settings, shared)
        return self._datasets

    def close(self) -> None:
        try:
            self.uploads.close()
            self.media.close()
        except Exception:
            logging.getLogger(__name__).warning("media close failed", exc_info=True)
        self.store.close()
        self.db.dispose()
        engine, self._datasets = self._datasets, None
        close = getattr(engine, "close", None)
        if callable(close):
            close()


def jwt_secret_for(settings: Settings) -> tuple[str, bool]:
    """The token secret, and whether it was generated for the embedded default.

    Only an embedded development service may invent one; anything else must be told.
    """
    if settings.AUTH_JWT_SECRET is not None and settings.AUTH_JWT_SECRET.get_secret_value():
        return settings.AUTH_JWT_SECRET.get_secret_value(), False
    if settings.embedded and settings.ENVIRONMENT.value == "development":
        return load_or_create_secret(settings.data_dir, "AUTH_JWT_SECRET"), True
    raise ConfigurationError("AUTH_JWT_SECRET is required outside the embedded development default")


def datasets_credentials_for(settings: Settings) -> tuple[str | None, str | None, bool]:
    """The datasets API's key pair, and whether it was generated for the embedded default.

    Like the JWT secret: only an embedded development service invents one. Elsewhere an unset
    pair leaves the datasets API closed rather than failing the whole service.
    """
    secret = settings.DATASETS_SECRET_ACCESS_KEY
    if settings.DATASETS_ACCESS_KEY_ID and secret is not None and secret.get_secret_value():
        return settings.DATASETS_ACCESS_KEY_ID, secret.get_secret_value(), False
    if settings.embedded and settings.ENVIRONMENT.value == "development":
        raw = load_or_create_secret(settings.data_dir, "DATASETS_ACCESS_KEY_ID")[:16]
        key_id = "AKIA" + "".join(c if c.isalnum() else "X" for c in raw).upper()
        secret_value = load_or_create_secret(settings.data_dir, "DATASETS_SECRET_ACCESS_KEY")
        return key_id, secret_value, True
    return None, None, False


def reserved_prefixes(settings: Settings) -> tuple[str, ...]:
    """Where no repository may live: the content zones, and every prefix the lifecycle
    policy expires (a sweep would delete a repository's objects there)."""
    from sartiq_storage.core.datasets.namespaces import RESERVED_PREFIXES
    from sartiq_storage.core.lifecycle import policy_for

    expiring = (rule.prefix for rule in policy_for(settings).expiring)
    return tuple(dict.fromkeys((*RESERVED_PREFIXES, *expiring)))


def open_native_datasets(
    settings: Settings, database: Database | None = None, *, migrate: bool = True
) -> NativeDatasetEngine:
    """The native engine on the settings' store and metadata: the SQL database (schema
    upgraded first; ``database``: one already open, a host's, which the engine then does not
    close) or, with ``DATASETS_KV=dynamodb``, the DynamoDB table as the seed deploys lakeFS."""
    from sartiq_storage.adapters.datasets.dynamodb import open_dynamo_kv
    from sartiq_storage.adapters.datasets.kv import KV, SqlKV
    from sartiq_storage.services.datasets import NativeDatasetEngine

    kv: KV
    if settings.DATASETS_KV == "dynamodb":
        kv = open_dynamo_kv(settings)
    else:
        owned = database is None
        database = database or Database.from_settings(settings)
        if migrate:
            upgrade(database)
        kv = SqlKV(database, owns_database=owned)
    content = open_store(settings)
    return NativeDatasetEngine(
        kv,
        content,
        reserved_prefixes=reserved_prefixes(settings),
        stores=namespace_stores(settings, content),
        import_batch=settings.DATASETS_IMPORT_BATCH,
    )


def namespace_stores(settings: Settings, content: ObjectStore) -> NamespaceStores:
    """Where the settings put repositories: ``local://`` in the datasets folder, or
    ``s3://`` buckets of their own (``DATASETS_BLOCKSTORE_TYPE``); the content bucket only
    with ``DATASETS_ALLOW_CONTENT_BUCKET``. Repositories recorded with a bare prefix (made
    before) stay on the content store."""
    from sartiq_storage.adapters.stores import open_datasets_bucket, open_datasets_folder
    from sartiq_storage.core.config import BackendKind
    from sartiq_storage.services.datasets.locations import NamespaceStores

    mode = settings.datasets_blockstore
    return NamespaceStores(
        content,
        mode=mode,
        datasets=open_datasets_folder(settings) if mode == "local" else None,
        bucket_store=lambda bucket: open_datasets_bucket(settings, bucket),
        content_bucket=settings.R2_BUCKET_NAME if settings.backend is BackendKind.s3 else None,
        allow_content_bucket=settings.DATASETS_ALLOW_CONTENT_BUCKET,
    )


def open_datasets(settings: Settings, database: Database | None = None) -> DatasetStore:
    """A real lakeFS when ``LAKEFS_ENDPOINT`` is set, else the native engine."""
    if settings.LAKEFS_ENDPOINT:
        from sartiq_storage.adapters.datasets.lakefs import LakeFSEngine

        if not settings.LAKEFS_ACCESS_KEY_ID or settings.LAKEFS_SECRET_ACCESS_KEY is None:
            raise ConfigurationError(
                "LAKEFS_ENDPOINT needs LAKEFS_ACCESS_KEY_ID and LAKEFS_SECRET_ACCESS_KEY"
            )
        return LakeFSEngine(
            settings.LAKEFS_ENDPOINT,
            settings.LAKEFS_ACCESS_KEY_ID,
            settings.LAKEFS_SECRET_ACCESS_KEY.get_secret_value(),
            namespace_prefix=settings.DATASETS_NAMESPACE_PREFIX,
            content_bucket=settings.R2_BUCKET_NAME,
            reserved_prefixes=reserved_prefixes(settings),
        )
    return open_native_datasets(settings, database)


def build_context(
    settings: Settings, *, migrate: bool = False, engine: Engine | None = None
) -> StorageContext:
    """Everything wired from settings; ``migrate`` brings the schema up to date first.

    ``engine``: a host application's SQLAlchemy engine to use instead of ``DATABASE_URL``
    (our tables in ``STORAGE_DB_SCHEMA``; the engine is left open by :meth:`close`).
    """
    secret, generated = jwt_secret_for(settings)
    DECODES.configure(settings.STORAGE_MAX_CONCURRENT_DECODES, settings.STORAGE_DECODE_WAIT_SECONDS)
    db = Database.from_settings(settings, engine)
    if migrate:
        upgrade(db)
    store = open_store(settings)
    urls = UrlResolver.from_settings(settings)
    key_id, key_secret, key_generated = datasets_credentials_for(settings)
    return StorageContext(
        settings=settings,
        store=store,
        urls=urls,
        jwt_secret=secret,
        jwt_secret_generated=generated,
        tokens=VerifiedTokens(secret),
        signer=signer_for(settings) if settings.embedded else None,
        db=db,
        media=MediaResourceService(
            db,
            store,
            urls,
            # The video cap multipart uploads take is ingestion's too (never under the single
            # PUT's 50 MB, which small videos keep).
            max_video_size=max(settings.STORAGE_MAX_VIDEO_UPLOAD_BYTES, MAX_UPLOAD_BYTES),
        ),
        tags=TagService(db),
        uploads=UploadService(db, store, urls, require_size=settings.STORAGE_REQUIRE_UPLOAD_SIZE),
        delivery=DeliveryService(settings, store, urls),
        compute=ComputeStorage(store, urls, served_by_api=settings.embedded),
        multipart=MultipartUploadService(
            db,
            store,
            urls,
            max_video_size=settings.STORAGE_MAX_VIDEO_UPLOAD_BYTES,
            part_size=settings.STORAGE_MULTIPART_PART_BYTES,
            require_size=settings.STORAGE_REQUIRE_UPLOAD_SIZE,
        ),
        datasets_access_key_id=key_id,
        datasets_secret_access_key=key_secret,
        datasets_credentials_generated=key_generated,
    )
