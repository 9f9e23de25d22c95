"""/api/v1/tracing/…: cases (reported with their investigation, itinerary and proposed contacts), the case file,
contacts through their lifecycle, transmission links, chains with their graph, and the tracer's work list.

Everything is scoped to the user's jurisdiction by the services and selectors (a case or contact outside it answers
404). Names and ID numbers are masked, in the case file too unless `?full=true` is asked by a role with
person.view_full (as people's file decides); every open of a case file is audited (view, or view_full)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import get_language
from ninja import Field, Router, Schema, Status

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core import clock
from shouwang.core.apikit import as_json as _json
from shouwang.core.apikit import aware as _aware
from shouwang.core.apikit import choice_filter as _filter
from shouwang.core.apikit import client_ip as _ip
from shouwang.core.apikit import iso as _iso
from shouwang.core.apikit import one_of as _one_of
from shouwang.core.errors import ValidationFailed
from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_id_number, mask_mobile, mask_name
from shouwang.tracing import api_reads, selectors
from shouwang.tracing.enums import (
    CaseState,
    Classification,
    ClinicalType,
    Confidence,
    ContactKind,
    ContactState,
    Criterion,
    FoundBy,
    InvestigationState,
    Origin,
    Setting,
)
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
    link_remove,
    window,
)

router = Router(tags=["tracing 流调溯源"])


def _view(request) -> None:
    require(request.auth, Capability.TRACING_VIEW, "查看病例、密接和传播链", "view cases, contacts and chains")


# ---- cases -------------------------------------------------------------------------------------------------------


class CaseRowOut(Schema):
    id: int
    code: str
    person_id: int
    name: str
    area_id: int
    area_name: str
    found_by: str
    classification: str
    clinical_type: str
    onset_date: dt.date | None
    sampling_date: dt.date
    reported_at: str
    state: str
    found_in_quarantine: bool
    origin: str
    lineage: str
    investigation_state: str | None
    investigation_due_at: str | None
    overdue: bool
    contacts: dict[str, int]


def _overdue(inv, now: dt.datetime) -> bool:
    return inv is not None and inv.state == InvestigationState.OPEN and inv.due_at < now


def case_row(case, counts: dict[str, int], now: dt.datetime, *, name: str | None = None) -> dict:
    inv = api_reads.investigation_of(case)
    return {"id": case.id, "code": case.code, "person_id": case.person_id,
            "name": name if name is not None else mask_name(case.person.name), "area_id": case.area_id,
            "area_name": case.area.name, "found_by": case.found_by, "classification": case.classification,
            "clinical_type": case.clinical_type, "onset_date": case.onset_date, "sampling_date": case.sampling_date,
            "reported_at": _iso(case.reported_at), "state": case.state,
            "found_in_quarantine": case.found_in_quarantine, "origin": case.origin, "lineage": case.lineage,
            "investigation_state": inv.state if inv else None, "investigation_due_at": _iso(inv.due_at) if inv else None,
            "overdue": _overdue(inv, now), "contacts": counts}


def _case_row_of(user, case_id: int) -> dict:
    case = selectors.case_visible(user, case_id)
    return case_row(case, selectors.contact_counts([case.id]).get(case.id, {}), clock.now())


@router.get("/tracing/cases", response=list[CaseRowOut],
            summary="病例列表 Cases in your jurisdiction, newest report first (names masked), with the investigation "
                    "clock and contacts per state")
def cases(request, state: str = "", q: str = "", active: bool = False, limit: int = 500):
    _view(request)
    _filter(state, CaseState, "state", "病例状态", "case state")
    qs = selectors.cases_visible(request.auth, state=state, q=q.strip(), active=active)
    rows = list(qs[:max(1, min(limit, 2000))])
    counts = selectors.contact_counts([c.id for c in rows])
    now = clock.now()
    return [case_row(c, counts.get(c.id, {}), now) for c in rows]


class CaseIn(Schema):
    person_id: int
    found_by: str = Field(description=_one_of(FoundBy))
    sampling_date: dt.date
    classification: str = Field(Classification.PENDING.value, description=_one_of(Classification))
    clinical_type: str = Field("", description="confirmed cases only; " + _one_of(ClinicalType))
    onset_date: dt.date | None = None
    reported_at: dt.datetime | None = None
    found_in_quarantine: bool = False
    origin: str = Field(Origin.LOCAL.value, description=_one_of(Origin))
    lineage: str = ""
    isolated_on: dt.date | None = None
    source_ref: str = ""
    propose_contacts: bool = True


class CaseReportOut(Schema):
    case: CaseRowOut
    events: int
    proposed: int
    reclassified: int


@router.post("/tracing/cases", response={201: CaseReportOut, 200: CaseReportOut},
             summary="报告病例 Report a case: the investigation opens with its 24-hour clock, the itinerary is "
                     "pre-filled, household members and place-code companions are proposed as close contacts "
                     "(Idempotency-Key honoured)")
def create_case(request, payload: CaseIn):
    def produce():
        data = payload.dict()
        data["reported_at"] = _aware(data["reported_at"])
        report = case_create(actor=request.auth, data=CaseInput(**data))
        return 201, _json(CaseReportOut, {"case": _case_row_of(request.auth, report.case.id), "events": report.events,
                                          "proposed": report.proposed, "reclassified": report.reclassified})

    return Status(*idempotent(request, produce))


class PersonBrief(Schema):
    id: int
    name: str
    sex: str
    birth_date: dt.date | None
    id_number: str
    mobile: str
    current_address: str
    identifiers_masked: bool


class InvestigationOut(Schema):
    team: str
    assigned_to_id: int | None
    assigned_to: str | None
    opened_at: str
    due_at: str
    closed_at: str | None
    summary: str
    state: str
    overdue: bool


class EventOut(Schema):
    id: int
    starts_at: str
    ends_at: str
    place: str
    venue_id: int | None
    activity: str
    people_present: str
    source: str


class LinkOut(Schema):
    id: int
    infector_id: int
    infector_code: str
    infectee_id: int
    infectee_code: str
    setting: str
    confidence: str
    evidence: str


class CaseOut(CaseRowOut):
    person: PersonBrief
    isolated_on: dt.date | None
    source_ref: str
    state_note: str
    investigation: InvestigationOut | None
    events: list[EventOut]
    window: dict
    infected_by: LinkOut | None
    infected: list[LinkOut]


def investigation_out(inv, now: dt.datetime) -> dict:
    return {"team": inv.team, "assigned_to_id": inv.assigned_to_id,
            "assigned_to": str(inv.assigned_to) if inv.assigned_to_id else None, "opened_at": _iso(inv.opened_at),
            "due_at": _iso(inv.due_at), "closed_at": _iso(inv.closed_at), "summary": inv.summary, "state": inv.state,
            "overdue": _overdue(inv, now)}


def event_out(e) -> dict:
    return {"id": e.id, "starts_at": _iso(e.starts_at), "ends_at": _iso(e.ends_at), "place": e.place,
            "venue_id": e.venue_id, "activity": e.activity, "people_present": e.people_present, "source": e.source}


def link_out(link) -> dict:
    return {"id": link.id, "infector_id": link.infector_id, "infector_code": link.infector.code,
            "infectee_id": link.infectee_id, "infectee_code": link.infectee.code, "setting": link.setting,
            "confidence": link.confidence, "evidence": link.evidence}


@router.get("/tracing/cases/{int:case_id}", response=CaseOut,
            summary="病例档案 A case file: the person, investigation, itinerary, look-back window and links (the "
                    "read is audited; name, ID number and mobile are masked unless ?full=true is asked by a role "
                    "with person.view_full)")
def case_detail(request, case_id: int, full: bool = False):
    case, show_full = api_reads.case_file_open(actor=request.auth, case_id=case_id, full=full, ip_address=_ip(request))
    now = clock.now()
    p = case.person
    name = p.name if show_full else mask_name(p.name)
    inv = api_reads.investigation_of(case)
    infected_by, infected = selectors.case_links(case)
    return {
        **case_row(case, selectors.contact_counts([case.id]).get(case.id, {}), now, name=name),
        "person": {"id": p.id, "name": name, "sex": p.sex, "birth_date": p.birth_date,
                   "id_number": p.id_number if show_full else mask_id_number(p.id_number),
                   "mobile": p.mobile if show_full else mask_mobile(p.mobile), "current_address": p.current_address,
                   "identifiers_masked": not show_full},
        "isolated_on": case.isolated_on, "source_ref": case.source_ref, "state_note": case.state_note,
        "investigation": investigation_out(inv, now) if inv else None,
        "events": [event_out(e) for e in inv.events.filter(removed_at__isnull=True)] if inv else [],
        "window": window(case).as_dict(),
        "infected_by": link_out(infected_by) if infected_by else None,
        "infected": [link_out(x) for x in infected],
    }


class CaseUpdateIn(Schema):
    state: str | None = Field(None, description=_one_of(CaseState))
    classification: str | None = Field(None, description=_one_of(Classification))
    clinical_type: str | None = Field(None, description='"" clears it; ' + _one_of(ClinicalType))
    onset_date: dt.date | None = None
    lineage: str | None = None
    isolated_on: dt.date | None = None
    note: str = ""


@router.post("/tracing/cases/{int:case_id}", response=CaseRowOut,
             summary="更新病例 Update a case: its state (transfer, hospital, 方舱, discharge; excluding needs a "
                     "note), classification, clinical type, onset, lineage, isolation date")
def update_case(request, case_id: int, payload: CaseUpdateIn):
    case_update(actor=request.auth, case_id=case_id, **payload.dict(exclude_none=True))
    return _case_row_of(request.auth, case_id)


class InvestigationIn(Schema):
    team: str | None = None
    assigned_to_id: int | None = Field(None, description="a user who may investigate and sees the case; 0 unassigns")
    summary: str | None = None
    done: bool | None = None


@router.post("/tracing/cases/{int:case_id}/investigation", response=InvestigationOut,
             summary="流调进展 Update the investigation: team, tracer, summary, done")
def update_investigation(request, case_id: int, payload: InvestigationIn):
    if payload.assigned_to_id:
        require(request.auth, Capability.TRACE, "开展流调", "investigate")
        problem = api_reads.assignee_problem(selectors.case_visible(request.auth, case_id), payload.assigned_to_id)
        if problem is not None:
            raise ValidationFailed(field="assigned_to_id", code=f"assignee_{problem}",
                                   message_zh="流调员不存在、无流调权限或看不到此病例",
                                   message_en="the tracer does not exist, may not investigate or cannot see this case")
    inv = investigation_update(actor=request.auth, case_id=case_id, **payload.dict(exclude_none=True))
    return investigation_out(inv, clock.now())


class EventIn(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    activity: str = ""
    people_present: str = ""


@router.post("/tracing/cases/{int:case_id}/events", response={201: EventOut, 200: EventOut},
             summary="添加行程 Add a stop to the itinerary (Idempotency-Key honoured)")
def add_event(request, case_id: int, payload: EventIn):
    def produce():
        e = event_add(actor=request.auth, case_id=case_id, starts_at=_aware(payload.starts_at),
                      ends_at=_aware(payload.ends_at), place=payload.place, activity=payload.activity,
                      people_present=payload.people_present)
        return 201, _json(EventOut, event_out(e))

    return Status(*idempotent(request, produce))


# ---- contacts ----------------------------------------------------------------------------------------------------


class ExposureOut(Schema):
    case_id: int
    case_code: str
    setting: str
    criterion: str
    found_via: str
    evidence: str
    last_exposure: dt.date


class ContactOut(Schema):
    id: int
    person_id: int
    name: str
    id_number: str
    area_name: str
    kind: str
    state: str
    last_exposure: dt.date
    case_id: int
    case_code: str
    via_id: int | None
    via_name: str | None
    release_on: dt.date | None
    plan_note: str
    policy_version: str
    reclassified_from: str
    note: str
    exposures: list[ExposureOut]


def contact_out(c) -> dict:
    return {"id": c.id, "person_id": c.person_id, "name": mask_name(c.person.name),
            "id_number": mask_id_number(c.person.id_number), "area_name": c.area.name, "kind": c.kind,
            "state": c.state, "last_exposure": c.last_exposure, "case_id": c.case_id, "case_code": c.case.code,
            "via_id": c.via_id, "via_name": mask_name(c.via.person.name) if c.via_id else None,
            "release_on": c.release_on, "plan_note": c.plan_note, "policy_version": c.policy_version,
            "reclassified_from": c.reclassified_from, "note": c.note,
            "exposures": [{"case_id": x.case_id, "case_code": x.case.code, "setting": x.setting,
                           "criterion": x.criterion, "found_via": x.found_via, "evidence": x.evidence,
                           "last_exposure": x.last_exposure} for x in c.exposures.all()]}


def _contact_of(user, contact_id: int) -> dict:
    return contact_out(api_reads.with_exposures(selectors.contacts_visible(user)).get(id=contact_id))


@router.get("/tracing/contacts", response=list[ContactOut],
            summary="密接列表 Close and secondary contacts (names and ID numbers masked) with every exposure that "
                    "made them one")
def contacts(request, case_id: int | None = None, state: str = "", kind: str = "", limit: int = 500):
    _view(request)
    _filter(state, ContactState, "state", "密接状态", "contact state")
    _filter(kind, ContactKind, "kind", "密接类别", "contact kind")
    if case_id is not None:
        selectors.case_visible(request.auth, case_id)
    qs = api_reads.with_exposures(selectors.contacts_visible(request.auth, case_id=case_id, state=state, kind=kind))
    return [contact_out(c) for c in qs[:max(1, min(limit, 2000))]]


class ContactIn(Schema):
    person_id: int
    kind: str = Field(ContactKind.CLOSE.value, description=_one_of(ContactKind))
    setting: str = Field(description=_one_of(Setting))
    criterion: str = Field(description="the nine criteria of V9 §3.1, " + _one_of(Criterion))
    last_exposure: dt.date
    evidence: str = ""
    via_contact_id: int | None = Field(None, description="secondary contacts: the close contact they were exposed to")


@router.post("/tracing/cases/{int:case_id}/contacts", response={201: ContactOut, 200: ContactOut},
             summary="判定密接 A tracer's contact of this case, identified at once with its measure plan "
                     "(Idempotency-Key honoured)")
def add_contact(request, case_id: int, payload: ContactIn):
    def produce():
        c = contact_add(actor=request.auth, case_id=case_id, **payload.dict())
        return 201, _json(ContactOut, _contact_of(request.auth, c.id))

    return Status(*idempotent(request, produce))


class DecideIn(Schema):
    contact_ids: list[int]
    accept: bool
    note: str = ""


class DecideOut(Schema):
    accepted: int
    rejected: int
    secondary_proposed: int


@router.post("/tracing/contacts/decide", response=DecideOut,
             summary="确认或排除密接 Accept or reject proposed contacts, all or none (a rejection needs a note; "
                     "Idempotency-Key honoured)")
def decide(request, payload: DecideIn):
    def produce():
        r = contacts_decide(actor=request.auth, contact_ids=payload.contact_ids, accept=payload.accept,
                            note=payload.note)
        return 200, {"accepted": r.accepted, "rejected": r.rejected, "secondary_proposed": r.secondary_proposed}

    return idempotent(request, produce)[1]


class ContactStateIn(Schema):
    state: str = Field(description=_one_of(ContactState))
    note: str = ""


@router.post("/tracing/contacts/{int:contact_id}/state", response=ContactOut,
             summary="密接状态 Move a contact on: notified, transferred, under measure, released (Idempotency-Key "
                     "honoured)")
def contact_state(request, contact_id: int, payload: ContactStateIn):
    def produce():
        c = contact_advance(actor=request.auth, contact_id=contact_id, state=payload.state, note=payload.note)
        return 200, _json(ContactOut, _contact_of(request.auth, c.id))

    return idempotent(request, produce)[1]


# ---- links and chains --------------------------------------------------------------------------------------------


class LinkIn(Schema):
    infector_id: int
    infectee_id: int
    setting: str = Field(Setting.OTHER.value, description=_one_of(Setting))
    confidence: str = Field(Confidence.PROBABLE.value, description=_one_of(Confidence))
    evidence: str = ""


@router.post("/tracing/links", response={201: LinkOut, 200: LinkOut},
             summary="添加传播关系 Link infector → infectee (refused: cycle, self link, second infector, impossible "
                     "onsets; Idempotency-Key honoured)")
def add_link(request, payload: LinkIn):
    def produce():
        link = link_add(actor=request.auth, **payload.dict())
        return 201, _json(LinkOut, link_out(link))

    return Status(*idempotent(request, produce))


class RemoveLinkIn(Schema):
    reason: str


class RemovedOut(Schema):
    id: int
    removed: bool


@router.post("/tracing/links/{int:link_id}/remove", response=RemovedOut,
             summary="删除传播关系 Remove a link, with the reason (audited; Idempotency-Key honoured)")
def remove_link(request, link_id: int, payload: RemoveLinkIn):
    def produce():
        link_remove(actor=request.auth, link_id=link_id, reason=payload.reason)
        return 200, {"id": link_id, "removed": True}

    return idempotent(request, produce)[1]


class ChainCaseOut(Schema):
    id: int
    code: str
    state: str
    classification: str
    generation: int
    anchor_date: dt.date


class ChainOut(Schema):
    number: int
    root_code: str
    size: int
    max_generation: int
    first_date: dt.date | None
    latest_date: dt.date | None
    contacts: int
    open_contacts: int
    closed: bool
    active_cases: int
    case_codes: list[str]


class ChainDetailOut(ChainOut):
    cases: list[ChainCaseOut]
    links: list[LinkOut]
    graph: dict


def chain_out(v) -> dict:
    return {"number": v.number, "root_code": v.root.code, "size": v.size, "max_generation": v.max_generation,
            "first_date": v.first_date, "latest_date": v.latest_date, "contacts": v.contacts,
            "open_contacts": v.open_contacts, "closed": v.closed, "active_cases": v.active_cases,
            "case_codes": [c.code for c in v.cases]}


@router.get("/tracing/chains", response=list[ChainOut],
            summary="传播链 Chains that reach your jurisdiction (computed whole), closed when every contact is under "
                    "control")
def chains(request, min_size: int = 1):
    _view(request)
    return [chain_out(v) for v in selectors.chains_visible(request.auth, min_size=max(1, min_size))]


@router.get("/tracing/cases/{int:case_id}/chain", response=ChainDetailOut,
            summary="病例所在传播链 The chain of a case with its graph (cases by generation, contacts masked)")
def case_chain(request, case_id: int):
    _view(request)
    v = selectors.chain_of(request.auth, case_id)
    cases_by_id = {c.id: c for c in v.cases}
    links = []
    for x in v.links:  # the chain's own cases: no query per link
        x.infector, x.infectee = cases_by_id[x.infector_id], cases_by_id[x.infectee_id]
        links.append(link_out(x))
    return {**chain_out(v),
            "cases": [{"id": c.id, "code": c.code, "state": c.state, "classification": c.classification,
                       "generation": v.generation[c.id], "anchor_date": c.anchor_date} for c in v.cases],
            "links": links,
            "graph": selectors.chain_graph(v, en=(get_language() or "").startswith("en"))}


# ---- the tracer's work list -------------------------------------------------------------------------------------


class WorkCaseOut(Schema):
    case_id: int
    code: str
    name: str
    due_at: str
    hours_overdue: float  # negative: hours left


class WorkDecideOut(Schema):
    case_id: int
    code: str
    name: str
    proposed: int


class WorkContactOut(Schema):
    contact_id: int
    name: str
    kind: str
    state: str
    case_code: str
    identified_at: str | None
    hours_since_identified: float | None
    hours_overdue: float | None  # past the transfer limit (transfer_overdue only)


class WorkListOut(Schema):
    now: str
    transfer_hours: int
    total: int
    overdue_investigations: list[WorkCaseOut]
    open_investigations: list[WorkCaseOut]
    to_decide: list[WorkDecideOut]
    uncontacted: list[WorkContactOut]
    transfer_overdue: list[WorkContactOut]


@router.get("/tracing/worklist", response=WorkListOut,
            summary="流调待办 The tracer's work list: investigations past their 24 hours, proposals to decide, contacts "
                    "not notified, close contacts past the transfer limit (names masked)")
def worklist(request):
    _view(request)
    w = selectors.work_list(request.auth)

    def inv(case) -> dict:
        due = case.investigation.due_at
        return {"case_id": case.id, "code": case.code, "name": mask_name(case.person.name), "due_at": _iso(due),
                "hours_overdue": selectors.hours_since(due, w.now)}

    def contact(c, *, late: bool = False) -> dict:
        since = c.identified_at
        return {"contact_id": c.id, "name": mask_name(c.person.name), "kind": c.kind, "state": c.state,
                "case_code": c.case.code, "identified_at": _iso(since),
                "hours_since_identified": selectors.hours_since(since, w.now) if since else None,
                "hours_overdue": (selectors.hours_since(since + dt.timedelta(hours=w.transfer_hours), w.now)
                                  if late and since else None)}

    return {"now": _iso(w.now), "transfer_hours": w.transfer_hours, "total": w.total,
            "overdue_investigations": [inv(c) for c in w.overdue_investigations],
            "open_investigations": [inv(c) for c in w.open_investigations],
            "to_decide": [{"case_id": c.id, "code": c.code, "name": mask_name(c.person.name), "proposed": n}
                          for c, n in w.to_decide],
            "uncontacted": [contact(c) for c in w.uncontacted],
            "transfer_overdue": [contact(c, late=True) for c in w.transfer_overdue]}


# ---- clusters (聚集性疫情) ---------------------------------------------------------------------------------------


class ClusterIn(Schema):
    name: str
    setting: str
    case_ids: list[int]
    note: str = ""


class ClusterOut(Schema):
    id: int
    name: str
    setting: str
    note: str
    size: int
    active_cases: int
    first_date: dt.date | None
    latest_date: dt.date | None
    case_codes: list[str]


def cluster_out(v: selectors.ClusterView) -> dict:
    c = v.cluster
    return {"id": c.id, "name": c.name, "setting": c.setting, "note": c.note, "size": v.size,
            "active_cases": v.active_cases, "first_date": v.first_date, "latest_date": v.latest_date,
            "case_codes": [x.code for x in v.cases]}


@router.get("/tracing/clusters", response=list[ClusterOut],
            summary="聚集性疫情 Clusters with a case in your jurisdiction, newest first")
def clusters(request):
    _view(request)
    return [cluster_out(v) for v in selectors.clusters_visible(request.auth)]


@router.post("/tracing/clusters", response={201: ClusterOut, 200: ClusterOut},
             summary="标记聚集性疫情 Record a cluster: two or more cases sharing a setting")
def cluster_create(request, payload: ClusterIn):
    def produce():
        made = cluster_save(actor=request.auth, name=payload.name, setting=payload.setting,
                            case_ids=payload.case_ids, note=payload.note)
        view = next(v for v in selectors.clusters_visible(request.auth) if v.cluster.id == made.id)
        return 201, _json(ClusterOut, cluster_out(view))

    return Status(*idempotent(request, produce))


class ReasonIn(Schema):
    reason: str


@router.post("/tracing/events/{int:event_id}/remove", response=dict,
             summary="删除行程 Take a stop out of the itinerary, with the reason (kept for the audit, not shown)")
def remove_event(request, event_id: int, payload: ReasonIn):
    event = event_remove(actor=request.auth, event_id=event_id, reason=payload.reason)
    return {"id": event.id, "removed": True}
