"""Users of the API (admins only) and who the caller is (everyone)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api import accounts, queries
from api.deps import Admin, Auditor, Db
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas import IssuedToken, Me, UserIn, UserOut
from api.strict import strict_request

router = APIRouter(
    tags=["users"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.get("/me", response_model=Me)
def me(caller: Auditor) -> Me:
    """The caller's name and role (the dashboard shows what it may do)."""
    return Me(name=caller.name, role=caller.role)


@router.get("/users", response_model=Page[UserOut])
def list_users(_: Admin, db: Db, page: Paging) -> Page[UserOut]:
    found, total = queries.paged(db, queries.USERS, page.model_dump())
    return page_of([UserOut(**r) for r in found], total, page)


@router.post("/users", response_model=IssuedToken, status_code=201, responses=responses(409))
def add_user(caller: Admin, db: Db, body: UserIn) -> IssuedToken:
    """Issue a token for a new user; it is in this response only."""
    token = accounts.add(db, body.name, body.role, caller.name)
    return IssuedToken(name=body.name, role=body.role, token=token)


@router.post("/users/{name}/rotate", response_model=IssuedToken, responses=responses(404))
def rotate_user(caller: Admin, db: Db, name: str) -> IssuedToken:
    """A new token for the user; the old one stops working at once."""
    role, token = accounts.rotate(db, name, caller.name)
    return IssuedToken(name=name, role=role, token=token)


@router.delete("/users/{name}", status_code=204, response_class=Response, responses=responses(404))
def revoke_user(_: Admin, db: Db, name: str) -> Response:
    accounts.revoke(db, name)
    return Response(status_code=204)
