"""Risk-zone (风险区) pages: the county's map with the zones coloured by level and the cases as points, HQ's daily
list, the county's status and the zones proposed, in force and lifted (/zones/); a zone's page with its areas and
people, cases, clock, history and public texts, and HQ's decisions (approve with edits, reject, change the scope
or the kind, downgrade, lift — early only with a reason — and edit the text); the residents' list and the texts as
.xlsx; the public page of the zones in force (/public/zones/, no login, no personal data).

Thin views, as in views_quarantine: they parse the form, call one service or read of shouwang.zones, and render.
Errors keep both languages and are shown by the field of the form they came from."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.core.errors import DomainError
from shouwang.people.enums import PersonTag
from shouwang.policy.rules.model import CASE_CONTEXTS
from shouwang.policy.selectors import ruleset_in_force
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_exchange import xlsx_response
from shouwang.web.views_map import area_map_config
from shouwang.web.views_testing import _en, _err, _int, _label
from shouwang.zones import page_reads
from shouwang.zones.enums import LEVEL_ORDER, OPEN_ZONE_STATES, ClockState, ZoneChangeKind, ZoneState
from shouwang.zones.models import Zone, ZoneCase, ZoneChange
from shouwang.zones.page_reads import level_label
from shouwang.zones.selectors import (
    VULNERABLE,
    county_status,
    hq_daily,
    place_names,
    zone_clock,
    zone_get,
    zone_history,
    zone_population,
    zone_scopes,
    zones_visible,
)
from shouwang.zones.services import (
    zone_announcement_edit,
    zone_approve,
    zone_downgrade,
    zone_kind_change,
    zone_lift,
    zone_propose,
    zone_reject,
    zone_scope_change,
)

# Which form field an error of each action belongs to (the service's field -> the form's); the rest go on top.
FORM_FIELDS = {
    "propose": {"kind": "kind", "area_ids": "area_ids", "reason": "reason"},
    "approve": {"area_ids": "area_ids", "kind": "kind", "announcement": "announcement"},
    "reject": {"reason": "reason"},
    "scope": {"add": "add", "area_ids": "add", "remove": "remove", "reason": "reason"},
    "kind": {"kind": "kind", "reason": "reason"},
    "downgrade": {"reason": "reason"},
    "lift": {"reason": "reason"},
    "announcement": {"text": "text"},
}
FORMS = tuple(FORM_FIELDS)


def _pick(pair) -> str:
    return str(pair[1] if _en() else pair[0])


def _lv(level: str) -> str:
    return level_label(level, _en())


def _lines(explanation) -> list[dict]:
    """Explanation lines ({rule, zh, en}) in the page's language."""
    return [{"rule": b.get("rule", ""), "text": b.get("en") if _en() else b.get("zh")} for b in explanation or ()]


def _require_view(user) -> None:
    require(user, Capability.ZONE_VIEW, "查看风险区", "view risk zones")


def _kinds(user) -> list[tuple[str, str]]:
    """The kinds the version in force designates at the user's jurisdiction (low is never designated alone)."""
    try:
        rules = ruleset_in_force(clock.today(), area_codes_chain(user.jurisdiction))
    except DomainError:
        return []
    return [(k, _lv(k)) for k, spec in rules.zones.items() if spec.steps]


def _choices(user, areas=()) -> list[dict]:
    """The areas to choose for a scope, each group named in the page's language."""
    return [{**g, "label": (g["group_en"] if _en() else gettext("范围内的下级区域")) if "group_en" in g else g["group"]}
            for g in page_reads.scope_choices(user, areas)]


def _zone_url(zone_id: int, anchor: str = "") -> str:
    return reverse("zone", args=[zone_id]) + (f"#{anchor}" if anchor else "")


# ---- /zones/ ------------------------------------------------------------------------------------------------------


def _drawn(read, *args, **kwargs) -> dict | None:
    """A map read, or None when there is nothing the user may draw (no jurisdiction: "not found")."""
    try:
        return read(*args, **kwargs)
    except DomainError:
        return None


def _map(data: dict | None, dom_id: str) -> dict | None:
    """The map partial's config: areas coloured by the zones over them (the legend lists the colours drawn), the
    cases as points; a click on a zone's area opens the zone."""
    if data is None or not data["shapes"]["features"]:
        return None
    drawn = {f["properties"].get("zone") for f in data["shapes"]["features"]}
    labels = (("high", _lv("high")), ("medium", _lv("medium")), ("proposed", gettext("待审批")),
              ("closed", gettext("已解除或未批准")), ("part", gettext("含风险区的区域")))
    categories = [{"value": v, "label": label, "colour": page_reads.MAP_COLOURS[v]} for v, label in labels
                  if v in drawn]
    shown = {p["colour"] for p in data["points"]}
    categories += [{"value": f"__case_{k}", "label": label, "colour": page_reads.CASE_COLOURS[k]} for k, label in (
        ("community", gettext("社会面病例")), ("controlled", gettext("隔离管控中发现的病例")))
        if page_reads.CASE_COLOURS[k] in shown]
    return area_map_config(data["shapes"], colour_by="zone", categories=categories, points=data["points"],
                           link=reverse("zones") + "area/{id}/", link_when="zone_id",
                           tooltip=[["level_label", ""], ["people", gettext("人员")], ["zone_label", gettext("风险区")]],
                           legend_title=gettext("图例"), dom_id=dom_id)


def _row(zone: Zone, areas, pop, c=None, cases: int = 0) -> dict:
    return {"z": zone, "areas": areas, "names": "、".join(a.name for a in areas), "pop": pop, "clock": c,
            "kind": _lv(zone.kind), "level": _lv(zone.level_now), "state": _label(ZoneState, zone.state),
            "downgraded": zone.state == ZoneState.IN_FORCE and zone.level_now != zone.kind,
            "next": _lv(c.next_level) if c and c.next_level else "",
            "clock_state": _label(ClockState, c.state) if c and c.state else "", "cases": cases}


def _zones_context(request, **extra) -> dict:
    user = request.user
    today = clock.today()
    status = county_status(user, today)
    daily = hq_daily(user, today)
    in_force = sorted(daily.eligible + daily.waiting,
                      key=lambda r: (-LEVEL_ORDER.get(r.zone.level_now, 0), r.clock.eligible_on or dt.date.max,
                                     r.zone.code))
    proposed = list(zones_visible(user, states=[ZoneState.PROPOSED]).order_by("proposed_at", "id"))
    since = clock.now() - dt.timedelta(days=page_reads.RECENT_DAYS)
    closed = list(ZoneChange.objects.filter(kind__in=[ZoneChangeKind.LIFTED, ZoneChangeKind.REJECTED], at__gte=since,
                                            zone__in=zones_visible(user).values("id"))
                  .select_related("zone").order_by("-at", "-id"))
    zones = [r.zone for r in in_force] + proposed + [ch.zone for ch in closed]
    scopes = zone_scopes([z.id for z in zones])
    pops = zone_population([r.zone for r in in_force] + proposed, today)
    cases = dict(ZoneCase.objects.filter(zone__in=proposed, withdrawn_at__isnull=True).values_list("zone_id")
                 .annotate(n=Count("id")).order_by())
    rows = {r.zone.id: _row(r.zone, scopes[r.zone.id], pops[r.zone.id], r.clock) for r in in_force}
    eligible = [{**rows[r.zone.id], "new": r.new} for r in daily.eligible]
    moved = [{"m": m, "z": m.zone} for m in daily.moved]
    recent = [{**_row(ch.zone, scopes[ch.zone_id], None), "change": ch,
               "why": ch.zone.lift_reason if ch.kind == ZoneChangeKind.LIFTED else ch.reason} for ch in closed]
    # the supply and community teams' table: every zone in force with its people, households and vulnerable
    care_keys = ["people", "households", "elderly", *[str(t) for t in VULNERABLE]]
    care = [{"z": r.zone, "n": [getattr(pops[r.zone.id], k) for k in care_keys]} for r in in_force]
    care_total = [sum(row["n"][i] for row in care) for i in range(len(care_keys))]
    levels = [{"level": k, "label": _lv(k), "n": n} for k, n in
              sorted(status.zones.items(), key=lambda kv: -LEVEL_ORDER.get(kv[0], 0))]
    can_manage = user.can(Capability.ZONE_MANAGE)
    return {
        "status": status, "status_lines": _lines(status.explanation), "levels": levels, "daily": daily,
        "eligible": eligible, "moved": moved, "in_force": [rows[r.zone.id] for r in in_force],
        "proposed": [_row(z, scopes[z.id], pops[z.id], cases=cases.get(z.id, 0)) for z in proposed],
        "care": care, "care_total": care_total,
        "care_heads": [gettext("人员"), gettext("户数"), gettext("60岁及以上"),
                       *[_label(PersonTag, t) for t in VULNERABLE]],
        "recent": recent, "recent_days": page_reads.RECENT_DAYS, "case_days": page_reads.CASE_DAYS,
        "map": _map(_drawn(page_reads.zone_map, user, today=today, en=_en()), "zones-map"),
        "close_map": _map(_drawn(page_reads.zones_close_map, user, today=today, en=_en()), "zones-close-map"),
        "can_manage": can_manage,
        "kinds": _kinds(user) if can_manage else [],
        "choices": _choices(user) if can_manage else [],
        "errors": {}, "values": {}, **extra}


@login_required
@require_GET
def zones_page(request):
    """/zones/: HQ's daily list and the county's status on top, the map, the zones proposed, in force and lately
    lifted or rejected; a proposal form for those who manage zones."""
    try:
        _require_view(request.user)
        context = _zones_context(request)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/zones/zones.html", context)


@login_required
@require_POST
def zone_propose_view(request):
    """A proposal over the chosen areas (zone_propose), merged into the one zone it overlaps when asked."""
    user = request.user
    post = request.POST
    try:
        _require_view(user)
        require(user, Capability.ZONE_MANAGE, "划定风险区", "designate risk zones")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        area_ids = page_reads.area_ids_from(user, ids=post.getlist("area_ids"), codes=post.get("area_codes", ""))
        zone = zone_propose(actor=user, kind=post.get("kind", ""), area_ids=area_ids, reason=post.get("reason", ""),
                            merge=post.get("merge") == "1")
    except DomainError as exc:
        if exc.status == 403:
            return _error_page(request, exc)
        field = FORM_FIELDS["propose"].get(exc.field or "", "form")
        context = _zones_context(request, errors={field: _err(exc)}, values=post)
        return render(request, "web/zones/zones.html", context, status=exc.status)
    messages.success(request, gettext("已提出 %(code)s，待指挥部审批") % {"code": zone.code})
    return redirect(_zone_url(zone.id))


@login_required
@require_GET
def zone_at_area(request, area_id: int):
    """A click on the map: the strictest open zone over or inside the area (in force before proposed), else the
    list."""
    try:
        _require_view(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    zones = list(zones_visible(request.user, states=list(OPEN_ZONE_STATES)))
    scopes = zone_scopes([z.id for z in zones])
    area = Area.objects.filter(id=area_id).only("path").first()
    if area is not None:
        hits = [z for z in zones if any(a.path.startswith(area.path) or area.path.startswith(a.path)
                                        for a in scopes[z.id])]
        hits.sort(key=lambda z: (z.state != ZoneState.IN_FORCE, -LEVEL_ORDER.get(z.level_now, 0), z.code))
        if hits:
            return redirect(_zone_url(hits[0].id))
    return redirect("zones")


# ---- a zone -------------------------------------------------------------------------------------------------------


def _steps(zone: Zone, c) -> list[dict]:
    if c is None or c.decision is None:
        return []
    out = []
    for s in c.decision.steps:
        done = zone.state == ZoneState.IN_FORCE and LEVEL_ORDER.get(s.to, 0) >= LEVEL_ORDER.get(zone.level_now, 0)
        out.append({"s": s, "to": _lv(s.to), "state": _label(ClockState, s.state), "done": done,
                    "next": c.next_step is s, "lift": c.lift_step is s, "lines": _lines(b.as_dict() for b in s.because),
                    "rounds": list(s.round_needed_on)})
    return out


def _what(ch: ZoneChange) -> list[str]:
    """What a history row changed, in the page's language."""
    b, a = ch.before or {}, ch.after or {}
    en = _en()

    def names(side):
        return "、".join(x["name"] for x in side.get("areas", []))

    out = []
    if ch.kind in (ZoneChangeKind.CREATED, ZoneChangeKind.APPROVED, ZoneChangeKind.REJECTED) and a.get("areas"):
        out.append(gettext("范围：%(areas)s") % {"areas": names(a)})
    elif ch.kind == ZoneChangeKind.SCOPE:
        out.append(gettext("范围：%(before)s → %(after)s") % {"before": names(b), "after": names(a)})
    elif ch.kind == ZoneChangeKind.KIND:
        out.append(gettext("类型：%(before)s → %(after)s") % {"before": _lv(b.get("kind", "")),
                                                          "after": _lv(a.get("kind", ""))})
    elif ch.kind in (ZoneChangeKind.DOWNGRADED, ZoneChangeKind.LIFTED):
        out.append(gettext("等级：%(before)s → %(after)s") % {"before": _lv(b.get("level_now", "")),
                                                          "after": _lv(a.get("level_now", ""))})
        if a.get("early"):
            out.append(gettext("提前（未满足解封条件），理由由指挥部填写"))
    elif ch.kind == ZoneChangeKind.CLOCK:
        out.append(gettext("可转级日期：%(before)s → %(after)s") % {"before": b.get("eligible_on") or "—",
                                                               "after": a.get("eligible_on") or "—"})
    elif ch.kind == ZoneChangeKind.CASE and a.get("case_code"):
        context = CASE_CONTEXTS.get(a.get("context"), (a.get("context"), a.get("context")))
        out.append(f"{a['case_code']} · {a.get('found_on', '')} · {context[1] if en else context[0]}")
    return out


def _pop_stats(pop) -> list[tuple[str, str, int]]:
    """The population block: people, households, 60 and over, then the vulnerable (person tags or computed)."""
    tags = [(str(t), _label(PersonTag, t), getattr(pop, str(t))) for t in VULNERABLE]
    return [("people", gettext("人员"), pop.people), ("households", gettext("户数"), pop.households),
            ("elderly", gettext("60岁及以上"), pop.elderly), *tags,
            ("no_household", gettext("未登记户"), pop.no_household)]


def _zone_context(request, zone: Zone, **extra) -> dict:
    user = request.user
    today = clock.today()
    areas = zone_scopes([zone.id])[zone.id]
    names = place_names(areas)
    people = page_reads.area_people(areas)
    is_open = zone.state in OPEN_ZONE_STATES
    c = zone_clock(zone, today) if is_open else None
    pop = zone_population([zone], today)[zone.id]
    history = zone_history(zone)
    can_manage = user.can(Capability.ZONE_MANAGE)
    texts = [h for h in history if h.announcement_zh]
    cases = page_reads.zone_cases(zone, c, today)
    errors = extra.pop("errors", {})
    values = extra.pop("values", {})
    # the approve form keeps every area unless it came back with the boxes as sent; the scope form removes none
    keep = ({_int(x) for x in values["approve"].getlist("keep")} if "approve" in values
            else {a.id for a in areas})
    remove = {_int(x) for x in values["scope"].getlist("remove")} if "scope" in values else set()
    context = {
        "zone": zone, "kind": _lv(zone.kind), "level": _lv(zone.level_now), "state": _label(ZoneState, zone.state),
        "downgraded": zone.state == ZoneState.IN_FORCE and zone.level_now != zone.kind, "is_open": is_open,
        "scope": [{"a": a, "place": names[a.id], "level": _label(AreaLevel, a.level), "people": people[a.id],
                   "keep": a.id in keep, "remove": a.id in remove} for a in areas],
        "map": _map(_drawn(page_reads.zone_detail_map, user, zone, today=today, en=_en()), "zone-map"),
        "pop": pop, "pop_stats": _pop_stats(pop), "needs": [{"label": n["label_en"] if _en() else n["label_zh"], "count": n["count"]}
                              for n in pop.needs],
        "cases": [{"r": r, "context": r.context_en if _en() else r.context_zh,
                   "why": r.why_en if _en() else r.why_zh} for r in cases],
        "counted": sum(1 for r in cases if r.counted),
        "clock": c, "steps": _steps(zone, c), "clock_lines": _lines(c.explanation) if c else [],
        "clock_state": _label(ClockState, c.state) if c and c.state else "",
        "next_level": _lv(c.next_level) if c and c.next_level else "",
        "lift_ready": bool(c and c.lift_eligible), "next_ready": bool(c and c.eligible),
        "can_downgrade": bool(c and zone.state == ZoneState.IN_FORCE and not c.kind_retired and c.next_step
                              and c.next_step.to != "low"),
        "history": [{"c": h, "kind": _label(ZoneChangeKind, h.kind), "what": _what(h),
                     "by": (h.by.display_name or h.by.username) if h.by else ""} for h in history],
        "texts": [{"c": h, "label": _pick(page_reads.TEXT_LABELS.get(h.kind, ("通告", "text")))} for h in texts],
        "can_manage": can_manage, "can_export": user.can(Capability.PERSON_EXPORT),
        "can_export_full": user.can(Capability.PERSON_EXPORT_FULL),
        "kinds": _kinds(user) if can_manage and is_open else [],
        "choices": _choices(user, areas) if can_manage and is_open else [],
        "errors": {f: errors.get(f, {}) for f in FORMS}, "values": {f: values.get(f, {}) for f in FORMS},
    }
    context.update(extra)
    return context


@login_required
@require_GET
def zone_page(request, zone_id: int):
    """/zones/<id>/: the zone's areas and people, cases, clock, history and texts; HQ's decisions."""
    try:
        _require_view(request.user)
        zone = zone_get(request.user, zone_id)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/zones/zone.html", _zone_context(request, zone))


def _act(request, zone_id: int, form: str, run, anchor: str = ""):
    """Run one decision on a zone the user sees: on success a message and back to the zone's page; a refusal is
    shown by the field of the form it came from (403 as the error page)."""
    user = request.user
    try:
        _require_view(user)
        zone = zone_get(user, zone_id)
        require(user, Capability.ZONE_MANAGE, "管理风险区", "manage risk zones")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        message = run(zone)
    except DomainError as exc:
        if exc.status == 403:
            return _error_page(request, exc)
        field = FORM_FIELDS[form].get(exc.field or "", "form")
        zone = zone_get(user, zone_id)
        context = _zone_context(request, zone, errors={form: {field: _err(exc)}}, values={form: request.POST},
                                open_form=form)
        return render(request, "web/zones/zone.html", context, status=exc.status)
    messages.success(request, message)
    return redirect(_zone_url(zone_id, anchor or form))


def _added(request, *, field: str) -> list[int]:
    post = request.POST
    return page_reads.area_ids_from(request.user, ids=post.getlist("add"), codes=post.get("add_codes", ""),
                                    field=field)


@login_required
@require_POST
def zone_approve_view(request, zone_id: int):
    """HQ approves the proposal, with its edits: the areas kept and added, the kind, the text (else the template's)."""
    post = request.POST

    def run(zone):
        area_ids = None
        if post.get("scope_form") == "1":
            area_ids = [i for i in (_int(x) for x in post.getlist("keep")) if i] + _added(request, field="area_ids")
        z = zone_approve(actor=request.user, zone_id=zone.id, area_ids=area_ids, kind=post.get("kind") or None,
                         announcement=post.get("announcement", "").strip() or None)
        return gettext("%(code)s 已批准划定为%(level)s，通告已生成") % {"code": z.code, "level": _lv(z.level_now)}

    return _act(request, zone_id, "approve", run, anchor="zone-head")


@login_required
@require_POST
def zone_reject_view(request, zone_id: int):
    def run(zone):
        z = zone_reject(actor=request.user, zone_id=zone.id, reason=request.POST.get("reason", ""))
        return gettext("%(code)s 不予批准") % {"code": z.code}

    return _act(request, zone_id, "reject", run, anchor="zone-head")


@login_required
@require_POST
def zone_scope_view(request, zone_id: int):
    """Add areas to the zone or take some of its own out, with the reason."""
    post = request.POST

    def run(zone):
        z = zone_scope_change(actor=request.user, zone_id=zone.id, add=_added(request, field="add"),
                              remove=[i for i in (_int(x) for x in post.getlist("remove")) if i],
                              reason=post.get("reason", ""))
        return gettext("%(code)s 范围已调整") % {"code": z.code}

    return _act(request, zone_id, "scope", run, anchor="scope")


@login_required
@require_POST
def zone_kind_view(request, zone_id: int):
    def run(zone):
        z = zone_kind_change(actor=request.user, zone_id=zone.id, kind=request.POST.get("kind", ""),
                             reason=request.POST.get("reason", ""))
        return gettext("%(code)s 已调整为%(level)s") % {"code": z.code, "level": _lv(z.level_now)}

    return _act(request, zone_id, "kind", run, anchor="zone-head")


@login_required
@require_POST
def zone_downgrade_view(request, zone_id: int):
    def run(zone):
        z = zone_downgrade(actor=request.user, zone_id=zone.id, reason=request.POST.get("reason", ""),
                           announcement=request.POST.get("announcement", "").strip() or None)
        return gettext("%(code)s 已降为%(level)s，通告已生成") % {"code": z.code, "level": _lv(z.level_now)}

    return _act(request, zone_id, "downgrade", run, anchor="zone-head")


@login_required
@require_POST
def zone_lift_view(request, zone_id: int):
    def run(zone):
        z = zone_lift(actor=request.user, zone_id=zone.id, reason=request.POST.get("reason", ""),
                      announcement=request.POST.get("announcement", "").strip() or None)
        return gettext("%(code)s 已解除，通告已生成") % {"code": z.code}

    return _act(request, zone_id, "lift", run, anchor="zone-head")


@login_required
@require_POST
def zone_announcement_view(request, zone_id: int):
    def run(zone):
        z = zone_announcement_edit(actor=request.user, zone_id=zone.id, text=request.POST.get("text", ""))
        return gettext("%(code)s 的划定通告已修改") % {"code": z.code}

    return _act(request, zone_id, "announcement", run, anchor="announcement")


# ---- exports ------------------------------------------------------------------------------------------------------


@login_required
@require_GET
def zone_residents_export(request, zone_id: int):
    """The residents of the zone (in the user's jurisdiction) for the community team, masked unless ?full=1 is
    asked by a role that may export full identifiers; audited as an export."""
    try:
        _require_view(request.user)
        export = page_reads.zone_residents_export(user=request.user, zone_id=zone_id,
                                                  full=request.GET.get("full") == "1", ip_address=_ip(request))
    except DomainError as exc:
        return _error_page(request, exc)
    return xlsx_response(export.file, export.filename, f"zone_residents_{zone_id}.xlsx")


@login_required
@require_GET
def zone_announcements_export(request):
    """Every public text issued for the zones the user sees, with date, code, kind and areas (.xlsx)."""
    try:
        export = page_reads.announcements_export(user=request.user, ip_address=_ip(request))
    except DomainError as exc:
        return _error_page(request, exc)
    return xlsx_response(export.file, export.filename, f"zone_announcements_{clock.today():%Y%m%d}.xlsx")


# ---- the public page ------------------------------------------------------------------------------------------------


@require_GET
def public_zones(request):
    """/public/zones/ (no login): the zones in force by level with their places and the day designated, and the
    latest public texts. No people, no cases."""
    zones = page_reads.public_zones()
    groups = []
    for level in sorted({z.zone.level_now for z in zones}, key=lambda v: -LEVEL_ORDER.get(v, 0)):
        groups.append({"level": level, "label": _lv(level), "zones": [z for z in zones if z.zone.level_now == level]})
    texts = page_reads.announcements(None, limit=20, latest_designation_only=True)
    county = page_reads.county_name()
    context = {"groups": groups, "total": len(zones), "county": county,
               "texts": [{"c": t, "label": _pick(page_reads.TEXT_LABELS[t.kind])} for t in texts],
               "updated": timezone.localtime(clock.now())}
    response = render(request, "web/zones/public.html", context)
    response["Cache-Control"] = "no-cache"
    return response
