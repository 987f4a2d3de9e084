"""The API's errors. Only this package knows HTTP status codes; each error becomes an RFC 9457
problem document (``application/problem+json``) with a title, a status and a detail for people."""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ApiProblem):
    status = 400
    title = "Bad request"


class Unauthorized(ApiProblem):
    status = 401
    title = "Not authenticated"


class Forbidden(ApiProblem):
    status = 403
    title = "Not allowed for this role"


class NotFound(ApiProblem):
    status = 404
    title = "Not found"


class Unsupported(ApiProblem):
    status = 415
    title = "Unsupported media type"


class Conflict(ApiProblem):
    status = 409
    title = "Conflict"


class Unprocessable(ApiProblem):
    status = 422
    title = "Invalid input"


class TooManyRequests(ApiProblem):
    status = 429
    title = "Too many requests"


class Unavailable(ApiProblem):
    status = 503
    title = "Service unavailable"
