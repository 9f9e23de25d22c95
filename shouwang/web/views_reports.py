"""Epidemic analytics page (疫情分析, /reports/epi/): the epidemic curve (community / found in quarantine, by onset or
report date), R_t with its 95% credible interval and the serial interval of the linked pairs. Each chart (ECharts,
drawn from the numbers in a json_script) has a table of the same numbers under it, so the page reads without JS.

A thin view: it parses the query, calls shouwang.reports.selectors and renders. Errors keep both languages and sit
under the field they concern."""

from __future__ import annotations

import datetime as dt
import unicodedata
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.reports import selectors
from shouwang.web.views import _error_page
from shouwang.web.views_testing import _err

FORM_FIELDS = ("start", "end", "si", "mean_si", "std_si")


def _date(query, name: str, errors: dict) -> dt.date | None:
    raw = unicodedata.normalize("NFKC", query.get(name, "")).strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = _err(ValidationFailed(field=name, code="invalid", message_zh="日期格式应为 2022-07-15",
                                             message_en="write the date as 2022-07-15"))
        return None


def _days_number(query, name: str, errors: dict) -> float | None:
    raw = unicodedata.normalize("NFKC", query.get(name, "")).strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if value != value:  # not a number
        errors[name] = _err(ValidationFailed(field=name, code="invalid", message_zh="请填写天数，如 3.0",
                                             message_en="give a number of days, such as 3.0"))
        return None
    return value


def _curve_rows(curve) -> list[dict]:
    return [{"day": c.day, **c.counts.as_dict()} for c in curve.days]


def _chart_day(day: dt.date, years: bool) -> str:
    return day.isoformat() if years else day.strftime("%m-%d")


def _charts(curves: dict, rt_view, si_view) -> dict:
    """The numbers the charts draw, with their labels in the page's language (no R_t when its serial interval was
    mistyped)."""
    any_curve = curves["onset"]
    windows = rt_view.windows if rt_view is not None else []
    years = any_curve.start.year != any_curve.end.year
    return {
        "labels": {"community": gettext("社会面"), "quarantine": gettext("隔离管控中发现"), "mean": gettext("Rt 均值"),
                   "band": gettext("95% 可信区间"), "pairs": gettext("传播对数"), "days": gettext("天"),
                   "cases": gettext("病例数")},
        "curve": {
            "days": [_chart_day(c.day, years) for c in any_curve.days],
            "series": {b: {"community": [c.counts.community for c in curves[b].days],
                           "quarantine": [c.counts.quarantine for c in curves[b].days]} for b in curves},
        },
        "rt": {
            "days": [_chart_day(w.t_end, years) for w in windows],
            "mean": [w.mean for w in windows],
            "low": [w.q025 for w in windows],
            "high": [w.q975 for w in windows],
        },
        "si": {"days": [k for k, _, _ in si_view.rows], "pairs": [n for _, n, _ in si_view.rows]},
    }


@login_required
@require_GET
def epi_page(request):
    """/reports/epi/: the curve, R_t and the serial interval of the jurisdiction; the query may give the range
    (start, end), the curve's basis (onset, report) and the serial interval for R_t (si=parametric with mean_si and
    std_si, default 3.0 / 2.0 days, or si=empirical)."""
    user = request.user
    try:
        require(user, Capability.TRACING_VIEW, "查看疫情分析", "view epidemic analytics")
    except DomainError as exc:
        return _error_page(request, exc)
    query = request.GET
    basis = query.get("basis") if query.get("basis") in selectors.BASES else "onset"
    si = query.get("si") if query.get("si") in selectors.SI_CHOICES else "parametric"
    errors: dict[str, dict] = {}
    start, end = _date(query, "start", errors), _date(query, "end", errors)
    mean_si, std_si = _days_number(query, "mean_si", errors), _days_number(query, "std_si", errors)
    values = {name: query.get(name, "").strip() for name in FORM_FIELDS}
    values["si"] = si
    context = {"values": values, "errors": errors, "basis": basis, "default_mean": selectors.DEFAULT_SI_MEAN,
               "default_sd": selectors.DEFAULT_SI_SD, "min_pairs": selectors.MIN_EMPIRICAL_PAIRS}
    curves = rt_view = si_view = None
    if not ({"start", "end"} & errors.keys()):
        try:
            curves = {b: selectors.epicurve(user, basis=b, start=start, end=end) for b in selectors.BASES}
            si_view = selectors.serial_interval(user)
        except DomainError as exc:
            errors[exc.field if exc.field in FORM_FIELDS else "form"] = _err(exc)
            curves = si_view = None
    if curves is not None and not errors:
        try:
            rt_view = selectors.rt_estimate(user, start=start, end=end, si=si, mean_si=mean_si, std_si=std_si)
        except DomainError as exc:
            errors[exc.field if exc.field in FORM_FIELDS else "form"] = _err(exc)
    if curves is not None:  # the curve and the serial interval do not depend on R_t's serial interval
        values["start"] = values["start"] or curves["onset"].start.isoformat()
        values["end"] = values["end"] or curves["onset"].end.isoformat()
        kept = {k: query.get(k, "").strip() for k in FORM_FIELDS if query.get(k, "").strip() and k != "si"}
        if si != "parametric":
            kept["si"] = si
        context.update({
            "curves": curves, "rows": {b: _curve_rows(curves[b]) for b in curves}, "rt": rt_view, "si": si_view,
            "warnings": [n.message(get_language()) for n in rt_view.warnings] if rt_view else [],
            "basis_links": {b: "?" + urlencode({**kept, "basis": b}) for b in selectors.BASES},
            "charts": _charts(curves, rt_view, si_view),
            "range": curves["onset"],
        })
    if errors:
        return render(request, "web/reports/epi.html", context, status=422)
    return render(request, "web/reports/epi.html", context)
