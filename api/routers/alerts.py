"""Alert subscriptions (every role, for themselves, inside their division; an admin sees and ends
those of the users inside theirs) and every delivery with its state and attempts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from anomaly.alerts import masked
from anomaly.queries import alerts as qa
from api import queries
from api.auth import Role
from api.deps import Auditor, Caller, Db
from api.errors import NotFound
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas_campaign import DeliveryOut, SubscriptionIn, SubscriptionOut
from api.strict import strict_request

router = APIRouter(
    tags=["alerts"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


def _whose(caller: Caller) -> dict[str, str | None]:
    """An admin's view is every user inside their division; anyone else's is their own."""
    return {"owner": None if caller.role is Role.ADMIN else caller.name, "scope": caller.division}


def _out(row: dict[str, object]) -> SubscriptionOut:
    return SubscriptionOut(**{**row, "target": masked(str(row["target"]))})  # type: ignore[arg-type]


@router.get("/alerts/subscriptions", response_model=Page[SubscriptionOut])
def list_subscriptions(caller: Auditor, db: Db, page: Paging) -> Page[SubscriptionOut]:
    """The caller's subscriptions in force (an admin: those of every user inside their division)."""
    found, total = queries.paged(
        db, qa.LIST_SUBSCRIPTIONS, {**_whose(caller), "removed": False, **page.model_dump()}
    )
    return page_of([_out(r) for r in found], total, page)


@router.post("/alerts/subscriptions", response_model=SubscriptionOut, status_code=201)
def subscribe(caller: Auditor, db: Db, body: SubscriptionIn) -> SubscriptionOut:
    """Subscribe the caller: told of the kinds chosen inside their division, once per state change,
    at most one message per ``digest_minutes`` (a digest when several)."""
    values = {**body.model_dump(), "owner": caller.name}
    row = db.execute(qa.ADD_SUBSCRIPTION, values).fetchone()
    assert row is not None
    query = {"owner": caller.name, "scope": caller.division, "removed": False, "limit": 100_000, "offset": 0}
    found, _total = queries.paged(db, qa.LIST_SUBSCRIPTIONS, query)
    return _out(next(r for r in found if r["id"] == row[0]))


@router.delete(
    "/alerts/subscriptions/{subscription_id}",
    status_code=204,
    response_class=Response,
    responses=responses(404),
)
def unsubscribe(caller: Auditor, db: Db, subscription_id: int) -> Response:
    """End a subscription of the caller's (an admin: of a user inside their division); its deliveries stay."""
    if not db.execute(qa.REMOVE_SUBSCRIPTION, {"id": subscription_id, **_whose(caller)}).rowcount:
        raise NotFound(f"no subscription {subscription_id} of yours in force")
    return Response(status_code=204)


@router.get("/alerts/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(caller: Auditor, db: Db, page: Paging) -> Page[DeliveryOut]:
    """Every delivery of the caller's subscriptions (an admin: of their division's), newest first: what
    it told, its state, attempts and the last error."""
    found, total = queries.paged(db, qa.LIST_DELIVERIES, {**_whose(caller), **page.model_dump()})
    return page_of([DeliveryOut(**{**r, "titles": r["titles"] or []}) for r in found], total, page)
