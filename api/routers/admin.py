"""Users of the API (admins only) and who the caller is (everyone)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from anomaly.queries import exports as eq
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
def me(caller: Auditor, db: Db) -> Me:
    """The caller's name, role and division (the dashboard shows what it may do and see)."""
    name = eq.division_name(db, caller.division)
    return Me(name=caller.name, role=caller.role, division_code=caller.division, division_name=name)


@router.get("/users", response_model=Page[UserOut])
def list_users(caller: Admin, db: Db, page: Paging) -> Page[UserOut]:
    """The users inside the caller's division."""
    found, total = queries.paged(db, queries.USERS, caller.scoped(**page.model_dump()))
    return page_of([UserOut(**r) for r in found], total, page)


@router.post("/users", response_model=IssuedToken, status_code=201, responses=responses(409))
def add_user(caller: Admin, db: Db, body: UserIn) -> IssuedToken:
    """Issue a token for a new user (of the caller's division, or one inside it); it is in this
    response only."""
    division = body.division_code or caller.division
    token = accounts.add(db, body.name, body.role, caller.name, division, caller.division)
    return IssuedToken(name=body.name, role=body.role, division_code=division, token=token)


@router.post("/users/{name}/rotate", response_model=IssuedToken, responses=responses(404))
def rotate_user(caller: Admin, db: Db, name: str) -> IssuedToken:
    """A new token for the user; the old one stops working at once."""
    role, division, token = accounts.rotate(db, name, caller.name, caller.division)
    return IssuedToken(name=name, role=role, division_code=division, token=token)


@router.delete("/users/{name}", status_code=204, response_class=Response, responses=responses(404))
def revoke_user(caller: Admin, db: Db, name: str) -> Response:
    accounts.revoke(db, name, caller.division)
    return Response(status_code=204)
