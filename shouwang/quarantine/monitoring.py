"""Daily monitoring of people under a measure (三巡两测一监测一消杀一报告): per stay and day, two temperatures,
symptoms, disinfection and the daily report in one row filled in over the day; a fever or a symptom raises an alert
for the site doctor (the medical member of the five at home), a missed entry a MISSING alert; the people's needs
(心理疏导, medicine, a special diet ...) tracked to their resolution. Writes and reads, scoped like the services: a
stay by the person's home area or by its site's area.

When an entry is missing (one rule for `flag_missing`, the cron job, and for the day sheet, computed on read):
- a day before today: the morning or the afternoon temperature is not recorded, or the daily report is not done;
- today: the morning temperature after MORNING_DUE (10:00), the afternoon one after AFTERNOON_DUE (18:00); the
  daily report only once the day is over;
- a slot is expected only while the person is under the measure: from the stay's first day, and for central
  quarantine from the admission (a person admitted at 11:00 owes no morning temperature that day);
- disinfection is shown but not required (a home stay has none every day), and a future day owes nothing.
An open MISSING alert is closed ("已补录") by the entry that completes the day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.masking import mask_id_number
from shouwang.core.models import AuditAction
from shouwang.quarantine.enums import (
    CENTRAL_MEASURES,
    FEVER_AT,
    OPEN_STAY_STATES,
    AlertKind,
    AlertState,
    NeedKind,
    NeedState,
    SiteState,
    StayState,
    Symptom,
)
from shouwang.quarantine.models import Alert, DailyCheck, Need, Site, Stay
from shouwang.quarantine.services import _stay
from shouwang.testing.selectors import outcomes_on

MORNING_DUE = dt.time(10)  # the morning temperature is missing after 10:00
AFTERNOON_DUE = dt.time(18)  # the afternoon one after 18:00
TEMP_MIN, TEMP_MAX = Decimal("34.0"), Decimal("43.0")
FEVER = Decimal(str(FEVER_AT))
NEED_ORDER = {NeedState.OPEN: 0, NeedState.IN_PROGRESS: 1, NeedState.RESOLVED: 2}
ALERT_ORDER = {AlertKind.FEVER: 0, AlertKind.SYMPTOM: 1, AlertKind.SEAL: 2, AlertKind.ABSENT: 3,
               AlertKind.MISSING: 4}
SLOT_ZH = {"am": "上午体温", "pm": "下午体温", "report": "日报"}
SLOT_EN = {"am": "morning temperature", "pm": "afternoon temperature", "report": "daily report"}
FILLED_IN = "已补录"  # the outcome of a MISSING alert closed by the entry that completes the day


# ---- the rule of missing entries ---------------------------------------------------------------------------------


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(moment) if moment is not None else None


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time))


def in_stay(stay: Stay, day: dt.date) -> bool:
    """The day is one of the stay's days (and, for central quarantine, the person was admitted by its end)."""
    if day < stay.starts_on or (stay.ends_on is not None and day > stay.ends_on):
        return False
    if stay.measure in CENTRAL_MEASURES and stay.admitted_at is not None:
        return _local(stay.admitted_at).date() <= day
    return True


def due_slots(stay: Stay, day: dt.date, now: dt.datetime) -> tuple[str, ...]:
    """The entries owed by `now` for the day: "am", "pm", "report" (see the module's rule)."""
    now = _local(now)
    if not in_stay(stay, day) or day > now.date():
        return ()
    since = _local(stay.admitted_at) if stay.measure in CENTRAL_MEASURES and stay.admitted_at else None
    past = day < now.date()
    slots = []
    for slot, deadline in (("am", MORNING_DUE), ("pm", AFTERNOON_DUE)):
        due_at = _at(day, deadline)
        if (past or now >= due_at) and (since is None or since < due_at):
            slots.append(slot)
    if past:
        slots.append("report")
    return tuple(slots)


def missing_slots(stay: Stay, check: DailyCheck | None, day: dt.date, now: dt.datetime) -> tuple[str, ...]:
    have = {"am": check is not None and check.temp_am is not None,
            "pm": check is not None and check.temp_pm is not None,
            "report": check is not None and check.reported}
    return tuple(s for s in due_slots(stay, day, now) if not have[s])


def _missing_detail(slots) -> str:
    return "漏报：" + "、".join(SLOT_ZH[s] for s in slots)


# ---- writes ------------------------------------------------------------------------------------------------------


def _temperature(value, name: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        temp = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(field=name, code="invalid", message_zh="体温请填写数字，如 36.5",
                               message_en="enter the temperature as a number, e.g. 36.5") from None
    if not temp.is_finite() or temp != temp.quantize(Decimal("0.1")) or not TEMP_MIN <= temp <= TEMP_MAX:
        raise ValidationFailed(field=name, code="out_of_range",
                               message_zh=f"体温应在 {TEMP_MIN}–{TEMP_MAX}℃ 之间，保留一位小数",
                               message_en=f"the temperature must be {TEMP_MIN}–{TEMP_MAX} °C with one decimal")
    return temp.quantize(Decimal("0.1"))


def _symptoms(values) -> list[str] | None:
    if values is None:
        return None
    values = [str(v) for v in values]
    unknown = sorted(set(values) - set(Symptom.values))
    if unknown:
        raise ValidationFailed(field="symptoms", code="invalid_choice", message_zh=f"症状不存在：{'、'.join(unknown)}",
                               message_en=f"unknown symptoms: {', '.join(unknown)}")
    return [s for s in Symptom.values if s in values]  # in the list's order, once each


def _check_day(stay: Stay, day: dt.date) -> None:
    today = clock.today()
    if day > today:
        raise ValidationFailed(field="day", code="in_future", message_zh="不能填报今天以后的日期",
                               message_en="the day cannot be after today")
    last = min(stay.ends_on, today) if stay.ends_on else today
    if day < stay.starts_on or day > last:
        raise DomainError(code="out_of_stay", status=422, field="day",
                          message_zh=f"日期应在管控期内（{stay.starts_on} 至 {last}）",
                          message_en=f"the day must be within the stay ({stay.starts_on} to {last})")


def _raise(stay: Stay, kind: str, day: dt.date, detail: str, now: dt.datetime) -> Alert:
    """The stay's alert of that kind and day: created, or its detail brought up to date (reopened when the news is
    new to a handled alert). A detail unchanged changes nothing."""
    alert = Alert.objects.select_for_update().filter(stay=stay, day=day, kind=kind).first()
    if alert is None:
        try:
            with transaction.atomic():
                return Alert.objects.create(stay=stay, site_id=stay.site_id, kind=kind, day=day, detail=detail[:300],
                                            raised_at=now)
        except IntegrityError:  # raised at the same moment by another request
            alert = Alert.objects.select_for_update().get(stay=stay, day=day, kind=kind)
    if alert.detail != detail[:300]:
        alert.detail, alert.raised_at = detail[:300], now
        alert.state, alert.handled_at, alert.handled_by = AlertState.OPEN, None, None
        alert.save()
    return alert


def _temp_text(check: DailyCheck) -> str:
    return "，".join(f"{label}{t}℃" for label, t in (("上午体温", check.temp_am), ("下午体温", check.temp_pm))
                    if t is not None and t >= FEVER)


def _symptom_text(check: DailyCheck) -> str:
    with translation.override("zh-hans"):
        names = "、".join(str(Symptom(s).label) for s in check.symptoms)
    return names + (f"（{check.symptom_note}）" if check.symptom_note else "")


def _alerts_for(check: DailyCheck, stay: Stay, actor, now: dt.datetime) -> list[Alert]:
    raised = []
    fever = _temp_text(check)
    if fever:
        raised.append(_raise(stay, AlertKind.FEVER, check.day, f"发热：{fever}", now))
    if check.symptoms:
        raised.append(_raise(stay, AlertKind.SYMPTOM, check.day, f"症状：{_symptom_text(check)}", now))
    if not missing_slots(stay, check, check.day, now):
        Alert.objects.filter(stay=stay, day=check.day, kind=AlertKind.MISSING, state=AlertState.OPEN).update(
            state=AlertState.HANDLED, handled_at=now, handled_by=actor, outcome=FILLED_IN)
    return raised


FIELDS = ("temp_am", "temp_pm", "symptoms", "symptom_note", "disinfected", "reported", "note")


@transaction.atomic
def check_record(*, actor, stay_id: int, day: dt.date | None = None, temp_am=None, temp_pm=None,
                 symptoms: list[str] | None = None, symptom_note: str = "", disinfected: bool | None = None,
                 reported: bool | None = None, note: str = "") -> DailyCheck:
    """The stay's entry of the day, upserted: None (and an empty note) leaves a field as it is, so the morning and
    the afternoon fill one row and a retried request changes nothing more. An active stay only, a day of the stay
    up to today. A temperature >= FEVER_AT raises a fever alert, a symptom a symptom alert (one per kind and day,
    its detail kept up to date)."""
    require(actor, Capability.MONITOR_RECORD, "填报健康监测", "record daily monitoring")
    stay = _stay(actor, stay_id)
    if stay.state != StayState.ACTIVE:
        raise DomainError(code="stay_not_active", status=409, field="stay_id",
                          message_zh=f"“{StayState(stay.state).label}”的人员不能填报健康监测",
                          message_en=f"a stay in state {stay.state} takes no monitoring entries")
    day = day or clock.today()
    _check_day(stay, day)
    values = {"temp_am": _temperature(temp_am, "temp_am"), "temp_pm": _temperature(temp_pm, "temp_pm"),
              "symptoms": _symptoms(symptoms), "disinfected": disinfected, "reported": reported}
    for name, raw, limit in (("symptom_note", symptom_note, 200), ("note", note, 300)):
        text = (raw or "").strip()
        if len(text) > limit:
            raise ValidationFailed(field=name, code="too_long", message_zh=f"不能超过{limit}字",
                                   message_en=f"at most {limit} characters")
        values[name] = text or None
    if values["symptoms"] and Symptom.OTHER in values["symptoms"] and not values["symptom_note"]:
        existing_note = DailyCheck.objects.filter(stay=stay, day=day).values_list("symptom_note", flat=True).first()
        if not existing_note:
            raise ValidationFailed(field="symptom_note", code="required", message_zh="选择“其他”症状时请写明",
                                   message_en="describe the other symptom")
    now = clock.now()
    check = DailyCheck.objects.select_for_update().filter(stay=stay, day=day).first()
    created = check is None
    if created:
        check = DailyCheck(stay=stay, day=day, updated_at=now, recorded_by=actor)
    before = {f: _plain(getattr(check, f)) for f in FIELDS}
    for name, value in values.items():
        if value is not None:
            setattr(check, name, value)
    if values["symptoms"] == [] and values["symptom_note"] is None:
        check.symptom_note = ""  # no symptom left: its description goes with it
    after = {f: _plain(getattr(check, f)) for f in FIELDS}
    changes = {f: [before[f], after[f]] for f in FIELDS if before[f] != after[f]}
    if created and not changes:
        raise ValidationFailed(field="check", code="empty", message_zh="请至少填写一项（体温、症状、消杀或日报）",
                               message_en="enter at least one item (a temperature, symptoms, disinfection or the report)")
    if changes:
        check.updated_at, check.recorded_by = now, actor
        check.save()
        audit_record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, obj=check,
                     summary=f"健康监测 {stay.person.name} {day}：" + (_summary(check) or "—"),
                     changes={} if created else changes)
    _alerts_for(check, stay, actor, now)
    return check


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def _summary(check: DailyCheck) -> str:
    parts = [f"{label}{t}" for label, t in (("上午", check.temp_am), ("下午", check.temp_pm)) if t is not None]
    if check.symptoms:
        parts.append(_symptom_text(check))
    if check.disinfected is not None:
        parts.append("已消杀" if check.disinfected else "未消杀")
    if check.reported:
        parts.append("已日报")
    return "，".join(parts)


def _alerts_of(user) -> QuerySet[Alert]:
    path = jurisdiction_path(user)
    return Alert.objects.filter(Q(stay__area__path__startswith=path) | Q(site__area__path__startswith=path))


@transaction.atomic
def alert_handle(*, actor, alert_id: int, outcome: str) -> Alert:
    """The doctor's (or the team's) handling of an open alert, with what was done: "复测36.8，观察"."""
    require(actor, Capability.MONITOR_RECORD, "处置健康监测预警", "handle monitoring alerts")
    alert = (_alerts_of(actor).select_for_update(of=("self",)).filter(id=alert_id).select_related("stay__person")
             .first())
    if alert is None:
        raise NotFound("预警", "alert", field="alert_id")
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationFailed(field="outcome", code="required", message_zh="请填写处置结果",
                               message_en="give the outcome")
    if len(outcome) > 300:
        raise ValidationFailed(field="outcome", code="too_long", message_zh="处置结果不能超过300字",
                               message_en="the outcome is at most 300 characters")
    if alert.state != AlertState.OPEN:
        raise DomainError(code="already_handled", status=409, field="alert_id", message_zh="该预警已处置",
                          message_en="the alert has been handled")
    alert.state, alert.outcome, alert.handled_at, alert.handled_by = AlertState.HANDLED, outcome, clock.now(), actor
    alert.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=alert,
                 summary=f"处置预警 {alert.stay.person.name} {alert.day} {alert.detail}：{outcome}")
    return alert


def _need_text(value: str, name: str, zh: str, en: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(field=name, code="required", message_zh=f"请填写{zh}", message_en=f"give the {en}")
    if len(text) > 300:
        raise ValidationFailed(field=name, code="too_long", message_zh=f"{zh}不能超过300字",
                               message_en=f"the {en} is at most 300 characters")
    return text


@transaction.atomic
def need_add(*, actor, stay_id: int, kind: str, detail: str) -> Need:
    """A request of a person under a measure (心理疏导, medicine, special diet, a medical visit, supplies)."""
    require(actor, Capability.MONITOR_RECORD, "登记诉求", "record needs")
    stay = _stay(actor, stay_id)
    if stay.state not in OPEN_STAY_STATES:
        raise DomainError(code="stay_closed", status=409, field="stay_id", message_zh="该隔离管控已结束",
                          message_en="the stay is over")
    if kind not in NeedKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="请选择诉求类型",
                               message_en="choose the kind of need")
    detail = _need_text(detail, "detail", "诉求内容", "detail", required=True)
    need = Need.objects.create(stay=stay, kind=kind, detail=detail, requested_at=clock.now(), created_by=actor)
    with translation.override("zh-hans"):
        label = str(NeedKind(kind).label)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=need, summary=f"诉求 {stay.person.name}：{label} {detail}")
    return need


@transaction.atomic
def need_update(*, actor, need_id: int, state: str, resolution: str = "") -> Need:
    """open → in progress → resolved, forward only (open → resolved at once is fine); resolved needs what was done."""
    require(actor, Capability.MONITOR_RECORD, "办理诉求", "handle needs")
    need = _needs_of(actor).select_for_update(of=("self",)).filter(id=need_id).select_related("stay__person").first()
    if need is None:
        raise NotFound("诉求", "need", field="need_id")
    if state not in NeedState.values:
        raise ValidationFailed(field="state", code="invalid_choice", message_zh="状态不存在", message_en="unknown state")
    if NEED_ORDER[state] <= NEED_ORDER[need.state]:
        raise DomainError(code="bad_transition", status=409, field="state",
                          message_zh=f"不能从“{NeedState(need.state).label}”变为“{NeedState(state).label}”",
                          message_en=f"cannot go from {need.state} to {state}")
    resolution = _need_text(resolution, "resolution", "办理结果", "resolution", required=state == NeedState.RESOLVED)
    before = {"state": need.state, "resolution": need.resolution}
    need.state = state
    if resolution:
        need.resolution = resolution
    if state == NeedState.RESOLVED:
        need.resolved_at, need.resolved_by = clock.now(), actor
    need.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=need,
                 summary=f"诉求 {need.stay.person.name}：{before['state']} → {state}" + (f"（{resolution}）" if resolution else ""),
                 changes={k: [v, getattr(need, k)] for k, v in before.items() if v != getattr(need, k)})
    return need


def _active_on(qs: QuerySet[Stay], day: dt.date) -> QuerySet[Stay]:
    """Active stays whose days include `day` (central quarantine: admitted by that day's end)."""
    end_of_day = _at(day + dt.timedelta(days=1), dt.time())
    return (qs.filter(state=StayState.ACTIVE, starts_on__lte=day)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
            .exclude(measure__in=CENTRAL_MEASURES, admitted_at__gte=end_of_day))


@transaction.atomic
def flag_missing(*, day: dt.date, now: dt.datetime | None = None) -> int:
    """MISSING alerts for the active stays whose entries of the day are incomplete by `now` (the module's rule);
    the cron job's run (all jurisdictions). An open alert of the day keeps its detail up to date, a handled one is
    left alone. Answers how many alerts were created."""
    now = now or clock.now()
    stays = list(_active_on(Stay.objects.all(), day).only(
        "id", "site_id", "measure", "starts_on", "ends_on", "admitted_at", "state"))
    checks = {c.stay_id: c for c in DailyCheck.objects.filter(stay_id__in=[s.id for s in stays], day=day)}
    existing = {a.stay_id: a for a in Alert.objects.filter(stay_id__in=[s.id for s in stays], day=day,
                                                           kind=AlertKind.MISSING)}
    new, stale = [], []
    for stay in stays:
        slots = missing_slots(stay, checks.get(stay.id), day, now)
        if not slots:
            continue
        detail = _missing_detail(slots)
        alert = existing.get(stay.id)
        if alert is None:
            new.append(Alert(stay_id=stay.id, site_id=stay.site_id, kind=AlertKind.MISSING, day=day, detail=detail,
                             raised_at=now))
        elif alert.state == AlertState.OPEN and alert.detail != detail:
            alert.detail = detail
            stale.append(alert)
    Alert.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    Alert.objects.bulk_update(stale, ["detail"], batch_size=1000)
    if new or stale:
        audit_record(actor=None, action=AuditAction.CREATE, object_type="quarantine.alert",
                     summary=f"健康监测漏报提醒 {day}：新增 {len(new)} 条，更新 {len(stale)} 条", row_count=len(new))
    return len(new)


# ---- reads -------------------------------------------------------------------------------------------------------


def stays_of(user) -> QuerySet[Stay]:
    path = jurisdiction_path(user)
    return Stay.objects.filter(Q(area__path__startswith=path) | Q(site__area__path__startswith=path))


def site_of(user, site_id: int) -> Site:
    site = Site.objects.filter(id=site_id, area__path__startswith=jurisdiction_path(user)).first()
    if site is None:
        raise NotFound("隔离点", "quarantine site", field="site_id")
    return site


def sites_of(user) -> list[Site]:
    """The jurisdiction's active sites (the pages' site filter)."""
    return list(Site.objects.filter(area__path__startswith=jurisdiction_path(user), state=SiteState.ACTIVE).order_by("name"))


def test_due(stay: Stay, day: dt.date) -> dict | None:
    """The plan's test of that day ({"date", "day", "kind"}), a PCR before an antigen test; None when none."""
    due = [t for t in stay.test_days if t["date"] == day.isoformat()]
    return sorted(due, key=lambda t: t["kind"] != "pcr")[0] if due else None


def _test_outcomes(due: dict[int, tuple[int, str]], day: dt.date) -> dict[int, str]:
    """stay id -> what the test of the day says (negative, positive, pending, missing), through the testing
    domain's selector: one query per kind of test due that day."""
    by_kind: dict[str, list[int]] = {}
    for person_id, kind in due.values():
        by_kind.setdefault(kind, []).append(person_id)
    found = {kind: outcomes_on(ids, day, kind) for kind, ids in by_kind.items()}
    return {stay_id: found[kind][person_id] for stay_id, (person_id, kind) in due.items()}


@dataclass
class SheetRow:
    stay: Stay
    place: str  # the room number, or the home address
    name: str
    id_number: str  # masked
    day_no: int  # day N of the stay
    check: DailyCheck | None
    test: dict | None  # the plan's test due that day
    test_outcome: str  # negative / positive / pending / missing, "" when no test is due
    missing: tuple[str, ...]  # "am", "pm", "report": owed by now and not recorded
    alerts: list[Alert] = field(default_factory=list)  # the day's open alerts
    open_needs: int = 0
    can_record: bool = True

    @property
    def temp_am(self):
        return self.check.temp_am if self.check else None

    @property
    def temp_pm(self):
        return self.check.temp_pm if self.check else None

    @property
    def symptoms(self) -> list[str]:
        return list(self.check.symptoms) if self.check else []

    @property
    def disinfected(self) -> bool | None:
        return self.check.disinfected if self.check else None

    @property
    def reported(self) -> bool:
        return bool(self.check and self.check.reported)

    @property
    def fever(self) -> bool:
        return any(t is not None and t >= FEVER for t in (self.temp_am, self.temp_pm))

    @property
    def complete(self) -> bool:
        return not self.missing


def day_sheet(user, *, site_id: int | None = None, day: dt.date, now: dt.datetime | None = None) -> list[SheetRow]:
    """The day's entries of a site's active stays by room (or, with site_id None, of the home stays of the user's
    jurisdiction by address): temperatures, symptoms, disinfection, report, the test due with its outcome, the
    missing entries by `now` (the module's rule), the day's open alerts and the open needs. Five queries, plus one
    per kind of test due that day (see _test_outcomes)."""
    if site_id is not None:
        site = site_of(user, site_id)
        qs = Stay.objects.filter(site=site).order_by("room__floor", "room__number", "id")
    else:
        qs = (stays_of(user).filter(site__isnull=True).exclude(measure__in=CENTRAL_MEASURES)
              .order_by("home_address", "id"))
    return _rows(qs, day, now or clock.now())


def sheet_row(user, stay_id: int, day: dt.date, now: dt.datetime | None = None) -> SheetRow | None:
    """One stay's row of the day sheet (None when the stay is not on it: not active, or not one of its days)."""
    rows = _rows(stays_of(user).filter(id=stay_id), day, now or clock.now())
    return rows[0] if rows else None


def _rows(qs: QuerySet[Stay], day: dt.date, now: dt.datetime) -> list[SheetRow]:
    stays = list(_active_on(qs, day).select_related("person", "room"))
    ids = [s.id for s in stays]
    checks = {c.stay_id: c for c in DailyCheck.objects.filter(stay_id__in=ids, day=day)}
    alerts: dict[int, list[Alert]] = {}
    for a in Alert.objects.filter(stay_id__in=ids, day=day, state=AlertState.OPEN):
        alerts.setdefault(a.stay_id, []).append(a)
    needs = dict(Need.objects.filter(stay_id__in=ids).exclude(state=NeedState.RESOLVED).values_list("stay_id")
                 .annotate(n=Count("id")).order_by())
    tests = {s.id: test_due(s, day) for s in stays}
    outcomes = _test_outcomes({s.id: (s.person_id, t["kind"]) for s in stays if (t := tests[s.id])}, day)
    today = clock.today()
    rows = []
    for s in stays:
        rows.append(SheetRow(
            stay=s, place=s.room.number if s.room_id else s.home_address, name=s.person.name,
            id_number=mask_id_number(s.person.id_number), day_no=(day - s.starts_on).days + 1,
            check=checks.get(s.id), test=tests[s.id], test_outcome=outcomes.get(s.id, ""),
            missing=missing_slots(s, checks.get(s.id), day, now),
            alerts=sorted(alerts.get(s.id, []), key=lambda a: ALERT_ORDER.get(a.kind, 9)),
            open_needs=needs.get(s.id, 0), can_record=day <= today))
    return rows


@dataclass
class Summary:
    people: int = 0
    complete: int = 0  # no entry owed by now is missing
    missing: int = 0
    fevers: int = 0
    symptoms: int = 0
    tests_due: int = 0
    tests_done: int = 0  # a result is out (negative or positive)
    tests_pending: int = 0  # sampled, no result yet
    tests_missing: int = 0  # not sampled
    positive: int = 0
    open_needs: int = 0
    open_alerts: int = 0


def summarize(rows: list[SheetRow]) -> Summary:
    """The counts at the top of the day sheet, from its rows (no query)."""
    outcomes = Counter(r.test_outcome for r in rows if r.test)
    return Summary(
        people=len(rows), complete=sum(1 for r in rows if r.complete), missing=sum(1 for r in rows if r.missing),
        fevers=sum(1 for r in rows if r.fever), symptoms=sum(1 for r in rows if r.symptoms),
        tests_due=sum(outcomes.values()), tests_done=outcomes["negative"] + outcomes["positive"],
        tests_pending=outcomes["pending"], tests_missing=outcomes["missing"], positive=outcomes["positive"],
        open_needs=sum(r.open_needs for r in rows), open_alerts=sum(len(r.alerts) for r in rows))


def site_monitoring_summary(user, site_id: int, day: dt.date) -> Summary:
    """People, entries complete, fevers, symptoms, tests due / done / pending, open needs of a site's day."""
    return summarize(day_sheet(user, site_id=site_id, day=day))


def check_of(stay: Stay, day: dt.date) -> DailyCheck | None:
    return DailyCheck.objects.filter(stay=stay, day=day).first()


def stay_for_check(user, stay_id: int) -> Stay:
    """A stay of the jurisdiction for its entry form (read only; the write locks it again)."""
    stay = stays_of(user).filter(id=stay_id).select_related("person", "room", "site").first()
    if stay is None:
        raise NotFound("隔离管控记录", "stay", field="stay_id")
    return stay


def test_outcome(stay: Stay, day: dt.date) -> tuple[dict | None, str]:
    """The plan's test of that day and what it says ("" when none is due, or the day is still to come)."""
    test = test_due(stay, day)
    if test is None or day > clock.today():
        return test, ""
    return test, _test_outcomes({stay.id: (stay.person_id, test["kind"])}, day)[stay.id]


def alert_of(user, alert_id: int) -> Alert:
    alert = _alerts_of(user).filter(id=alert_id).select_related("stay__person", "stay__room", "site").first()
    if alert is None:
        raise NotFound("预警", "alert", field="alert_id")
    return alert


def alerts_open(user, *, site_id: int | None = None, home: bool = False) -> list[Alert]:
    """The open alerts of the jurisdiction (a site's only, or the home stays' only), fever first, then symptoms,
    seals, absences and missed entries, oldest first."""
    qs = _alerts_of(user).filter(state=AlertState.OPEN)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    elif home:
        qs = qs.filter(site__isnull=True)
    alerts = list(qs.select_related("stay__person", "stay__room", "site").order_by("day", "raised_at", "id"))
    return sorted(alerts, key=lambda a: (ALERT_ORDER.get(a.kind, 9), a.day, a.raised_at, a.id))


def _needs_of(user) -> QuerySet[Need]:
    path = jurisdiction_path(user)
    return Need.objects.filter(Q(stay__area__path__startswith=path) | Q(stay__site__area__path__startswith=path))


def need_of(user, need_id: int) -> Need:
    need = _needs_of(user).filter(id=need_id).select_related("stay__person", "stay__room", "stay__site").first()
    if need is None:
        raise NotFound("诉求", "need", field="need_id")
    return need


def needs_list(user, *, state: str | None = None, site_id: int | None = None, stay_id: int | None = None
               ) -> list[Need]:
    """The needs of the jurisdiction's people (a site's, or one stay's), open first, then in progress, then
    resolved; oldest request first within each."""
    qs = _needs_of(user)
    if state:
        qs = qs.filter(state=state)
    if site_id is not None:
        qs = qs.filter(stay__site_id=site_id)
    if stay_id is not None:
        qs = qs.filter(stay_id=stay_id)
    needs = list(qs.select_related("stay__person", "stay__room", "stay__site", "resolved_by")
                 .order_by("requested_at", "id"))
    return sorted(needs, key=lambda n: NEED_ORDER.get(n.state, 9))
