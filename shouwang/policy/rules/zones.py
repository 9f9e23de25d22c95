"""Risk-zone lifting (§4), pooling modes (§5.2) and code colours (§9.1). Pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shouwang.core.errors import ValidationFailed
from shouwang.policy.rules.model import CASE_CONTEXTS, POOL_MODES, ZONE_KINDS, Ruleset
from shouwang.policy.rules.plans import Because

LEVEL_NAMES = {"high": ("高风险区", "high-risk zone"), "medium": ("中风险区", "medium-risk zone"),
               "low": ("低风险区", "low-risk zone"), "lifted": ("解除", "lifted")}


def _d(day: dt.date) -> str:
    return day.isoformat()


@dataclass(frozen=True)
class LiftStep:
    to: str
    rule: str
    quiet_from: dt.date  # first quiet day
    eligible_on: dt.date  # the last quiet day: the zone may change at its end once the conditions hold
    round_needed_on: tuple[dt.date, ...]  # acceptable dates of the required whole-area round
    state: str  # met | waiting | blocked
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"to": self.to, "to_label_zh": LEVEL_NAMES[self.to][0], "to_label_en": LEVEL_NAMES[self.to][1],
                "rule": self.rule, "quiet_from": self.quiet_from.isoformat(), "eligible_on": self.eligible_on.isoformat(),
                "round_needed_on": [d.isoformat() for d in self.round_needed_on], "state": self.state,
                "explanation": [b.as_dict() for b in self.because]}


@dataclass(frozen=True)
class ZoneDecision:
    version: str
    zone_kind: str
    level_now: str
    last_counted_case: dt.date | None
    ignored_cases: tuple[tuple[dt.date, str], ...]
    steps: tuple[LiftStep, ...]
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"version": self.version, "zone_kind": self.zone_kind, "level_now": self.level_now,
                "level_now_label_zh": LEVEL_NAMES[self.level_now][0], "level_now_label_en": LEVEL_NAMES[self.level_now][1],
                "last_counted_case": self.last_counted_case.isoformat() if self.last_counted_case else None,
                "ignored_cases": [{"date": d.isoformat(), "context": c} for d, c in self.ignored_cases],
                "steps": [s.as_dict() for s in self.steps], "explanation": [b.as_dict() for b in self.because]}


def zone_lift_eligibility(rules: Ruleset, zone_kind: str, designated_on: dt.date,
                          cases: list[tuple[dt.date, str]], rounds: list[tuple[dt.date, bool]],
                          today: dt.date) -> ZoneDecision:
    """When a zone may be downgraded or lifted, and what it is today.

    cases: (date found, context) of infections linked to the zone; contexts listed in the version's
    `uncounted_case_contexts` (e.g. found in central quarantine) do not count. rounds: (date, all negative) of
    whole-area PCR screening rounds. Each step needs `quiet_days` consecutive days without a counted infection,
    counted from the day after designation or the last counted infection, and where the version says so a
    negative round on a given quiet day or within some hours before lifting.
    """
    if zone_kind not in ZONE_KINDS:
        raise ValidationFailed(field="zone_kind", code="invalid_choice", message_zh=f"风险区类型“{zone_kind}”不存在",
                               message_en=f"zone kind '{zone_kind}' does not exist")
    if zone_kind not in rules.zones:
        raise ValidationFailed(field="zone_kind", code="zone_kind_not_used",
                               message_zh=f"{rules.id} 不再划定{LEVEL_NAMES[zone_kind][0]}",
                               message_en=f"{rules.id} no longer designates a {LEVEL_NAMES[zone_kind][1]}")
    spec = rules.zones[zone_kind]
    uncounted = rules.param("uncounted_case_contexts")
    for _, context in cases:
        if context not in CASE_CONTEXTS:
            raise ValidationFailed(field="cases", code="invalid_choice", message_zh=f"病例发现情形“{context}”不存在",
                                   message_en=f"case context '{context}' does not exist")
    counted = sorted(d for d, c in cases if c not in uncounted.value and d >= designated_on)
    ignored = tuple(sorted((d, c) for d, c in cases if c in uncounted.value))
    because = [Because(spec.rule, f"{spec.label_zh}，{_d(designated_on)} 划定", f"{spec.label_en}, designated on {_d(designated_on)}")]
    for d, c in ignored:
        because.append(Because(uncounted.rule, f"{_d(d)} 的病例不计入（{CASE_CONTEXTS[c][0]}）",
                               f"the case of {_d(d)} does not count ({CASE_CONTEXTS[c][1]})"))
    last = max([designated_on, *counted])
    if counted:
        because.append(Because(spec.rule, f"最后一例计入的新增感染者：{_d(counted[-1])}",
                               f"last counted new infection: {_d(counted[-1])}"))
    negative_rounds = {d for d, ok in rounds if ok}
    positive_rounds = {d for d, ok in rounds if not ok}
    steps, level, start = [], zone_kind, last
    blocked = False
    for step in spec.steps:
        quiet_from = start + dt.timedelta(days=1)
        eligible_on = start + dt.timedelta(days=step.quiet_days)
        lines = [Because(step.rule, f"连续{step.quiet_days}天无新增（{_d(quiet_from)} 至 {_d(eligible_on)}）后可转为"
                         f"{LEVEL_NAMES[step.to][0]}", f"{step.quiet_days} days without a new infection "
                         f"({_d(quiet_from)} to {_d(eligible_on)}), then {LEVEL_NAMES[step.to][1]}")]
        needed: tuple[dt.date, ...] = ()
        if step.round_on_day:
            needed = (start + dt.timedelta(days=step.round_on_day),)
            lines.append(Because(step.rule, f"第{step.round_on_day}天（{_d(needed[0])}）全员核酸一轮均阴性",
                                 f"a whole-area PCR round on day {step.round_on_day} ({_d(needed[0])}), all negative"))
        elif step.final_round_within_hours:
            span = max(1, step.final_round_within_hours // 24)
            needed = tuple(eligible_on - dt.timedelta(days=i) for i in range(span, -1, -1))
            lines.append(Because(step.rule, f"解除前{step.final_round_within_hours}小时内全员核酸一轮均阴性",
                                 f"a whole-area PCR round within {step.final_round_within_hours} h before lifting, "
                                 "all negative"))
        if blocked:
            state = "waiting"
        elif needed and any(d in positive_rounds for d in needed) and not any(d in negative_rounds for d in needed):
            state, blocked = "blocked", True
            lines.append(Because(step.rule, "筛查有阳性：不能转级", "the screening round had a positive: no change"))
        elif today < eligible_on:
            state, blocked = "waiting", True
        elif needed and not any(d in negative_rounds for d in needed):
            state, blocked = "waiting", True
            lines.append(Because(step.rule, "尚无符合要求的阴性筛查记录", "no qualifying negative round recorded yet"))
        else:
            state, level = "met", step.to
        steps.append(LiftStep(step.to, step.rule, quiet_from, eligible_on, needed, state, tuple(lines)))
        start = eligible_on
    because.append(Because(spec.rule, f"{_d(today)} 的状态：{LEVEL_NAMES[level][0]}",
                           f"state on {_d(today)}: {LEVEL_NAMES[level][1]}"))
    return ZoneDecision(rules.id, zone_kind, level, counted[-1] if counted else None, ignored, tuple(steps),
                        tuple(because))


@dataclass(frozen=True)
class PoolingDecision:
    version: str
    setting: str
    mode: str
    rule: str
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"version": self.version, "setting": self.setting, "mode": self.mode,
                "mode_label_zh": POOL_MODES[self.mode][0], "mode_label_en": POOL_MODES[self.mode][1],
                "rule": self.rule, "explanation": [b.as_dict() for b in self.because]}


def pooling_mode(rules: Ruleset, setting: str) -> PoolingDecision:
    """How people in a setting are sampled, and what a positive pool triggers."""
    if setting not in rules.pooling:
        raise ValidationFailed(field="setting", code="invalid_choice", message_zh=f"采样场景“{setting}”不存在",
                               message_en=f"sampling setting '{setting}' does not exist")
    spec = rules.pooling[setting]
    deadline = rules.param("pool_recheck_deadline_hours")
    repool = rules.param("lab_repooling_allowed")
    because = [Because(spec.rule, f"{spec.label_zh}：{POOL_MODES[spec.mode][0]}", f"{spec.label_en}: {POOL_MODES[spec.mode][1]}")]
    if spec.mode in ("10in1", "20in1", "household"):
        because.append(Because(deadline.rule, f"混管阳性：管内人员原地隔离，{deadline.value}小时内上门单采复核",
                               f"positive pool: its members isolate where they are; single-tube recheck at the door "
                               f"within {deadline.value} h"))
    if not repool.value:
        because.append(Because(repool.rule, "实验室不得将混管再次混合检测", "the lab must not pool pooled tubes again"))
    return PoolingDecision(rules.id, setting, spec.mode, spec.rule, tuple(because))


@dataclass(frozen=True)
class CodeDecision:
    version: str
    colour: str
    rule: str
    reason_zh: str
    reason_en: str
    turns_green_zh: str
    turns_green_en: str
    checks_required: bool

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def code_colour(rules: Ruleset, *, measure: str = "", case_status: str = "", zone: str = "",
                flags: tuple[str, ...] = ()) -> CodeDecision:
    """The colour a person's code shows: the first rule of the version that matches any of the facts."""
    checks = rules.value("code_checks_required")
    for rule in rules.codes:
        conditions = rule.measures or rule.case_statuses or rule.zones or rule.flags
        if (not conditions or (measure and measure in rule.measures) or (case_status and case_status in rule.case_statuses)
                or (zone and zone in rule.zones) or any(f in rule.flags for f in flags)):
            return CodeDecision(rules.id, rule.colour, rule.id, rule.reason_zh, rule.reason_en, rule.turns_green_zh,
                                rule.turns_green_en, checks)
    raise AssertionError("the loader guarantees a default rule")  # pragma: no cover
