"""One error body for every 4xx and 5xx: RFC 9457 problem details (``application/problem+json``).

Validation errors name each field (``errors: [{field, message}]``); a 500 says only that something
failed and carries a request id that is also in the log, never a traceback or a value.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import ApiProblem
from api.strict import allowed_methods

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("intake.api")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    status: int, detail: str, request: Request, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    # ("query", "limit") -> "limit"; ("body", "meter", "dn") -> "meter.dn"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    extra = dict(exc.extra)
    headers = extra.pop("headers", None)
    return problem_response(exc.status, exc.detail, request, headers=headers, **extra)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e["loc"])), "message": str(e["msg"])} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
    return problem_response(422, detail, request, errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        detail = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        headers["Allow"] = ", ".join(allowed)
    return problem_response(exc.status_code, detail, request, headers=headers)


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # Values the database cannot hold (a NUL character in text, say): the client's to fix, not ours.
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "a value cannot be stored"
    return problem_response(422, f"a value was refused by the database: {reason}", request)


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # A change the schema's constraints refuse (checked again by the database): the client's to fix.
    assert isinstance(exc, psycopg.IntegrityError)
    constraint = exc.diag.constraint_name or "a constraint"
    return problem_response(409, f"the change conflicts with what is stored ({constraint})", request)


async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = uuid.uuid4().hex[:12]
    log.error("request %s %s failed (id %s)", request.method, request.url.path, request_id, exc_info=exc)
    return problem_response(500, f"the server failed; quote request id {request_id}", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(psycopg.DataError, _on_data_error)
    app.add_exception_handler(psycopg.IntegrityError, _on_integrity)
    app.add_exception_handler(Exception, _on_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries saying these statuses answer with a problem document."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"description": HTTPStatus(s).phrase, "content": {MEDIA_TYPE: {"schema": schema}}}
        for s in statuses
    }
