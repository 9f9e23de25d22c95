"""The shapes of a policy version once loaded: parameters, person categories, zones, pooling and code rules.

Pure Python: no ORM, no settings. Every value carries the rule id of the spec (`protocol-rules.md`), its confidence
marker and its sources, so every decision can say where its numbers came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Measures a phase can impose (key, Chinese, English).
MEASURES = {
    "central_quarantine": ("集中隔离医学观察", "central quarantine"),
    "home_quarantine": ("居家隔离医学观察", "home quarantine"),
    "home_health_monitoring": ("居家健康监测", "home health monitoring"),
    "three_days_two_tests": ("三天两检", "two tests in three days"),
    "lockdown": ("封控：足不出户、上门服务", "lockdown: stay indoors, services at the door"),
    "controlled": ("管控：人不出区、错峰取物", "controlled: stay in the zone, staggered pick-up"),
    "precaution": ("防范：个人防护、避免聚集", "precaution: personal protection, no gatherings"),
    "closed_loop_work": ("闭环管理、每日核酸", "closed-loop work, daily PCR"),
}
ANCHORS = {
    "last_exposure": ("末次暴露", "last exposure"),
    "departure_from_area": ("离开风险区", "departure from the risk area"),
    "arrival": ("入境", "arrival"),
    "end_of_closed_loop": ("闭环工作结束", "end of closed-loop work"),
    "designation": ("划定风险区", "designation of the zone"),
    "discharge": ("出院", "discharge"),
    "start_of_post": ("上岗", "start of the post"),
}
# Open-ended phases end when something happens, not after a number of days.
UNTIL = {
    "zone_lifted": ("风险区解除", "the zone is lifted"),
    "leaves_post": ("离开岗位", "the worker leaves the post"),
}
CONFIDENCE = ("NAT", "NAT-1", "LOC", "UNCONF")
COLOURS = ("red", "yellow", "green")
TEST_KINDS = ("pcr", "antigen")
ZONE_KINDS = ("high", "medium", "low")
CASE_CONTEXTS = {
    "community": ("社会面", "in the community"),
    "central_quarantine": ("集中隔离中发现，隔离点外无传播风险", "found in central quarantine, no spread risk outside the site"),
    "home_quarantine": ("居家隔离中发现，户外无传播风险", "found in home quarantine, no spread risk outside the household"),
    "closed_loop": ("高风险岗位闭环管理中发现，闭环外无传播风险",
                    "found among closed-loop high-risk-post workers, no spread risk outside the loop"),
    "post_discharge": ("出院后复阳，评估无传播风险", "positive after discharge, assessed as no spread risk"),
    "arrival_prior_infection": ("入境解除隔离后阳性且有90天内感染证明",
                                "arrival positive after release with proof of infection within 90 days"),
}
POOL_MODES = {
    "single": ("单采单检", "single tube"),
    "household": ("1户1管（或单采单检）", "one tube per household (or single tube)"),
    "10in1": ("10合1混采", "10-in-1 pooled"),
    "20in1": ("20合1混采", "20-in-1 pooled"),
}
# Who can be one of the five people responsible for a person in home quarantine (五包一, §8: local variants).
RESPONSIBLE_ROLES = {
    "township_cadre": ("乡镇（街道）包村干部", "township cadre assigned to the village"),
    "village_cadre": ("村（社区）干部", "village or community cadre"),
    "grid_worker": ("网格员", "grid worker"),
    "medical": ("医务人员", "community medical worker"),
    "police": ("社区民警", "community police officer"),
    "volunteer": ("志愿者", "volunteer"),
    "family": ("亲属或朋友", "family member or friend"),
    "militia": ("民兵", "militia"),
    "group_head": ("村民小组长", "villager-group head"),
}
CASE_STATUSES = ("confirmed", "asymptomatic", "suspected", "first_screen_positive")
CODE_FLAGS = ("close_contact", "secondary_contact", "spatio_temporal_companion", "regional_check", "fever_uncleared",
              "key_person_untested", "pool_recheck_pending", "landing_tests_due")


@dataclass(frozen=True)
class Param:
    """A number or switch of the rules, with where it comes from."""

    key: str
    value: object
    rule: str
    confidence: str
    sources: tuple[str, ...] = ()
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class PhaseSpec:
    measure: str
    days: int | None  # None: open-ended, see `until`
    until: str = ""
    tests: tuple[int, ...] = ()  # PCR on these days of the phase (day 1 = the phase's first day)
    antigen_tests: tuple[int, ...] = ()
    test_every_days: int = 0  # open-ended phases: a PCR every n days
    colour: str = "green"
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class CategorySpec:
    key: str
    rule: str
    label_zh: str
    label_en: str
    anchor: str
    confidence: str
    sources: tuple[str, ...]
    release_zh: str
    release_en: str
    phases: tuple[PhaseSpec, ...] = ()
    follows: str = ""  # special groups: the plan of another category ...
    replace_measures: tuple[tuple[str, str], ...] = ()  # ... with some measures replaced
    alternative_zh: str = ""  # e.g. "home conditions not met → central quarantine"
    alternative_en: str = ""
    alternative_measure: str = ""  # the measure used when home conditions are not met
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class ZoneStep:
    to: str
    quiet_days: int
    rule: str
    confidence: str
    sources: tuple[str, ...]
    round_on_day: int = 0  # a whole-area PCR round on this quiet day, all negative
    final_round_within_hours: int = 0  # a whole-area PCR round within this many hours before lifting
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class ZoneSpec:
    kind: str
    label_zh: str
    label_en: str
    measure: str
    unit_zh: str
    unit_en: str
    steps: tuple[ZoneStep, ...]
    rule: str
    confidence: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class PoolingSpec:
    setting: str
    label_zh: str
    label_en: str
    mode: str
    rule: str
    confidence: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class CodeRule:
    id: str
    colour: str
    reason_zh: str
    reason_en: str
    measures: tuple[str, ...] = ()
    case_statuses: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    turns_green_zh: str = ""
    turns_green_en: str = ""
    confidence: str = "LOC"
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ruleset:
    """One version in force: a national version, its bases folded in, and any local override on top."""

    id: str
    chain: tuple[str, ...]  # the files folded in, base first
    title_zh: str
    title_en: str
    document: str
    effective_from: dt.date
    scope: str  # "" national, else the area code of a local override
    params: dict[str, Param]
    categories: dict[str, CategorySpec]
    removed: dict[str, tuple[str, str, str]]  # category -> (rule, zh, en): not identified under this version
    zones: dict[str, ZoneSpec]
    pooling: dict[str, PoolingSpec]
    codes: tuple[CodeRule, ...]
    sources: tuple[str, ...] = ()
    summary_zh: str = ""
    summary_en: str = ""
    rule_origin: dict[str, str] = field(default_factory=dict)  # dotted key -> file id that set it

    def param(self, key: str) -> Param:
        return self.params[key]

    def value(self, key: str):
        return self.params[key].value
