"""What every service and interface needs at hand: settings, the store, URL resolution."""

from __future__ import annotations

from dataclasses import dataclass

from sartiq_storage.adapters.local_secrets import load_or_create_secret
from sartiq_storage.adapters.stores import ObjectStore, open_store, signer_for
from sartiq_storage.core.config import Settings
from sartiq_storage.core.errors import ConfigurationError
from sartiq_storage.core.signing import UrlSigner
from sartiq_storage.core.urls import UrlResolver


@dataclass(slots=True)
class StorageContext:
    settings: Settings
    store: ObjectStore
    urls: UrlResolver
    jwt_secret: str
    jwt_secret_generated: bool
    signer: UrlSigner | None
    """Signs the URLs this service answers itself; None when the bucket does that."""

    def close(self) -> None:
        self.store.close()


def jwt_secret_for(settings: Settings) -> tuple[str, bool]:
    """The token secret, and whether it was generated for the embedded default.

    Only an embedded development service may invent one; anything else must be told.
    """
    if settings.AUTH_JWT_SECRET is not None and settings.AUTH_JWT_SECRET.get_secret_value():
        return settings.AUTH_JWT_SECRET.get_secret_value(), False
    if settings.embedded and settings.ENVIRONMENT.value == "development":
        return load_or_create_secret(settings.data_dir, "AUTH_JWT_SECRET"), True
    raise ConfigurationError("AUTH_JWT_SECRET is required outside the embedded development default")


def build_context(settings: Settings) -> StorageContext:
    secret, generated = jwt_secret_for(settings)
    return StorageContext(
        settings=settings,
        store=open_store(settings),
        urls=UrlResolver.from_settings(settings),
        jwt_secret=secret,
        jwt_secret_generated=generated,
        signer=signer_for(settings) if settings.embedded else None,
    )
