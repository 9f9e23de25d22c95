"""/api/v1/quarantine/…: the care of people under a measure — a site's day sheet, the daily entries (two
temperatures, symptoms, disinfection, the report) with the alerts they raise, alerts handled, needs through their
states; home quarantine's board, the five responsible people (五包一), the door seal, the checks at the door and the
supervisor's daily sample.

Scoped and masked as in api.py (its helpers): a stay, alert or need outside the jurisdiction answers 404; names,
ID numbers and phones in lists are masked. The daily entry is an upsert (a retry changes nothing more) and also
honours Idempotency-Key, like every POST here."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_id_number, mask_mobile, mask_name
from shouwang.quarantine import home, monitoring
from shouwang.quarantine.api import TestDayOut, _aware, _filter, _iso, _json, _one_of, _view
from shouwang.quarantine.enums import (
    AlertKind,
    AlertState,
    NeedKind,
    NeedState,
    SealKind,
    Symptom,
    VisitKind,
)
from shouwang.quarantine.models import Alert, HomeVisit, Need

router = Router(tags=["quarantine 隔离管控"])


def _temp(value) -> float | None:
    return float(value) if value is not None else None


# ---- the day sheet and the daily entry (三巡两测一监测一消杀一报告) ------------------------------------------------


class AlertBrief(Schema):
    id: int
    kind: str
    detail: str


class SheetRowOut(Schema):
    stay_id: int
    place: str  # the room number, or the home address
    name: str
    id_number: str
    day_no: int
    temp_am: float | None
    temp_pm: float | None
    symptoms: list[str]
    disinfected: bool | None
    reported: bool
    fever: bool
    test: TestDayOut | None  # the plan's test due that day
    test_outcome: str  # negative / positive / pending / missing; "" when none is due
    missing: list[str]  # am / pm / report: owed by now and not recorded
    complete: bool
    alerts: list[AlertBrief]  # the day's open alerts
    open_needs: int
    can_record: bool


class SummaryOut(Schema):
    people: int
    complete: int
    missing: int
    fevers: int
    symptoms: int
    tests_due: int
    tests_done: int
    tests_pending: int
    tests_missing: int
    positive: int
    open_needs: int
    open_alerts: int


class DaySheetOut(Schema):
    site_id: int
    day: dt.date
    summary: SummaryOut
    rows: list[SheetRowOut]


def _brief(a: Alert) -> dict:
    return {"id": a.id, "kind": a.kind, "detail": a.detail}


def sheet_row_out(r: monitoring.SheetRow) -> dict:
    return {"stay_id": r.stay.id, "place": r.place, "name": mask_name(r.name), "id_number": r.id_number,
            "day_no": r.day_no, "temp_am": _temp(r.temp_am), "temp_pm": _temp(r.temp_pm), "symptoms": r.symptoms,
            "disinfected": r.disinfected, "reported": r.reported, "fever": r.fever,
            "test": {"date": r.test["date"], "day": r.test["day"], "kind": r.test["kind"]} if r.test else None,
            "test_outcome": r.test_outcome, "missing": list(r.missing), "complete": r.complete,
            "alerts": [_brief(a) for a in r.alerts], "open_needs": r.open_needs, "can_record": r.can_record}


@router.get("/quarantine/sites/{int:site_id}/day", response=DaySheetOut,
            summary="健康监测日报表 A site's day: per person the two temperatures, symptoms, disinfection, the report, "
                    "the test due and its outcome, the entries missing by now, the open alerts and needs (names "
                    "masked); today unless ?day= is given")
def day_sheet(request, site_id: int, day: dt.date | None = None):
    _view(request)
    day = day or clock.today()
    rows = monitoring.day_sheet(request.auth, site_id=site_id, day=day)
    return {"site_id": site_id, "day": day, "summary": vars(monitoring.summarize(rows)),
            "rows": [sheet_row_out(r) for r in rows]}


class CheckIn(Schema):
    day: dt.date | None = Field(None, description="a day of the stay up to today; today if not given")
    temp_am: float | None = Field(None, description="°C, one decimal, 34.0–43.0")
    temp_pm: float | None = None
    symptoms: list[str] | None = Field(None, description="[] clears them; " + _one_of(Symptom))
    symptom_note: str = ""
    disinfected: bool | None = None
    reported: bool | None = None
    note: str = ""


class CheckOut(Schema):
    stay_id: int
    day: dt.date
    temp_am: float | None
    temp_pm: float | None
    symptoms: list[str]
    symptom_note: str
    disinfected: bool | None
    reported: bool
    note: str
    updated_at: str
    alerts: list[AlertBrief]  # the stay's open alerts of that day


@router.post("/quarantine/stays/{int:stay_id}/checks", response=CheckOut,
             summary="填报健康监测 The stay's entry of the day, upserted (a field left out keeps its value, so morning "
                     "and afternoon fill one row and a retry changes nothing more); a temperature of 37.3 °C or "
                     "more raises a fever alert, a symptom a symptom alert (Idempotency-Key honoured)")
def record_check(request, stay_id: int, payload: CheckIn):
    def produce():
        c = monitoring.check_record(actor=request.auth, stay_id=stay_id, **payload.dict())
        open_alerts = Alert.objects.filter(stay_id=stay_id, day=c.day, state=AlertState.OPEN).order_by("id")
        return 200, _json(CheckOut, {
            "stay_id": stay_id, "day": c.day, "temp_am": _temp(c.temp_am), "temp_pm": _temp(c.temp_pm),
            "symptoms": c.symptoms, "symptom_note": c.symptom_note, "disinfected": c.disinfected,
            "reported": c.reported, "note": c.note, "updated_at": _iso(c.updated_at),
            "alerts": [_brief(a) for a in open_alerts]})

    return idempotent(request, produce)[1]


# ---- alerts -------------------------------------------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    kind: str
    state: str
    day: dt.date
    detail: str
    raised_at: str
    stay_id: int
    name: str
    site_id: int | None
    site_name: str | None
    room_number: str | None
    home_address: str
    handled_at: str | None
    handled_by: str | None
    outcome: str


def alert_out(a: Alert) -> dict:
    s = a.stay
    return {"id": a.id, "kind": a.kind, "state": a.state, "day": a.day, "detail": a.detail,
            "raised_at": _iso(a.raised_at), "stay_id": a.stay_id, "name": mask_name(s.person.name),
            "site_id": a.site_id, "site_name": a.site.name if a.site_id else None,
            "room_number": s.room.number if s.room_id else None, "home_address": s.home_address,
            "handled_at": _iso(a.handled_at), "handled_by": str(a.handled_by) if a.handled_by_id else None,
            "outcome": a.outcome}


@router.get("/quarantine/alerts", response=list[AlertOut],
            summary="健康监测预警 Open alerts of your jurisdiction (a site's, or the home stays' with ?home=true): "
                    "fever first, then symptoms, seals, absences, missed entries (names masked)")
def alerts(request, site_id: int | None = None, home: bool = False, kind: str = ""):
    _view(request)
    _filter(kind, AlertKind, "kind", "预警类型", "alert kind")
    if site_id is not None:
        monitoring.site_of(request.auth, site_id)
    rows = monitoring.alerts_open(request.auth, site_id=site_id, home=home)
    return [alert_out(a) for a in rows if not kind or a.kind == kind]


class HandleIn(Schema):
    outcome: str = Field(description="what was done: 复测36.8，观察")


@router.post("/quarantine/alerts/{int:alert_id}/handle", response=AlertOut,
             summary="处置预警 Handle an open alert, with what was done (Idempotency-Key honoured)")
def handle_alert(request, alert_id: int, payload: HandleIn):
    def produce():
        monitoring.alert_handle(actor=request.auth, alert_id=alert_id, outcome=payload.outcome)
        return 200, _json(AlertOut, alert_out(monitoring.alert_of(request.auth, alert_id)))

    return idempotent(request, produce)[1]


# ---- needs --------------------------------------------------------------------------------------------------------


class NeedOut(Schema):
    id: int
    stay_id: int
    name: str
    site_name: str | None
    room_number: str | None
    kind: str
    detail: str
    state: str
    requested_at: str
    resolved_at: str | None
    resolved_by: str | None
    resolution: str


def need_out(n: Need) -> dict:
    s = n.stay
    return {"id": n.id, "stay_id": n.stay_id, "name": mask_name(s.person.name),
            "site_name": s.site.name if s.site_id else None, "room_number": s.room.number if s.room_id else None,
            "kind": n.kind, "detail": n.detail, "state": n.state, "requested_at": _iso(n.requested_at),
            "resolved_at": _iso(n.resolved_at), "resolved_by": str(n.resolved_by) if n.resolved_by_id else None,
            "resolution": n.resolution}


@router.get("/quarantine/needs", response=list[NeedOut],
            summary="诉求 Needs of the people under measures (a site's, or one stay's): open first, then in progress, "
                    "then resolved, oldest first (names masked)")
def needs(request, state: str = "", site_id: int | None = None, stay_id: int | None = None):
    _view(request)
    _filter(state, NeedState, "state", "诉求状态", "need state")
    if site_id is not None:
        monitoring.site_of(request.auth, site_id)
    if stay_id is not None:
        monitoring.stay_for_check(request.auth, stay_id)
    return [need_out(n) for n in monitoring.needs_list(request.auth, state=state or None, site_id=site_id,
                                                       stay_id=stay_id)]


class NeedIn(Schema):
    stay_id: int
    kind: str = Field(description=_one_of(NeedKind))
    detail: str


@router.post("/quarantine/needs", response={201: NeedOut, 200: NeedOut},
             summary="登记诉求 A request of a person under a measure: 心理疏导, medicine, special diet, a medical visit, "
                     "supplies (Idempotency-Key honoured)")
def add_need(request, payload: NeedIn):
    def produce():
        n = monitoring.need_add(actor=request.auth, stay_id=payload.stay_id, kind=payload.kind, detail=payload.detail)
        return 201, _json(NeedOut, need_out(monitoring.need_of(request.auth, n.id)))

    return Status(*idempotent(request, produce))


class NeedUpdateIn(Schema):
    state: str = Field(description="forward only; " + _one_of(NeedState))
    resolution: str = Field("", description="required when resolved")


@router.post("/quarantine/needs/{int:need_id}", response=NeedOut,
             summary="办理诉求 Move a need on: in progress, resolved with what was done (Idempotency-Key honoured)")
def update_need(request, need_id: int, payload: NeedUpdateIn):
    def produce():
        monitoring.need_update(actor=request.auth, need_id=need_id, state=payload.state,
                               resolution=payload.resolution)
        return 200, _json(NeedOut, need_out(monitoring.need_of(request.auth, need_id)))

    return idempotent(request, produce)[1]


# ---- home quarantine (五包一, seals, checks at the door) -------------------------------------------------------------


class MemberOut(Schema):
    role: str
    name: str
    phone: str
    user_id: int | None


class VisitBrief(Schema):
    kind: str
    role: str
    by: str
    at: str
    present: bool


class SupervisorCheckOut(Schema):
    kind: str
    at: str
    by: str | None
    person_present: bool
    seal_intact: bool | None


class NeedBrief(Schema):
    id: int
    kind: str
    detail: str
    state: str


class BoardRowOut(Schema):
    stay_id: int
    name: str
    id_number: str
    address: str
    grid: str
    measure: str
    starts_on: dt.date
    ends_on: dt.date | None
    day_n: int
    days: int | None
    roles: list[str]
    team: list[MemberOut]  # in the policy's order of roles; phones masked
    missing: list[str]
    team_complete: bool
    seal_kind: str
    seal_state: str
    visited: list[VisitBrief]  # the team's visits and calls that day
    last_supervisor: SupervisorCheckOut | None
    alerts: list[AlertBrief]
    needs: list[NeedBrief]


def board_row_out(r: home.BoardRow) -> dict:
    last = r.last_supervisor
    return {
        "stay_id": r.stay.id, "name": r.name, "id_number": r.id_number, "address": r.address, "grid": r.grid,
        "measure": r.measure, "starts_on": r.stay.starts_on, "ends_on": r.stay.ends_on, "day_n": r.day_n,
        "days": r.days, "roles": list(r.roles),
        "team": [{"role": m.role, "name": m.name, "phone": mask_mobile(m.phone), "user_id": m.user_id}
                 for role in r.roles if (m := r.team.get(role))],
        "missing": r.missing, "team_complete": r.team_complete, "seal_kind": r.seal_kind, "seal_state": r.seal_state,
        "visited": [{**v, "at": _iso(v["at"])} for v in r.visited],
        "last_supervisor": {"kind": last.kind, "at": _iso(last.at),
                            "by": str(last.recorded_by) if last.recorded_by_id else None,
                            "person_present": last.person_present, "seal_intact": last.seal_intact} if last else None,
        "alerts": [_brief(a) for a in r.alerts],
        "needs": [{"id": n.id, "kind": n.kind, "detail": n.detail, "state": n.state} for n in r.needs]}


@router.get("/quarantine/home", response=list[BoardRowOut],
            summary="居家管控看板 The active home stays of your jurisdiction (or of one area of it) by address: the "
                    "measure's day, the five responsible people or the roles missing, the seal, the day's visits, the "
                    "last supervisor check, open alerts and needs (names, ID numbers and phones masked)")
def home_board(request, day: dt.date | None = None, area_id: int | None = None):
    _view(request)
    return [board_row_out(r) for r in home.home_board(request.auth, day=day or clock.today(), area_id=area_id)]


class SampleOut(Schema):
    stay_id: int
    name: str
    id_number: str
    address: str
    area_name: str
    measure: str
    starts_on: dt.date
    ends_on: dt.date | None


@router.get("/quarantine/home/sample", response=list[SampleOut],
            summary="督导抽查名单 The supervisor's random sample of active home stays for unannounced checks "
                    "(四不两直): the same for the same day and supervisor, those not checked in the last 3 days "
                    "first (supervisors only; names masked)")
def home_sample(request, n: int = 5):
    _view(request)
    require(request.auth, Capability.SUPERVISE, "督导抽查居家隔离", "make supervisor checks")
    picked = home.supervisor_sample(request.auth, day=clock.today(), n=max(1, min(n, 50)))
    return [{"stay_id": s.id, "name": mask_name(s.person.name), "id_number": mask_id_number(s.person.id_number),
             "address": s.home_address, "area_name": s.area.name, "measure": s.measure, "starts_on": s.starts_on,
             "ends_on": s.ends_on} for s in picked]


class MemberIn(Schema):
    role: str
    name: str = ""
    phone: str = ""
    user_id: int | None = Field(None, description="the member's own login, if any (their jurisdiction covers the "
                                                  "person's address)")


class TeamIn(Schema):
    members: list[MemberIn] = Field(description="one each of the policy's roles for the person's area")
    reason: str = ""


class TeamOut(Schema):
    stay_id: int
    roles: list[str]
    members: list[MemberOut]
    missing: list[str]


@router.put("/quarantine/stays/{int:stay_id}/team", response=TeamOut,
            summary="五包一 The whole team of five for a person at home, replacing the previous one: exactly the "
                    "policy's roles, each once (422 roles_mismatch lists the roles missing, extra or repeated; "
                    "members[i].name / .phone / .user_id name the field); the same team again changes nothing")
def assign_team(request, stay_id: int, payload: TeamIn):
    home.team_assign(actor=request.auth, stay_id=stay_id, members=[m.dict() for m in payload.members],
                     reason=payload.reason)
    team = home.team_of(stay_id)  # the whole team, in the policy's order
    roles = home.responsible_roles(team[0].stay.area) if team else ()
    have = {m.role for m in team}
    return {"stay_id": stay_id, "roles": list(roles),
            "members": [{"role": m.role, "name": m.name, "phone": m.phone, "user_id": m.user_id} for m in team],
            "missing": [r for r in roles if r not in have]}


class SealIn(Schema):
    state: str = Field(description="intact (install or reinstall), opened (report it broken), removed")
    kind: str = Field("", description="when installing: " + _one_of(SealKind))
    reason: str = ""


class SealOut(Schema):
    stay_id: int
    seal_kind: str
    seal_state: str
    sealed_at: str | None


@router.post("/quarantine/stays/{int:stay_id}/seal", response=SealOut,
             summary="门磁/封条 Install, report opened (an alert; the reason is required), reinstall or remove the "
                     "door sensor or paper seal (Idempotency-Key honoured)")
def set_seal(request, stay_id: int, payload: SealIn):
    def produce():
        s = home.seal_set(actor=request.auth, stay_id=stay_id, kind=payload.kind, state=payload.state,
                          reason=payload.reason)
        return 200, {"stay_id": s.id, "seal_kind": s.seal_kind, "seal_state": s.seal_state,
                     "sealed_at": _iso(s.sealed_at)}

    return idempotent(request, produce)[1]


class VisitIn(Schema):
    kind: str = Field(description=_one_of(VisitKind))
    person_present: bool
    seal_intact: bool | None = None
    deliveries_needed: str = ""
    note: str = ""
    at: dt.datetime | None = Field(None, description="when; now if not given")


class VisitOut(Schema):
    id: int
    stay_id: int
    kind: str
    day: dt.date
    at: str
    role: str
    person_present: bool
    seal_intact: bool | None
    deliveries_needed: str
    note: str


def visit_out(v: HomeVisit) -> dict:
    return {"id": v.id, "stay_id": v.stay_id, "kind": v.kind, "day": v.day, "at": _iso(v.at), "role": v.role,
            "person_present": v.person_present, "seal_intact": v.seal_intact,
            "deliveries_needed": v.deliveries_needed, "note": v.note}


@router.post("/quarantine/stays/{int:stay_id}/visits", response={201: VisitOut, 200: VisitOut},
             summary="上门查看 A check on a person at home: the team's visit or call (monitoring), the supervisor's "
                     "video or door check (supervise); nobody home or a broken seal raises an alert, deliveries "
                     "needed open a request (Idempotency-Key honoured)")
def record_visit(request, stay_id: int, payload: VisitIn):
    def produce():
        v = home.visit_record(actor=request.auth, stay_id=stay_id, kind=payload.kind,
                              person_present=payload.person_present, seal_intact=payload.seal_intact,
                              deliveries_needed=payload.deliveries_needed, note=payload.note, at=_aware(payload.at))
        return 201, _json(VisitOut, visit_out(v))

    return Status(*idempotent(request, produce))
