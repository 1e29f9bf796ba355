"""API tokens: standard JWTs that verify, what is refused and why, where the secret comes from."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest

from welfare_watch.errors import ConfigError
from welfare_watch.settings import Environment, Routing, Settings
from welfare_watch.tokens import (
    CLAIMS,
    DEMO_SECRET,
    Claims,
    TokenError,
    check_token_id,
    issue,
    issue_command,
    secret_for,
    token_id_of,
    verify,
)

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SECRET = b"unit-test-secret-at-least-32-bytes-long"
CONFIGURED = "test-secret-of-at-least-32-bytes-x"  # WW_SECRET_KEY in the settings below
STAFF = "MZ-0042"
PEOPLE = [("caseworker", "cw-210105-01"), ("supervisor", "210105"), ("auditor", "*")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def _signed(payload: dict[str, Any], secret: bytes = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def _good_payload() -> dict[str, Any]:
    return _payload(issue("caseworker", "cw-210105-01", 1, SECRET, NOW, subject=STAFF))


@pytest.mark.parametrize(("role", "scope"), PEOPLE)
def test_a_persons_token_verifies_to_its_role_scope_subject_id_and_expiry(
    role: str, scope: str
) -> None:
    token = issue(role, scope, 7, SECRET, NOW, subject=STAFF)
    claims = verify(token, SECRET, NOW + dt.timedelta(days=6))
    assert claims == Claims(
        role,  # type: ignore[arg-type]
        scope,
        NOW + dt.timedelta(days=7),
        STAFF,
        _payload(token)["jti"],
    )
    assert len(claims.token_id) == 32
    assert int(claims.token_id, 16) >= 0  # uuid4 hex


def test_a_department_token_names_its_feed_as_its_subject() -> None:
    token = issue("department", "psb_deaths", 1, SECRET, NOW)
    claims = verify(token, SECRET, NOW)
    assert (claims.role, claims.scope, claims.subject) == (
        "department",
        "psb_deaths",
        "dept:psb_deaths",
    )
    same = issue("department", "psb_deaths", 1, SECRET, NOW, subject="dept:psb_deaths")
    assert verify(same, SECRET, NOW).subject == "dept:psb_deaths"
    with pytest.raises(TokenError, match="names its feed, not a person"):
        issue("department", "psb_deaths", 1, SECRET, NOW, subject=STAFF)


def test_a_token_is_a_standard_hs256_jwt_that_any_jwt_library_reads() -> None:
    token = issue("caseworker", "cw-210105-01", 1, SECRET, NOW, subject=STAFF)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    payload = jwt.decode(
        token, SECRET, algorithms=["HS256"], issuer="welfare-watch", options={"verify_exp": False}
    )
    assert sorted(payload) == sorted(CLAIMS)
    assert payload | {"jti": "-"} == {
        "jti": "-",
        "sub": STAFF,
        "role": "caseworker",
        "scope": "cw-210105-01",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + dt.timedelta(days=1)).timestamp()),
        "iss": "welfare-watch",
    }
    assert SECRET.decode() not in token


def test_a_token_signed_by_another_issuer_with_the_secret_is_accepted() -> None:
    """A city's single-sign-on gateway holding WW_SECRET_KEY issues the same tokens."""
    payload = _good_payload() | {
        "jti": "3b1c0a56-8e4f-4a2b-9c1d-2f0e6a7b8c9d",
        "sub": "sso:li.ming",
    }
    claims = verify(_signed(payload), SECRET, NOW)
    assert (claims.subject, claims.token_id) == ("sso:li.ming", payload["jti"])


def test_every_token_gets_its_own_id() -> None:
    ids = {
        verify(
            issue("caseworker", "cw-210105-01", 1, SECRET, NOW, subject=STAFF), SECRET, NOW
        ).token_id
        for _ in range(200)
    }
    assert len(ids) == 200
    token = issue("auditor", "*", 1, SECRET, NOW, subject=STAFF)
    assert token_id_of(token) == verify(token, SECRET, NOW).token_id


@pytest.mark.parametrize(("role", "scope"), PEOPLE)
@pytest.mark.parametrize("subject", [None, "", "  "])
def test_a_persons_token_needs_a_subject(role: str, scope: str, subject: str | None) -> None:
    with pytest.raises(TokenError, match="give --subject STAFF_ID"):
        issue(role, scope, 1, SECRET, NOW, subject=subject)


@pytest.mark.parametrize(
    ("subject", "complaint"),
    [
        ("210105195203140118", "never a resident ID number"),
        ("cw-21010519520314011X", "never a resident ID number"),
        ("杨德福", "not a name"),
        ("MZ 0042", "not a name"),
        ("dept:psb_deaths", "not a name"),
        ("x" * 65, "up to 64"),
    ],
)
def test_a_subject_is_a_staff_id_and_the_refusal_does_not_repeat_it(
    subject: str, complaint: str
) -> None:
    with pytest.raises(TokenError, match=complaint) as raised:
        issue("caseworker", "cw-210105-01", 1, SECRET, NOW, subject=subject)
    assert subject not in str(raised.value)


def test_a_tampered_payload_is_refused() -> None:
    token = issue("department", "psb_deaths", 1, SECRET, NOW)
    header, _, signature = token.split(".")
    forged = _good_payload() | {"role": "auditor", "scope": "*"}
    body = _b64(json.dumps(forged).encode())
    with pytest.raises(TokenError, match=r"^bad signature$"):
        verify(f"{header}.{body}.{signature}", SECRET, NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue(
        "caseworker", "cw-210105-01", 1, b"another-secret-also-32-bytes-long!", NOW, subject=STAFF
    )
    with pytest.raises(TokenError, match=r"^bad signature$"):
        verify(token, SECRET, NOW)


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "HS384", "RS256"])
def test_only_hs256_is_accepted_whatever_the_token_says(alg: str) -> None:
    payload = _good_payload() | {"role": "auditor", "scope": "*"}
    unsigned = _unsigned({"alg": alg, "typ": "JWT"}, payload)
    with pytest.raises(TokenError, match=r"^unsupported algorithm: only HS256"):
        verify(unsigned, SECRET, NOW)
    with pytest.raises(TokenError, match=r"^unsupported algorithm: only HS256"):
        verify(unsigned + _b64(b"\0" * 32), SECRET, NOW)


def test_a_token_signed_with_hs512_and_the_secret_is_still_refused() -> None:
    long_secret = SECRET * 2  # long enough for HS512 without a warning
    token = jwt.encode(_good_payload(), long_secret, algorithm="HS512")
    with pytest.raises(TokenError, match="unsupported algorithm"):
        verify(token, long_secret, NOW)


def test_an_expired_token_is_refused() -> None:
    token = issue("caseworker", "cw-210105-01", 2, SECRET, NOW, subject=STAFF)
    verify(token, SECRET, NOW + dt.timedelta(days=2) - dt.timedelta(seconds=1))
    with pytest.raises(TokenError, match=r"^token expired$"):
        verify(token, SECRET, NOW + dt.timedelta(days=2))


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_token_missing_a_claim_is_refused_and_says_which(claim: str) -> None:
    payload = _good_payload()
    del payload[claim]
    with pytest.raises(TokenError, match=f"^malformed token: no '{claim}' claim$"):
        verify(_signed(payload), SECRET, NOW)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"role": "admin"}, "malformed token: unknown role"),
        ({"role": "Auditor"}, "malformed token: unknown role"),
        ({"iss": "someone-else"}, "malformed token: not issued for welfare-watch"),
        ({"jti": "x"}, "malformed token: bad token id"),
        ({"jti": 12345678901}, "malformed token"),
        ({"role": "auditor", "scope": "210105"}, "malformed token"),
        ({"role": "supervisor", "scope": "*"}, "malformed token"),
        ({"scope": ""}, "malformed token"),
        ({"scope": " cw-210105-01"}, "malformed token"),
        ({"scope": 210105}, "malformed token"),
        ({"sub": "210105195203140118"}, "malformed token"),
        ({"sub": "dept:psb_deaths"}, "malformed token"),
        ({"role": "department", "scope": "psb_deaths"}, "malformed token"),  # sub is a person
        ({"exp": "4102444800"}, "malformed token"),
        ({"exp": 1e400}, "malformed token"),
        ({"exp": 99999999999999999999}, "malformed token"),
        ({"exp": True}, "malformed token"),
        ({"iat": "now"}, "malformed token"),
    ],
)
def test_a_signed_token_with_bad_claims_is_refused_with_a_short_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenError) as raised:
        verify(_signed(_good_payload() | changes), SECRET, NOW)
    assert str(raised.value) == reason


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot-at-all",
        ".",
        "a.b.c",
        "a.b",
        "eyJhbGciOiJIUzI1NiJ9.@@@@.@@@@",
        "令牌.签名.签名",
        jwt.encode({"a": 1}, SECRET, algorithm="HS256").replace("eyJ", "eyK", 1),
        f"{_b64(b'not json')}.{_b64(b'{}')}.{_b64(b'x')}",
    ],
)
def test_a_malformed_token_is_refused_with_a_short_reason(token: str) -> None:
    with pytest.raises(TokenError) as raised:
        verify(token, SECRET, NOW)
    assert str(raised.value) in {"malformed token", "bad signature"}


def test_a_short_secret_is_refused_rather_than_used() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        issue("department", "psb_deaths", 1, b"short", NOW)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        verify(issue("department", "psb_deaths", 1, SECRET, NOW), b"short", NOW)


@pytest.mark.parametrize(
    ("role", "scope", "days", "complaint"),
    [
        ("admin", "*", 1, "unknown role 'admin'"),
        ("caseworker", "", 1, "a caseworker token needs a scope"),
        ("caseworker", "  ", 1, "a caseworker token needs a scope"),
        ("auditor", "210105", 1, "auditor token's scope must be '\\*'"),
        ("supervisor", "*", 1, "only auditors"),
        ("department", "psb_deaths", 0, "at least 1 day"),
    ],
)
def test_issue_refuses_a_role_or_scope_that_cannot_be(
    role: str, scope: str, days: int, complaint: str
) -> None:
    with pytest.raises(TokenError, match=complaint):
        issue(role, scope, days, SECRET, NOW, subject=STAFF)


@pytest.mark.parametrize(
    "token_id", ["3f2a9c0d1e4b5a6978877665544332211", "3b1c0a56-8e4f-4a2b-9c1d-2f0e6a7b8c9d"]
)
def test_a_token_id_to_revoke_is_checked(token_id: str) -> None:
    assert check_token_id(token_id) == token_id
    for bad in ("", "abc", "a b c d e f g h", "x" * 200, "-leading-dash"):
        with pytest.raises(TokenError, match="not a token id"):
            check_token_id(bad)


def _settings(tmp_path: Path, secret: str | None = CONFIGURED) -> Settings:
    return Settings.load(data_dir=tmp_path, secret_key=secret)


def test_issue_command_checks_the_scope_against_the_configuration(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    token = issue_command(settings, "department", "psb_deaths", 3, now=NOW)
    assert verify(token, CONFIGURED.encode(), NOW).scope == "psb_deaths"
    with pytest.raises(TokenError, match="'tax_office' is not one of: cremations"):
        issue_command(settings, "department", "tax_office", 3, now=NOW)
    with pytest.raises(
        TokenError, match=r"city's \(210100\); '999999' is not one of: 210100, 210102"
    ):
        issue_command(settings, "supervisor", "999999", 3, now=NOW, subject=STAFF)
    with pytest.raises(TokenError, match="needs a scope"):
        issue_command(settings, "caseworker", "", 3, now=NOW, subject=STAFF)
    with pytest.raises(TokenError, match="must be"):
        issue_command(settings, "auditor", "210105", 3, now=NOW, subject=STAFF)


@pytest.mark.parametrize(("role", "scope"), PEOPLE)
def test_issue_command_names_the_person_or_refuses(tmp_path: Path, role: str, scope: str) -> None:
    settings = _settings(tmp_path / "data", secret=None)
    with pytest.raises(TokenError, match="give --subject STAFF_ID"):
        issue_command(settings, role, scope, 3, now=NOW)
    assert not (tmp_path / "data" / DEMO_SECRET).exists()  # refused before any demo secret
    token = issue_command(settings, role, scope, 3, now=NOW, subject=STAFF, log=lambda _: None)
    assert _payload(token)["sub"] == STAFF


def test_the_city_bureau_gets_a_supervisor_token_for_the_city_code(tmp_path: Path) -> None:
    """The city queue (alerts.md, "The city queue") must have a reader: scope 210100."""
    token = issue_command(_settings(tmp_path), "supervisor", "210100", 3, now=NOW, subject=STAFF)
    claims = verify(token, CONFIGURED.encode(), NOW)
    assert (claims.role, claims.scope, claims.subject) == ("supervisor", "210100", STAFF)
    assert claims.expires_at == NOW + dt.timedelta(days=3)


@pytest.mark.parametrize(
    ("caseworkers", "scope", "complaint"),
    [
        (None, "supervisor-210105", "cannot begin with 'supervisor-'"),
        (["cw-210105-01"], "cw-gone-99", r"'cw-gone-99' is not listed .*\[routing\] caseworkers"),
    ],
)
def test_issue_command_refuses_a_caseworker_whose_queue_routing_never_fills(
    tmp_path: Path, caseworkers: list[str] | None, scope: str, complaint: str
) -> None:
    settings = _settings(tmp_path)
    routing = Routing(caseworkers=None if caseworkers is None else frozenset(caseworkers))
    settings = Settings(settings.env, settings.policy.model_copy(update={"routing": routing}))
    with pytest.raises(TokenError, match=complaint):
        issue_command(settings, "caseworker", scope, 3, now=NOW, subject=STAFF)
    if caseworkers:
        issue_command(settings, "caseworker", caseworkers[0], 3, now=NOW, subject=STAFF)


def test_the_configured_secret_is_used_and_no_demo_secret_is_made(tmp_path: Path) -> None:
    said: list[str] = []
    env = Environment(data_dir=tmp_path, secret_key=CONFIGURED)
    assert secret_for(env, said.append) == CONFIGURED.encode()
    assert said == []
    assert not (tmp_path / DEMO_SECRET).exists()


@pytest.mark.parametrize(
    ("secret", "complaint"), [(" ", "it is empty"), ("x" * 31, "it is 31 bytes")]
)
def test_an_empty_or_short_configured_secret_stops_the_service(
    tmp_path: Path, secret: str, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=f"'WW_SECRET_KEY': {complaint}"):
        secret_for(Environment(data_dir=tmp_path, secret_key=secret), print)


def test_demo_mode_makes_a_private_secret_once_and_says_so_every_time(tmp_path: Path) -> None:
    said: list[str] = []
    env = Environment(data_dir=tmp_path / "data", secret_key=None)
    first = secret_for(env, said.append)
    path = tmp_path / "data" / DEMO_SECRET
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_for(env, said.append) == first
    assert len(first) >= 32
    assert len(said) == 2
    assert all("DEMO MODE" in line and "NOT FOR PRODUCTION" in line for line in said)
    assert [p.name for p in path.parent.iterdir()] == [DEMO_SECRET]  # no temporary left over


def test_demo_tokens_are_useless_on_another_installation(tmp_path: Path) -> None:
    one = secret_for(Environment(data_dir=tmp_path / "one", secret_key=None), lambda _: None)
    two = secret_for(Environment(data_dir=tmp_path / "two", secret_key=None), lambda _: None)
    token = issue("auditor", "*", 1, one, NOW, subject=STAFF)
    with pytest.raises(TokenError, match="bad signature"):
        verify(token, two, NOW)


def test_a_demo_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    env = Environment(data_dir=tmp_path, secret_key=None)
    secret_for(env, lambda _: None)
    (tmp_path / DEMO_SECRET).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        secret_for(env, lambda _: None)
