"""/api/v1/policy: the versions and the decisions they give, each with its explanation."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.policy import selectors
from shouwang.policy.rules import contact_lookback, measure_plan, zone_lift_eligibility

router = Router(tags=["policy 政策版本"])


class VersionOut(Schema):
    id: str
    title_zh: str
    title_en: str
    document: str
    base: str
    scope: str
    effective_from: dt.date
    summary_zh: str
    summary_en: str
    in_force_today: bool
    error: str


class PlanIn(Schema):
    category: str
    anchor_date: dt.date
    version: str | None = None
    found_on: dt.date | None = None
    home_conditions_met: bool = True
    original_category: str | None = None


class ZoneLiftIn(Schema):
    zone_kind: str
    designated_on: dt.date
    cases: list[tuple[dt.date, str]] = []
    rounds: list[tuple[dt.date, bool]] = []
    today: dt.date | None = None
    version: str | None = None


def area_codes(user) -> tuple[str, ...]:
    """The codes of the user's jurisdiction and its ancestors, for local overrides."""
    return area_codes_chain(getattr(user, "jurisdiction", None))


def _ruleset(request, version: str | None, on: dt.date):
    if version:
        return selectors.ruleset_get(version)
    return selectors.ruleset_in_force(on, area_codes(request.auth))


@router.get("/policy/versions", response=list[VersionOut], summary="政策版本 Policy versions")
def versions(request):
    rulesets = selectors.policy_rulesets()
    today = clock.today()
    current = selectors.ruleset_in_force(today, area_codes(request.auth)).id if rulesets else None
    out = []
    for row in selectors.policy_versions():
        r = rulesets.get(row.version_id)
        out.append({
            "id": row.version_id, "title_zh": r.title_zh if r else row.title, "title_en": r.title_en if r else "",
            "document": r.document if r else "", "base": row.base, "scope": row.scope,
            "effective_from": row.effective_from, "summary_zh": r.summary_zh if r else "",
            "summary_en": r.summary_en if r else "", "in_force_today": row.version_id == current, "error": row.error,
        })
    return out


@router.post("/policy/plan", summary="管控方案 The measure plan for a person category, with its explanation")
def plan(request, payload: PlanIn):
    rules = _ruleset(request, payload.version, payload.anchor_date)
    return measure_plan(rules, payload.category, payload.anchor_date, found_on=payload.found_on,
                        home_conditions_met=payload.home_conditions_met,
                        original_category=payload.original_category).as_dict()


@router.post("/policy/zone-lift", summary="风险区降级解除 When a risk zone may be downgraded or lifted")
def zone_lift(request, payload: ZoneLiftIn):
    today = payload.today or clock.today()
    rules = _ruleset(request, payload.version, today)
    return zone_lift_eligibility(rules, payload.zone_kind, payload.designated_on, payload.cases, payload.rounds,
                                 today).as_dict()


@router.get("/policy/lookback", summary="密接判定时间窗 Contact look-back window")
def lookback(request, onset: dt.date, version: str | None = None):
    return contact_lookback(_ruleset(request, version, onset), onset).as_dict()
