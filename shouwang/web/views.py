"""Pages: thin views that parse, call one selector or service, and render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shouwang.accounts.enums import COMMAND_ROLES, Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.selectors import area_children_with_counts, grid_names
from shouwang.core import clock
from shouwang.core.audit_selectors import AuditFilter
from shouwang.core.audit_selectors import audit_search as audit_query
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditAction
from shouwang.people.enums import PersonTag
from shouwang.people.models import Person
from shouwang.people.selectors import (
    PersonFilter,
    area_chain,
    people_visible_to,
    people_with_tags,
    person_duplicates,
    person_row,
    person_search,
    person_tags,
)
from shouwang.people.services import person_file_open, person_merge
from shouwang.policy.api import area_codes
from shouwang.policy.rules.zones import LEVEL_NAMES
from shouwang.policy.selectors import ruleset_in_force
from shouwang.status.enums import Colour
from shouwang.status.services import status_get
from shouwang.venues.queries import day_bounds, person_scans
from shouwang.web.status_display import RECENT_DAYS, status_context
from shouwang.zones.selectors import county_status

# Groups a grid worker checks on first (door-to-door services, 敲门行动).
CARE_TAGS = [PersonTag.ELDERLY_ALONE, PersonTag.BEDRIDDEN, PersonTag.DISABLED, PersonTag.PREGNANT,
             PersonTag.SERIOUSLY_ILL]
GRID_LEVELS = (AreaLevel.GRID, AreaLevel.MICRO_GRID)
# What the audit log's object types are called on the page.
OBJECT_TYPE_LABELS = {
    "people.person": pgettext_lazy("audit object", "人员档案"),
    "people.import": _("导入批次"),
    "accounts.user": _("账号"),
    "accounts.devicetoken": _("设备令牌"),
    "areas.area": _("区域"),
    "areas.household": _("户"),
}


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _error_page(request, exc: DomainError):
    return render(request, "web/error.html", {"error": exc, "message": exc.message(request.LANGUAGE_CODE)},
                  status=exc.status)


def _crumbs(user, chain: list[Area]) -> list[dict]:
    """The breadcrumb: areas above the user's jurisdiction as plain text (their pages answer "not found")."""
    top = jurisdiction_path(user)
    return [{"area": a, "link": a.path.startswith(top)} for a in chain]


def healthz(request):
    return JsonResponse({"ok": True})


@login_required
def home(request):
    user = request.user
    area = user.jurisdiction
    context = {"area": area, "is_command": user.role in COMMAND_ROLES}
    try:
        context["policy"] = ruleset_in_force(clock.today(), area_codes(user))
    except DomainError:
        context["policy"] = None
    if area is not None:
        context["chain"] = area_chain(area)
        context["crumbs"] = _crumbs(user, context["chain"])
        context["children"] = area_children_with_counts(area=area, person_model=Person)
        if user.can(Capability.PERSON_VIEW):
            visible = people_visible_to(user)
            context["people_count"] = visible.count()
            context["vulnerable_count"] = visible.filter(tags__tag__in=CARE_TAGS).distinct().count()
            if user.role not in COMMAND_ROLES:
                context["care_people"] = people_with_tags(user=user, tags=CARE_TAGS, limit=15)
                context["tag_labels"] = dict(PersonTag.choices)
        if user.can(Capability.ZONE_VIEW):
            context.update(_county_status(user, context["policy"]))
    return render(request, "web/home.html", context)


def _county_status(user, policy) -> dict:
    """The status block: days since the last community case, 社会面清零 with its rule, the zones in force by level
    (the levels the policy in force designates, then any other level a zone still has) and routine management."""
    status = county_status(user)
    levels = [k for k, spec in policy.zones.items() if spec.steps] if policy is not None else []
    levels += sorted((k for k in status.zones if k not in levels), key=lambda k: k != "high")
    return {"county_status": status, "zones_in_force": sum(status.zones.values()),
            "zone_levels": [{"level": k, "zh": LEVEL_NAMES[k][0], "en": LEVEL_NAMES[k][1],
                             "count": status.zones.get(k, 0)} for k in levels]}


@login_required
def area_browser(request, area_id: int | None = None):
    try:
        area = area_visible(user=request.user, area_id=area_id) if area_id else request.user.jurisdiction
    except DomainError as exc:
        return _error_page(request, exc)
    if area is None:
        return render(request, "web/areas.html", {"area": None})
    chain = area_chain(area)
    return render(request, "web/areas.html", {
        "area": area, "chain": chain, "crumbs": _crumbs(request.user, chain),
        "children": area_children_with_counts(area=area, person_model=Person),
        "workers": list(area.workers.all()[:50]),
    })


@login_required
def area_children_partial(request, area_id: int):
    try:
        area = area_visible(user=request.user, area_id=area_id)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/_area_children.html", {
        "area": area, "children": area_children_with_counts(area=area, person_model=Person)})


@login_required
def people_search(request):
    filters = PersonFilter(q=request.GET.get("q", ""), tag=request.GET.get("tag", ""),
                           address=request.GET.get("address", ""),
                           area_id=int(request.GET["area_id"]) if request.GET.get("area_id", "").isdigit() else None)
    try:
        qs = person_search(user=request.user, filters=filters)
    except DomainError as exc:
        return _error_page(request, exc)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    people = list(page.object_list)
    grids = grid_names([p.area for p in people])
    context = {
        "filters": filters, "page": page,
        "rows": [{**person_row(p, full=False), "grid_name": grids[p.area_id] or p.area.name} for p in people],
        "tags": PersonTag.choices, "can_export": request.user.can(Capability.PERSON_EXPORT),
        "query_string": request.GET.urlencode(),
    }
    template = "web/_people_results.html" if request.headers.get("HX-Request") else "web/people.html"
    return render(request, template, context)


@login_required
def person_file(request, person_id: int):
    full = request.GET.get("full") == "1"
    try:
        person = person_file_open(person_id=person_id, actor=request.user, full=full, ip_address=_ip(request))
    except DomainError as exc:
        return _error_page(request, exc)
    chain = area_chain(person.area)
    since, _ = day_bounds(clock.today() - dt.timedelta(days=RECENT_DAYS - 1))
    return render(request, "web/person.html", {
        "person": person, "row": person_row(person, full=person.show_full), "tags": person_tags(person),
        "tag_labels": dict(PersonTag.choices), "chain": chain, "crumbs": _crumbs(request.user, chain),
        "household_members": list(person.household.members.filter(merged_into__isnull=True).exclude(id=person.id))
        if person.household_id else [],
        "duplicates": [person_row(p, full=False) for p in person_duplicates(user=request.user, person=person)],
        "can_view_full": request.user.can(Capability.PERSON_VIEW_FULL),
        "can_merge": request.user.can(Capability.PERSON_MERGE),
        "history": list(person.history.all()[:20]),
        "status": status_context(status_get(person.id)), "scans": person_scans(person.id, since),
        "recent_days": RECENT_DAYS, "can_print_code": request.user.can(Capability.SCAN_RECORD),
        "colour_labels": dict(Colour.choices),
    })


@login_required
@require_POST
def person_merge_view(request, person_id: int):
    try:
        merge_id = int(request.POST.get("merge_id", "0"))
        person_merge(keep_id=person_id, merge_id=merge_id, actor=request.user, ip_address=_ip(request))
    except (ValueError, DomainError) as exc:
        if isinstance(exc, DomainError):
            return _error_page(request, exc)
        return HttpResponse(status=400)
    messages.success(request, gettext("已合并重复档案"))
    return redirect("person", person_id=person_id)


@login_required
def audit_search(request):
    try:
        require(request.user, Capability.AUDIT_VIEW, "查询审计日志", "search the audit log")
    except DomainError as exc:
        return _error_page(request, exc)
    filters = AuditFilter(actor=request.GET.get("actor", ""), action=request.GET.get("action", ""),
                          object_type=request.GET.get("object_type", ""), object_id=request.GET.get("object_id", ""),
                          date_from=request.GET.get("date_from", ""), date_to=request.GET.get("date_to", ""))
    page = Paginator(audit_query(user=request.user, filters=filters), 50).get_page(request.GET.get("page"))
    return render(request, "web/audit.html", {"filters": filters, "page": page, "actions": AuditAction.choices,
                                               "object_types": OBJECT_TYPE_LABELS,
                                               "jurisdiction_path": jurisdiction_path(request.user)})
