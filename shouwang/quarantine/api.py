"""/api/v1/quarantine/…: sites with their occupancy, rooms, readiness checklist and state; stays started, allocated
rooms, admitted, moved, re-anchored and released (with the next phase and the release code); transfers requested,
picked up and arrived; a stay's file and its certificate PDF. Daily monitoring and home quarantine are in api_care.

Everything is scoped to the user's jurisdiction by the services and reads (a site, a transfer by its site's area; a
stay by the person's home area or its site's): outside it answers 404. Names and ID numbers are masked in lists and
in a stay's file unless `?full=true` is asked by a role with person.view_full; every open of a file is audited (view,
or view_full), every certificate download too (an export). A POST that changes something honours Idempotency-Key,
so a field device's retry changes nothing twice."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from ninja import Field, Router, Schema, Status

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.apikit import as_json as _json
from shouwang.core.apikit import aware as _aware
from shouwang.core.apikit import choice_filter as _filter
from shouwang.core.apikit import client_ip as _ip
from shouwang.core.apikit import iso as _iso
from shouwang.core.apikit import one_of as _one_of
from shouwang.core.errors import NotFound
from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_id_number, mask_mobile, mask_name
from shouwang.policy.rules.model import MEASURES
from shouwang.quarantine import page_reads, selectors
from shouwang.quarantine.certificate import certificate_export
from shouwang.quarantine.enums import (
    CHECKLIST,
    SITE_NEXT,
    SiteKind,
    SiteState,
    StayState,
    TransferState,
    Vehicle,
)
from shouwang.quarantine.models import Site, Stay, Transfer
from shouwang.quarantine.services import (
    StayInput,
    allocate_rooms,
    checklist_missing,
    rooms_add,
    rooms_set_state,
    site_check,
    site_create,
    site_set_state,
    site_staff_set,
    stay_admit,
    stay_move,
    stay_reanchor,
    stay_release,
    stay_start,
    transfer_arrive,
    transfer_cancel,
    transfer_pickup,
    transfer_request,
)

router = Router(tags=["quarantine 隔离管控"])
LIVE_TRANSFERS = (TransferState.REQUESTED, TransferState.PICKED_UP)


# ---- helpers (shouwang/core/apikit.py; api_care.py uses them too) ------------------------------------------------


def _view(request) -> None:
    require(request.auth, Capability.QUARANTINE_VIEW, "查看隔离点和隔离管控人员", "view quarantine sites and stays")


def _limit(limit: int) -> int:
    return max(1, min(limit, 2000))


def _hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


# ---- sites --------------------------------------------------------------------------------------------------------


class SiteRowOut(Schema):
    id: int
    name: str
    kind: str
    state: str
    area_id: int
    area_name: str
    address: str
    staff: int
    persons_per_staff: int
    capacity: int | None  # staff x persons per staff member; None: no staff recorded, no limit
    rooms: int
    places: int
    occupied: int  # people in the site or on their way (a room reserved)
    free_rooms: int
    cleaning: int
    out_of_service: int
    checklist_missing: list[str]
    activated_at: str | None


def site_row(o: selectors.SiteOccupancy) -> dict:
    x = o.site
    return {"id": x.id, "name": x.name, "kind": x.kind, "state": x.state, "area_id": x.area_id,
            "area_name": x.area.name, "address": x.address, "staff": x.staff, "persons_per_staff": x.persons_per_staff,
            "capacity": x.staff * x.persons_per_staff if x.staff else None, "rooms": o.rooms, "places": o.places,
            "occupied": o.occupied, "free_rooms": o.free_rooms, "cleaning": o.cleaning,
            "out_of_service": o.out_of_service, "checklist_missing": checklist_missing(x),
            "activated_at": _iso(x.activated_at)}


def _occupancy(user) -> list[selectors.SiteOccupancy]:
    rows = selectors.occupancy(user)
    prefetch_related_objects([o.site for o in rows], "area")
    return rows


def _site_row_of(user, site_id: int) -> dict:
    found = next((o for o in _occupancy(user) if o.site.id == site_id), None)
    if found is None:
        raise NotFound("隔离点", "quarantine site", field="site_id")
    return site_row(found)


@router.get("/quarantine/sites", response=list[SiteRowOut],
            summary="隔离点列表 Sites of your jurisdiction with their occupancy: rooms, places, people in or on their "
                    "way, free rooms, rooms to disinfect, out of service, checklist items still open")
def sites(request, state: str = ""):
    _view(request)
    _filter(state, SiteState, "state", "隔离点状态", "site state")
    return [site_row(o) for o in _occupancy(request.auth) if not state or o.site.state == state]


class SiteIn(Schema):
    name: str
    kind: str = Field(description=_one_of(SiteKind))
    area_id: int = Field(description="the grid the site lies in")
    address: str = ""
    staff: int = Field(0, ge=0, le=10000)
    persons_per_staff: int = Field(10, ge=1, le=1000)


@router.post("/quarantine/sites", response={201: SiteRowOut, 200: SiteRowOut},
             summary="新建隔离点 Set up a site (standby, no rooms yet; Idempotency-Key honoured)")
def create_site(request, payload: SiteIn):
    def produce():
        site = site_create(actor=request.auth, **payload.dict())
        return 201, _json(SiteRowOut, _site_row_of(request.auth, site.id))

    return Status(*idempotent(request, produce))


class PersonRef(Schema):
    stay_id: int
    name: str
    state: str


class RoomOut(Schema):
    id: int
    floor: int
    number: str
    capacity: int
    family: bool
    state: str  # free / occupied / reserved / cleaning / out_of_service (reserved: kept for someone on the way)
    room_state: str
    places_left: int
    people: list[PersonRef]
    reserved: list[PersonRef]


class IncomingOut(Schema):
    stay_id: int
    name: str
    id_number: str
    state: str
    room_id: int | None
    room_number: str | None
    transfer_id: int | None
    transfer_code: str | None
    transfer_state: str | None


class ChecklistItemOut(Schema):
    key: str
    label_zh: str
    label_en: str
    checked: bool


class SiteOut(SiteRowOut):
    next_states: list[str]
    checklist: list[ChecklistItemOut]
    rooms_by_floor: list[RoomOut]
    incoming: list[IncomingOut]


def _ref(stay: Stay) -> dict:
    return {"stay_id": stay.id, "name": mask_name(stay.person.name), "state": stay.state}


def site_out(user, site_id: int) -> dict:
    site = page_reads.site_visible(user, site_id)
    rooms = [{"id": v.room.id, "floor": v.room.floor, "number": v.room.number, "capacity": v.room.capacity,
              "family": v.room.capacity >= 2, "state": v.shown_state, "room_state": v.room.state,
              "places_left": v.places_left, "people": [_ref(s) for s in v.active],
              "reserved": [_ref(s) for s in v.reserved]} for v in page_reads.site_rooms(site)]
    incoming = []
    for stay, run in page_reads.site_incoming(site):
        here = stay.room if stay.room_id and stay.site_id == site.id else None
        incoming.append({"stay_id": stay.id, "name": mask_name(stay.person.name),
                         "id_number": mask_id_number(stay.person.id_number), "state": stay.state,
                         "room_id": here.id if here else None, "room_number": here.number if here else None,
                         "transfer_id": run.id if run else None, "transfer_code": run.code if run else None,
                         "transfer_state": run.state if run else None})
    return {**_site_row_of(user, site.id), "next_states": [str(s) for s in SITE_NEXT[site.state]],
            "checklist": [{"key": k, "label_zh": str(zh), "label_en": en, "checked": bool(site.checklist.get(k))}
                          for k, (zh, en) in CHECKLIST.items()],
            "rooms_by_floor": rooms, "incoming": incoming}


@router.get("/quarantine/sites/{int:site_id}", response=SiteOut,
            summary="隔离点详情 A site: the checklist, the next states, its rooms by floor with their state and people "
                    "(names masked), the people it expects")
def site_detail(request, site_id: int):
    _view(request)
    return site_out(request.auth, site_id)


class RoomsIn(Schema):
    floors: dict[int, list[str]] = Field(description='room numbers by floor: {"3": ["301", "302"]}')
    family_rooms: list[str] = Field([], description="the numbers among them that take two (a carer with a child)")


class RoomsAddedOut(Schema):
    added: int
    site: SiteRowOut


@router.post("/quarantine/sites/{int:site_id}/rooms", response={201: RoomsAddedOut, 200: RoomsAddedOut},
             summary="添加房间 Add rooms by floor, all or none (a number already there refuses the lot; "
                     "Idempotency-Key honoured)")
def add_rooms(request, site_id: int, payload: RoomsIn):
    def produce():
        n = rooms_add(actor=request.auth, site_id=site_id, floors=payload.floors,
                      family_rooms=tuple(str(x).strip() for x in payload.family_rooms))
        return 201, _json(RoomsAddedOut, {"added": n, "site": _site_row_of(request.auth, site_id)})

    return Status(*idempotent(request, produce))


class RoomStateIn(Schema):
    room_ids: list[int]
    state: str = Field(description="free (disinfected), out_of_service (with a reason) or cleaning")
    reason: str = ""


@router.post("/quarantine/sites/{int:site_id}/room-state", response=SiteOut,
             summary="房间状态 Rooms disinfected (cleaning → free), out of service or back, all or none; a room in "
                     "use or reserved is refused (409)")
def set_room_state(request, site_id: int, payload: RoomStateIn):
    rooms_set_state(actor=request.auth, site_id=site_id, room_ids=payload.room_ids, state=payload.state,
                    reason=payload.reason)
    return site_out(request.auth, site_id)


class StaffIn(Schema):
    manager_id: int | None = None
    doctor_id: int | None = None
    staff: int = Field(0, ge=0)
    persons_per_staff: int = Field(10, ge=1)


@router.post("/quarantine/sites/{int:site_id}/staff", response=SiteOut,
             summary="点长和驻点医生 The site's manager and resident doctor (logins covering the site; the doctor gets "
                     "the fever and symptom alerts), staff on duty and people per staff member")
def set_staff(request, site_id: int, payload: StaffIn):
    site_staff_set(actor=request.auth, site_id=site_id, manager_id=payload.manager_id, doctor_id=payload.doctor_id,
                   staff=payload.staff, persons_per_staff=payload.persons_per_staff)
    return site_out(request.auth, site_id)


class ChecklistIn(Schema):
    items: dict[str, bool] = Field(description="item -> ticked; items: " + ", ".join(CHECKLIST))


@router.post("/quarantine/sites/{int:site_id}/checklist", response=SiteOut,
             summary="检查项 Tick or untick items of the readiness checklist (三区两通道 …)")
def check_site(request, site_id: int, payload: ChecklistIn):
    site_check(actor=request.auth, site_id=site_id, items=payload.items)
    return site_out(request.auth, site_id)


class SiteStateIn(Schema):
    state: str = Field(description=_one_of(SiteState))
    reason: str = ""


@router.post("/quarantine/sites/{int:site_id}/state", response=SiteOut,
             summary="启用或关闭隔离点 standby → activating → active → closing → closed: activation needs the whole "
                     "checklist (409 checklist_incomplete lists the items) and a room; a site with people does not "
                     "close (Idempotency-Key honoured)")
def set_site_state(request, site_id: int, payload: SiteStateIn):
    def produce():
        site_set_state(actor=request.auth, site_id=site_id, state=payload.state, reason=payload.reason.strip()[:200])
        return 200, _json(SiteOut, site_out(request.auth, site_id))

    return idempotent(request, produce)[1]


# ---- stays --------------------------------------------------------------------------------------------------------


class TestDayOut(Schema):
    date: dt.date
    day: int
    kind: str


class StayRowOut(Schema):
    id: int
    person_id: int
    name: str
    id_number: str
    area_id: int
    area_name: str
    category: str
    measure: str
    phase: int
    policy_version: str
    state: str
    anchor_date: dt.date
    starts_on: dt.date
    ends_on: dt.date | None
    day: int  # day N of the measure today (0 or less: not begun)
    days: int | None  # the measure's length (None: until further notice)
    test_days: list[TestDayOut]
    site_id: int | None
    site_name: str | None
    room_id: int | None
    room_number: str | None
    home_address: str
    source_ref: str
    source_case: str
    previous_id: int | None
    admitted_at: str | None
    released_at: str | None


def stay_row(stay: Stay, today: dt.date, *, name: str | None = None, id_number: str | None = None) -> dict:
    p = stay.person
    return {"id": stay.id, "person_id": stay.person_id, "name": name if name is not None else mask_name(p.name),
            "id_number": id_number if id_number is not None else mask_id_number(p.id_number),
            "area_id": stay.area_id, "area_name": stay.area.name, "category": stay.category, "measure": stay.measure,
            "phase": stay.phase, "policy_version": stay.policy_version, "state": stay.state,
            "anchor_date": stay.anchor_date, "starts_on": stay.starts_on, "ends_on": stay.ends_on,
            "day": (today - stay.starts_on).days + 1,
            "days": (stay.ends_on - stay.starts_on).days + 1 if stay.ends_on else None,
            "test_days": [{"date": t["date"], "day": t["day"], "kind": t["kind"]} for t in stay.test_days],
            "site_id": stay.site_id, "site_name": stay.site.name if stay.site_id else None,
            "room_id": stay.room_id, "room_number": stay.room.number if stay.room_id else None,
            "home_address": stay.home_address, "source_ref": stay.source_ref, "source_case": stay.source_case,
            "previous_id": stay.previous_id, "admitted_at": _iso(stay.admitted_at),
            "released_at": _iso(stay.released_at)}


def _stay_row_of(user, stay_id: int) -> dict:
    return stay_row(page_reads.stay_visible(user, stay_id), clock.today())


@router.get("/quarantine/stays", response=list[StayRowOut],
            summary="隔离管控人员 Stays of your jurisdiction (the person's home or the site), open ones unless a state "
                    "is asked, oldest first (names and ID numbers masked)")
def stays(request, state: str = "", measure: str = "", site_id: int | None = None, limit: int = 500):
    _view(request)
    _filter(state, StayState, "state", "管控状态", "stay state")
    _filter(measure, MEASURES, "measure", "管控措施", "measure")
    if site_id is not None:
        page_reads.site_visible(request.auth, site_id)
    qs = page_reads.stays_visible(request.auth, state=state, measure=measure, site_id=site_id)
    today = clock.today()
    return [stay_row(s, today) for s in qs[:_limit(limit)]]


class StayIn(Schema):
    person_id: int
    category: str = Field(description="a category of the policy: close_contact, secondary_contact, …")
    anchor_date: dt.date = Field(description="the last exposure (or arrival …): day 1 is the day after")
    found_on: dt.date | None = Field(None, description="when the person came under measure, if found late")
    home_conditions_met: bool = True
    home_address: str = ""
    source_ref: str = ""
    source_case: str = ""


@router.post("/quarantine/stays", response={201: StayRowOut, 200: StayRowOut},
             summary="安排隔离管控 Start a person's measure from the policy's plan (central quarantine waits for "
                     "transfer, a home measure is in force at once; Idempotency-Key honoured)")
def start_stay(request, payload: StayIn):
    def produce():
        stay = stay_start(actor=request.auth, data=StayInput(**payload.dict()))
        return 201, _json(StayRowOut, _stay_row_of(request.auth, stay.id))

    return Status(*idempotent(request, produce))


class PersonBrief(Schema):
    id: int
    name: str
    sex: str
    birth_date: dt.date | None
    id_number: str
    mobile: str
    current_address: str
    identifiers_masked: bool


class TestOutcomeOut(TestDayOut):
    outcome: str  # negative / positive / pending / missing, or due (the day has not come)


class ChangeOut(Schema):
    kind: str
    at: str
    by: str | None
    reason: str
    before: dict
    after: dict


class TransferBrief(Schema):
    id: int
    code: str
    state: str
    site_name: str
    requested_at: str
    arrived_at: str | None


class StayFileOut(StayRowOut):
    person: PersonBrief
    category_zh: str
    category_en: str
    explanation: list[dict]
    tests: list[TestOutcomeOut]
    history: list[ChangeOut]
    transfers: list[TransferBrief]
    next_stay_id: int | None
    release_code: str
    seal_kind: str
    seal_state: str


@router.get("/quarantine/stays/{int:stay_id}", response=StayFileOut,
            summary="隔离管控档案 A stay's file: the plan and its explanation, the test days with their outcome, the "
                    "history, the transfers (the read is audited; name, ID number and mobile are masked unless "
                    "?full=true is asked by a role with person.view_full)")
def stay_detail(request, stay_id: int, full: bool = False):
    _view(request)
    stay = page_reads.stay_file_open(actor=request.auth, stay_id=stay_id, full=full, ip_address=_ip(request))
    show = stay.show_full
    p = stay.person
    name = p.name if show else mask_name(p.name)
    id_number = p.id_number if show else mask_id_number(p.id_number)
    today = clock.today()
    zh, en = page_reads.category_label(stay.policy_version, stay.category)
    following = page_reads.next_stay(stay)
    return {
        **stay_row(stay, today, name=name, id_number=id_number),
        "person": {"id": p.id, "name": name, "sex": p.sex, "birth_date": p.birth_date, "id_number": id_number,
                   "mobile": p.mobile if show else mask_mobile(p.mobile), "current_address": p.current_address,
                   "identifiers_masked": not show},
        "category_zh": zh, "category_en": en, "explanation": stay.explanation,
        "tests": page_reads.test_outcomes(stay, today),
        "history": [{"kind": c.kind, "at": _iso(c.at), "by": str(c.by) if c.by_id else None, "reason": c.reason,
                     "before": c.before, "after": c.after} for c in page_reads.stay_history(stay)],
        "transfers": [{"id": t.id, "code": t.code, "state": t.state, "site_name": t.site.name,
                       "requested_at": _iso(t.requested_at), "arrived_at": _iso(t.arrived_at)}
                      for t in page_reads.transfers_of(stay)],
        "next_stay_id": following.id if following else None, "release_code": stay.release_code,
        "seal_kind": stay.seal_kind, "seal_state": stay.seal_state,
    }


class RoomIn(Schema):
    room_id: int


@router.post("/quarantine/stays/{int:stay_id}/admit", response=StayRowOut,
             summary="办理入住 Admit a person to a room of an active site: the room reserved for them, a free room or "
                     "the second place of a family room (Idempotency-Key honoured)")
def admit(request, stay_id: int, payload: RoomIn):
    def produce():
        stay_admit(actor=request.auth, stay_id=stay_id, room_id=payload.room_id)
        return 200, _json(StayRowOut, _stay_row_of(request.auth, stay_id))

    return idempotent(request, produce)[1]


class MoveIn(Schema):
    room_id: int
    reason: str


@router.post("/quarantine/stays/{int:stay_id}/move", response=StayRowOut,
             summary="调换房间 Move a person to another room (or site), with the reason; the old room goes to "
                     "cleaning (Idempotency-Key honoured)")
def move(request, stay_id: int, payload: MoveIn):
    def produce():
        stay_move(actor=request.auth, stay_id=stay_id, room_id=payload.room_id, reason=payload.reason[:300])
        return 200, _json(StayRowOut, _stay_row_of(request.auth, stay_id))

    return idempotent(request, produce)[1]


class ReanchorIn(Schema):
    anchor_date: dt.date
    reason: str


@router.post("/quarantine/stays/{int:stay_id}/reanchor", response=StayRowOut,
             summary="重新起算 A later exposure: the plan recomputed from the new anchor (an earlier one is refused; "
                     "Idempotency-Key honoured)")
def reanchor(request, stay_id: int, payload: ReanchorIn):
    def produce():
        stay_reanchor(actor=request.auth, stay_id=stay_id, anchor_date=payload.anchor_date,
                      reason=payload.reason[:300])
        return 200, _json(StayRowOut, _stay_row_of(request.auth, stay_id))

    return idempotent(request, produce)[1]


class ReleaseOut(Schema):
    stay: StayRowOut
    release_code: str
    next_stay: StayRowOut | None


@router.post("/quarantine/stays/{int:stay_id}/release", response=ReleaseOut,
             summary="解除隔离管控 Release when the days are served and every planned test is negative (409 lists the "
                     "tests missing, pending or positive): the release code for the certificate, and the plan's next "
                     "phase started at once (Idempotency-Key honoured)")
def release(request, stay_id: int):
    def produce():
        done = stay_release(actor=request.auth, stay_id=stay_id)
        following = done.next_stay
        return 200, _json(ReleaseOut, {
            "stay": _stay_row_of(request.auth, stay_id), "release_code": done.stay.release_code,
            "next_stay": _stay_row_of(request.auth, following.id) if following else None})

    return idempotent(request, produce)[1]


def _public_base(request) -> str:
    """Where the certificate's QR code points: SHOUWANG_PUBLIC_URL, else the address this request came to."""
    return getattr(settings, "SHOUWANG_PUBLIC_URL", "") or request.build_absolute_uri("/")


@router.get("/quarantine/stays/{int:stay_id}/certificate.pdf",
            summary="解除证明 The release certificate of a released stay, A4 PDF with its verification QR code "
                    "(logged as an export; 409 not_released before the release)",
            openapi_extra={"responses": {200: {"description": "application/pdf", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}})
def certificate(request, stay_id: int):
    cert = certificate_export(actor=request.auth, stay_id=stay_id, base_url=_public_base(request),
                              ip_address=_ip(request))
    response = HttpResponse(cert.content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, cert.filename)
    response["Cache-Control"] = "private, no-store"
    return response


# ---- allocation ---------------------------------------------------------------------------------------------------


class AllocateIn(Schema):
    stay_ids: list[int] = Field(min_length=1, max_length=10000)
    site_ids: list[int] | None = Field(None, description="active sites to use; all of your jurisdiction's if none")
    apply: bool = Field(False, description="reserve the rooms (all or nothing); false: a proposal only")


class PlacedOut(Schema):
    stay_id: int
    name: str
    site_id: int
    site_name: str
    room_id: int
    floor: int
    number: str


class UnplacedOut(Schema):
    stay_id: int
    name: str | None
    reason: str  # no_room / not_waiting / not_found


class AllocationOut(Schema):
    applied: bool
    placed: list[PlacedOut]
    unplaced: list[UnplacedOut]


@router.post("/quarantine/allocations", response=AllocationOut,
             summary="分配房间 Rooms for people awaiting transfer: one person per room, a child with a carer in a "
                     "family room, a household on one floor, floors per source case, within the staff's capacity; a "
                     "proposal, or applied all or nothing (409 not_all_placed; Idempotency-Key honoured)")
def allocate(request, payload: AllocateIn):
    def produce():
        result = allocate_rooms(actor=request.auth, stay_ids=payload.stay_ids, site_ids=payload.site_ids or None,
                                apply=payload.apply)
        people = page_reads.stays_by_id(request.auth, payload.stay_ids)
        names = {sid: mask_name(s.person.name) for sid, s in people.items()}
        site_names = dict(Site.objects.filter(id__in={p.site_id for p in result.placed}).values_list("id", "name"))
        return 200, _json(AllocationOut, {
            "applied": payload.apply,
            "placed": [{"stay_id": p.stay_id, "name": names.get(p.stay_id, ""), "site_id": p.site_id,
                        "site_name": site_names[p.site_id], "room_id": p.room_id, "floor": p.floor,
                        "number": p.number} for p in result.placed],
            "unplaced": [{"stay_id": u["stay_id"], "name": names.get(u["stay_id"]), "reason": u["reason"]}
                         for u in result.unplaced]})

    return idempotent(request, produce)[1]


# ---- transfers (点对点闭环转运) -------------------------------------------------------------------------------------


class TransferOut(Schema):
    id: int
    code: str
    state: str
    site_id: int
    site_name: str
    pickup_address: str
    vehicle: str
    plate: str
    driver: str
    escort: str
    requested_at: str
    due_at: str
    picked_up_at: str | None
    arrived_at: str | None
    closed_loop: bool | None
    overdue: bool
    hours_overdue: float | None  # under way: hours past the limit (negative: hours left); None once arrived
    people: list[PersonRef]


def transfer_out(t: Transfer, now: dt.datetime) -> dict:
    live = t.state in LIVE_TRANSFERS
    return {"id": t.id, "code": t.code, "state": t.state, "site_id": t.site_id, "site_name": t.site.name,
            "pickup_address": t.pickup_address, "vehicle": t.vehicle, "plate": t.plate, "driver": t.driver,
            "escort": t.escort, "requested_at": _iso(t.requested_at), "due_at": _iso(t.due_at),
            "picked_up_at": _iso(t.picked_up_at), "arrived_at": _iso(t.arrived_at), "closed_loop": t.closed_loop,
            "overdue": live and t.due_at < now, "hours_overdue": _hours(now - t.due_at) if live else None,
            "people": [_ref(s) for s in sorted(t.stays.all(), key=lambda s: s.id)]}


def _transfer_of(user, transfer_id: int) -> dict:
    t = page_reads.transfer_visible(user, transfer_id)
    prefetch_related_objects([t], "stays__person")
    return transfer_out(t, clock.now())


@router.get("/quarantine/transfers", response=list[TransferOut],
            summary="转运单 Runs to your jurisdiction's sites under way, and those arrived in the last `hours` hours "
                    "or whose people are not all admitted, due time first (names masked)")
def transfers(request, hours: int = 24):
    _view(request)
    now = clock.now()
    since = now - dt.timedelta(hours=max(0, min(hours, 24 * 30)))
    return [transfer_out(t, now) for t in page_reads.transfers_visible(request.auth, arrived_since=since)]


@router.get("/quarantine/transfers/overdue", response=list[TransferOut],
            summary="超时转运 Runs not arrived past the policy's limit (contact_transfer_hours), oldest first: HQ's "
                    "list")
def transfers_overdue(request):
    _view(request)
    now = clock.now()
    rows = selectors.transfers_overdue(request.auth, now=now)
    prefetch_related_objects(rows, "stays__person")
    return [transfer_out(t, now) for t in rows]


class TransferIn(Schema):
    stay_ids: list[int] = Field(min_length=1, max_length=200)
    site_id: int
    pickup_address: str
    vehicle: str = Field(description=_one_of(Vehicle))
    plate: str = ""
    driver: str = ""
    escort: str = ""


@router.post("/quarantine/transfers", response={201: TransferOut, 200: TransferOut},
             summary="申请转运 A run for people awaiting transfer to an active site, due within the policy's hours "
                     "(Idempotency-Key honoured)")
def request_transfer(request, payload: TransferIn):
    def produce():
        t = transfer_request(actor=request.auth, **payload.dict())
        return 201, _json(TransferOut, _transfer_of(request.auth, t.id))

    return Status(*idempotent(request, produce))


class PickupIn(Schema):
    at: dt.datetime | None = Field(None, description="when the people were picked up; now if not given")
    plate: str = ""
    driver: str = ""
    escort: str = ""


@router.post("/quarantine/transfers/{int:transfer_id}/pickup", response=TransferOut,
             summary="已接上 The vehicle has the people: their stays are in transfer (Idempotency-Key honoured)")
def pickup(request, transfer_id: int, payload: PickupIn):
    def produce():
        transfer_pickup(actor=request.auth, transfer_id=transfer_id, at=_aware(payload.at), plate=payload.plate,
                        driver=payload.driver, escort=payload.escort)
        return 200, _json(TransferOut, _transfer_of(request.auth, transfer_id))

    return idempotent(request, produce)[1]


class CancelIn(Schema):
    reason: str


@router.post("/quarantine/transfers/{int:transfer_id}/cancel", response=TransferOut,
             summary="取消转运 A run not yet picked up is cancelled with the reason; its people can get another run")
def cancel(request, transfer_id: int, payload: CancelIn):
    transfer_cancel(actor=request.auth, transfer_id=transfer_id, reason=payload.reason)
    return _transfer_of(request.auth, transfer_id)


class ArriveIn(Schema):
    at: dt.datetime | None = Field(None, description="when the vehicle arrived; now if not given")
    stopped_on_the_way: bool = False


@router.post("/quarantine/transfers/{int:transfer_id}/arrive", response=TransferOut,
             summary="已送达 The vehicle is at the site: closed-loop when vehicle, driver and escort are recorded and it "
                     "did not stop; the people are then admitted (Idempotency-Key honoured)")
def arrive(request, transfer_id: int, payload: ArriveIn):
    def produce():
        transfer_arrive(actor=request.auth, transfer_id=transfer_id, at=_aware(payload.at),
                        stopped_on_the_way=payload.stopped_on_the_way)
        return 200, _json(TransferOut, _transfer_of(request.auth, transfer_id))

    return idempotent(request, produce)[1]
