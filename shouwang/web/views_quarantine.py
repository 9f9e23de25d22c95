"""Quarantine (隔离管控) pages for HQ, the quarantine task force and the site manager: the sites with their occupancy
and the overdue transfers (a new site with its rooms), a site's page on the manager's phone (the readiness
checklist, opening and closing, the rooms floor by floor, the people arriving to admit, moves), the open stays
(rooms proposed and reserved for a batch, a transfer requested), one stay's file (the plan, its tests, the history,
re-anchoring and release) and the transfers (pickup and arrival).

Thin views, as in views_tracing: they parse the form, call one service or read of shouwang.quarantine, and render.
Errors keep both languages and are shown where they happened; names and ID numbers are masked in lists; opening a
stay's file is logged in the audit log."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.selectors import grid_names
from shouwang.core import clock
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_mobile, mask_name
from shouwang.policy.rules.model import MEASURES
from shouwang.quarantine import page_reads, selectors
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
from shouwang.quarantine.models import Room, Site, Stay, Transfer
from shouwang.quarantine.services import (
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
    transfer_arrive,
    transfer_cancel,
    transfer_pickup,
    transfer_request,
)
from shouwang.reports.forecast import rooms_forecast
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_testing import _en, _err, _int, _label, _parse_local
from shouwang.web.views_testing_ops import _site_area_options

STAYS_PER_PAGE = 100
MAX_ROOMS = 2000  # rooms added by one form
# The measures of a stay, in the order the filter offers them.
STAY_MEASURES = ("central_quarantine", "home_quarantine", "home_health_monitoring", "three_days_two_tests")
# A test day's outcome (testing.selectors.outcome_on, and "due": the day has not come).
OUTCOMES = {"negative": ("阴性", "negative"), "positive": ("阳性", "positive"), "pending": ("待出结果", "pending"),
            "missing": ("未检测", "not tested"), "due": ("未到检测日", "not due yet")}
TEST_KINDS = {"pcr": ("核酸", "PCR"), "antigen": ("抗原", "antigen")}
UNPLACED = {"no_room": ("没有合适的空房（同户同层、按病例分楼层、工作人员照管能力）",
                        "no suitable room (household on one floor, floors per case, staff capacity)"),
            "not_waiting": ("不在待分配状态（已预留房间、已入住或非集中隔离）",
                            "not waiting for a room (reserved, admitted or not central quarantine)"),
            "not_found": ("不在辖区内", "not in your jurisdiction")}
# The room tiles' states: the room's own state, and "reserved" for a free room kept for someone on the way.
TILE_STATES = (("free", "空闲", "free"), ("occupied", "已入住", "occupied"), ("reserved", "已预留", "reserved"),
               ("cleaning", "待消杀", "to disinfect"), ("out_of_service", "停用", "out of service"))
SITE_FIELDS = {"name": "name", "kind": "kind", "area_id": "area_id", "persons_per_staff": "persons_per_staff",
               "staff": "staff", "floors": "floors", "family_rooms": "family_rooms"}
TRANSFER_FIELDS = {"site_id": "site_id", "pickup_address": "pickup_address", "vehicle": "vehicle",
                   "stay_ids": "stay_ids"}


def _pick(pair) -> str:
    """One of a (Chinese, English) pair in the page's language."""
    return str(pair[1] if _en() else pair[0])


def _measure(value: str) -> str:
    return _pick(MEASURES[value]) if value in MEASURES else value


def _require_view(user) -> None:
    require(user, Capability.QUARANTINE_VIEW, "查看隔离管控", "view quarantine")


def _explained(exc: DomainError) -> dict:
    """_err with the items of the details named: the checklist items missing, the tests missing or positive, the
    people not awaiting transfer."""
    error = _err(exc)
    details = []
    for d in exc.details:
        if "item" in d and d["item"] in CHECKLIST:
            zh, en = str(CHECKLIST[d["item"]][0]), CHECKLIST[d["item"]][1]
        elif "outcome" in d:
            kind = TEST_KINDS.get(d.get("kind"), (d.get("kind"), d.get("kind")))
            outcome = OUTCOMES.get(d["outcome"], (d["outcome"], d["outcome"]))
            zh, en = f"{d['date']} {kind[0]}：{outcome[0]}", f"{d['date']} {kind[1]}: {outcome[1]}"
        elif "stay_id" in d and "name" in d:
            why = UNPLACED.get(d.get("reason", ""))
            zh, en = (f"{d['name']}：{why[0]}", f"{d['name']}: {why[1]}") if why else (d["name"], d["name"])
        else:
            continue
        details.append({**d, "msg": en if _en() else zh, "other": zh if _en() else en})
    error["details"] = details
    return error


def _field(exc: DomainError, fields: dict[str, str]) -> str:
    return fields.get(exc.field or "", "form")


def _hours(delta: dt.timedelta) -> float | int:
    """Hours to one decimal (12, 1.5)."""
    hours = round(abs(delta.total_seconds()) / 3600, 1)
    return int(hours) if hours == int(hours) else hours


# ---- parsing the rooms of a site ----------------------------------------------------------------------------------

_DASH = re.compile(r"\s*[-~～—–]\s*")
_SEP = re.compile(r"[\s,，、;；]+")
_RANGE = re.compile(r"([A-Za-z]*)(\d+)-([A-Za-z]*)(\d+)")
_NUMBER = re.compile(r"[A-Za-z0-9]{1,20}")
_LINE = re.compile(r"(-?\d{1,3})\s*[:：]\s*(.*)")


def _bad_rooms(field: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(field=field, code="invalid", message_zh=zh, message_en=en)


def room_numbers(text: str, *, field: str = "floors") -> list[str]:
    """301-320, 325, A501-A503 → the room numbers, a range keeping the width of its first number (0801-0803)."""
    out: list[str] = []
    for token in _SEP.split(_DASH.sub("-", (text or "").strip())):
        if not token:
            continue
        m = _RANGE.fullmatch(token)
        if m:
            prefix, start, prefix2, end = m.groups()
            if prefix2 and prefix2 != prefix or int(end) < int(start) or int(end) - int(start) >= 500:
                raise _bad_rooms(field, f"房间号范围不对：{token}", f"bad range of rooms: {token}")
            out += [f"{prefix}{n:0{len(start)}d}" for n in range(int(start), int(end) + 1)]
        elif _NUMBER.fullmatch(token):
            out.append(token)
        else:
            raise _bad_rooms(field, f"房间号不对：{token}", f"bad room number: {token}")
        if len(out) > MAX_ROOMS:
            raise _bad_rooms(field, f"一次最多添加{MAX_ROOMS}间", f"at most {MAX_ROOMS} rooms at a time")
    return out


def parse_rooms(floors_text: str, family_text: str = "") -> tuple[dict[int, list[str]], tuple[str, ...]]:
    """Lines of "floor: rooms" (3: 301-320) and the family rooms among them (taking two people)."""
    floors: dict[int, list[str]] = {}
    for i, line in enumerate((floors_text or "").splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.fullmatch(line.strip())
        if m is None:
            raise _bad_rooms("floors", f"第{i}行应为“楼层: 房间号”，如 3: 301-320",
                             f"line {i} should be \"floor: rooms\", e.g. 3: 301-320")
        numbers = room_numbers(m.group(2))
        if not numbers:
            raise _bad_rooms("floors", f"第{i}行没有房间号", f"line {i} has no rooms")
        floors.setdefault(int(m.group(1)), []).extend(numbers)
    if not floors:
        raise ValidationFailed(field="floors", code="required", message_zh="请填写楼层和房间号",
                               message_en="enter the floors and their rooms")
    if sum(len(v) for v in floors.values()) > MAX_ROOMS:
        raise _bad_rooms("floors", f"一次最多添加{MAX_ROOMS}间", f"at most {MAX_ROOMS} rooms at a time")
    family = tuple(room_numbers(family_text, field="family_rooms"))
    listed = {n for v in floors.values() for n in v}
    stray = [n for n in family if n not in listed]
    if stray:
        raise _bad_rooms("family_rooms", f"家庭房不在所列房间中：{'、'.join(stray)}",
                         f"family rooms not among the rooms: {', '.join(stray)}")
    return floors, family


# ---- the sites ----------------------------------------------------------------------------------------------------


def _site_defaults() -> dict:
    return {"kind": SiteKind.HOTEL, "persons_per_staff": "10", "staff": ""}


def _bar(o) -> dict:
    """The site's rooms as a stacked bar: in use, free, to disinfect, out of service (percent of the rooms)."""
    used = max(0, o.rooms - o.free_rooms - o.cleaning - o.out_of_service)

    def pct(n):
        return round(100 * n / o.rooms, 1) if o.rooms else 0

    return {"used": used, "used_pct": pct(used), "free_pct": pct(o.free_rooms), "cleaning_pct": pct(o.cleaning),
            "out_pct": pct(o.out_of_service),
            "people_pct": round(100 * o.occupied / o.places) if o.places else 0}


def _overdue_rows(user) -> list[dict]:
    now = clock.now()
    return [{"t": t, "hours": _hours(now - t.due_at), "people": t.stays.count(),
             "state": _label(TransferState, t.state)} for t in selectors.transfers_overdue(user)]


def _sites_context(request, **extra) -> dict:
    user = request.user
    occupancy = selectors.occupancy(user)
    grids = grid_names([o.site.area for o in occupancy])
    rows = [{"o": o, "bar": _bar(o), "kind": _label(SiteKind, o.site.kind), "state": _label(SiteState, o.site.state),
             "where": grids.get(o.site.area_id) or o.site.area.name} for o in occupancy]
    totals = {k: sum(getattr(o, k) for o in occupancy)
              for k in ("rooms", "places", "occupied", "free_rooms", "cleaning", "out_of_service")}
    counts = page_reads.open_stay_counts(user)
    forecast = rooms_forecast(user)
    return {
        "rows": rows, "totals": totals, "overdue": _overdue_rows(user), "forecast": forecast,
        "forecast_because": [en if _en() else zh for zh, en in forecast.because],
        "active_sites": sum(1 for o in occupancy if o.site.state == SiteState.ACTIVE),
        "awaiting": counts.get(StayState.AWAITING_TRANSFER, 0), "in_transfer": counts.get(StayState.IN_TRANSFER, 0),
        "active": counts.get(StayState.ACTIVE, 0),
        "can_site": user.can(Capability.SITE_MANAGE), "kind_choices": SiteKind.choices,
        "area_groups": _site_area_options(user) if user.can(Capability.SITE_MANAGE) else [],
        "errors": {}, "values": _site_defaults(), **extra}


@login_required
@require_GET
def site_list(request):
    """/quarantine/: occupancy per site of the jurisdiction (rooms, places, people, free rooms, to disinfect, out of
    service), the totals, the overdue transfers on top; the new site form for those who set up sites."""
    try:
        _require_view(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/sites.html", _sites_context(request))


def _count(raw: str, field: str, *, default: int, minimum: int = 0) -> int:
    value = (raw or "").strip()
    if not value:
        return default
    if not value.isdigit() or not minimum <= int(value) <= 10000:
        raise ValidationFailed(field=field, code="invalid", message_zh="请填写整数", message_en="enter a whole number")
    return int(value)


@login_required
@require_POST
def site_new(request):
    """A new site with its rooms (site_create then rooms_add, all or nothing)."""
    user = request.user
    try:
        _require_view(user)
        require(user, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    errors: dict[str, DomainError] = {}
    numbers = {}
    for name, default, minimum in (("staff", 0, 0), ("persons_per_staff", 10, 1)):
        try:
            numbers[name] = _count(post.get(name, ""), name, default=default, minimum=minimum)
        except DomainError as exc:
            errors[name] = exc
    floors = family = None
    if post.get("floors", "").strip() or post.get("family_rooms", "").strip():
        try:
            floors, family = parse_rooms(post.get("floors", ""), post.get("family_rooms", ""))
        except DomainError as exc:
            errors[exc.field if exc.field in SITE_FIELDS else "floors"] = exc
    area_id = _int(post.get("area_id"))
    if area_id is None:
        errors["area_id"] = ValidationFailed(field="area_id", code="required", message_zh="请选择所在网格",
                                             message_en="choose the grid")
    site = None
    if not errors:
        try:
            with transaction.atomic():
                site = site_create(actor=user, name=post.get("name", ""), kind=post.get("kind", ""), area_id=area_id,
                                   address=post.get("address", ""), **numbers)
                if floors:
                    rooms_add(actor=user, site_id=site.id, floors=floors, family_rooms=family)
        except DomainError as exc:
            if exc.status == 403:
                return _error_page(request, exc)
            errors[_field(exc, SITE_FIELDS)] = exc
    if errors:
        context = _sites_context(request, errors={k: _explained(e) for k, e in errors.items()}, values=post)
        status = next(iter(errors.values())).status if len(errors) == 1 else 422
        return render(request, "web/quarantine/sites.html", context, status=status)
    n = sum(len(v) for v in floors.values()) if floors else 0
    messages.success(request, gettext("已新建隔离点 %(name)s，房间 %(n)s 间") % {"name": site.name, "n": n})
    return redirect("quarantine_site", site_id=site.id)


# ---- a site --------------------------------------------------------------------------------------------------------


def _tile(view: page_reads.RoomView) -> dict:
    state = view.shown_state
    labels = {s: _pick((zh, en)) for s, zh, en in TILE_STATES}
    return {"room": view.room, "state": state, "state_label": labels[state], "family": view.room.capacity >= 2,
            "people": [{"stay": s, "name": mask_name(s.person.name)} for s in view.active],
            "reserved": [{"stay": s, "name": mask_name(s.person.name)} for s in view.reserved]}


def _site_context(request, site: Site, **extra) -> dict:
    user = request.user
    en = _en()
    views = page_reads.site_rooms(site)
    floors: list[dict] = []
    counts = dict.fromkeys((s for s, _, _ in TILE_STATES), 0)
    for v in views:
        if not floors or floors[-1]["floor"] != v.room.floor:
            floors.append({"floor": v.room.floor, "tiles": []})
        tile = _tile(v)
        counts[tile["state"]] += 1
        floors[-1]["tiles"].append(tile)
    free = [v.room for v in views if v.places_left > 0]
    error_id, error, values = extra.pop("row_error", (None, None, {}))
    incoming = []
    for stay, run in page_reads.site_incoming(site):
        reserved = stay.room if stay.room_id and stay.site_id == site.id else None
        incoming.append({"stay": stay, "run": run, "name": mask_name(stay.person.name),
                         "id_number": mask_id_number(stay.person.id_number),
                         "state": _label(StayState, stay.state), "reserved": reserved,
                         "run_state": _label(TransferState, run.state) if run else "",
                         "room_default": reserved.number if reserved else (free[0].number if free else ""),
                         "error": error if stay.id == error_id else None})
    people = [{"stay": s, "name": mask_name(s.person.name), "day": (clock.today() - s.starts_on).days + 1,
               "ends_on": s.ends_on, "error": error if s.id == error_id else None,
               "values": values if s.id == error_id else {}} for s in page_reads.site_people(site)]
    for row in incoming:
        if row["error"] is not None and values.get("room"):
            row["room_default"] = values["room"]
    missing = checklist_missing(site)
    context = {
        "site": site, "kind": _label(SiteKind, site.kind), "state": _label(SiteState, site.state),
        "where": grid_names([site.area]).get(site.area_id) or site.area.name,
        "capacity": site.staff * site.persons_per_staff if site.staff else None,
        "checklist": [{"key": k, "label": en and CHECKLIST[k][1] or str(CHECKLIST[k][0]),
                       "checked": bool(site.checklist.get(k))} for k in CHECKLIST],
        "missing": len(missing),
        "next_states": [{"value": s, "label": _label(SiteState, s)} for s in SITE_NEXT[site.state]],
        "floors": floors, "legend": [{"state": s, "label": _pick((zh, e)), "n": counts[s]} for s, zh, e in TILE_STATES],
        "rooms_total": len(views), "free_rooms": free, "incoming": incoming, "people": people,
        "can_site": user.can(Capability.SITE_MANAGE), "can_stay": user.can(Capability.STAY_MANAGE),
        "check_error": None, "state_error": None, "rooms_errors": {}, "rooms_values": {}, "state_values": {},
        "to_clean": [v.room for v in views if v.room.state == RoomState.CLEANING],
        "room_state_error": None, "room_state_values": {}, "staff_error": None,
        "staff_candidates": page_reads.staff_candidates(site) if user.can(Capability.SITE_MANAGE) else [],
    }
    context.update(extra)
    return context


def _site_url(site: Site, anchor: str = "") -> str:
    return reverse("quarantine_site", args=[site.id]) + (f"#{anchor}" if anchor else "")


@login_required
@require_GET
def site_page(request, site_id: int):
    """/quarantine/sites/<id>/: the site manager's page."""
    try:
        _require_view(request.user)
        site = page_reads.site_visible(request.user, site_id)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/site.html", _site_context(request, site))


def _site_action(request, site_id: int, capability, zh: str, en: str) -> Site:
    _require_view(request.user)
    site = page_reads.site_visible(request.user, site_id)
    require(request.user, capability, zh, en)
    return site


def _site_error(request, site: Site, exc: DomainError, **extra):
    if exc.status in (403,):
        return _error_page(request, exc)
    return render(request, "web/quarantine/site.html", _site_context(request, site, **extra),
                  status=exc.status)


@login_required
@require_POST
def site_check_view(request, site_id: int):
    """The checklist as ticked on the page (every item: ticked or not)."""
    try:
        site = _site_action(request, site_id, Capability.SITE_MANAGE, "检查隔离点", "check quarantine sites")
    except DomainError as exc:
        return _error_page(request, exc)
    ticked = set(request.POST.getlist("items"))
    try:
        site = site_check(actor=request.user, site_id=site.id, items={k: k in ticked for k in CHECKLIST})
    except DomainError as exc:
        return _site_error(request, site, exc, check_error=_explained(exc))
    left = len(checklist_missing(site))
    messages.success(request, gettext("检查项已保存，未完成 %(n)s 项") % {"n": left} if left
                     else gettext("检查项已全部完成"))
    return redirect(_site_url(site, "checklist"))


@login_required
@require_POST
def site_state_view(request, site_id: int):
    """Open, close or stand down the site (site_set_state), with the reason."""
    try:
        site = _site_action(request, site_id, Capability.SITE_MANAGE, "启用或关闭隔离点", "open or close quarantine sites")
    except DomainError as exc:
        return _error_page(request, exc)
    state, reason = request.POST.get("state", ""), request.POST.get("reason", "").strip()[:200]
    try:
        site = site_set_state(actor=request.user, site_id=site.id, state=state, reason=reason)
    except DomainError as exc:
        return _site_error(request, site, exc, state_error=_explained(exc), state_values=request.POST)
    messages.success(request, gettext("%(name)s：%(state)s") % {"name": site.name,
                                                                "state": _label(SiteState, site.state)})
    return redirect(_site_url(site))


@login_required
@require_POST
def site_rooms_view(request, site_id: int):
    """More rooms for the site (rooms_add): lines of "floor: rooms", the family rooms among them."""
    try:
        site = _site_action(request, site_id, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    try:
        floors, family = parse_rooms(post.get("floors", ""), post.get("family_rooms", ""))
        n = rooms_add(actor=request.user, site_id=site.id, floors=floors, family_rooms=family)
    except DomainError as exc:
        field = "family_rooms" if exc.field == "family_rooms" else "floors"
        return _site_error(request, site, exc, rooms_errors={field: _explained(exc)}, rooms_values=post)
    messages.success(request, gettext("已添加房间 %(n)s 间") % {"n": n})
    return redirect(_site_url(site, "rooms"))


@login_required
@require_POST
def site_staff_view(request, site_id: int):
    """The site's manager, resident doctor and staff (site_staff_set)."""
    try:
        site = _site_action(request, site_id, Capability.SITE_MANAGE, "设置隔离点", "set up quarantine sites")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    try:
        site_staff_set(actor=request.user, site_id=site.id, manager_id=_int(post.get("manager_id")),
                       doctor_id=_int(post.get("doctor_id")), staff=_int(post.get("staff")) or 0,
                       persons_per_staff=_int(post.get("persons_per_staff")) or 0)
    except DomainError as exc:
        return _site_error(request, site, exc, staff_error=_explained(exc))
    messages.success(request, gettext("已保存点长、驻点医生和工作人员"))
    return redirect(_site_url(site))


@login_required
@require_POST
def site_room_state_view(request, site_id: int):
    """Rooms disinfected (to clean -> free), taken out of service with the reason, or back: the ticked rooms, or the
    room numbers typed (comma or space separated), all or none (rooms_set_state)."""
    try:
        site = _site_action(request, site_id, Capability.STAY_MANAGE, "更新房间状态", "change room states")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    numbers = [n for n in re.split(r"[\s,，、]+", post.get("numbers", "")) if n]
    ids = [_int(i) for i in post.getlist("room_ids")]
    try:
        ids += [_room_in(site, n).id for n in numbers]
        n = rooms_set_state(actor=request.user, site_id=site.id, room_ids=[i for i in ids if i], state=post.get(
            "state", ""), reason=post.get("reason", "")[:200])
    except DomainError as exc:
        return _site_error(request, site, exc, room_state_error=_explained(exc), room_state_values=post)
    messages.success(request, gettext("已更新房间 %(n)s 间") % {"n": n})
    return redirect(_site_url(site, "rooms"))


def _room_in(site: Site, number: str) -> Room:
    room = Room.objects.filter(site=site, number=(number or "").strip()).first()
    if room is None:
        raise NotFound("房间", "room", field="room_id")
    return room


@login_required
@require_POST
def site_admit_view(request, site_id: int):
    """A person arriving takes a room of the site (stay_admit): the reserved one unless another is chosen."""
    try:
        site = _site_action(request, site_id, Capability.STAY_MANAGE, "办理入住", "admit people")
    except DomainError as exc:
        return _error_page(request, exc)
    stay_id = _int(request.POST.get("stay_id"))
    number = request.POST.get("room", "")
    try:
        room = _room_in(site, number)
        stay = stay_admit(actor=request.user, stay_id=stay_id or 0, room_id=room.id)
    except DomainError as exc:
        return _site_error(request, site, exc, row_error=(stay_id, _explained(exc), request.POST))
    messages.success(request, gettext("%(name)s 已入住 %(room)s") % {"name": mask_name(stay.person.name),
                                                                  "room": stay.room.number})
    return redirect(_site_url(site, "incoming"))


@login_required
@require_POST
def site_move_view(request, site_id: int):
    """A person in the site moves to another room (stay_move), with the reason."""
    try:
        site = _site_action(request, site_id, Capability.STAY_MANAGE, "调换房间", "move people")
    except DomainError as exc:
        return _error_page(request, exc)
    stay_id = _int(request.POST.get("stay_id"))
    number = request.POST.get("room", "")
    try:
        room = _room_in(site, number)
        stay = stay_move(actor=request.user, stay_id=stay_id or 0, room_id=room.id,
                         reason=request.POST.get("reason", "")[:200])
    except DomainError as exc:
        return _site_error(request, site, exc, row_error=(stay_id, _explained(exc), request.POST))
    messages.success(request, gettext("%(name)s 已调换到 %(room)s") % {"name": mask_name(stay.person.name),
                                                                   "room": stay.room.number})
    return redirect(_site_url(site, "people"))


# ---- the open stays ------------------------------------------------------------------------------------------------


def _category(stay: Stay, cache: dict) -> str:
    key = (stay.policy_version, stay.category)
    if key not in cache:
        cache[key] = page_reads.category_label(*key)
    return _pick(cache[key])


def _stay_row(stay: Stay, cache: dict, today: dt.date) -> dict:
    total = (stay.ends_on - stay.starts_on).days + 1 if stay.ends_on else None
    return {"stay": stay, "name": mask_name(stay.person.name), "id_number": mask_id_number(stay.person.id_number),
            "category": _category(stay, cache), "measure": _measure(stay.measure),
            "state": _label(StayState, stay.state), "day": (today - stay.starts_on).days + 1, "days": total,
            "central": stay.measure in CENTRAL_MEASURES,
            "selectable": stay.state == StayState.AWAITING_TRANSFER and stay.measure in CENTRAL_MEASURES}


def _stays_context(request, **extra) -> dict:
    user = request.user
    params = request.POST if request.method == "POST" else request.GET
    state = params.get("state", "")
    state = state if state in OPEN_STAY_STATES else ""
    measure = params.get("measure", "")
    measure = measure if measure in STAY_MEASURES else ""
    sites = list(page_reads.sites_visible(user))
    site_id = _int(params.get("site"))
    site_id = site_id if site_id in {s.id for s in sites} else None
    page = Paginator(page_reads.stays_visible(user, state=state, measure=measure, site_id=site_id),
                     STAYS_PER_PAGE).get_page(params.get("page"))
    cache: dict = {}
    today = clock.today()
    rows = [_stay_row(s, cache, today) for s in page.object_list]
    query = {k: v for k, v in (("state", state), ("measure", measure), ("site", site_id or "")) if v}
    counts = page_reads.open_stay_counts(user)
    return {
        "page": page, "rows": rows, "state": state, "measure": measure, "site_id": site_id, "query": urlencode(query),
        "state_choices": [{"value": s, "label": _label(StayState, s), "n": counts.get(s, 0)} for s in OPEN_STAY_STATES],
        "measure_choices": [(m, _measure(m)) for m in STAY_MEASURES],
        "sites": sites, "active_sites": [s for s in sites if s.state == SiteState.ACTIVE],
        "vehicle_choices": Vehicle.choices, "can_stay": user.can(Capability.STAY_MANAGE),
        "selectable": any(r["selectable"] for r in rows), "checked": [], "proposal": None,
        "transfer_errors": {}, "transfer_values": {"vehicle": Vehicle.BUS}, "allocate_error": None, **extra}


@login_required
@require_GET
def stay_list(request):
    """/quarantine/stays/: the open stays, filtered by state, measure and site; those awaiting transfer are chosen
    for rooms and a transfer."""
    try:
        _require_view(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/stays.html", _stays_context(request))


def _chosen(request) -> list[int]:
    return list(dict.fromkeys(i for i in (_int(x) for x in request.POST.getlist("stay_ids")) if i))


def _stays_error(request, exc: DomainError, **extra):
    if exc.status == 403:
        return _error_page(request, exc)
    return render(request, "web/quarantine/stays.html", _stays_context(request, **extra), status=exc.status)


def _named(exc: DomainError, user) -> DomainError:
    """The people of an error's details named (masked) instead of by stay id."""
    ids = [d["stay_id"] for d in exc.details if "stay_id" in d]
    if not ids:
        return exc
    stays = page_reads.stays_by_id(user, ids)
    exc.details = [{**d, "name": mask_name(stays[d["stay_id"]].person.name) if d.get("stay_id") in stays
                    else str(d.get("stay_id"))} for d in exc.details]
    return exc


@login_required
@require_POST
def stays_allocate(request):
    """Rooms for the chosen people awaiting transfer (allocate_rooms): the proposal with the reasons for those left
    out; applied (apply=1), the rooms are reserved for them."""
    user = request.user
    try:
        _require_view(user)
        require(user, Capability.STAY_MANAGE, "分配房间", "allocate rooms")
    except DomainError as exc:
        return _error_page(request, exc)
    ids = _chosen(request)
    site_id = _int(request.POST.get("alloc_site"))
    apply = request.POST.get("apply") == "1"
    try:
        if not ids:
            raise ValidationFailed(field="stay_ids", code="required", message_zh="请选择待转运人员",
                                   message_en="choose people awaiting transfer")
        result = allocate_rooms(actor=user, stay_ids=ids, site_ids=[site_id] if site_id else None, apply=apply)
    except DomainError as exc:
        return _stays_error(request, exc, allocate_error=_explained(_named(exc, user)), checked=ids)
    if apply:
        messages.success(request, gettext("已为 %(n)s 人预留房间，请申请转运") % {"n": len(result.placed)})
        return redirect(reverse("quarantine_stays") + "?" + urlencode({"state": StayState.AWAITING_TRANSFER}))
    stays = page_reads.stays_by_id(user, ids)
    sites = {s.id: s.name for s in page_reads.sites_visible(user)}
    placed = [{"name": mask_name(stays[p.stay_id].person.name), "stay": stays[p.stay_id], "site": sites.get(p.site_id),
               "floor": p.floor, "number": p.number} for p in result.placed]
    unplaced = [{"name": mask_name(stays[u["stay_id"]].person.name) if u["stay_id"] in stays else "—",
                 "stay": stays.get(u["stay_id"]), "reason": _pick(UNPLACED.get(u["reason"], (u["reason"],) * 2))}
                for u in result.unplaced]
    proposal = {"placed": placed, "unplaced": unplaced, "ids": [p.stay_id for p in result.placed],
                "site_id": site_id}
    return render(request, "web/quarantine/stays.html", _stays_context(request, proposal=proposal, checked=ids))


@login_required
@require_POST
def stays_transfer(request):
    """A transfer for the chosen people (transfer_request): site, pickup address, vehicle, plate, driver, escort."""
    user = request.user
    try:
        _require_view(user)
        require(user, Capability.STAY_MANAGE, "安排转运", "arrange transfers")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    ids = _chosen(request)
    values = {k: post.get(k, "").strip() for k in ("site_id", "pickup_address", "vehicle", "plate", "driver",
                                                     "escort")}
    try:
        site_id = _int(values["site_id"])
        if site_id is None:
            raise ValidationFailed(field="site_id", code="required", message_zh="请选择隔离点",
                                   message_en="choose the site")
        run = transfer_request(actor=user, stay_ids=ids, site_id=site_id, pickup_address=values["pickup_address"],
                               vehicle=values["vehicle"], plate=values["plate"], driver=values["driver"],
                               escort=values["escort"])
    except DomainError as exc:
        field = _field(exc, TRANSFER_FIELDS)
        return _stays_error(request, exc, transfer_errors={field: _explained(_named(exc, user))},
                            transfer_values=values, checked=ids)
    messages.success(request, gettext("已申请转运 %(code)s：%(n)s 人，%(due)s 前送达") % {
        "code": run.code, "n": run.stays.count(), "due": timezone.localtime(run.due_at).strftime("%m-%d %H:%M")})
    return redirect(reverse("quarantine_transfers") + f"#transfer-{run.id}")


# ---- a stay --------------------------------------------------------------------------------------------------------


def _change_rows(stay: Stay) -> list[dict]:
    changes = page_reads.stay_history(stay)
    rooms = page_reads.room_labels([c.before.get("room") for c in changes] + [c.after.get("room") for c in changes])
    rows = []
    for c in changes:
        before, after = c.before, c.after
        what = []
        if before and before.get("state") != after.get("state"):
            what.append(f"{_label(StayState, before.get('state'))} → {_label(StayState, after.get('state'))}")
        if before.get("room") != after.get("room") and after.get("room"):
            what.append(f"{rooms.get(before.get('room'), '—')} → {rooms.get(after.get('room'), '')}"
                        if before.get("room") else rooms.get(after.get("room"), ""))
        if before and before.get("anchor_date") != after.get("anchor_date"):
            what.append(f"{gettext('起算')} {before.get('anchor_date')} → {after.get('anchor_date')}")
        if before and before.get("ends_on") != after.get("ends_on"):
            what.append(f"{gettext('结束')} {before.get('ends_on') or '—'} → {after.get('ends_on') or '—'}")
        rows.append({"c": c, "kind": _label(ChangeKind, c.kind), "what": what, "by": str(c.by) if c.by_id else ""})
    return rows


def _stay_context(request, stay: Stay, **extra) -> dict:
    user = request.user
    person = stay.person
    full_name = user.can(Capability.PERSON_VIEW_FULL)
    today = clock.today()
    tests = [{**t, "kind_label": _pick(TEST_KINDS.get(t["kind"], (t["kind"],) * 2)),
              "outcome_label": _pick(OUTCOMES[t["outcome"]]), "today": t["date"] == today}
             for t in page_reads.test_outcomes(stay, today)]
    following = page_reads.next_stay(stay)
    total = (stay.ends_on - stay.starts_on).days + 1 if stay.ends_on else None
    context = {
        "stay": stay, "person": person, "show_full": stay.show_full,
        "name": person.name if full_name else mask_name(person.name),
        "id_number": person.id_number if stay.show_full else mask_id_number(person.id_number),
        "mobile": person.mobile if stay.show_full else mask_mobile(person.mobile),
        "can_view_full": full_name, "where": grid_names([stay.area]).get(stay.area_id) or stay.area.name,
        "category": _pick(page_reads.category_label(stay.policy_version, stay.category)),
        "measure": _measure(stay.measure), "state": _label(StayState, stay.state),
        "central": stay.measure in CENTRAL_MEASURES, "open": stay.state in OPEN_STAY_STATES,
        "day": (today - stay.starts_on).days + 1, "days": total, "tests": tests,
        "due": stay.ends_on is not None and today >= stay.ends_on,
        "because": [{"rule": b.get("rule", ""), "text": b.get("en") if _en() else b.get("zh")}
                    for b in stay.explanation],
        "history": _change_rows(stay), "following": following,
        "following_measure": _measure(following.measure) if following else "",
        "previous_measure": _measure(stay.previous.measure) if stay.previous_id else "",
        "transfers": [{"t": t, "state": _label(TransferState, t.state)} for t in page_reads.transfers_of(stay)],
        "can_stay": user.can(Capability.STAY_MANAGE), "release_error": None, "reanchor_errors": {},
        "reanchor_values": {},
    }
    context.update(extra)
    return context


def _open_stay(request, stay_id: int, *, full: bool = False) -> Stay:
    _require_view(request.user)
    return page_reads.stay_file_open(actor=request.user, stay_id=stay_id, full=full, ip_address=_ip(request))


@login_required
@require_GET
def stay_page(request, stay_id: int):
    """/quarantine/stays/<id>/: one stay's file (the read is logged; ?full=1 shows the full ID number and mobile
    to those who may see them)."""
    try:
        stay = _open_stay(request, stay_id, full=request.GET.get("full") == "1")
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/stay.html", _stay_context(request, stay))


def _stay_action(request, stay_id: int, zh: str, en: str) -> Stay:
    _require_view(request.user)
    stay = page_reads.stay_visible(request.user, stay_id)
    require(request.user, Capability.STAY_MANAGE, zh, en)
    return stay


def _stay_error(request, stay_id: int, exc: DomainError, **extra):
    if exc.status == 403:
        return _error_page(request, exc)
    stay = _open_stay(request, stay_id)
    return render(request, "web/quarantine/stay.html", _stay_context(request, stay, **extra), status=exc.status)


@login_required
@require_POST
def stay_reanchor_view(request, stay_id: int):
    """A later exposure: the stay's dates and tests from the new anchor (stay_reanchor), with the reason."""
    try:
        stay = _stay_action(request, stay_id, "调整隔离管控", "change stays")
    except DomainError as exc:
        return _error_page(request, exc)
    raw = request.POST.get("anchor_date", "").strip()
    try:
        try:
            anchor = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(field="anchor_date", code="invalid", message_zh="请填写日期，如 2022-07-15",
                                   message_en="enter a date, e.g. 2022-07-15") from None
        stay = stay_reanchor(actor=request.user, stay_id=stay.id, anchor_date=anchor,
                             reason=request.POST.get("reason", "")[:200])
    except DomainError as exc:
        field = exc.field if exc.field in ("anchor_date", "reason") else "form"
        return _stay_error(request, stay_id, exc, reanchor_errors={field: _explained(exc)},
                           reanchor_values=request.POST)
    messages.success(request, gettext("已重新起算：%(start)s 至 %(end)s") % {
        "start": stay.starts_on.isoformat(), "end": stay.ends_on.isoformat() if stay.ends_on else "—"})
    return redirect(reverse("quarantine_stay", args=[stay.id]))


@login_required
@require_POST
def stay_release_view(request, stay_id: int):
    """Release (stay_release): refused with the tests missing, pending or positive listed."""
    try:
        stay = _stay_action(request, stay_id, "解除隔离管控", "release people")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        done = stay_release(actor=request.user, stay_id=stay.id)
    except DomainError as exc:
        return _stay_error(request, stay_id, exc, release_error=_explained(exc))
    text = gettext("已解除%(measure)s，核验码 %(code)s") % {"measure": _measure(done.stay.measure),
                                                        "code": done.stay.release_code}
    if done.next_stay is not None:
        text += gettext("；接续%(measure)s至 %(end)s") % {"measure": _measure(done.next_stay.measure),
                                                     "end": done.next_stay.ends_on or "—"}
    messages.success(request, text)
    return redirect(reverse("quarantine_stay", args=[stay.id]))


# ---- transfers -----------------------------------------------------------------------------------------------------


def _run_row(t: Transfer, now: dt.datetime) -> dict:
    live = t.state in (TransferState.REQUESTED, TransferState.PICKED_UP)
    late = live and t.due_at < now
    stays = sorted(t.stays.all(), key=lambda s: s.id)
    waiting = [s for s in stays if s.state in page_reads.INCOMING_STATES]
    return {"t": t, "state": _label(TransferState, t.state), "vehicle": _label(Vehicle, t.vehicle),
            "overdue": late, "hours": _hours(t.due_at - now) if live else None,
            "people": [{"stay": s, "name": mask_name(s.person.name)} for s in stays], "waiting": len(waiting)}


def _transfers_context(request, **extra) -> dict:
    user = request.user
    now = clock.now()
    runs = page_reads.transfers_visible(user, arrived_since=now - dt.timedelta(days=2))
    error_id, error, values = extra.pop("row_error", (None, None, {}))
    rows = [_run_row(t, now) for t in runs]
    for r in rows:
        r["error"], r["values"] = (error, values) if r["t"].id == error_id else (None, {})
    groups = [{"state": s, "label": _label(TransferState, s), "rows": [r for r in rows if r["t"].state == s]}
              for s in (TransferState.REQUESTED, TransferState.PICKED_UP, TransferState.ARRIVED)]
    return {"groups": groups, "overdue": sum(r["overdue"] for r in rows), "can_stay": user.can(Capability.STAY_MANAGE),
            "now": timezone.localtime(now), **extra}


@login_required
@require_GET
def transfer_list(request):
    """/quarantine/transfers/: the runs by state with their due time (overdue in red), pickup and arrival; once
    arrived, the site's page admits the people."""
    try:
        _require_view(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/transfers.html", _transfers_context(request))


def _transfer_action(request, transfer_id: int, zh: str, en: str) -> Transfer:
    _require_view(request.user)
    require(request.user, Capability.STAY_MANAGE, zh, en)
    return page_reads.transfer_visible(request.user, transfer_id)


def _moment_field(raw: str, field: str) -> dt.datetime | None:
    return _parse_local(raw, field) if (raw or "").strip() else None


def _transfers_error(request, run: Transfer, exc: DomainError):
    if exc.status == 403:
        return _error_page(request, exc)
    context = _transfers_context(request, row_error=(run.id, _explained(exc), request.POST))
    return render(request, "web/quarantine/transfers.html", context, status=exc.status)


@login_required
@require_POST
def transfer_pickup_view(request, transfer_id: int):
    """The vehicle has the people (transfer_pickup): plate, driver and escort as recorded at the door."""
    try:
        run = _transfer_action(request, transfer_id, "登记转运", "record transfers")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    try:
        run = transfer_pickup(actor=request.user, transfer_id=run.id, at=_moment_field(post.get("at"), "picked_up_at"),
                              plate=post.get("plate", "").strip(), driver=post.get("driver", "").strip(),
                              escort=post.get("escort", "").strip())
    except DomainError as exc:
        return _transfers_error(request, run, exc)
    messages.success(request, gettext("转运 %(code)s 已接上") % {"code": run.code})
    return redirect(reverse("quarantine_transfers") + f"#transfer-{run.id}")


@login_required
@require_POST
def transfer_cancel_view(request, transfer_id: int):
    """A run not yet picked up is cancelled with the reason (transfer_cancel)."""
    try:
        run = _transfer_action(request, transfer_id, "取消转运", "cancel transfers")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        run = transfer_cancel(actor=request.user, transfer_id=run.id, reason=request.POST.get("reason", "")[:300])
    except DomainError as exc:
        return _transfers_error(request, run, exc)
    messages.success(request, gettext("转运 %(code)s 已取消") % {"code": run.code})
    return redirect(reverse("quarantine_transfers"))


@login_required
@require_POST
def transfer_arrive_view(request, transfer_id: int):
    """The vehicle is at the site (transfer_arrive; "stopped on the way" breaks the closed loop)."""
    try:
        run = _transfer_action(request, transfer_id, "登记转运", "record transfers")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    try:
        run = transfer_arrive(actor=request.user, transfer_id=run.id, at=_moment_field(post.get("at"), "arrived_at"),
                              stopped_on_the_way=post.get("stopped") == "1")
    except DomainError as exc:
        return _transfers_error(request, run, exc)
    if run.closed_loop:
        messages.success(request, gettext("转运 %(code)s 已送达（闭环），请办理入住") % {"code": run.code})
    else:
        messages.warning(request, gettext("转运 %(code)s 已送达，但未形成闭环（车辆、司机、随车人员未登记全或途中停留），请核查")
                         % {"code": run.code})
    return redirect(reverse("quarantine_transfers") + f"#transfer-{run.id}")

