"""Place codes (场所码): the venue registry and its posters, the resident's own scan, the staff's reverse scan, and
the inspectors' page (查验后台).

Residents never log in. /me/<personal code> or the name and ID form on a venue's page puts their personal code
token in a signed cookie; the venue page then records a scan with one tap (a POST with a CSRF token, so another
site cannot put a visitor at a venue they never entered) and shows the colour.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import uuid
from decimal import Decimal, InvalidOperation

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.enums import AreaLevel
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, PermissionDenied, ValidationFailed
from shouwang.core.masking import mask_mobile, mask_name
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import parse_resident_id
from shouwang.people.models import Person
from shouwang.people.selectors import area_chain, person_get_visible
from shouwang.status.enums import Colour
from shouwang.status.services import status_get
from shouwang.venues import queries
from shouwang.venues.enums import ScanMethod, VenueCategory, VenueStatus
from shouwang.venues.models import Scan, Venue
from shouwang.venues.services import (
    VenueInput,
    person_by_token,
    person_code_get_or_issue,
    scan_record,
    venue_by_token,
    venue_close,
    venue_code_reissue,
    venue_create,
    venue_current_code,
    venue_visible,
)
from shouwang.web.status_display import RECENT_DAYS, status_context
from shouwang.web.views import _error_page, _ip

RESIDENT_COOKIE = "sw_me"
RESIDENT_SALT = "shouwang.resident"
RESIDENT_MAX_AGE = 180 * 24 * 3600
FEVER = Decimal("37.3")  # a temperature the door staff must act on


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _other(exc: DomainError) -> str:
    """The error in the other language: residents and door staff get both."""
    return exc.message_zh if _en() else exc.message_en


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _require_any(user, capabilities, action_zh: str, action_en: str) -> None:
    if not user.is_authenticated or not any(user.can(c) for c in capabilities):
        raise PermissionDenied(action_zh, action_en)


def _require_registry(user) -> None:
    _require_any(user, (Capability.VENUE_MANAGE, Capability.VENUE_INSPECT), "查看场所", "view venues")


def _parse_day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw) if raw else clock.today()
    except ValueError:
        return clock.today()


def scan_url(request, token: str) -> str:
    """What a place code's QR says: http://<host>/s/<token>."""
    return request.build_absolute_uri(reverse("resident_scan", args=[token]))


def _qr(url: str):
    return segno.make(url, error="m", micro=False)


# ---- the registry ---------------------------------------------------------------------------------------------


@login_required
def venue_list(request):
    user = request.user
    try:
        _require_registry(user)
    except DomainError as exc:
        return _error_page(request, exc)
    filters = {"area_id": _int(request.GET.get("area_id")), "category": request.GET.get("category", ""),
               "q": request.GET.get("q", ""), "status": request.GET.get("status", "")}
    if filters["category"] not in VenueCategory.values:
        filters["category"] = ""
    if filters["status"] not in VenueStatus.values:
        filters["status"] = ""
    page = Paginator(queries.venue_search(user, **filters), 50).get_page(request.GET.get("page"))
    venues = list(page.object_list)
    start, end = queries.day_bounds(clock.today())
    counts = queries.scan_counts([v.id for v in venues], start, end)
    grids = queries.grid_names([v.area for v in venues])
    rows = [{"venue": v, "grid": grids[v.area_id], "today": counts.get(v.id, {}).get("total", 0)} for v in venues]
    context = {"filters": filters, "page": page, "rows": rows, "grids": queries.grid_options(user),
               "categories": VenueCategory.choices, "statuses": VenueStatus.choices, "today": clock.today(),
               "can_manage": user.can(Capability.VENUE_MANAGE), "can_inspect": user.can(Capability.VENUE_INSPECT)}
    params = request.GET.copy()
    params.pop("page", None)
    context["query_string"] = params.urlencode()
    return render(request, "web/venues.html", context)


def _venue_form_data(post) -> tuple[VenueInput | None, dict]:
    errors = {}
    coordinates = {}
    for key in ("latitude", "longitude"):
        raw = post.get(key, "").strip()
        coordinates[key] = None
        if raw:
            try:
                value = Decimal(raw)
                if not value.is_finite():
                    raise InvalidOperation
                coordinates[key] = value.quantize(Decimal("0.000001"))
            except InvalidOperation:
                errors[key] = gettext("请填写数字，如 35.968600")
    area_id = _int(post.get("area_id"))
    if area_id is None:
        errors["area_id"] = gettext("请选择所属网格")
    if errors:
        return None, errors
    return VenueInput(name=post.get("name", ""), category=post.get("category", ""), area_id=area_id,
                      address=post.get("address", ""), manager_name=post.get("manager_name", ""),
                      manager_mobile=post.get("manager_mobile", ""), **coordinates), errors


@login_required
def venue_new(request):
    user = request.user
    try:
        require(user, Capability.VENUE_MANAGE, "登记场所", "register venues")
    except DomainError as exc:
        return _error_page(request, exc)
    errors: dict[str, str] = {}
    values = request.POST if request.method == "POST" else {"area_id": request.GET.get("area_id", "")}
    if request.method == "POST":
        data, errors = _venue_form_data(request.POST)
        if data is not None:
            try:
                venue = venue_create(actor=user, data=data)
            except ValidationFailed as exc:
                errors[exc.field or "name"] = exc.message(request.LANGUAGE_CODE)
            except DomainError as exc:
                errors["area_id" if exc.field == "area_id" else "name"] = exc.message(request.LANGUAGE_CODE)
            else:
                messages.success(request, gettext("已登记场所并发放场所码，请打印海报张贴在入口"))
                return redirect("venue", venue_id=venue.id)
    areas = queries.venue_area_options(user)
    names = queries.grid_names(areas)
    options = [{"id": a.id, "label": names[a.id] if a.level != AreaLevel.COMPOUND else f"{names[a.id]} › {a.name}"}
               for a in areas]
    return render(request, "web/venue_form.html", {"values": values, "errors": errors, "areas": options,
                                                   "categories": VenueCategory.choices},
                  status=422 if errors else 200)


def _visible_venue(request, venue_id: int) -> Venue:
    _require_registry(request.user)
    return venue_visible(user=request.user, venue_id=venue_id)


@login_required
def venue_detail(request, venue_id: int):
    try:
        venue = _visible_venue(request, venue_id)
    except DomainError as exc:
        return _error_page(request, exc)
    code = venue.codes.filter(revoked_at__isnull=True).order_by("-id").first()
    url = scan_url(request, code.token) if code else ""
    return render(request, "web/venue.html", {
        "venue": venue, "code": code, "codes": list(venue.codes.order_by("-id")[:10]), "chain": area_chain(venue.area),
        "url": url, "qr": _qr(url).svg_inline(scale=4, omitsize=True) if code else "",
        "days": queries.venue_days(venue.id, clock.today()), "today": clock.today(),
        "can_manage": request.user.can(Capability.VENUE_MANAGE), "active": venue.status == VenueStatus.ACTIVE,
        "manager_mobile": venue.manager_mobile if request.user.can(Capability.VENUE_MANAGE)
        else mask_mobile(venue.manager_mobile),
    })


def _printable(request, venue_id: int) -> tuple[Venue, str]:
    venue = _visible_venue(request, venue_id)
    if venue.status != VenueStatus.ACTIVE:
        raise DomainError(code="venue_closed", status=409, field="venue_id", message_zh="该场所已关闭，不再打印场所码",
                          message_en="this venue is closed; its code is no longer printed")
    return venue, venue_current_code(venue).token


@login_required
def venue_poster(request, venue_id: int):
    try:
        venue, token = _printable(request, venue_id)
    except DomainError as exc:
        return _error_page(request, exc)
    url = scan_url(request, token)
    chain = area_chain(venue.area)
    county = next((a for a in chain if a.level == AreaLevel.COUNTY), None)
    code = venue.codes.filter(token=token).first()
    return render(request, "web/venue_poster.html", {
        "venue": venue, "url": url, "qr": _qr(url).svg_inline(scale=10, border=2, omitsize=True),
        "county": county.name if county else "", "issued": timezone.localtime(code.issued_at) if code else None,
        "place": " ".join(a.name for a in chain if a.level not in (AreaLevel.PROVINCE, AreaLevel.CITY)),
        "long_name": len(venue.name) > 12,
    })


@login_required
def venue_qr(request, venue_id: int, kind: str):
    try:
        venue, token = _printable(request, venue_id)
    except DomainError as exc:
        return _error_page(request, exc)
    buffer = io.BytesIO()
    if kind == "pdf":
        _qr(scan_url(request, token)).save(buffer, kind="pdf", scale=12, border=4)
        content_type = "application/pdf"
    else:
        _qr(scan_url(request, token)).save(buffer, kind="png", scale=16, border=4)
        content_type = "image/png"
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"场所码-{venue.name}.{kind}")
    return response


@login_required
@require_POST
def venue_reissue_view(request, venue_id: int):
    try:
        venue_code_reissue(actor=request.user, venue_id=venue_id)
    except DomainError as exc:
        return _error_page(request, exc)
    messages.success(request, gettext("已重新发码，旧码立即作废。请打印新海报替换入口张贴的旧码。"))
    return redirect("venue", venue_id=venue_id)


@login_required
@require_POST
def venue_close_view(request, venue_id: int):
    try:
        venue_close(actor=request.user, venue_id=venue_id)
    except DomainError as exc:
        return _error_page(request, exc)
    messages.success(request, gettext("场所已关闭，其场所码不再接受扫码"))
    return redirect("venue", venue_id=venue_id)


# ---- inspection -------------------------------------------------------------------------------------------------


@login_required
def venue_inspect(request):
    user = request.user
    try:
        require(user, Capability.VENUE_INSPECT, "查看场所扫码情况", "inspect venue scans")
    except DomainError as exc:
        return _error_page(request, exc)
    day = _parse_day(request.GET.get("day", ""))
    area_id = _int(request.GET.get("area_id"))
    scope = list(queries.areas_in(user).filter(level__in=(AreaLevel.TOWNSHIP, AreaLevel.VILLAGE)))
    report = queries.inspection(user, day=day, area_id=area_id)
    categories = dict(VenueCategory.choices)
    gaps = [{"grid": g.grid, "zombies": g.zombies, "closed": g.closed, "no_code": g.no_code,
             "missing": [gettext("或").join(str(categories[c]) for c in alts) for alts in g.missing]}
            for g in report.gaps]
    gap_totals = {"zombies": sum(len(g.zombies) + len(g.no_code) for g in report.gaps),
                  "closed": sum(len(g.closed) for g in report.gaps), "missing": sum(len(g.missing) for g in report.gaps)}
    peak = max((max(b["hours"]) for b in report.busiest), default=0)
    chart = {"hours": [f"{h:02d}" for h in report.hours],
             "series": [{"key": c, "name": str(Colour(c).label), "data": [report.by_hour[c][h] for h in report.hours]}
                        for c in ("green", "yellow", "red")]}
    return render(request, "web/venue_inspect.html", {
        "report": report, "day": day, "area_id": area_id, "areas": scope, "gaps": gaps, "gap_totals": gap_totals,
        "chart": chart,
        "peak": peak, "silent_shown": report.silent[:200], "zombie_days": queries.ZOMBIE_DAYS,
        "alert_count": queries.ALERT_COUNT, "alert_share": int(queries.ALERT_SHARE * 100),
        "today": clock.today(),
    })


# ---- staff reverse scan ---------------------------------------------------------------------------------------

_TOKEN_IN_URL = re.compile(r"/me/([A-Za-z0-9_-]+)/?$")


def person_token_from(raw: str) -> str:
    """A personal code as typed or read by a scanner: the token itself or the /me/<token> address of its QR."""
    raw = (raw or "").strip()
    found = _TOKEN_IN_URL.search(raw)
    return found.group(1) if found else raw


@login_required
def staff_scan(request):
    user = request.user
    try:
        require(user, Capability.SCAN_RECORD, "代扫码", "record scans for others")
    except DomainError as exc:
        return _error_page(request, exc)
    venue = None
    venue_id = _int(request.POST.get("venue_id") if request.method == "POST" else request.GET.get("venue"))
    if venue_id is None and "pick" not in request.GET:
        venue_id = _int(request.session.get("scan_venue_id"))
    if venue_id is not None:
        venue = queries.venues_in(user).filter(id=venue_id, status=VenueStatus.ACTIVE).select_related("area").first()
    context: dict = {"venue": venue}
    if venue is None:
        q = request.GET.get("q", "").strip()
        found = queries.venue_search(user, q=q, status=VenueStatus.ACTIVE)
        context.update(q=q, choices=list(found[:40]), more=max(found.count() - 40, 0))
        return render(request, "web/staff_scan.html", context)
    request.session["scan_venue_id"] = venue.id
    if request.method == "POST":
        raw = request.POST.get("person_code", "")
        temperature = request.POST.get("temperature", "").strip()
        try:
            if not raw.strip():
                raise ValidationFailed(field="person_code", code="required", message_zh="请扫描或输入个人码",
                                       message_en="scan or type a personal code")
            person = person_by_token(person_token_from(raw))
            result = scan_record(venue_token=venue_current_code(venue).token, person=person,
                                 method=ScanMethod.REVERSE, actor=user, temperature=temperature or None,
                                 client_ref=request.POST.get("client_ref", "")[:64])
        except DomainError as exc:
            context.update(error=exc.message(request.LANGUAGE_CODE),
                           error_other=_other(exc), person_code=raw,
                           temperature=temperature)
        else:
            scan = result.scan
            context["result"] = {"scan": scan, "name": mask_name(person.name), "duplicate": result.duplicate,
                                 "status": status_context(result.status),
                                 "fever": scan.temperature is not None and scan.temperature >= FEVER}
    context["client_ref"] = uuid.uuid4().hex
    return render(request, "web/staff_scan.html", context)


# ---- residents ------------------------------------------------------------------------------------------------


def resident_person(request) -> Person | None:
    """The resident this phone belongs to (the signed cookie's personal code), or None."""
    token = request.get_signed_cookie(RESIDENT_COOKIE, default=None, salt=RESIDENT_SALT, max_age=RESIDENT_MAX_AGE)
    if not token:
        return None
    try:
        return person_by_token(token)
    except DomainError:
        return None


def _remember(response, token: str) -> None:
    response.set_signed_cookie(RESIDENT_COOKIE, token, salt=RESIDENT_SALT, max_age=RESIDENT_MAX_AGE, httponly=True,
                               samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)


def _resident_error(request, exc: DomainError, **extra):
    other = _other(exc)
    return render(request, "web/resident_error.html", {"error": exc, "message": exc.message(request.LANGUAGE_CODE),
                                                       "other": other, **extra}, status=exc.status)


def _identify(name: str, number: str) -> Person:
    """The person with this name and document number (exactly one active file), or a bilingual error."""
    name = re.sub(r"\s+", "", name or "")
    number = re.sub(r"\s+", "", number or "").upper()
    if not name or not number:
        raise ValidationFailed(field="name" if not name else "id_number", code="required",
                               message_zh="请填写姓名和证件号码", message_en="enter your name and document number")
    if re.fullmatch(r"\d{17}[\dX]", number):
        parse_resident_id(number, field="id_number")  # a typo in the check digit gets its own message
    person = Person.objects.active().filter(id_number=number, name=name).first()
    if person is None:
        raise ValidationFailed(field="id_number", code="no_match",
                               message_zh="姓名与证件号码不匹配，或未在本县登记。请核对后重试，或向门口工作人员出示个人码登记。",
                               message_en="The name and document number do not match a registered resident. Check them "
                                          "and try again, or ask the staff at the door to scan your personal code.")
    return person


def resident_scan(request, token: str):
    """/s/<venue token>: the page a place code's QR opens on a resident's phone."""
    try:
        venue = venue_by_token(token)
    except DomainError as exc:
        return _resident_error(request, exc)
    person = resident_person(request)
    context = {"venue": venue, "token": token, "person": person, "client_ref": secrets.token_urlsafe(16),
               "masked": mask_name(person.name) if person else "", "values": {}}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "identify":
                person = _identify(request.POST.get("name", ""), request.POST.get("id_number", ""))
            elif person is None:
                raise ValidationFailed(field="name", code="not_identified", message_zh="请先填写姓名和证件号码",
                                       message_en="enter your name and document number first")
            # The page's own reference: a double tap, or the browser re-sending the form, records one check-in.
            result = scan_record(venue_token=token, person=person, method=ScanMethod.SELF,
                                 client_ref=request.POST.get("client_ref", "")[:64])
        except DomainError as exc:
            if exc.code in ("unknown_venue_code", "revoked_venue_code", "venue_closed"):
                return _resident_error(request, exc)
            context.update(error=exc.message(request.LANGUAGE_CODE), error_other=_other(exc),
                           values={"name": request.POST.get("name", ""), "id_number": request.POST.get("id_number", "")})
            return render(request, "web/resident_scan.html", context, status=exc.status)
        response = redirect("resident_scan_done", token=token, scan_id=result.scan.id)
        _remember(response, person_code_get_or_issue(person).token)
        return response
    return render(request, "web/resident_scan.html", context)


def resident_scan_done(request, token: str, scan_id: int):
    """The colour after a scan: only on the phone that made it."""
    person = resident_person(request)
    scan = (Scan.objects.filter(id=scan_id, person=person).select_related("venue").first()
            if person is not None else None)
    if scan is None:
        return redirect("resident_scan", token=token)
    return render(request, "web/resident_status.html", {
        "person": person, "masked": mask_name(person.name), "scan": scan, "venue": scan.venue,
        "status": status_context(status_get(person.id)), "token": token,
    })


def resident_me(request, token: str | None = None):
    """/me/<personal code>: my code (for staff to scan) and my status; opening it identifies this phone."""
    if token is None:
        person = resident_person(request)
        if person is None:
            return render(request, "web/resident_me.html", {"person": None})
        token = person_code_get_or_issue(person).token
        return redirect("resident_me", token=token)
    try:
        person = person_by_token(token)
    except DomainError as exc:
        return _resident_error(request, exc)
    url = request.build_absolute_uri(reverse("resident_me", args=[token]))
    since, _ = queries.day_bounds(clock.today() - dt.timedelta(days=RECENT_DAYS - 1))
    response = render(request, "web/resident_me.html", {
        "person": person, "masked": mask_name(person.name), "token": token,
        "qr": _qr(url).svg_inline(scale=6, border=2, omitsize=True),
        "status": status_context(status_get(person.id)), "scans": queries.person_scans(person.id, since, limit=10),
    })
    _remember(response, token)
    return response


@require_POST
def resident_forget(request):
    response = redirect("resident_me_home")
    response.delete_cookie(RESIDENT_COOKIE, samesite="Lax")
    return response


# ---- a person's code card, for staff ------------------------------------------------------------------------------


@login_required
def person_code_card(request, person_id: int):
    """A printable card with a person's own code, for people without a phone (staff scan it at the door)."""
    try:
        require(request.user, Capability.SCAN_RECORD, "打印个人码", "print personal codes")
        person = person_get_visible(user=request.user, person_id=person_id)
    except DomainError as exc:
        return _error_page(request, exc)
    token = person_code_get_or_issue(person).token
    audit_record(actor=request.user, action=AuditAction.VIEW, obj=person, summary=f"打印个人码 {person.name}",
                 ip_address=_ip(request))
    url = request.build_absolute_uri(reverse("resident_me", args=[token]))
    return render(request, "web/person_code.html", {
        "person": person, "masked": mask_name(person.name), "token": token,
        "qr": _qr(url).svg_inline(scale=8, border=2, omitsize=True),
    })

