"""Refuse what a route would silently ignore or choke on: a query parameter it does not declare (a
misspelt filter such as ``?stauts=offline`` would otherwise return everything), a parameter given
twice (only one would count), and NUL characters in a path, which no key can hold. Both read
the routes from the app's own OpenAPI schema."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, Request

from api.errors import NotFound, Unprocessable


@dataclass(frozen=True, slots=True)
class Operation:
    pattern: re.Pattern[str]
    literal: bool  # a path without parameters wins over a template that also matches
    method: str
    query: frozenset[str]


def operations(app: FastAPI) -> list[Operation]:
    table: list[Operation] | None = getattr(app.state, "operations", None)
    if table is None:
        table = []
        for path, methods in app.openapi()["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$")
            for method, spec in methods.items():
                query = frozenset(p["name"] for p in spec.get("parameters", []) if p["in"] == "query")
                table.append(Operation(pattern, "{" not in path, method.upper(), query))
        app.state.operations = table
    return table


def matching(app: FastAPI, path: str) -> list[Operation]:
    found = [op for op in operations(app) if op.pattern.match(path)]
    literal = [op for op in found if op.literal]
    return literal or found


def allowed_methods(request: Request) -> list[str]:
    """Every method some route offers on this path (Starlette names only the first route's)."""
    methods = {op.method for op in matching(request.app, request.url.path)}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def strict_request(request: Request) -> None:
    ops = [op for op in matching(request.app, request.url.path) if op.method == request.method]
    if ops:
        known = ops[0].query
        repeated = sorted({k for k in request.query_params if len(request.query_params.getlist(k)) > 1})
        if repeated:
            raise Unprocessable(
                f"query parameter(s) {', '.join(repr(r) for r in repeated)} given more than once",
                errors=[{"field": r, "message": "given more than once"} for r in repeated],
            )
        unknown = sorted({k for k in request.query_params if k not in known})
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            named = ", ".join(repr(u) for u in unknown)
            raise Unprocessable(
                f"unknown query parameter(s) {named}; this route takes: {listed}",
                errors=[{"field": u, "message": "not a parameter of this route"} for u in unknown],
            )
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:  # no key holds one: nothing is there
            raise NotFound(f"no {name} with a NUL character in it")
