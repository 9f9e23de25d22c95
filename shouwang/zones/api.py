"""/api/v1/zones…: risk zones (风险区) with their areas, state, level and clock; one zone with its clock (the steps,
dates, states and explanation), population (people, households, elderly, the vulnerable and what the supply and
community teams prepare), cases and history; proposals, HQ's approval (with edits), rejection, scope and kind
changes, downgrade and lifting (before the clock only with a reason: 409 not_eligible names the earliest date),
the designation text; HQ's daily list and the county's status.

Scoped to the user's jurisdiction by the selectors and services (a zone with an area in it, or covering it):
outside it answers 404. No personal data: counts only. Every POST honours Idempotency-Key, so a retry changes
nothing twice."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.apikit import as_json as _json
from shouwang.core.apikit import choice_filter as _filter
from shouwang.core.apikit import iso as _iso
from shouwang.core.apikit import one_of as _one_of
from shouwang.core.idempotency import idempotent
from shouwang.policy.rules.model import CASE_CONTEXTS, ZONE_KINDS
from shouwang.zones import page_reads
from shouwang.zones.enums import OPEN_ZONE_STATES, ZoneState
from shouwang.zones.models import Zone
from shouwang.zones.selectors import (
    ZoneClock,
    county_status,
    hq_daily,
    place_names,
    zone_clock,
    zone_clocks,
    zone_get,
    zone_history,
    zone_population,
    zone_scopes,
    zones_visible,
)
from shouwang.zones.services import (
    CaseRef,
    zone_announcement_edit,
    zone_approve,
    zone_downgrade,
    zone_kind_change,
    zone_lift,
    zone_propose,
    zone_reject,
    zone_scope_change,
)

router = Router(tags=["zones 风险区"])
LEVELS = ("high", "medium", "low")


def _view(request) -> None:
    require(request.auth, Capability.ZONE_VIEW, "查看风险区", "view risk zones")


def _d(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# ---- rows -----------------------------------------------------------------------------------------------------------


class AreaOut(Schema):
    id: int
    code: str
    name: str
    level: str
    place: str  # township, village, compound, building, unit names run together (as the announcement names it)


class ClockBriefOut(Schema):
    version: str
    next_level: str  # "" when no step is left
    eligible_on: dt.date | None
    state: str  # met | waiting | blocked | ""
    lift_on: dt.date | None
    lift_eligible: bool
    last_counted_case: dt.date | None


class ZoneRowOut(Schema):
    id: int
    code: str
    kind: str
    level_now: str
    level_since: dt.date | None
    state: str
    policy_version: str
    reason: str
    areas: list[AreaOut]
    proposed_at: str | None
    designated_at: str | None
    lifted_at: str | None
    lift_reason: str
    rejected_reason: str
    clock: ClockBriefOut | None  # open zones: computed now (a proposal as if approved today)


def _clock_brief(c: ZoneClock | None) -> dict | None:
    if c is None:
        return None
    return {"version": c.version, "next_level": c.next_level, "eligible_on": c.eligible_on, "state": c.state,
            "lift_on": c.lift_on, "lift_eligible": c.lift_eligible, "last_counted_case": c.last_counted_case}


def _rows(zones: list[Zone], clocks: dict | None = None) -> list[dict]:
    scopes = zone_scopes([z.id for z in zones])
    names = place_names([a for areas in scopes.values() for a in areas])
    if clocks is None:
        clocks = zone_clocks([z for z in zones if z.state in OPEN_ZONE_STATES])
    return [{"id": z.id, "code": z.code, "kind": z.kind, "level_now": z.level_now, "level_since": z.level_since,
             "state": z.state, "policy_version": z.policy_version, "reason": z.reason,
             "areas": [{"id": a.id, "code": a.code, "name": a.name, "level": a.level, "place": names[a.id]}
                       for a in scopes[z.id]],
             "proposed_at": _iso(z.proposed_at), "designated_at": _iso(z.designated_at), "lifted_at": _iso(z.lifted_at),
             "lift_reason": z.lift_reason, "rejected_reason": z.rejected_reason,
             "clock": _clock_brief(clocks.get(z.id))} for z in zones]


@router.get("/zones", response=list[ZoneRowOut],
            summary="风险区列表 Zones with an area in your jurisdiction (or covering it), newest first, with their areas "
                    "and, for open ones, the clock computed now")
def zones(request, state: str = "", level: str = "", limit: int = 500):
    _view(request)
    _filter(state, ZoneState, "state", "风险区状态", "zone state")
    _filter(level, LEVELS, "level", "风险等级", "zone level")
    qs = zones_visible(request.auth, states=[state] if state else None)
    if level:
        qs = qs.filter(level_now=level)
    return _rows(list(qs[:max(1, min(limit, 2000))]))


# ---- one zone -------------------------------------------------------------------------------------------------------


class LineOut(Schema):
    rule: str
    zh: str
    en: str


class StepOut(Schema):
    to: str
    rule: str
    quiet_from: dt.date
    eligible_on: dt.date
    round_needed_on: list[dt.date]
    state: str
    explanation: list[LineOut]


class ClockOut(ClockBriefOut):
    designated_on: dt.date
    level_now: str
    kind_retired: bool
    steps: list[StepOut]
    rounds: list[tuple[dt.date, bool]]  # whole-zone screening rounds done: (date, all negative)
    explanation: list[LineOut]


class NeedOut(Schema):
    key: str
    label_zh: str
    label_en: str
    count: int


class PopulationOut(Schema):
    people: int
    households: int
    elderly: int  # 60 and over
    elderly_alone: int
    disabled: int
    pregnant: int
    seriously_ill: int
    bedridden: int
    infant: int
    no_household: int
    needs: list[NeedOut]


class CaseOut(Schema):
    case_code: str
    found_on: dt.date
    context: str
    area_id: int | None
    cause: bool
    withdrawn: bool
    counted: bool
    why_zh: str
    why_en: str


class ChangeOut(Schema):
    kind: str
    at: str
    by: str | None
    reason: str
    before: dict
    after: dict
    announcement_zh: str


class ZoneOut(ZoneRowOut):
    clock_detail: ClockOut | None
    population: PopulationOut
    cases: list[CaseOut]
    history: list[ChangeOut]
    announcement_zh: str


def _clock_out(c: ZoneClock | None) -> dict | None:
    if c is None:
        return None
    steps = [{"to": s.to, "rule": s.rule, "quiet_from": s.quiet_from, "eligible_on": s.eligible_on,
              "round_needed_on": list(s.round_needed_on), "state": s.state,
              "explanation": [b.as_dict() for b in s.because]} for s in (c.decision.steps if c.decision else ())]
    return {**_clock_brief(c), "designated_on": c.designated_on, "level_now": c.level_now,
            "kind_retired": c.kind_retired, "steps": steps, "rounds": c.rounds, "explanation": c.explanation}


def zone_out(user, zone_id: int) -> dict:
    zone = zone_get(user, zone_id)
    today = clock.today()
    c = zone_clock(zone, today) if zone.state in OPEN_ZONE_STATES else None
    pop = zone_population([zone], today)[zone.id]
    row = _rows([zone], {zone.id: c} if c else {})[0]
    return {**row, "clock_detail": _clock_out(c),
            "population": {**{k: getattr(pop, k) for k in (
                "people", "households", "elderly", "elderly_alone", "disabled", "pregnant", "seriously_ill",
                "bedridden", "infant", "no_household")}, "needs": pop.needs},
            "cases": [{"case_code": r.case.case_code, "found_on": r.case.found_on, "context": r.case.context,
                       "area_id": r.case.area_id, "cause": r.case.cause, "withdrawn": r.case.withdrawn_at is not None,
                       "counted": r.counted, "why_zh": r.why_zh, "why_en": r.why_en}
                      for r in page_reads.zone_cases(zone, c, today)],
            "history": [{"kind": h.kind, "at": _iso(h.at), "by": h.by.username if h.by else None, "reason": h.reason,
                         "before": h.before, "after": h.after, "announcement_zh": h.announcement_zh}
                        for h in zone_history(zone)],
            "announcement_zh": zone.announcement_zh}


@router.get("/zones/{int:zone_id}", response=ZoneOut,
            summary="风险区详情 A zone: areas, clock (steps with dates and states, the explanation), population with "
                    "the vulnerable and the needs, cases (counted or why not), history and the designation text")
def zone_detail(request, zone_id: int):
    _view(request)
    return zone_out(request.auth, zone_id)


# ---- proposals and HQ's decisions -------------------------------------------------------------------------------------


class CaseIn(Schema):
    code: str
    found_on: dt.date
    context: str = Field("community", description=_one_of(CASE_CONTEXTS))
    area_id: int | None = None


class ProposeIn(Schema):
    kind: str = Field(description=_one_of(ZONE_KINDS) + " (low is never designated alone)")
    area_ids: list[int] = Field(description="villages (村/社区), grids, compounds, buildings or units of your "
                                            "jurisdiction")
    cases: list[CaseIn] = []
    reason: str = ""
    merge: bool = Field(False, description="join the one open zone of the same kind it overlaps")


def _post(request, zone_id_of, status: int = 200):
    def produce():
        zone = zone_id_of()
        return status, _json(ZoneOut, zone_out(request.auth, zone.id))

    return Status(*idempotent(request, produce))


@router.post("/zones", response={201: ZoneOut, 200: ZoneOut},
             summary="提出风险区 Propose a zone over areas of your jurisdiction, with the cases that caused it; an "
                     "overlap with an open zone of the same level is refused (409 overlap, naming the zone and the "
                     "areas) unless merge (Idempotency-Key honoured)")
def propose(request, payload: ProposeIn):
    return _post(request, lambda: zone_propose(
        actor=request.auth, kind=payload.kind, area_ids=payload.area_ids, reason=payload.reason, merge=payload.merge,
        cases=[CaseRef(c.code, c.found_on, c.context, c.area_id) for c in payload.cases]), status=201)


class ApproveIn(Schema):
    area_ids: list[int] | None = Field(None, description="the scope as approved (default: as proposed)")
    kind: str | None = None
    announcement: str | None = Field(None, description="the designation text (default: from the template)")


@router.post("/zones/{int:zone_id}/approve", response=ZoneOut,
             summary="批准划定 Approve a proposal with HQ's edits: in force from now, the residents get the measure, "
                     "the text is issued (Idempotency-Key honoured)")
def approve(request, zone_id: int, payload: ApproveIn):
    return _post(request, lambda: zone_approve(actor=request.auth, zone_id=zone_id, area_ids=payload.area_ids,
                                               kind=payload.kind, announcement=payload.announcement))


class ReasonIn(Schema):
    reason: str


@router.post("/zones/{int:zone_id}/reject", response=ZoneOut,
             summary="不予批准 Reject a proposal, with the reason (Idempotency-Key honoured)")
def reject(request, zone_id: int, payload: ReasonIn):
    return _post(request, lambda: zone_reject(actor=request.auth, zone_id=zone_id, reason=payload.reason))


class ScopeIn(Schema):
    add: list[int] = []
    remove: list[int] = Field([], description="areas of the zone's own scope")
    reason: str


@router.post("/zones/{int:zone_id}/scope", response=ZoneOut,
             summary="调整范围 Add areas or remove some of the zone's own, with the reason (Idempotency-Key honoured)")
def scope(request, zone_id: int, payload: ScopeIn):
    return _post(request, lambda: zone_scope_change(actor=request.auth, zone_id=zone_id, add=payload.add,
                                                    remove=payload.remove, reason=payload.reason))


class KindIn(Schema):
    kind: str = Field(description=_one_of(ZONE_KINDS))
    reason: str


@router.post("/zones/{int:zone_id}/kind", response=ZoneOut,
             summary="调整类型 Change the kind (一区一策: medium made high), with the reason; the level starts again "
                     "today (Idempotency-Key honoured)")
def kind(request, zone_id: int, payload: KindIn):
    return _post(request, lambda: zone_kind_change(actor=request.auth, zone_id=zone_id, kind=payload.kind,
                                                   reason=payload.reason))


class LevelIn(Schema):
    reason: str = Field("", description="required before the clock allows it (then kept as early)")
    announcement: str | None = None


@router.post("/zones/{int:zone_id}/downgrade", response=ZoneOut,
             summary="降级 The next step when it is not the lifting (V9 high → medium); before the clock allows it "
                     "only with a reason (409 not_eligible names the earliest date; Idempotency-Key honoured)")
def downgrade(request, zone_id: int, payload: LevelIn):
    return _post(request, lambda: zone_downgrade(actor=request.auth, zone_id=zone_id, reason=payload.reason,
                                                 announcement=payload.announcement))


@router.post("/zones/{int:zone_id}/lift", response=ZoneOut,
             summary="解除 Lift the zone (to low risk); before the clock allows it only with a reason (409 "
                     "not_eligible names the earliest date; Idempotency-Key honoured)")
def lift(request, zone_id: int, payload: LevelIn):
    return _post(request, lambda: zone_lift(actor=request.auth, zone_id=zone_id, reason=payload.reason,
                                            announcement=payload.announcement))


class TextIn(Schema):
    text: str


@router.post("/zones/{int:zone_id}/announcement", response=ZoneOut,
             summary="修改划定通告 Edit the designation text of a zone in force (Idempotency-Key honoured)")
def announcement(request, zone_id: int, payload: TextIn):
    return _post(request, lambda: zone_announcement_edit(actor=request.auth, zone_id=zone_id, text=payload.text))


# ---- HQ's daily list and the county ----------------------------------------------------------------------------------


class DailyRowOut(ZoneRowOut):
    new: bool  # eligible from today


class MovedOut(Schema):
    zone_id: int
    code: str
    before: dt.date | None
    after: dt.date | None
    reason: str
    at: str


class DailyOut(Schema):
    day: dt.date
    eligible: list[DailyRowOut]
    moved: list[MovedOut]
    waiting: list[ZoneRowOut]


@router.get("/zones/daily", response=DailyOut,
            summary="指挥部每日清单 Zones in force eligible for their next step (new from today, or still waiting for "
                    "HQ), those whose eligible date moved today (before, after, why), the rest by date")
def daily(request):
    _view(request)
    d = hq_daily(request.auth)
    rows = d.eligible + d.waiting
    out = {r["id"]: r for r in _rows([r.zone for r in rows], {r.zone.id: r.clock for r in rows})}
    return {"day": d.day, "eligible": [{**out[r.zone.id], "new": r.new} for r in d.eligible],
            "moved": [{"zone_id": m.zone.id, "code": m.zone.code, "before": m.before, "after": m.after,
                       "reason": m.reason, "at": _iso(m.at)} for m in d.moved],
            "waiting": [out[r.zone.id] for r in d.waiting]}


class StatusOut(Schema):
    day: dt.date
    last_community_case: dt.date | None
    days_since: int | None
    community_today: int
    community_yesterday: int
    zero: bool  # 社会面清零
    zero_since: dt.date | None
    zones: dict[str, int]  # level -> zones in force
    proposed: int
    routine: bool  # no zone in force: routine management
    explanation: list[LineOut]


@router.get("/zones/status", response=StatusOut,
            summary="全县状态 Days since the last community case, 社会面清零, zones in force by level, proposals "
                    "waiting, routine management")
def status(request):
    _view(request)
    s = county_status(request.auth)
    return {k: getattr(s, k) for k in StatusOut.model_fields}

