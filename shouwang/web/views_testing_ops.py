"""Mass testing capacity pages: the sampling sites of the jurisdiction (door-to-door teams apart), the labs serving
it with their capacity and queue, and the planning aid (which pool size, and can the round finish in 24 hours).

Thin views, as views_testing: they parse the form, call one service or selector of shouwang.testing, and render.
Field errors keep both languages, next to the field."""

from __future__ import annotations

import math
import unicodedata

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, pgettext_lazy
from django.views.decorators.http import require_GET

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.selectors import GRID_LEVELS
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.testing import planning, selectors
from shouwang.testing.enums import SiteKind
from shouwang.testing.models import Lab
from shouwang.testing.services import lab_create, site_create
from shouwang.web.views import _error_page
from shouwang.web.views_testing import _en, _err, _int, _require_any, _require_view

MAX_SAMPLERS = 999  # per site (the column is a small integer; more than this is a typing error)
MAX_PER_HOUR = 100_000
MAX_TUBES_PER_DAY = 1_000_000
MAX_PEOPLE = 100_000_000
MAX_SITES = 100_000
BOTTLENECK = {"sampling": pgettext_lazy("planning step", "采样"), "testing": pgettext_lazy("planning step", "检测")}


def _required(field: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(field=field, code="required", message_zh=zh, message_en=en)


def _too_long(field: str, limit: int) -> ValidationFailed:
    return ValidationFailed(field=field, code="too_long", message_zh=f"最多{limit}个字",
                            message_en=f"at most {limit} characters")


def _whole(raw, field: str, zh: str, en: str, *, upper: int, required: bool = True) -> int | None:
    """A positive whole number typed in a form: full-width digits (a Chinese input method) and thousands
    separators are accepted; blank is None when not required."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip().replace(",", "").replace(" ", "")
    if not text:
        if required:
            raise _required(field, f"请填写{zh}", f"{en} is required")
        return None
    if not text.isdigit() or not 1 <= int(text) <= upper:
        raise ValidationFailed(field=field, code="out_of_range", message_zh=f"{zh}应为1到{upper:,}的整数",
                               message_en=f"{en} must be a whole number from 1 to {upper:,}")
    return int(text)


def _text(post, field: str, limit: int, errors: dict) -> str:
    value = post.get(field, "").strip()
    if len(value) > limit:
        errors[field] = _err(_too_long(field, limit))
    return value


# ---- sampling sites ---------------------------------------------------------------------------------------------


def _site_area_options(user) -> list[dict]:
    """The grids of the jurisdiction, grouped under their village (or township) so that equal grid names can be
    told apart: [{"label": "天坛镇 城关社区", "grids": [{"id", "name"}]}]."""
    top = user.jurisdiction
    if top is None:
        return []
    grids = list(Area.objects.subtree(top.path).filter(level__in=GRID_LEVELS).order_by("path"))
    paths = {p for g in grids for p in Area.ancestor_paths(g.path)}
    above = dict(Area.objects.filter(path__in=paths, level__in=(AreaLevel.TOWNSHIP, AreaLevel.VILLAGE))
                 .values_list("path", "name"))
    groups: list[dict] = []
    for g in grids:
        label = " ".join(above[p] for p in Area.ancestor_paths(g.path) if p in above) or top.name
        if not groups or groups[-1]["label"] != label:
            groups.append({"label": label, "grids": []})
        groups[-1]["grids"].append({"id": g.id, "name": g.name})
    return groups


SITE_FIELDS = ("name", "kind", "area_id", "address", "opening_hours", "samplers", "per_hour")


def _site_create(request) -> tuple[object | None, dict]:
    post, errors = request.POST, {}
    name = _text(post, "name", 100, errors)
    address = _text(post, "address", 200, errors)
    opening_hours = _text(post, "opening_hours", 100, errors)
    kind = post.get("kind", "")
    area_id = _int(post.get("area_id"))
    if area_id is None:
        errors["area_id"] = _err(_required("area_id", "请选择所在网格", "choose the grid the site is in"))
    numbers = {}
    for field, zh, en, upper in (("samplers", "采样人员数", "the number of samplers", MAX_SAMPLERS),
                                 ("per_hour", "每小时采样能力", "people swabbed per hour", MAX_PER_HOUR)):
        try:
            numbers[field] = _whole(post.get(field), field, zh, en, upper=upper)
        except DomainError as exc:
            errors[field] = _err(exc)
    if not name and "name" not in errors:
        errors["name"] = _err(_required("name", "请填写采样点名称", "name is required"))
    if errors:
        return None, errors
    try:
        site = site_create(actor=request.user, name=name, area_id=area_id, kind=kind, address=address,
                           opening_hours=opening_hours, **numbers)
    except DomainError as exc:
        errors[exc.field if exc.field in SITE_FIELDS else "form"] = _err(exc)
        return None, errors
    return site, errors


@login_required
def site_list(request):
    """/testing/sites/: the sampling sites of the jurisdiction (?kind= one kind), door-to-door teams in their own
    section; HQ, task forces and townships set up a site."""
    user = request.user
    try:
        if request.method == "POST":
            require(user, Capability.ROUND_MANAGE, "设置采样点", "set up sampling sites")
        _require_view(user)
    except DomainError as exc:
        return _error_page(request, exc)
    can_manage = user.can(Capability.ROUND_MANAGE)
    errors: dict[str, dict] = {}
    values = {"kind": SiteKind.FIXED, "samplers": "2", "per_hour": "120"}
    if request.method == "POST":
        site, errors = _site_create(request)
        if site is not None:
            messages.success(request, gettext("已新建采样点：%(name)s") % {"name": site.name})
            return redirect(reverse("testing_sites") + f"?new={site.id}#site-{site.id}")
        values = request.POST
    kind = request.GET.get("kind", "")
    kind = kind if kind in SiteKind.values else ""
    if kind and request.method != "POST":
        values["kind"] = kind  # a team is set up from the teams' list
    rows = selectors.sites_visible(user, kind=kind or None)
    sites = [r for r in rows if r.site.kind != SiteKind.DOOR_TO_DOOR]
    teams = [r for r in rows if r.site.kind == SiteKind.DOOR_TO_DOOR]
    active = [r.site for r in rows if r.site.active]
    context = {"sites": sites, "teams": teams, "kind": kind, "kinds": SiteKind.choices, "can_manage": can_manage,
               "errors": errors, "values": values, "new": _int(request.GET.get("new")),
               "door_to_door": SiteKind.DOOR_TO_DOOR,
               "totals": {"sites": len(active), "samplers": sum(s.samplers for s in active),
                          "per_hour": sum(s.per_hour for s in active)}}
    if can_manage:
        context["area_groups"] = _site_area_options(user)
    return render(request, "web/testing/sites.html", context, status=422 if errors else 200)


# ---- labs: capacity and queue --------------------------------------------------------------------------------------


def _lab_area_options(user) -> list[dict]:
    """The jurisdiction and the townships and villages under it, in tree order, indented."""
    top = user.jurisdiction
    if top is None:
        return []
    levels = (AreaLevel.TOWNSHIP, AreaLevel.VILLAGE)
    areas = [top, *Area.objects.subtree(top.path).filter(level__in=levels).exclude(id=top.id).order_by("path")]
    return [{"id": a.id, "label": "　" * max(0, a.depth - top.depth) + a.name} for a in areas]


LAB_FIELDS = ("name", "area_id", "tubes_per_day")


def _lab_create(request) -> tuple[Lab | None, dict]:
    post, errors = request.POST, {}
    name = _text(post, "name", 100, errors)
    if not name and "name" not in errors:
        errors["name"] = _err(_required("name", "请填写实验室名称", "name is required"))
    elif name and Lab.objects.filter(name=name).exists():
        errors["name"] = _err(DomainError(code="lab_exists", status=409, field="name", message_zh="已有同名实验室",
                                          message_en="a lab of this name exists"))
    area_id = _int(post.get("area_id"))
    if area_id is None:
        errors["area_id"] = _err(_required("area_id", "请选择所在区域", "choose the area the lab is in"))
    try:
        per_day = _whole(post.get("tubes_per_day"), "tubes_per_day", "日检测能力（管）", "tubes tested per day",
                         upper=MAX_TUBES_PER_DAY)
    except DomainError as exc:
        errors["tubes_per_day"] = _err(exc)
    if errors:
        return None, errors
    try:
        with transaction.atomic():
            lab = lab_create(actor=request.user, name=name, area_id=area_id, tubes_per_day=per_day)
    except IntegrityError:  # registered by someone else a moment ago
        errors["name"] = _err(DomainError(code="lab_exists", status=409, field="name", message_zh="已有同名实验室",
                                          message_en="a lab of this name exists"))
        return None, errors
    except DomainError as exc:
        errors[exc.field if exc.field in LAB_FIELDS else "form"] = _err(exc)
        return None, errors
    return lab, errors


@login_required
def lab_list(request):
    """/testing/labs/: the labs serving the jurisdiction, each with its daily capacity, the tubes on their way, the
    tubes waiting for a result (in days of capacity, flagged over one day) and the results of today."""
    user = request.user
    try:
        if request.method == "POST":
            require(user, Capability.ROUND_MANAGE, "登记实验室", "register labs")
        _require_any(user, (Capability.TESTING_VIEW, Capability.LAB_RESULT, Capability.RESULT_REVIEW),
                     "查看实验室检测能力", "view lab capacity")
    except DomainError as exc:
        return _error_page(request, exc)
    can_manage = user.can(Capability.ROUND_MANAGE)
    errors: dict[str, dict] = {}
    values = {"tubes_per_day": "4000", "area_id": str(user.jurisdiction_id or "")}
    if request.method == "POST":
        lab, errors = _lab_create(request)
        if lab is not None:
            messages.success(request, gettext("已登记实验室：%(name)s") % {"name": lab.name})
            return redirect(reverse("testing_labs") + f"#lab-{lab.id}")
        values = request.POST
    queues = selectors.lab_queues(user)
    capacity = sum(q.tubes_per_day for q in queues)
    total = selectors.LabQueue(lab=None, tubes_per_day=capacity, waiting=sum(q.waiting for q in queues),
                               resulted_today=sum(q.resulted_today for q in queues),
                               in_transit=sum(q.in_transit for q in queues))
    context = {"queues": queues, "total": total, "can_manage": can_manage, "errors": errors, "values": values,
               "can_view": user.can(Capability.TESTING_VIEW)}
    if can_manage:
        context["area_options"] = _lab_area_options(user)
    return render(request, "web/testing/labs.html", context, status=422 if errors else 200)


# ---- the planning aid --------------------------------------------------------------------------------------------

POOL_CHOICES = (1, 5, 10, 20)
# The planner names its inputs as the API does; on the page they are these fields.
PLAN_FIELD = {"positivity": "positivity", "people": "people", "sampling_per_hour": "per_hour",
              "lab_tubes_per_day": "lab_tubes_per_day", "pool_size": "pool_size"}


def _percent(raw) -> float:
    text = unicodedata.normalize("NFKC", str(raw or "")).strip().removesuffix("%").strip()
    if not text:
        raise _required("positivity", "请填写阳性率（%）", "positivity (%) is required")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise ValidationFailed(field="positivity", code="out_of_range",
                               message_zh="阳性率应为0到100之间的百分数，如0.1表示千分之一",
                               message_en="positivity must be a percentage from 0 to 100, e.g. 0.1 for one in a "
                                          "thousand")
    return value / 100


def _plan_inputs(get) -> tuple[dict, dict]:
    """The form's numbers, or the errors by field."""
    errors, data = {}, {}
    try:
        data["positivity"] = _percent(get.get("positivity"))
    except DomainError as exc:
        errors["positivity"] = _err(exc)
    for field, zh, en, upper in (("people", "应检人数", "people to test", MAX_PEOPLE),
                                 ("sites", "采样点数", "sampling sites", MAX_SITES),
                                 ("samplers", "采样人员数", "samplers", MAX_SITES * MAX_SAMPLERS),
                                 ("per_hour", "每名采样人员每小时采样人数", "people one sampler swabs per hour",
                                  MAX_PER_HOUR),
                                 ("lab_tubes_per_day", "实验室日检测能力（管）", "tubes the labs test per day",
                                  MAX_TUBES_PER_DAY)):
        try:
            data[field] = _whole(get.get(field), field, zh, en, upper=upper)
        except DomainError as exc:
            errors[field] = _err(exc)
    pool = get.get("pool_size", "")
    data["pool_size"] = None
    if pool:
        if _int(pool) not in POOL_CHOICES:
            errors["pool_size"] = _err(ValidationFailed(field="pool_size", code="invalid_choice",
                                                        message_zh="请选择采样方式",
                                                        message_en="choose a pooling mode"))
        else:
            data["pool_size"] = int(pool)
    if "sites" in data and "samplers" in data and data["samplers"] < data["sites"]:
        errors["samplers"] = _err(ValidationFailed(field="samplers", code="too_few",
                                                   message_zh="每个采样点至少需要1名采样人员",
                                                   message_en="every site needs at least one sampler"))
    return data, errors


@login_required
@require_GET
def plan_page(request):
    """/testing/plan/: the planning aid. The form starts from the jurisdiction's people, active sites and labs; the
    answer compares the pool sizes at the positivity given and estimates the round's hours and its bottleneck."""
    user = request.user
    try:
        require(user, Capability.TESTING_VIEW, "查看检测规划", "view testing plans")
    except DomainError as exc:
        return _error_page(request, exc)
    defaults = selectors.plan_defaults(user)
    start = {"people": defaults.people or "", "sites": defaults.sites or "", "samplers": defaults.samplers or "",
             "per_hour": defaults.per_sampler_hour or "", "lab_tubes_per_day": defaults.lab_tubes_per_day or "",
             "positivity": "", "pool_size": ""}
    context = {"defaults": defaults, "values": start, "errors": {}, "pool_choices":
               [(n, planning.pool_label(n)[1 if _en() else 0]) for n in POOL_CHOICES], "answer": None}
    if "positivity" not in request.GET:
        return render(request, "web/testing/plan.html", context)
    context["values"] = {**start, **request.GET.dict()}
    data, errors = _plan_inputs(request.GET)
    if not errors:
        try:
            answer = planning.plan(data["positivity"], people=data["people"],
                                   sampling_per_hour=data["samplers"] * data["per_hour"],
                                   lab_tubes_per_day=data["lab_tubes_per_day"], pool_size=data["pool_size"])
        except planning.PlanInputError as exc:
            errors[PLAN_FIELD.get(exc.field, "form")] = _err(ValidationFailed(
                field=exc.field, code=exc.code, message_zh=exc.message_zh, message_en=exc.message_en))
        else:
            context["answer"] = _answer(answer, data)
    context["errors"] = errors
    return render(request, "web/testing/plan.html", context, status=422 if errors else 200)


def _answer(answer: planning.Plan, data: dict) -> dict:
    en = _en()
    est = answer.estimate
    people = data["people"]
    rows = [{"size": r.size, "label": r.label_en if en else r.label_zh, "tests_per_person": r.tests_per_person,
             "tests": round(r.tests_per_person * people), "best": r.best,
             "chosen": r.size == est.pool_size} for r in answer.rows]
    return {"advice": answer.advice, "reason": answer.advice.reason_en if en else answer.advice.reason_zh,
            "best_label": next(r["label"] for r in rows if r["best"]), "rows": rows, "estimate": est,
            "pool_label": next(r["label"] for r in rows if r["chosen"]),
            "estimate_reason": est.reason_en if en else est.reason_zh, "bottleneck": BOTTLENECK[est.bottleneck],
            "target_hours": planning.TARGET_HOURS, "sampling_per_hour": est.sampling_per_hour,
            "positivity_percent": f"{data['positivity'] * 100:.6g}",
            "per_site": {"people": math.ceil(people / data["sites"]),
                         "samplers": round(data["samplers"] / data["sites"], 1)},
            "formulas": [(en_ if en else zh, zh if en else en_) for zh, en_ in planning.FORMULAS]}
