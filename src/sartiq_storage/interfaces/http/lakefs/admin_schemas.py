"""lakeFS's shapes for the auth API and the repository administration calls (users,
credentials, repository metadata, refs dump and restore, storage URIs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sartiq_storage.interfaces.http.lakefs.schemas import Pagination


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserOut(BaseModel):
    id: str
    creation_date: int
    friendly_name: str | None = None
    email: str | None = None


class UserList(BaseModel):
    pagination: Pagination
    results: list[UserOut]


class UserCreation(_Body):
    id: str
    invite_user: bool | None = None


class CredentialsOut(BaseModel):
    access_key_id: str
    creation_date: int


class CredentialsList(BaseModel):
    pagination: Pagination
    results: list[CredentialsOut]


class CredentialsWithSecret(BaseModel):
    access_key_id: str
    secret_access_key: str
    creation_date: int


class RepositoryMetadataSet(_Body):
    metadata: dict[str, str]


class RepositoryMetadataKeys(_Body):
    keys: list[str]


class ObjectUserMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")


class UpdateObjectUserMetadata(_Body):
    set: dict[str, str]


class RefsDumpOut(BaseModel):
    commits_meta_range_id: str
    tags_meta_range_id: str
    branches_meta_range_id: str


class RefsRestore(_Body):
    commits_meta_range_id: str
    tags_meta_range_id: str
    branches_meta_range_id: str
    force: bool | None = None


class StorageURI(BaseModel):
    location: str
