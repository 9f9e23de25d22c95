"""Writes of mass testing: rounds, sites, labs, filling tubes, transport, lab results (reviewed, with history),
the members' states, rechecks and the status facts they publish.

Every write that takes a list (a tube's members, a box's tubes, a lab file) is all or nothing: it is checked first
and either applied whole or refused with the errors of every bad item."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.models import Area
from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.db import chunks
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.models import Person
from shouwang.policy.rules.zones import pooling_mode
from shouwang.policy.selectors import ruleset_in_force
from shouwang.status.services import fact_publish, fact_withdraw
from shouwang.testing.enums import (
    EXEMPT_NOT_SAMPLED,
    POOL_SIZE,
    SETTINGS,
    BatchState,
    ExemptReason,
    PersonRoundState,
    PoolMode,
    RecheckState,
    Result,
    ResultFileState,
    RoundKind,
    RoundState,
    SiteKind,
    TubePurpose,
    TubeState,
)
from shouwang.testing.models import (
    Exemption,
    Lab,
    LabResultFile,
    PersonRound,
    RecheckTask,
    RoundArea,
    SamplingSite,
    TestingRound,
    TransportBatch,
    Tube,
    TubeMember,
    TubeResult,
)
from shouwang.testing.signals import positive_withdrawn, positives_reported
from shouwang.venues.selectors import people_by_tokens

POOL_SOURCE = "testing.pool"  # status facts: a positive pool's members awaiting their recheck (source id: tube)
CASE_SOURCE = "testing.positive"  # a positive single tube or recheck (source id: tube)
MAX_BARCODE = 40


def _now() -> dt.datetime:
    return clock.now()


class ItemErrors(DomainError):
    """A list refused whole: every bad item with its index, field and reason."""

    def __init__(self, errors: list[dict], *, zh: str, en: str, code: str = "invalid_items"):
        super().__init__(code=code, status=422, field=errors[0].get("field") if errors else None,
                         message_zh=zh, message_en=en, details=errors)


def _item_error(index: int, exc: DomainError, **extra) -> dict:
    return {"index": index, "code": exc.code, "field": exc.field, "zh": exc.message_zh, "en": exc.message_en,
            **extra}


# ---- rounds -------------------------------------------------------------------------------------------------------


@dataclass
class RoundInput:
    name: str
    area_ids: list[int]
    starts_at: dt.datetime
    deadline: dt.datetime
    kind: str = RoundKind.AREA
    settings: dict[int, str] = field(default_factory=dict)  # area id -> pooling setting (default other_area)


def _people_in(areas) -> int:
    total = 0
    for area in areas:
        total += Person.objects.active().filter(area__path__startswith=area.path).count()
    return total


def _round_target(round_: TestingRound) -> int:
    areas = [ra.area for ra in round_.areas.select_related("area")]
    exempt = round_.exemptions.exclude(reason=ExemptReason.DOOR_TO_DOOR).count()
    return max(0, _people_in(areas) - exempt)


@transaction.atomic
def round_create(*, actor, data: RoundInput) -> TestingRound:
    """A round over areas of the actor's jurisdiction; each area's sampling mode comes from the policy in force on
    the start day for that area (the setting says which of the policy's sampling rules applies)."""
    require(actor, Capability.ROUND_MANAGE, "组织检测轮次", "organise testing rounds")
    name = (data.name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="请填写轮次名称", message_en="name is required")
    if data.kind not in RoundKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="轮次类型不存在",
                               message_en="unknown round kind")
    if not data.area_ids:
        raise ValidationFailed(field="area_ids", code="required", message_zh="请选择检测范围",
                               message_en="choose the areas of the round")
    if data.deadline <= data.starts_at:
        raise ValidationFailed(field="deadline", code="before_start", message_zh="完成时限应晚于开始时间",
                               message_en="the deadline must be after the start")
    areas = [area_visible(user=actor, area_id=i) for i in dict.fromkeys(data.area_ids)]
    paths = sorted(a.path for a in areas)
    for a, b in zip(paths, paths[1:], strict=False):
        if b.startswith(a):
            raise ValidationFailed(field="area_ids", code="overlapping", message_zh="检测范围中的区域相互包含",
                                   message_en="the areas of the round overlap")
    day = timezone.localdate(data.starts_at)
    ruleset = ruleset_in_force(day, area_codes_chain(areas[0]))
    round_ = TestingRound.objects.create(name=name, kind=data.kind, starts_at=data.starts_at, deadline=data.deadline,
                                         policy_version=ruleset.id, created_by=actor,
                                         state=RoundState.SAMPLING if data.starts_at <= _now() else RoundState.PLANNED)
    for area in areas:
        setting = data.settings.get(area.id, "other_area")
        if setting not in SETTINGS:
            raise ValidationFailed(field="settings", code="invalid_choice", message_zh=f"采样场景“{setting}”不存在",
                                   message_en=f"sampling setting '{setting}' does not exist")
        decision = pooling_mode(ruleset_in_force(day, area_codes_chain(area)), setting)
        RoundArea.objects.create(round=round_, area=area, setting=setting, pool_mode=decision.mode,
                                 rule=decision.rule, reason_zh="；".join(b.zh for b in decision.because)[:300],
                                 reason_en="; ".join(b.en for b in decision.because)[:300])
    round_.target = _round_target(round_)
    round_.save(update_fields=["target"])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=round_,
                 summary=f"新建检测轮次 {name}：{len(areas)}个区域，应检{round_.target}人")
    return round_


def round_visible(*, user, round_id: int) -> TestingRound:
    """A round with at least one area in the user's jurisdiction (or covering it)."""
    path = jurisdiction_path(user)
    round_ = TestingRound.objects.filter(id=round_id).first()
    if round_ is None or not any(a.path.startswith(path) or path.startswith(a.path)
                                 for a in Area.objects.filter(id__in=round_.areas.values("area_id"))):
        raise NotFound("检测轮次", "testing round", field="round_id")
    return round_


@transaction.atomic
def round_set_state(*, actor, round_id: int, state: str) -> TestingRound:
    require(actor, Capability.ROUND_MANAGE, "组织检测轮次", "organise testing rounds")
    round_ = round_visible(user=actor, round_id=round_id)
    allowed = {RoundState.PLANNED: {RoundState.SAMPLING, RoundState.CANCELLED},
               RoundState.SAMPLING: {RoundState.FINISHED, RoundState.CANCELLED}}
    if state not in allowed.get(round_.state, set()):
        raise DomainError(code="invalid_transition", status=409, field="state",
                          message_zh=f"轮次当前为“{round_.get_state_display()}”，不能改为该状态",
                          message_en=f"the round is {round_.state}; it cannot become {state}")
    round_.state = state
    round_.save(update_fields=["state", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=round_, summary=f"检测轮次 {round_.name} → {state}")
    return round_


@transaction.atomic
def exemption_add(*, actor, round_id: int, person_id: int, reason: str, note: str = "") -> Exemption:
    """Record (or change) why a person of the round is not sampled at a site. The round's target follows at once
    (by the change, not a recount). Refused: a finished or cancelled round, a person outside the round's areas, and
    a person already sampled this round exempted from sampling (their sample counts; door-to-door is still
    sampled, so it may be recorded at any time)."""
    require(actor, Capability.ROUND_MANAGE, "登记免检", "record exemptions")
    round_ = round_visible(user=actor, round_id=round_id)
    if round_.state in (RoundState.FINISHED, RoundState.CANCELLED):
        raise DomainError(code="round_closed", status=409, field="round_id", message_zh="该轮次已结束或已取消",
                          message_en="the round is finished or cancelled")
    if reason not in ExemptReason.values:
        raise ValidationFailed(field="reason", code="invalid_choice", message_zh="免检原因不存在",
                               message_en="unknown exemption reason")
    person = (Person.objects.active().filter(id=person_id, area__path__startswith=jurisdiction_path(actor))
              .select_related("area").first())
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    if not any(person.area.path.startswith(ra.area.path) for ra in round_.areas.select_related("area")):
        raise DomainError(code="outside_round", status=422, field="person_id", message_zh="此人不在本轮检测范围内",
                          message_en="this person is outside the round's areas")
    counts = reason in EXEMPT_NOT_SAMPLED
    if counts and PersonRound.objects.filter(round=round_, person=person).exists():
        raise DomainError(code="already_sampled", status=409, field="person_id",
                          message_zh="此人本轮已采样，不能登记免检", message_en="this person is already sampled this round")
    before = Exemption.objects.select_for_update().filter(round=round_, person=person).first()
    counted = before is not None and before.reason in EXEMPT_NOT_SAMPLED
    exemption, _ = Exemption.objects.update_or_create(round=round_, person=person,
                                                      defaults={"reason": reason, "note": note[:200],
                                                                "recorded_by": actor})
    if counts != counted:
        TestingRound.objects.filter(id=round_.id).update(target=F("target") + (counted - counts))
    audit_record(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, obj=round_,
                 summary=f"登记免检 {round_.name}：人员{person.id}，{ExemptReason(reason).label}")
    return exemption


# ---- sites and labs ------------------------------------------------------------------------------------------------


@transaction.atomic
def site_create(*, actor, name: str, area_id: int, kind: str = SiteKind.FIXED, address: str = "",
                opening_hours: str = "", samplers: int = 2, per_hour: int = 120) -> SamplingSite:
    require(actor, Capability.ROUND_MANAGE, "设置采样点", "set up sampling sites")
    area = area_visible(user=actor, area_id=area_id)
    if kind not in SiteKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="采样点类型不存在",
                               message_en="unknown site kind")
    if not (name or "").strip():
        raise ValidationFailed(field="name", code="required", message_zh="请填写采样点名称",
                               message_en="name is required")
    if per_hour < 1 or samplers < 1:
        raise ValidationFailed(field="per_hour", code="out_of_range", message_zh="采样能力和人员数应大于0",
                               message_en="capacity and samplers must be positive")
    site = SamplingSite.objects.create(name=name.strip(), area=area, kind=kind, address=address,
                                       opening_hours=opening_hours, samplers=samplers, per_hour=per_hour)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=site, summary=f"新建采样点 {site.name}")
    return site


@transaction.atomic
def lab_create(*, actor, name: str, area_id: int, tubes_per_day: int = 4000) -> Lab:
    require(actor, Capability.ROUND_MANAGE, "登记实验室", "register labs")
    area = area_visible(user=actor, area_id=area_id)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="请填写实验室名称",
                               message_en="name is required")
    if tubes_per_day < 1:
        raise ValidationFailed(field="tubes_per_day", code="out_of_range", message_zh="日检测能力应大于0",
                               message_en="the daily capacity must be positive")
    if Lab.objects.filter(name=name).exists():
        raise DomainError(code="duplicate", status=409, field="name", message_zh="已有同名实验室",
                          message_en="a lab with this name exists")
    lab = Lab.objects.create(name=name, area=area, tubes_per_day=tubes_per_day)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=lab, summary=f"登记实验室 {lab.name}（日检测{tubes_per_day}管）")
    return lab


# ---- sampling: filling tubes --------------------------------------------------------------------------------------

CHUNK = 900  # values per IN (...): under SQLite's oldest limit of 999 variables
INSERT_BATCH = 5000  # rows per executemany
RANGE_CHUNK = 5000  # ids per range query


def _chunks(items, size: int = CHUNK):
    return chunks(items, size)


@functools.cache
def _sql() -> dict[str, str]:
    """The reads of filling tubes as plain SQL, built once from the models' tables and columns. A SELECT that
    _select_by_ids extends ends in a WHERE clause; its first column is the key."""
    p, a, t, m = Person._meta, Area._meta, Tube._meta, TubeMember._meta
    ra, rt, r, s = RoundArea._meta, RecheckTask._meta, TestingRound._meta, SamplingSite._meta

    def c(meta, name: str) -> str:
        return meta.get_field(name).column

    return {
        "round": f"SELECT {c(r, 'state')} FROM {r.db_table} WHERE id = %s",
        "site": f"SELECT {c(s, 'active')} FROM {s.db_table} WHERE id = %s",
        "scopes": f"SELECT ra.{c(ra, 'pool_mode')}, a.{c(a, 'path')} FROM {ra.db_table} ra "
                  f"JOIN {a.db_table} a ON a.id = ra.{c(ra, 'area')} WHERE ra.{c(ra, 'round')} = %s",
        "numbers": f"SELECT {c(p, 'id_number')}, id FROM {p.db_table} WHERE {c(p, 'merged_into')} IS NULL "
                   f"AND {c(p, 'id_number')} IN ",
        "people": f"SELECT p.id, p.{c(p, 'area')}, a.{c(a, 'path')} FROM {p.db_table} p "
                  f"JOIN {a.db_table} a ON a.id = p.{c(p, 'area')} WHERE p.{c(p, 'merged_into')} IS NULL",
        "areas": f"SELECT id, {c(p, 'area')} FROM {p.db_table} WHERE 1 = 1",
        "barcodes": f"SELECT id FROM {t.db_table} WHERE {c(t, 'barcode')} IN ",
        "sampled": f"SELECT m.{c(m, 'person')}, t.{c(t, 'barcode')} FROM {m.db_table} m "
                   f"JOIN {t.db_table} t ON t.id = m.{c(m, 'tube')} WHERE m.{c(m, 'round')} = %s "
                   f"AND m.{c(m, 'purpose')} = %s AND m.{c(m, 'removed_at')} IS NULL",
        "sampled_key": f"m.{c(m, 'person')}",
        "due": f"SELECT {c(rt, 'person')} FROM {rt.db_table} WHERE {c(rt, 'round')} = %s AND {c(rt, 'state')} = %s",
        "due_key": c(rt, "person"),
    }


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _select_by_ids(sql: str, key: str, ids, params: tuple = ()):
    """Rows of `sql` (a SELECT whose first column is `key`, ending in a WHERE clause that this extends) whose `key`
    is one of `ids`. The sorted ids go by chunks: a dense chunk as one range (one index range scan, no parameter per
    id), a sparse one by IN (...) of up to CHUNK values. Plain SQL: the sampler's request and the bulk path run these
    reads on every tube, and building an ORM query costs more than the indexed lookup it makes."""
    wanted = sorted(set(ids))
    with connection.cursor() as cursor:
        for chunk in _chunks(wanted, RANGE_CHUNK):
            lo, hi = chunk[0], chunk[-1]
            if hi - lo < 2 * len(chunk):
                keep = set(chunk)
                cursor.execute(f"{sql} AND {key} BETWEEN %s AND %s", [*params, lo, hi])
                yield from (row for row in cursor.fetchall() if row[0] in keep)
            else:
                for part in _chunks(chunk):
                    cursor.execute(f"{sql} AND {key} IN ({_marks(len(part))})", [*params, *part])
                    yield from cursor.fetchall()


def _insert_sql(model, fields: list[str]) -> str:
    meta, qn = model._meta, connection.ops.quote_name
    return (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(meta.get_field(f).column) for f in fields)}) "
            f"VALUES ({_marks(len(fields))})")


def _insert_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """INSERT plain rows (values in `fields` order, already in the database's form) with executemany: the rows
    bulk_create would write, without preparing each value of each object (ids are not read back)."""
    sql = _insert_sql(model, fields)
    with connection.cursor() as cursor:
        for batch in _chunks(rows, INSERT_BATCH):
            cursor.executemany(sql, batch)


@dataclass
class FillResult:
    tube: Tube
    added: list[int]  # person ids added by this request, in order
    already: list[int]  # already in this tube (a retried request)


@dataclass
class BulkFillReport:
    tubes_opened: int = 0
    tubes_closed: int = 0  # by this request (full, or `close`)
    people_added: int = 0
    already: int = 0  # people already in their tube (a retried upload)


class _Scope(NamedTuple):
    """A round area as filling tubes reads it."""

    pool_mode: str
    path: str


def _round_area_of(person_area_path: str, scopes: list[_Scope]) -> _Scope | None:
    best = None
    for scope in scopes:
        if person_area_path.startswith(scope.path) and (best is None or len(scope.path) > len(best.path)):
            best = scope
    return best


def _resolve_people(items: list[dict]) -> tuple[list[int | None], list[dict]]:
    """Each item names a person by `person_token` (their code) or `id_number`; answers ids (None where bad)."""
    tokens = people_by_tokens([i.get("person_token") for i in items if isinstance(i, dict)])
    numbers = [str(i.get("id_number") or "").strip().upper() for i in items if isinstance(i, dict)]
    by_number: dict[str, int] = {}
    for chunk in _chunks(sorted({n for n in numbers if n})):
        with connection.cursor() as cursor:
            cursor.execute(f"{_sql()['numbers']}({_marks(len(chunk))})", chunk)
            by_number.update(cursor.fetchall())
    ids, errors = [], []
    for index, item in enumerate(items):
        pid = None
        if isinstance(item, dict):
            if item.get("person_token"):
                pid = tokens.get(str(item["person_token"]).strip())
            elif item.get("id_number"):
                pid = by_number.get(str(item["id_number"]).strip().upper())
        if pid is None:
            errors.append(_item_error(index, DomainError(code="unknown_person", status=404, field="person",
                                                         message_zh="查无此人（个人码或证件号无效）",
                                                         message_en="no such person (unknown code or ID number)")))
        ids.append(pid)
    return ids, errors


def _sampling_round(actor, round_id: int, purpose: str, site_id: int | None) -> None:
    """The checks before filling tubes: the right, a round that is sampling (locked for update where the database
    can, as a state change would lock it), the purpose, an active site."""
    require(actor, Capability.SAMPLE_RECORD, "采样登记", "record samples")
    with connection.cursor() as cursor:
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cursor.execute(_sql()["round"] + lock, [round_id])
        row = cursor.fetchone()
        if row is None:
            raise NotFound("检测轮次", "testing round", field="round_id")
    round_visible(user=actor, round_id=round_id)  # a round outside the sampler's jurisdiction is "not found"
    with connection.cursor() as cursor:
        if row[0] != RoundState.SAMPLING:
            raise DomainError(code="round_not_sampling", status=409, field="round_id",
                              message_zh="该轮次不在采样中", message_en="the round is not sampling")
        if purpose not in TubePurpose.values:
            raise ValidationFailed(field="purpose", code="invalid_choice", message_zh="用途不存在",
                                   message_en="unknown purpose")
        if site_id is not None:
            cursor.execute(_sql()["site"], [site_id])
            row = cursor.fetchone()
            if row is None or not row[0]:
                raise NotFound("采样点", "sampling site", field="site_id")


def _visible_tube(actor, barcode: str) -> Tube:
    """A tube (locked) of a round the actor sees; any other answers "not found"."""
    tube = Tube.objects.select_for_update().filter(barcode=str(barcode).strip()).first()
    if tube is None:
        raise NotFound("采样管", "tube", field="barcode")
    try:
        round_visible(user=actor, round_id=tube.round_id)
    except NotFound:
        raise NotFound("采样管", "tube", field="barcode") from None
    return tube


def visible_lab(actor, lab_id: int) -> Lab:
    """A lab serving the actor's area: the lab's area contains the actor's jurisdiction or lies inside it."""
    lab = Lab.objects.select_related("area").filter(id=lab_id).first()
    path = jurisdiction_path(actor)
    if lab is None or not (path.startswith(lab.area.path) or lab.area.path.startswith(path)):
        raise NotFound("实验室", "lab", field="lab_id")
    return lab


def _barcode_error() -> DomainError:
    return ValidationFailed(field="barcode", code="invalid", message_zh="管码为空或过长",
                            message_en="the tube barcode is empty or too long")


def _duplicate_error() -> DomainError:
    return ValidationFailed(field="people", code="duplicate_person", message_zh="同一人在本次提交中出现多次",
                            message_en="the same person appears twice in the request")


@dataclass
class _TubePlan:
    barcode: str
    tube: Tube | None  # None: a new tube
    mode: str
    fresh: list[int]  # people to add, in order
    already: list[int]  # people already in the tube
    count: int  # members in the tube before
    position: int  # the last position used in the tube


class _Filling:
    """What filling tubes of a round checks against, read for all the tubes of a request at once (by chunks): the
    people (active, with their area and round area), the tubes already there with their members, who is already
    in a tube of the round, and the open rechecks."""

    def __init__(self, round_id: int, purpose: str, barcodes: list[str], person_ids: list[int]):
        self.round_id, self.purpose = round_id, purpose
        self.closed = 0  # tubes closed by write()
        people = sorted(set(person_ids))
        sql = _sql()
        with connection.cursor() as cursor:
            cursor.execute(sql["scopes"], [round_id])
            scopes = [_Scope(*row) for row in cursor.fetchall()]
        self.area: dict[int, int] = {}  # person -> area
        self.scope: dict[int, _Scope | None] = {}  # area -> the round area it lies in
        for pid, area_id, path in _select_by_ids(sql["people"], "p.id", people):
            self.area[pid] = area_id
            if area_id not in self.scope:
                self.scope[area_id] = _round_area_of(path, scopes)
        self.tubes: dict[str, Tube] = {}  # the barcodes already used (rare: a retry, a tube filled in steps)
        for chunk in _chunks(barcodes):
            with connection.cursor() as cursor:
                cursor.execute(f"{sql['barcodes']}({_marks(len(chunk))})", chunk)
                found = [row[0] for row in cursor.fetchall()]
            if found:
                self.tubes.update((t.barcode, t) for t in Tube.objects.select_for_update().filter(id__in=found))
        self.members: dict[int, list[tuple[int, int]]] = defaultdict(list)  # tube -> [(person, position)]
        for chunk in _chunks(t.id for t in self.tubes.values()):
            for tube_id, pid, position in TubeMember.objects.filter(tube_id__in=chunk, removed_at__isnull=True) \
                    .order_by("tube_id", "position").values_list("tube_id", "person_id", "position"):
                self.members[tube_id].append((pid, position))
        # person -> the barcode of their tube in the round (for this purpose)
        self.sampled: dict[int, str] = dict(_select_by_ids(sql["sampled"], sql["sampled_key"], people,
                                                           (round_id, purpose)))
        self.exempt: set[int] = set()  # people exempted from sampling who came to be sampled after all
        if purpose == TubePurpose.ROUND:
            exempted = Exemption.objects.filter(round_id=round_id, reason__in=list(EXEMPT_NOT_SAMPLED))
            if exempted.exists():  # rare, and a few thousand at most: read them once
                self.exempt = set(exempted.values_list("person_id", flat=True)) & set(people)
        self.due: set[int] = set()  # people with an open recheck
        if purpose == TubePurpose.RECHECK:
            self.due.update(pid for pid, in _select_by_ids(sql["due"], sql["due_key"], people,
                                                           (round_id, RecheckState.OPEN)))

    def plan(self, barcode: str, ids: list[int], placed: dict[int, str]) -> tuple[_TubePlan, list[dict]]:
        """One tube's request checked as tube_fill checks it: raises the refusal of the whole tube (DomainError),
        or answers the plan and the errors of its people (index: the person's place in the request). `placed`:
        people put in other tubes earlier in the same request (person -> barcode), updated here."""
        round_id, purpose = self.round_id, self.purpose
        if len(set(ids)) != len(ids):
            raise _duplicate_error()
        errors = [_item_error(index, DomainError(code="unknown_person", status=404, field="person",
                                                 message_zh="查无此人（个人码或证件号无效）",
                                                 message_en="no such person (unknown code or ID number)"),
                              person_id=pid)
                  for index, pid in enumerate(ids) if pid not in self.area]
        if errors:
            return _TubePlan(barcode, None, "", [], [], 0, 0), errors
        tube = self.tubes.get(barcode)
        scope = [self.scope[self.area[pid]] for pid in ids]
        for index, ra in enumerate(scope):
            if ra is None and purpose == TubePurpose.ROUND:
                errors.append(_item_error(index, DomainError(code="outside_round", status=422, field="person",
                                                             message_zh="此人不在本轮检测范围内",
                                                             message_en="this person is outside the round's areas"),
                                          person_id=ids[index]))
        mode = PoolMode.SINGLE if purpose == TubePurpose.RECHECK else (
            tube.pool_mode if tube else next((ra.pool_mode for ra in scope if ra is not None), PoolMode.TWENTY))
        for index, ra in enumerate(scope):
            if purpose == TubePurpose.ROUND and ra is not None and ra.pool_mode != mode:
                errors.append(_item_error(index, DomainError(
                    code="pool_mode_mismatch", status=422, field="person",
                    message_zh=f"此人所在区域按“{PoolMode(ra.pool_mode).label}”采样，与本管不同",
                    message_en=f"this person's area is sampled {ra.pool_mode}, this tube is {mode}"),
                    person_id=ids[index]))
        if tube is not None and (tube.round_id != round_id or tube.purpose != purpose):
            raise DomainError(code="barcode_reused", status=409, field="barcode",
                              message_zh="该管码已在其他轮次或用途中使用", message_en="this barcode was used elsewhere")
        current = self.members.get(tube.id, []) if tube is not None else []
        in_tube = {pid for pid, _ in current}
        fresh = [pid for pid in ids if pid not in in_tube]
        already = [pid for pid in ids if pid in in_tube]
        if fresh and tube is not None and tube.state != TubeState.OPEN:
            raise DomainError(code="tube_closed", status=409, field="barcode", message_zh="该管已封管，不能再加人",
                              message_en="the tube is closed")
        size = tube.pool_size if tube is not None else POOL_SIZE[mode]
        if len(current) + len(fresh) > size:
            raise DomainError(code="tube_full", status=409, field="people",
                              message_zh=f"该管最多{size}人，已有{len(current)}人",
                              message_en=f"the tube holds {size}; it has {len(current)}")
        for index, pid in enumerate(ids):
            if pid in in_tube:
                continue
            other = placed.get(pid) or self.sampled.get(pid)
            if other is not None:
                errors.append(_item_error(index, DomainError(
                    code="already_sampled", status=409, field="person",
                    message_zh=f"此人本轮已在{other}号管中采样", message_en=f"already sampled in tube {other} this round"),
                    person_id=pid))
        if purpose == TubePurpose.RECHECK:
            for index, pid in enumerate(ids):
                if pid not in in_tube and pid not in self.due:
                    errors.append(_item_error(index, DomainError(code="no_recheck_due", status=409, field="person",
                                                                 message_zh="此人没有待复核任务",
                                                                 message_en="no recheck is due for this person"),
                                              person_id=pid))
        for pid in fresh:
            placed[pid] = barcode
        position = max((p for _, p in current), default=0)
        return _TubePlan(barcode, tube, mode, fresh, already, len(current), position), errors

    def write(self, plans: list[_TubePlan], *, actor, site_id: int | None, close: bool,
              objects: bool = True) -> list[Tube | int]:
        """Open the new tubes, add the people in order and record their round state (or their recheck's tube);
        close the tubes that are full (or all, on `close`). Answers the tubes in the order of `plans` (a new tube
        as its id only, without `objects`)."""
        round_id, purpose = self.round_id, self.purpose
        now, stamp = _now(), timezone.now()
        db_now, db_stamp = (connection.ops.adapt_datetimefield_value(v) for v in (now, stamp))
        fields = ["barcode", "round", "purpose", "pool_mode", "pool_size", "site", "sampler", "state", "opened_at",
                  "closed_at", "result", "members_count", "created_at", "updated_at"]
        new_rows = []
        for p in plans:
            if p.tube is None:
                closing = close or len(p.fresh) >= POOL_SIZE[p.mode]
                new_rows.append((p.barcode, round_id, purpose, p.mode, POOL_SIZE[p.mode], site_id,
                                 actor.id, TubeState.CLOSED if closing else TubeState.OPEN, db_now,
                                 db_now if closing else None, "", len(p.fresh), db_stamp, db_stamp))
        ids = {}
        if len(new_rows) == 1 and connection.features.can_return_columns_from_insert:  # the sampler's request
            with connection.cursor() as cursor:
                cursor.execute(f"{_insert_sql(Tube, fields)} RETURNING id", new_rows[0])
                ids[new_rows[0][0]] = cursor.fetchone()[0]
        elif new_rows:
            # the new tubes' ids: every id above the largest before the insert that carries one of their barcodes
            # (rows of concurrent transactions on PostgreSQL have other barcodes)
            before = Tube.objects.aggregate(last=Max("id"))["last"] or 0
            _insert_rows(Tube, fields, new_rows)
            ids = dict(Tube.objects.filter(id__gt=before).values_list("barcode", "id"))
        tubes, members, states = [], [], []
        # plain values for the million-row loop below
        purpose_, area, sampled = str(purpose), self.area, str(PersonRoundState.SAMPLED)
        per_round = purpose == TubePurpose.ROUND
        for p in plans:
            tube = p.tube
            if tube is None:
                closing = close or len(p.fresh) >= POOL_SIZE[p.mode]
                self.closed += closing
                tube = ids[p.barcode]
                if objects:
                    tube = Tube(id=tube, barcode=p.barcode, round_id=round_id, purpose=purpose, pool_mode=p.mode,
                                pool_size=POOL_SIZE[p.mode], site_id=site_id, sampler=actor, opened_at=now,
                                state=TubeState.CLOSED if closing else TubeState.OPEN,
                                closed_at=now if closing else None, members_count=len(p.fresh), created_at=stamp,
                                updated_at=stamp)
            elif p.fresh or (close and tube.state == TubeState.OPEN):  # a retry alone changes nothing
                tube.members_count = p.count + len(p.fresh)
                update = ["members_count", "updated_at"]
                if tube.state == TubeState.OPEN and (close or tube.members_count >= tube.pool_size):
                    tube.state, tube.closed_at = TubeState.CLOSED, now
                    update += ["state", "closed_at"]
                    self.closed += 1
                tube.save(update_fields=update)
            tubes.append(tube)
            tube_id = tube if isinstance(tube, int) else tube.id
            members += [(tube_id, round_id, purpose_, pid, position, db_now, "")
                        for position, pid in enumerate(p.fresh, start=p.position + 1)]
            if per_round:
                states += [(round_id, pid, area[pid], sampled, tube_id, db_now) for pid in p.fresh]
        try:
            with transaction.atomic():
                _insert_rows(TubeMember, ["tube", "round", "purpose", "person", "position", "added_at",
                                          "removed_reason"], members)
        except IntegrityError:  # a concurrent request put one of them in another tube
            raise DomainError(code="already_sampled", status=409, field="person",
                              message_zh="有人员刚刚在其他管中采样，请重试", message_en="someone was just sampled in "
                                                                          "another tube; retry") from None
        _insert_rows(PersonRound, ["round", "person", "area", "state", "tube", "sampled_at"], states)
        came = sorted(self.exempt.intersection(pid for p in plans for pid in p.fresh))
        if came:  # exempted (away, infant ...) but sampled after all: the sample counts, the exemption goes
            Exemption.objects.filter(round_id=round_id, person_id__in=came).delete()
            TestingRound.objects.filter(id=round_id).update(target=F("target") + len(came))
            audit_record(actor=actor, action=AuditAction.DELETE, obj=TestingRound(id=round_id),
                         summary=f"免检人员已采样，撤销免检：{len(came)}人（{', '.join(map(str, came[:20]))}）")
        if purpose == TubePurpose.RECHECK:
            for tube, p in zip(tubes, plans, strict=True):
                if p.fresh:
                    RecheckTask.objects.filter(round_id=round_id, person_id__in=p.fresh).update(
                        state=RecheckState.SAMPLED, tube_id=tube if isinstance(tube, int) else tube.id,
                        updated_at=stamp)
        return tubes


@transaction.atomic
def tube_fill(*, actor, round_id: int, barcode: str, people: list[dict], site_id: int | None = None,
              purpose: str = TubePurpose.ROUND, close: bool = False) -> FillResult:
    """The sampler's step: open the tube (first use of the barcode) and add people in order. The tube closes when
    it holds its pool size (or on `close`). All or nothing: one bad person refuses the request with every error. A
    retried request (the same people again) adds nobody twice."""
    require(actor, Capability.SAMPLE_RECORD, "采样登记", "record samples")
    barcode = str(barcode or "").strip()
    if not barcode or len(barcode) > MAX_BARCODE:
        raise _barcode_error()
    _sampling_round(actor, round_id, purpose, site_id)
    ids, errors = _resolve_people(people)
    if errors:
        raise ItemErrors(errors, zh="有人员无法识别，本管未作修改", en="some people were not found; the tube is unchanged")
    if len(set(ids)) != len(ids):
        raise _duplicate_error()
    filling = _Filling(round_id, purpose, [barcode], ids)
    plan, errors = filling.plan(barcode, ids, {})
    if errors:
        raise ItemErrors(sorted(errors, key=lambda e: e["index"]), zh="有人员不能加入本管，本管未作修改",
                         en="some people cannot go into this tube; the tube is unchanged")
    (tube,) = filling.write([plan], actor=actor, site_id=site_id, close=close)
    return FillResult(tube, plan.fresh, plan.already)


@transaction.atomic
def tubes_fill_bulk(*, actor, round_id: int, tubes: list[tuple[str, list[int]]], site_id: int | None = None,
                    close: bool = False) -> BulkFillReport:
    """Many round tubes at once, each (barcode, person ids in order): a sampling site's backlog, or a load. Each
    tube is checked and written as tube_fill(barcode, those people, close=close) would do it, with the same rows
    (the tube, its members in order, their round states); a person put in a tube earlier in the list counts as
    sampled there. All or nothing: one bad tube or person refuses the whole list with every error, each naming the
    tube (`index`, `barcode`) and, for a person, their place in it (`position`). The reads go by chunks and the rows
    are inserted in batches, so a million people take seconds (benchmarks/testing_round.py)."""
    _sampling_round(actor, round_id, TubePurpose.ROUND, site_id)
    barcodes = [str(barcode or "").strip() for barcode, _ in tubes]
    lists = [[int(pid) for pid in people] for _, people in tubes]
    filling = _Filling(round_id, TubePurpose.ROUND, [b for b in barcodes if b], [p for ids in lists for p in ids])
    plans, errors, seen, placed = [], [], set(), {}
    for index, (barcode, ids) in enumerate(zip(barcodes, lists, strict=True)):
        try:
            if not barcode or len(barcode) > MAX_BARCODE:
                raise _barcode_error()
            if barcode in seen:
                raise ValidationFailed(field="barcode", code="duplicate_barcode", message_zh="同一管码在本次提交中出现多次",
                                       message_en="the barcode appears twice in the request")
            seen.add(barcode)
            plan, person_errors = filling.plan(barcode, ids, placed)
        except DomainError as exc:
            errors.append(_item_error(index, exc, barcode=barcode))
            continue
        for e in person_errors:
            errors.append({**e, "index": index, "position": e["index"], "barcode": barcode})
        plans.append(plan)
    if errors:
        raise ItemErrors(errors, zh="有管或人员不能登记，本批未作修改",
                         en="some tubes or people cannot be recorded; nothing was changed")
    filling.write(plans, actor=actor, site_id=site_id, close=close, objects=False)
    report = BulkFillReport(people_added=sum(len(p.fresh) for p in plans),
                            already=sum(len(p.already) for p in plans),
                            tubes_opened=sum(p.tube is None for p in plans))
    report.tubes_closed = filling.closed
    return report


@transaction.atomic
def tube_member_remove(*, actor, barcode: str, person_id: int, reason: str) -> TubeMember:
    """The wrong person was scanned: taken out before the tube closes, with who, when and why kept."""
    require(actor, Capability.SAMPLE_RECORD, "采样登记", "record samples")
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写移出原因",
                               message_en="give the reason")
    tube = _visible_tube(actor, barcode)
    if tube.state != TubeState.OPEN:
        raise DomainError(code="tube_closed", status=409, field="barcode", message_zh="该管已封管，不能移出人员",
                          message_en="the tube is closed; nobody can be taken out")
    member = tube.members.filter(person_id=person_id, removed_at__isnull=True).first()
    if member is None:
        raise NotFound("管内人员", "member of the tube", field="person_id")
    member.removed_at, member.removed_by, member.removed_reason = _now(), actor, reason.strip()[:200]
    member.save(update_fields=["removed_at", "removed_by", "removed_reason"])
    PersonRound.objects.filter(round_id=tube.round_id, person_id=person_id, tube=tube).delete()
    tube.members_count -= 1
    tube.save(update_fields=["members_count", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=tube,
                 summary=f"采样管{tube.barcode}移出人员{person_id}：{member.removed_reason}")
    return member


@transaction.atomic
def tube_close(*, actor, barcode: str) -> Tube:
    require(actor, Capability.SAMPLE_RECORD, "采样登记", "record samples")
    tube = _visible_tube(actor, barcode)
    if tube.members_count == 0:
        raise DomainError(code="tube_empty", status=409, field="barcode", message_zh="空管不能封管",
                          message_en="an empty tube cannot be closed")
    if tube.state == TubeState.OPEN:
        tube.state, tube.closed_at = TubeState.CLOSED, _now()
        tube.save(update_fields=["state", "closed_at", "updated_at"])
    return tube


# ---- transport (送) and receipt (检) -------------------------------------------------------------------------------


@transaction.atomic
def batch_pack(*, actor, code: str, lab_id: int, barcodes: list[str], site_id: int | None = None, courier: str = "",
               courier_mobile: str = "") -> TransportBatch:
    """Closed tubes packed in a box for a lab and handed to the courier; all the barcodes must be closed tubes."""
    require(actor, Capability.SAMPLE_RECORD, "转运样本", "send samples")
    code = str(code or "").strip()
    if not code:
        raise ValidationFailed(field="code", code="required", message_zh="请填写箱号", message_en="box code is required")
    if TransportBatch.objects.filter(code=code).exists():
        raise DomainError(code="batch_exists", status=409, field="code", message_zh="该箱号已使用",
                          message_en="this box code was used")
    lab = visible_lab(actor, lab_id)
    wanted = [str(b).strip() for b in barcodes]
    tubes = {}  # barcode -> (id, state)
    for chunk in _chunks(sorted(set(wanted))):
        tubes.update((barcode, (pk, state)) for pk, barcode, state in
                     Tube.objects.select_for_update().filter(barcode__in=chunk).values_list("id", "barcode", "state"))
    errors = []
    for index, barcode in enumerate(wanted):
        tube = tubes.get(barcode)
        if tube is None:
            errors.append(_item_error(index, NotFound("采样管", "tube", field="barcode"), barcode=barcode))
        elif tube[1] != TubeState.CLOSED:
            errors.append(_item_error(index, DomainError(
                code="tube_not_closed", status=409, field="barcode",
                message_zh=f"该管状态为“{TubeState(tube[1]).label}”，只有已封管的管可以装箱",
                message_en=f"the tube is {tube[1]}; only closed tubes are packed"), barcode=barcode))
    if not wanted or errors:
        raise ItemErrors(errors or [{"index": 0, "code": "required", "field": "barcodes", "zh": "箱内没有管",
                                     "en": "the box is empty"}],
                         zh="有管不能装箱，本箱未登记", en="some tubes cannot be packed; the box was not recorded")
    batch = TransportBatch.objects.create(code=code, lab=lab, site_id=site_id, courier=courier,
                                          courier_mobile=courier_mobile, state=BatchState.IN_TRANSIT,
                                          packed_by=actor, handed_at=_now())
    stamp = timezone.now()
    for chunk in _chunks(sorted({pk for pk, _ in tubes.values()})):
        Tube.objects.filter(id__in=chunk).update(batch=batch, state=TubeState.IN_TRANSIT, updated_at=stamp)
    return batch


@transaction.atomic
def batch_receive(*, actor, code: str, barcodes: list[str]) -> TransportBatch:
    """The lab opens the box and scans what is in it: the tubes are received; tubes packed but not found and tubes
    found but packed elsewhere are listed on the receipt (the extra ones are received too: they are here)."""
    require(actor, Capability.LAB_RESULT, "接收样本", "receive samples")
    batch = TransportBatch.objects.select_for_update().filter(code=str(code).strip()).first()
    if batch is None:
        raise NotFound("转运箱", "transport box", field="code")
    if batch.state == BatchState.RECEIVED:
        raise DomainError(code="batch_received", status=409, field="code", message_zh="该箱已接收",
                          message_en="this box was already received")
    found = [str(b).strip() for b in barcodes if str(b).strip()]
    packed = set(batch.tubes.values_list("barcode", flat=True))
    known = {}  # barcode -> id
    for chunk in _chunks(sorted(set(found))):
        known.update(Tube.objects.filter(barcode__in=chunk).values_list("barcode", "id"))
    unknown = [b for b in found if b not in known]
    if unknown:
        raise ItemErrors([_item_error(found.index(b), NotFound("采样管", "tube", field="barcodes"), barcode=b)
                          for b in unknown], zh="有管码不存在，本箱未接收", en="unknown barcodes; the box was not received")
    now = _now()
    batch.missing = sorted(packed - set(found))
    batch.extra = sorted(set(found) - packed)
    batch.state, batch.received_at, batch.received_by = BatchState.RECEIVED, now, actor
    batch.save()
    stamp = timezone.now()
    for chunk in _chunks(sorted(set(known.values()))):
        Tube.objects.filter(id__in=chunk, state__in=[TubeState.IN_TRANSIT, TubeState.CLOSED]).update(
            state=TubeState.RECEIVED, received_at=now, lab=batch.lab, updated_at=stamp)
    return batch


# ---- lab results: staged, reviewed, applied ----------------------------------------------------------------------

RESULT_WORDS = {"阴性": Result.NEGATIVE, "negative": Result.NEGATIVE, "neg": Result.NEGATIVE, "-": Result.NEGATIVE,
                "阳性": Result.POSITIVE, "positive": Result.POSITIVE, "pos": Result.POSITIVE, "+": Result.POSITIVE,
                "无效": Result.INVALID, "invalid": Result.INVALID}
HEADERS = {"barcode": ("管码", "条码", "barcode", "tube"), "result": ("结果", "检测结果", "result"),
           "ct_orf": ("orf1ab", "ct_orf", "orf1ab ct", "orf"), "ct_n": ("n", "ct_n", "n ct", "n基因"),
           "tested_at": ("检测时间", "tested_at", "time")}


def _ct(value, name: str) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        ct = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(field=name, code="not_a_number", message_zh="Ct值应为数字",
                               message_en="the Ct value must be a number") from None
    if not (0 < ct < 50):
        raise ValidationFailed(field=name, code="out_of_range", message_zh="Ct值应在0到50之间",
                               message_en="the Ct value must be between 0 and 50")
    return ct.quantize(Decimal("0.01"))


class _TubeRef(NamedTuple):
    """What the result path reads of a tube (a Tube has the same attributes but `received`)."""

    id: int
    barcode: str
    round_id: int
    purpose: str
    pool_size: int
    lab_id: int | None
    received: bool
    result: str


def _tubes_by_barcode(barcodes, *, lock: bool = False) -> dict[str, _TubeRef]:
    """The tubes of a lab file by barcode, by chunks of plain SQL (a file has thousands of lines: no model or
    datetime is built per row), locked for update where the database can."""
    meta, qn = Tube._meta, connection.ops.quote_name
    columns = ", ".join(qn(meta.get_field(f).column) for f in ("id", "barcode", "round", "purpose", "pool_size", "lab"))
    received, barcode = qn(meta.get_field("received_at").column), qn(meta.get_field("barcode").column)
    suffix = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    out = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted({b for b in barcodes if b})):
            cursor.execute(f"SELECT {columns}, {received} IS NOT NULL, {qn(meta.get_field('result').column)} "
                           f"FROM {qn(meta.db_table)} WHERE {barcode} IN ({_marks(len(chunk))}){suffix}",
                           chunk)
            for row in cursor.fetchall():
                out[row[1]] = _TubeRef(*row[:6], bool(row[6]), row[7])
    return out


TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


def _tested_at(value, now: dt.datetime) -> dt.datetime:
    """A lab line's test time: a datetime, ISO 8601, or 2022-07-15 13:05(:00) / 2022/07/15 13:05; none -> now. Not
    later than now plus ten minutes (a lab clock running fast)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return now
    when = value if isinstance(value, dt.datetime) else None
    if when is None:
        text = str(value).strip()
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            for fmt in TIME_FORMATS:
                try:
                    when = dt.datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
    if when is None:
        raise ValidationFailed(field="tested_at", code="invalid", message_zh="检测时间格式不对，应为“2022-07-15 13:05”",
                               message_en="tested_at is not a time like 2022-07-15 13:05")
    when = timezone.make_aware(when) if timezone.is_naive(when) else when
    if when > now + dt.timedelta(minutes=10):
        raise ValidationFailed(field="tested_at", code="in_future", message_zh="检测时间晚于当前时间",
                               message_en="tested_at is in the future")
    return when


def _check_rows(lab: Lab, lines: list[tuple[int, dict]],
                tubes: dict[str, _TubeRef] | None = None) -> tuple[list[dict], list[dict]]:
    """Each line checked on its own: the good ones (to apply after review) and the errors. `tubes`: the file's
    tubes when the caller read them already."""
    if tubes is None:
        tubes = _tubes_by_barcode(str(line.get("barcode") or "").strip() for _, line in lines)
    good, errors, seen = [], [], set()
    now = _now()
    for number, line in lines:
        barcode = str(line.get("barcode") or "").strip()
        try:
            if not barcode:
                raise ValidationFailed(field="barcode", code="required", message_zh="缺少管码",
                                       message_en="barcode is required")
            if barcode in seen:
                raise DomainError(code="duplicate_line", status=422, field="barcode",
                                  message_zh="同一管码在文件中出现多次", message_en="the barcode appears twice")
            tube = tubes.get(barcode)
            if tube is None:
                raise DomainError(code="unknown_barcode", status=404, field="barcode", message_zh="管码不存在",
                                  message_en="unknown barcode")
            if tube.lab_id != lab.id or not tube.received:
                raise DomainError(code="not_received", status=409, field="barcode",
                                  message_zh="本实验室未接收该管", message_en="this lab never received the tube")
            if tube.result:
                raise DomainError(code="already_resulted", status=409, field="barcode",
                                  message_zh="该管已有结果，如需更正请走更正流程",
                                  message_en="the tube has a result; correct it instead")
            word = str(line.get("result") or "").strip().lower()
            if word not in RESULT_WORDS:
                raise ValidationFailed(field="result", code="invalid_choice", message_zh="结果应为阴性、阳性或无效",
                                       message_en="the result must be negative, positive or invalid")
            ct_orf, ct_n = _ct(line.get("ct_orf"), "ct_orf"), _ct(line.get("ct_n"), "ct_n")
            tested = _tested_at(line.get("tested_at"), now).isoformat()
        except DomainError as exc:
            errors.append({"line": number, "barcode": barcode, "code": exc.code, "field": exc.field,
                           "zh": exc.message_zh, "en": exc.message_en})
            continue
        seen.add(barcode)
        good.append({"line": number, "barcode": barcode, "result": RESULT_WORDS[word],
                     "ct_orf": str(ct_orf) if ct_orf is not None else None,
                     "ct_n": str(ct_n) if ct_n is not None else None, "tested_at": str(tested)})
    return good, errors


def _read_table(upload, file_name: str) -> tuple[list[tuple[int, dict]], str]:
    data = upload.read() if hasattr(upload, "read") else upload
    rows: list[list] = []
    if file_name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationFailed(field="file", code="encoding", message_zh="文件编码无法识别",
                                   message_en="the file's encoding is not UTF-8 or GBK")
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationFailed(field="file", code="empty", message_zh="文件为空", message_en="the file is empty")
    header = [str(h or "").strip().lower() for h in rows[0]]
    columns = {}
    for key, names in HEADERS.items():
        for name in names:
            if name in header:
                columns[key] = header.index(name)
                break
    if "barcode" not in columns or "result" not in columns:
        raise ValidationFailed(field="file", code="missing_columns", message_zh="文件须有“管码”和“结果”两列",
                               message_en="the file needs the columns barcode and result")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(str(c or "").strip() for c in row):
            continue
        out.append((number, {k: (row[i] if i < len(row) else None) for k, i in columns.items()}))
    return out, hashlib.sha256(data).hexdigest()


@transaction.atomic
def results_stage(*, actor, lab_id: int, lines: list[tuple[int, dict]] | None = None, upload=None,
                  file_name: str = "instrument") -> LabResultFile:
    """A lab's results (a file, or an instrument's batch): checked line by line and kept for review; nothing is
    applied before a reviewer accepts."""
    require(actor, Capability.LAB_RESULT, "上报检测结果", "report results")
    lab = visible_lab(actor, lab_id)
    if upload is not None:
        lines, sha = _read_table(upload, file_name)
    else:
        sha = hashlib.sha256(repr(lines).encode()).hexdigest()
    good, errors = _check_rows(lab, lines or [])
    staged = LabResultFile.objects.create(lab=lab, file_name=file_name[:200], sha256=sha, rows=good, errors=errors,
                                          uploaded_by=actor)
    audit_record(actor=actor, action=AuditAction.IMPORT, obj=staged,
                 summary=f"上报检测结果 {file_name}：有效{len(good)}行，错误{len(errors)}行，待审核", row_count=len(good))
    return staged


@dataclass
class ApplyReport:
    tubes: int = 0
    negative_people: int = 0
    rechecks: int = 0
    positives: list[int] = field(default_factory=list)  # people newly positive (to hand to tracing)
    positive_tubes: list[tuple] = field(default_factory=list)  # (barcode, sampled_on, purpose, [person ids])


@transaction.atomic
def results_review(*, actor, file_id: int, accept: bool, note: str = "") -> tuple[LabResultFile, ApplyReport]:
    """The reviewer accepts (every good row applied at once) or sends the file back (nothing applied)."""
    require(actor, Capability.RESULT_REVIEW, "审核检测结果", "review results")
    staged = LabResultFile.objects.select_for_update().filter(id=file_id).first()
    if staged is None:
        raise NotFound("结果文件", "result file", field="file_id")
    visible_lab(actor, staged.lab_id)
    if staged.state != ResultFileState.PENDING:
        raise DomainError(code="already_reviewed", status=409, field="file_id", message_zh="该文件已审核",
                          message_en="the file was already reviewed")
    report = ApplyReport()
    if accept:
        tubes = _tubes_by_barcode((str(r["barcode"]) for r in staged.rows), lock=True)
        good, errors = _check_rows(staged.lab, [(r["line"], r) for r in staged.rows], tubes)
        if errors:  # something changed since upload (another file resulted a tube): refuse, nothing applied
            raise ItemErrors(errors, zh="文件中有行已不能发布，请重新上传", en="some lines can no longer be applied; "
                                                                           "upload the file again",
                             code="stale_rows")
        report = _apply(good, lab=staged.lab, reviewer=actor, source=staged, tubes=tubes)
        if report.positive_tubes:
            positives_reported.send(sender=TubeResult, actor=actor, tubes=report.positive_tubes)
    staged.state = ResultFileState.ACCEPTED if accept else ResultFileState.REJECTED
    staged.reviewed_by, staged.reviewed_at, staged.review_note = actor, _now(), note[:200]
    if accept:
        staged.applied = {"tubes": report.tubes, "negative_people": report.negative_people,
                          "rechecks": report.rechecks, "positives": len(report.positives)}
    staged.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=staged,
                 summary=f"审核检测结果 {staged.file_name}：{'发布' if accept else '退回'}{len(staged.rows)}行")
    return staged, report


def _apply(rows: list[dict], *, lab: Lab, reviewer, source: LabResultFile | None,
           tubes: dict[str, _TubeRef]) -> ApplyReport:
    report = ApplyReport()
    field = TubeResult._meta.get_field
    tested_at: dict[str, object] = {}  # the database form of each time (a file's lines share a few)

    def when(value: str):
        if value not in tested_at:
            tested_at[value] = field("tested_at").get_db_prep_save(dt.datetime.fromisoformat(value), connection)
        return tested_at[value]

    def ct(value, name: str):
        return None if value is None else field(name).get_db_prep_save(Decimal(value), connection)

    reported = connection.ops.adapt_datetimefield_value(_now())  # the business clock, as resulted_at
    _insert_rows(TubeResult, ["tube", "result", "ct_orf", "ct_n", "tested_at", "lab", "source_file", "reason",
                              "reported_at", "reviewed_by"],
                 [(tubes[r["barcode"]].id, r["result"], ct(r["ct_orf"], "ct_orf"), ct(r["ct_n"], "ct_n"),
                   when(r["tested_at"]), lab.id, source.id if source else None, "", reported,
                   reviewer.id if reviewer else None) for r in rows])
    by_result = defaultdict(list)
    for r in rows:
        by_result[r["result"]].append(tubes[r["barcode"]])
    for result, group in by_result.items():
        _set_tubes(group, result, report)
    return report


def _members(tubes) -> dict[int, list[int]]:
    """The people in these tubes (not removed), in order."""
    members = defaultdict(list)
    for chunk in _chunks([t.id for t in tubes]):
        for tube_id, pid in TubeMember.objects.filter(tube_id__in=chunk, removed_at__isnull=True) \
                .order_by("tube_id", "position").values_list("tube_id", "person_id"):
            members[tube_id].append(pid)
    return members


def _set_tubes(tubes, result: str, report: ApplyReport) -> None:
    """A tube's final result reaches its members: their round state, rechecks and status facts. `tubes` are Tube
    or _TubeRef; the statements go by chunks of tubes, so a file of thousands costs a few dozen."""
    now, stamp = _now(), timezone.now()
    today = clock.today()
    ids = [t.id for t in tubes]
    for chunk in _chunks(ids):
        Tube.objects.filter(id__in=chunk).update(result=result, resulted_at=now, state=TubeState.RESULTED,
                                                 updated_at=stamp)
    report.tubes += len(tubes)
    pooled = [t for t in tubes if t.purpose == TubePurpose.ROUND and t.pool_size > 1]
    single = [t for t in tubes if not (t.purpose == TubePurpose.ROUND and t.pool_size > 1)]
    rechecks = [t for t in tubes if t.purpose == TubePurpose.RECHECK]
    if result == Result.NEGATIVE:
        for chunk in _chunks(ids):
            report.negative_people += TubeMember.objects.filter(tube_id__in=chunk, removed_at__isnull=True).count()
        _set_people(tubes, PersonRoundState.NEGATIVE, now)
        members = _members(rechecks)
        for tube in rechecks:  # a negative recheck clears the pool's flag
            people = members[tube.id]
            RecheckTask.objects.filter(round_id=tube.round_id, person_id__in=people).update(
                state=RecheckState.NEGATIVE, updated_at=stamp)
            PersonRound.objects.filter(round_id=tube.round_id, person_id__in=people).update(
                state=PersonRoundState.NEGATIVE, resulted_at=now)
            for source_barcode, pid in RecheckTask.objects.filter(round_id=tube.round_id, person_id__in=people) \
                    .values_list("source_tube__barcode", "person_id"):
                fact_withdraw(source=POOL_SOURCE, source_id=source_barcode, person_ids=[pid])
    elif result == Result.INVALID:
        for chunk in _chunks(ids):
            TubeMember.objects.filter(tube_id__in=chunk, removed_at__isnull=True).update(
                removed_at=now, removed_reason="无效管，需重新采样 invalid tube: sample again")
            PersonRound.objects.filter(tube_id__in=chunk).delete()
            RecheckTask.objects.filter(tube_id__in=chunk).update(state=RecheckState.OPEN, tube=None, updated_at=stamp)
    else:  # positive
        members = _members(tubes)
        if pooled:
            _set_people(pooled, PersonRoundState.RECHECK, now)
            hours = {rid: _recheck_hours(rid) for rid in {tube.round_id for tube in pooled}}
            everyone = [pid for tube in pooled for pid in members[tube.id]]
            areas = dict(_select_by_ids(_sql()["areas"], "id", everyone))
            RecheckTask.objects.bulk_create([RecheckTask(round_id=tube.round_id, person_id=pid, area_id=areas[pid],
                                                         source_tube_id=tube.id,
                                                         due_at=now + dt.timedelta(hours=hours[tube.round_id]))
                                             for tube in pooled for pid in members[tube.id]],
                                            ignore_conflicts=True, batch_size=500)
            report.rechecks += len(everyone)
        for tube in pooled:
            fact_publish(person_ids=members[tube.id], kind="flag", value="pool_recheck_pending", since=today,
                         until=None, source=POOL_SOURCE, source_id=tube.barcode,
                         note=f"混管{tube.barcode}阳性，待单管复核")
        for tube in single:
            people = members[tube.id]
            if tube.purpose == TubePurpose.RECHECK:
                RecheckTask.objects.filter(round_id=tube.round_id, person_id__in=people).update(
                    state=RecheckState.POSITIVE, updated_at=stamp)
                PersonRound.objects.filter(round_id=tube.round_id, person_id__in=people).update(
                    state=PersonRoundState.POSITIVE, resulted_at=now)
                for source_barcode, pid in RecheckTask.objects.filter(
                        round_id=tube.round_id, person_id__in=people).values_list("source_tube__barcode", "person_id"):
                    fact_withdraw(source=POOL_SOURCE, source_id=source_barcode, person_ids=[pid])
            else:
                _set_people([tube], PersonRoundState.POSITIVE, now)
            fact_publish(person_ids=people, kind="case", value="first_screen_positive", since=today, until=None,
                         source=CASE_SOURCE, source_id=tube.barcode, note=f"{tube.barcode}检测阳性")
            report.positives += people
            report.positive_tubes.append((tube.barcode, _sampled_on(tube), str(tube.purpose), list(people)))


def _sampled_on(tube) -> dt.date:
    opened = getattr(tube, "opened_at", None)
    if opened is None:
        opened = Tube.objects.filter(id=tube.id).values_list("opened_at", flat=True).first()
    return timezone.localdate(opened) if opened else clock.today()


def _set_people(tubes, state: str, now) -> None:
    ids = [t.id for t in tubes if t.purpose == TubePurpose.ROUND]
    for chunk in _chunks(ids):
        PersonRound.objects.filter(tube_id__in=chunk).update(state=state, resulted_at=now)


def _recheck_hours(round_id: int) -> int:
    """The policy's deadline for single-tube rechecks, in force today where the round is (a county may set its own)."""
    first = RoundArea.objects.filter(round_id=round_id).select_related("area").order_by("id").first()
    try:
        rules = ruleset_in_force(clock.today(), area_codes_chain(first.area) if first else ())
        return int(rules.param("pool_recheck_deadline_hours").value)
    except DomainError:
        return 24


@transaction.atomic
def result_correct(*, actor, barcode: str, result: str, reason: str) -> TubeResult:
    """A corrected result: a new row that supersedes the current one (kept in the history); the members' states,
    rechecks and facts follow the new result."""
    require(actor, Capability.RESULT_REVIEW, "更正检测结果", "correct results")
    if result not in Result.values:
        raise ValidationFailed(field="result", code="invalid_choice", message_zh="结果应为阴性、阳性或无效",
                               message_en="the result must be negative, positive or invalid")
    if not (reason or "").strip():
        raise ValidationFailed(field="reason", code="required", message_zh="请填写更正原因",
                               message_en="give the reason for the correction")
    tube = Tube.objects.select_for_update().filter(barcode=str(barcode).strip()).first()
    if tube is None:
        raise NotFound("采样管", "tube", field="barcode")
    current = tube.results.filter(superseded_by__isnull=True).order_by("-id").first()
    if current is None:
        raise DomainError(code="no_result", status=409, field="barcode", message_zh="该管还没有结果",
                          message_en="the tube has no result yet")
    if current.result == result:
        raise DomainError(code="same_result", status=409, field="result", message_zh="更正结果与原结果相同",
                          message_en="the correction equals the current result")
    if current.result == Result.INVALID:  # its members were freed and may be in new tubes already
        raise DomainError(code="invalid_is_final", status=409, field="barcode",
                          message_zh="无效管的人员已重新采样，不能更正，请以新管结果为准",
                          message_en="an invalid tube's members are sampled again; their new tubes decide")
    corrected = TubeResult.objects.create(tube=tube, result=result, ct_orf=None, ct_n=None, tested_at=_now(),
                                          reported_at=_now(),
                                          lab=current.lab, supersedes=current, reason=reason.strip()[:200],
                                          reviewed_by=actor)
    # undo what the old result did, then apply the new one
    fact_withdraw(source=POOL_SOURCE, source_id=tube.barcode)
    fact_withdraw(source=CASE_SOURCE, source_id=tube.barcode)
    RecheckTask.objects.filter(source_tube=tube, state=RecheckState.OPEN).delete()
    PersonRound.objects.filter(tube=tube).update(state=PersonRoundState.SAMPLED, resulted_at=None)
    report = ApplyReport()
    _set_tubes([tube], result, report)
    if current.result == Result.POSITIVE:
        positive_withdrawn.send(sender=TubeResult, actor=actor, barcode=tube.barcode, reason=reason.strip())
    if report.positive_tubes:
        positives_reported.send(sender=TubeResult, actor=actor, tubes=report.positive_tubes)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=tube,
                 summary=f"更正检测结果 {tube.barcode}：{current.result} → {result}（{reason.strip()}）")
    return corrected
