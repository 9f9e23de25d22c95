"""Daily monitoring pages (健康监测), for the site manager and the site doctor on a phone: a site's day sheet (or the
home stays' sheet) with the day's counts on top and one card per person, whose temperatures are entered in the card
over htmx; a person's entry form for the day (temperatures, symptoms, disinfection, the daily report, with the test
due that day and its result); the open alerts with their handling; the needs with their states.

Thin views over shouwang.quarantine.monitoring: they parse the form, call one write or read, and render. Errors keep
both languages and are shown under the field they concern; ID numbers are masked; showing the sheet or a person's
entry form is logged in the audit log."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.masking import mask_id_number
from shouwang.core.models import AuditAction
from shouwang.quarantine import monitoring
from shouwang.quarantine.enums import (
    FEVER_AT,
    OPEN_STAY_STATES,
    AlertKind,
    NeedKind,
    NeedState,
    StayState,
    Symptom,
)
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_testing import _err, _hx, _int, _label

OUTCOMES = {"negative": gettext_lazy("阴性"), "positive": gettext_lazy("阳性"), "pending": gettext_lazy("待出结果"),
            "missing": gettext_lazy("未采样")}
MISSING = {"am": gettext_lazy("缺上午体温"), "pm": gettext_lazy("缺下午体温"), "report": gettext_lazy("缺日报")}
TEST_KINDS = {"pcr": gettext_lazy("核酸"), "antigen": gettext_lazy("抗原")}
CHECK_FIELDS = {"temp_am": "temp_am", "temp_pm": "temp_pm", "symptoms": "symptoms", "symptom_note": "symptom_note",
                "note": "note", "day": "day"}
NEED_FIELDS = {"kind": "kind", "detail": "detail", "state": "state", "resolution": "resolution"}


def _require_view(user) -> None:
    require(user, Capability.QUARANTINE_VIEW, "查看健康监测", "view daily monitoring")


def _day(raw: str | None) -> dt.date:
    value = (raw or "").strip()
    if not value:
        return clock.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(field="day", code="invalid", message_zh="请填写日期，如 2022-07-15",
                               message_en="enter a date, e.g. 2022-07-15") from None


def _sheet_url(stay_site_id: int | None, day: dt.date) -> str:
    url = reverse("quarantine_day", args=[stay_site_id]) if stay_site_id else reverse("quarantine_home_day")
    return f"{url}?day={day.isoformat()}"


def _row(r: monitoring.SheetRow) -> dict:
    """A sheet row with its labels for the card."""
    return {"r": r, "symptoms": [_label(Symptom, s) for s in r.symptoms],
            "missing": [MISSING[s] for s in r.missing],
            "test_kind": TEST_KINDS.get(r.test["kind"], r.test["kind"]) if r.test else "",
            "outcome": OUTCOMES.get(r.test_outcome, r.test_outcome),
            "alerts": [_label(AlertKind, a.kind) for a in r.alerts],
            "hot_am": r.temp_am is not None and r.temp_am >= monitoring.FEVER,
            "hot_pm": r.temp_pm is not None and r.temp_pm >= monitoring.FEVER}


# ---- the day sheet ------------------------------------------------------------------------------------------------


@login_required
def day_page(request, site_id: int | None = None):
    """/quarantine/sites/<id>/day/?day= (a site's people by room) and /quarantine/home/day/ (the home stays of the
    jurisdiction by address): the day's counts, then one card per person."""
    user = request.user
    try:
        _require_view(user)
        day = _day(request.GET.get("day"))
        site = monitoring.site_of(user, site_id) if site_id is not None else None
        rows = monitoring.day_sheet(user, site_id=site_id, day=day)
    except DomainError as exc:
        return _error_page(request, exc)
    audit_record(actor=user, action=AuditAction.VIEW, obj=site, object_type="" if site else "quarantine.stay",
                 row_count=len(rows), ip_address=_ip(request),
                 summary=f"查看健康监测日表 {site.name if site else '居家'} {day}（{len(rows)}人）")
    today = clock.today()
    return render(request, "web/quarantine/monitoring_day.html", {
        "site": site, "day": day, "today": today, "rows": [_row(r) for r in rows],
        "summary": monitoring.summarize(rows), "prev_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1) if day < today else None, "is_today": day == today,
        "can_record": user.can(Capability.MONITOR_RECORD), "fever_at": FEVER_AT, "here": "day"})


# ---- a person's entry of the day --------------------------------------------------------------------------------


def _check_context(request, stay, day: dt.date, **extra) -> dict:
    check = monitoring.check_of(stay, day)
    test, outcome = monitoring.test_outcome(stay, day)
    values = {"temp_am": check.temp_am if check and check.temp_am is not None else "",
              "temp_pm": check.temp_pm if check and check.temp_pm is not None else "",
              "symptoms": check.symptoms if check else [], "symptom_note": check.symptom_note if check else "",
              "disinfected": {True: "yes", False: "no"}.get(check.disinfected if check else None, ""),
              "reported": bool(check and check.reported), "note": check.note if check else ""}
    alerts = [{"a": a, "kind": _label(AlertKind, a.kind)} for a in stay.alerts.filter(day=day).order_by("id")]
    return {"stay": stay, "day": day, "check": check, "test": test, "outcome": outcome,
            "outcome_label": OUTCOMES.get(outcome, outcome), "test_kind": TEST_KINDS.get(test["kind"], "") if test
            else "", "day_no": (day - stay.starts_on).days + 1, "id_number": mask_id_number(stay.person.id_number),
            "place": f"{stay.site.name} {stay.room.number}" if stay.room_id else stay.home_address,
            "symptom_choices": Symptom.choices, "values": values, "errors": {}, "alerts": alerts,
            "back": _sheet_url(stay.site_id, day),
            "can_record": request.user.can(Capability.MONITOR_RECORD) and stay.state == StayState.ACTIVE
            and day <= clock.today(),
            "fever_at": FEVER_AT, **extra}


def _form_values(post) -> dict:
    """The form's fields for check_record. The full form sends them all (its marker `full`); the card's quick form
    only the temperatures, leaving the rest as it is."""
    full = post.get("full") == "1"
    return {"temp_am": post.get("temp_am", "") or None, "temp_pm": post.get("temp_pm", "") or None,
            "symptoms": post.getlist("symptoms") if full else None,
            "symptom_note": post.get("symptom_note", "") if full else "",
            "disinfected": {"yes": True, "no": False}.get(post.get("disinfected", "")) if full else None,
            "reported": (post.get("reported") == "1") if full else None, "note": post.get("note", "") if full else ""}


def _card(request, user, stay, day: dt.date, *, error=None, just: bool = False):
    row = monitoring.sheet_row(user, stay.id, day)
    if row is None:  # no longer on the sheet (released meanwhile ...)
        return _error_page(request, NotFound("隔离管控记录", "stay", field="stay_id"))
    context = {"x": {**_row(row), "error": _err(error) if error else None, "just": just,
                     "typed": request.POST if error else None},
               "day": day, "can_record": user.can(Capability.MONITOR_RECORD), "is_today": day == clock.today()}
    return render(request, "web/quarantine/monitoring_card.html", context)


@login_required
def check_page(request, stay_id: int):
    """/quarantine/stays/<id>/check/?day=: the person's entry of the day. POST saves it (check_record) and goes back
    to the sheet; from a card (htmx), the card is swapped with its new values."""
    user = request.user
    try:
        _require_view(user)
        stay = monitoring.stay_for_check(user, stay_id)
        day = _day(request.POST.get("day") if request.method == "POST" else request.GET.get("day"))
    except DomainError as exc:
        return _error_page(request, exc)
    if request.method != "POST":
        audit_record(actor=user, action=AuditAction.VIEW, obj=stay, ip_address=_ip(request),
                     summary=f"查看健康监测 {stay.person.name} {day}")
        return render(request, "web/quarantine/monitoring_check.html", _check_context(request, stay, day))
    card = _hx(request) and request.POST.get("card") == "1"
    try:
        check = monitoring.check_record(actor=user, stay_id=stay.id, day=day, **_form_values(request.POST))
    except DomainError as exc:
        if exc.status == 403 or (exc.status == 404 and exc.field == "stay_id"):
            return _error_page(request, exc)
        if card:  # htmx swaps only 2xx: the error is in the card
            return _card(request, user, stay, day, error=exc)
        field = CHECK_FIELDS.get(exc.field or "", "form")
        values = {**_check_context(request, stay, day)["values"], **request.POST.dict(),
                  "symptoms": request.POST.getlist("symptoms"), "reported": request.POST.get("reported") == "1"}
        return render(request, "web/quarantine/monitoring_check.html",
                      _check_context(request, stay, day, errors={field: _err(exc)}, values=values),
                      status=exc.status)
    if card:
        return _card(request, user, stay, day, just=True)
    messages.success(request, gettext("已保存 %(name)s %(day)s 的健康监测") % {"name": stay.person.name,
                                                                        "day": day.strftime("%m-%d")})
    return redirect(_sheet_url(stay.site_id, day) + f"#stay-{check.stay_id}")


# ---- alerts -------------------------------------------------------------------------------------------------------


def _alert_row(a, **extra) -> dict:
    stay = a.stay
    place = f"{a.site.name} {stay.room.number}" if a.site_id and stay.room_id else (
        a.site.name if a.site_id else stay.home_address)
    return {"a": a, "kind": _label(AlertKind, a.kind), "name": stay.person.name, "place": place,
            "id_number": mask_id_number(stay.person.id_number), "error": None, "just": False, "outcome": "",
            **extra}


def _site_filter(request, user):
    site_id = _int(request.GET.get("site"))
    return site_id, monitoring.sites_of(user)


@login_required
def alerts_page(request):
    """/quarantine/alerts/?site=: the open alerts (fever first), each with its handling form."""
    user = request.user
    try:
        _require_view(user)
        site_id, sites = _site_filter(request, user)
        home = request.GET.get("site") == "home"
        alerts = monitoring.alerts_open(user, site_id=site_id, home=home)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/quarantine/alerts.html", {
        "rows": [_alert_row(a) for a in alerts], "sites": sites, "site_id": site_id, "home": home,
        "can_record": user.can(Capability.MONITOR_RECORD), "here": "alerts"})


@login_required
@require_POST
def alert_handle_view(request, alert_id: int):
    """Handle one alert with its outcome (alert_handle); htmx swaps the alert's card."""
    user = request.user
    outcome = request.POST.get("outcome", "")
    try:
        _require_view(user)
        alert = monitoring.alert_handle(actor=user, alert_id=alert_id, outcome=outcome)
    except DomainError as exc:
        if exc.status in (403, 404):
            return _error_page(request, exc)
        alert = monitoring.alert_of(user, alert_id)
        row = _alert_row(alert, error=_err(exc), outcome=outcome)
        if _hx(request):
            return render(request, "web/quarantine/alerts_card.html", {"x": row, "can_record": True})
        return render(request, "web/quarantine/alerts.html", {
            "rows": [row], "sites": monitoring.sites_of(user), "site_id": None, "home": False,
            "can_record": True, "here": "alerts"}, status=exc.status)
    if _hx(request):
        return render(request, "web/quarantine/alerts_card.html", {"x": _alert_row(alert, just=True),
                                                                   "can_record": True})
    messages.success(request, gettext("已处置：%(name)s %(kind)s") % {"name": alert.stay.person.name,
                                                                 "kind": _label(AlertKind, alert.kind)})
    return redirect("quarantine_alerts")


# ---- needs --------------------------------------------------------------------------------------------------------


def _need_row(n, **extra) -> dict:
    stay = n.stay
    place = f"{stay.site.name} {stay.room.number}" if stay.site_id and stay.room_id else stay.home_address
    order = list(monitoring.NEED_ORDER)
    return {"n": n, "kind": _label(NeedKind, n.kind), "state": _label(NeedState, n.state), "name": stay.person.name,
            "place": place, "error": None, "just": False, "typed": {},
            "next": [(s, _label(NeedState, s)) for s in order[order.index(n.state) + 1:]], **extra}


def _needs_context(request, user, **extra) -> dict:
    site_id, sites = _site_filter(request, user)
    state = request.GET.get("state", "")
    state = state if state in NeedState.values else ""
    stay = None
    stay_id = _int(request.GET.get("stay") or request.POST.get("stay_id"))
    if stay_id:
        stay = monitoring.stay_for_check(user, stay_id)
    needs = monitoring.needs_list(user, state=state or None, site_id=site_id, stay_id=stay.id if stay else None)
    return {"rows": [_need_row(n) for n in needs], "sites": sites, "site_id": site_id, "state": state,
            "state_choices": NeedState.choices, "kind_choices": NeedKind.choices, "stay": stay,
            "stay_open": bool(stay and stay.state in OPEN_STAY_STATES),
            "stay_place": (f"{stay.site.name} {stay.room.number}" if stay.room_id else stay.home_address) if stay
            else "", "stay_id_number": mask_id_number(stay.person.id_number) if stay else "",
            "can_record": user.can(Capability.MONITOR_RECORD), "errors": {}, "values": {}, "here": "needs", **extra}


@login_required
def needs_page(request):
    """/quarantine/needs/?state=&site=&stay=: the needs, open first; with ?stay= one person's, and the form to add
    one (POST: need_add)."""
    user = request.user
    try:
        _require_view(user)
        context = _needs_context(request, user)
    except DomainError as exc:
        return _error_page(request, exc)
    if request.method != "POST":
        return render(request, "web/quarantine/needs.html", context)
    stay = context["stay"]
    try:
        if stay is None:
            raise ValidationFailed(field="stay_id", code="required", message_zh="请先选择人员",
                                   message_en="choose the person first")
        need = monitoring.need_add(actor=user, stay_id=stay.id, kind=request.POST.get("kind", ""),
                                   detail=request.POST.get("detail", ""))
    except DomainError as exc:
        if exc.status == 403:
            return _error_page(request, exc)
        context.update(errors={NEED_FIELDS.get(exc.field or "", "form"): _err(exc)}, values=request.POST)
        return render(request, "web/quarantine/needs.html", context, status=exc.status)
    messages.success(request, gettext("已登记诉求：%(name)s %(kind)s") % {"name": stay.person.name,
                                                                  "kind": _label(NeedKind, need.kind)})
    return redirect(reverse("quarantine_needs") + f"?stay={stay.id}")


@login_required
@require_POST
def need_update_view(request, need_id: int):
    """A need's next state (need_update), with the resolution when resolved; htmx swaps the need's card."""
    user = request.user
    state, resolution = request.POST.get("state", ""), request.POST.get("resolution", "")
    try:
        _require_view(user)
        need = monitoring.need_update(actor=user, need_id=need_id, state=state, resolution=resolution)
    except DomainError as exc:
        if exc.status in (403, 404):
            return _error_page(request, exc)
        row = _need_row(monitoring.need_of(user, need_id), error=_err(exc), typed=request.POST)
        if _hx(request):
            return render(request, "web/quarantine/needs_card.html", {"x": row, "can_record": True})
        return render(request, "web/quarantine/needs.html", {
            **_needs_context(request, user), "rows": [row]}, status=exc.status)
    if _hx(request):
        return render(request, "web/quarantine/needs_card.html", {"x": _need_row(need, just=True),
                                                                  "can_record": True})
    messages.success(request, gettext("%(name)s 的诉求：%(state)s") % {"name": need.stay.person.name,
                                                                  "state": _label(NeedState, need.state)})
    return redirect("quarantine_needs")
