"""Bearer tokens for the HTTP API: a role and a scope, signed with the service's secret."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from welfare_watch.errors import ConfigError, WelfareWatchError
from welfare_watch.names import supervisor_queue
from welfare_watch.settings import Environment, Policy, Settings

Role = Literal["caseworker", "supervisor", "auditor", "department"]
ROLES: tuple[Role, ...] = get_args(Role)
ALL = "*"  # the auditor's scope: everything, read-only
DEMO_SECRET = "demo-secret"  # file name under WW_DATA_DIR when WW_SECRET_KEY is not set
_SUPERVISOR_QUEUES = supervisor_queue("")  # what every supervisor queue begins with

_logger = logging.getLogger(__name__)


class TokenError(WelfareWatchError):
    """A token that cannot be issued or accepted; the message is the short reason."""


@dataclass(frozen=True)
class Claims:
    """Who a verified token speaks for, and until when."""

    role: Role
    scope: str  # a caseworker id, a district or the city code, a feed name, or "*" (auditors)
    expires_at: dt.datetime

    def allows(self, role: Role, scope: str) -> bool:
        return self.role == role and self.scope == scope


def issue(role: str, scope: str, days: int, secret: bytes, now: dt.datetime) -> str:
    """A token for `role` on `scope`, valid for `days` days from `now`."""
    claims = Claims(_role(role), _scope(role, scope), now + dt.timedelta(days=_days(days)))
    payload = {
        "role": claims.role,
        "scope": claims.scope,
        "exp": int(claims.expires_at.timestamp()),
    }
    body = _encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_encode(_sign(body, secret))}"


def verify(token: str, secret: bytes, now: dt.datetime) -> Claims:
    """The claims of a token signed with `secret` that has not expired; TokenError if not."""
    body, dot, signature = token.strip().partition(".")
    if not dot or not body or "." in signature or not token.isascii():
        raise TokenError("malformed token")
    try:
        given = _decode(signature)
    except ValueError:
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(given, _sign(body, secret)):
        raise TokenError("bad signature")
    try:
        payload = json.loads(_decode(body))
        role, scope, exp = payload["role"], payload["scope"], payload["exp"]
    except (ValueError, TypeError, KeyError):
        raise TokenError("malformed token") from None
    if role not in ROLES or not isinstance(scope, str) or not scope or type(exp) is not int:
        raise TokenError("malformed token")
    try:
        expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("malformed token") from None
    if expires_at <= now:
        raise TokenError("token expired")
    return Claims(role, scope, expires_at)


def secret_for(env: Environment, log: Callable[[str], None]) -> bytes:
    """WW_SECRET_KEY, or in demo mode a random secret made once under WW_DATA_DIR.

    Demo mode says so through `log` every time: its tokens are for trying the product out.
    No built-in secret exists, so no default credential ever works.
    """
    if env.secret_key is not None:
        key = env.secret_key.get_secret_value()
        if not key.strip():
            raise ConfigError("bad configuration key 'WW_SECRET_KEY': it is empty")
        return key.encode()
    path = env.data_dir / DEMO_SECRET
    secret = _demo_secret(path)
    log(
        f"DEMO MODE: WW_SECRET_KEY is not set, so API tokens are signed with a demo secret "
        f"made for this machine ({path}); NOT FOR PRODUCTION USE: set WW_SECRET_KEY"
    )
    return secret


def issue_command(
    settings: Settings,
    role: str,
    scope: str,
    days: int = 30,
    *,
    now: dt.datetime | None = None,
    log: Callable[[str], None] = _logger.warning,
) -> str:
    """`welfare-watch token issue`: check the scope against the configuration, then sign."""
    checked = _role(role)
    scope = _scope(checked, scope)
    if checked == "department" and scope not in settings.feeds:
        known = ", ".join(sorted(settings.feeds))
        raise TokenError(f"a department token's scope is a feed; {scope!r} is not one of: {known}")
    refusal = _staff_refusal(checked, scope, settings.policy)
    if refusal is not None:
        raise TokenError(refusal)
    secret = secret_for(settings.env, log)
    return issue(checked, scope, days, secret, now or dt.datetime.now(dt.UTC))


def reader(queue: str, policy: Policy) -> tuple[Role, str] | None:
    """The role and scope of the token `token issue` gives the person who works `queue`, or
    None if it would give none: routing never sends an alert to such a queue. (An auditor's
    token reads every queue, but an auditor does not act on alerts.)"""
    if queue.startswith(_SUPERVISOR_QUEUES):
        district = queue.removeprefix(_SUPERVISOR_QUEUES)
        if district in policy.city.supervisor_scopes:
            return "supervisor", district
        return None
    if _staff_refusal("caseworker", queue, policy) is None:
        return "caseworker", queue
    return None


def readable(queue: str, policy: Policy) -> bool:
    """Whether a caseworker's or supervisor's token can be issued that reads `queue`."""
    return reader(queue, policy) is not None


def _staff_refusal(role: Role, scope: str, policy: Policy) -> str | None:
    """Why `token issue` refuses this caseworker or supervisor scope, or None if it does not."""
    city = policy.city
    if role == "supervisor" and scope not in city.supervisor_scopes:
        return (
            f"a supervisor token's scope is a district code or the city's ({city.code}); "
            f"{scope!r} is not one of: " + ", ".join(sorted(city.supervisor_scopes))
        )
    if role != "caseworker":
        return None
    if not scope or scope != scope.strip() or scope == ALL:
        return f"{scope!r} is not a caseworker id"
    if scope.startswith(_SUPERVISOR_QUEUES):
        return f"a caseworker id cannot begin with {_SUPERVISOR_QUEUES!r}: supervisor queues do"
    known = policy.routing.caseworkers
    if known is not None and scope not in known:
        return f"caseworker {scope!r} is not listed in the configuration ([routing] caseworkers)"
    return None


def _role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise TokenError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def _scope(role: str, scope: str) -> str:
    scope = scope.strip()
    if not scope:
        raise TokenError(f"a {role} token needs a scope")
    if role == "auditor" and scope != ALL:
        raise TokenError(f"an auditor token's scope must be {ALL!r}")
    if role != "auditor" and scope == ALL:
        raise TokenError(f"only auditors get the scope {ALL!r}")
    return scope


def _days(days: int) -> int:
    if days < 1:
        raise TokenError("a token must be valid for at least 1 day")
    return days


def _sign(body: str, secret: bytes) -> bytes:
    return hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64url") from None


def _demo_secret(path: Path) -> bytes:
    """Read the demo secret, or create it: written whole, then linked in, so made only once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{DEMO_SECRET}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
            os.link(temp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"the demo secret {path} is readable by others: chmod 600 it")
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ConfigError(f"the demo secret {path} is damaged: delete it to make a new one")
    return secret.encode()
