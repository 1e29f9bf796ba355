"""Department files to facts: every sample, every encoding, bad records and bad files."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from connectors.errors import NotATable
from connectors.feedspec import FeedSpec, load_feeds
from connectors.parse import Rejection, normalise, parse_feed, parse_message
from welfare_watch.errors import ConfigError, WelfareWatchError
from welfare_watch.models import Fact

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
RECEIVED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
FEEDS = load_feeds()
PSB_HEADER = "公民身份号码,姓名,死亡日期,注销日期,业务流水号,状态"
PSB_GOOD = "210105195203140118,杨德福,2025-11-02,2025-11-20,GA2025112000317,正常"


def parse(feed: str, path: Path) -> tuple[list[Fact], list[Rejection]]:
    items = list(parse_feed(FEEDS[feed], path, RECEIVED, path.name))
    facts = [i for i in items if isinstance(i, Fact)]
    rejections = [i for i in items if isinstance(i, Rejection)]
    assert len(facts) + len(rejections) == len(items)
    return facts, rejections


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# feed -> (kind, facts in the sample, event_date of the first, its record_id or None for a
# hash, the first fact's attrs)
SAMPLE_FACTS: dict[str, tuple[str, int, dt.date | None, str | None, dict[str, str]]] = {
    "psb_deaths": (
        "death", 1, dt.date(2025, 11, 2), "GA2025112000317",
        {"status": "active", "cancel_date": "2025-11-20", "authoritative": "true"},
    ),
    "health_deaths": (
        "death", 1, dt.date(2025, 11, 2), "Y210105202511020093",
        {"died_at": "2025-11-02T06:40:00", "institution": "沈阳市第四人民医院"},
    ),
    "cremations": (
        "death", 1, dt.date(2025, 11, 5), "HH-2025-118204",
        {"date_is_upper_bound": "true", "funeral_home": "沈阳市殡仪馆"},
    ),
    "hukou_moves": (
        "move", 1, dt.date(2026, 3, 15), "GA2026031500981",
        {"direction": "out", "from_region": "210111", "to_region": "211202"},
    ),
    "prison": (
        "prison", 1, dt.date(2026, 1, 10), "SJ-2026-00412",
        {"event": "admitted", "prison": "辽宁省沈阳监狱", "sentence_end": "2028-01-09"},
    ),
    "vehicles": (
        "vehicle", 2, dt.date(2026, 4, 18), None,
        {"plate": "辽A·7K2Q9", "vehicle_type": "小型汽车", "status": "registered"},
    ),
    "real_estate": (
        "property", 1, dt.date(2025, 12, 1), None,
        {
            "unit_id": "210102001003GB00012F00010021", "use": "商业",
            "use_class": "commercial", "area": "46.50", "status": "registered",
        },
    ),
    "enterprises": (
        "company_role", 1, dt.date(2024, 6, 11), None,
        {
            "credit_code": "91210111MA0XKQ8L2N", "company_name": "沈阳苏家屯区小军商贸有限公司",
            "role": "legal_representative", "company_status": "operating",
        },
    ),
    "income": (
        "income", 2, dt.date(2026, 9, 1), None,
        {"employer": "沈阳某物业服务有限公司", "amount": "1500.00"},
    ),
    "staff_relatives": (
        "staff_relative", 1, None, None,
        {"staff_id": "MZ-210102-0087", "staff_name": "王建军", "staff_region": "210102",
         "relation": "兄弟"},
    ),
    "payments": (
        "payment", 3, dt.date(2025, 11, 1), None,
        {"program": "dibao_urban", "amount": "1560.00", "paid_date": "2025-11-10",
         "batch_id": "FF-202511-01"},
    ),
    "survival_checks": (
        "survival_check", 1, dt.date(2026, 5, 20), None,
        {"checked_at": "2026-05-20T09:12:00", "method": "face"},
    ),
}  # fmt: skip


def test_every_configured_feed_has_a_sample() -> None:
    assert set(FEEDS) == set(SAMPLE_FACTS)


@pytest.mark.parametrize("feed", sorted(SAMPLE_FACTS))
def test_every_sample_parses_without_rejections(feed: str) -> None:
    kind, count, event_date, record_id, attrs = SAMPLE_FACTS[feed]
    facts, rejections = parse(feed, SAMPLES / f"{feed}.csv")
    assert rejections == []
    assert len(facts) == count
    first = facts[0]
    assert (first.feed, first.kind, first.event_date, first.attrs) == (
        feed,
        kind,
        event_date,
        attrs,
    )
    assert first.record_id == record_id or (record_id is None and len(first.record_id) == 20)
    assert first.received_at == RECEIVED
    assert first.source == f"{feed}.csv"
    assert all(len(f.person_id) == 18 for f in facts)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
@pytest.mark.parametrize("feed", sorted(SAMPLE_FACTS))
def test_gb18030_and_bom_copies_parse_identically(tmp_path: Path, feed: str, encoding: str) -> None:
    original = SAMPLES / f"{feed}.csv"
    copy = write(tmp_path, original.name, original.read_text("utf-8"), encoding)
    assert copy.read_bytes() != original.read_bytes()
    assert parse(feed, copy) == parse(feed, original)


@pytest.mark.parametrize("feed", sorted(SAMPLE_FACTS))
def test_json_lines_parse_like_csv(tmp_path: Path, feed: str) -> None:
    original = SAMPLES / f"{feed}.csv"
    header, *rows = original.read_text("utf-8").splitlines()
    lines = [json.dumps(dict(zip(header.split(","), row.split(","), strict=True))) for row in rows]
    copy = write(tmp_path, f"{feed}.jsonl", "\n".join(lines) + "\n")
    facts, rejections = parse(feed, copy)
    expected, _ = parse(feed, original)
    assert rejections == []
    assert [f.model_copy(update={"source": ""}) for f in facts] == [
        f.model_copy(update={"source": ""}) for f in expected
    ]


def test_a_stream_without_a_name_is_sniffed_as_csv_or_json_lines() -> None:
    body = json.dumps(dict(zip(PSB_HEADER.split(","), PSB_GOOD.split(","), strict=True)))
    for data in (io.BytesIO(f"{PSB_HEADER}\n{PSB_GOOD}\n".encode()), io.BytesIO(body.encode())):
        (fact,) = parse_feed(FEEDS["psb_deaths"], data, RECEIVED, "http:psb")
        assert isinstance(fact, Fact)
        assert (fact.record_id, fact.source) == ("GA2025112000317", "http:psb")


BAD_PSB_ROWS = [
    (
        "210105195203140113,杨德福,2025-11-02,2025-11-20,GA1,正常",
        "公民身份号码 check character is 3, expected 8",
    ),
    (
        "21010519520314011,杨德福,2025-11-02,2025-11-20,GA1,正常",
        "公民身份号码 has 17 characters, expected 18",
    ),
    (
        "210105199902310014,杨德福,2025-11-02,2025-11-20,GA1,正常",
        "公民身份号码 birth date 19990231 is not a real date",
    ),
    (
        "210105195203140118,杨德福,2025-11-02,2025-11-20,GA1,作废",
        "状态 '作废' is not one of 正常, 撤销",
    ),
    (
        "210105195203140118,杨德福,2025-02-30,2025-11-20,GA1,正常",
        "死亡日期 '2025-02-30' is not a real date",
    ),
    ("210105195203140118,杨德福,,2025-11-20,GA1,正常", "死亡日期 is empty"),
    ("210105195203140118,杨德福,2025-11-02,2025-11-20,,正常", "业务流水号 is empty"),
    (
        "210105195203140118,杨德福,2025-11-02,2025-11-20,GA1",
        "the line has 5 values, the header has 6 columns",
    ),
    (
        "210105195203140118,杨德福,2025-11-02,2025-11-20,GA1,正常,extra",
        "the line has 7 values, the header has 6 columns",
    ),
    (
        "210105195203140113,杨德福,2025-11-02,someday,GA1,正常",
        "公民身份号码 check character is 3, expected 8; 注销日期 'someday' is not a date"
        " (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)",
    ),
]


@pytest.mark.parametrize(("line", "reason"), BAD_PSB_ROWS)
def test_each_bad_record_is_rejected_with_a_reason(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path, "psb.csv", f"{PSB_HEADER}\n{PSB_GOOD}\n{line}\n{PSB_GOOD}\n")
    facts, rejections = parse("psb_deaths", path)
    assert len(facts) == 2
    (rejection,) = rejections
    assert rejection.reason == reason
    assert (rejection.feed, rejection.source, rejection.line) == ("psb_deaths", "psb.csv", 3)
    assert rejection.record["公民身份号码"] == line.split(",")[0]  # the record as it was sent


@pytest.mark.parametrize(
    ("feed", "text", "reason"),
    [
        (
            "health_deaths",
            "身份证号,姓名,死亡时间,医疗机构,证明编号\n"
            "210105195203140118,杨德福,2025-11-02 25:10,医院,Y1",
            "死亡时间 '2025-11-02 25:10' is not a real time of day",
        ),
        (
            "hukou_moves",
            "公民身份号码,姓名,迁移类型,迁出地区划代码,迁入地区划代码,迁移日期,业务流水号\n"
            "210111198809050337,刘小军,迁出,210111,2112,2026-03-15,GA1",
            "迁入地区划代码 '2112' is not a 6-digit region code",
        ),
        (
            "income",
            "身份证号,姓名,所属期,缴费单位,月收入\n210102196001010556,王建国,2026-13,公司,abc",
            "所属期 '2026-13' is not a real month; 月收入 'abc' is not a number",
        ),
        (
            "survival_checks",
            "身份证号,认证时间,认证方式\n210103193608150662,2026-05-20 09:12,电话",
            "认证方式 '电话' is not one of 人脸, 上门",
        ),
        (
            "psb_deaths",
            json.dumps({"公民身份号码": "210105195203140118", "姓名": "杨德福", "状态": "正常"}),
            "missing columns 死亡日期, 注销日期, 业务流水号",
        ),
    ],
)
def test_bad_records_of_other_feeds(tmp_path: Path, feed: str, text: str, reason: str) -> None:
    name = f"{feed}.jsonl" if text.startswith("{") else f"{feed}.csv"
    facts, rejections = parse(feed, write(tmp_path, name, text + "\n"))
    assert facts == []
    assert [r.reason for r in rejections] == [reason]


def test_accepted_plus_rejected_is_received_and_bad_records_do_not_stop_the_file(
    tmp_path: Path,
) -> None:
    lines = [PSB_GOOD]
    for bad, _ in BAD_PSB_ROWS:
        lines += [bad, "", PSB_GOOD.replace("GA2025112000317", f"GA{len(lines)}")]
    path = write(tmp_path, "psb.csv", PSB_HEADER + "\n" + "\n".join(lines) + "\n")
    facts, rejections = parse("psb_deaths", path)
    assert (len(facts), len(rejections)) == (len(BAD_PSB_ROWS) + 1, len(BAD_PSB_ROWS))
    assert [r.line for r in rejections] == [3 + 3 * i for i in range(len(BAD_PSB_ROWS))]


def test_a_line_in_the_wrong_encoding_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    gb_line = PSB_GOOD.replace("GA2025112000317", "GA2").encode("gb18030")
    body = f"{PSB_HEADER}\n{PSB_GOOD}\n".encode() + gb_line + b"\n" + PSB_GOOD.encode()[:-6]
    path = tmp_path / "psb.csv"
    path.write_bytes(body + "正常\n".encode())
    facts, rejections = parse("psb_deaths", path)
    assert len(facts) == 2
    (rejection,) = rejections
    assert rejection.reason == "the line is not valid UTF-8 text: save the file as UTF-8 or GB18030"
    assert rejection.record["业务流水号"] == "GA2"
    rejection.model_dump_json()  # the record can still be sent to dept.rejected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "psb_deaths.csv is binary (it contains NUL bytes)",
        ),
        (b"PK\x03\x04\x14\x00\x06\x00", "psb_deaths.csv is a zip or Excel (.xlsx) file"),
        (
            "姓名,注销日期,业务流水号,状态\n杨德福,2025-11-20,GA1,正常\n".encode(),
            "psb_deaths.csv is not a psb_deaths table: missing columns 公民身份号码, 死亡日期",
        ),
        (
            b"person_id,name,program\n",
            "psb_deaths.csv is not a psb_deaths table: missing columns 公民身份号码, 姓名",
        ),
        (b"", "psb_deaths.csv is empty: it has no header line"),
        (
            "公民身份号码,姓名,姓名,死亡日期,注销日期,业务流水号,状态\n".encode(),
            "psb_deaths.csv has the column 姓名 more than once",
        ),
        (b"\x80\x81,\x82\n", "psb_deaths.csv is not UTF-8 or GB18030 text"),
        (PSB_HEADER.encode("utf-16"), "psb_deaths.csv is UTF-16 text"),
    ],
)
def test_a_file_that_is_not_a_table_fails_as_a_whole(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "psb_deaths.csv"
    path.write_bytes(content)
    with pytest.raises(NotATable) as caught:
        next(iter(parse_feed(FEEDS["psb_deaths"], path, RECEIVED, "file:psb_deaths.csv")))
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, WelfareWatchError)


def test_json_lines_of_another_table_are_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", '{"person_id": "210105195203140118"}\n')
    with pytest.raises(NotATable, match=r"x\.jsonl is not a psb_deaths table: missing columns"):
        parse("psb_deaths", path)
    path = write(tmp_path, "y.jsonl", "[1, 2]\n")
    with pytest.raises(NotATable, match=r"y\.jsonl is not JSON lines: line 1 is not a JSON object"):
        parse("psb_deaths", path)


def test_record_ids_are_stable_and_ignore_how_a_record_was_written(tmp_path: Path) -> None:
    header = "所有人证件号码,所有人姓名,号牌号码,车辆类型,登记日期,状态"
    plain = "210102196001010556,王建国,辽A·7K2Q9,小型汽车,2026-04-18,注册"
    untidy = " 2101 0219 6001 0105 56 ,王 建国,辽A·7K2Q9 ,小型汽车,2026/4/18,注册"
    deregistered = plain.replace("注册", "注销")
    path = write(tmp_path, "v.csv", "\n".join([header, plain, untidy, deregistered]) + "\n")
    first, second, third = parse("vehicles", path)[0]
    # Pinned: the id must not change between runs, processes or releases.
    assert first.record_id == "49a93fb87ec5d9495ddf"
    assert second.record_id == first.record_id
    assert third.record_id != first.record_id
    assert second.name == "王建国"
    again, _ = parse("vehicles", path)
    assert [f.record_id for f in again] == [f.record_id for f in (first, second, third)]


def test_a_revocation_carries_the_serial_of_the_record_it_revokes(tmp_path: Path) -> None:
    revoked = PSB_GOOD.replace("正常", "撤销")
    path = write(tmp_path, "psb.csv", f"{PSB_HEADER}\n{PSB_GOOD}\n{revoked}\n")
    death, revocation = parse("psb_deaths", path)[0]
    assert revocation.revokes and not death.revokes
    assert revocation.revoked_identity == death.identity == "psb_deaths:GA2025112000317"


@pytest.mark.parametrize("sentence_end", ["", "无期", " "])
def test_an_optional_empty_value_leaves_its_attribute_out(sentence_end: str) -> None:
    row = {
        "身份证号码": "210104197502020776",
        "姓名": "孙立强",
        "事件": "入监",
        "日期": "20260110",
        "监狱名称": "辽宁省沈阳监狱",
        "刑期止日": sentence_end,
        "记录编号": "SJ-1",
    }
    fact = normalise(FEEDS["prison"], row, RECEIVED)
    assert fact.attrs == {"event": "admitted", "prison": "辽宁省沈阳监狱"}
    assert fact.event_date == dt.date(2026, 1, 10)


@pytest.mark.parametrize(
    ("use", "use_class"),
    [("住宅", "residential"), ("车位", "parking"), ("办公", "office"), ("仓储", "other")],
)
def test_property_use_keeps_the_department_word_and_a_class(use: str, use_class: str) -> None:
    row = {
        "权利人证件号": "210102196001010556",
        "权利人姓名": "王建国",
        "不动产单元号": "U1",
        "用途": use,
        "面积": "80",
        "登记日期": "2025-12-01",
        "状态": "登记",
    }
    fact = normalise(FEEDS["real_estate"], row, RECEIVED)
    assert (fact.attrs["use"], fact.attrs["use_class"], fact.attrs["area"]) == (
        use,
        use_class,
        "80.00",
    )


def test_a_raw_kafka_message_is_one_record() -> None:
    row = dict(zip(PSB_HEADER.split(","), PSB_GOOD.split(","), strict=True))
    fact = parse_message(FEEDS["psb_deaths"], json.dumps(row).encode(), RECEIVED)
    assert isinstance(fact, Fact)
    assert fact.source == "dept.psb_deaths.raw"
    bad = parse_message(FEEDS["psb_deaths"], b"not json", RECEIVED)
    assert isinstance(bad, Rejection)
    assert bad.reason == "the message is not a JSON object"


OVERRIDE = """
[city]
name = "沈阳市"

[feeds.county_deaths]
department = "县 死亡登记"
fact = "death"
encoding = "gb18030"
delimiter = "|"
attrs = { authoritative = false }

[feeds.county_deaths.columns]
ID = { field = "person_id", type = "id" }
DIED = { field = "event_date", type = "date" }
WHO = { field = "name", type = "name" }
NOTE = { field = "note", required = false }

[feeds.payments]
encoding = "gb18030"
"""


def test_a_feed_added_only_by_configuration_works(tmp_path: Path) -> None:
    override = write(tmp_path, "override.toml", OVERRIDE)
    feeds = load_feeds(override)
    assert feeds["payments"].encoding == "gb18030"
    assert feeds["payments"].columns == FEEDS["payments"].columns
    spec = feeds["county_deaths"]
    text = "ID|DIED|WHO\n11010519491231002x|20251102|杨 德福\n210105195203140113|20251102|x\n"
    items = list(parse_feed(spec, write(tmp_path, "c.txt", text, "gb18030"), RECEIVED))
    facts = [item for item in items if isinstance(item, Fact)]
    rejections = [item for item in items if isinstance(item, Rejection)]
    (fact,) = facts
    assert fact.model_dump(exclude={"record_id", "received_at", "delivery"}) == {
        "feed": "county_deaths",
        "kind": "death",
        "person_id": "11010519491231002X",
        "name": "杨德福",
        "event_date": dt.date(2025, 11, 2),
        "attrs": {"authoritative": "false"},
        "source": "c.txt",
    }
    assert [r.reason for r in rejections] == ["ID check character is 3, expected 8"]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[feeds.x]\nfact = "death"\ncolumns = {}', "feeds.x.department"),
        ('[feeds.x]\ndepartment = "d"\nfact = "dead"\ncolumns = {}', "feeds.x.fact"),
        ('[feeds.x]\ndepartment = "d"\nfact = "death"\ncolumns = {}', "feeds.x"),
        ('[feeds.x]\ndepartment = "d"\nfact = "death"\nencoding = "klingon"', "feeds.x.encoding"),
        ("[feeds.psb_deaths]\nsurprise = 1", "feeds.psb_deaths.surprise"),
        ("[feeds]\nx = 1", "feeds.x"),
        (
            '[feeds.psb_deaths.columns]\nA = { field = "person_id", type = "idd" }',
            "feeds.psb_deaths.columns.A.type",
        ),
        (
            '[feeds.psb_deaths.columns]\nA = [{ field = "person_id", type = "id" }, { field = 1 }]',
            "feeds.psb_deaths.columns.A.1.field",
        ),
        (
            '[feeds.psb_deaths.columns]\nA = { field = "person_id", type = "id" }\n'
            'B = { field = "status", type = "word" }',
            "feeds.psb_deaths.columns.B",
        ),
        ('[feeds.psb_deaths.columns]\nA = { field = "name" }', "feeds.psb_deaths"),
    ],
)
def test_invalid_feed_configuration_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"^bad configuration key '{key}' in "):
        load_feeds(write(tmp_path, "bad.toml", toml))


def test_a_missing_or_broken_override_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_feeds(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_feeds(write(tmp_path, "broken.toml", "[feeds\n"))


def test_feed_spec_lists_its_required_columns() -> None:
    spec: FeedSpec = FEEDS["prison"]
    assert "刑期止日" not in spec.required_columns
    assert spec.required_columns[0] == "身份证号码"
    assert spec.has_serial and not FEEDS["payments"].has_serial
