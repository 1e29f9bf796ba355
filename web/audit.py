"""The web app's audit: one call records a request (`audit_request`: views, actions, exports,
refusals), and the app's AuditLog lives as long as the app (`audit_context`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from alerts.audit import WEB_CHAIN, AuditError, AuditLog, Entry
from web.errors import fail
from web.state import AUDIT, REDIS, SETTINGS
from welfare_watch.tokens import Claims

log = logging.getLogger(__name__)

# Refusals are answered 401/403 even when they cannot be recorded: the refusal is what matters
# to the caller, and the failure is logged. Every other step fails with 503 instead.
_REFUSALS = frozenset({"refused", "unauthorized"})


async def audit_request(
    request: web.Request,
    claims: Claims | None,
    action: str,
    *,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Entry | None:
    """Append one entry for this request to the web chain: who (the token's subject, role and
    id; "anonymous" without verified claims), `action`, `target` (default: the request's path,
    never its query) and `detail` (counts and codes: no names, no ID numbers, no notes).

    Raises 503 when the entry cannot be written, so nothing unrecorded is shown or done; a
    refusal (`refused`, `unauthorized`) is logged instead and None returned.
    """
    body = {"method": request.method, **(detail or {})}
    try:
        return await request.app[AUDIT].append(
            WEB_CHAIN,
            actor=claims.subject if claims is not None else "anonymous",
            role=claims.role if claims is not None else "",
            token_id=claims.token_id if claims is not None else "",
            action=action,
            target=request.path if target is None else target,
            detail=body,
        )
    except AuditError as exc:
        if action in _REFUSALS:
            log.error("a %s request could not be recorded in the audit log: %s", action, exc)
            return None
        raise fail(
            web.HTTPServiceUnavailable,
            f"the audit log cannot be written, so nothing was done: {exc}",
        ) from None


async def audit_context(app: web.Application) -> AsyncIterator[None]:
    """The app's AuditLog on its Redis client (so after `_redis` in cleanup_ctx)."""
    audit = AuditLog.for_settings(app[SETTINGS], app[REDIS])
    app[AUDIT] = audit
    yield
    await audit.close()
