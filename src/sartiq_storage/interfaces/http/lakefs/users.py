"""The auth API's users and credentials, as lakeFS serves them: "who am I" (``GET /user``)
and key rotation for ``lakectl`` and the SDKs.

Every authenticated user may call them: there are no policies here, as on lakeFS's basic
auth. Groups and policies answer 501 "Not implemented", what lakeFS's basic auth service
answers for them (``docs/datasets.md``).
"""

from __future__ import annotations

import re

from fastapi import HTTPException, Request, Response

from sartiq_storage.interfaces.http.lakefs.admin_schemas import (
    CredentialsList,
    CredentialsOut,
    CredentialsWithSecret,
    UserCreation,
    UserList,
    UserOut,
)
from sartiq_storage.interfaces.http.lakefs.auth import USER_ID, UserDep, users_of
from sartiq_storage.interfaces.http.lakefs.common import Amount, authed_router, page
from sartiq_storage.interfaces.http.lakefs.errors import error
from sartiq_storage.interfaces.http.lakefs.schemas import CurrentUser, User
from sartiq_storage.services.datasets.users import Credential, DatasetUsers
from sartiq_storage.services.datasets.users import User as UserRecord

router = authed_router()
NO_CONTENT = 204
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _users(request: Request) -> DatasetUsers:
    users = users_of(request.app.state)
    if users is None:  # behind a real lakeFS: manage its users there
        raise HTTPException(501, "Not implemented")
    return users


def _out(user: UserRecord) -> UserOut:
    return UserOut(id=user.id, creation_date=user.creation_date, email=user.email)


def _credentials(c: Credential) -> CredentialsOut:
    return CredentialsOut(access_key_id=c.access_key_id, creation_date=c.creation_date)


@router.get("/user", response_model_exclude_none=True)
def current_user(request: Request, user: UserDep) -> CurrentUser:
    """lakeFS names the friendly name after the id when the user has none."""
    users = users_of(request.app.state)
    if users is None:
        return CurrentUser(user=User(id=USER_ID, creation_date=0, friendly_name=USER_ID))
    found = users.get_user(user)
    return CurrentUser(
        user=User(id=found.id, creation_date=found.creation_date, friendly_name=found.id)
    )


@router.get("/auth/users", response_model_exclude_none=True)
def list_users(
    request: Request, prefix: str = "", after: str = "", amount: Amount = 100
) -> UserList:
    users = _users(request)
    items, pagination = page(
        lambda n: users.list_users(prefix=prefix, after=after, amount=n), amount, lambda u: u.id
    )
    return UserList(pagination=pagination, results=[_out(u) for u in items])


@router.post("/auth/users", status_code=201, response_model_exclude_none=True)
def create_user(body: UserCreation, request: Request) -> UserOut:
    if "%" in body.id:
        raise HTTPException(400, "User name cannot contain '%'")
    if body.invite_user:
        if _EMAIL.match(body.id) is None:
            raise HTTPException(400, "Invalid email format")
        raise HTTPException(501, "Not implemented")  # lakeFS's basic auth invites no one
    users = _users(request)
    return _out(users.create_user(body.id))


@router.get("/auth/users/{userId}", response_model_exclude_none=True)
def get_user(userId: str, request: Request) -> UserOut:
    users = _users(request)
    return _out(users.get_user(userId))


@router.delete("/auth/users/{userId}", status_code=NO_CONTENT)
def delete_user(userId: str, request: Request) -> Response:
    users = _users(request)
    users.delete_user(userId)
    return Response(status_code=NO_CONTENT)


@router.get("/auth/users/{userId}/credentials")
def list_user_credentials(
    userId: str,
    request: Request,
    prefix: str = "",
    after: str = "",
    amount: Amount = 100,
) -> CredentialsList:
    users = _users(request)
    items, pagination = page(
        lambda n: users.list_credentials(userId, prefix=prefix, after=after, amount=n),
        amount,
        lambda c: c.access_key_id,
    )
    return CredentialsList(pagination=pagination, results=[_credentials(c) for c in items])


@router.post("/auth/users/{userId}/credentials", status_code=201)
def create_credentials(userId: str, request: Request) -> CredentialsWithSecret:
    users = _users(request)
    made = users.create_credentials(userId)
    return CredentialsWithSecret(
        access_key_id=made.access_key_id,
        secret_access_key=made.secret_access_key,
        creation_date=made.creation_date,
    )


@router.get("/auth/users/{userId}/credentials/{accessKeyId}")
def get_credentials(userId: str, accessKeyId: str, request: Request) -> CredentialsOut:
    users = _users(request)
    return _credentials(users.get_credentials(userId, accessKeyId))


@router.delete("/auth/users/{userId}/credentials/{accessKeyId}", status_code=NO_CONTENT)
def delete_credentials(userId: str, accessKeyId: str, request: Request) -> Response:
    users = _users(request)
    users.delete_credentials(userId, accessKeyId)
    return Response(status_code=NO_CONTENT)


# -- groups and policies: lakeFS's basic auth does not implement them ------------------------

_NOT_IMPLEMENTED = (
    ("/auth/groups", ("GET", "POST")),
    ("/auth/groups/{groupId}", ("GET", "DELETE")),
    ("/auth/groups/{groupId}/members", ("GET",)),
    ("/auth/groups/{groupId}/members/{userId}", ("PUT", "DELETE")),
    ("/auth/groups/{groupId}/policies", ("GET",)),
    ("/auth/groups/{groupId}/policies/{policyId}", ("PUT", "DELETE")),
    ("/auth/groups/{groupId}/acl", ("GET", "POST")),
    ("/auth/policies", ("GET", "POST")),
    ("/auth/policies/{policyId}", ("GET", "PUT", "DELETE")),
    ("/auth/users/{userId}/groups", ("GET",)),
    ("/auth/users/{userId}/policies", ("GET",)),
    ("/auth/users/{userId}/policies/{policyId}", ("PUT", "DELETE")),
)


async def _not_implemented(request: Request) -> Response:
    return error(501, "Not implemented")


for _path, _methods in _NOT_IMPLEMENTED:
    router.add_api_route(
        _path,
        _not_implemented,
        methods=list(_methods),
        include_in_schema=False,
        summary="not implemented, as on lakeFS's basic auth",
    )
