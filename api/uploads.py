"""A table uploaded as the request body (.xlsx or CSV): its media type checked, its bytes read (bounded
by INTAKE_API_MAX_UPLOAD_MB, api/limits.py), and the file suffix to read it with (devices/workbook.py)."""

from __future__ import annotations

from fastapi import Request

from api.errors import BadRequest, Unsupported

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
SUFFIX = {XLSX: ".xlsx", CSV: ".csv"}
# The OpenAPI request body of such a route.
UploadBody = {
    "requestBody": {
        "required": True,
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SUFFIX},
    }
}


async def table_upload(request: Request, what: str) -> tuple[bytes, str]:
    """The body and its suffix; 415 for another media type, 400 for an empty body."""
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media not in SUFFIX:
        raise Unsupported(f"send the {what} as {XLSX} or {CSV}")
    body = await request.body()
    if not body:
        raise BadRequest(f"the request body is empty: send the {what}")
    return body, SUFFIX[media]
