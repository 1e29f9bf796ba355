"""API tokens: what verifies, what is refused and why, and where the demo secret comes from."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest

from welfare_watch.errors import ConfigError
from welfare_watch.settings import Environment, Routing, Settings
from welfare_watch.tokens import (
    DEMO_SECRET,
    Claims,
    TokenError,
    issue,
    issue_command,
    secret_for,
    verify,
)

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SECRET = b"unit-test-secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("caseworker", "cw-210105-01"),
        ("supervisor", "210105"),
        ("auditor", "*"),
        ("department", "psb_deaths"),
    ],
)
def test_a_token_verifies_to_its_role_scope_and_expiry(role: str, scope: str) -> None:
    token = issue(role, scope, 7, SECRET, NOW)
    assert verify(token, SECRET, NOW + dt.timedelta(days=6)) == Claims(
        role,  # type: ignore[arg-type]
        scope,
        NOW + dt.timedelta(days=7),
    )


def test_a_token_is_two_base64url_parts_and_carries_no_secret() -> None:
    token = issue("department", "psb_deaths", 1, SECRET, NOW)
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    expires = int((NOW + dt.timedelta(days=1)).timestamp())
    assert payload == {"role": "department", "scope": "psb_deaths", "exp": expires}
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32  # HMAC-SHA256
    assert SECRET.decode() not in token


def test_a_tampered_payload_is_refused() -> None:
    token = issue("department", "psb_deaths", 1, SECRET, NOW)
    _, signature = token.split(".")
    forged = _b64(json.dumps({"role": "auditor", "scope": "*", "exp": 4102444800}).encode())
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{forged}.{signature}", SECRET, NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue("caseworker", "cw-210105-01", 1, b"another-secret", NOW)
    with pytest.raises(TokenError, match="bad signature"):
        verify(token, SECRET, NOW)


def test_an_expired_token_is_refused() -> None:
    token = issue("caseworker", "cw-210105-01", 2, SECRET, NOW)
    verify(token, SECRET, NOW + dt.timedelta(days=2) - dt.timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        verify(token, SECRET, NOW + dt.timedelta(days=2))


def _signed(payload: bytes) -> str:
    body = _b64(payload)
    return f"{body}.{_b64(hmac.new(SECRET, body.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot-at-all",
        ".",
        "a.b.c",
        "eyJyb2xlIjoiYXVkaXRvciJ9.@@@@",
        "令牌.签名",
        _signed(b"not json"),
        _signed(b'["a list"]'),
        _signed(b'{"role": "admin", "scope": "*", "exp": 4102444800}'),
        _signed(b'{"role": "auditor", "scope": "", "exp": 4102444800}'),
        _signed(b'{"role": "auditor", "scope": "*", "exp": "4102444800"}'),
        _signed(b'{"role": "auditor", "scope": "*", "exp": 1e400}'),
        _signed(b'{"role": "auditor", "scope": "*", "exp": 99999999999999999999}'),
        _signed(b'{"role": "auditor", "scope": "*"}'),
    ],
)
def test_a_malformed_token_is_refused_with_a_short_reason(token: str) -> None:
    with pytest.raises(TokenError) as raised:
        verify(token, SECRET, NOW)
    assert str(raised.value) in {"malformed token", "bad signature"}


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
        issue(role, scope, days, SECRET, NOW)


def _settings(tmp_path: Path, secret: str | None = "test-secret") -> Settings:
    return Settings.load(data_dir=tmp_path, secret_key=secret)


def test_issue_command_checks_the_scope_against_the_configuration(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    token = issue_command(settings, "department", "psb_deaths", 3, now=NOW)
    assert verify(token, b"test-secret", NOW).scope == "psb_deaths"
    with pytest.raises(TokenError, match="'tax_office' is not one of: cremations"):
        issue_command(settings, "department", "tax_office", 3, now=NOW)
    with pytest.raises(
        TokenError, match=r"city's \(210100\); '999999' is not one of: 210100, 210102"
    ):
        issue_command(settings, "supervisor", "999999", 3, now=NOW)
    with pytest.raises(TokenError, match="needs a scope"):
        issue_command(settings, "caseworker", "", 3, now=NOW)
    with pytest.raises(TokenError, match="must be"):
        issue_command(settings, "auditor", "210105", 3, now=NOW)


def test_the_city_bureau_gets_a_supervisor_token_for_the_city_code(tmp_path: Path) -> None:
    """The city queue (alerts.md, "The city queue") must have a reader: scope 210100."""
    token = issue_command(_settings(tmp_path), "supervisor", "210100", 3, now=NOW)
    assert verify(token, b"test-secret", NOW) == Claims(
        "supervisor", "210100", NOW + dt.timedelta(days=3)
    )


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
        issue_command(settings, "caseworker", scope, 3, now=NOW)
    if caseworkers:
        issue_command(settings, "caseworker", caseworkers[0], 3, now=NOW)


def test_the_configured_secret_is_used_and_no_demo_secret_is_made(tmp_path: Path) -> None:
    said: list[str] = []
    env = Environment(data_dir=tmp_path, secret_key="from-the-environment")
    assert secret_for(env, said.append) == b"from-the-environment"
    assert said == []
    assert not (tmp_path / DEMO_SECRET).exists()


def test_an_empty_configured_secret_stops_the_service(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="WW_SECRET_KEY"):
        secret_for(Environment(data_dir=tmp_path, secret_key=" "), print)


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
    token = issue("auditor", "*", 1, one, NOW)
    with pytest.raises(TokenError, match="bad signature"):
        verify(token, two, NOW)


def test_a_demo_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    env = Environment(data_dir=tmp_path, secret_key=None)
    secret_for(env, lambda _: None)
    (tmp_path / DEMO_SECRET).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        secret_for(env, lambda _: None)
