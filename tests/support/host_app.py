"""A stand-in for the platform's Backend: a FastAPI app with its own SQLAlchemy model, its
own Alembic history and its own authentication, with sartiq-storage mounted under
``/storage`` on the same PostgreSQL database (``docs/embedding.md`` walks through it).

``create_host_app`` is an ASGI factory (``uvicorn --factory``); it reads ``HOST_DATABASE_URL``
and the storage settings from the environment, as the Backend would."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from alembic import command
from alembic.config import Config
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy import Engine, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import Uuid

from sartiq_storage.api import Caller, create_app
from sartiq_storage.config import build_context, load_settings

HOST_REVISION = "h0001"
"""The host's one migration."""
ROLES = {
    "editor": frozenset({"uploads", "media:read", "media:write"}),
    "viewer": frozenset({"media:read"}),
}
"""The host's roles, mapped to the storage scopes they grant."""


class HostBase(DeclarativeBase):
    pass


class Product(HostBase):
    """The host's own table (the Backend's are SQLModel classes: the same SQLAlchemy)."""

    __tablename__ = "products"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))


_ENV = """
from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection)  # the default version table: alembic_version
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""

_MIGRATION = f'''
import sqlalchemy as sa
from alembic import op

revision = "{HOST_REVISION}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("products")
'''


def migrate_host(url: str, folder: Path) -> None:
    """The host's own ``alembic upgrade head``, from its own script folder."""
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(_ENV, "utf-8")
    (folder / "versions" / f"{HOST_REVISION}_products.py").write_text(_MIGRATION, "utf-8")
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


async def host_caller(
    x_host_user: Annotated[str | None, Header()] = None,
    x_host_role: Annotated[str | None, Header()] = None,
) -> Caller:
    """The host's authentication (a stand-in for its session or JWT check): who calls, and
    the storage scopes the caller's role grants."""
    if not x_host_user:
        raise HTTPException(401, "host login required")
    return Caller(x_host_user, ROLES.get(x_host_role or "", frozenset()))


CallerDep = Annotated[Caller, Depends(host_caller)]


def create_host_app() -> FastAPI:
    engine: Engine = create_engine(os.environ["HOST_DATABASE_URL"], pool_pre_ping=True)
    settings = load_settings()  # STORAGE_DB_SCHEMA, STORAGE_SERVICE_URL, ... from the env
    context = build_context(settings, engine=engine, migrate=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()  # a mounted app's own lifespan does not run: the host closes it
        engine.dispose()

    host = FastAPI(title="host", lifespan=lifespan)

    @host.post("/products", status_code=201)
    def create_product(body: dict[str, str], caller: CallerDep) -> dict[str, str]:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            product = Product(name=body["name"])
            session.add(product)
        return {"id": str(product.id), "name": product.name}

    @host.get("/products/{product_id}")
    def get_product(product_id: uuid.UUID, caller: CallerDep) -> dict[str, object]:
        """The host's own row with its images, read in-process through the storage layer."""
        with Session(engine) as session:
            product = session.get(Product, product_id)
            if product is None:
                raise HTTPException(404, "no such product")
            name = product.name
        resources, _ = context.media.list_resources(entity_type="PRODUCT", entity_id=product_id)
        images = [
            {"storage_key": r.storage_key, "url": context.urls.public_url(r.storage_key)}
            for r in resources
        ]
        return {"id": str(product_id), "name": name, "images": images}

    host.mount("/storage", create_app(context=context, auth=host_caller))
    return host
