"""Typed settings: connection settings from the environment, policy from config/*.toml."""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from welfare_watch.errors import ConfigError
from welfare_watch.names import supervisor_queue

if TYPE_CHECKING:
    from connectors.feedspec import FeedSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"
DEFAULT_CONFIG = CONFIG_DIR / "welfare-watch.toml"

Severity = Literal["critical", "high", "medium", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class City(_Strict):
    name: str
    prefix: str = Field(pattern=r"^\d{4}$")
    districts: dict[str, str]

    @field_validator("districts")
    @classmethod
    def _six_digit_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if not (len(code) == 6 and code.isdigit()):
                raise ValueError(f"district code {code!r} is not 6 digits")
        return value

    def in_city(self, region_code: str) -> bool:
        return region_code.startswith(self.prefix)

    @property
    def code(self) -> str:
        """The city's own region code (`210100` for `2101`): the city bureau's scope."""
        return self.prefix + "00"

    @property
    def supervisor_scopes(self) -> frozenset[str]:
        """Every scope a supervisor token may have: a configured district, or the city."""
        return frozenset((*self.districts, self.code))

    def district_of(self, region_code: str) -> str:
        """The configured district a region code names, else the city's code."""
        return region_code if region_code in self.districts else self.code

    def supervisor_queue(self, district_code: str) -> str:
        """The supervisor queue for a district: a district that is not configured (outside
        the city, or one no longer listed) goes to the city's, so a token can always read it."""
        return supervisor_queue(self.district_of(district_code))


class Program(_Strict):
    name: str
    kind: Literal["household", "individual"]
    means_tested: bool = False
    group: str | None = None
    income_standard: Decimal | None = None
    survival_checks: bool = False


class Thresholds(_Strict):
    exempt_vehicle_types: list[str]
    non_residential_uses: list[str]
    age_out_programs: list[str]
    age_out_years: int = Field(gt=0)
    age_out_window_days: int = Field(ge=0)
    elderly_programs: list[str]
    elderly_bands: list[int]
    elderly_window_days: int = Field(ge=0)
    survival_check_days: int = Field(gt=0)
    amount_tolerance: Decimal = Field(ge=0)


class SlaDays(_Strict):
    critical: int = Field(gt=0)
    high: int = Field(gt=0)
    medium: int = Field(gt=0)
    low: int = Field(gt=0)

    def for_severity(self, severity: Severity) -> int:
        days: int = getattr(self, severity)
        return days


class Worker(_Strict):
    partitions: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    batch_within: float = Field(gt=0)
    # A delivery whose end marker has not come this many seconds after its last fact (its
    # sender died) is ended on its behalf, so its people are evaluated without waiting a day.
    abandon_after: float = Field(default=60.0, gt=0)
    abandon_check_every: float = Field(default=10.0, gt=0)  # seconds between looks
    # On SIGTERM the batch in flight may take this many seconds to be saved; past it the worker
    # stops without committing it (it is read again on restart). The stop then takes about 4 s
    # more: keep the sum below the supervisor's wait before SIGKILL (docker stop: 10 s).
    stop_grace: float = Field(default=6.0, gt=0)


class Routing(_Strict):
    # The caseworker ids the bureau has; an alert for any other id goes to the district
    # supervisor. Left out, every caseworker id on the roster is trusted.
    caseworkers: frozenset[str] | None = None


class Scan(_Strict):
    daily_at: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # worker clock
    check_every: float = Field(default=60.0, gt=0)  # seconds between "is a scan due?" checks
    # A worker claims the day's scan for this many seconds, renewed while it queues; a scan cut
    # short (the worker died) is taken over by the group's leader once the claim expires.
    claim_seconds: int = Field(default=300, ge=1)
    # At most this many re-checks a second go on Kafka (0: as fast as it takes them), so that
    # a large city's scan does not hold up the live updates queued behind it in a partition.
    queue_per_second: int = Field(default=0, ge=0)

    @property
    def time(self) -> dt.time:
        return dt.time.fromisoformat(self.daily_at)


class Connectors(_Strict):
    stable_seconds: float = Field(default=2.0, gt=0)  # a dropped file unchanged this long is whole
    poll_seconds: float = Field(default=1.0, gt=0)  # how often the inbox folders are looked at


WebhookFormat = Literal["json", "wecom", "dingtalk"]


class WebhookTarget(_Strict):
    """Where one queue's alert changes are posted. The URL is a secret: robot webhooks carry
    their key in it (企业微信 `key=`, 钉钉 `access_token=`), so it is never logged."""

    url: SecretStr
    format: WebhookFormat = "json"
    secret: SecretStr | None = None  # format "dingtalk" only: the robot's signing secret (加签)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("a webhook url starts with http:// or https://")
        return value


class Webhooks(_Strict):
    """Outbound webhooks per queue (`"*"`: every queue), retried with exponential back-off."""

    inbox_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://")
    attempts: int = Field(default=5, ge=1, le=20)  # tries per delivery before giving up
    backoff_seconds: float = Field(default=1.0, gt=0)  # before the 2nd try; doubles each time
    timeout_seconds: float = Field(default=10.0, gt=0)  # one try
    concurrency: int = Field(default=8, gt=0)  # requests in flight at once
    targets: dict[str, WebhookTarget] = Field(default_factory=dict)  # queue or "*" -> target


class Policy(_Strict):
    """Everything in config/welfare-watch.toml: the city, programs, thresholds, SLAs."""

    city: City
    programs: dict[str, Program]
    thresholds: Thresholds
    sla_days: SlaDays
    worker: Worker
    routing: Routing = Routing()
    scan: Scan = Scan()
    connectors: Connectors = Connectors()
    webhooks: Webhooks = Webhooks()


def stack_redis_record(data_dir: Path) -> Path:
    """Where `stack up --redis-cluster` records the cluster it started: one line, its URL
    (`redis+cluster://127.0.0.1:PORT`). `stack down` deletes it."""
    return data_dir.expanduser() / "stack" / "redis.url"


class Environment(BaseSettings):
    """Connection settings and overrides, read from WW_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="WW_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "localhost:9092"
    redis_url: str = "redis://localhost:6379/0"
    as_of: dt.date | None = None
    config: Path | None = None
    data_dir: Path = REPO_ROOT / ".data"
    secret_key: SecretStr | None = None
    metrics_port: int = Field(default=0, ge=0, le=65535)  # this process's /metrics; 0 = off
    # How long `ingest` and `roster load` wait for Kafka to answer at their start (a broker
    # restarting) before giving up; once sending, a record is retried for 120 s (kafka.py).
    kafka_wait: float = Field(default=60.0, ge=0)
    # A real cluster (docs/operations.md), passed to every client by welfare_watch/security.py.
    # Kafka: TLS and SASL. The CA file is the one that signed the brokers' certificates.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ca_file: Path | None = None
    # Redis: AUTH (a password, or an ACL user and password); TLS is `rediss://` in redis_url,
    # with the CA that signed the server's certificate when it is not a public one.
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _redis_the_stack_runs(cls, given: Any) -> Any:
        """Without WW_REDIS_URL, the Redis Cluster the embedded stack recorded in data_dir, if
        one runs there; an explicit WW_REDIS_URL always wins."""
        if not isinstance(given, dict) or "redis_url" in given:
            return given
        data_dir = given.get("data_dir", cls.model_fields["data_dir"].default)
        if not isinstance(data_dir, str | Path):
            return given  # not a path: the field's own validation says so
        try:
            recorded = stack_redis_record(Path(data_dir)).read_text().strip()
        except OSError:
            return given
        return {**given, "redis_url": recorded} if recorded else given


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _first_error(exc: ValidationError, source: str, env_prefix: str = "") -> ConfigError:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if env_prefix:
        key = env_prefix + key.upper()
    return ConfigError(f"bad configuration key {key!r} in {source}: {error['msg']}")


def load_policy(override: Path | None = None) -> Policy:
    raw = _read_toml(DEFAULT_CONFIG)
    source = str(DEFAULT_CONFIG)
    if override is not None:
        raw = _merge(raw, _read_toml(override))
        source = f"{override} (over {DEFAULT_CONFIG.name})"
    raw.pop("feeds", None)  # feed formats are read by connectors.feedspec.load_feeds
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(exc, source) from None


class Settings:
    """The environment and the policy together; build once at start with `Settings.load()`."""

    def __init__(self, env: Environment, policy: Policy) -> None:
        self.env = env
        self.policy = policy

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        try:
            env = Environment(**overrides)
        except ValidationError as exc:
            raise _first_error(exc, "the environment", env_prefix="WW_") from None
        return cls(env, load_policy(env.config))

    def today(self) -> dt.date:
        return self.env.as_of or dt.date.today()

    @cached_property
    def feeds(self) -> dict[str, FeedSpec]:
        from connectors.feedspec import load_feeds

        return load_feeds(self.env.config)
