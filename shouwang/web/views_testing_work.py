"""Mass testing work pages: a round's exemptions (免检, with the form HQ records them on), the rechecks due (单采复核,
each sampled at home in a single tube from its row) and one tube's file (members in order, the result history with
corrections, and the correction form).

Thin views, as in views_testing: they parse the form, call one selector or service of shouwang.testing, and render.
Errors keep both languages; lists mask names and ID numbers; opening a tube's members is logged in the audit log.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import parse_resident_id
from shouwang.testing import selectors
from shouwang.testing.enums import (
    ExemptReason,
    PersonRoundState,
    PoolMode,
    RecheckState,
    Result,
    RoundState,
    TubePurpose,
    TubeState,
)
from shouwang.testing.models import TestingRound, Tube
from shouwang.testing.services import exemption_add, result_correct, round_visible, tube_fill
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_testing import (
    REMOVE_REASONS,
    _err,
    _hx,
    _int,
    _label,
    _require_any,
    _visible_round,
    _where,
)

EXEMPTIONS_SHOWN = 500
NOTE_MAX = 200  # Exemption.note
# Errors of exemption_add (and of finding the person) shown under the form field they concern; any other, or one
# listing items, above the form.
EXEMPTION_FIELDS = {"id_number": "id_number", "person_id": "id_number", "person": "id_number",
                    "reason": "reason", "note": "note"}
CORRECTION_FIELDS = {"result": "result", "reason": "reason"}


def _form_field(exc: DomainError, fields: dict[str, str]) -> str:
    return fields.get(exc.field or "", "form") if not exc.details else "form"


def _where_with_room(areas_by_person) -> dict:
    """Where each (person, area) lives: the grid, the place under it and the household's room."""
    where = _where(list({area.id: area for _person, area in areas_by_person}.values()))
    out = {}
    for person, area in areas_by_person:
        room = person.household.room if person.household_id else ""
        out[person.id] = f"{where[area.id]} {room}".strip()
    return out


# ---- exemptions ---------------------------------------------------------------------------------------------------


def _exemptions_context(request, round_: TestingRound, **extra) -> dict:
    user = request.user
    qs = selectors.exemptions_visible(round_=round_, user=user)
    counts = selectors.exemption_counts(round_=round_, user=user)
    exemptions = list(qs[:EXEMPTIONS_SHOWN])
    where = _where_with_room([(e.person, e.person.area) for e in exemptions])
    rows = [{"exemption": e, "name": mask_name(e.person.name), "id_number": mask_id_number(e.person.id_number),
             "where": where[e.person_id], "reason": _label(ExemptReason, e.reason), "note": e.note,
             "by": e.recorded_by, "at": e.updated_at, "door": e.reason == ExemptReason.DOOR_TO_DOOR}
            for e in exemptions]
    total = sum(counts.values())
    return {"round": round_, "rows": rows, "total": total, "shown": len(rows),
            "reasons": [{"value": value, "label": label, "n": counts.get(value, 0)}
                        for value, label in ExemptReason.choices],
            "reason_choices": ExemptReason.choices, "can_manage": user.can(Capability.ROUND_MANAGE),
            "errors": {}, "values": {}, "note_max": NOTE_MAX, **extra}


def _exemption_from_form(request, round_: TestingRound, errors: dict):
    """The form's exemption recorded through exemption_add; the errors by field otherwise (and None)."""
    user = request.user
    post = request.POST
    reason, note = post.get("reason", ""), post.get("note", "").strip()
    person = None
    try:
        number = parse_resident_id(post.get("id_number", ""), field="id_number", today=clock.today()).number
        person = selectors.person_by_id_number(user=user, id_number=number)
    except DomainError as exc:
        errors["id_number"] = exc
    if reason not in ExemptReason.values:
        errors["reason"] = ValidationFailed(field="reason", code="invalid_choice", message_zh="请选择免检原因",
                                            message_en="choose the reason for the exemption")
    if len(note) > NOTE_MAX:
        errors["note"] = ValidationFailed(field="note", code="too_long", message_zh=f"说明不能超过{NOTE_MAX}字",
                                          message_en=f"the note is at most {NOTE_MAX} characters")
    if errors:
        return None, False
    existed = selectors.exemptions_visible(round_=round_, user=user).filter(person=person).exists()
    try:
        exemption = exemption_add(actor=user, round_id=round_.id, person_id=person.id, reason=reason, note=note)
    except DomainError as exc:
        errors[_form_field(exc, EXEMPTION_FIELDS)] = exc
        return None, False
    return exemption, existed


@login_required
def exemptions_page(request, round_id: int):
    """/testing/rounds/<id>/exemptions/: the round's exemptions in the jurisdiction (masked), counted per reason;
    HQ records one by the person's ID number."""
    user = request.user
    try:
        round_ = _visible_round(request, round_id)
    except DomainError as exc:
        return _error_page(request, exc)
    if request.method != "POST":
        return render(request, "web/testing/exemptions.html", _exemptions_context(request, round_))
    try:
        require(user, Capability.ROUND_MANAGE, "登记免检", "record exemptions")
    except DomainError as exc:
        return _error_page(request, exc)
    errors: dict[str, DomainError] = {}
    exemption, existed = _exemption_from_form(request, round_, errors)
    if exemption is not None:
        done = gettext("已更新免检登记：%(name)s，%(reason)s") if existed else gettext("已登记免检：%(name)s，%(reason)s")
        messages.success(request, done % {"name": mask_name(exemption.person.name),
                                          "reason": _label(ExemptReason, exemption.reason)})
        return redirect("testing_exemptions", round_id=round_.id)
    status = next(iter(errors.values())).status if len(errors) == 1 else 422
    context = _exemptions_context(request, round_, errors={k: _err(e) for k, e in errors.items()},
                                  values=request.POST)
    return render(request, "web/testing/exemptions.html", context, status=status)


# ---- rechecks -------------------------------------------------------------------------------------------------------


def _require_rechecks(user) -> None:
    _require_any(user, (Capability.TESTING_VIEW, Capability.SAMPLE_RECORD), "查看待复核人员", "view the rechecks due")


def _can_open_tubes(user) -> bool:
    return user.can(Capability.TESTING_VIEW) or user.can(Capability.RESULT_REVIEW)


def _recheck_rows(tasks) -> list[dict]:
    now = clock.now()
    where = _where_with_room([(t.person, t.area) for t in tasks])
    return [{"task": t, "name": mask_name(t.person.name), "id_number": mask_id_number(t.person.id_number),
             "where": where[t.person_id], "state": _label(RecheckState, t.state),
             "open": t.state == RecheckState.OPEN, "overdue": t.state == RecheckState.OPEN and t.due_at < now}
            for t in tasks]


def _recheck_flags(user, round_: TestingRound) -> dict:
    return {"round": round_, "can_sample": user.can(Capability.SAMPLE_RECORD) and round_.state == RoundState.SAMPLING,
            "can_open_tubes": _can_open_tubes(user), "can_view_round": user.can(Capability.TESTING_VIEW)}


def _rechecks_context(request, round_: TestingRound, failed: dict | None = None) -> dict:
    user = request.user
    rows = _recheck_rows(selectors.rechecks_due(round_=round_, user=user))
    for row in rows:
        if failed and row["task"].id == failed["task_id"]:
            row.update(error=failed["error"], barcode=failed["barcode"])
    return {**_recheck_flags(user, round_), "rows": rows, "overdue": sum(r["overdue"] for r in rows),
            "open": sum(r["open"] for r in rows), "sampled": sum(not r["open"] for r in rows),
            "sampling": round_.state == RoundState.SAMPLING}


@login_required
@require_GET
def rechecks_page(request, round_id: int):
    """/testing/rounds/<id>/rechecks/: the people of positive pools to sample again alone at home (单采复核), due
    first; a sampler records each one's single tube from its row."""
    try:
        _require_rechecks(request.user)
        round_ = round_visible(user=request.user, round_id=round_id)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/testing/rechecks.html", _rechecks_context(request, round_))


def _recheck_refused(request, round_id: int, exc: DomainError):
    """Refused before the row can be shown (the right, the round or the task is gone): htmx reloads the list with
    the message; a plain request gets the error page."""
    if _hx(request) and exc.status != 403:
        messages.error(request, f"{_err(exc)['msg']} · {_err(exc)['other']}")
        response = HttpResponse(status=200)
        response["HX-Redirect"] = reverse("testing_rechecks", args=[round_id])
        return response
    return _error_page(request, exc)


@login_required
@require_POST
def recheck_sample(request, round_id: int, task_id: int):
    """The door-to-door single tube of one recheck: tube_fill with that person alone, purpose recheck, closed at
    once; the task becomes sampled with the tube. htmx swaps the row; a plain form reloads the list."""
    user = request.user
    try:
        require(user, Capability.SAMPLE_RECORD, "采样登记", "record samples")
        round_ = round_visible(user=user, round_id=round_id)
        task = selectors.recheck_task_visible(round_=round_, user=user, task_id=task_id)
    except DomainError as exc:
        return _recheck_refused(request, round_id, exc)
    barcode = request.POST.get("barcode", "").strip()
    try:
        tube_fill(actor=user, round_id=round_.id, barcode=barcode, people=[{"id_number": task.person.id_number}],
                  purpose=TubePurpose.RECHECK, close=True)
    except DomainError as exc:
        failed = {"task_id": task.id, "error": _err(exc), "barcode": barcode}
        if _hx(request):  # htmx swaps only 2xx: the error is in the row
            row = {**_recheck_rows([task])[0], "error": failed["error"], "barcode": barcode}
            return render(request, "web/testing/_recheck_row.html", {**_recheck_flags(user, round_), "r": row})
        return render(request, "web/testing/rechecks.html", _rechecks_context(request, round_, failed),
                      status=exc.status)
    task = selectors.recheck_task_visible(round_=round_, user=user, task_id=task.id)
    if _hx(request):
        row = {**_recheck_rows([task])[0], "just": True}
        return render(request, "web/testing/_recheck_row.html", {**_recheck_flags(user, round_), "r": row})
    messages.success(request, gettext("已采样 %(name)s，管码 %(barcode)s") % {
        "name": mask_name(task.person.name), "barcode": task.tube.barcode if task.tube else barcode})
    return redirect(reverse("testing_rechecks", args=[round_.id]) + f"#recheck-{task.id}")


# ---- a tube -----------------------------------------------------------------------------------------------------


def _require_tubes(user) -> None:
    """Tubes are opened by those who follow the testing (testing.view) and by the lab's reviewers, who correct
    results from the tube's page."""
    _require_any(user, (Capability.TESTING_VIEW, Capability.RESULT_REVIEW), "查看采样管", "view tubes")


def _result_rows(results) -> list[dict]:
    number = {r.id: i for i, r in enumerate(results, start=1)}
    superseded_by = {r.supersedes_id: r.id for r in results if r.supersedes_id}
    return [{"r": r, "n": number[r.id], "label": _label(Result, r.result), "value": r.result,
             "supersedes": number.get(r.supersedes_id), "superseded_by": number.get(superseded_by.get(r.id)),
             "superseded": r.id in superseded_by, "file": r.source_file.file_name if r.source_file else ""}
            for r in results]


def _tube_context(request, tube: Tube, **extra) -> dict:
    """The tube's file, read once per page shown: the read of its members is logged."""
    user = request.user
    detail = selectors.tube_detail(tube)
    reasons = dict(REMOVE_REASONS)
    where = _where_with_room([(m.person, m.person.area) for m in detail.members])
    members = []
    for m in detail.members:
        task = detail.rechecks.get(m.person_id)
        state = detail.states.get(m.person_id)
        members.append({"position": m.position, "name": mask_name(m.person.name),
                        "id_number": mask_id_number(m.person.id_number), "where": where[m.person_id],
                        "removed": m.removed_at is not None, "removed_at": m.removed_at, "removed_by": m.removed_by,
                        "reason": str(reasons.get(m.removed_reason, m.removed_reason)),
                        "state": _label(PersonRoundState, state) if state else "", "state_value": state or "",
                        "recheck": task, "recheck_state": _label(RecheckState, task.state) if task else ""})
    results = _result_rows(detail.results)
    current = next((row for row in reversed(results) if not row["superseded"]), None)
    present = sum(not m["removed"] for m in members)
    audit_record(actor=user, action=AuditAction.VIEW, obj=tube, row_count=len(members), ip_address=_ip(request),
                 summary=f"查看采样管 {tube.barcode}（{present}人）", query={"barcode": tube.barcode})
    return {"tube": tube, "round": tube.round, "purpose": _label(TubePurpose, tube.purpose),
            "mode": _label(PoolMode, tube.pool_mode), "state": _label(TubeState, tube.state),
            "members": members, "present": present, "removed": len(members) - present, "results": results,
            "current": current, "source": detail.source, "rechecks": len(detail.rechecks),
            "rechecks_sampled": sum(t.state != RecheckState.OPEN for t in detail.rechecks.values()),
            "can_correct": user.can(Capability.RESULT_REVIEW), "result_choices": Result.choices,
            "can_view_round": user.can(Capability.TESTING_VIEW), "correct_errors": {}, "values": {}, **extra}


@login_required
@require_GET
def tube_detail(request, barcode: str):
    """/testing/tubes/<barcode>/: the tube, its members in order (masked; taken out ones struck through), the box
    and lab, and every result reported for it (corrections with their reason and the result they replace)."""
    try:
        _require_tubes(request.user)
        tube = selectors.tube_visible(user=request.user, barcode=barcode)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/testing/tube.html", _tube_context(request, tube))


@login_required
@require_POST
def tube_correct(request, barcode: str):
    """A reviewer corrects the tube's result (result_correct: a new row that supersedes the current one)."""
    user = request.user
    try:
        require(user, Capability.RESULT_REVIEW, "更正检测结果", "correct results")
        tube = selectors.tube_visible(user=user, barcode=barcode)
    except DomainError as exc:
        return _error_page(request, exc)
    old = _label(Result, tube.result) if tube.result else ""
    try:
        corrected = result_correct(actor=user, barcode=tube.barcode, result=request.POST.get("result", ""),
                                   reason=request.POST.get("reason", ""))
    except DomainError as exc:
        context = _tube_context(request, tube, correct_errors={_form_field(exc, CORRECTION_FIELDS): _err(exc)},
                                values=request.POST)
        return render(request, "web/testing/tube.html", context, status=exc.status)
    messages.success(request, gettext("已更正检测结果：%(old)s → %(new)s") % {
        "old": old, "new": _label(Result, corrected.result)})
    return redirect(reverse("testing_tube", args=[tube.barcode]) + "#results")


@login_required
@require_GET
def tube_find(request):
    """/testing/tubes/?barcode=…: go to a tube by its barcode (scanned or typed)."""
    try:
        _require_tubes(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    barcode = request.GET.get("barcode", "").strip()
    round_id = _int(request.GET.get("round"))
    if not barcode:
        return render(request, "web/testing/tube_find.html", {"barcode": "", "round_id": round_id})
    try:
        tube = selectors.tube_visible(user=request.user, barcode=barcode)
    except DomainError as exc:
        return render(request, "web/testing/tube_find.html",
                      {"barcode": barcode, "round_id": round_id, "error": _err(exc)}, status=exc.status)
    return redirect("testing_tube", barcode=tube.barcode)
