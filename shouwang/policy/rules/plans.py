"""Measure plans for person categories, day counting (§2.4), look-back and re-classification. Pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shouwang.core.errors import ValidationFailed
from shouwang.policy.rules.model import ANCHORS, MEASURES, UNTIL, CategorySpec, PhaseSpec, Ruleset


@dataclass(frozen=True)
class Because:
    """One line of an explanation: the rule it applies and what it did, in Chinese and English."""

    rule: str
    zh: str
    en: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class PlannedTest:
    on: dt.date
    day: int  # day of the phase
    kind: str  # pcr | antigen

    def as_dict(self) -> dict:
        return {"date": self.on.isoformat(), "day": self.day, "kind": self.kind}


@dataclass(frozen=True)
class PlannedPhase:
    measure: str
    start: dt.date
    end: dt.date | None  # None: open-ended
    days: int | None
    until: str
    tests: tuple[PlannedTest, ...]
    test_every_days: int
    colour: str
    credited_days: int = 0  # days served before the person was found ("缺几天补几天")

    @property
    def label_zh(self) -> str:
        return MEASURES[self.measure][0]

    @property
    def label_en(self) -> str:
        return MEASURES[self.measure][1]

    def as_dict(self) -> dict:
        return {"measure": self.measure, "label_zh": self.label_zh, "label_en": self.label_en,
                "start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None,
                "days": self.days, "until": self.until, "colour": self.colour, "credited_days": self.credited_days,
                "test_every_days": self.test_every_days, "tests": [t.as_dict() for t in self.tests]}


@dataclass(frozen=True)
class Plan:
    version: str
    category: str
    rule: str
    label_zh: str
    label_en: str
    anchor: str
    anchor_date: dt.date
    day1: dt.date
    phases: tuple[PlannedPhase, ...]
    release_zh: str
    release_en: str
    release_test_on: dt.date | None  # found after the whole period: released after one negative test that day
    confidence: str
    sources: tuple[str, ...]
    because: tuple[Because, ...] = field(default=())

    @property
    def ends_on(self) -> dt.date | None:
        """The last day of the plan (released when it ends and the release condition holds)."""
        if self.release_test_on:
            return self.release_test_on
        return self.phases[-1].end if self.phases else None

    @property
    def tests(self) -> list[PlannedTest]:
        return [t for p in self.phases for t in p.tests]

    def as_dict(self) -> dict:
        return {
            "version": self.version, "category": self.category, "rule": self.rule, "label_zh": self.label_zh,
            "label_en": self.label_en, "anchor": self.anchor, "anchor_label_zh": ANCHORS[self.anchor][0],
            "anchor_label_en": ANCHORS[self.anchor][1], "anchor_date": self.anchor_date.isoformat(),
            "day1": self.day1.isoformat(), "phases": [p.as_dict() for p in self.phases],
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "release_test_on": self.release_test_on.isoformat() if self.release_test_on else None,
            "release_zh": self.release_zh, "release_en": self.release_en, "confidence": self.confidence,
            "sources": list(self.sources), "explanation": [b.as_dict() for b in self.because],
        }


def category_spec(rules: Ruleset, category: str) -> CategorySpec:
    if category in rules.removed:
        rule, zh, en = rules.removed[category]
        raise ValidationFailed(field="category", code="category_not_identified",
                               message_zh=f"{rules.id} 不再判定此类人员（{rule}）{zh}",
                               message_en=f"{rules.id} no longer identifies this category ({rule}) {en}".rstrip())
    if category not in rules.categories:
        raise ValidationFailed(field="category", code="unknown_category",
                               message_zh=f"人员类别“{category}”不存在",
                               message_en=f"person category '{category}' does not exist")
    return rules.categories[category]


def _d(day: dt.date) -> str:
    return day.isoformat()


def _phases_of(rules: Ruleset, spec: CategorySpec, original: str | None) -> tuple[CategorySpec, list[PhaseSpec], list[Because]]:
    """The phases to plan; a special group follows another category with some measures replaced."""
    if not spec.follows:
        return spec, list(spec.phases), []
    base = category_spec(rules, original or spec.follows)
    replace = dict(spec.replace_measures)
    phases = [PhaseSpec(**{**p.__dict__, "measure": replace.get(p.measure, p.measure)}) for p in base.phases]
    because = [Because(spec.rule, f"按“{base.label_zh}”的期限与检测安排（{base.rule}）" +
                       ("，" + "、".join(f"{MEASURES[a][0]}改为{MEASURES[b][0]}" for a, b in replace.items())
                        if replace else ""),
                       f"follows the periods and tests of '{base.label_en}' ({base.rule})" +
                       ("; " + ", ".join(f"{MEASURES[a][1]} becomes {MEASURES[b][1]}" for a, b in replace.items())
                        if replace else ""))]
    return base, phases, because


def measure_plan(rules: Ruleset, category: str, anchor_date: dt.date, *, found_on: dt.date | None = None,
                 home_conditions_met: bool = True, original_category: str | None = None,
                 hypothetical: bool = False) -> Plan:
    """The phases, their dates and test days for a person of `category` whose anchor event was on anchor_date.

    Day 1 is `day1_offset` days after the anchor (§2.4). A person found late (found_on after day 1) serves only the
    remaining days; tests that fell before found_on are dropped and, under `late_intake_test`, one is taken on
    arrival. When the whole period has passed, the person is released after one negative test on found_on.
    """
    spec = category_spec(rules, category)
    if not hypothetical and anchor_date < rules.effective_from:
        raise ValidationFailed(
            field="anchor_date", code="date_before_version",
            message_zh=f"{_d(anchor_date)} 早于 {rules.id} 的生效日期 {_d(rules.effective_from)}",
            message_en=f"{_d(anchor_date)} is before {rules.id} took effect on {_d(rules.effective_from)}")
    if found_on is not None and found_on < anchor_date:
        raise ValidationFailed(field="found_on", code="found_before_anchor",
                               message_zh="发现日期不能早于起算日期", message_en="found_on cannot be before the anchor date")
    base, phase_specs, because = _phases_of(rules, spec, original_category)
    offset = rules.param("day1_offset")
    day1 = anchor_date + dt.timedelta(days=offset.value)
    anchor_rule = {"last_exposure": "D1", "departure_from_area": "D2"}.get(base.anchor, spec.rule)
    because.insert(0, Because(
        anchor_rule, f"{spec.label_zh}：自{ANCHORS[base.anchor][0]}（{_d(anchor_date)}）起算",
        f"{spec.label_en}: counted from the {ANCHORS[base.anchor][1]} ({_d(anchor_date)})"))
    because.append(Because(offset.rule, f"第1天为起算日后第{offset.value}天：{_d(day1)}",
                           f"day 1 is {offset.value} day(s) after the anchor: {_d(day1)}"))
    if not home_conditions_met and spec.alternative_measure:
        phase_specs = [PhaseSpec(**{**p.__dict__, "measure": spec.alternative_measure})
                       if p.measure in ("home_quarantine",) else p for p in phase_specs]
        because.append(Because(spec.rule, spec.alternative_zh or "不具备居家条件，改为集中隔离",
                               spec.alternative_en or "home conditions not met: central quarantine instead"))
    phases: list[PlannedPhase] = []
    start = day1
    intake = rules.param("late_intake_test")
    release_test_on = None
    missed = 0  # tests that fell before the person was found
    for p in phase_specs:
        end = start + dt.timedelta(days=p.days - 1) if p.days is not None else None
        tests = [PlannedTest(start + dt.timedelta(days=d - 1), d, "pcr") for d in p.tests]
        tests += [PlannedTest(start + dt.timedelta(days=d - 1), d, "antigen") for d in p.antigen_tests]
        tests.sort(key=lambda t: (t.on, t.kind))
        phase_start, credited = start, 0
        if found_on is not None and found_on > start:
            if end is not None and end < found_on:
                missed += len(p.tests) + len(p.antigen_tests)
                because.append(Because("D4", f"{MEASURES[p.measure][0]}（{_d(start)}至{_d(end)}）在发现前已满期，不再补",
                                       f"{MEASURES[p.measure][1]} ({_d(start)} to {_d(end)}) had passed before the person "
                                       "was found: not served"))
                start = end + dt.timedelta(days=1)
                continue
            credited = (found_on - start).days
            phase_start = found_on
            missed += sum(1 for t in tests if t.on < found_on)
            tests = [t for t in tests if t.on >= found_on]
            because.append(Because("D4", f"{_d(found_on)} 才发现：{MEASURES[p.measure][0]}已过{credited}天，缺几天补几天",
                                   f"found on {_d(found_on)}: {credited} day(s) of {MEASURES[p.measure][1]} already "
                                   "passed; only the remaining days are served"))
            if intake.value and missed and not any(t.on == found_on and t.kind == "pcr" for t in tests):
                day = (found_on - start).days + 1
                tests.insert(0, PlannedTest(found_on, day, "pcr"))
                because.append(Because(intake.rule, "到位当天补做一次核酸", "one PCR test on the day of intake"))
        phases.append(PlannedPhase(measure=p.measure, start=phase_start, end=end, days=p.days, until=p.until,
                                   tests=tuple(tests), test_every_days=p.test_every_days, colour=p.colour,
                                   credited_days=credited))
        if p.measure == "three_days_two_tests":
            gap = rules.param("min_test_gap_hours")
            because.append(Because(gap.rule, f"两次检测间隔不少于{gap.value}小时", f"the two tests at least {gap.value} h apart"))
        if end is not None:
            because.append(Because(spec.rule, f"{MEASURES[p.measure][0]} {_d(phase_start)} 至 {_d(end)}（{p.days}天）"
                                   + (f"，核酸：{'、'.join(_d(t.on) for t in tests if t.kind == 'pcr')}" if tests else ""),
                                   f"{MEASURES[p.measure][1]} {_d(phase_start)} to {_d(end)} ({p.days} days)"
                                   + (f", PCR on {', '.join(_d(t.on) for t in tests if t.kind == 'pcr')}" if tests else "")))
            start = end + dt.timedelta(days=1)
        else:
            because.append(Because(spec.rule, f"{MEASURES[p.measure][0]}，自 {_d(phase_start)} 起直至{UNTIL[p.until][0]}",
                                   f"{MEASURES[p.measure][1]} from {_d(phase_start)} until {UNTIL[p.until][1]}"))
    if found_on is not None and not phases:
        release_test_on = found_on
        because.append(Because("D4", f"全部期限在发现前已满：{_d(found_on)} 检测一次阴性即解除",
                                f"the whole period had passed when found: released after one negative test on {_d(found_on)}"))
    return Plan(version=rules.id, category=category, rule=spec.rule, label_zh=spec.label_zh, label_en=spec.label_en,
                anchor=base.anchor, anchor_date=anchor_date, day1=day1, phases=tuple(phases),
                release_zh=spec.release_zh, release_en=spec.release_en, release_test_on=release_test_on,
                confidence=spec.confidence, sources=spec.sources, because=tuple(because))


@dataclass(frozen=True)
class Lookback:
    version: str
    rule: str
    days: int
    start: dt.date
    end: dt.date
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"version": self.version, "rule": self.rule, "days": self.days, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "explanation": [b.as_dict() for b in self.because]}


def contact_lookback(rules: Ruleset, onset_or_sampling: dt.date, *, isolated_on: dt.date | None = None) -> Lookback:
    """The window in which contacts of a case are sought: from `lookback_days` before onset (or sampling for an
    asymptomatic infection) up to the day the case was isolated (or the onset date when not given)."""
    p = rules.param("lookback_days")
    start = onset_or_sampling - dt.timedelta(days=p.value)
    end = isolated_on or onset_or_sampling
    return Lookback(rules.id, p.rule, p.value, start, end, (Because(
        p.rule, f"发病（或采样）前{p.value}天起：{_d(start)} 至 {_d(end)}" + (f"（{p.note_zh}）" if p.note_zh else ""),
        f"from {p.value} days before onset (or sampling): {_d(start)} to {_d(end)}"),))


@dataclass(frozen=True)
class Reclassification:
    version: str
    rule: str
    becomes: str  # "" when the person stays a secondary contact
    plan: Plan | None
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"version": self.version, "rule": self.rule, "becomes": self.becomes,
                "plan": self.plan.as_dict() if self.plan else None,
                "explanation": [b.as_dict() for b in self.because]}


def reclassify_secondary(rules: Ruleset, exposure_date: dt.date, linked_results: list[tuple[dt.date, bool]],
                         *, hypothetical: bool = False) -> Reclassification:
    """A secondary contact whose linked close contact is positive in one of their first n tests in quarantine
    becomes a close contact, counted from the same last exposure (V9 P2)."""
    spec = category_spec(rules, "secondary_contact")
    n = rules.param("reclassify_first_tests")
    first = sorted(linked_results)[: n.value]
    positive = next((d for d, pos in first if pos), None)
    if positive is None:
        return Reclassification(rules.id, spec.rule, "", None, (Because(
            spec.rule, f"关联密接前{n.value}次检测中无阳性（已知{len(first)}次）：仍按次密接管理",
            f"no positive among the linked close contact's first {n.value} tests ({len(first)} known): "
            "stays a secondary contact"),))
    plan = measure_plan(rules, "close_contact", exposure_date, hypothetical=hypothetical)
    return Reclassification(rules.id, spec.rule, "close_contact", plan, (Because(
        spec.rule, f"关联密接 {_d(positive)} 检测阳性（前{n.value}次之内）：转为密切接触者，自末次暴露 {_d(exposure_date)} 起算",
        f"the linked close contact tested positive on {_d(positive)} (within the first {n.value} tests): "
        f"re-classified as a close contact, counted from the last exposure on {_d(exposure_date)}"),))


@dataclass(frozen=True)
class SiteReset:
    restarts: bool
    new_anchor: dt.date | None
    rule: str
    because: tuple[Because, ...]

    def as_dict(self) -> dict:
        return {"restarts": self.restarts, "new_anchor": self.new_anchor.isoformat() if self.new_anchor else None,
                "rule": self.rule, "explanation": [b.as_dict() for b in self.because]}


def isolation_site_reset(rules: Ruleset, *, person_floor: int, positive_floor: int, found_on: dt.date,
                         environment_positive: bool = False) -> SiteReset:
    """A positive inside an isolation site restarts the period of people on its floor and the floors next to it;
    a positive environment sample outside the room restarts everyone in the site (§2.4, local rule)."""
    p = rules.param("site_reset_floors")
    if environment_positive:
        return SiteReset(True, found_on, p.rule, (Because(p.rule, f"隔离点环境阳性：全体自 {_d(found_on)} 重新计算",
                                                           f"positive environment sample: everyone restarts on {_d(found_on)}"),))
    if abs(person_floor - positive_floor) <= p.value:
        return SiteReset(True, found_on, p.rule, (Because(
            p.rule, f"同层或上下{p.value}层（{positive_floor}层发现阳性）：自 {_d(found_on)} 重新计算",
            f"same floor or within {p.value} floor(s) of the positive on floor {positive_floor}: restarts on {_d(found_on)}"),))
    return SiteReset(False, None, p.rule, (Because(
        p.rule, f"与阳性所在{positive_floor}层相隔超过{p.value}层：不重新计算",
        f"more than {p.value} floor(s) from the positive on floor {positive_floor}: no restart"),))
