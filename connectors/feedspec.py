"""Each department feed as configuration: columns, types, value words, record ids."""

from __future__ import annotations

import codecs
import tomllib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from welfare_watch.errors import ConfigError
from welfare_watch.models import FactKind
from welfare_watch.settings import CONFIG_DIR, load_policy

if TYPE_CHECKING:
    from connectors.records import FeedReader

FEEDS_FILE = CONFIG_DIR / "feeds.toml"

FieldType = Literal[
    "id", "name", "text", "date", "datetime", "month", "decimal", "region", "word", "program"
]
# Canonical Fact fields; every other field name becomes a key of Fact.attrs.
PERSON_ID, NAME, EVENT_DATE, RECORD_ID = "person_id", "name", "event_date", "record_id"
PROGRAMS = "programs"  # validation context: the policy's program codes, for type "program"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"  # a feed's name, and a field's
_EVENT_DATE_TYPES = frozenset({"date", "datetime", "month"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """Where one column's value goes and how it is read."""

    field: str = Field(pattern=NAME_PATTERN)
    type: FieldType = "text"
    required: bool = True  # the column must be in the header and the value non-empty
    words: dict[str, str] = Field(default_factory=dict)  # type "word": department word -> ours
    otherwise: str | None = None  # type "word": value for an unlisted word; unset = reject
    empty_words: list[str] = Field(default_factory=list)  # values that mean "no value" (无)
    # type "program": the codes a value may be, sorted. load_feeds fills them in from the
    # policy's [programs], so a program added there is known to every feed at once.
    codes: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _program_codes(cls, data: Any, info: ValidationInfo) -> Any:
        programs = (info.context or {}).get(PROGRAMS)
        if programs is None or not isinstance(data, dict):
            return data
        if "codes" in data:
            raise ValueError("'codes' is not a feed key: program codes come from [programs]")
        return {**data, "codes": programs} if data.get("type") == "program" else data

    @model_validator(mode="after")
    def _words_for_word_type(self) -> FieldSpec:
        if self.type == "word" and not self.words:
            raise ValueError("a field of type 'word' needs a 'words' table")
        if self.type != "word" and (self.words or self.otherwise is not None):
            raise ValueError(
                f"'words' and 'otherwise' apply only to type 'word', not {self.type!r}"
            )
        if self.type == "program" and not self.codes:
            raise ValueError("a field of type 'program' needs the policy's program codes")
        if self.type != "program" and self.codes:
            raise ValueError(f"'codes' apply only to type 'program', not {self.type!r}")
        return self


class FeedSpec(_Strict):
    """One department feed: enough to turn any of its records into a Fact."""

    name: str = Field(pattern=NAME_PATTERN)
    department: str = Field(min_length=1)
    fact: FactKind
    encoding: str = "auto"  # "auto": UTF-8 with or without BOM, else GB18030
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    columns: dict[str, tuple[FieldSpec, ...]]
    attrs: dict[str, str] = Field(default_factory=dict)  # constants added to every fact
    # How often a delivery is expected: past this many days without one the feed is not
    # current, and rules that conclude from a record missing in it hold back. None: never stale.
    expected_every_days: int | None = Field(default=None, gt=0)

    @field_validator("columns", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {col: [spec] if isinstance(spec, dict) else spec for col, spec in value.items()}
        return value

    @field_validator("attrs", mode="before")
    @classmethod
    def _flags_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else v for k, v in value.items()}
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _fields_make_a_fact(self) -> FeedSpec:
        fields = [spec for specs in self.columns.values() for spec in specs]
        names = [spec.field for spec in fields]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"fields {', '.join(repeated)} come from more than one column")
        ids = [spec for spec in fields if spec.field == PERSON_ID]
        if len(ids) != 1 or ids[0].type != "id" or not ids[0].required:
            raise ValueError("exactly one required column must map to person_id with type 'id'")
        for spec in fields:
            if spec.field == EVENT_DATE and spec.type not in _EVENT_DATE_TYPES:
                raise ValueError("event_date must have type date, datetime or month")
        return self

    @cached_property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(col for col, specs in self.columns.items() if any(s.required for s in specs))

    @cached_property
    def reader(self) -> FeedReader:
        """Its records to Facts, with each column's readers chosen once."""
        from connectors.records import FeedReader  # reading needs the spec, not the other way

        return FeedReader(self)

    @cached_property
    def has_serial(self) -> bool:
        """Whether a column carries the department's own record number."""
        return any(spec.field == RECORD_ID for specs in self.columns.values() for spec in specs)


def load_feeds(override: Path | None = None) -> dict[str, FeedSpec]:
    """Every configured feed: config/feeds.toml, with `[feeds.X]` tables from `override`.

    An override table replaces the keys it names in an existing feed (give `columns` whole)
    or adds a new feed. Columns of type "program" take their codes from the policy that the
    same override gives (welfare-watch.toml under it).
    """
    tables = _feed_tables(FEEDS_FILE)
    source = str(FEEDS_FILE)
    if override is not None:
        for name, table in _feed_tables(override).items():
            tables[name] = {**tables.get(name, {}), **table}
        source = f"{override} (over {FEEDS_FILE.name})"
    context = {PROGRAMS: tuple(sorted(load_policy(override).programs))}
    feeds: dict[str, FeedSpec] = {}
    for name, table in tables.items():
        try:
            feeds[name] = FeedSpec.model_validate({"name": name, **table}, context=context)
        except ValidationError as exc:
            raise _config_error(exc, f"feeds.{name}", source, table) from None
    return feeds


def _feed_tables(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    feeds = raw.get("feeds", {})
    if not isinstance(feeds, dict):
        raise ConfigError(f"bad configuration key 'feeds' in {path}: not a table")
    for name, table in feeds.items():
        if not isinstance(table, dict):
            raise ConfigError(f"bad configuration key 'feeds.{name}' in {path}: not a table")
    return dict(feeds)


def _config_error(
    exc: ValidationError, prefix: str, source: str, table: dict[str, Any]
) -> ConfigError:
    error = exc.errors()[0]
    loc = list(error["loc"])
    # A column written as one table, not a list of them, is named without the list index.
    if len(loc) > 2 and loc[0] == "columns" and isinstance(table["columns"][loc[1]], dict):
        del loc[2]
    key = ".".join([prefix, *(str(part) for part in loc)])
    return ConfigError(f"bad configuration key {key!r} in {source}: {error['msg']}")
