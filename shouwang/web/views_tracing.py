"""Investigation and tracing (流调溯源) pages: the case list with the report form, a case's file (the 24-hour
investigation clock, the look-back window, the itinerary, the proposed contacts to accept or reject, the contacts
through their states, the manual contact form, transmission links, the case's course), the transmission chains
with each chain's graph, and the tracer's work list.

Thin views, as in views_testing: they parse the form, call one service or selector of shouwang.tracing, and
render. Errors keep both languages and are shown under the field they concern; names and ID numbers are masked;
opening a case's file is logged in the audit log (it lists the case's contacts)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.areas.selectors import grid_names
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import parse_resident_id
from shouwang.tracing import page_reads, selectors
from shouwang.tracing.enums import (
    CASE_NEXT,
    CONTACT_NEXT,
    CONTROLLED_STATES,
    LIVE_CONTACT_STATES,
    CaseState,
    Classification,
    ClinicalType,
    Confidence,
    ContactKind,
    ContactState,
    Criterion,
    FoundBy,
    FoundVia,
    InvestigationState,
    Origin,
    Setting,
)
from shouwang.tracing.models import Case, Contact, ExposureEvent
from shouwang.tracing.services import (
    CaseInput,
    case_create,
    case_update,
    cluster_save,
    contact_add,
    contact_advance,
    contacts_decide,
    event_add,
    event_remove,
    investigation_update,
    link_add,
    window,
)
from shouwang.web.views import _error_page, _ip
from shouwang.web.views_testing import _en, _err, _hx, _int, _label, _parse_local

CASES_PER_PAGE = 50
# The order contacts are listed in on a case's page: live ones first, in the order they move.
STATE_ORDER = {s: i for i, s in enumerate((
    ContactState.PROPOSED, ContactState.IDENTIFIED, ContactState.NOTIFIED, ContactState.TRANSFERRED,
    ContactState.UNDER_MEASURE, ContactState.RELEASED, ContactState.BECAME_CASE, ContactState.REJECTED))}
# Errors of the services (and of finding the person or case) shown under the field they concern; "form" above it.
REPORT_FIELDS = {"id_number": "id_number", "person_id": "id_number", "person": "id_number", "found_by": "found_by",
                 "classification": "classification", "clinical_type": "clinical_type", "onset_date": "onset_date",
                 "sampling_date": "sampling_date", "isolated_on": "isolated_on", "origin": "origin"}
CONTACT_FIELDS = {"id_number": "id_number", "person_id": "id_number", "kind": "kind", "setting": "setting",
                  "criterion": "criterion", "last_exposure": "last_exposure", "evidence": "evidence",
                  "via_contact_id": "via_contact_id"}
EVENT_FIELDS = {"starts_at": "starts_at", "ends_at": "ends_at", "place": "place"}
LINK_FIELDS = {"code": "infector_code", "infector": "infector_code", "case_id": "infector_code",
               "infectee": "infector_code", "setting": "setting", "confidence": "confidence"}
UPDATE_FIELDS = {"state": "state", "classification": "classification", "clinical_type": "clinical_type",
                 "onset_date": "onset_date", "isolated_on": "isolated_on", "note": "note"}
CHAIN_CODES = ("self_link", "duplicate_link", "cycle", "two_infectors")  # messages naming cases by id
NODE_COLOURS = {"case": "#c62828", "close": "#ef6c00", "secondary": "#f9a825", "controlled": "#9e9e9e"}


def _require_view(user) -> None:
    require(user, Capability.TRACING_VIEW, "查看病例和密接", "view cases and contacts")


def _field(exc: DomainError, fields: dict[str, str]) -> str:
    return fields.get(exc.field or "", "form")


def _status(errors: dict[str, DomainError]) -> int:
    return next(iter(errors.values())).status if len(errors) == 1 else 422


def _parse_date(raw: str, field: str, *, required: bool = False) -> dt.date | None:
    value = (raw or "").strip()
    if not value:
        if required:
            raise ValidationFailed(field=field, code="required", message_zh="请填写日期",
                                   message_en="enter the date")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(field=field, code="invalid", message_zh="请填写日期，如 2022-07-15",
                               message_en="enter a date, e.g. 2022-07-15") from None


def _person_by_id(raw: str, *, user=None):
    number = parse_resident_id(raw, field="id_number", today=clock.today()).number
    return page_reads.person_by_id_number(number, user=user)


def _where(areas) -> dict[int, str]:
    grids = grid_names(areas)
    return {a.id: grids.get(a.id) or a.name for a in areas}


def _clock(case: Case, now: dt.datetime) -> dict:
    """The investigation's 24-hour clock: done, hours (or minutes) left, or hours (or minutes) overdue."""
    inv = getattr(case, "investigation", None)
    if inv is None:
        return {"state": "none"}
    if inv.state == InvestigationState.DONE:
        return {"state": "done", "at": inv.closed_at, "due": inv.due_at}
    seconds = (inv.due_at - now).total_seconds()
    late = seconds < 0
    seconds = abs(seconds)
    return {"state": "overdue" if late else "open", "hours": int(seconds // 3600), "minutes": int(seconds // 60),
            "due": inv.due_at}


def _state_counts(counts: dict[str, int]) -> list[dict]:
    return [{"value": s, "label": _label(ContactState, s), "n": counts[s]}
            for s in sorted(counts, key=lambda s: STATE_ORDER.get(s, 99)) if counts[s]]


def _visible_path(user):
    path = jurisdiction_path(user)
    return lambda area: area is not None and area.path.startswith(path)


# ---- the case list and the report form ---------------------------------------------------------------------------


def _case_rows(cases: list[Case]) -> list[dict]:
    now = clock.now()
    where = _where(list({c.area_id: c.area for c in cases}.values()))
    counts = selectors.contact_counts([c.id for c in cases])
    rows = []
    for c in cases:
        rows.append({"case": c, "name": mask_name(c.person.name), "where": where[c.area_id],
                     "found_by": _label(FoundBy, c.found_by), "classification": _label(Classification,
                                                                                      c.classification),
                     "clinical_type": _label(ClinicalType, c.clinical_type) if c.clinical_type else "",
                     "state": _label(CaseState, c.state), "clock": _clock(c, now),
                     "contacts": _state_counts(counts.get(c.id, {}))})
    return rows


def _report_defaults() -> dict:
    return {"classification": Classification.PENDING, "sampling_date": clock.today().isoformat(),
            "found_by": ""}


def _cases_context(request, **extra) -> dict:
    user = request.user
    state = request.GET.get("state", "")
    state = state if state in CaseState.values else ""
    q = request.GET.get("q", "").strip()[:40]
    page = Paginator(selectors.cases_visible(user, state=state, q=q), CASES_PER_PAGE).get_page(
        request.GET.get("page"))
    query = {k: v for k, v in (("state", state), ("q", q)) if v}
    return {"page": page, "rows": _case_rows(list(page.object_list)), "state": state, "q": q,
            "query": urlencode(query),
            "state_choices": CaseState.choices, "found_by_choices": FoundBy.choices,
            "classification_choices": Classification.choices, "clinical_type_choices": ClinicalType.choices,
            "can_report": user.can(Capability.CASE_MANAGE), "errors": {}, "values": _report_defaults(), **extra}


def _report_from_form(request, errors: dict):
    """The form's case reported through case_create; the errors by field otherwise (and None)."""
    post = request.POST
    person = None
    try:
        person = _person_by_id(post.get("id_number", ""), user=request.user)
    except DomainError as exc:
        errors["id_number"] = exc
    dates = {}
    for name, required in (("onset_date", False), ("sampling_date", True), ("isolated_on", False)):
        try:
            dates[name] = _parse_date(post.get(name, ""), name, required=required)
        except DomainError as exc:
            errors[name] = exc
    for name, choices, zh, en in (("found_by", FoundBy, "请选择发现途径", "choose how the case was found"),
                                  ("classification", Classification, "请选择诊断分类", "choose the classification")):
        if post.get(name, "") not in choices.values:
            errors[name] = ValidationFailed(field=name, code="invalid_choice", message_zh=zh, message_en=en)
    clinical_type = post.get("clinical_type", "")
    if clinical_type and clinical_type not in ClinicalType.values:
        errors["clinical_type"] = ValidationFailed(field="clinical_type", code="invalid_choice",
                                                   message_zh="请选择临床分型", message_en="choose the clinical type")
    if errors:
        return None
    data = CaseInput(person_id=person.id, found_by=post["found_by"], classification=post["classification"],
                     clinical_type=clinical_type, onset_date=dates["onset_date"],
                     sampling_date=dates["sampling_date"], isolated_on=dates["isolated_on"])
    try:
        return case_create(actor=request.user, data=data)
    except DomainError as exc:
        if exc.status == 403:
            raise
        errors[_field(exc, REPORT_FIELDS)] = exc
        return None


@login_required
def case_list(request):
    """/tracing/: the cases of the jurisdiction, newest report first, with the investigation clock and their
    contacts per state; filtered by state and code or name. HQ and the task force report a case."""
    user = request.user
    try:
        _require_view(user)
    except DomainError as exc:
        return _error_page(request, exc)
    if request.method != "POST":
        return render(request, "web/tracing/cases.html", _cases_context(request))
    errors: dict[str, DomainError] = {}
    try:
        require(user, Capability.CASE_MANAGE, "报告病例", "report cases")
        report = _report_from_form(request, errors)
    except DomainError as exc:
        return _error_page(request, exc)
    if report is not None:
        messages.success(request, gettext("已报告病例 %(code)s：行程 %(events)s 条，待确认密接 %(proposed)s 人") % {
            "code": report.case.code, "events": report.events, "proposed": report.proposed})
        return redirect("tracing_case", case_id=report.case.id)
    context = _cases_context(request, errors={k: _err(e) for k, e in errors.items()}, values=request.POST)
    return render(request, "web/tracing/cases.html", context, status=_status(errors))


# ---- a case's file -----------------------------------------------------------------------------------------------


def _exposure_row(e, case: Case) -> dict:
    return {"found_via": _label(FoundVia, e.found_via), "found_via_value": e.found_via,
            "criterion": _label(Criterion, e.criterion), "criterion_value": e.criterion,
            "setting": _label(Setting, e.setting), "evidence": e.evidence, "last_exposure": e.last_exposure,
            "other_case": e.case if e.case_id != case.id else None,
            "via": mask_name(e.source_contact.person.name) if e.source_contact_id else ""}


def _contact_rows(contacts: list[Contact], case: Case) -> list[dict]:
    exposures = page_reads.exposures_by_contact([c.id for c in contacts])
    where = _where(list({c.area_id: c.area for c in contacts}.values()))
    rows = []
    for c in contacts:
        mine = [e for e in exposures.get(c.id, []) if e.case_id == case.id] or exposures.get(c.id, [])
        rows.append({"c": c, "name": mask_name(c.person.name), "id_number": mask_id_number(c.person.id_number),
                     "where": where[c.area_id], "kind": _label(ContactKind, c.kind),
                     "state": _label(ContactState, c.state),
                     "exposures": [_exposure_row(e, case) for e in mine],
                     "via": mask_name(c.via.person.name) if c.via_id else "",
                     "other_case": c.case if c.case_id != case.id else None,
                     "reclassified": _label(ContactKind, c.reclassified_from) if c.reclassified_from else "",
                     "next": [{"value": s, "label": _label(ContactState, s)} for s in CONTACT_NEXT[c.state]
                              if s not in (ContactState.IDENTIFIED, ContactState.REJECTED)]})
    return rows


def _contacts_context(request, case: Case, **extra) -> dict:
    user = request.user
    contacts = sorted(selectors.contacts_visible(user, case_id=case.id),
                      key=lambda c: (STATE_ORDER.get(c.state, 99), c.kind, -c.last_exposure.toordinal(), c.id))
    rows = _contact_rows(contacts, case)
    proposed = [r for r in rows if r["c"].state == ContactState.PROPOSED]
    decided = [r for r in rows if r["c"].state != ContactState.PROPOSED]
    counts: dict[str, int] = {}
    for r in decided:
        counts[r["c"].state] = counts.get(r["c"].state, 0) + 1
    return {"case": case, "proposed": proposed, "decided": decided, "decided_counts": _state_counts(counts),
            "close_contacts": [r for r in decided if r["c"].kind == ContactKind.CLOSE
                               and r["c"].state in LIVE_CONTACT_STATES and r["c"].case_id == case.id],
            "can_trace": user.can(Capability.TRACE), "decide_error": None, "decide_note": "", "done": "",
            "advance_error": None, "advance_id": None, "checked": [], **extra}


def _link_rows(case: Case, visible) -> dict:
    infected_by, infected = selectors.case_links(case)

    def row(link, other):
        return {"link": link, "case": other, "link_ok": visible(other.area),
                "setting": _label(Setting, link.setting), "confidence": _label(Confidence, link.confidence)}

    return {"infected_by": row(infected_by, infected_by.infector) if infected_by else None,
            "infected": [row(x, x.infectee) for x in infected]}


def _case_context(request, case: Case, **extra) -> dict:
    """The case's file, read once per page shown: the read (with its contacts) is logged."""
    user = request.user
    now = clock.now()
    lookback = window(case)
    en = _en()
    inv = case.investigation
    contacts = _contacts_context(request, case)
    links = _link_rows(case, _visible_path(user))
    in_chain = links["infected_by"] is not None or bool(links["infected"])
    shown = len(contacts["proposed"]) + len(contacts["decided"])
    audit_record(actor=user, action=AuditAction.VIEW, obj=case, row_count=shown, ip_address=_ip(request),
                 summary=f"查看病例 {case.code}（密接{shown}人）")
    context = {
        **contacts, **links, "inv": inv, "clock": _clock(case, now), "in_chain": in_chain,
        "name": mask_name(case.person.name), "id_number": mask_id_number(case.person.id_number),
        "where": _where([case.area])[case.area_id], "found_by": _label(FoundBy, case.found_by),
        "classification": _label(Classification, case.classification),
        "clinical_type": _label(ClinicalType, case.clinical_type) if case.clinical_type else "",
        "state": _label(CaseState, case.state), "origin": _label(Origin, case.origin),
        "inv_state": _label(InvestigationState, inv.state),
        "lookback": lookback, "because": [{"rule": b.rule, "text": b.en if en else b.zh} for b in lookback.because],
        "events": list(inv.events.filter(removed_at__isnull=True)),
        "can_manage": user.can(Capability.CASE_MANAGE), "can_trace": user.can(Capability.TRACE),
        "next_states": [(s, _label(CaseState, s)) for s in CASE_NEXT[case.state]],
        "kind_choices": ContactKind.choices, "setting_choices": Setting.choices,
        "criterion_choices": Criterion.choices, "confidence_choices": Confidence.choices,
        "classification_choices": Classification.choices, "clinical_type_choices": ClinicalType.choices,
        "contact_errors": {}, "contact_values": {"kind": ContactKind.CLOSE,
                                                 "last_exposure": lookback.end.isoformat()},
        "event_errors": {}, "event_values": {}, "link_errors": {}, "link_values": {"confidence": Confidence.PROBABLE},
        "update_errors": {}, "update_values": {}, "inv_errors": {},
    }
    context.update(extra)
    return context


def _visible_case(request, case_id: int) -> Case:
    _require_view(request.user)
    return selectors.case_visible(request.user, case_id)


@login_required
@require_GET
def case_file(request, case_id: int):
    """/tracing/cases/<id>/: the case's file."""
    try:
        case = _visible_case(request, case_id)
    except DomainError as exc:
        return _error_page(request, exc)
    return render(request, "web/tracing/case.html", _case_context(request, case))


def _case_url(case: Case, anchor: str = "") -> str:
    return reverse("tracing_case", args=[case.id]) + (f"#{anchor}" if anchor else "")


def _case_action(request, case_id: int, capability, zh: str, en: str):
    """The case of a POST and the right to change it; a DomainError answers for both."""
    case = _visible_case(request, case_id)
    require(request.user, capability, zh, en)
    return case


def _contacts_answer(request, case: Case, *, error_key: str = "", error=None, done: str = "", **extra):
    """After a decision or a step: htmx swaps the contacts section (errors inside it, 200: htmx swaps only 2xx);
    a plain form goes back to the case's page (or shows it with the error)."""
    if _hx(request):
        context = _contacts_context(request, case, done=done, **extra)
        if error is not None:
            context[error_key] = _err(error)
        return render(request, "web/tracing/_contacts.html", context)
    if error is None:
        messages.success(request, done)
        return redirect(_case_url(case, "contacts"))
    context = _case_context(request, case, **extra)
    context[error_key] = _err(error)
    return render(request, "web/tracing/case.html", context, status=error.status)


@login_required
@require_POST
def contacts_decide_view(request, case_id: int):
    """Accept the checked proposals as contacts, or reject them with a reason (contacts_decide)."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "确认密接", "decide on proposed contacts")
    except DomainError as exc:
        return _error_page(request, exc)
    mine = set(selectors.contacts_visible(request.user, case_id=case.id).values_list("id", flat=True))
    ids = [i for i in (_int(x) for x in request.POST.getlist("contact_ids")) if i in mine]
    accept = request.POST.get("decision") != "reject"
    note = request.POST.get("note", "").strip()
    try:
        report = contacts_decide(actor=request.user, contact_ids=ids, accept=accept, note=note)
    except DomainError as exc:
        return _contacts_answer(request, case, error_key="decide_error", error=exc, decide_note=note,
                                checked=ids)
    if accept:
        done = gettext("已确认密接 %(n)s 人") % {"n": report.accepted}
        if report.secondary_proposed:
            done += gettext("，新增待确认次密接 %(n)s 人") % {"n": report.secondary_proposed}
    else:
        done = gettext("已排除 %(n)s 人：%(why)s") % {"n": report.rejected, "why": note}
    return _contacts_answer(request, case, done=done)


@login_required
@require_POST
def contact_advance_view(request, case_id: int, contact_id: int):
    """One contact's next state (notified → transferred → under measure → released)."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "更新密接状态", "update contacts")
    except DomainError as exc:
        return _error_page(request, exc)
    contact = selectors.contacts_visible(request.user, case_id=case.id).filter(id=contact_id).first()
    state = request.POST.get("state", "")
    try:
        if contact is None:
            raise NotFound("密接", "contact", field="contact_id")
        contact = contact_advance(actor=request.user, contact_id=contact.id, state=state)
    except DomainError as exc:
        return _contacts_answer(request, case, error_key="advance_error", error=exc, advance_id=contact_id)
    done = gettext("%(name)s：%(state)s") % {"name": mask_name(contact.person.name),
                                           "state": _label(ContactState, contact.state)}
    return _contacts_answer(request, case, done=done, advance_id=contact.id)


def _render_case_errors(request, case: Case, key: str, errors: dict[str, DomainError]):
    context = _case_context(request, case, **{f"{key}_errors": {k: _err(e) for k, e in errors.items()},
                                              f"{key}_values": request.POST})
    return render(request, "web/tracing/case.html", context, status=_status(errors))


@login_required
@require_POST
def contact_add_view(request, case_id: int):
    """A contact the tracer judged (contact_add): found by ID number anywhere in the registry, identified at once."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "判定密接", "identify contacts")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    errors: dict[str, DomainError] = {}
    person = last = None
    try:
        person = _person_by_id(post.get("id_number", ""))
    except DomainError as exc:
        errors["id_number"] = exc
    try:
        last = _parse_date(post.get("last_exposure", ""), "last_exposure", required=True)
    except DomainError as exc:
        errors["last_exposure"] = exc
    kind = post.get("kind", ContactKind.CLOSE)
    evidence = post.get("evidence", "").strip()
    if len(evidence) > 500:
        errors["evidence"] = ValidationFailed(field="evidence", code="too_long", message_zh="依据不能超过500字",
                                              message_en="the evidence is at most 500 characters")
    if not errors:
        try:
            contact = contact_add(actor=request.user, case_id=case.id, person_id=person.id, kind=kind,
                                  setting=post.get("setting", ""), criterion=post.get("criterion", ""),
                                  last_exposure=last, evidence=evidence,
                                  via_contact_id=_int(post.get("via_contact_id")) if kind == ContactKind.SECONDARY
                                  else None)
        except DomainError as exc:
            if exc.status == 403:
                return _error_page(request, exc)
            errors[_field(exc, CONTACT_FIELDS)] = exc
    if errors:
        return _render_case_errors(request, case, "contact", errors)
    messages.success(request, gettext("已判定%(kind)s：%(name)s，预计 %(release)s 解除") % {
        "kind": _label(ContactKind, contact.kind), "name": mask_name(contact.person.name),
        "release": contact.release_on.isoformat() if contact.release_on else "—"})
    return redirect(_case_url(case, f"contact-{contact.id}"))


@login_required
@require_POST
def event_remove_view(request, case_id: int, event_id: int):
    """Take a stop out of the itinerary, with the reason (event_remove)."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "填写行程", "edit itineraries")
        if not ExposureEvent.objects.filter(id=event_id, investigation__case=case).exists():
            raise NotFound("行程", "itinerary stop", field="event_id")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        event_remove(actor=request.user, event_id=event_id, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        if exc.status in (403, 404):
            return _error_page(request, exc)
        return _render_case_errors(request, case, "event", {"form": exc})
    messages.success(request, gettext("已删除行程"))
    return redirect(_case_url(case, "itinerary"))


@login_required
@require_POST
def event_add_view(request, case_id: int):
    """One stop of the itinerary the tracer learned from the interview (event_add)."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "填写行程", "edit itineraries")
    except DomainError as exc:
        return _error_page(request, exc)
    errors: dict[str, DomainError] = {}
    times = {}
    for name in ("starts_at", "ends_at"):
        try:
            times[name] = _parse_local(request.POST.get(name, ""), name)
        except DomainError as exc:
            errors[name] = exc
    if not errors:
        try:
            event_add(actor=request.user, case_id=case.id, starts_at=times["starts_at"], ends_at=times["ends_at"],
                      place=request.POST.get("place", ""), activity=request.POST.get("activity", ""),
                      people_present=request.POST.get("people_present", ""))
        except DomainError as exc:
            if exc.status == 403:
                return _error_page(request, exc)
            errors[_field(exc, EVENT_FIELDS)] = exc
    if errors:
        return _render_case_errors(request, case, "event", errors)
    messages.success(request, gettext("已添加行程"))
    return redirect(_case_url(case, "itinerary"))


def _with_codes(exc: DomainError) -> DomainError:
    """The chain module names cases by id (病例 12 已在病例 10 的下游（10 → 11 → 12）): name them by code, and drop
    the machine details the page would show as empty items."""
    if exc.code not in CHAIN_CODES:
        return exc
    codes = dict(Case.objects.filter(id__in=[int(n) for n in re.findall(r"\d+", exc.message_en)])
                 .values_list("id", "code"))

    def named(text: str) -> str:
        return re.sub(r"\d+", lambda m: codes.get(int(m.group()), m.group()), text)

    return DomainError(code=exc.code, message_zh=named(exc.message_zh), message_en=named(exc.message_en),
                       field=exc.field, status=exc.status)


@login_required
@require_POST
def link_add_view(request, case_id: int):
    """infector (by case code) → this case (link_add: no cycle, one infector, a possible onset)."""
    try:
        case = _case_action(request, case_id, Capability.CASE_MANAGE, "维护传播链", "edit transmission links")
    except DomainError as exc:
        return _error_page(request, exc)
    errors: dict[str, DomainError] = {}
    try:
        infector = page_reads.case_by_code(request.user, request.POST.get("infector_code", ""))
        link = link_add(actor=request.user, infector_id=infector.id, infectee_id=case.id,
                        setting=request.POST.get("setting", Setting.OTHER),
                        confidence=request.POST.get("confidence", Confidence.PROBABLE),
                        evidence=request.POST.get("evidence", ""))
    except DomainError as exc:
        if exc.status == 403:
            return _error_page(request, exc)
        errors[_field(exc, LINK_FIELDS)] = _with_codes(exc)
    if errors:
        return _render_case_errors(request, case, "link", errors)
    messages.success(request, gettext("已添加传播关系 %(a)s → %(b)s") % {"a": link.infector.code, "b": case.code})
    return redirect(_case_url(case, "links"))


@login_required
@require_POST
def case_update_view(request, case_id: int):
    """The case's course and diagnosis (case_update): state, classification, clinical type, dates, lineage."""
    try:
        case = _case_action(request, case_id, Capability.CASE_MANAGE, "更新病例", "update cases")
    except DomainError as exc:
        return _error_page(request, exc)
    post = request.POST
    errors: dict[str, DomainError] = {}
    dates = {}
    for name in ("onset_date", "isolated_on"):
        try:
            dates[name] = _parse_date(post.get(name, ""), name)
        except DomainError as exc:
            errors[name] = exc
    if not errors:
        try:
            case_update(actor=request.user, case_id=case.id, state=post.get("state") or None,
                        classification=post.get("classification") or None,
                        clinical_type=post.get("clinical_type", "") if "clinical_type" in post else None,
                        onset_date=dates["onset_date"], isolated_on=dates["isolated_on"],
                        lineage=post.get("lineage") if "lineage" in post else None, note=post.get("note", ""))
        except DomainError as exc:
            if exc.status == 403:
                return _error_page(request, exc)
            errors[_field(exc, UPDATE_FIELDS)] = exc
    if errors:
        return _render_case_errors(request, case, "update", errors)
    messages.success(request, gettext("已更新病例 %(code)s") % {"code": case.code})
    return redirect(_case_url(case))


@login_required
@require_POST
def investigation_view(request, case_id: int):
    """The investigation done (its clock stops) or opened again."""
    try:
        case = _case_action(request, case_id, Capability.TRACE, "开展流调", "investigate")
        inv = investigation_update(actor=request.user, case_id=case.id, done=request.POST.get("done") == "1",
                                   team=request.POST.get("team") if "team" in request.POST else None)
    except DomainError as exc:
        return _error_page(request, exc)
    messages.success(request, gettext("流调已完成") if inv.state == InvestigationState.DONE else gettext("流调已重新打开"))
    return redirect(_case_url(case))


# ---- chains --------------------------------------------------------------------------------------------------


def _chain_target(view: selectors.ChainView, visible) -> Case | None:
    """The case a chain's link opens: its root, or the first case of the user's jurisdiction."""
    if visible(view.root.area):
        return view.root
    return next((c for c in view.cases if visible(c.area)), None)


@login_required
@require_GET
def chain_list(request):
    """/tracing/chains/: the transmission chains holding a case of the jurisdiction, closed when every contact of
    their cases is under control; the clusters (聚集性疫情) below."""
    return chain_list_page(request)


def chain_list_page(request, *, status: int = 200, **extra):
    try:
        _require_view(request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    visible = _visible_path(request.user)
    rows = [{"v": v, "target": _chain_target(v, visible), "root_visible": visible(v.root.area)}
            for v in selectors.chains_visible(request.user)]
    linked = [r for r in rows if r["v"].size > 1]
    return render(request, "web/tracing/chains.html", {
        "rows": rows, "linked": len(linked), "single": len(rows) - len(linked),
        "open": sum(not r["v"].closed for r in rows), **_cluster_context(request, **extra)}, status=status)


def _cluster_context(request, **extra) -> dict:
    visible = _visible_path(request.user)
    clusters = [{"v": v, "cases": [{"case": c, "visible": visible(c.area)} for c in v.cases],
                 "setting": _label(Setting, v.cluster.setting)} for v in selectors.clusters_visible(request.user)]
    return {"clusters": clusters, "setting_choices": Setting.choices,
            "can_cluster": request.user.can(Capability.CASE_MANAGE), "cluster_values": {}, "cluster_errors": {},
            **extra}


@login_required
@require_POST
def cluster_add(request):
    """A cluster from the chains page: a name, the setting, the case codes (separated by spaces, commas or 、)."""
    post = request.POST
    values = {k: post.get(k, "").strip() for k in ("name", "setting", "codes", "note")}
    try:
        require(request.user, Capability.CASE_MANAGE, "标记聚集性疫情", "record clusters")
    except DomainError as exc:
        return _error_page(request, exc)
    try:
        codes = [c for c in re.split(r"[\s,，、;；]+", values["codes"]) if c]
        ids = []
        for code in codes:
            try:
                ids.append(page_reads.case_by_code(request.user, code).id)
            except NotFound:
                raise ValidationFailed(field="case_ids", code="unknown_case", message_zh=f"辖区内没有病例 {code}",
                                       message_en=f"no case {code} in your jurisdiction") from None
        cluster = cluster_save(actor=request.user, name=values["name"], setting=values["setting"], case_ids=ids,
                               note=values["note"])
    except DomainError as exc:
        error = _err(exc)
        field = exc.field if exc.field in ("name", "setting", "case_ids") else "form"
        return chain_list_page(request, status=exc.status, cluster_values=values, cluster_errors={field: error})
    messages.success(request, gettext("已标记聚集性疫情 %(name)s") % {"name": cluster.name})
    return redirect(reverse("tracing_chains") + "#clusters")


def _graph(view: selectors.ChainView, graph: dict) -> tuple[dict, list[dict]]:
    """ECharts' nodes (layered by generation: x by generation, y in order under the same parent) and the table of
    the same nodes."""
    nodes, edges = graph["nodes"], graph["edges"]
    parent = {e["target"]: e["source"] for e in edges}
    order: dict[str, int] = {}
    columns: dict[int, list[dict]] = {}
    for n in sorted(nodes, key=lambda n: (n["generation"], n["kind"] != "case")):
        columns.setdefault(n["generation"], []).append(n)
    for gen in sorted(columns):
        columns[gen].sort(key=lambda n: (order.get(parent.get(n["id"], ""), -1), n["kind"] != "case",
                                         n["kind"], n["id"]))
        for i, n in enumerate(columns[gen]):
            order[n["id"]] = i
    rows_per_column = 18
    out, table = [], []
    names = {n["id"]: n["label"] for n in nodes}
    x_of = {}
    x = 0
    for gen in sorted(columns):
        x_of[gen] = x
        x += 1 + (len(columns[gen]) - 1) // rows_per_column
    for n in nodes:
        kind = n["kind"]
        state = n["state"]
        controlled = kind != "case" and state in CONTROLLED_STATES
        colour = NODE_COLOURS["controlled" if controlled else kind]
        i = order[n["id"]]
        item = {"id": n["id"], "name": n["label"], "kind": kind, "generation": n["generation"],
                "col": x_of[n["generation"]] + i // rows_per_column, "row": i % rows_per_column,
                "symbolSize": (34 if n["generation"] == 1 else 28) if kind == "case" else 16,
                "itemStyle": {"color": colour, "opacity": 0.5 if state == ContactState.PROPOSED else 1},
                "state": _label(CaseState if kind == "case" else ContactState, state),
                "kindLabel": gettext("病例") if kind == "case" else _label(ContactKind, kind)}
        if kind == "case":
            item["url"] = reverse("tracing_case", args=[n["case_id"]])
        out.append(item)
        table.append({**item, "controlled": controlled, "colour": colour, "case_id": n.get("case_id"),
                      "from": names.get(parent.get(n["id"], ""), ""),
                      "classification": _label(Classification, n["classification"]) if kind == "case" else ""})
    table.sort(key=lambda r: (r["generation"], r["kind"] != "case", r["kind"], order[r["id"]]))
    data = {"nodes": out, "edges": [{"source": e["source"], "target": e["target"], "kind": e["kind"]}
                                    for e in edges],
            "legend": {"case": gettext("病例"), "close": _label(ContactKind, ContactKind.CLOSE),
                       "secondary": _label(ContactKind, ContactKind.SECONDARY), "controlled": gettext("已管控"),
                       "proposed": gettext("浅色为待确认")},
            "colours": NODE_COLOURS}
    return data, table


@login_required
@require_GET
def chain_graph(request, case_id: int):
    """/tracing/cases/<id>/chain/: the chain of this case as a graph (cases in red by generation, close contacts in
    orange, secondary ones in yellow, contacts under control in grey) and as a table of the same nodes."""
    try:
        _require_view(request.user)
        view = selectors.chain_of(request.user, case_id)
    except DomainError as exc:
        return _error_page(request, exc)
    data, table = _graph(view, selectors.chain_graph(view, en=_en()))
    visible = _visible_path(request.user)
    for row in table:
        if row["kind"] == "case":
            row["link"] = visible(next(c.area for c in view.cases if c.id == row["case_id"]))
    rows = max(n["row"] for n in data["nodes"]) + 1
    height = max(320, 46 * rows + 80)
    return render(request, "web/tracing/chain.html", {
        "v": view, "case_id": case_id, "graph": data, "table": table, "height": height,
        "cases": sum(1 for r in table if r["kind"] == "case"),
        "close": sum(1 for r in table if r["kind"] == ContactKind.CLOSE),
        "secondary": sum(1 for r in table if r["kind"] == ContactKind.SECONDARY),
        "controlled": sum(1 for r in table if r["controlled"])})


# ---- the tracer's work list ------------------------------------------------------------------------------------


@login_required
@require_GET
def work_list(request):
    """/tracing/work/: what is late or waiting: investigations past their 24 hours, proposals to decide, contacts
    not notified yet, close contacts past the transfer limit. Each row links to the case to act on."""
    user = request.user
    try:
        _require_view(user)
    except DomainError as exc:
        return _error_page(request, exc)
    work = selectors.work_list(user)
    visible = _visible_path(user)
    now = work.now

    def contact_row(c: Contact, overdue_after: int = 0) -> dict:
        hours = selectors.hours_since(c.identified_at, now) if c.identified_at else 0
        return {"c": c, "name": mask_name(c.person.name), "id_number": mask_id_number(c.person.id_number),
                "kind": _label(ContactKind, c.kind), "state": _label(ContactState, c.state),
                "case_link": visible(c.case.area), "hours": hours,
                "overdue": round(hours - overdue_after, 1) if overdue_after else 0}

    overdue = [{"case": c, "name": mask_name(c.person.name), "clock": _clock(c, now),
                "classification": _label(Classification, c.classification)} for c in work.overdue_investigations]
    cases_of = {c.id: c for c, _n in work.to_decide}
    areas = dict(Case.objects.filter(id__in=list(cases_of)).select_related("area").values_list("id", "area__path"))
    path = jurisdiction_path(user)
    to_decide = [{"case": c, "n": n, "name": mask_name(c.person.name), "link": areas.get(c.id, "").startswith(path)}
                 for c, n in work.to_decide]
    return render(request, "web/tracing/work.html", {
        "work": work, "overdue": overdue, "to_decide": to_decide,
        "open": [{"case": c, "name": mask_name(c.person.name), "clock": _clock(c, now)}
                 for c in work.open_investigations],
        "uncontacted": [contact_row(c) for c in work.uncontacted],
        "transfer_overdue": [contact_row(c, work.transfer_hours) for c in work.transfer_overdue],
        "proposed_total": sum(n for _c, n in work.to_decide), "now": timezone.localtime(now)})
