"""Who is calling: the bearer token checked, the role and scope enforced, refusals audited."""

from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web

from web.errors import fail
from web.state import SECRET
from welfare_watch.tokens import Claims, Role, TokenError, verify

audit_log = logging.getLogger("welfare_watch.audit")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="welfare-watch"'}


def caller(request: web.Request) -> Claims:
    """The verified claims of the request's bearer token; 401 without a good one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("no token: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header is not 'Bearer <token>'")
    try:
        return verify(token, request.app[SECRET], dt.datetime.now(dt.UTC))
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None


def require(request: web.Request, role: Role, scope: str) -> Claims:
    """The caller, if its token is for exactly this role and scope; else 401, or 403 audited."""
    claims = caller(request)
    authorize(request, claims, role, scope)
    return claims


def authorize(request: web.Request, claims: Claims, role: Role, scope: str) -> None:
    """403, audited, unless the claims are for exactly this role and scope."""
    if not claims.allows(role, scope):
        refused(request, claims)
        raise fail(web.HTTPForbidden, f"a {claims.role} token for {claims.scope!r} may not do this")


def refused(request: web.Request, claims: Claims) -> None:
    """One audit line for a request outside its token's scope: who, what, refused.

    Only the token's role and scope and the request line: no body, no personal data.
    """
    audit_log.warning(
        "refused: role=%s scope=%s %s %s",
        claims.role,
        claims.scope,
        request.method,
        request.rel_url.raw_path,
    )


def _unauthorized(reason: str) -> web.HTTPException:
    return fail(web.HTTPUnauthorized, reason, headers=_CHALLENGE)
