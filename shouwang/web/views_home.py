"""Home quarantine pages (居家隔离“五包一”): the board of the jurisdiction's home stays (the team complete or the roles
missing, the seal, today's visits, the last supervisor check, open alerts and needs; the supervisor's random sample
for the day's unannounced checks) and a person's home file (the plan's dates and test days, the five with their
phones, the team form with the policy's roles in order, the seal and its actions, the visit form and history).

Thin views, as in views_tracing: they parse the form, call one function of shouwang.quarantine.home and render.
Errors keep both languages and are shown under the field they concern; the person's name and ID number are masked
(the team's phones are staff phones, shown in full); opening a file is logged by home_file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.policy.rules.model import MEASURES
from shouwang.quarantine.enums import (
    OPEN_STAY_STATES,
    AlertKind,
    ChangeKind,
    NeedKind,
    NeedState,
    SealKind,
    SealState,
    StayState,
    VisitKind,
)
from shouwang.quarantine.home import (
    SUPERVISOR_VISITS,
    TEAM_VISITS,
    board_areas,
    home_board,
    home_file,
    role_label,
    seal_set,
    supervisor_sample,
    team_assign,
    visit_record,
)
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_testing import _en, _err, _int, _label

TEST_KINDS = {"pcr": ("核酸", "PCR"), "antigen": ("抗原", "antigen")}
SEAL_ACTIONS = {"install": SealState.INTACT, "opened": SealState.OPENED, "remove": SealState.REMOVED}
VISIT_FIELDS = ("kind", "person_present", "seal_intact", "at")
SEAL_FIELDS = ("kind", "reason", "state")
MAX_ROWS = 12  # team rows read from a form


def _require_view(user) -> None:
    require(user, Capability.QUARANTINE_VIEW, "查看隔离管控人员", "view people under measures")


def _measure(value: str) -> str:
    names = MEASURES.get(value)
    return (names[1] if _en() else names[0]) if names else value


def _role(value: str) -> str:
    return role_label(value, en=_en()) if value else ""


# ---- the board -------------------------------------------------------------------------------------------------


def _board_row(r) -> dict:
    return {"r": r, "measure": _measure(r.measure),
            "missing": [_role(x) for x in r.missing],
            "seal": _label(SealState, r.seal_state), "seal_kind": _label(SealKind, r.seal_kind) if r.seal_kind else "",
            "visited": [{**v, "role": _role(v["role"]), "kind": _label(VisitKind, v["kind"])} for v in r.visited],
            "alerts": [_label(AlertKind, a.kind) for a in r.alerts],
            "needs": [n.detail for n in r.needs]}


@login_required
def home_board_page(request):
    """/quarantine/home/: the active home stays of the jurisdiction (filtered by a township or grid), and for a
    supervisor the day's random sample of homes to check."""
    user = request.user
    try:
        _require_view(user)
    except DomainError as exc:
        return _error_page(request, exc)
    day = clock.today()
    area_id = _int(request.GET.get("area"))
    try:
        rows = home_board(user, day=day, area_id=area_id)
    except DomainError:  # an area outside the jurisdiction: the whole board
        area_id, rows = None, home_board(user, day=day)
    sample = []
    if user.can(Capability.SUPERVISE):
        sample = [{"stay": s, "name": mask_name(s.person.name), "address": s.home_address,
                   "measure": _measure(s.measure)} for s in supervisor_sample(user, day=day)]
    return render(request, "web/quarantine/home_board.html", {
        "rows": [_board_row(r) for r in rows], "day": day, "areas": board_areas(user), "area_id": area_id,
        "sample": sample, "can_supervise": user.can(Capability.SUPERVISE),
        "incomplete": sum(1 for r in rows if r.missing), "unvisited": sum(1 for r in rows if not r.visited),
        "with_alerts": sum(1 for r in rows if r.alerts)})


# ---- a person's home file ----------------------------------------------------------------------------------------


def _team_rows(file, post=None, errors: dict | None = None) -> list[dict]:
    """One row per role of the policy, in its order: the member's name, phone and login (or what was sent)."""
    members = {m.role: m for m in file.team}
    errors = errors or {}
    rows = []
    for i, role in enumerate(file.roles):
        m = members.get(role)
        if post is not None:
            values = {"name": post.get(f"name_{i}", ""), "phone": post.get(f"phone_{i}", ""),
                      "user_id": post.get(f"user_{i}", "")}
        else:
            values = {"name": m.name if m else "", "phone": m.phone if m else "",
                      "user_id": str(m.user_id) if m and m.user_id else ""}
        rows.append({"i": i, "role": role, "label": _role(role), **values,
                     "errors": {k: errors.get(f"members[{i}].{k}") for k in ("name", "phone", "user_id")}})
    return rows


def _change_row(c) -> dict:
    if c.kind == ChangeKind.RESPONSIBLE:
        after = "、".join(f"{_role(m['role'])} {m['name']}" for m in c.after.get("team", []))
        return {"c": c, "kind": _label(ChangeKind, c.kind), "after": after}
    state = c.after.get("seal_state", "")
    kind = c.after.get("seal_kind", "")
    return {"c": c, "kind": _label(ChangeKind, c.kind),
            "after": " ".join(x for x in (_label(SealKind, kind) if kind else "", _label(SealState, state)) if x)}


def _file_context(request, file, **extra) -> dict:
    user = request.user
    stay = file.stay
    day = clock.today()
    en = _en()
    visit_kinds = ([k for k in TEAM_VISITS if user.can(Capability.MONITOR_RECORD)]
                   + [k for k in SUPERVISOR_VISITS if user.can(Capability.SUPERVISE)])
    installed = stay.seal_state in (SealState.INTACT, SealState.OPENED)
    context = {
        "file": file, "stay": stay, "name": mask_name(stay.person.name),
        "id_number": mask_id_number(stay.person.id_number), "measure": _measure(stay.measure),
        "state": _label(StayState, stay.state),
        "day_n": (day - stay.starts_on).days + 1,
        "days": (stay.ends_on - stay.starts_on).days + 1 if stay.ends_on else None,
        "tests": [{"date": t["date"], "day": t["day"], "kind": TEST_KINDS.get(t["kind"], (t["kind"],) * 2)[en],
                   "past": t["date"] < day.isoformat()} for t in stay.test_days],
        "team": [{"m": m, "label": _role(m.role)} for m in file.team],
        "missing": [_role(r) for r in file.missing],
        "team_rows": _team_rows(file), "candidates": file.candidates,
        "seal": _label(SealState, stay.seal_state), "seal_kind": _label(SealKind, stay.seal_kind) if stay.seal_kind
        else "", "installed": installed, "seal_kinds": SealKind.choices,
        "visits": [{"v": v, "kind": _label(VisitKind, v.kind), "role": _role(v.role)} for v in file.visits],
        "changes": [_change_row(c) for c in file.changes],
        "alerts": [{"a": a, "kind": _label(AlertKind, a.kind)} for a in file.alerts],
        "needs": [{"n": n, "kind": _label(NeedKind, n.kind), "state": _label(NeedState, n.state)} for n in file.needs],
        "visit_kinds": [(k, _label(VisitKind, k)) for k in visit_kinds],
        "can_manage": user.can(Capability.HOME_MANAGE),
        "can_report_seal": user.can(Capability.HOME_MANAGE) or user.can(Capability.MONITOR_RECORD),
        "active": stay.state == StayState.ACTIVE, "open": stay.state in OPEN_STAY_STATES,
        "errors": {}, "values": {}, "form": "",
    }
    context.update(extra)
    return context


def _team_post(request, stay_id: int) -> None:
    """The rows as sent (role_i, name_i, phone_i, user_i, i from 0): a form older than a policy change is refused
    by the service naming the roles, not silently re-labelled."""
    post = request.POST
    sent = [post.get(f"role_{i}", "") for i in range(MAX_ROWS) if f"role_{i}" in post]
    members = [{"role": role, "name": post.get(f"name_{i}", ""), "phone": post.get(f"phone_{i}", ""),
                "user_id": post.get(f"user_{i}", "") or None} for i, role in enumerate(sent)]
    team_assign(actor=request.user, stay_id=stay_id, members=members, reason=post.get("reason", ""))


def _seal_post(request, stay_id: int) -> str:
    post = request.POST
    action = post.get("action", "")
    if action not in SEAL_ACTIONS:
        raise ValidationFailed(field="state", code="invalid_choice", message_zh="请选择安装、报告异常或拆除",
                               message_en="choose install, report opened or remove")
    seal_set(actor=request.user, stay_id=stay_id, kind=post.get("kind", ""), state=SEAL_ACTIONS[action],
             reason=post.get("reason", ""))
    return action


def _yes_no(raw: str, field: str, *, required: bool) -> bool | None:
    if raw in ("yes", "no"):
        return raw == "yes"
    if required:
        raise ValidationFailed(field=field, code="required", message_zh="请选择", message_en="choose one")
    return None


def _visit_post(request, stay_id: int) -> None:
    post = request.POST
    visit_record(actor=request.user, stay_id=stay_id, kind=post.get("kind", ""),
                 person_present=_yes_no(post.get("person_present", ""), "person_present", required=True),
                 seal_intact=_yes_no(post.get("seal_intact", ""), "seal_intact", required=False),
                 deliveries_needed=post.get("deliveries_needed", ""), note=post.get("note", ""))


DONE = {"team": _("已保存“五包一”责任人"), "install": _("已安装门磁/封条"), "opened": _("已报告门磁/封条异常"),
        "remove": _("已拆除门磁/封条"), "visit": _("已登记查看情况")}


@login_required
def home_stay_page(request, stay_id: int):
    """/quarantine/home/<stay_id>/: the person's home file; POST form=team|seal|visit saves one of its forms (the
    file is read, and its reading logged, only to show it: after a save the page redirects to itself)."""
    user = request.user
    if request.method != "POST":
        try:
            file = home_file(user, stay_id, ip_address=_ip(request))
        except DomainError as exc:
            return _error_page(request, exc)
        return render(request, "web/quarantine/home_stay.html", _file_context(request, file))
    form = request.POST.get("form", "")
    try:
        _require_view(user)
        if form == "team":
            _team_post(request, stay_id)
            done = "team"
        elif form == "seal":
            done = _seal_post(request, stay_id)
        elif form == "visit":
            _visit_post(request, stay_id)
            done = "visit"
        else:
            raise ValidationFailed(field="form", code="invalid_choice", message_zh="未知的表单", message_en="unknown form")
    except DomainError as exc:
        if exc.status in (403, 404):
            return _error_page(request, exc)
        try:
            file = home_file(user, stay_id, ip_address=_ip(request))
        except DomainError as missing:
            return _error_page(request, missing)
        return _form_error(request, file, form, exc)
    messages.success(request, str(DONE[done]))
    return redirect("quarantine_home_stay", stay_id=stay_id)


def _form_error(request, file, form: str, exc: DomainError):
    """The file again with the form's values and its errors under their fields (the form's own errors above it)."""
    fields = {}
    if form == "team":
        by_field = {d["field"]: d for d in exc.details if d.get("field")} or {exc.field: None}
        for name in by_field:
            if name and name.startswith("members["):
                sub = ValidationFailed(field=name, code=(by_field[name] or {}).get("code", exc.code),
                                       message_zh=(by_field[name] or {}).get("zh", exc.message_zh),
                                       message_en=(by_field[name] or {}).get("en", exc.message_en))
                fields[name] = _err(sub)
        top = {**_err(exc), "details": []}
        if fields:
            top = {**top, "msg": gettext("请改正下面标红的项目。"), "other": ""}
        context = _file_context(request, file, form="team", errors={"form": top},
                                team_rows=_team_rows(file, request.POST, fields))
    else:
        known = VISIT_FIELDS if form == "visit" else SEAL_FIELDS
        key = exc.field if exc.field in known else "form"
        context = _file_context(request, file, form=form, errors={key: _err(exc)}, values=request.POST)
    return render(request, "web/quarantine/home_stay.html", context, status=exc.status)
