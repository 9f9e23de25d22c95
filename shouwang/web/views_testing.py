"""Mass testing (核酸检测) pages: rounds and their dashboard (coverage, chain timings, rechecks), the people not
sampled yet (and their Excel list), the sampler's phone page (tubes filled one person at a time over htmx, boxes
packed for the lab) and the lab's page (boxes received, result files staged and reviewed).

Thin views: they parse the form, call one service or selector of shouwang.testing, and render. Errors keep both
languages (samplers and lab staff get the other one below), and the tube being filled is never lost on an error.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.selectors import grid_names
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditAction
from shouwang.people.excel import HEADER_FILL, HEADER_FONT, TITLE_FONT, styled, text_cell
from shouwang.people.selectors import area_chain, person_row
from shouwang.policy.api import area_codes
from shouwang.policy.selectors import ruleset_in_force
from shouwang.testing import selectors
from shouwang.testing.enums import (
    POOL_SIZE,
    SETTINGS,
    ExemptReason,
    PoolMode,
    RecheckState,
    Result,
    ResultFileState,
    RoundKind,
    RoundState,
    TubeState,
)
from shouwang.testing.models import (
    Exemption,
    Lab,
    LabResultFile,
    PersonRound,
    SamplingSite,
    TestingRound,
    TransportBatch,
    Tube,
    TubeResult,
)
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    round_visible,
    tube_close,
    tube_fill,
    tube_member_remove,
)
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_exchange import xlsx_response
from shouwang.web.views_venues import person_token_from

# The policy's sampling settings (pooling.<setting>), as the policy names them.
SETTING_LABELS = {
    "isolation_site": _("隔离点"),
    "high_risk_zone": _("高风险区（封控区）"),
    "medium_risk_zone": _("中风险区（管控区）"),
    "other_area": _("其他区域（防范区）"),
    "key_group": _("重点人群"),
    "routine": _("常态化检测"),
}
AREA_ROWS = 8  # area rows on the round form (the first three shown, the rest one click away)
UNSAMPLED_SHOWN = 500
EXPORT_CHUNK = 2000
FILES_SHOWN = 20
ID_NUMBER = re.compile(r"\d{17}[\dX]")
# Why a sampler takes someone out of an open tube (stored in Chinese in the tube's history and the audit log).
REMOVE_REASONS = [("扫错人", _("扫错人")), ("本人拒绝采样", _("本人拒绝采样")), ("重复登记", _("重复登记"))]
# What a round may become from each state (the buttons on the dashboard; the service checks it again).
NEXT_STATES = {RoundState.PLANNED: [RoundState.SAMPLING, RoundState.CANCELLED],
               RoundState.SAMPLING: [RoundState.FINISHED, RoundState.CANCELLED]}


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _err(exc: DomainError) -> dict:
    """An error for the page: the message in the page's language, the other language below, item details."""
    en = _en()
    details = [{**d, "msg": d.get("en") if en else d.get("zh"), "other": d.get("zh") if en else d.get("en")}
               for d in exc.details]
    return {"code": exc.code, "field": exc.field, "msg": exc.message_en if en else exc.message_zh,
            "other": exc.message_zh if en else exc.message_en, "details": details}


def _int(value) -> int | None:
    return int(value) if str(value or "").strip().isdigit() else None


def _hx(request) -> bool:
    return bool(request.headers.get("HX-Request"))


def _require_any(user, capabilities, action_zh: str, action_en: str) -> None:
    if not user.is_authenticated or not any(user.can(c) for c in capabilities):
        raise PermissionDenied(action_zh, action_en)


def _require_view(user) -> None:
    require(user, Capability.TESTING_VIEW, "查看检测进度", "view testing progress")


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


PLACE_LEVELS = (AreaLevel.COMPOUND, AreaLevel.BUILDING, AreaLevel.UNIT)


def _places(areas) -> dict[int, str]:
    """Where each area is below its grid, in one query: 锦绣花园 1号楼 1单元 ("" for a grid or above)."""
    paths = {p for a in areas for p in Area.ancestor_paths(a.path)}
    names = dict(Area.objects.filter(path__in=paths, level__in=PLACE_LEVELS).values_list("path", "name"))
    out = {}
    for a in areas:
        parts: list[str] = []
        for p in Area.ancestor_paths(a.path):
            if p in names:
                if parts and names[p].startswith(parts[-1]):  # 幸福小区 › 幸福小区1号楼: the longer name alone
                    parts.pop()
                parts.append(names[p])
        out[a.id] = " ".join(parts)
    return out


def _where(areas) -> dict[int, str]:
    """The grid and the place under it: 城关社区第一网格 › 锦绣花园 1号楼 1单元."""
    grids, places = grid_names(areas), _places(areas)
    out = {}
    for a in areas:
        parts = [x for x in (grids.get(a.id, ""), places.get(a.id, "")) if x]
        out[a.id] = " › ".join(parts) or a.name
    return out


# ---- rounds ------------------------------------------------------------------------------------------------------


def _area_options(user) -> list[dict]:
    """The jurisdiction and the townships, villages and grids under it, in tree order, indented."""
    top = user.jurisdiction
    if top is None:
        return []
    levels = (AreaLevel.TOWNSHIP, AreaLevel.VILLAGE, AreaLevel.GRID)
    areas = [top, *Area.objects.subtree(top.path).filter(level__in=levels).exclude(id=top.id).order_by("path")]
    return [{"id": a.id, "label": "　" * max(0, a.depth - top.depth) + a.name} for a in areas]


def _setting_options(user) -> list[dict]:
    """Each sampling setting with the mode the policy in force gives it (explainable before the round exists)."""
    try:
        pooling = ruleset_in_force(clock.today(), area_codes(user)).pooling
    except DomainError:
        pooling = {}
    out = []
    for key in SETTINGS:
        spec = pooling.get(key)
        mode = _label(PoolMode, spec.mode) if spec is not None else ""
        out.append({"value": key, "label": SETTING_LABELS[key], "mode": mode})
    return out


def _parse_local(raw: str, field: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat((raw or "").strip())
    except ValueError:
        raise ValidationFailed(field=field, code="invalid", message_zh="请填写日期和时间，如 2022-07-15 06:00",
                               message_en="enter a date and time, e.g. 2022-07-15 06:00") from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _round_form_data(post) -> tuple[RoundInput | None, dict]:
    errors: dict[str, dict] = {}
    kind = post.get("kind", "")
    if kind not in RoundKind.values:
        errors["kind"] = _err(ValidationFailed(field="kind", code="invalid_choice", message_zh="请选择检测类型",
                                               message_en="choose the kind of round"))
    times = {}
    for field in ("starts_at", "deadline"):
        try:
            times[field] = _parse_local(post.get(field, ""), field)
        except DomainError as exc:
            errors[field] = _err(exc)
    area_ids, settings = [], {}
    for i in range(AREA_ROWS):
        area_id = _int(post.get(f"area_{i}"))
        if area_id is None:
            continue
        area_ids.append(area_id)
        settings[area_id] = post.get(f"setting_{i}", "other_area")
    if errors:
        return None, errors
    return RoundInput(name=post.get("name", ""), kind=kind, area_ids=area_ids, starts_at=times["starts_at"],
                      deadline=times["deadline"], settings=settings), errors


def _round_rows(rounds: list[TestingRound]) -> list[dict]:
    sampled = dict(PersonRound.objects.filter(round__in=[r.id for r in rounds]).values_list("round")
                   .annotate(n=Count("id")))
    rows = []
    for r in rounds:
        n = sampled.get(r.id, 0)
        rows.append({"round": r, "sampled": n, "percent": round(100.0 * n / r.target, 1) if r.target else None,
                     "areas": [ra.area.name for ra in r.areas.all()]})
    return rows


@login_required
def round_list(request):
    """/testing/: the rounds of the jurisdiction; HQ creates one (pooling per area comes from the policy)."""
    user = request.user
    try:
        _require_view(user)
    except DomainError as exc:
        return _error_page(request, exc)
    can_manage = user.can(Capability.ROUND_MANAGE)
    errors: dict[str, dict] = {}
    now = timezone.localtime(clock.now()).replace(second=0, microsecond=0)
    values = {"kind": RoundKind.AREA, "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
              "deadline": (now + dt.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")}
    if request.method == "POST":
        try:
            require(user, Capability.ROUND_MANAGE, "组织检测轮次", "organise testing rounds")
        except DomainError as exc:
            return _error_page(request, exc)
        values = request.POST
        data, errors = _round_form_data(request.POST)
        if data is not None:
            try:
                round_ = round_create(actor=user, data=data)
            except DomainError as exc:
                field = {"area_id": "area_ids", "setting": "settings"}.get(exc.field or "", exc.field)
                errors[field if field in ("name", "kind", "area_ids", "starts_at", "deadline", "settings")
                       else "form"] = _err(exc)
            else:
                messages.success(request, gettext("已新建检测轮次，各区域的采样方式已按政策确定。"))
                return redirect("testing_round", round_id=round_.id)
    rows = [{"index": i, "area": str(values.get(f"area_{i}", "")), "setting": values.get(f"setting_{i}", "")}
            for i in range(AREA_ROWS)]
    shown = max([3] + [r["index"] + 1 for r in rows if r["area"]])
    for r in rows:
        r["hidden"] = r["index"] >= shown
    context = {"rows": _round_rows(selectors.rounds_visible(user)), "can_manage": can_manage, "errors": errors,
               "values": values, "kinds": RoundKind.choices}
    if can_manage:
        context.update(area_rows=rows, area_options=_area_options(user), setting_options=_setting_options(user))
    return render(request, "web/testing/rounds.html", context, status=422 if errors else 200)


def _visible_round(request, round_id: int) -> TestingRound:
    _require_view(request.user)
    return round_visible(user=request.user, round_id=round_id)


def _coverage_area(request, round_: TestingRound) -> Area:
    """?area=<id> in the jurisdiction; by default the lowest area holding all of the round's areas (a round of one
    grid opens on the grid's village, with the grid as its row), never above the jurisdiction."""
    area_id = _int(request.GET.get("area"))
    if area_id is not None:
        return area_visible(user=request.user, area_id=area_id)
    top = request.user.jurisdiction
    if top is None:
        raise NotFound("区域", "area", field="area_id")
    paths = [ra.area.path for ra in round_.areas.select_related("area")]
    common = paths[0] if paths else ""
    for p in paths[1:]:
        while not p.startswith(common):
            common = common[:-Area.steplen]
    if len(paths) == 1 or common in paths:
        common = common[:-Area.steplen]
    if len(common) <= len(top.path) or not common.startswith(top.path):
        return top
    return Area.objects.filter(path=common).first() or top


def _crumbs(user, area: Area) -> list[Area]:
    top = jurisdiction_path(user)
    return [a for a in area_chain(area) if a.path.startswith(top)]


COVERAGE_FIELDS = ("target", "exempt", "sampled", "resulted", "negative", "recheck", "positive")
# Levels people may be registered on directly (besides the buildings and units under them).
DIRECT_LEVELS = (AreaLevel.GRID, AreaLevel.MICRO_GRID, AreaLevel.COMPOUND, AreaLevel.BUILDING)


def _coverage(round_: TestingRound, area: Area):
    """The coverage table of `area`'s children. selectors.coverage counts people by child, so on a grid (or a
    compound or building) the people registered on the area itself are in no row: they are shown as one more row,
    taken from the area's own row one level up, and the total is that row."""
    table = selectors.coverage(round_=round_, parent=area)
    if area.level not in DIRECT_LEVELS or [r.area.id for r in table.rows] == [area.id]:
        return table, None
    parent = area.get_parent()
    own = next((r for r in selectors.coverage(round_=round_, parent=parent).rows if r.area.id == area.id), None) \
        if parent is not None else None
    if own is None:
        return table, None
    direct = selectors.Coverage(area=area, **{f: getattr(own, f) - sum(getattr(r, f) for r in table.rows)
                                              for f in COVERAGE_FIELDS})
    table.total = own
    return table, (direct if any(getattr(direct, f) for f in COVERAGE_FIELDS) else None)


@login_required
def round_dashboard(request, round_id: int):
    """/testing/rounds/<id>/: pooling per area (explained), progress, coverage with drill-down, chain times,
    rechecks due."""
    user = request.user
    try:
        round_ = _visible_round(request, round_id)
        area = _coverage_area(request, round_)
    except DomainError as exc:
        return _error_page(request, exc)
    table, direct = _coverage(round_, area)
    leaf = [r.area.id for r in table.rows] == [area.id]
    rows = [r for r in table.rows if r.target or r.exempt or r.sampled]
    progress = selectors.round_progress(round_)
    now = clock.now()
    tasks = selectors.rechecks_due(round_=round_, user=user)
    where = _where(list({t.area_id: t.area for t in tasks}.values()))
    rechecks = [{"task": t, "name": mask_name(t.person.name), "where": where[t.area_id],
                 "overdue": t.state == RecheckState.OPEN and t.due_at < now} for t in tasks]
    pooling: dict[tuple, dict] = {}  # areas with the same setting (hence mode, rule and reason) on one line
    for ra in round_.areas.select_related("area").order_by("area__path"):
        key = (ra.setting, ra.pool_mode, ra.rule, ra.reason_zh)
        pooling.setdefault(key, {"setting": SETTING_LABELS.get(ra.setting, ra.setting), "rule": ra.rule,
                                 "mode": _label(PoolMode, ra.pool_mode), "areas": [],
                                 "reason": ra.reason_en if _en() else ra.reason_zh})["areas"].append(ra.area.name)
    areas = list(pooling.values())
    tubes = progress["tubes"]
    people = progress["people"]
    context = {
        "round": round_, "area": area, "crumbs": _crumbs(user, area), "table": table, "coverage_rows": rows,
        "hidden_rows": len(table.rows) - len(rows), "leaf": leaf, "direct": direct, "areas": areas, "progress": progress,
        "tube_states": [{"label": label, "n": tubes.get(value, 0)} for value, label in TubeState.choices],
        "people_states": {k: people.get(k, 0) for k in ("sampled", "negative", "recheck", "positive", "resample")},
        "chain": selectors.chain_times(round_), "rechecks": rechecks,
        "overdue": sum(1 for r in rechecks if r["overdue"]), "now": now,
        "can_manage": user.can(Capability.ROUND_MANAGE),
        "next_states": [{"value": s.value, "label": s.label} for s in NEXT_STATES.get(round_.state, [])],
        "can_sample": user.can(Capability.SAMPLE_RECORD) and round_.state == RoundState.SAMPLING,
    }
    return render(request, "web/testing/round.html", context)


@login_required
@require_POST
def round_state(request, round_id: int):
    try:
        round_set_state(actor=request.user, round_id=round_id, state=request.POST.get("state", ""))
    except DomainError as exc:
        return _error_page(request, exc)
    messages.success(request, gettext("轮次状态已更新"))
    return redirect("testing_round", round_id=round_id)


# ---- the people not sampled yet --------------------------------------------------------------------------------


def _unsampled(request, round_id: int):
    """The round, the area, the people not sampled there (a queryset) and who of the round is sampled at home."""
    round_ = _visible_round(request, round_id)
    area = _coverage_area(request, round_)
    qs = selectors.unsampled_people(round_=round_, area=area, limit=None)
    door = set(Exemption.objects.filter(round=round_, reason=ExemptReason.DOOR_TO_DOOR)
               .values_list("person_id", flat=True))
    return round_, area, qs, door


@login_required
@require_GET
def unsampled_list(request, round_id: int):
    """/testing/rounds/<id>/unsampled/?area=<id>: 应检未检名单, by building and household, identifiers masked."""
    try:
        round_, area, qs, door = _unsampled(request, round_id)
    except DomainError as exc:
        return _error_page(request, exc)
    people = list(qs[:UNSAMPLED_SHOWN])
    where = _where(list({p.area_id: p.area for p in people}.values()))
    groups = []
    for _area_id, members in groupby(people, key=lambda p: p.area_id):
        members = list(members)
        rows, last = [], object()
        for p in members:
            row = person_row(p, full=False)
            row.update(household=p.household.room if p.household else "", new_household=p.household_id != last,
                       door=p.id in door)
            last = p.household_id
            rows.append(row)
        groups.append({"where": where[members[0].area_id], "rows": rows})
    total = qs.count() if len(people) >= UNSAMPLED_SHOWN else len(people)
    return render(request, "web/testing/unsampled.html", {
        "round": round_, "area": area, "crumbs": _crumbs(request.user, area), "groups": groups, "total": total,
        "shown": len(people), "can_export": request.user.can(Capability.PERSON_EXPORT),
        "can_export_full": request.user.can(Capability.PERSON_EXPORT_FULL),
    })


UNSAMPLED_COLUMNS = [("序号", 6), ("所属网格", 18), ("小区/楼栋/单元", 20), ("户", 12), ("姓名", 10), ("性别", 6),
                     ("证件号码", 21), ("手机号", 14), ("备注", 14)]


@login_required
@require_GET
def unsampled_export(request, round_id: int):
    """The same list as an Excel workbook, masked unless the role may export full identifiers; audited."""
    try:
        require(request.user, Capability.PERSON_EXPORT, "导出应检未检名单", "export who is not sampled")
        round_, area, qs, door = _unsampled(request, round_id)
    except DomainError as exc:
        return _error_page(request, exc)
    full = request.GET.get("full") == "1" and request.user.can(Capability.PERSON_EXPORT_FULL)
    exported_at = timezone.localtime(clock.now())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("应检未检名单")
    for index, (_name, width) in enumerate(UNSAMPLED_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    masked_note = "完整证件号码和手机号" if full else "证件号码和手机号已打码"
    ws.append([styled(ws, f"应检未检名单　{round_.name}　范围：{area.name}　导出时间：{exported_at:%Y-%m-%d %H:%M}"
                          f"（北京时间）　导出人：{request.user}　{masked_note}", font=TITLE_FONT)])
    ws.append([styled(ws, name, font=HEADER_FONT, fill=HEADER_FILL) for name, _width in UNSAMPLED_COLUMNS])
    sex = {"male": "男", "female": "女"}
    grids: dict[int, str] = {}
    places: dict[int, str] = {}
    count = 0
    batch: list = []

    def flush():
        new = list({p.area_id: p.area for p in batch if p.area_id not in grids}.values())
        grids.update(grid_names(new, separator="/"))
        places.update(_places(new))
        for number, p in enumerate(batch, start=count - len(batch) + 1):
            row = person_row(p, full=full)
            ws.append([number, text_cell(ws, grids.get(p.area_id, "")), text_cell(ws, places.get(p.area_id, "")),
                       text_cell(ws, p.household.room if p.household else ""), text_cell(ws, p.name),
                       sex.get(p.sex, ""), row["id_number"], row["mobile"], "上门采样" if p.id in door else ""])
        batch.clear()

    for person in qs.iterator(chunk_size=EXPORT_CHUNK):
        batch.append(person)
        count += 1
        if len(batch) >= EXPORT_CHUNK:
            flush()
    flush()
    out = io.BytesIO()
    wb.save(out)
    audit_record(actor=request.user, action=AuditAction.EXPORT, obj=round_,
                 summary=f"导出应检未检名单{count}人（{round_.name}；{area.name}；{masked_note}）",
                 query={"round_id": round_.id, "area_id": area.id}, changes={"full": [None, full]},
                 row_count=count, ip_address=_ip(request))
    return xlsx_response(out.getvalue(), f"应检未检名单_{area.name}_{exported_at:%Y%m%d}.xlsx",
                         f"unsampled_{round_.id}_{area.id}.xlsx")


# ---- the sampler's phone --------------------------------------------------------------------------------------


def _sampling_rounds(user) -> list[TestingRound]:
    return [r for r in selectors.rounds_visible(user) if r.state == RoundState.SAMPLING]


def _sites(user):
    return SamplingSite.objects.filter(active=True, area__path__startswith=jurisdiction_path(user)).order_by("name")


def _sampling_round(user, round_id) -> TestingRound:
    round_ = next((r for r in _sampling_rounds(user) if r.id == _int(round_id)), None)
    if round_ is None:
        raise DomainError(code="round_not_sampling", status=409, field="round_id",
                          message_zh="该轮次不在采样中或不在您的辖区内", message_en="the round is not sampling here")
    return round_


def _expected_mode(round_: TestingRound) -> str | None:
    modes = {ra.pool_mode for ra in round_.areas.all()}
    return modes.pop() if len(modes) == 1 else None


def _tube_context(user, round_: TestingRound, barcode: str, **extra) -> dict:
    """The tube panel: mode and size, the members in order (masked), the counter, the state."""
    barcode = (barcode or "").strip()
    tube = Tube.objects.filter(barcode=barcode).select_related("round").first() if barcode else None
    elsewhere = tube is not None and tube.round_id != round_.id
    members, removed = [], []
    reasons = dict(REMOVE_REASONS)
    if tube is not None and not elsewhere:
        rows = list(tube.members.select_related("person", "person__area", "person__household").order_by("position"))
        places = _places(list({m.person.area_id: m.person.area for m in rows}.values()))
        for m in rows:
            place = places.get(m.person.area_id) or m.person.area.name
            room = m.person.household.room if m.person.household else ""
            item = {"person_id": m.person_id, "position": m.position, "name": mask_name(m.person.name),
                    "id_number": mask_id_number(m.person.id_number), "area": f"{place} {room}".strip(),
                    "reason": reasons.get(m.removed_reason, m.removed_reason)}
            (removed if m.removed_at else members).append(item)
    mode = tube.pool_mode if tube is not None and not elsewhere else _expected_mode(round_)
    size = tube.pool_size if tube is not None and not elsewhere else (POOL_SIZE[PoolMode(mode)] if mode else None)
    is_open = tube is None or (not elsewhere and tube.state == TubeState.OPEN)
    return {"round": round_, "barcode": barcode, "tube": None if elsewhere else tube, "elsewhere": elsewhere,
            "members": members, "removed": removed, "count": len(members), "size": size,
            "mode": _label(PoolMode, mode) if mode else "", "is_open": is_open,
            "state": _label(TubeState, tube.state) if tube is not None and not elsewhere else gettext("待开管"),
            "full": tube is not None and not elsewhere and tube.state != TubeState.OPEN,
            "reasons": REMOVE_REASONS, "person": "", "by": "code", **extra}


def _sample_page_context(request, round_: TestingRound, barcode: str, **extra) -> dict:
    user = request.user
    site_id = _int(request.session.get("sample_site_id"))
    sites = list(_sites(user))
    context = _tube_context(user, round_, barcode, **extra)
    mine = list(Tube.objects.filter(round=round_, sampler=user).order_by("-id")[:8])
    closed = list(Tube.objects.filter(round=round_, sampler=user, state=TubeState.CLOSED, batch__isnull=True)
                  .order_by("id").values_list("barcode", flat=True))
    context.update(sites=sites, site=next((s for s in sites if s.id == site_id), None), my_tubes=mine,
                   labs=list(_labs(user)), to_pack="\n".join(closed), packed=extra.get("packed"))
    return context


def _sample_refused(request, exc: DomainError):
    """The round or the right is gone (HQ finished the round, say): htmx goes back to the round picker with the
    message; a plain request gets the error page."""
    if _hx(request) and exc.status != 403:
        messages.error(request, f"{_err(exc)['msg']} · {_err(exc)['other']}")
        response = HttpResponse(status=200)
        response["HX-Redirect"] = reverse("testing_sample") + "?pick=1"
        return response
    return _error_page(request, exc)


def _render_sample(request, context: dict, status: int = 200):
    if _hx(request):
        return render(request, "web/testing/_tube_panel.html", context)  # htmx swaps only 2xx: the error is inside
    return render(request, "web/testing/sample.html", context, status=status)


@login_required
def sample_page(request):
    """/testing/sample/: pick a round (and a site), then a tube barcode; the tube panel fills over htmx."""
    user = request.user
    try:
        require(user, Capability.SAMPLE_RECORD, "采样登记", "record samples")
    except DomainError as exc:
        return _error_page(request, exc)
    if "round" in request.GET:
        request.session["sample_round_id"] = _int(request.GET.get("round"))
    if "site" in request.GET:
        request.session["sample_site_id"] = _int(request.GET.get("site"))
    rounds = _sampling_rounds(user)
    round_ = None if "pick" in request.GET else next(
        (r for r in rounds if r.id == _int(request.session.get("sample_round_id"))), None)
    if round_ is None:
        return render(request, "web/testing/sample.html", {"rounds": rounds, "round": None})
    return render(request, "web/testing/sample.html",
                  _sample_page_context(request, round_, request.GET.get("tube", "")))


def _person_ref(raw: str, by: str) -> dict:
    value = (raw or "").strip()
    if not value:
        raise ValidationFailed(field="person", code="required", message_zh="请扫描个人码或输入证件号码",
                               message_en="scan a personal code or type an ID number")
    if by == "id" or ID_NUMBER.fullmatch(value.upper()):
        return {"id_number": value}
    return {"person_token": person_token_from(value)}


@login_required
@require_POST
def sample_add(request):
    """One person into the tube (htmx): tube_fill with that person; a retry adds nobody twice."""
    user = request.user
    barcode = request.POST.get("barcode", "").strip()
    try:
        require(user, Capability.SAMPLE_RECORD, "采样登记", "record samples")
        round_ = _sampling_round(user, request.POST.get("round_id"))
    except DomainError as exc:
        return _sample_refused(request, exc)
    raw, by = request.POST.get("person", ""), request.POST.get("by", "code")
    site_id = _int(request.session.get("sample_site_id"))
    try:
        result = tube_fill(actor=user, round_id=round_.id, barcode=barcode, people=[_person_ref(raw, by)],
                           site_id=site_id if _sites(user).filter(id=site_id).exists() else None)
    except DomainError as exc:
        context = _sample_page_context(request, round_, barcode, error=_err(exc), person=raw, by=by)
        return _render_sample(request, context, status=exc.status)
    tube = result.tube
    if result.added:
        member = tube.members.filter(person_id=result.added[0], removed_at__isnull=True).select_related("person") \
            .first()
        notice = gettext("已加入第 %(n)s 位：%(name)s") % {"n": member.position, "name": mask_name(member.person.name)}
    else:
        notice = gettext("此人已在本管中，未重复登记")
    return _render_sample(request, _sample_page_context(request, round_, barcode, notice=notice))


def _tube_action(request, action):
    user = request.user
    barcode = request.POST.get("barcode", "").strip()
    try:
        require(user, Capability.SAMPLE_RECORD, "采样登记", "record samples")
        round_ = _sampling_round(user, request.POST.get("round_id"))
    except DomainError as exc:
        return _sample_refused(request, exc)
    try:
        if not Tube.objects.filter(barcode=barcode, round=round_).exists():
            raise NotFound("采样管", "tube", field="barcode")
        notice = action(user, barcode)
    except DomainError as exc:
        return _render_sample(request, _sample_page_context(request, round_, barcode, error=_err(exc)),
                              status=exc.status)
    return _render_sample(request, _sample_page_context(request, round_, barcode, notice=notice))


@login_required
@require_POST
def sample_remove(request):
    """A wrong person out of the open tube, with the reason (kept in the tube's history and the audit log)."""
    def remove(user, barcode):
        member = tube_member_remove(actor=user, barcode=barcode, person_id=_int(request.POST.get("person_id")) or 0,
                                    reason=request.POST.get("reason", ""))
        return gettext("已移出第 %(n)s 位") % {"n": member.position}

    return _tube_action(request, remove)


@login_required
@require_POST
def sample_close(request):
    def close(user, barcode):
        tube_close(actor=user, barcode=barcode)
        return gettext("已封管")

    return _tube_action(request, close)


@login_required
@require_POST
def sample_pack(request):
    """Closed tubes into a box for a lab, handed to the courier."""
    user = request.user
    try:
        require(user, Capability.SAMPLE_RECORD, "转运样本", "send samples")
        round_ = _sampling_round(user, request.POST.get("round_id"))
    except DomainError as exc:
        return _error_page(request, exc)
    barcodes = [b.strip() for b in request.POST.get("barcodes", "").splitlines() if b.strip()]
    try:
        lab = _labs(user).filter(id=_int(request.POST.get("lab_id")) or 0).first()
        if lab is None:
            raise NotFound("实验室", "lab", field="lab_id")
        batch = batch_pack(actor=user, code=request.POST.get("code", ""), lab_id=lab.id, barcodes=barcodes,
                           site_id=_int(request.session.get("sample_site_id")),
                           courier=request.POST.get("courier", "").strip(),
                           courier_mobile=request.POST.get("courier_mobile", "").strip())
    except DomainError as exc:
        context = _sample_page_context(request, round_, request.POST.get("tube", ""), pack_error=_err(exc),
                                       pack_values=request.POST)
        return render(request, "web/testing/sample.html", context, status=exc.status)
    messages.success(request, gettext("已装箱 %(code)s：%(n)s 管，送 %(lab)s") % {
        "code": batch.code, "n": len(barcodes), "lab": lab.name})
    return redirect(reverse("testing_sample"))


# ---- the lab ----------------------------------------------------------------------------------------------------


def _labs(user):
    """Labs in the jurisdiction or serving it (a county lab serves the townships under it)."""
    path = jurisdiction_path(user)
    above = Area.ancestor_paths(path) if path != "~" else []
    return Lab.objects.filter(Q(area__path__startswith=path) | Q(area__path__in=above)).order_by("name")


def _require_lab(user) -> None:
    _require_any(user, (Capability.LAB_RESULT, Capability.RESULT_REVIEW), "查看实验室工作台", "open the lab page")


def _file_rows(files) -> list[dict]:
    counts: dict[int, dict] = {}
    for file_id, result, n in (TubeResult.objects.filter(source_file__in=[f.id for f in files])
                               .values_list("source_file", "result").annotate(n=Count("id"))):
        counts.setdefault(file_id, {})[result] = n
    en = _en()
    rows = []
    for f in files:
        errors = [{**e, "msg": e.get("en") if en else e.get("zh"), "other": e.get("zh") if en else e.get("en")}
                  for e in f.errors]
        by_result = counts.get(f.id, {})
        rows.append({"file": f, "errors": errors, "rows": len(f.rows), "applied": f.applied or None,
                     "results": [{"label": label, "n": by_result.get(value, 0), "value": value}
                                 for value, label in Result.choices if by_result.get(value)]})
    return rows


def _lab_context(request, **extra) -> dict:
    user = request.user
    labs = list(_labs(user))
    focus = _int(request.GET.get("file"))
    files = LabResultFile.objects.filter(lab__in=labs).select_related("lab", "uploaded_by", "reviewed_by")
    pending = list(files.filter(state=ResultFileState.PENDING).order_by("id"))
    reviewed = list(files.exclude(state=ResultFileState.PENDING).order_by("-id")[:FILES_SHOWN])
    if focus and not any(f.id == focus for f in pending + reviewed):
        reviewed += list(files.filter(id=focus).exclude(state=ResultFileState.PENDING))
    rows = _file_rows(pending + reviewed)
    just = next((r for r in rows if r["file"].id == focus and r["file"].state != ResultFileState.PENDING), None)
    box = None
    code = request.GET.get("box", "").strip()
    if code:
        box = TransportBatch.objects.filter(code=code, lab__in=labs).select_related("lab").first()
    values = {"lab_id": str(box.lab_id)} if box else {}  # the lab that just received a box uploads its results
    return {"labs": labs, "values": values, "pending_files": [r for r in rows if r["file"].state == ResultFileState.PENDING],
            "just": just, "reviewed": [r for r in rows if r["file"].state != ResultFileState.PENDING and r is not just],
            "box": box, "box_tubes": box.tubes.count() if box else 0, "focus": focus,
            "can_receive": user.can(Capability.LAB_RESULT), "can_review": user.can(Capability.RESULT_REVIEW),
            "pending": ResultFileState.PENDING, **extra}


@login_required
@require_GET
def lab_page(request):
    """/testing/lab/: receive boxes, upload result files, review them."""
    try:
        _require_lab(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/testing/lab.html", _lab_context(request))


@login_required
@require_POST
def lab_receive(request):
    try:
        require(request.user, Capability.LAB_RESULT, "接收样本", "receive samples")
    except DomainError as exc:
        return _error_page(request, exc)
    code = request.POST.get("code", "").strip()
    barcodes = [b.strip() for b in request.POST.get("barcodes", "").splitlines() if b.strip()]
    try:
        if not code:
            raise ValidationFailed(field="code", code="required", message_zh="请填写箱号",
                                   message_en="box code is required")
        if not TransportBatch.objects.filter(code=code, lab__in=_labs(request.user)).exists():
            raise NotFound("转运箱", "transport box", field="code")
        batch = batch_receive(actor=request.user, code=code, barcodes=barcodes)
    except DomainError as exc:
        return render(request, "web/testing/lab.html",
                      _lab_context(request, receive_error=_err(exc), values=request.POST), status=exc.status)
    messages.success(request, gettext("已接收 %(code)s") % {"code": batch.code})
    return redirect(reverse("testing_lab") + f"?box={batch.code}")


@login_required
@require_POST
def lab_upload(request):
    user = request.user
    try:
        require(user, Capability.LAB_RESULT, "上报检测结果", "report results")
    except DomainError as exc:
        return _error_page(request, exc)
    upload = request.FILES.get("file")
    try:
        lab = _labs(user).filter(id=_int(request.POST.get("lab_id")) or 0).first()
        if lab is None:
            raise NotFound("实验室", "lab", field="lab_id")
        if upload is None:
            raise ValidationFailed(field="file", code="required", message_zh="请选择结果文件（CSV或Excel）",
                                   message_en="choose a results file (CSV or Excel)")
        staged = results_stage(actor=user, lab_id=lab.id, upload=upload, file_name=upload.name)
    except DomainError as exc:
        return render(request, "web/testing/lab.html",
                      _lab_context(request, upload_error=_err(exc), values=request.POST), status=exc.status)
    messages.success(request, gettext("已上传 %(name)s：有效 %(rows)s 行，错误 %(errors)s 行，待审核发布") % {
        "name": staged.file_name, "rows": len(staged.rows), "errors": len(staged.errors)})
    return redirect(reverse("testing_lab") + f"?file={staged.id}#file-{staged.id}")


@login_required
@require_POST
def lab_review(request, file_id: int):
    user = request.user
    accept = request.POST.get("accept") == "1"
    try:
        require(user, Capability.RESULT_REVIEW, "审核检测结果", "review results")
        if not LabResultFile.objects.filter(id=file_id, lab__in=_labs(user)).exists():
            raise NotFound("结果文件", "result file", field="file_id")
    except DomainError as exc:
        return _error_page(request, exc)
    note = request.POST.get("note", "").strip()
    try:
        if not accept and not note:
            raise ValidationFailed(field="note", code="required", message_zh="退回时请填写审核意见",
                                   message_en="give a note when sending a file back")
        staged, _ = results_review(actor=user, file_id=file_id, accept=accept, note=note)
    except DomainError as exc:
        return render(request, "web/testing/lab.html",
                      _lab_context(request, review_error=_err(exc)), status=exc.status)
    if accept:
        messages.success(request, gettext("已审核发布 %(name)s") % {"name": staged.file_name})
    else:
        messages.success(request, gettext("已退回 %(name)s") % {"name": staged.file_name})
    return redirect(reverse("testing_lab") + f"?file={staged.id}#file-{staged.id}")

