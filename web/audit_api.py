"""`GET /api/audit`: the audit log as an auditor reads it, newest first, itself audited."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from redis.exceptions import RedisError

from alerts.audit_read import read_page
from web.audit import audit_request
from web.auth import caller, forbid
from web.errors import fail
from web.state import REDIS

MAX_PER_PAGE = 500
MAX_FILTER = 200  # characters of a filter recorded in the auditor's own entry


async def audit_entries(request: web.Request) -> web.Response:
    """`GET /api/audit?chain=&target=&page=&per_page=`: entries newest first (auditors only)."""
    claims = await caller(request)
    if claims.role != "auditor":
        raise await forbid(request, claims, "only an auditor token may read the audit log")
    query = request.rel_url.query
    chain = query.get("chain", "")
    target = query.get("target", "")
    page = _positive(query, "page", 1, 10**6)
    per_page = _positive(query, "per_page", 50, MAX_PER_PAGE)
    try:
        found = await read_page(
            request.app[REDIS], chain=chain, target=target, page=page, per_page=per_page
        )
    except (RedisError, OSError) as exc:
        raise fail(
            web.HTTPServiceUnavailable, f"cannot read the audit log ({type(exc).__name__})"
        ) from None
    detail = {
        "page": page,
        "per_page": per_page,
        "chain": chain[:MAX_FILTER],
        "target": target[:MAX_FILTER],  # an alert id or a path (ID numbers masked on append)
        "shown": len(found.entries),
        "total": found.total,
    }
    await audit_request(request, claims, "listed", target=request.path, detail=detail)
    return web.json_response(
        {
            "total": found.total,
            "page": page,
            "per_page": per_page,
            "entries": [e.model_dump() for e in found.entries],
        }
    )


def _positive(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise fail(web.HTTPBadRequest, f"{name} must be a whole number from 1 to {most}")
    return int(text)
