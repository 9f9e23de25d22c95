"""Writes of the quarantine domain: sites through their states (activation needs the whole checklist), rooms, and
stays dated from the policy's plan — started, admitted to a room, moved, re-anchored when a later exposure is
found, released only when the days are served and every test of the plan is negative (the next phase starts at
once). Every change is audited and kept in the stay's history; the measure is published to the person's status."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, login_covering, require
from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.models import Person
from shouwang.policy.rules.model import MEASURES
from shouwang.policy.rules.plans import Plan, measure_plan
from shouwang.policy.selectors import ruleset_in_force
from shouwang.quarantine.enums import (
    CENTRAL_MEASURES,
    CHECKLIST,
    OPEN_STAY_STATES,
    SITE_NEXT,
    ChangeKind,
    RoomState,
    SiteKind,
    SiteState,
    StayState,
    TransferState,
    Vehicle,
)
from shouwang.quarantine.models import Room, Site, Stay, StayChange, Transfer
from shouwang.quarantine.signals import stays_changed
from shouwang.status.services import fact_publish, fact_withdraw
from shouwang.testing.selectors import outcome_on

STAY_SOURCE = "quarantine.stay"


# ---- sites and rooms ---------------------------------------------------------------------------------------------


def _visible_site(actor, site_id: int, *, lock: bool = False) -> Site:
    qs = Site.objects.select_for_update() if lock else Site.objects
    site = qs.filter(id=site_id, area__path__startswith=jurisdiction_path(actor)).first()
    if site is None:
        raise NotFound("隔离点", "quarantine site", field="site_id")
    return site


@transaction.atomic
def site_create(*, actor, name: str, kind: str, area_id: int, address: str = "", staff: int = 0,
                persons_per_staff: int = 10) -> Site:
    require(actor, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    area = area_visible(user=actor, area_id=area_id)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="请填写隔离点名称", message_en="name is required")
    if kind not in SiteKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="隔离点类型不存在",
                               message_en="unknown site kind")
    if persons_per_staff < 1:
        raise ValidationFailed(field="persons_per_staff", code="out_of_range", message_zh="照管人数应大于0",
                               message_en="persons per staff member must be positive")
    if Site.objects.filter(name=name).exists():
        raise DomainError(code="duplicate", status=409, field="name", message_zh="已有同名隔离点",
                          message_en="a site with this name exists")
    site = Site.objects.create(name=name[:100], kind=kind, area=area, address=address.strip()[:200], staff=staff,
                               persons_per_staff=persons_per_staff)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=site, summary=f"新建隔离点 {site.name}")
    return site


def _site_user(site: Site, user_id: int | None, field: str, zh: str, en: str):
    if user_id is None:
        return None
    user = login_covering(user_id, site.area)
    if user is None:
        raise ValidationFailed(field=field, code="not_in_jurisdiction", message_zh=f"{zh}的账号须管辖隔离点所在区域",
                               message_en=f"the {en}'s account must cover the site's area")
    return user


@transaction.atomic
def site_staff_set(*, actor, site_id: int, manager_id: int | None, doctor_id: int | None, staff: int,
                   persons_per_staff: int) -> Site:
    """隔离点长制: the site's manager and resident doctor (logins whose jurisdiction covers the site; the doctor
    receives the fever and symptom alerts), the staff on duty and how many people each looks after."""
    require(actor, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    site = _visible_site(actor, site_id, lock=True)
    if staff < 0 or persons_per_staff < 1:
        raise ValidationFailed(field="persons_per_staff" if staff >= 0 else "staff", code="out_of_range",
                               message_zh="工作人员数不能为负，照管人数应大于0",
                               message_en="staff cannot be negative; persons per staff member must be positive")
    site.manager = _site_user(site, manager_id, "manager_id", "点长", "manager")
    site.doctor = _site_user(site, doctor_id, "doctor_id", "驻点医生", "resident doctor")
    site.staff, site.persons_per_staff = staff, persons_per_staff
    site.save(update_fields=["manager", "doctor", "staff", "persons_per_staff", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=site,
                 summary=f"{site.name}：点长 {site.manager or '—'}，驻点医生 {site.doctor or '—'}，"
                         f"工作人员 {staff} 名 × 每人照管 {persons_per_staff} 人")
    return site


@transaction.atomic
def rooms_add(*, actor, site_id: int, floors: dict[int, list[str]], family_rooms: tuple[str, ...] = ()) -> int:
    """Rooms by floor ({3: ["301", "302"]}); family rooms take two (a carer with a child, an elderly or disabled
    person, where the policy allows). A number already there is refused with the others (nothing added)."""
    require(actor, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    site = _visible_site(actor, site_id, lock=True)
    numbers = [str(n).strip() for rooms in floors.values() for n in rooms]
    if len(set(numbers)) != len(numbers) or any(not n for n in numbers):
        raise ValidationFailed(field="floors", code="duplicate_room", message_zh="房间号重复或为空",
                               message_en="room numbers repeat or are empty")
    taken = set(Room.objects.filter(site=site, number__in=numbers).values_list("number", flat=True))
    if taken:
        raise DomainError(code="room_exists", status=409, field="floors",
                          message_zh=f"房间已存在：{'、'.join(sorted(taken))}", message_en=f"rooms exist: {', '.join(sorted(taken))}")
    Room.objects.bulk_create([Room(site=site, floor=int(floor), number=str(n).strip(),
                                   capacity=2 if str(n).strip() in family_rooms else 1)
                              for floor, rooms in floors.items() for n in rooms], batch_size=1000)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=site, summary=f"{site.name} 新增房间 {len(numbers)} 间")
    return len(numbers)


@transaction.atomic
def site_check(*, actor, site_id: int, items: dict[str, bool]) -> Site:
    """Tick (or untick) items of the readiness checklist (三区两通道 ...)."""
    require(actor, Capability.SITE_MANAGE, "检查隔离点", "check quarantine sites")
    site = _visible_site(actor, site_id, lock=True)
    unknown = sorted(set(items) - set(CHECKLIST))
    if unknown:
        raise ValidationFailed(field="items", code="unknown_item", message_zh=f"检查项不存在：{'、'.join(unknown)}",
                               message_en=f"unknown checklist items: {', '.join(unknown)}")
    site.checklist = {**site.checklist, **{k: bool(v) for k, v in items.items()}}
    site.save(update_fields=["checklist", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=site, summary=f"{site.name} 检查项更新",
                 changes={"checklist": [None, site.checklist]})
    return site


ROOM_NEXT = {
    RoomState.CLEANING: (RoomState.FREE, RoomState.OUT_OF_SERVICE),
    RoomState.FREE: (RoomState.OUT_OF_SERVICE,),
    RoomState.OUT_OF_SERVICE: (RoomState.CLEANING, RoomState.FREE),
    RoomState.OCCUPIED: (),
}


@transaction.atomic
def rooms_set_state(*, actor, site_id: int, room_ids: list[int], state: str, reason: str = "") -> int:
    """Rooms disinfected after use (to be cleaned -> free), taken out of service (with the reason) or back: all the
    rooms given or none. A room with someone in it or reserved changes only by admission and leaving."""
    require(actor, Capability.STAY_MANAGE, "更新房间状态", "change room states")
    site = _visible_site(actor, site_id)
    if state not in RoomState.values or state == RoomState.OCCUPIED:
        raise ValidationFailed(field="state", code="invalid_choice", message_zh="房间状态不存在",
                               message_en="unknown room state")
    if not room_ids:
        raise ValidationFailed(field="room_ids", code="required", message_zh="请选择房间", message_en="choose rooms")
    if state == RoomState.OUT_OF_SERVICE and not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="停用房间请填写原因",
                               message_en="give the reason for taking rooms out of service")
    rooms = list(Room.objects.select_for_update().filter(site=site, id__in=set(room_ids)).order_by("number"))
    if len(rooms) != len(set(room_ids)):
        raise NotFound("房间", "room", field="room_ids")
    held = set(Stay.objects.filter(room__in=rooms, state__in=list(OPEN_STAY_STATES)).values_list("room__number",
                                                                                                  flat=True))
    bad = [r.number for r in rooms if r.number in held or state not in ROOM_NEXT[r.state]]
    if bad:
        raise DomainError(code="bad_transition", status=409, field="room_ids",
                          message_zh=f"房间 {'、'.join(bad)} 有人入住、已预留或不能改为“{RoomState(state).label}”",
                          message_en=f"rooms {', '.join(bad)} are in use, reserved or cannot become {state}")
    Room.objects.filter(id__in=[r.id for r in rooms]).update(state=state)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=site,
                 summary=f"{site.name} 房间 {'、'.join(r.number for r in rooms)}：{RoomState(state).label}"
                         + (f"（{reason.strip()}）" if reason.strip() else ""))
    return len(rooms)


def checklist_missing(site: Site) -> list[str]:
    return [key for key in CHECKLIST if not site.checklist.get(key)]


@transaction.atomic
def site_set_state(*, actor, site_id: int, state: str, reason: str = "") -> Site:
    """standby → activating → active → closing → closed. Activation needs the whole checklist and at least one
    room; a site with people in it does not close."""
    require(actor, Capability.SITE_MANAGE, "启用或关闭隔离点", "open or close quarantine sites")
    site = _visible_site(actor, site_id, lock=True)
    if state not in SiteState.values:
        raise ValidationFailed(field="state", code="invalid_choice", message_zh="状态不存在", message_en="unknown state")
    if state not in SITE_NEXT[site.state]:
        raise DomainError(code="bad_transition", status=409, field="state",
                          message_zh=f"不能从“{SiteState(site.state).label}”变为“{SiteState(state).label}”",
                          message_en=f"cannot go from {site.state} to {state}")
    if state == SiteState.ACTIVE:
        missing = checklist_missing(site)
        if missing:
            raise DomainError(code="checklist_incomplete", status=409, field="checklist",
                              message_zh=f"检查项未完成：{'、'.join(str(CHECKLIST[k][0]) for k in missing)}",
                              message_en=f"checklist incomplete: {', '.join(CHECKLIST[k][1] for k in missing)}",
                              details=[{"item": k} for k in missing])
        if not site.rooms.exists():
            raise DomainError(code="no_rooms", status=409, field="state", message_zh="隔离点还没有房间",
                              message_en="the site has no rooms")
        site.activated_at = clock.now()
    if state == SiteState.CLOSED and site.stays.filter(state__in=list(OPEN_STAY_STATES)).exists():
        raise DomainError(code="site_in_use", status=409, field="state", message_zh="仍有人员在点，不能关闭",
                          message_en="people are still at the site")
    before = site.state
    site.state = state
    site.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=site,
                 summary=f"{site.name}：{SiteState(before).label} → {SiteState(state).label}" + (f"（{reason}）" if reason else ""))
    return site


# ---- stays --------------------------------------------------------------------------------------------------------


@dataclass
class StayInput:
    person_id: int
    category: str
    anchor_date: dt.date
    found_on: dt.date | None = None  # when the person came under measure (a late find serves what remains)
    home_conditions_met: bool = True
    home_address: str = ""
    source_ref: str = ""
    source_case: str = ""


def _rules(person: Person):
    return ruleset_in_force(clock.today(), area_codes_chain(person.area))


def _plan(person: Person, category: str, anchor: dt.date, found_on: dt.date | None, home_ok: bool) -> Plan:
    return measure_plan(_rules(person), category, anchor, found_on=found_on, home_conditions_met=home_ok,
                        hypothetical=True)


def _phase_fields(plan: Plan, index: int) -> dict:
    p = plan.phases[index]
    return {"measure": p.measure, "phase": index, "policy_version": plan.version, "starts_on": p.start,
            "ends_on": p.end, "test_days": [t.as_dict() for t in p.tests],
            "explanation": [b.as_dict() for b in plan.because]}


def _snapshot(stay: Stay) -> dict:
    return {"state": stay.state, "measure": stay.measure, "anchor_date": stay.anchor_date.isoformat(),
            "starts_on": stay.starts_on.isoformat(), "ends_on": stay.ends_on.isoformat() if stay.ends_on else None,
            "site": stay.site_id, "room": stay.room_id, "tests": [t["date"] for t in stay.test_days]}


def _history(stay: Stay, kind: str, before: dict, actor, reason: str = "") -> None:
    StayChange.objects.create(stay=stay, kind=kind, before=before, after=_snapshot(stay), reason=reason[:300],
                              at=clock.now(), by=actor)


def _publish(stay: Stay) -> None:
    fact_withdraw(source=STAY_SOURCE, source_id=str(stay.id))
    if stay.state in OPEN_STAY_STATES:
        fact_publish(person_ids=[stay.person_id], kind="measure", value=stay.measure,
                     since=min(stay.starts_on, clock.today()), until=stay.ends_on, source=STAY_SOURCE,
                     source_id=str(stay.id), note=f"{MEASURES[stay.measure][0]}（{stay.policy_version}）")


def _tell(actor, stays: list[Stay], final: bool = False) -> None:
    """Stays from a tracing contact changed state: the response flow moves the contacts along."""
    changes = [(x.source_ref, x.state, final) for x in stays if x.source_ref]
    if changes:
        stays_changed.send(sender=Stay, actor=actor, changes=changes)


def _already(person_id: int) -> DomainError:
    return DomainError(code="stay_open", status=409, field="person_id", message_zh="此人已有未结束的隔离管控",
                       message_en="this person already has an open stay")


@transaction.atomic
def stay_start(*, actor, data: StayInput, checked: bool = False) -> Stay:
    """The person's measure from the policy's plan for the category and anchor date: the stay of the plan's first
    phase still to serve. Central quarantine waits for transfer; a home measure is in force from its first day.
    (checked: called by a flow whose own service checked the actor.)"""
    if not checked:
        require(actor, Capability.STAY_MANAGE, "安排隔离管控", "place people under measures")
    person = (Person.objects.active().filter(id=data.person_id).select_related("area").first())
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    if data.found_on and data.found_on > clock.today():
        raise ValidationFailed(field="found_on", code="in_future", message_zh="日期不能晚于今天",
                               message_en="the date cannot be after today")
    if Stay.objects.filter(person=person, state__in=list(OPEN_STAY_STATES)).exists():
        raise _already(person.id)
    plan = _plan(person, data.category, data.anchor_date, data.found_on, data.home_conditions_met)
    if not plan.phases:  # the whole period passed before the person was found
        raise DomainError(code="nothing_to_serve", status=409, field="anchor_date",
                          message_zh=f"管控期限已满，{plan.release_test_on} 检测一次阴性即可解除",
                          message_en=f"the whole period has passed: one negative test on {plan.release_test_on} "
                                     "releases the person")
    fields = _phase_fields(plan, 0)
    central = fields["measure"] in CENTRAL_MEASURES
    state = (StayState.AWAITING_TRANSFER if central
             else StayState.ACTIVE if fields["starts_on"] <= clock.today() + dt.timedelta(days=1)
             else StayState.PLANNED)  # at home from the decision: day 1 is the day after the exposure
    stay = Stay(person=person, area=person.area, category=data.category, anchor_date=data.anchor_date, state=state,
                home_address="" if central else (data.home_address or person.current_address)[:200],
                source_ref=data.source_ref[:60], source_case=data.source_case[:30], created_by=actor, **fields)
    try:
        with transaction.atomic():
            stay.save()
    except IntegrityError:
        raise _already(person.id) from None
    _history(stay, ChangeKind.CREATED, {}, actor, f"{plan.label_zh}，{plan.version}")
    _publish(stay)
    if stay.state == StayState.ACTIVE:
        _tell(actor, [stay])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=stay,
                 summary=f"{plan.label_zh}：{MEASURES[stay.measure][0]} {stay.starts_on} 至 {stay.ends_on or '—'}")
    return stay


def release_code() -> str:
    """The certificate's verification code, checked on a public page: 64 random bits in 13 base-32 characters
    (no 0/1/8/9 to misread)."""
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=")


def _stay(actor, stay_id: int) -> Stay:
    stay = Stay.objects.select_for_update().filter(id=stay_id).select_related("area", "person__area").first()
    if stay is None or not (stay.area.path.startswith(jurisdiction_path(actor))
                            or (stay.site_id and Site.objects.filter(
                                id=stay.site_id, area__path__startswith=jurisdiction_path(actor)).exists())):
        raise NotFound("隔离管控记录", "stay", field="stay_id")
    return stay


@transaction.atomic
def stay_reanchor(*, actor, stay_id: int, anchor_date: dt.date, reason: str) -> Stay:
    """A later exposure found (a contact of a second case): the plan is recomputed from the new anchor, the stay's
    dates and tests follow and the change is kept with the policy's explanation. An earlier anchor changes
    nothing (the latest exposure counts)."""
    require(actor, Capability.STAY_MANAGE, "调整隔离管控", "change stays")
    stay = _stay(actor, stay_id)
    if stay.state not in OPEN_STAY_STATES:
        raise DomainError(code="stay_closed", status=409, field="stay_id", message_zh="该隔离管控已结束",
                          message_en="the stay is over")
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写重新起算的原因",
                               message_en="give the reason")
    if anchor_date <= stay.anchor_date:
        raise DomainError(code="not_later", status=409, field="anchor_date",
                          message_zh="新的起算日期应晚于原日期（以末次暴露为准）",
                          message_en="the new anchor must be later (the last exposure counts)")
    if anchor_date > clock.today():
        raise ValidationFailed(field="anchor_date", code="in_future", message_zh="日期不能晚于今天",
                               message_en="the date cannot be after today")
    return _reanchor(stay, anchor_date, reason.strip(), actor)


def _reanchor(stay: Stay, anchor_date: dt.date, reason: str, actor) -> Stay:
    before = _snapshot(stay)
    plan = _plan(stay.person, stay.category, anchor_date, None, True)
    index = next((i for i, p in enumerate(plan.phases) if p.measure == stay.measure), 0)
    stay.anchor_date = anchor_date
    for name, value in _phase_fields(plan, index).items():
        setattr(stay, name, value)
    stay.save()
    _history(stay, ChangeKind.REANCHORED, before, actor, reason)
    _publish(stay)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay,
                 summary=f"重新起算：{before['anchor_date']} → {anchor_date}，结束 {before['ends_on']} → {stay.ends_on}"
                         f"（{reason}）")
    return stay


def _free_place(room: Room, stay: Stay | None = None) -> bool:
    """A place in the room for this stay: the room reserved for it, or a room in use with fewer open stays (active
    or reserved by allocation) than it holds."""
    if stay is not None and stay.room_id == room.id:
        return True
    if room.state not in (RoomState.FREE, RoomState.OCCUPIED):
        return False
    return Stay.objects.filter(room=room, state__in=list(OPEN_STAY_STATES)).count() < room.capacity


@transaction.atomic
def stay_admit(*, actor, stay_id: int, room_id: int) -> Stay:
    """The person arrives at the site (点对点 transfer done) and takes a room: a free room of an active site, or the
    second place of a family room."""
    require(actor, Capability.STAY_MANAGE, "办理入住", "admit people")
    stay = _stay(actor, stay_id)
    if stay.measure not in CENTRAL_MEASURES:
        raise DomainError(code="not_central", status=409, field="stay_id", message_zh="居家管控不入住隔离点",
                          message_en="a home measure has no room")
    if stay.state not in (StayState.AWAITING_TRANSFER, StayState.IN_TRANSFER, StayState.PLANNED):
        raise DomainError(code="bad_transition", status=409, field="stay_id",
                          message_zh=f"“{StayState(stay.state).label}”的人员不能办理入住",
                          message_en=f"a stay in state {stay.state} cannot be admitted")
    room = Room.objects.select_for_update().select_related("site").filter(id=room_id).first()
    if room is None or not room.site.area.path.startswith(jurisdiction_path(actor)):
        raise NotFound("房间", "room", field="room_id")
    if room.site.state != SiteState.ACTIVE:
        raise DomainError(code="site_not_active", status=409, field="room_id", message_zh="隔离点未启用",
                          message_en="the site is not active")
    if not _free_place(room, stay):
        raise DomainError(code="room_taken", status=409, field="room_id", message_zh=f"房间 {room.number} 已有人或不可用",
                          message_en=f"room {room.number} is taken or out of use")
    before = _snapshot(stay)
    stay.site, stay.room, stay.state, stay.admitted_at = room.site, room, StayState.ACTIVE, clock.now()
    stay.save()
    room.state = RoomState.OCCUPIED
    room.save(update_fields=["state"])
    _history(stay, ChangeKind.STATE, before, actor, f"入住 {room.site.name} {room.number}")
    _publish(stay)
    _tell(actor, [stay])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay, summary=f"入住 {room.site.name} {room.number}")
    return stay


def _leave(room: Room | None) -> None:
    """A room left: to be cleaned once nobody is in it."""
    if room is not None and not Stay.objects.filter(room=room, state=StayState.ACTIVE).exists():
        Room.objects.filter(id=room.id).update(state=RoomState.CLEANING)


@transaction.atomic
def stay_move(*, actor, stay_id: int, room_id: int, reason: str) -> Stay:
    """Another room (or site), with the reason; the old room goes to cleaning."""
    require(actor, Capability.STAY_MANAGE, "调换房间", "move people")
    stay = _stay(actor, stay_id)
    if stay.state != StayState.ACTIVE or stay.room_id is None:
        raise DomainError(code="not_in_room", status=409, field="stay_id", message_zh="此人未入住隔离点",
                          message_en="the person is not in a room")
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写调换原因", message_en="give the reason")
    room = Room.objects.select_for_update().select_related("site").filter(id=room_id).first()
    if room is None or not room.site.area.path.startswith(jurisdiction_path(actor)):
        raise NotFound("房间", "room", field="room_id")
    if room.id == stay.room_id or room.site.state != SiteState.ACTIVE or not _free_place(room):
        raise DomainError(code="room_taken", status=409, field="room_id", message_zh=f"房间 {room.number} 已有人或不可用",
                          message_en=f"room {room.number} is taken or out of use")
    before, old = _snapshot(stay), stay.room
    stay.site, stay.room = room.site, room
    stay.save()
    Room.objects.filter(id=room.id).update(state=RoomState.OCCUPIED)
    _leave(old)
    _history(stay, ChangeKind.MOVED, before, actor, reason.strip())
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay,
                 summary=f"调换房间 {old.number} → {room.site.name} {room.number}（{reason.strip()}）")
    return stay


# ---- from tracing (the response flow; no capability of its own: the tracer's decision places the person) -------


@transaction.atomic
def stay_for_contact(*, actor, person_id: int, category: str, anchor_date: dt.date, source_ref: str,
                     source_case: str = "") -> Stay | None:
    """A contact identified or re-planned: their stay follows. No open stay -> one from the plan; the open stay of
    the same contact and category -> re-anchored when the exposure is later; a different category (a secondary
    contact now a close contact) -> the old stay closes as re-classified and the new plan starts. A stay from
    something else (an arrival ...) is left for the quarantine team. Answers the stay now in force, if any."""
    open_stay = Stay.objects.select_for_update().filter(person_id=person_id,
                                                        state__in=list(OPEN_STAY_STATES)).first()
    if open_stay is None:
        try:
            return stay_start(actor=actor, data=StayInput(person_id=person_id, category=category,
                                                          anchor_date=anchor_date, source_ref=source_ref,
                                                          source_case=source_case), checked=True)
        except DomainError as e:
            if e.code == "nothing_to_serve":
                return None
            raise
    if open_stay.source_ref != source_ref:
        return open_stay
    if open_stay.category == category:
        if anchor_date > open_stay.anchor_date:
            return _reanchor(open_stay, anchor_date, f"病例{source_case}的暴露更晚（{anchor_date}）", actor)
        return open_stay
    _close(open_stay, StayState.RECLASSIFIED, actor, f"改判为{category}（病例{source_case}）")
    return stay_start(actor=actor, data=StayInput(person_id=person_id, category=category, anchor_date=anchor_date,
                                                  source_ref=source_ref, source_case=source_case), checked=True)


def _close(stay: Stay, state: str, actor, reason: str) -> None:
    before = _snapshot(stay)
    stay.state = state
    stay.save(update_fields=["state", "updated_at"])
    _leave(stay.room)
    _history(stay, ChangeKind.STATE, before, actor, reason)
    _publish(stay)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay, summary=f"{StayState(state).label}：{reason}")


@transaction.atomic
def stays_close_for_case(*, actor, person_id: int, case_code: str) -> int:
    """A person under a measure became a case: the open stay closes (转为病例) and the room goes to cleaning once
    the person has been taken to hospital."""
    n = 0
    for stay in Stay.objects.select_for_update().filter(person_id=person_id, state__in=list(OPEN_STAY_STATES)):
        _close(stay, StayState.BECAME_CASE, actor, f"确诊/阳性，病例 {case_code}")
        n += 1
    return n


# ---- release -----------------------------------------------------------------------------------------------------


@dataclass
class Release:
    stay: Stay
    next_stay: Stay | None


@transaction.atomic
def stay_release(*, actor, stay_id: int) -> Release:
    """Release when the days are served and every test of the plan is negative; the room goes to cleaning, a
    verification code is issued for the certificate, and the plan's next phase (home health monitoring ...) starts
    at once as a stay of its own."""
    require(actor, Capability.STAY_MANAGE, "解除隔离管控", "release people")
    stay = _stay(actor, stay_id)
    if stay.state != StayState.ACTIVE:
        raise DomainError(code="bad_transition", status=409, field="stay_id",
                          message_zh=f"“{StayState(stay.state).label}”的人员不能解除", message_en=f"a stay in state "
                                                                                    f"{stay.state} cannot be released")
    today = clock.today()
    if stay.ends_on is None or today < stay.ends_on:
        raise DomainError(code="days_not_served", status=409, field="stay_id",
                          message_zh=f"管控期至 {stay.ends_on or '另行通知'}，尚未期满",
                          message_en=f"the stay runs to {stay.ends_on or 'further notice'}")
    outcomes = [(t["date"], t["kind"], outcome_on(stay.person_id, dt.date.fromisoformat(t["date"]), t["kind"]))
                for t in stay.test_days]
    bad = [(d, k, o) for d, k, o in outcomes if o != "negative"]
    if bad:
        positive = any(o == "positive" for _, _, o in bad)
        raise DomainError(
            code="positive_test" if positive else "tests_missing", status=409, field="stay_id",
            message_zh=("有检测阳性，不能解除：" if positive else "检测未完成或无结果：")
            + "、".join(f"{d}（{'阳性' if o == 'positive' else '待出结果' if o == 'pending' else '未检测'}）" for d, _, o in bad),
            message_en=("a test is positive: " if positive else "tests missing or pending: ")
            + ", ".join(f"{d} ({o})" for d, _, o in bad),
            details=[{"date": d, "kind": k, "outcome": o} for d, k, o in bad])
    before = _snapshot(stay)
    stay.state, stay.released_at = StayState.RELEASED, clock.now()
    stay.release_code = release_code()
    stay.save()
    _leave(stay.room)
    _history(stay, ChangeKind.STATE, before, actor, "期满且检测均为阴性，解除")
    _publish(stay)
    plan = _plan(stay.person, stay.category, stay.anchor_date, None, True)
    following = None
    if stay.phase + 1 < len(plan.phases):
        fields = _phase_fields(plan, stay.phase + 1)
        following = Stay.objects.create(
            person=stay.person, area=stay.area, category=stay.category, anchor_date=stay.anchor_date,
            state=StayState.ACTIVE if fields["starts_on"] <= today + dt.timedelta(days=1) else StayState.PLANNED,
            home_address=stay.home_address or stay.person.current_address[:200], source_ref=stay.source_ref,
            source_case=stay.source_case, previous=stay, created_by=actor, **fields)
        _history(following, ChangeKind.CREATED, {}, actor, f"接续 {MEASURES[stay.measure][0]}")
        _publish(following)
    _tell(actor, [stay], final=following is None)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay,
                 summary=f"解除{MEASURES[stay.measure][0]}（核验码 {stay.release_code}）"
                         + (f"，转{MEASURES[following.measure][0]}至 {following.ends_on}" if following else ""))
    return Release(stay, following)


# ---- allocation -------------------------------------------------------------------------------------------------

CARE_AGE = 14  # a child this age or younger stays with a carer in a family room (P12)


@dataclass
class Placement:
    stay_id: int
    room_id: int
    site_id: int
    floor: int
    number: str


@dataclass
class Allocation:
    placed: list[Placement]
    unplaced: list[dict]  # {"stay_id", "reason"}


def _age(birth: dt.date | None, on: dt.date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def allocate_rooms(*, actor, stay_ids: list[int], site_ids: list[int] | None = None, apply: bool = False
                   ) -> Allocation:
    """Rooms for a batch of incoming people (awaiting transfer to central quarantine), by the rules of the sites:
    one person per room, except a child of CARE_AGE or younger with one carer of the household (a family room);
    a household's rooms on one floor; a floor kept for the contacts of one source case where possible (a floor
    already holding that case's people first, then an empty floor, then any); no site beyond its staff's
    capacity (staff × persons per staff; no staff recorded: no limit). With `apply`, the rooms are reserved for
    the stays (admission later confirms them), all or nothing."""
    require(actor, Capability.STAY_MANAGE, "分配房间", "allocate rooms")
    path, today = jurisdiction_path(actor), clock.today()
    with transaction.atomic():
        stays = list(Stay.objects.select_for_update().filter(id__in=stay_ids, area__path__startswith=path)
                     .select_related("person"))
        found = {s.id for s in stays}
        unplaced = [{"stay_id": sid, "reason": "not_found"} for sid in stay_ids if sid not in found]
        waiting = [s for s in stays if s.measure in CENTRAL_MEASURES and s.room_id is None
                   and s.state in (StayState.AWAITING_TRANSFER, StayState.IN_TRANSFER, StayState.PLANNED)]
        waiting_ids = {s.id for s in waiting}
        unplaced += [{"stay_id": s.id, "reason": "not_waiting"} for s in stays if s.id not in waiting_ids]
        sites = Site.objects.filter(state=SiteState.ACTIVE, area__path__startswith=path)
        if site_ids:
            sites = sites.filter(id__in=site_ids)
        sites = {x.id: x for x in sites.order_by("name")}
        used: dict[int, int] = dict.fromkeys(sites, 0)  # open stays per site
        taken: dict[int, int] = {}  # room -> open stays in it
        floor_case: dict[tuple[int, int], set[str]] = {}  # (site, floor) -> source cases there
        for room_id, site_id, floor, case in (Stay.objects.filter(site_id__in=sites, state__in=list(OPEN_STAY_STATES))
                                              .values_list("room_id", "site_id", "room__floor", "source_case")):
            used[site_id] += 1
            if room_id:
                taken[room_id] = taken.get(room_id, 0) + 1
                floor_case.setdefault((site_id, floor), set()).add(case)
        free: dict[tuple[int, int], list[Room]] = {}  # (site, floor) -> rooms with a place, by number
        for room in (Room.objects.filter(site_id__in=sites, state__in=[RoomState.FREE, RoomState.OCCUPIED])
                     .order_by("site__name", "floor", "number")):
            if taken.get(room.id, 0) < room.capacity:
                free.setdefault((room.site_id, room.floor), []).append(room)
        limit = {sid: (x.staff * x.persons_per_staff if x.staff else None) for sid, x in sites.items()}
        # groups: by source case, then household (a person without a household alone)
        by_case: dict[str, dict[int, list[Stay]]] = {}
        for s in sorted(waiting, key=lambda s: s.id):
            by_case.setdefault(s.source_case, {}).setdefault(s.person.household_id or -s.person_id, []).append(s)
        placed: list[Placement] = []
        for case, households in sorted(by_case.items(), key=lambda kv: -sum(len(v) for v in kv[1].values())):
            for members in households.values():
                needs = _rooms_needed(members, today)
                spot = _pick_floor(free, floor_case, used, limit, case, needs)
                if spot is None:
                    unplaced += [{"stay_id": s.id, "reason": "no_room"} for s in members]
                    continue
                rooms = free[spot]
                for group in needs:
                    room = next(r for r in rooms if r.capacity >= len(group))
                    rooms.remove(room)
                    for s in group:
                        placed.append(Placement(s.id, room.id, room.site_id, room.floor, room.number))
                    used[spot[0]] += len(group)
                floor_case.setdefault(spot, set()).add(case)
        if apply:
            if unplaced:
                raise DomainError(code="not_all_placed", status=409, field="stay_ids",
                                  message_zh=f"有{len(unplaced)}人无法安排房间，未作分配",
                                  message_en=f"{len(unplaced)} people could not be placed; nothing was allocated",
                                  details=unplaced)
            stamp = connection.ops.adapt_datetimefield_value(timezone.now())
            table = connection.ops.quote_name(Stay._meta.db_table)
            with connection.cursor() as cursor:  # one prepared UPDATE (bulk_update's CASE chains cost seconds)
                cursor.executemany(f"UPDATE {table} SET site_id = %s, room_id = %s, updated_at = %s WHERE id = %s",
                                   [(p.site_id, p.room_id, stamp, p.stay_id) for p in placed])
            moment = clock.now()
            names = dict(Site.objects.filter(id__in={p.site_id for p in placed}).values_list("id", "name"))
            StayChange.objects.bulk_create([  # each stay's history says where it is expected
                StayChange(stay_id=p.stay_id, kind=ChangeKind.MOVED, before={"site": None, "room": None},
                           after={"site": p.site_id, "room": p.room_id}, reason=f"预留 {names[p.site_id]} {p.number}"[:300],
                           at=moment, by=actor) for p in placed], batch_size=1000)
            audit_record(actor=actor, action=AuditAction.UPDATE, object_type="quarantine.stay",
                         object_id=",".join(str(p.stay_id) for p in placed[:10])[:60],
                         summary=f"分配房间 {len(placed)} 人")
        return Allocation(placed, unplaced)


def _rooms_needed(members: list[Stay], today: dt.date) -> list[list[Stay]]:
    """A household's rooms: each child of CARE_AGE or younger shares a family room with one adult of the household
    (while adults remain), everyone else alone."""
    young = {s.id for s in members if (_age(s.person.birth_date, today) or 99) <= CARE_AGE}
    children = [s for s in members if s.id in young]
    adults = [s for s in members if s.id not in young]
    groups = []
    for child in children:
        groups.append([child, adults.pop(0)] if adults else [child])
    groups += [[a] for a in adults]
    return groups


def _pick_floor(free, floor_case, used, limit, case: str, needs: list[list[Stay]]):
    """The floor for a household: one of this case's floors, else an empty floor, else any floor, with the rooms
    (family rooms for the pairs) and within the site's staff capacity. Floors in site and floor order."""
    people = sum(len(g) for g in needs)
    pairs = sum(1 for g in needs if len(g) == 2)

    def fits(spot) -> bool:
        rooms = free.get(spot)
        if not rooms or len(rooms) < len(needs):
            return False
        site = spot[0]
        if limit[site] is not None and used[site] + people > limit[site]:
            return False
        return pairs == 0 or sum(1 for r in rooms if r.capacity >= 2) >= pairs

    for spot in sorted(sp for sp, cases in floor_case.items() if case in cases):
        if fits(spot):
            return spot
    for spot in free:  # dicts keep the site and floor order they were filled in
        if not floor_case.get(spot) and fits(spot):
            return spot
    for spot in free:
        if fits(spot):
            return spot
    return None


# ---- transfers (点对点闭环转运) -------------------------------------------------------------------------------------


def _transfer_hours(person: Person) -> int:
    try:
        return int(_rules(person).param("contact_transfer_hours").value)
    except (DomainError, KeyError):
        return 12


def _transfer_code(day: dt.date) -> str:
    prefix = f"ZY{day:%Y%m%d}-"
    last = Transfer.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True).first()
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:03d}"


@transaction.atomic
def transfer_request(*, actor, stay_ids: list[int], site_id: int, pickup_address: str, vehicle: str,
                     plate: str = "", driver: str = "", escort: str = "") -> Transfer:
    """A run for one person or a group awaiting transfer to a site; its time limit is the policy's
    (contact_transfer_hours from the request)."""
    require(actor, Capability.STAY_MANAGE, "安排转运", "arrange transfers")
    if vehicle not in Vehicle.values:
        raise ValidationFailed(field="vehicle", code="invalid_choice", message_zh="车辆类型不存在",
                               message_en="unknown vehicle")
    if not (pickup_address or "").strip():
        raise ValidationFailed(field="pickup_address", code="required", message_zh="请填写接送地址",
                               message_en="give the pickup address")
    if not stay_ids:
        raise ValidationFailed(field="stay_ids", code="required", message_zh="请选择转运人员",
                               message_en="choose the people to transfer")
    site = _visible_site(actor, site_id)
    if site.state != SiteState.ACTIVE:
        raise DomainError(code="site_not_active", status=409, field="site_id", message_zh="隔离点未启用",
                          message_en="the site is not active")
    stays = [_stay(actor, sid) for sid in dict.fromkeys(stay_ids)]
    wrong = [s.id for s in stays if s.state != StayState.AWAITING_TRANSFER or s.measure not in CENTRAL_MEASURES]
    if wrong:
        raise DomainError(code="not_awaiting_transfer", status=409, field="stay_ids",
                          message_zh="有人员不在待转运状态", message_en="some people are not awaiting transfer",
                          details=[{"stay_id": sid} for sid in wrong])
    busy = Transfer.objects.filter(stays__in=stays, state__in=[TransferState.REQUESTED, TransferState.PICKED_UP])
    if busy.exists():
        raise DomainError(code="already_requested", status=409, field="stay_ids", message_zh="有人员已在转运单中",
                          message_en="some people already have a transfer")
    now = clock.now()
    transfer = Transfer.objects.create(
        code=_transfer_code(timezone.localdate(now)), pickup_address=pickup_address.strip()[:200], site=site,
        vehicle=vehicle, plate=plate.strip()[:20], driver=driver.strip()[:50], escort=escort.strip()[:50],
        requested_at=now, due_at=now + dt.timedelta(hours=_transfer_hours(stays[0].person)), created_by=actor)
    transfer.stays.set(stays)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=transfer,
                 summary=f"转运 {transfer.code}：{len(stays)} 人 → {site.name}（{Vehicle(vehicle).label}）")
    return transfer


def _visible_transfer(actor, transfer_id: int) -> Transfer:
    transfer = (Transfer.objects.select_for_update().filter(id=transfer_id,
                                                            site__area__path__startswith=jurisdiction_path(actor))
                .first())
    if transfer is None:
        raise NotFound("转运单", "transfer", field="transfer_id")
    return transfer


def _moment(value: dt.datetime | None, field: str) -> dt.datetime:
    now = clock.now()
    when = value or now
    if when > now + dt.timedelta(minutes=10):
        raise ValidationFailed(field=field, code="in_future", message_zh="时间不能晚于现在",
                               message_en="the time cannot be in the future")
    return when


@transaction.atomic
def transfer_pickup(*, actor, transfer_id: int, at: dt.datetime | None = None, plate: str = "", driver: str = "",
                    escort: str = "") -> Transfer:
    """The vehicle has the people: their stays are in transfer."""
    require(actor, Capability.STAY_MANAGE, "登记转运", "record transfers")
    transfer = _visible_transfer(actor, transfer_id)
    if transfer.state != TransferState.REQUESTED:
        raise DomainError(code="bad_transition", status=409, field="transfer_id", message_zh="转运单不在待接状态",
                          message_en="the transfer is not waiting for pickup")
    when = _moment(at, "picked_up_at")
    if when < transfer.requested_at:
        raise ValidationFailed(field="picked_up_at", code="before_request", message_zh="接上时间早于申请时间",
                               message_en="the pickup is before the request")
    transfer.plate, transfer.driver, transfer.escort = (plate or transfer.plate)[:20], (driver or transfer.driver)[:50], \
        (escort or transfer.escort)[:50]
    transfer.state, transfer.picked_up_at = TransferState.PICKED_UP, when
    transfer.save()
    stays = list(transfer.stays.select_for_update())
    for stay in stays:
        before = _snapshot(stay)
        stay.state = StayState.IN_TRANSFER
        stay.save(update_fields=["state", "updated_at"])
        _history(stay, ChangeKind.STATE, before, actor, f"转运 {transfer.code} 已接上")
    _tell(actor, stays)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=transfer, summary=f"转运 {transfer.code} 已接上")
    return transfer


@transaction.atomic
def transfer_cancel(*, actor, transfer_id: int, reason: str) -> Transfer:
    """A run not yet picked up is cancelled with the reason (the person went to hospital, a wrong address ...); its
    people wait for another transfer."""
    require(actor, Capability.STAY_MANAGE, "取消转运", "cancel transfers")
    transfer = _visible_transfer(actor, transfer_id)
    if transfer.state != TransferState.REQUESTED:
        raise DomainError(code="bad_transition", status=409, field="transfer_id",
                          message_zh="已接上或已结束的转运单不能取消", message_en="only a transfer not yet picked up "
                                                                         "can be cancelled")
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写取消原因", message_en="give the reason")
    transfer.state, transfer.note = TransferState.CANCELLED, reason.strip()[:300]
    transfer.save(update_fields=["state", "note", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=transfer,
                 summary=f"取消转运 {transfer.code}（{reason.strip()}）")
    return transfer


@transaction.atomic
def transfer_arrive(*, actor, transfer_id: int, at: dt.datetime | None = None, stopped_on_the_way: bool = False
                    ) -> Transfer:
    """The vehicle is at the site: the run is closed-loop when the vehicle, driver and escort are recorded and it
    made no stop on the way. The people are then admitted to their rooms (stay_admit)."""
    require(actor, Capability.STAY_MANAGE, "登记转运", "record transfers")
    transfer = _visible_transfer(actor, transfer_id)
    if transfer.state != TransferState.PICKED_UP:
        raise DomainError(code="bad_transition", status=409, field="transfer_id", message_zh="转运单还没有接上人员",
                          message_en="the transfer has not picked anyone up")
    when = _moment(at, "arrived_at")
    if when < transfer.picked_up_at:
        raise ValidationFailed(field="arrived_at", code="before_departure", message_zh="送达时间早于接上时间",
                               message_en="the arrival is before the departure")
    transfer.state, transfer.arrived_at = TransferState.ARRIVED, when
    transfer.closed_loop = bool(transfer.plate and transfer.driver and transfer.escort and not stopped_on_the_way)
    transfer.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=transfer,
                 summary=f"转运 {transfer.code} 已送达{'（闭环）' if transfer.closed_loop else '（未闭环，请核查）'}")
    return transfer
