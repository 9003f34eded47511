"""What every service and interface needs at hand: settings, the store, URL resolution."""

from __future__ import annotations

from dataclasses import dataclass

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.local_secrets import load_or_create_secret
from sartiq_storage.adapters.stores import ObjectStore, open_store, signer_for
from sartiq_storage.core.config import Settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.compute import ComputeStorage
from sartiq_storage.services.delivery import DeliveryService
from sartiq_storage.services.media.service import MediaResourceService
from sartiq_storage.services.tags import TagService
from sartiq_storage.services.uploads import UploadService


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

    def close(self) -> None:
        self.store.close()
        self.db.dispose()


def jwt_secret_for(settings: Settings) -> tuple[str, bool]:
    """The token secret, and whether it was generated for the embedded default.

    Only an embedded development service may invent one; anything else must be told.
    """
    if settings.AUTH_JWT_SECRET is not None and settings.AUTH_JWT_SECRET.get_secret_value():
        return settings.AUTH_JWT_SECRET.get_secret_value(), False
    if settings.embedded and settings.ENVIRONMENT.value == "development":
        return load_or_create_secret(settings.data_dir, "AUTH_JWT_SECRET"), True
    raise ConfigurationError("AUTH_JWT_SECRET is required outside the embedded development default")


def build_context(settings: Settings, *, migrate: bool = False) -> StorageContext:
    """Everything wired from settings; ``migrate`` brings the schema up to date first."""
    secret, generated = jwt_secret_for(settings)
    db = Database.from_url(settings.database_url)
    if migrate:
        upgrade(db)
    store = open_store(settings)
    urls = UrlResolver.from_settings(settings)
    return StorageContext(
        settings=settings,
        store=store,
        urls=urls,
        jwt_secret=secret,
        jwt_secret_generated=generated,
        signer=signer_for(settings) if settings.embedded else None,
        db=db,
        media=MediaResourceService(db, store, urls),
        tags=TagService(db),
        uploads=UploadService(db, store, urls, require_size=settings.STORAGE_REQUIRE_UPLOAD_SIZE),
        delivery=DeliveryService(settings, store, urls),
        compute=ComputeStorage(
            store, urls, served_by_api=settings.embedded, service_url=settings.service_url
        ),
    )
