"""Writes of the tracing domain: cases, their investigation and itinerary, contacts (proposed from the household
register and the companion engine, or entered by tracers) through their lifecycle, and transmission links.

Every rule comes from the policy in force (look-back window, secondary contacts, the measure plan and its release
date, the 24-hour investigation clock); every change is audited; status facts follow cases and contacts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.models import User
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.db import serialise
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.models import Person
from shouwang.policy.rules import Ruleset
from shouwang.policy.rules.plans import contact_lookback, measure_plan, reclassify_secondary
from shouwang.policy.selectors import ruleset_in_force
from shouwang.status.services import fact_publish, fact_withdraw, has_active_fact
from shouwang.testing.selectors import person_samples_between
from shouwang.tracing import chains
from shouwang.tracing.enums import (
    ACTIVE_CASE_STATES,
    CASE_FACT,
    CASE_NEXT,
    CONTACT_NEXT,
    LIVE_CONTACT_STATES,
    CaseState,
    Classification,
    ClinicalType,
    Confidence,
    ContactKind,
    ContactState,
    Criterion,
    EventSource,
    FoundBy,
    FoundVia,
    InvestigationState,
    Origin,
    Setting,
)
from shouwang.tracing.models import (
    Case,
    Cluster,
    Contact,
    ContactExposure,
    ExposureEvent,
    Investigation,
    TransmissionLink,
)
from shouwang.tracing.signals import case_reported, contact_planned
from shouwang.venues.companions import companions_for_cases
from shouwang.venues.selectors import person_scans_between, venue_names

CASE_SOURCE = "tracing.case"
CONTACT_SOURCE = "tracing.contact"
OPEN_STATES = (ContactState.PROPOSED, *LIVE_CONTACT_STATES)
FLAG = {ContactKind.CLOSE: "close_contact", ContactKind.SECONDARY: "secondary_contact"}
CATEGORY = {ContactKind.CLOSE: "close_contact", ContactKind.SECONDARY: "secondary_contact"}
COMPANION_MINUTES = 30
MAX_COMPANIONS = 200  # proposed per case; the tracer widens the circle by hand beyond these (the rest are counted)


def _rules(area=None) -> Ruleset:
    return ruleset_in_force(clock.today(), area_codes_chain(area) if area is not None else ())


def _param(rules: Ruleset, name: str, default):
    try:
        return rules.param(name).value
    except (DomainError, KeyError):
        return default


def _choice(value: str, choices, field: str, zh: str, en: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(field=field, code="invalid_choice", message_zh=f"{zh}不存在", message_en=f"unknown {en}")
    return value


# ---- cases -------------------------------------------------------------------------------------------------------


@dataclass
class CaseInput:
    person_id: int
    found_by: str
    sampling_date: dt.date
    classification: str = Classification.PENDING
    clinical_type: str = ""
    onset_date: dt.date | None = None
    reported_at: dt.datetime | None = None
    found_in_quarantine: bool = False
    origin: str = Origin.LOCAL
    lineage: str = ""
    isolated_on: dt.date | None = None
    source_ref: str = ""
    propose_contacts: bool = True


def _validate_case(data: CaseInput, today: dt.date) -> None:
    _choice(data.found_by, FoundBy, "found_by", "发现途径", "way the case was found")
    _choice(data.classification, Classification, "classification", "诊断分类", "classification")
    _choice(data.origin, Origin, "origin", "本土/输入类别", "origin")
    if data.clinical_type:
        _choice(data.clinical_type, ClinicalType, "clinical_type", "临床分型", "clinical type")
        if data.classification != Classification.CONFIRMED:
            raise ValidationFailed(field="clinical_type", code="not_confirmed", message_zh="只有确诊病例有临床分型",
                                   message_en="only a confirmed case has a clinical type")
    for name, value in (("sampling_date", data.sampling_date), ("onset_date", data.onset_date),
                        ("isolated_on", data.isolated_on)):
        if value is not None and value > today:
            raise ValidationFailed(field=name, code="in_future", message_zh="日期不能晚于今天",
                                   message_en="the date cannot be after today")
    if data.onset_date and data.sampling_date and (data.sampling_date - data.onset_date).days > 30:
        raise ValidationFailed(field="onset_date", code="too_early", message_zh="发病日期早于采样日期30天以上，请核实",
                               message_en="the onset is more than 30 days before the sample; check it")
    if data.reported_at is not None and timezone.localdate(data.reported_at) < data.sampling_date:
        raise ValidationFailed(field="reported_at", code="before_sampling", message_zh="报告时间不能早于采样日期",
                               message_en="the report cannot be before the sample")


def _case_code(day: dt.date) -> str:
    prefix = f"BL{day:%Y%m%d}-"
    last = Case.objects.filter(code__startswith=prefix).aggregate(m=Max("code"))["m"]
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:03d}"


def _publish_case(case: Case) -> None:
    fact_withdraw(source=CASE_SOURCE, source_id=str(case.id))
    if case.state in ACTIVE_CASE_STATES:
        fact_publish(person_ids=[case.person_id], kind="case", value=CASE_FACT[case.classification],
                     since=case.sampling_date, until=None, source=CASE_SOURCE, source_id=str(case.id),
                     note=f"病例 {case.code}")


@dataclass
class CaseReport:
    case: Case
    events: int = 0
    proposed: int = 0
    reclassified: int = 0


@transaction.atomic
def case_create(*, actor, data: CaseInput) -> CaseReport:
    """Report a case: the investigation opens with its clock, the itinerary is pre-filled from the person's scans
    and samples in the look-back window, household members and venue companions are proposed as close contacts,
    and a contact who turns positive becomes this case (their secondary contacts are re-classified by the rule)."""
    require(actor, Capability.CASE_MANAGE, "报告病例", "report cases")
    _validate_case(data, clock.today())
    person = (Person.objects.active().filter(id=data.person_id, area__path__startswith=jurisdiction_path(actor))
              .select_related("area").first())
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    return _report(actor=actor, person=person, data=data, how="报告病例")


def _already_case() -> DomainError:
    return DomainError(code="already_case", status=409, field="person_id", message_zh="此人已是在管病例",
                       message_en="this person is already an active case")


def _in_quarantine(person_id: int) -> bool:
    return has_active_fact(person_id=person_id, kind="measure", values=("central_quarantine", "home_quarantine"))


def _found_context(person_id: int, case: Case) -> str:
    """Where the case was found, as the policy's case contexts name it (§4.2: cases found under a measure do not
    count for risk zones when the version says so): read before the flow closes the person's stay."""
    for measure in ("central_quarantine", "home_quarantine"):
        if has_active_fact(person_id=person_id, kind="measure", values=(measure,)):
            return measure
    return "central_quarantine" if case.found_in_quarantine else "community"


def _report(*, actor, person: Person, data: CaseInput, how: str) -> CaseReport:
    if Case.objects.filter(person=person, state__in=list(ACTIVE_CASE_STATES)).exists():
        raise _already_case()
    reported_at = data.reported_at or clock.now()
    case = Case(code=_case_code(timezone.localdate(reported_at)), person=person, area=person.area,
                found_by=data.found_by, classification=data.classification, clinical_type=data.clinical_type,
                onset_date=data.onset_date, sampling_date=data.sampling_date, reported_at=reported_at,
                found_in_quarantine=(data.found_in_quarantine or data.found_by == FoundBy.IN_QUARANTINE
                                     or _in_quarantine(person.id)), origin=data.origin,
                lineage=data.lineage.strip()[:40], isolated_on=data.isolated_on, source_ref=data.source_ref[:60],
                created_by=actor)
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:  # a concurrent report of the same person
        raise _already_case() from None
    rules = _rules(person.area)
    hours = int(_param(rules, "investigation_hours", 24))
    investigation = Investigation.objects.create(case=case, opened_at=reported_at,
                                                 due_at=reported_at + dt.timedelta(hours=hours))
    _publish_case(case)
    case_reported.send(sender=Case, actor=actor, person_id=person.id, case_code=case.code, area_id=person.area_id,
                       found_on=case.sampling_date, context=_found_context(person.id, case))
    report = CaseReport(case)
    report.reclassified = _contact_became_case(person.id, case, actor)
    report.events = itinerary_prefill(investigation)
    if data.propose_contacts:
        report.proposed = propose_contacts(actor=actor, case=case, rules=rules)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=case,
                 summary=f"{how} {case.code}（{Classification(case.classification).label}，"
                         f"{FoundBy(case.found_by).label}）：行程{report.events}条，待确认密接{report.proposed}人")
    return report


FOUND_BY_PURPOSE = {"recheck": FoundBy.ROUND_RECHECK, "round": FoundBy.ROUND_SCREENING}


@transaction.atomic
def cases_from_test(*, reviewer, barcode: str, sampled_on: dt.date, purpose: str, person_ids: list[int]) -> list[Case]:
    """The testing flow's hand-over (shouwang/response): a reviewed positive single tube makes its person a case
    awaiting diagnosis, with the investigation opened and contacts proposed. A person already an active case is
    left as is (a repeat positive)."""
    made = []
    for person in Person.objects.filter(id__in=person_ids).select_related("area").order_by("id"):
        if Case.objects.filter(person=person, state__in=list(ACTIVE_CASE_STATES)).exists():
            continue
        data = CaseInput(person_id=person.id, found_by=FOUND_BY_PURPOSE.get(purpose, FoundBy.OTHER),
                         sampling_date=sampled_on, source_ref=barcode)
        made.append(_report(actor=reviewer, person=person, data=data, how=f"检测阳性（{barcode}）自动生成病例").case)
    return made


@transaction.atomic
def cases_withdraw_test(*, actor, barcode: str, reason: str) -> list[Case]:
    """A positive result corrected away: the cases it made, still awaiting diagnosis, are excluded."""
    done = []
    for case in Case.objects.select_for_update().filter(source_ref=barcode, classification=Classification.PENDING,
                                                        state__in=list(ACTIVE_CASE_STATES)):
        case.state, case.state_note = CaseState.EXCLUDED, f"检测结果更正：{reason}"[:200]
        case.save(update_fields=["state", "state_note", "updated_at"])
        _publish_case(case)
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=case,
                     summary=f"检测结果 {barcode} 更正，排除病例 {case.code}（{reason}）")
        done.append(case)
    return done


def window(case: Case, rules: Ruleset | None = None):
    """The policy's look-back for this case (onset, or sampling for an asymptomatic one, to isolation)."""
    rules = rules or _rules(case.area)
    end = case.isolated_on or max(timezone.localdate(case.reported_at), case.anchor_date)
    return contact_lookback(rules, case.anchor_date, isolated_on=end)


def itinerary_prefill(investigation: Investigation) -> int:
    """Exposure events from the person's scans and samples in the window (each once: a second run adds only what
    is new)."""
    case = investigation.case
    lb = window(case)
    start = timezone.make_aware(dt.datetime.combine(lb.start, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(lb.end + dt.timedelta(days=1), dt.time()))
    have = set(investigation.events.exclude(source_ref="").values_list("source", "source_ref"))
    events = []
    for scan in person_scans_between(person_id=case.person_id, start=start, end=end):
        if (EventSource.SCAN, str(scan.id)) in have:
            continue
        events.append(ExposureEvent(investigation=investigation, starts_at=scan.scanned_at, ends_at=scan.scanned_at,
                                    place=scan.venue.name[:200], venue_id=scan.venue_id, activity="扫场所码进入",
                                    source=EventSource.SCAN, source_ref=str(scan.id)))
    for sample in person_samples_between(person_id=case.person_id, start=start, end=end):
        if (EventSource.TEST, str(sample.member_id)) in have:
            continue
        events.append(ExposureEvent(investigation=investigation, starts_at=sample.taken_at, ends_at=sample.taken_at,
                                    place=(sample.site_name or "上门采样")[:200],
                                    activity=f"核酸采样（管码{sample.barcode}）", source=EventSource.TEST,
                                    source_ref=str(sample.member_id)))
    ExposureEvent.objects.bulk_create(events)
    return len(events)


# ---- contacts ----------------------------------------------------------------------------------------------------


@dataclass
class _Exposure:
    person_id: int
    area_id: int
    setting: str
    criterion: str
    last_exposure: dt.date
    found_via: str
    evidence: str = ""
    venue_ids: tuple = ()


def _open_contacts(person_ids) -> dict[int, Contact]:
    return {c.person_id: c for c in Contact.objects.select_for_update()
            .filter(person_id__in=list(person_ids), state__in=list(OPEN_STATES))}


def _active_case_people(person_ids) -> set[int]:
    return set(Case.objects.filter(person_id__in=list(person_ids), state__in=list(ACTIVE_CASE_STATES))
               .values_list("person_id", flat=True))


def _add_exposures(*, case: Case, kind: str, exposures: list[_Exposure], actor, via: Contact | None = None,
                   state: str = ContactState.PROPOSED) -> list[Contact]:
    """Create or update the contacts of these exposures (new contacts and exposures written in bulk: a case at a
    busy market brings hundreds). A person already an open contact keeps one row: the exposure is added, the
    latest exposure wins (its case and date), and a secondary contact exposed to a case becomes a close contact.
    Active cases are skipped."""
    ids = [e.person_id for e in exposures]
    cases = _active_case_people(ids)
    existing = _open_contacts(ids)
    identified_at = clock.now() if state != ContactState.PROPOSED else None
    new: dict[int, Contact] = {}
    chosen: list[tuple[_Exposure, int]] = []  # (exposure, person) in order
    for e in exposures:
        if e.person_id in cases or e.person_id == case.person_id:
            continue
        contact = existing.get(e.person_id)
        if contact is not None and kind == ContactKind.SECONDARY and contact.kind == ContactKind.CLOSE:
            continue  # already a close contact: the household link to another close contact adds nothing
        if contact is None:
            if e.person_id not in new:
                new[e.person_id] = Contact(person_id=e.person_id, area_id=e.area_id, kind=kind, state=state,
                                           last_exposure=e.last_exposure, case=case, via=via,
                                           identified_at=identified_at)
        else:
            changed = False
            if kind == ContactKind.CLOSE and contact.kind == ContactKind.SECONDARY:
                contact.kind, contact.reclassified_from, contact.via, changed = kind, ContactKind.SECONDARY, None, True
            if e.last_exposure > contact.last_exposure and (kind == contact.kind):
                contact.last_exposure, contact.case, changed = e.last_exposure, case, True
            if changed:
                contact.save()
                if contact.state != ContactState.PROPOSED:
                    _plan_and_flag(contact, actor)
        chosen.append((e, e.person_id))
    Contact.objects.bulk_create(list(new.values()), batch_size=500)
    contact_of = {**existing, **new}
    have = set(ContactExposure.objects.filter(contact_id__in=[c.id for c in existing.values()], case=case,
                                              source_contact=via).values_list("contact_id", "found_via"))
    rows = []
    for e, pid in chosen:
        contact = contact_of[pid]
        if (contact.id, e.found_via) in have:
            continue
        have.add((contact.id, e.found_via))
        rows.append(ContactExposure(contact=contact, case=case, source_contact=via, setting=e.setting,
                                    criterion=e.criterion, last_exposure=e.last_exposure, found_via=e.found_via,
                                    evidence=e.evidence[:500], venue_ids=list(e.venue_ids), recorded_by=actor))
    ContactExposure.objects.bulk_create(rows, batch_size=500)
    return list({pid: contact_of[pid] for _, pid in chosen}.values())


def propose_contacts(*, actor, case: Case, rules: Ruleset | None = None) -> int:
    """Household members (共同居住) and venue companions (±30 min at the same venue in the look-back window, the
    MAX_COMPANIONS with the most co-presences; the investigation notes how many were found) as proposed close
    contacts, for the tracer to accept or reject."""
    rules = rules or _rules(case.area)
    lb = window(case, rules)
    if lb.end < lb.start:  # isolated before the window opened (found in quarantine): no contacts outside
        return 0
    person = case.person
    exposures = []
    if person.household_id:
        for pid, area_id in (Person.objects.active().filter(household_id=person.household_id)
                             .exclude(id=person.id).values_list("id", "area_id")):
            exposures.append(_Exposure(pid, area_id, Setting.HOUSEHOLD, Criterion.LIVE_TOGETHER, lb.end,
                                       FoundVia.HOUSEHOLD, "同户共同居住"))
    found = companions_for_cases(person_ids=[case.person_id], start=lb.start, end=lb.end,
                                 delta_minutes=COMPANION_MINUTES)
    companions = found.top(MAX_COMPANIONS)  # ranked: most co-presences first
    if companions:
        areas = dict(Person.objects.active().filter(id__in=[c.person_id for c in companions])
                     .values_list("id", "area_id"))
        names = venue_names(v.venue_id for c in companions for v in c.venues)
        household = {e.person_id for e in exposures}
        for c in companions:
            if c.person_id not in areas or c.person_id in household:
                continue
            last = timezone.localtime(c.last_at)
            where = "、".join(names.get(v.venue_id, str(v.venue_id)) for v in c.venues[:3])
            exposures.append(_Exposure(
                c.person_id, areas[c.person_id], Setting.VENUE, Criterion.CLOSED_PLACE, last.date(),
                FoundVia.COMPANION,
                f"场所码时空伴随：{where}，前后{COMPANION_MINUTES}分钟内同场{c.co_presences}次，"
                f"末次 {last:%m-%d %H:%M}", c.venue_ids))
    if len(found) > len(companions):
        Investigation.objects.filter(case=case).update(summary=(
            f"场所码时空伴随共{len(found)}人，已按同场次数列出前{len(companions)}人为待确认密接；"
            f"其余人员请结合现场调查判定。"))
    return len(_add_exposures(case=case, kind=ContactKind.CLOSE, exposures=exposures, actor=actor))


def _visible_case(actor, case_id: int) -> Case:
    case = (Case.objects.filter(id=case_id, area__path__startswith=jurisdiction_path(actor))
            .select_related("person", "area").first())
    if case is None:
        raise NotFound("病例", "case", field="case_id")
    return case


def _visible_contact(actor, contact_id: int) -> Contact:
    path = jurisdiction_path(actor)
    contact = (Contact.objects.select_for_update().filter(id=contact_id).select_related("case__area", "area")
               .first())
    if contact is None or not (contact.area.path.startswith(path) or contact.case.area.path.startswith(path)):
        raise NotFound("密接", "contact", field="contact_id")
    return contact


@transaction.atomic
def contact_add(*, actor, case_id: int, person_id: int, kind: str = ContactKind.CLOSE, setting: str,
                criterion: str, last_exposure: dt.date, evidence: str = "", via_contact_id: int | None = None
                ) -> Contact:
    """A tracer's contact, identified at once (the tracer judged it): a close contact of the case by one of the
    nine criteria, or a secondary contact of one of its close contacts."""
    require(actor, Capability.TRACE, "判定密接", "identify contacts")
    case = _visible_case(actor, case_id)
    _choice(kind, ContactKind, "kind", "密接类别", "contact kind")
    _choice(setting, Setting, "setting", "暴露场景", "exposure setting")
    _choice(criterion, Criterion, "criterion", "判定依据", "criterion")
    lb = window(case)
    if last_exposure > clock.today():
        raise ValidationFailed(field="last_exposure", code="in_future", message_zh="末次暴露日期不能晚于今天",
                               message_en="the last exposure cannot be after today")
    if kind == ContactKind.CLOSE and last_exposure < lb.start:
        raise ValidationFailed(field="last_exposure", code="before_window",
                               message_zh=f"末次暴露早于追踪时段（{lb.start:%Y-%m-%d} 起），不判定为密接",
                               message_en=f"the last exposure is before the look-back window (from {lb.start})")
    via = None
    if kind == ContactKind.SECONDARY:
        if not _param(_rules(case.area), "secondary_contacts", True):
            raise DomainError(code="no_secondary_contacts", status=409, field="kind",
                              message_zh="现行政策不再判定次密接", message_en="the policy in force has no secondary contacts")
        via = Contact.objects.filter(id=via_contact_id or 0, case=case, kind=ContactKind.CLOSE).first()
        if via is None:
            raise ValidationFailed(field="via_contact_id", code="required", message_zh="请选择关联的密接",
                                   message_en="choose the close contact this person was exposed to")
    person = Person.objects.active().filter(id=person_id).first()
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    if person.id == case.person_id or person.id in _active_case_people([person.id]):
        raise DomainError(code="is_case", status=409, field="person_id", message_zh="此人是在管病例，不能判定为密接",
                          message_en="this person is an active case")
    exposure = _Exposure(person.id, person.area_id, setting, criterion, last_exposure, FoundVia.MANUAL,
                         evidence.strip())
    (contact,) = _add_exposures(case=case, kind=kind, exposures=[exposure], actor=actor, via=via,
                                state=ContactState.IDENTIFIED)
    if contact.state == ContactState.PROPOSED:
        _identify(contact, actor)
    else:
        _plan_and_flag(contact, actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=contact,
                 summary=f"判定{ContactKind(contact.kind).label}：病例{case.code}，{Criterion(criterion).label}")
    return contact


def _plan_and_flag(contact: Contact, actor=None) -> None:
    """The contact's measure plan from the policy (release date counted from the last exposure) and the status
    flag that turns the code red until they are under measure."""
    rules = _rules(contact.area)
    plan = measure_plan(rules, CATEGORY[contact.kind], contact.last_exposure, hypothetical=True)
    contact.policy_version, contact.release_on = plan.version, plan.ends_on
    contact.plan_note = "；".join(f"{p.label_zh}{p.days or ''}天" if p.days else p.label_zh for p in plan.phases)[:300]
    contact.save(update_fields=["policy_version", "release_on", "plan_note", "updated_at"])
    fact_withdraw(source=CONTACT_SOURCE, source_id=str(contact.id))
    if contact.state in LIVE_CONTACT_STATES:
        fact_publish(person_ids=[contact.person_id], kind="flag", value=FLAG[contact.kind],
                     since=contact.last_exposure, until=contact.release_on, source=CONTACT_SOURCE,
                     source_id=str(contact.id), note=f"病例{contact.case.code}的{ContactKind(contact.kind).label}")
        contact_planned.send(sender=Contact, actor=actor, contact_id=contact.id, person_id=contact.person_id,
                             category=CATEGORY[contact.kind], last_exposure=contact.last_exposure,
                             case_code=contact.case.code)


def _identify(contact: Contact, actor) -> int:
    """proposed -> identified: the plan, the flag and (under a policy with secondary contacts) the close contact's
    household proposed as secondary contacts. Answers how many secondary contacts were proposed."""
    contact.state, contact.identified_at = ContactState.IDENTIFIED, clock.now()
    contact.save(update_fields=["state", "identified_at", "updated_at"])
    _plan_and_flag(contact, actor)
    if contact.kind != ContactKind.CLOSE or not _param(_rules(contact.area), "secondary_contacts", True):
        return 0
    person = Person.objects.filter(id=contact.person_id).first()
    if not person or not person.household_id:
        return 0
    exposures = [_Exposure(pid, area_id, Setting.HOUSEHOLD, Criterion.LIVE_TOGETHER, clock.today(),
                           FoundVia.HOUSEHOLD, "与密接同户共同居住")
                 for pid, area_id in Person.objects.active().filter(household_id=person.household_id)
                 .exclude(id=person.id).values_list("id", "area_id")]
    return len(_add_exposures(case=contact.case, kind=ContactKind.SECONDARY, exposures=exposures, actor=actor,
                              via=contact))


@dataclass
class DecideReport:
    accepted: int = 0
    rejected: int = 0
    secondary_proposed: int = 0


@transaction.atomic
def contacts_decide(*, actor, contact_ids: list[int], accept: bool, note: str = "") -> DecideReport:
    """The tracer accepts or rejects proposed contacts (all or nothing: one that is not proposed any more refuses
    the batch)."""
    require(actor, Capability.TRACE, "确认密接", "decide on proposed contacts")
    if not contact_ids:
        raise ValidationFailed(field="contact_ids", code="required", message_zh="请选择密接", message_en="choose contacts")
    contacts = [_visible_contact(actor, cid) for cid in dict.fromkeys(contact_ids)]
    stale = [c.id for c in contacts if c.state != ContactState.PROPOSED]
    if stale:
        raise DomainError(code="not_proposed", status=409, field="contact_ids",
                          message_zh=f"有{len(stale)}人已处理过，请刷新", message_en=f"{len(stale)} were already decided; "
                                                                          "refresh")
    if not accept and not note.strip():
        raise ValidationFailed(field="note", code="required", message_zh="排除时请填写理由",
                               message_en="give a reason for rejecting")
    report = DecideReport()
    for contact in contacts:
        if accept:
            report.secondary_proposed += _identify(contact, actor)
            report.accepted += 1
        else:
            contact.state, contact.closed_at, contact.note = ContactState.REJECTED, clock.now(), note.strip()[:300]
            contact.save(update_fields=["state", "closed_at", "note", "updated_at"])
            report.rejected += 1
    audit_record(actor=actor, action=AuditAction.UPDATE, object_type="tracing.contact",
                 object_id=",".join(str(c.id) for c in contacts)[:60],
                 summary=f"{'确认' if accept else '排除'}密接{len(contacts)}人" + (f"（{note.strip()}）" if note else ""))
    return report


STAMP = {ContactState.NOTIFIED: "notified_at", ContactState.TRANSFERRED: "transferred_at",
         ContactState.UNDER_MEASURE: "measure_at", ContactState.RELEASED: "closed_at"}


@transaction.atomic
def contact_advance(*, actor, contact_id: int, state: str, note: str = "") -> Contact:
    """identified -> notified -> transferred -> under measure -> released, stamped with the business clock. Under
    measure, the red flag gives way to the measure itself (published by quarantine); released withdraws it."""
    require(actor, Capability.TRACE, "更新密接状态", "update contacts")
    contact = _visible_contact(actor, contact_id)
    _choice(state, ContactState, "state", "状态", "state")
    if state not in CONTACT_NEXT[contact.state]:
        raise DomainError(code="bad_transition", status=409, field="state",
                          message_zh=f"不能从“{ContactState(contact.state).label}”变为“{ContactState(state).label}”",
                          message_en=f"cannot go from {contact.state} to {state}")
    if state == ContactState.IDENTIFIED:
        _identify(contact, actor)
    else:
        contact.state = state
        setattr(contact, STAMP[state], clock.now())
        if note:
            contact.note = note.strip()[:300]
        contact.save()
        if state == ContactState.RELEASED:
            fact_withdraw(source=CONTACT_SOURCE, source_id=str(contact.id))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contact,
                 summary=f"密接状态：{ContactState(state).label}")
    return contact


def contacts_follow_measure(*, contact_ids: list[int], state: str) -> int:
    """The quarantine flow's hand-back (shouwang/response): the contacts whose measure moved on follow it —
    picked up (transferred), in their room or at home (under measure), the plan's last phase released (released).
    A contact already past that state, or closed, is left as is. Answers how many moved."""
    moved = 0
    for contact in Contact.objects.select_for_update().filter(id__in=contact_ids).select_related("case"):
        if state not in CONTACT_NEXT[contact.state]:
            continue
        contact.state = state
        setattr(contact, STAMP[state], clock.now())
        contact.save()
        if state == ContactState.RELEASED:
            fact_withdraw(source=CONTACT_SOURCE, source_id=str(contact.id))
        moved += 1
    return moved


def _contact_became_case(person_id: int, case: Case, actor) -> int:
    """A contact who turns positive: their contact row closes as became_case; the secondary contacts exposed to
    them are re-classified by the policy (V9 P2: positive within the first tests -> close contacts of the new
    case, counted from the same last exposure). Answers how many were re-classified."""
    moved = 0
    for contact in Contact.objects.select_for_update().filter(person_id=person_id, state__in=list(OPEN_STATES)):
        contact.state, contact.became_case, contact.closed_at = ContactState.BECAME_CASE, case, clock.now()
        contact.save(update_fields=["state", "became_case", "closed_at", "updated_at"])
        fact_withdraw(source=CONTACT_SOURCE, source_id=str(contact.id))
        if contact.kind != ContactKind.CLOSE:
            continue
        rules = _rules(contact.area)
        for secondary in Contact.objects.select_for_update().filter(via=contact, kind=ContactKind.SECONDARY,
                                                                     state__in=list(OPEN_STATES)):
            decision = reclassify_secondary(rules, secondary.last_exposure, [(case.sampling_date, True)],
                                            hypothetical=True)
            if decision.becomes != "close_contact":
                continue
            secondary.kind, secondary.reclassified_from, secondary.case = (ContactKind.CLOSE, ContactKind.SECONDARY,
                                                                           case)
            secondary.note = decision.because[0].zh[:300]
            secondary.save()
            ContactExposure.objects.create(contact=secondary, case=case, source_contact=None,
                                           setting=Setting.HOUSEHOLD, criterion=Criterion.LIVE_TOGETHER,
                                           last_exposure=secondary.last_exposure, found_via=FoundVia.MANUAL,
                                           evidence=decision.because[0].zh[:500], recorded_by=actor)
            if secondary.state != ContactState.PROPOSED:
                _plan_and_flag(secondary, actor)
            moved += 1
    return moved


# ---- the case's course ------------------------------------------------------------------------------------------


@transaction.atomic
def case_update(*, actor, case_id: int, state: str | None = None, classification: str | None = None,
                clinical_type: str | None = None, onset_date: dt.date | None = None, lineage: str | None = None,
                isolated_on: dt.date | None = None, note: str = "") -> Case:
    require(actor, Capability.CASE_MANAGE, "更新病例", "update cases")
    case = _visible_case(actor, case_id)
    Case.objects.select_for_update().filter(id=case.id).first()
    changes = {}
    if state is not None and state != case.state:
        _choice(state, CaseState, "state", "状态", "state")
        if state not in CASE_NEXT[case.state]:
            raise DomainError(code="bad_transition", status=409, field="state",
                              message_zh=f"不能从“{CaseState(case.state).label}”变为“{CaseState(state).label}”",
                              message_en=f"cannot go from {case.state} to {state}")
        if state == CaseState.EXCLUDED and not note.strip():
            raise ValidationFailed(field="note", code="required", message_zh="排除病例请填写理由",
                                   message_en="give the reason for excluding the case")
        changes["state"] = (case.state, state)
        case.state = state
    if classification is not None and classification != case.classification:
        _choice(classification, Classification, "classification", "诊断分类", "classification")
        changes["classification"] = (case.classification, classification)
        case.classification = classification
    if clinical_type is not None and clinical_type != case.clinical_type:
        if clinical_type:
            _choice(clinical_type, ClinicalType, "clinical_type", "临床分型", "clinical type")
        changes["clinical_type"] = (case.clinical_type, clinical_type)
        case.clinical_type = clinical_type
    if case.clinical_type and case.classification != Classification.CONFIRMED:
        raise ValidationFailed(field="clinical_type", code="not_confirmed", message_zh="只有确诊病例有临床分型",
                               message_en="only a confirmed case has a clinical type")
    for name, value in (("onset_date", onset_date), ("isolated_on", isolated_on)):
        if value is not None and value != getattr(case, name):
            if value > clock.today():
                raise ValidationFailed(field=name, code="in_future", message_zh="日期不能晚于今天",
                                       message_en="the date cannot be after today")
            changes[name] = (str(getattr(case, name)), str(value))
            setattr(case, name, value)
    if lineage is not None and lineage.strip() != case.lineage:
        changes["lineage"] = (case.lineage, lineage.strip()[:40])
        case.lineage = lineage.strip()[:40]
    if not changes:
        return case
    if note:
        case.state_note = note.strip()[:200]
    case.save()
    _publish_case(case)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=case, summary=f"更新病例 {case.code}",
                 changes={k: list(v) for k, v in changes.items()})
    return case


@transaction.atomic
def investigation_update(*, actor, case_id: int, team: str | None = None, assigned_to_id: int | None = None,
                         summary: str | None = None, done: bool | None = None) -> Investigation:
    require(actor, Capability.TRACE, "开展流调", "investigate")
    case = _visible_case(actor, case_id)
    inv = Investigation.objects.select_for_update().get(case=case)
    if team is not None:
        inv.team = team.strip()[:50]
    if assigned_to_id:
        tracer = User.objects.filter(id=assigned_to_id, is_active=True).select_related("jurisdiction").first()
        if tracer is None or not tracer.can(Capability.TRACE) or tracer.jurisdiction is None \
                or not case.area.path.startswith(tracer.jurisdiction.path):
            raise ValidationFailed(field="assigned_to_id", code="not_a_tracer",
                                   message_zh="只能指派给能开展流调、且辖区包含该病例的在岗人员",
                                   message_en="assign an active tracer whose jurisdiction holds the case")
        inv.assigned_to_id = assigned_to_id
    elif assigned_to_id == 0:
        inv.assigned_to_id = None
    if summary is not None:
        inv.summary = summary
    if done is not None:
        inv.state = InvestigationState.DONE if done else InvestigationState.OPEN
        inv.closed_at = clock.now() if done else None
    inv.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=inv, summary=f"流调 {case.code}")
    return inv


@transaction.atomic
def event_add(*, actor, case_id: int, starts_at: dt.datetime, ends_at: dt.datetime, place: str,
              activity: str = "", people_present: str = "") -> ExposureEvent:
    require(actor, Capability.TRACE, "填写行程", "edit itineraries")
    case = _visible_case(actor, case_id)
    if not (place or "").strip():
        raise ValidationFailed(field="place", code="required", message_zh="请填写地点", message_en="place is required")
    if ends_at < starts_at:
        raise ValidationFailed(field="ends_at", code="before_start", message_zh="结束时间不能早于开始时间",
                               message_en="the end cannot be before the start")
    event = ExposureEvent.objects.create(investigation=case.investigation, starts_at=starts_at, ends_at=ends_at,
                                         place=place.strip()[:200], activity=activity.strip()[:200],
                                         people_present=people_present.strip()[:300])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=event, summary=f"行程 {case.code}：{event.place}")
    return event


# ---- transmission links ------------------------------------------------------------------------------------------


@transaction.atomic
def link_add(*, actor, infector_id: int, infectee_id: int, setting: str = Setting.OTHER,
             confidence: str = Confidence.PROBABLE, evidence: str = "") -> TransmissionLink:
    """infector -> infectee, refused when it would make a cycle, link a case to itself, give the infectee a second
    infector, or when the infectee fell ill before the infector could have infected anyone."""
    require(actor, Capability.CASE_MANAGE, "维护传播链", "edit transmission links")
    _choice(setting, Setting, "setting", "传播场景", "setting")
    _choice(confidence, Confidence, "confidence", "可信度", "confidence")
    serialise("tracing.links")  # two concurrent links A → B and B → A would each pass the check alone
    infector = _visible_case(actor, infector_id)
    infectee = Case.objects.filter(id=infectee_id).first()
    if infectee is None:
        raise NotFound("病例", "case", field="infectee")
    links = list(TransmissionLink.objects.values_list("infector_id", "infectee_id"))
    chains.check_link(links, infector.id, infectee.id)
    problem = chains.onset_order_problem(infector.anchor_date, infectee.anchor_date, basis="onset")
    if problem is not None:
        raise problem
    link = TransmissionLink.objects.create(infector=infector, infectee=infectee, setting=setting,
                                           confidence=confidence, evidence=evidence.strip()[:500], created_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=link, summary=f"传播关系 {infector.code} → {infectee.code}")
    return link


@transaction.atomic
def link_remove(*, actor, link_id: int, reason: str) -> None:
    require(actor, Capability.CASE_MANAGE, "维护传播链", "edit transmission links")
    link = TransmissionLink.objects.select_related("infector", "infectee").filter(id=link_id).first()
    if link is None:
        raise NotFound("传播关系", "link", field="link_id")
    _visible_case(actor, link.infector_id)
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写删除理由",
                               message_en="give a reason")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=link,
                 summary=f"删除传播关系 {link.infector.code} → {link.infectee.code}（{reason.strip()}）")
    link.delete()


# ---- clusters (聚集性疫情) ------------------------------------------------------------------------------------------


@transaction.atomic
def cluster_save(*, actor, name: str, setting: str, case_ids: list[int], note: str = "",
                 cluster_id: int | None = None) -> Cluster:
    """Create a cluster or replace its cases: two or more cases of the actor's jurisdiction that share a setting
    (a family, a workplace, a market ...)."""
    require(actor, Capability.CASE_MANAGE, "标记聚集性疫情", "record clusters")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="请填写名称", message_en="name is required")
    _choice(setting, Setting, "setting", "场所类别", "setting")
    ids = list(dict.fromkeys(case_ids))
    if len(ids) < 2:
        raise ValidationFailed(field="case_ids", code="too_few", message_zh="聚集性疫情至少包括2例病例",
                               message_en="a cluster has at least 2 cases")
    cases = [_visible_case(actor, cid) for cid in ids]
    if cluster_id:
        cluster = Cluster.objects.select_for_update().filter(id=cluster_id).first()
        if cluster is None or not cluster.area.path.startswith(jurisdiction_path(actor)):
            raise NotFound("聚集性疫情", "cluster", field="cluster_id")
        cluster.name, cluster.setting, cluster.note = name[:100], setting, note.strip()[:300]
        cluster.save()
    else:
        cluster = Cluster.objects.create(name=name[:100], setting=setting, area=cases[0].area,
                                         note=note.strip()[:300], created_by=actor)
    cluster.cases.set(cases)
    audit_record(actor=actor, action=AuditAction.UPDATE if cluster_id else AuditAction.CREATE, obj=cluster,
                 summary=f"聚集性疫情 {cluster.name}（{Setting(setting).label}）：{'、'.join(c.code for c in cases)}")
    return cluster


@transaction.atomic
def event_remove(*, actor, event_id: int, reason: str) -> ExposureEvent:
    """The tracer takes a stop out of the itinerary (someone else's phone, a duplicate), with the reason. The row
    stays, marked removed, so the prefill does not bring it back and the audit can show what was there."""
    require(actor, Capability.TRACE, "填写行程", "edit itineraries")
    event = ExposureEvent.objects.select_for_update().filter(id=event_id, removed_at__isnull=True).first()
    if event is None:
        raise NotFound("行程", "itinerary stop", field="event_id")
    case = _visible_case(actor, event.investigation.case_id)
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写删除理由", message_en="give a reason")
    event.removed_at, event.removed_reason = clock.now(), reason.strip()[:200]
    event.save(update_fields=["removed_at", "removed_reason", "updated_at"])
    audit_record(actor=actor, action=AuditAction.DELETE, obj=event,
                 summary=f"删除行程 {case.code}：{event.place} {timezone.localtime(event.starts_at):%m-%d %H:%M}"
                         f"（{event.removed_reason}）")
    return event
