"""Every word a caseworker reads, in Chinese (zh-CN), keyed by the product's stable codes.

The API, the `alerts` topic and the metrics keep the English codes; the inbox page, its script
and the notifiers look the words up here. Department, program and district names are the
configuration's own (`config/feeds.toml` `department`, `programs.*.name`, `city.districts`),
so a city that adds a feed or a program names it once, there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from welfare_watch.settings import Settings

# The caseworkers' clock: every time on the page is Beijing time.
LOCAL_TIME = ZoneInfo("Asia/Shanghai")

# The 20 warning types (rules.md): the Chinese names rules.md gives, and a plain name for the
# rest.
TYPE_NAMES: dict[str, str] = {
    "DECEASED_BENEFICIARY": "死亡预警",
    "DECEASED_HOUSEHOLD_MEMBER": "家庭成员死亡",
    "POSTHUMOUS_PAYMENT": "死亡保",
    "INCARCERATED_BENEFICIARY": "服刑保",
    "PAYMENT_DURING_INCARCERATION": "服刑期间发放",
    "HUKOU_MOVED_OUT": "非本市户籍",
    "HUKOU_MOVED_WITHIN_CITY": "户籍市内迁移",
    "DUPLICATE_ENROLLMENT": "重复保",
    "DUPLICATE_HOUSEHOLD": "重复家庭",
    "VEHICLE_OWNER": "有车",
    "PROPERTY_OWNER": "有房",
    "LEGAL_PERSON": "法人保",
    "INCOME_OVER_THRESHOLD": "有收入",
    "STAFF_RELATIVE": "关系保",
    "ORPHAN_AGE_OUT": "年龄段预警",
    "ELDERLY_BAND_CHANGE": "年龄段预警",
    "SURVIVAL_CHECK_OVERDUE": "生存认证",
    "PAYMENT_AMOUNT_MISMATCH": "自动核算",
    "PAYMENT_TO_INACTIVE": "停保后发放",
    "CASE_OVERDUE": "业务催办",
}

# Two types share rules.md's name 年龄段预警: where both are listed (the type filter), this
# tells them apart.
TYPE_QUALIFIERS: dict[str, str] = {
    "ORPHAN_AGE_OUT": "年满18周岁",
    "ELDERLY_BAND_CHANGE": "高龄津贴档次",
}

# What each type means, in a sentence a caseworker can act on. `{program}` is the program's
# name, `{date}` the date of the underlying event, `{amount}` the amount at risk in yuan.
TYPE_EXPLANATIONS: dict[str, str] = {
    "DECEASED_BENEFICIARY": "部门报告该对象已于{date}死亡，但其仍以户主或个人身份享受{program}。",
    "DECEASED_HOUSEHOLD_MEMBER": (
        "部门报告该家庭成员已于{date}死亡，但仍计入{program}保障家庭人口。"
    ),
    "POSTHUMOUS_PAYMENT": "该对象死亡（{date}）次月起仍有{program}发放记录，涉及金额 {amount} 元。",
    "INCARCERATED_BENEFICIARY": "该对象于{date}入监服刑，其后没有出监记录，仍在享受{program}。",
    "PAYMENT_DURING_INCARCERATION": (
        "该对象整月在监服刑期间仍有{program}发放，涉及金额 {amount} 元。"
    ),
    "HUKOU_MOVED_OUT": "该对象户籍已于{date}迁出本市，仍在享受{program}。",
    "HUKOU_MOVED_WITHIN_CITY": "该对象户籍已于{date}迁至本市其他区县，案件仍由原区县管理。",
    "DUPLICATE_ENROLLMENT": "该对象同时享受同一互斥类别中的两项以上救助。",
    "DUPLICATE_HOUSEHOLD": "该对象同时被计入两个以上保障家庭。",
    "VEHICLE_OWNER": (
        "该对象名下有登记在册的机动车（非豁免车型），同时享受须核对经济状况的{program}。"
    ),
    "PROPERTY_OWNER": "该对象名下有非住宅房产或两套以上住宅，同时享受须核对经济状况的{program}。",
    "LEGAL_PERSON": "该对象是存续企业的法定代表人或股东，同时享受须核对经济状况的{program}。",
    "INCOME_OVER_THRESHOLD": "该家庭人均月收入超过{program}的保障标准。",
    "STAFF_RELATIVE": "该对象是民政干部职工备案的近亲属，须由区县主管独立复核，本人回避。",
    "ORPHAN_AGE_OUT": "该对象即将或已经年满18周岁（{date}），请做好{program}停发后的保障衔接。",
    "ELDERLY_BAND_CHANGE": "该对象即将年满90或100周岁（{date}），高龄津贴档次随之变化。",
    "SURVIVAL_CHECK_OVERDUE": "该对象超过规定期限未完成生存认证，仍在享受{program}。",
    "PAYMENT_AMOUNT_MISMATCH": "{program}的发放金额与核定月保障金额不一致。",
    "PAYMENT_TO_INACTIVE": "该对象没有有效的{program}保障资格，仍有发放，涉及金额 {amount} 元。",
    "CASE_OVERDUE": "原预警已超过办理时限仍未办结，提请主管督办。",
}

SEVERITIES: dict[str, str] = {
    "critical": "紧急",
    "high": "高",
    "medium": "中",
    "low": "低",
}

STATUSES: dict[str, str] = {
    "open": "待处理",
    "acknowledged": "已接收",
    "resolved": "已办结",
    "dismissed": "已排除",
    "withdrawn": "已撤回",
}

CONDITIONS: dict[str, str] = {
    "holds": "情况仍存在",
    "ended": "情况已结束（此前期间仍可能多发）",
    "outranked": "已被更重要的预警覆盖（如死亡、服刑），仍待复核",
    "refuted": "后续记录表明情况不成立",
}

CONFIDENCES: dict[str, str] = {
    "confirmed": "已确认",
    "unverified": "待核实",
}

RECOMMENDED_ACTIONS: dict[str, str] = {
    "suspend_payment": "暂停发放",
    "verify_in_person": "入户核实",
    "recalculate_benefit": "重新核算保障金额",
    "recover_overpayment": "追回多发资金",
    "review_eligibility": "复核救助资格",
    "transfer_case": "办理转移",
    "independent_review": "独立复核（相关人员回避）",
    "plan_transition": "做好保障衔接",
    "adjust_amount": "调整津贴标准",
    "contact_beneficiary": "联系对象完成生存认证",
    "correct_payment": "更正发放金额",
    "escalate": "提请主管督办",
}

RESOLUTIONS: dict[str, str] = {
    "confirmed_suspended": "情况属实，已暂停发放",
    "confirmed_recalculated": "情况属实，已重新核算",
    "confirmed_recovered": "情况属实，已追回资金",
    "transferred": "已转移办理",
    "false_match": "比对有误（误报）",
    "no_action_needed": "核实后无需处理",
}

TRIGGERS: dict[str, str] = {
    "event": "部门数据",
    "enrollment": "救助登记变化",
    "payment": "资金发放",
    "scan": "每日定期检查",
}

# The history of an alert: what happened.
HISTORY_ACTIONS: dict[str, str] = {
    "opened": "生成预警",
    "updated": "证据更新",
    "annotated": "情况变化备注",
    "withdrawn": "撤回",
    "reopened": "重新打开",
    "restore_benefit": "提示恢复待遇",
    "acknowledged": "确认接收",
    "resolved": "办结",
    "dismissed": "排除",
    "reassigned": "转派",
}

# For what the system did, the history shows this in place of its own (English) note.
SYSTEM_WHY: dict[str, str] = {
    "opened": "系统比对部门数据与救助名册后发现",
    "updated": "出现新的证据，或证据、金额、建议措施有变化",
    "annotated": "情况有变化，请核实后办理",
    "withdrawn": "所依据的部门记录已被撤销或否定",
    "reopened": "所依据的情况再次出现",
    "restore_benefit": "确认时所依据的部门记录已被撤销：请恢复该对象的待遇",
}

# What a person does to an alert (alerts.lifecycle actions).
ACTIONS: dict[str, str] = {
    "ack": "确认接收",
    "resolve": "办结",
    "dismiss": "排除",
    "reassign": "转派",
}

ROLES: dict[str, str] = {
    "caseworker": "经办人",
    "supervisor": "主管",
    "auditor": "审计",
    "department": "部门",
    "system": "系统",
}

# The kind of department record behind a piece of evidence.
FACT_KINDS: dict[str, str] = {
    "death": "死亡记录",
    "move": "户籍迁移记录",
    "prison": "服刑记录",
    "vehicle": "机动车登记",
    "property": "不动产登记",
    "company_role": "企业任职记录",
    "income": "收入记录",
    "staff_relative": "干部职工近亲属备案",
    "payment": "资金发放记录",
    "survival_check": "生存认证记录",
}

# The inbox's own words: sign-in, list, filters, detail, actions, messages. The script gets
# them (with the tables above) as JSON in the page.
UI: dict[str, str] = {
    "product": "救助预警",
    "product_full": "社会救助动态预警",
    "bureau": "民政局",
    "sign_in": "登录",
    "sign_in_title": "登录救助预警工作台",
    "sign_in_hint": "请粘贴本人的访问令牌。令牌由系统管理员签发，仅本人使用，请勿转交他人。",
    "token": "访问令牌",
    "token_missing": "请填写访问令牌。",
    "token_rejected": "访问令牌无效、已过期或已被注销，请联系系统管理员。",
    "session_ended": "登录已失效，请重新登录。",
    "signed_in_as": "当前用户",
    "sign_out": "退出",
    "inbox": "预警工作台",
    "counts": "未办结预警",
    "total": "共 {n} 条",
    "all": "全部",
    "filter": "筛选",
    "reset_filters": "清除筛选",
    "status": "状态",
    "type": "预警类型",
    "severity": "紧急程度",
    "program": "救助项目",
    "district": "区县",
    "q": "关键词",
    "q_hint": "预警编号、姓名、社区",
    "person": "对象",
    "id_number": "身份证号",
    "name": "姓名",
    "community": "社区",
    "queue": "所在队列",
    "detected_at": "发现时间",
    "due_by": "办理期限",
    "overdue": "已超期",
    "amount_at_risk": "涉及金额",
    "yuan": "元",
    "none": "无",
    "no_alerts": "当前没有符合条件的预警。",
    "page": "第 {page} / {pages} 页",
    "previous": "上一页",
    "next": "下一页",
    "live": "实时更新",
    "live_on": "已连接，新预警会自动出现",
    "live_off": "连接中断，正在重新连接…",
    "new_alerts": "新预警",
    "new_alerts_hint": "有 {n} 条新的或有变化的预警不在当前页，点击刷新",
    "updated": "已更新",
    "back": "返回列表",
    "detail": "预警详情",
    "reason": "预警原因",
    "recommended_action": "建议措施",
    "confidence": "可信度",
    "condition": "当前情况",
    "trigger": "触发来源",
    "event_time": "事件日期",
    "household": "家庭编号",
    "name_mismatch": "部门记录中的姓名与名册不一致，请核实身份。",
    "evidence": "证据（部门记录）",
    "no_evidence": "该预警没有部门记录，依据救助名册或定期检查生成。",
    "changed": "该预警刚有更新，点击刷新查看。",
    "department": "报送部门",
    "record_kind": "记录类别",
    "record_id": "记录编号",
    "event_date": "事件日期",
    "received_at": "接收时间",
    "history": "处理记录",
    "at": "时间",
    "by": "操作人",
    "what": "操作",
    "why": "说明",
    "resolution": "办结结果",
    "actions": "处理",
    "note": "说明",
    "note_required": "请填写说明。",
    "note_hint_dismiss": "请说明排除的理由（必填）",
    "note_hint_resolve": "办理情况（结果为“比对有误”时必填）",
    "note_hint_optional": "备注（可选）",
    "choose": "请选择",
    "reassign_to": "转派给经办人",
    "reassign_hint": "经办人编号，如 cw-210105-01",
    "ack_done": "已确认接收。",
    "resolve_done": "已办结。",
    "dismiss_done": "已排除。",
    "reassign_done": "已转派。",
    "reassigned_why": "从 {source} 转派给 {target}",
    "action_failed": "操作未成功：",
    "error_401": "登录已失效，请重新登录。",
    "error_403": "您无权对该预警进行此操作。",
    "error_404": "没有找到该预警。",
    "error_409": "该预警的状态已经变化，请刷新页面后再试。",
    "error_422": "填写的内容不完整或不正确，请检查办结结果和说明。",
    "error_other": "系统暂时无法完成操作，请稍后再试。",
    "queued": "已提交，系统处理后页面会自动更新。",
    "resolution_required": "请选择办结结果。",
    "queue_required": "请填写要转派的经办人编号。",
    "false_match_note": "结果为“比对有误”时，请填写说明。",
    "working": "正在提交…",
    "closed_no_actions": "该预警已{status}，无需再处理。",
    "read_only": "您的账号为只读，不能处理预警。",
    "not_found": "没有找到该预警，或您无权查看。",
    "not_found_title": "未找到",
    "forbidden": "您无权查看该预警。",
    "error_title": "出错了",
    "reason_codes_note": "系统依据部门报送的记录生成预警，是否处理由经办人核实后决定。",
    "audit_note": "查看完整记录会被记入审计日志。",
    "unknown": "未知",
    "date_unknown": "日期不详",
}


def word(table: Mapping[str, str], code: str | None) -> str:
    """The word for a code; a code the catalogue does not know is shown as it is, never lost."""
    if code is None or code == "":
        return ""
    return table.get(code, code)


def type_name(code: str) -> str:
    return word(TYPE_NAMES, code)


def type_option(code: str) -> str:
    """A type's name where all types are listed: the shared name with what tells it apart."""
    name = type_name(code)
    qualifier = TYPE_QUALIFIERS.get(code)
    return f"{name}（{qualifier}）" if qualifier else name


@dataclass(frozen=True)
class Catalogue:
    """The fixed words above plus the configuration's names: departments, programs, districts."""

    departments: Mapping[str, str]  # feed -> department
    programs: Mapping[str, str]  # program code -> name
    districts: Mapping[str, str]  # district code -> name
    city_code: str
    city_name: str

    @classmethod
    def of(cls, settings: Settings) -> Catalogue:
        policy = settings.policy
        return cls(
            departments={name: spec.department for name, spec in settings.feeds.items()},
            programs={code: program.name for code, program in policy.programs.items()},
            districts=dict(policy.city.districts),
            city_code=policy.city.code,
            city_name=policy.city.name,
        )

    # --- lookups for the templates --------------------------------------------------------
    def type(self, code: str) -> str:
        return type_name(code)

    def severity(self, code: str) -> str:
        return word(SEVERITIES, code)

    def status(self, code: str) -> str:
        return word(STATUSES, code)

    def condition(self, code: str) -> str:
        return word(CONDITIONS, code)

    def confidence(self, code: str) -> str:
        return word(CONFIDENCES, code)

    def action(self, code: str) -> str:
        return word(RECOMMENDED_ACTIONS, code)

    def action_word(self, code: str) -> str:
        """What a person does (the buttons): 确认接收, 办结, 排除, 转派."""
        return word(ACTIONS, code)

    def resolution(self, code: str | None) -> str:
        return word(RESOLUTIONS, code)

    def trigger(self, code: str) -> str:
        return word(TRIGGERS, code)

    def history(self, code: str) -> str:
        return word(HISTORY_ACTIONS, code)

    def role(self, code: str) -> str:
        return word(ROLES, code)

    def kind(self, code: str | None) -> str:
        return word(FACT_KINDS, code)

    def department(self, feed: str) -> str:
        return word(self.departments, feed)

    def program(self, code: str) -> str:
        return word(self.programs, code)

    def district(self, code: str) -> str:
        if code == self.city_code:
            return self.city_name
        return word(self.districts, code)

    def ui(self, key: str, **values: object) -> str:
        text = UI[key]
        return text.format(**values) if values else text

    def explain(self, type_: str, program: str, event: dt.date | None, amount: Decimal) -> str:
        """Why an alert fired, in Chinese, from its codes and fields."""
        template = TYPE_EXPLANATIONS.get(type_)
        if template is None:
            return type_name(type_)
        return template.format(
            program=self.program(program) or UI["unknown"],
            date=event.isoformat() if event else UI["date_unknown"],
            amount=f"{amount:,.2f}",
        )

    def for_script(self) -> dict[str, Any]:
        """Everything the inbox's script needs to show an alert that arrives by push."""
        return {
            "types": TYPE_NAMES,
            "severities": SEVERITIES,
            "statuses": STATUSES,
            "actions": RECOMMENDED_ACTIONS,
            "resolutions": RESOLUTIONS,
            "programs": dict(self.programs),
            "districts": {**self.districts, self.city_code: self.city_name},
            "ui": UI,
        }


def local_time(moment: dt.datetime | None) -> str:
    """A time as the caseworker reads it: Beijing time, to the minute."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def mask_name(name: str) -> str:
    """A name as the list shows it: the family name and the last character, `杨*福`."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
