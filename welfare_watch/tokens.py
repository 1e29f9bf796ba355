"""Bearer tokens for the HTTP API: standard JWTs (HS256) naming a role, a scope and a person.

Claims: `jti` (the token's id, which `token revoke` names), `sub` (the staff id of the person it
was issued to; "dept:<feed>" for a department), `role`, `scope`, `iat`, `exp` and `iss`. A city's
single-sign-on gateway holding WW_SECRET_KEY can issue the same tokens.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import jwt

from welfare_watch.errors import ConfigError, WelfareWatchError
from welfare_watch.names import supervisor_queue
from welfare_watch.settings import Environment, Policy, Settings

Role = Literal["caseworker", "supervisor", "auditor", "department"]
ROLES: tuple[Role, ...] = get_args(Role)
PEOPLE: frozenset[Role] = frozenset({"caseworker", "supervisor", "auditor"})  # --subject needed
ALL = "*"  # the auditor's scope: everything, read-only
DEMO_SECRET = "demo-secret"  # file name under WW_DATA_DIR when WW_SECRET_KEY is not set
ISSUER = "welfare-watch"
ALGORITHM = "HS256"  # the only one accepted: never "none", never one the token chooses
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash
DEPARTMENT_SUBJECT = "dept:"  # a department token's subject: "dept:<feed>"
CLAIMS = ("jti", "sub", "role", "scope", "iat", "exp", "iss")
_SUPERVISOR_QUEUES = supervisor_queue("")  # what every supervisor queue begins with
# A staff id: letters, digits and a little punctuation (an SSO login, an e-mail address); never
# a name, and never a resident ID number (15 or more digits in a row are refused).
_STAFF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:-]{0,63}")
_ID_NUMBER_LIKE = re.compile(r"[0-9]{15,}")
_TOKEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

_logger = logging.getLogger(__name__)


class TokenError(WelfareWatchError):
    """A token that cannot be issued or accepted; the message is the short reason."""


@dataclass(frozen=True)
class Claims:
    """Who a verified token speaks for, and until when."""

    role: Role
    scope: str  # a caseworker id, a district or the city code, a feed name, or "*" (auditors)
    expires_at: dt.datetime
    subject: str  # the staff id of the person (history and audit name them), or "dept:<feed>"
    token_id: str  # the JWT's jti: what `token revoke` names and every audit entry records

    def allows(self, role: Role, scope: str) -> bool:
        return self.role == role and self.scope == scope


def issue(
    role: str,
    scope: str,
    days: int,
    secret: bytes,
    now: dt.datetime,
    *,
    subject: str | None = None,
) -> str:
    """A token for `role` on `scope`, valid for `days` days from `now`, with a new id.

    Caseworkers, supervisors and auditors are people: `subject` is their staff id and is
    required. A department token's subject is its feed ("dept:<feed>"), so none is given.
    """
    checked = _role(role)
    scope = _scope(checked, scope)
    expires_at = now + dt.timedelta(days=_days(days))
    payload = {
        "jti": uuid.uuid4().hex,
        "sub": _subject(checked, scope, subject),
        "role": checked,
        "scope": scope,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "iss": ISSUER,
    }
    return jwt.encode(payload, _key(secret), algorithm=ALGORITHM)


def verify(token: str, secret: bytes, now: dt.datetime) -> Claims:
    """The claims of a token signed with `secret` that has not expired; TokenError if not.

    Only HS256 is accepted, whatever the token's header says; the expiry is judged at `now`.
    """
    token = token.strip()
    if not token.isascii():
        raise TokenError("malformed token")
    try:
        payload = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "require": list(CLAIMS),
                "verify_exp": False,  # judged below, against `now`
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAlgorithmError:
        raise TokenError(f"unsupported algorithm: only {ALGORITHM} is accepted") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"malformed token: no {exc.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise TokenError("malformed token: not issued for welfare-watch") from None
    except jwt.InvalidTokenError:
        raise TokenError("malformed token") from None
    return _claims(payload, now)


def token_id_of(token: str) -> str:
    """The id (jti) a token carries, read WITHOUT checking it: to show, never to trust."""
    try:
        token_id = jwt.decode(token, options={"verify_signature": False})["jti"]
    except (jwt.InvalidTokenError, KeyError):
        raise TokenError("malformed token") from None
    return check_token_id(token_id)


def check_token_id(token_id: object) -> str:
    """A token id as `token revoke` takes it: what `issue` makes (32 hex digits), or another
    issuer's id of letters, digits and - _ . : (a UUID, say)."""
    if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
        raise TokenError(
            "not a token id: `token issue` prints it (32 hex digits) on stderr; it is the jti "
            "claim of the token"
        )
    return token_id


def _claims(payload: Mapping[str, Any], now: dt.datetime) -> Claims:
    """The claims of a payload whose signature is good: every one of the right type."""
    role, scope, subject = payload["role"], payload["scope"], payload["sub"]
    token_id, exp, iat = payload["jti"], payload["exp"], payload["iat"]
    if role not in ROLES:
        raise TokenError("malformed token: unknown role")
    if not (isinstance(scope, str) and isinstance(subject, str) and isinstance(token_id, str)):
        raise TokenError("malformed token")
    if not _TOKEN_ID.fullmatch(token_id):
        raise TokenError("malformed token: bad token id")
    if type(exp) is not int or type(iat) is not int:
        raise TokenError("malformed token")
    try:  # what `issue` would refuse is not accepted either, whoever signed it
        if _scope(role, scope) != scope:
            raise TokenError("scope with spaces")
        _subject(role, scope, subject)
        expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
    except (TokenError, OverflowError, OSError, ValueError):
        raise TokenError("malformed token") from None
    if expires_at <= now:
        raise TokenError("token expired")
    return Claims(role, scope, expires_at, subject, token_id)


def secret_for(env: Environment, log: Callable[[str], None]) -> bytes:
    """WW_SECRET_KEY, or in demo mode a random secret made once under WW_DATA_DIR.

    Demo mode says so through `log` every time: its tokens are for trying the product out.
    No built-in secret exists, so no default credential ever works.
    """
    if env.secret_key is not None:
        key = env.secret_key.get_secret_value()
        if not key.strip():
            raise ConfigError("bad configuration key 'WW_SECRET_KEY': it is empty")
        if len(key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"bad configuration key 'WW_SECRET_KEY': it is {len(key.encode())} bytes, and "
                f"signing tokens (HS256) needs at least {MIN_SECRET_BYTES}: "
                "make one with `openssl rand -hex 32`"
            )
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
    subject: str | None = None,
    now: dt.datetime | None = None,
    log: Callable[[str], None] = _logger.warning,
) -> str:
    """`welfare-watch token issue`: check the scope against the configuration and the subject,
    then sign. A person's token (caseworker, supervisor, auditor) needs their staff id."""
    checked = _role(role)
    scope = _scope(checked, scope)
    _subject(checked, scope, subject)  # before the secret: a refusal never starts demo mode
    if checked == "department" and scope not in settings.feeds:
        known = ", ".join(sorted(settings.feeds))
        raise TokenError(f"a department token's scope is a feed; {scope!r} is not one of: {known}")
    refusal = _staff_refusal(checked, scope, settings.policy)
    if refusal is not None:
        raise TokenError(refusal)
    secret = secret_for(settings.env, log)
    return issue(checked, scope, days, secret, now or dt.datetime.now(dt.UTC), subject=subject)


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


def _subject(role: Role, scope: str, subject: str | None) -> str:
    """The token's `sub`: a person's staff id (required), or "dept:<feed>" for a department.

    The refusal never repeats the value: it may be a name or an ID number typed by mistake.
    """
    if role not in PEOPLE:
        if subject is not None and subject != DEPARTMENT_SUBJECT + scope:
            raise TokenError("a department token names its feed, not a person: leave out --subject")
        return DEPARTMENT_SUBJECT + scope
    if subject is None or not subject.strip():
        raise TokenError(
            f"a {role} token names the person it is for: give --subject STAFF_ID (alerts.md, "
            '"Who acted")'
        )
    if _ID_NUMBER_LIKE.search(subject):
        raise TokenError("the subject is a staff id, never a resident ID number")
    if not _STAFF_ID.fullmatch(subject) or subject.startswith(DEPARTMENT_SUBJECT):
        raise TokenError(
            "the subject must be a staff id: up to 64 letters, digits and . _ @ + : -, not a name"
        )
    return subject


def _key(secret: bytes) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"a token secret needs at least {MIN_SECRET_BYTES} bytes (HS256); "
            f"this one has {len(secret)}"
        )
    return secret


def _days(days: int) -> int:
    if days < 1:
        raise TokenError("a token must be valid for at least 1 day")
    return days


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
