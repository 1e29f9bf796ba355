"""The zh-CN catalogue: every code the product can emit has a Chinese word."""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest

from alerts import lifecycle, reconcile
from alerts.model import AlertStatus, Condition, Trigger
from streams import rules
from web import labels
from web.labels import Catalogue
from welfare_watch.models import FactKind
from welfare_watch.settings import REPO_ROOT, Settings, Severity
from welfare_watch.tokens import ROLES

# The Chinese names rules.md gives, exactly (the other types have none there).
RULES_MD_NAMES = {
    "DECEASED_BENEFICIARY": "死亡预警",
    "POSTHUMOUS_PAYMENT": "死亡保",
    "INCARCERATED_BENEFICIARY": "服刑保",
    "HUKOU_MOVED_OUT": "非本市户籍",
    "DUPLICATE_ENROLLMENT": "重复保",
    "VEHICLE_OWNER": "有车",
    "PROPERTY_OWNER": "有房",
    "LEGAL_PERSON": "法人保",
    "INCOME_OVER_THRESHOLD": "有收入",
    "STAFF_RELATIVE": "关系保",
    "ORPHAN_AGE_OUT": "年龄段预警",
    "ELDERLY_BAND_CHANGE": "年龄段预警",
    "SURVIVAL_CHECK_OVERDUE": "生存认证",
    "PAYMENT_AMOUNT_MISMATCH": "自动核算",
    "CASE_OVERDUE": "业务催办",
}
HAN = re.compile(r"[\u4e00-\u9fff]")
RULE_SOURCES = [
    *(REPO_ROOT / "streams" / "rules").glob("*.py"),
    REPO_ROOT / "alerts" / "escalation.py",
]
RECONCILE_SOURCE = REPO_ROOT / "alerts" / "reconcile.py"


def _constants(node: ast.AST) -> Iterator[str]:
    """The string constants an expression can evaluate to (through `a if c else b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _constants(node.body)
        yield from _constants(node.orelse)


def _assigned(node: ast.Assign, names: set[str]) -> Iterator[str]:
    """`x = "A"` and `a, x = "B", "A"`: the constants given to one of `names`."""
    for target in node.targets:
        if isinstance(target, ast.Name) and target.id in names:
            yield from _constants(node.value)
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            for name, value in zip(target.elts, node.value.elts, strict=False):
                if isinstance(name, ast.Name) and name.id in names:
                    yield from _constants(value)


def _emitted(sources: list[Path], *names: str) -> set[str]:
    """Every constant these modules pass as one of these fields: as a keyword
    (`type="VEHICLE_OWNER"`) or through a variable (`type_, severity, action = ...`)."""
    found: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg in names:
                found.update(_constants(node.value))
            elif isinstance(node, ast.Assign):
                found.update(_assigned(node, set(names)))
    return found


def _system_history() -> set[str]:
    """The history words the reconciler writes: `action=...`, `action = ...`, and the third
    argument of `_changed(alert, now, ACTION, why)`."""
    found = _emitted([RECONCILE_SOURCE], "action")
    for node in ast.walk(ast.parse(RECONCILE_SOURCE.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_changed":
            found.update(_constants(node.args[2]))
            if isinstance(node.args[2], ast.Name) and node.args[2].id == "RESTORE_NOTE":
                found.add(reconcile.RESTORE_NOTE)
    return found


def _type_codes() -> set[str]:
    """Every code-like string in the rules (`"VEHICLE_OWNER"`): the types they can emit."""
    code = re.compile(r"^[A-Z]+(_[A-Z]+)+$")
    return {
        node.value
        for path in RULE_SOURCES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and code.match(node.value)
    }


TYPES = _type_codes()
RECOMMENDED = _emitted(RULE_SOURCES, "recommended_action", "action")
SYSTEM_HISTORY = _system_history()


def test_the_rules_emit_the_20_types_of_rules_md() -> None:
    """The parse finds what the rules emit (the catalogue test is only as good as it)."""
    assert len(rules.RULES) == 17
    assert len(TYPES) == 20, sorted(TYPES)
    assert set(RULES_MD_NAMES) <= TYPES
    assert {"suspend_payment", "verify_in_person", "escalate", "transfer_case"} <= RECOMMENDED
    assert {"opened", "updated", "annotated", "withdrawn", "reopened"} <= SYSTEM_HISTORY
    assert reconcile.RESTORE_NOTE in SYSTEM_HISTORY


def test_every_type_has_its_rules_md_name_or_a_chinese_one() -> None:
    assert set(labels.TYPE_NAMES) == TYPES
    for code, name in RULES_MD_NAMES.items():
        assert labels.TYPE_NAMES[code] == name
    for code in TYPES:
        assert HAN.search(labels.TYPE_NAMES[code]), code
        assert HAN.search(labels.TYPE_EXPLANATIONS[code]), code
    # where two types share a name, the type filter still tells them apart
    options = [labels.type_option(code) for code in TYPES]
    assert len(set(options)) == len(options)


def test_every_recommended_action_has_a_word() -> None:
    missing = RECOMMENDED - set(labels.RECOMMENDED_ACTIONS)
    assert not missing, missing
    for code in RECOMMENDED:
        assert HAN.search(labels.RECOMMENDED_ACTIONS[code]), code


def test_every_history_word_has_a_word_and_the_system_s_a_why() -> None:
    people = set(lifecycle.DONE.values())
    assert SYSTEM_HISTORY | people <= set(labels.HISTORY_ACTIONS)
    assert not SYSTEM_HISTORY - set(labels.SYSTEM_WHY)
    for code in SYSTEM_HISTORY | people:
        assert HAN.search(labels.HISTORY_ACTIONS[code]), code


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        (labels.SEVERITIES, get_args(Severity)),
        (labels.STATUSES, get_args(AlertStatus)),
        (labels.CONDITIONS, get_args(Condition)),
        (labels.TRIGGERS, get_args(Trigger)),
        (labels.RESOLUTIONS, lifecycle.RESOLUTIONS),
        (labels.ACTIONS, get_args(lifecycle.Action)),
        (labels.FACT_KINDS, get_args(FactKind)),
        (labels.ROLES, (*ROLES, reconcile.SYSTEM)),
    ],
)
def test_every_code_has_a_chinese_word(table: dict[str, str], codes: tuple[str, ...]) -> None:
    assert set(codes) <= set(table), set(codes) - set(table)
    for code in codes:
        assert HAN.search(table[code]), code


def test_departments_programs_and_districts_come_from_the_configuration() -> None:
    settings = Settings.load(data_dir=Path("/nonexistent"))
    catalogue = Catalogue.of(settings)
    assert set(catalogue.departments) == set(settings.feeds)
    for feed in settings.feeds:
        assert HAN.search(catalogue.department(feed)), feed
    assert catalogue.department("prison") == "司法局 服刑人员"
    assert set(catalogue.programs) == set(settings.policy.programs)
    for program in settings.policy.programs:
        assert HAN.search(catalogue.program(program)), program
    assert catalogue.program("dibao_urban") == "城市最低生活保障"
    assert catalogue.district("210105") == "皇姑区"
    assert catalogue.district(settings.policy.city.code) == settings.policy.city.name


def test_every_ui_word_is_chinese() -> None:
    for key, text in labels.UI.items():
        assert HAN.search(text), key


def test_an_unknown_code_is_shown_as_it_is() -> None:
    assert labels.type_name("NEW_RULE") == "NEW_RULE"
    assert labels.word(labels.SEVERITIES, None) == ""


def test_an_explanation_names_the_program_the_date_and_the_amount() -> None:
    catalogue = Catalogue.of(Settings.load(data_dir=Path("/nonexistent")))
    text = catalogue.explain(
        "POSTHUMOUS_PAYMENT", "dibao_urban", dt.date(2026, 3, 4), Decimal("3120.00")
    )
    assert (
        text == "该对象死亡（2026-03-04）次月起仍有城市最低生活保障发放记录，涉及金额 3,120.00 元。"
    )
    assert "日期不详" in catalogue.explain("INCARCERATED_BENEFICIARY", "tekun", None, Decimal(0))


def test_times_are_beijing_time_and_names_are_masked() -> None:
    assert labels.local_time(dt.datetime(2026, 11, 28, 16, 30, tzinfo=dt.UTC)) == (
        "2026-11-29 00:30"
    )
    assert labels.mask_name("杨德福") == "杨*福"
    assert labels.mask_name("王五") == "王*"
    assert labels.mask_name("欧阳小明") == "欧**明"
