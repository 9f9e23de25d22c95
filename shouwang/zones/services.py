"""Writes of the risk zones: proposals (by hand, or around a case's home and the places it visited often, in the
policy's unit), HQ's approval (with edits), rejection, scope and kind changes, downgrading and lifting (before the
clock allows it only with HQ's reason), the cases the response flow records, and the daily refresh of every zone's
clock. Every change is kept in the zone's history and the audit log; the residents' status follows the zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import NOWHERE, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, subtree_range
from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.policy.rules import Because, Ruleset
from shouwang.policy.rules.model import CASE_CONTEXTS, MEASURES, ZONE_KINDS
from shouwang.policy.rules.zones import LEVEL_NAMES
from shouwang.policy.selectors import policy_rulesets, ruleset_in_force
from shouwang.status.enums import FactKind
from shouwang.status.services import fact_publish, fact_withdraw
from shouwang.zones.enums import OPEN_ZONE_STATES, SCOPE_LEVELS, ZoneChangeKind, ZoneState
from shouwang.zones.models import CaseReport, Zone, ZoneArea, ZoneCase, ZoneChange
from shouwang.zones.selectors import (
    ZoneClock,
    place_names,
    zone_clock,
    zone_clocks,
    zone_residents,
    zone_scopes,
    zone_unit_for,
)

ZONE_SOURCE = "zones.zone"  # the status facts of a zone's residents: source id = the zone's code
HQ_SUFFIX = "新冠肺炎疫情防控指挥部"
ALL = ""  # a path every area starts with: the response flow is not bound to the reporter's jurisdiction


@dataclass(frozen=True)
class CaseRef:
    """A case given with a proposal (the cases that caused the zone)."""

    code: str
    found_on: dt.date
    context: str = "community"
    area_id: int | None = None


def _label(level: str) -> str:
    return LEVEL_NAMES[level][0]


# ---- checks --------------------------------------------------------------------------------------------------------


def _areas_checked(actor, area_ids, *, field: str = "area_ids", path: str | None = None) -> list[Area]:
    """The areas of a scope: every one exists and lies in the actor's jurisdiction (else one answer for both, naming
    the ids), none above a village, none inside another. Returned in tree order."""
    ids: list[int] = []
    for raw in area_ids or ():
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise ValidationFailed(field=field, code="invalid", message_zh=f"区域编号“{raw}”无效",
                                   message_en=f"'{raw}' is not an area id") from None
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ValidationFailed(field=field, code="required", message_zh="请选择风险区范围",
                               message_en="choose the zone's areas")
    path = jurisdiction_path(actor) if path is None else path
    found = {a.id: a for a in (Area.objects.subtree(path).filter(id__in=ids) if path != NOWHERE else [])}
    missing = [i for i in ids if i not in found]
    if missing:
        raise DomainError(code="not_found", status=404, field=field,
                          message_zh=f"区域不存在或不在您的辖区内：{'、'.join(f'#{i}' for i in missing)}",
                          message_en=f"areas not found or outside your jurisdiction: "
                                     f"{', '.join(f'#{i}' for i in missing)}",
                          details=[{"area_id": i} for i in missing])
    areas = sorted(found.values(), key=lambda a: a.path)
    high = [a for a in areas if a.level not in SCOPE_LEVELS]
    if high:
        raise ValidationFailed(field=field, code="level_too_high",
                               message_zh="风险区最大划到村（社区）：" + "、".join(
                                   f"{a.name}为{AreaLevel(a.level).label}" for a in high),
                               message_en="a zone covers at most a village: " + ", ".join(
                                   f"{a.name} is a {a.level}" for a in high))
    for a, b in zip(areas, areas[1:], strict=False):
        if b.path.startswith(a.path):
            raise ValidationFailed(field=field, code="overlapping",
                                   message_zh=f"范围中的区域相互包含：{b.name} 在 {a.name} 内",
                                   message_en=f"the areas overlap: {b.name} lies in {a.name}")
    return areas


def _rules(area: Area, on: dt.date | None = None) -> Ruleset:
    return ruleset_in_force(on or clock.today(), area_codes_chain(area))


def _check_kind(rules: Ruleset, kind: str) -> None:
    if kind not in ZONE_KINDS:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh=f"风险区类型“{kind}”不存在",
                               message_en=f"zone kind '{kind}' does not exist")
    if kind not in rules.zones:
        raise ValidationFailed(field="kind", code="zone_kind_not_used",
                               message_zh=f"{rules.id} 不再划定{_label(kind)}",
                               message_en=f"{rules.id} no longer designates a {LEVEL_NAMES[kind][1]}")
    if not rules.zones[kind].steps:
        raise ValidationFailed(field="kind", code="low_not_designated",
                               message_zh=f"{_label(kind)}是{rules.zones[kind].unit_zh}，不单独划定",
                               message_en=f"a {LEVEL_NAMES[kind][1]} is {rules.zones[kind].unit_en}: it is not "
                                          "designated on its own")


def _check_cases(cases) -> list[CaseRef]:
    out = []
    for i, c in enumerate(cases or ()):
        c = c if isinstance(c, CaseRef) else CaseRef(**c)
        if not (c.code or "").strip():
            raise ValidationFailed(field=f"cases[{i}].code", code="required", message_zh="请填写病例编号",
                                   message_en="the case code is required")
        if c.context not in CASE_CONTEXTS:
            raise ValidationFailed(field=f"cases[{i}].context", code="invalid_choice",
                                   message_zh=f"病例发现情形“{c.context}”不存在",
                                   message_en=f"case context '{c.context}' does not exist")
        if c.found_on > clock.today():
            raise ValidationFailed(field=f"cases[{i}].found_on", code="in_future", message_zh="日期不能晚于今天",
                                   message_en="the date cannot be after today")
        out.append(CaseRef(c.code.strip()[:30], c.found_on, c.context, c.area_id))
    return out


def _overlaps(areas: list[Area], level: str, *, exclude: int | None = None) -> dict[Zone, list[tuple[Area, Area]]]:
    """Open zones of the same level whose scope overlaps these areas (an area equal to, inside or around one of
    theirs): a proposal's kind, or the level now of a zone in force (a high zone downgraded to medium is medium)."""
    cond = Q(area__path__in={p for a in areas for p in Area.ancestor_paths(a.path)})
    for a in areas:
        cond |= Q(area__path__range=subtree_range(a.path))
    rows = (ZoneArea.objects.filter(cond)
            .filter(Q(zone__state=ZoneState.IN_FORCE, zone__level_now=level) | Q(zone__state=ZoneState.PROPOSED,
                                                                                 zone__kind=level))
            .select_related("zone", "area").order_by("zone__code", "area__path"))
    if exclude is not None:
        rows = rows.exclude(zone_id=exclude)
    out: dict[Zone, list[tuple[Area, Area]]] = {}
    for za in rows:
        for a in areas:
            if a.path.startswith(za.area.path) or za.area.path.startswith(a.path):
                out.setdefault(za.zone, []).append((a, za.area))
    return out


def _overlap_error(overlaps: dict[Zone, list[tuple[Area, Area]]], level: str, *, merge_hint: bool) -> DomainError:
    parts_zh, parts_en, details = [], [], []
    for zone, pairs in overlaps.items():
        said_zh, said_en = [], []
        for new, old in pairs:
            if new.path == old.path:
                said_zh.append(f"{new.name} 已在其中")
                said_en.append(f"{new.name} is already in it")
            elif new.path.startswith(old.path):
                said_zh.append(f"{new.name} 在其 {old.name} 内")
                said_en.append(f"{new.name} lies in its {old.name}")
            else:
                said_zh.append(f"{new.name} 包含其 {old.name}")
                said_en.append(f"{new.name} contains its {old.name}")
            details.append({"zone": zone.code, "area_id": new.id, "zone_area_id": old.id})
        state = "待审批" if zone.state == ZoneState.PROPOSED else "管控中"
        parts_zh.append(f"{zone.code}（{state}）：{'；'.join(said_zh)}")
        parts_en.append(f"{zone.code} ({zone.state}): {'; '.join(said_en)}")
    hint_zh = "可合并到该风险区或调整范围" if merge_hint and len(overlaps) == 1 else "请调整范围"
    hint_en = "merge into that zone or change the areas" if merge_hint and len(overlaps) == 1 else "change the areas"
    return DomainError(code="overlap", status=409, field="area_ids",
                       message_zh=f"与同类{_label(level)}重叠：{'，'.join(parts_zh)}。{hint_zh}",
                       message_en=f"overlaps a {LEVEL_NAMES[level][1]} of the same kind: {', '.join(parts_en)}. "
                                  f"{hint_en}", details=details)


def _zone_locked(actor, zone_id: int) -> Zone:
    """A zone the actor manages: every area of its scope lies in the actor's jurisdiction."""
    path = jurisdiction_path(actor)
    outside = ZoneArea.objects.filter(zone_id=OuterRef("pk")).exclude(area__path__range=subtree_range(path))
    zone = (Zone.objects.select_for_update().filter(id=zone_id).exclude(Exists(outside)).first()
            if path != NOWHERE else None)
    if zone is None:
        raise NotFound("风险区", "risk zone", field="zone_id")
    return zone


def _bad_state(zone: Zone, doing_zh: str, doing_en: str) -> DomainError:
    return DomainError(code="bad_transition", status=409, field="zone_id",
                       message_zh=f"{zone.code} {ZoneState(zone.state).label}，不能{doing_zh}",
                       message_en=f"{zone.code} is {zone.state}: cannot {doing_en}")


# ---- history, facts and the stored clock ----------------------------------------------------------------------------


def _snapshot(zone: Zone, areas: list[Area]) -> dict:
    return {"state": zone.state, "kind": zone.kind, "level_now": zone.level_now,
            "areas": [{"id": a.id, "name": a.name, "level": a.level} for a in areas]}


def _history(zone: Zone, kind: str, before: dict, after: dict, actor, reason: str = "",
             announcement: str = "") -> ZoneChange:
    return ZoneChange.objects.create(zone=zone, kind=kind, before=before, after=after, reason=(reason or "")[:300],
                                     announcement_zh=announcement, at=clock.now(),
                                     by=actor if getattr(actor, "pk", None) else None)


def _note(zone: Zone, areas: list[Area], rules: Ruleset | None) -> str:
    names = "、".join(place_names(areas).values())
    if len(names) > 80:
        names = names[:78] + "等"
    measure = rules.zones[zone.level_now].measure if rules and zone.level_now in rules.zones else ""
    text = f"{names}划为{_label(zone.level_now)}（{zone.code}）"
    return (f"{text}：{MEASURES[measure][0]}" if measure in MEASURES else text)[:200]


def _publish(zone: Zone, areas: list[Area], rules: Ruleset | None, *, was: list[int] | None = None,
             relevel: bool = False) -> int:
    """The residents' status follows the zone: a fact "zone = level now" from the level's first day for everyone
    living in the scope while in force; withdrawn for people no longer in it (was - now), for everyone when the
    level changes (then published again with the new value) or the zone is lifted."""
    if zone.state != ZoneState.IN_FORCE:
        return fact_withdraw(source=ZONE_SOURCE, source_id=zone.code)
    residents = zone_residents([zone.id])
    if relevel:
        fact_withdraw(source=ZONE_SOURCE, source_id=zone.code)
    elif was:
        gone = sorted(set(was) - set(residents))
        if gone:
            fact_withdraw(source=ZONE_SOURCE, source_id=zone.code, person_ids=gone)
    if residents:
        fact_publish(person_ids=residents, kind=FactKind.ZONE, value=zone.level_now, since=zone.level_since,
                     until=None, source=ZONE_SOURCE, source_id=zone.code, note=_note(zone, areas, rules))
    return len(residents)


CLOCK_FIELDS = ["eligible_on", "next_level", "clock_state", "last_counted_case", "clock_version",
                "clock_explanation", "clock_on"]


def _store_clock(zones: list[Zone], clocks: dict[int, ZoneClock], today: dt.date, *, moved_reason, actor=None
                 ) -> list[Zone]:
    """Keep each zone's clock for the lists; when moved_reason is given (a text, or a function of the zone and its
    clock), an eligible date that moved (the same next level, another date) writes a 'clock moved' row to the
    history. Returns the zones that moved."""
    changed, rows, moved = [], [], []
    now = clock.now()
    for z in zones:
        c = clocks[z.id]
        values = (c.eligible_on, c.next_level, c.state, c.last_counted_case, c.version, c.explanation, today)
        before = {"eligible_on": z.eligible_on.isoformat() if z.eligible_on else None, "next_level": z.next_level,
                  "last_counted_case": z.last_counted_case.isoformat() if z.last_counted_case else None}
        if (moved_reason is not None and z.clock_on is not None and z.next_level == c.next_level
                and z.eligible_on != c.eligible_on):
            rows.append(ZoneChange(zone=z, kind=ZoneChangeKind.CLOCK, before=before, after={
                "eligible_on": c.eligible_on.isoformat() if c.eligible_on else None, "next_level": c.next_level,
                "last_counted_case": c.last_counted_case.isoformat() if c.last_counted_case else None,
                "explanation": c.explanation}, reason=(moved_reason(z, c) if callable(moved_reason)
                                                      else moved_reason)[:300], at=now,
                by=actor if getattr(actor, "pk", None) else None))
            moved.append(z)
        if tuple(getattr(z, f) for f in CLOCK_FIELDS) != values:
            for name, value in zip(CLOCK_FIELDS, values, strict=True):
                setattr(z, name, value)
            changed.append(z)
    _save_clocks(changed)
    ZoneChange.objects.bulk_create(rows, batch_size=500)
    return moved


def _save_clocks(zones: list[Zone]) -> None:
    """One prepared UPDATE run for every zone (bulk_update's CASE chains cost more to build than to run)."""
    if not zones:
        return
    meta = Zone._meta
    fields = [meta.get_field(name) for name in CLOCK_FIELDS]
    sql = (f"UPDATE {connection.ops.quote_name(meta.db_table)} SET "
           + ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
           + f" WHERE {connection.ops.quote_name(meta.pk.column)} = %s")
    rows = [[f.get_db_prep_save(getattr(z, f.attname), connection) for f in fields] + [z.pk] for z in zones]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _reclock(zone: Zone, *, moved_reason: str | None = None, actor=None) -> ZoneClock:
    today = clock.today()
    c = zone_clock(zone, today)
    _store_clock([zone], {zone.id: c}, today, moved_reason=moved_reason, actor=actor)
    return c


# ---- announcements (Chinese, public) --------------------------------------------------------------------------------

PUBLIC_MEASURES = {
    "lockdown": "实行“足不出户、上门服务”的封控措施，区域内人员原则上不得外出，生活物资由社区统一配送，就医等需求请联系所在社区",
    "controlled": "实行“人不出区、错峰取物”的管控措施，区域内人员原则上不得离开该区域，严禁聚集",
    "precaution": "实行“个人防护、避免聚集”的防范措施，离开所在城市须持48小时内核酸检测阴性证明",
}


def _hq_name(area: Area) -> str:
    chain = list(Area.objects.filter(path__in=Area.ancestor_paths(area.path)).order_by("depth"))
    county = next((a for a in chain if a.level == AreaLevel.COUNTY), chain[0] if chain else area)
    return f"{county.name}{HQ_SUFFIX}"


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _cn_moment(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{_cn_date(local.date())}{local.hour}时"


def _document(rules: Ruleset) -> str:
    if rules.scope and len(rules.chain) >= 2:
        base = policy_rulesets().get(rules.chain[-2])
        if base is not None:
            return base.title_zh
    return rules.title_zh


def _conditions(rules: Ruleset, kind: str) -> str:
    spec = rules.zones[kind]
    parts = []
    for i, step in enumerate(spec.steps):
        text = f"连续{step.quiet_days}天无新增感染者"
        if step.round_on_day:
            text += f"且第{step.round_on_day}天区域内全员核酸筛查结果均为阴性"
        elif step.final_round_within_hours:
            text += f"且解除前{step.final_round_within_hours}小时内完成一轮全员核酸筛查、结果均为阴性"
        parts.append(("再" if i else "") + text + f"，降为{_label(step.to)}")
    return "；".join(parts)


def _frame(hq: str, title: str, body: list[str], day: dt.date) -> str:
    return "\n\n".join([hq, title, *body, "特此通告。", f"{hq}\n{_cn_date(day)}"])


def designation_text(zone: Zone, areas: list[Area], rules: Ruleset, at: dt.datetime) -> str:
    hq = _hq_name(areas[0])
    places = "、".join(place_names(areas).values())
    spec = rules.zones[zone.kind]
    return _frame(hq, f"关于划定{_label(zone.kind)}的通告（{zone.code}）", [
        f"根据《{_document(rules)}》有关规定，经流行病学调查研判，县疫情防控指挥部决定：自{_cn_moment(at)}起，将{places}"
        f"划定为{_label(zone.kind)}，{PUBLIC_MEASURES.get(spec.measure, MEASURES.get(spec.measure, ('',))[0])}。",
        f"解封条件：{_conditions(rules, zone.kind)}。",
        "请区域内居民积极配合，如出现发热、干咳、乏力、咽痛、嗅（味）觉减退、腹泻等症状，请及时向所在社区报告。",
    ], timezone.localtime(at).date())


def change_text(zone: Zone, areas: list[Area], rules: Ruleset | None, c: ZoneClock, to: str, at: dt.datetime,
                *, early: bool) -> str:
    """The public text of a downgrade or a lifting: the quiet days that made it due (unless HQ acted early)."""
    hq = _hq_name(areas[0])
    places = "、".join(place_names(areas).values())
    from_label = _label(zone.level_now)
    lifting = to == "low"
    title = f"关于解除{places}{from_label}的通告" if lifting else f"关于{places}调整为{_label(to)}的通告"
    body = []
    today = timezone.localtime(at).date()
    if not early:
        since = c.last_counted_case or c.designated_on
        quiet = (today - since).days
        negative = [d for d, ok in c.rounds if ok]
        text = f"{places}自{_cn_date(since)}以来已连续{quiet}天无新增感染者"
        if negative:
            text += f"，{_cn_date(max(negative))}区域内全员核酸筛查结果均为阴性"
        body.append(text + "，符合调整条件。")
    measure = rules.zones[to].measure if rules is not None and to in rules.zones else "precaution"
    decided = f"经研判，县疫情防控指挥部决定：自{_cn_moment(at)}起，{places}由{from_label}调整为{_label(to)}"
    body.append(decided + ("，恢复常态化防控，" if lifting else "，") + PUBLIC_MEASURES.get(measure, "") + "。")
    if lifting:
        body.append("请广大居民继续做好个人防护，坚持戴口罩、勤洗手、常通风、少聚集。")
    return _frame(hq, title, body, today)


# ---- proposals ------------------------------------------------------------------------------------------------------


def _next_code(day: dt.date) -> str:
    prefix = f"FX{day:%Y%m%d}-"
    last = Zone.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True).first()
    return f"{prefix}{(int(last[len(prefix):]) + 1) if last else 1:03d}"


def _link_cases(zone: Zone, cases: list[CaseRef], *, cause: bool) -> list[ZoneCase]:
    have = set(zone.cases.values_list("case_code", flat=True))
    now = clock.now()
    new = [ZoneCase(zone=zone, case_code=c.code, area_id=c.area_id, found_on=c.found_on, context=c.context,
                    cause=cause, added_at=now) for c in dict((c.code, c) for c in cases).values() if c.code not in have]
    ZoneCase.objects.bulk_create(new)
    return new


def _scope_add(zone: Zone, areas: list[Area]) -> tuple[list[Area], list[Area]]:
    """Add areas to a zone's scope: an area already covered adds nothing; an area around some of the zone's areas
    takes their place. Returns (added, absorbed)."""
    current = list(zone_scopes([zone.id])[zone.id])
    added, absorbed = [], []
    for a in areas:
        if any(a.path.startswith(c.path) for c in current):
            continue
        inner = [c for c in current if c.path.startswith(a.path)]
        if inner:
            ZoneArea.objects.filter(zone=zone, area__in=inner).delete()
            absorbed.extend(inner)
            current = [c for c in current if c not in inner]
        ZoneArea.objects.create(zone=zone, area=a)
        current.append(a)
        added.append(a)
    return added, absorbed


@transaction.atomic
def zone_propose(*, actor, kind: str, area_ids, cases=(), reason: str = "", merge: bool = False,
                 checked: bool = False) -> Zone:
    """A proposed zone of a kind of the policy in force over these areas (a village down to a unit), with the cases
    that caused it. Overlapping an open zone of the same kind is refused, naming the zone and the areas, or with
    merge=True (one zone overlapped) the areas join that zone: its scope grows (in history; residents of a zone in
    force get its measure at once). (checked: called by a flow, not bound to the reporter's role or jurisdiction.)"""
    if not checked:
        require(actor, Capability.ZONE_MANAGE, "划定风险区", "designate risk zones")
    areas = _areas_checked(actor, area_ids, path=ALL if checked else None)
    today = clock.today()
    rules = _rules(areas[0], today)
    _check_kind(rules, kind)
    refs = _check_cases(cases)
    reason = (reason or "").strip()
    overlaps = _overlaps(areas, kind)
    if overlaps:
        if not merge or len(overlaps) > 1:
            raise _overlap_error(overlaps, kind, merge_hint=not merge)
        (zone,) = overlaps
        zone = Zone.objects.select_for_update().get(id=zone.id)
        before = _snapshot(zone, zone_scopes([zone.id])[zone.id])
        was = zone_residents([zone.id]) if zone.state == ZoneState.IN_FORCE else None
        added, absorbed = _scope_add(zone, areas)
        _link_cases(zone, refs, cause=True)
        scope = zone_scopes([zone.id])[zone.id]
        if added:
            _history(zone, ZoneChangeKind.SCOPE, before, _snapshot(zone, scope), actor,
                     "合并提议：" + (reason or "、".join(a.name for a in added)))
            if zone.state == ZoneState.IN_FORCE:
                _publish(zone, scope, _rules(scope[0], today), was=was)
                _reclock(zone, moved_reason="范围调整（合并）", actor=actor)
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone,
                     summary=f"{zone.code} 合并提议：新增 {'、'.join(a.name for a in added) or '无'}")
        return zone
    zone = Zone.objects.create(code=_next_code(today), kind=kind, level_now=kind, state=ZoneState.PROPOSED,
                               policy_version=rules.id, reason=reason[:300], proposed_at=clock.now(),
                               proposed_by=actor if getattr(actor, "pk", None) else None)
    ZoneArea.objects.bulk_create([ZoneArea(zone=zone, area=a) for a in areas])
    _link_cases(zone, refs, cause=True)
    _history(zone, ZoneChangeKind.CREATED, {}, _snapshot(zone, areas), actor, reason)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=zone,
                 summary=f"提出{_label(kind)} {zone.code}：{'、'.join(a.name for a in areas)}")
    return zone


@dataclass
class ZoneProposal:
    """What zone_for_case did: the zones proposed or grown, the policy's units, and why each unit went where."""

    zones: list[Zone] = field(default_factory=list)
    units: list[Area] = field(default_factory=list)
    because: list[Because] = field(default_factory=list)


@transaction.atomic
def zone_for_case(*, actor, person_area_id: int, case_code: str, found_on: dt.date, context: str = "community",
                  frequent_area_ids=(), kind: str = "high", checked: bool = False) -> ZoneProposal:
    """A case was reported: record it (zone_case_record), then propose a zone around its home and the places the
    investigation marked as visited often, each in the policy's unit (V9: the compound, else the village; V20: the
    building). A unit already inside an open zone of the kind links the case to that zone; a unit overlapping a
    proposal joins it; a unit overlapping a zone in force is left for HQ (a proposal never changes a zone in force);
    the rest make one new proposal. A case the version does not count (V20a: found in central quarantine ...) gets
    no zone. Never refuses an overlap: it runs inside the case report's transaction."""
    if not checked:
        require(actor, Capability.ZONE_MANAGE, "划定风险区", "designate risk zones")
    zone_case_record(person_area_id=person_area_id, case_code=case_code, found_on=found_on, context=context,
                     actor=actor)
    home = Area.objects.get(id=person_area_id)
    rules = _rules(home)
    _check_kind(rules, kind)
    out = ZoneProposal()
    uncounted = rules.param("uncounted_case_contexts")
    if context in uncounted.value:
        out.because.append(Because(uncounted.rule, f"{CASE_CONTEXTS[context][0]}：不作为划定风险区的依据",
                                   f"{CASE_CONTEXTS[context][1]}: not a ground for a zone"))
        return out
    path = ALL if checked else jurisdiction_path(actor)
    places = [home]
    wanted = list(dict.fromkeys(int(i) for i in frequent_area_ids or ()))
    if wanted:
        found = list(Area.objects.subtree(path).filter(id__in=wanted).order_by("path")) if path != NOWHERE else []
        missing = sorted(set(wanted) - {a.id for a in found})
        if missing:
            raise DomainError(code="not_found", status=404, field="frequent_area_ids",
                              message_zh=f"区域不存在或不在您的辖区内：{'、'.join(f'#{i}' for i in missing)}",
                              message_en=f"areas not found or outside your jurisdiction: "
                                         f"{', '.join(f'#{i}' for i in missing)}",
                              details=[{"area_id": i} for i in missing])
        places += found
    units: list[Area] = []
    for place in places:
        unit, why = zone_unit_for(place, rules)
        out.because.append(why)
        if unit.level not in SCOPE_LEVELS:
            out.because.append(Because("", f"{unit.name} 高于村（社区）：未提议", f"{unit.name} is above a village: "
                                       "not proposed"))
            continue
        units.append(unit)
    units = sorted({u.id: u for u in units}.values(), key=lambda a: a.path)
    units = [u for u in units if not any(u.path != o.path and u.path.startswith(o.path) for o in units)]
    out.units = units
    ref = CaseRef(case_code.strip()[:30], found_on, context, person_area_id)
    fresh = []
    for unit in units:
        overlaps = _overlaps([unit], kind)
        covering = next((z for z, pairs in overlaps.items() if any(unit.path.startswith(o.path) for _, o in pairs)),
                        None)
        if covering is not None:
            if covering.state == ZoneState.PROPOSED:
                _link_cases(covering, [ref], cause=True)
            out.because.append(Because("", f"{unit.name} 已在 {covering.code} 内", f"{unit.name} is in {covering.code}"))
            if covering not in out.zones:
                out.zones.append(covering)
            continue
        proposed = next((z for z in overlaps if z.state == ZoneState.PROPOSED), None)
        in_force = next((z for z in overlaps if z.state == ZoneState.IN_FORCE), None)
        if in_force is not None:
            out.because.append(Because("", f"{unit.name} 与管控中的 {in_force.code} 部分重叠：请指挥部调整其范围",
                                       f"{unit.name} overlaps {in_force.code} in force: for HQ to widen it"))
            continue
        if proposed is not None:
            zone = Zone.objects.select_for_update().get(id=proposed.id)
            before = _snapshot(zone, zone_scopes([zone.id])[zone.id])
            added, _ = _scope_add(zone, [unit])
            _link_cases(zone, [ref], cause=True)
            if added:
                _history(zone, ZoneChangeKind.SCOPE, before, _snapshot(zone, zone_scopes([zone.id])[zone.id]), actor,
                         f"病例 {ref.code} 的住所或常去场所")
            out.because.append(Because("", f"{unit.name} 并入待审批的 {zone.code}",
                                       f"{unit.name} joins the proposal {zone.code}"))
            if zone not in out.zones:
                out.zones.append(zone)
            continue
        fresh.append(unit)
    if fresh:
        zone = zone_propose(actor=actor, kind=kind, area_ids=[u.id for u in fresh], cases=[ref],
                            reason=f"病例 {ref.code} 的住所及常去场所", checked=True)
        out.zones.append(zone)
        out.because.append(Because("", f"提议{_label(kind)} {zone.code}：{'、'.join(u.name for u in fresh)}",
                                   f"proposed {LEVEL_NAMES[kind][1]} {zone.code}: {', '.join(u.name for u in fresh)}"))
    return out


# ---- HQ's decisions -------------------------------------------------------------------------------------------------


@transaction.atomic
def zone_approve(*, actor, zone_id: int, area_ids=None, kind: str | None = None,
                 announcement: str | None = None) -> Zone:
    """HQ approves a proposal, with its edits (scope, kind, the announcement): in force from now, the announcement
    generated from the template unless given, the residents get the zone's measure, the clock starts."""
    require(actor, Capability.ZONE_MANAGE, "批准划定风险区", "approve risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state != ZoneState.PROPOSED:
        raise _bad_state(zone, "批准", "approve it")
    today = clock.today()
    scope = zone_scopes([zone.id])[zone.id]
    if area_ids is not None:
        areas = _areas_checked(actor, area_ids)
        if [a.id for a in areas] != [a.id for a in scope]:
            before = _snapshot(zone, scope)
            ZoneArea.objects.filter(zone=zone).delete()
            ZoneArea.objects.bulk_create([ZoneArea(zone=zone, area=a) for a in areas])
            _history(zone, ZoneChangeKind.SCOPE, before, _snapshot(zone, areas), actor, "审批时调整范围")
            scope = areas
    rules = _rules(scope[0], today)
    if kind is not None and kind != zone.kind:
        _check_kind(rules, kind)
        before = _snapshot(zone, scope)
        zone.kind = zone.level_now = kind
        _history(zone, ZoneChangeKind.KIND, before, _snapshot(zone, scope), actor, "审批时调整类型")
    _check_kind(rules, zone.kind)
    overlaps = _overlaps(scope, zone.kind, exclude=zone.id)
    if overlaps:
        raise _overlap_error(overlaps, zone.kind, merge_hint=False)
    now = clock.now()
    zone.state, zone.level_now, zone.level_since = ZoneState.IN_FORCE, zone.kind, today
    zone.designated_at, zone.designated_by, zone.policy_version = now, actor, rules.id
    zone.announcement_zh = (announcement or "").strip() or designation_text(zone, scope, rules, now)
    zone.save()
    _history(zone, ZoneChangeKind.APPROVED, {"state": ZoneState.PROPOSED}, _snapshot(zone, scope), actor,
             announcement=zone.announcement_zh)
    people = _publish(zone, scope, rules)
    _reclock(zone)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone,
                 summary=f"批准划定{_label(zone.kind)} {zone.code}：{'、'.join(a.name for a in scope)}，{people} 人")
    return zone


@transaction.atomic
def zone_reject(*, actor, zone_id: int, reason: str) -> Zone:
    require(actor, Capability.ZONE_MANAGE, "审批风险区", "decide on risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state != ZoneState.PROPOSED:
        raise _bad_state(zone, "驳回", "reject it")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(field="reason", code="required", message_zh="不予批准请填写理由",
                               message_en="give the reason for rejecting")
    scope = zone_scopes([zone.id])[zone.id]
    before = _snapshot(zone, scope)
    zone.state, zone.rejected_reason = ZoneState.REJECTED, reason[:300]
    zone.save(update_fields=["state", "rejected_reason", "updated_at"])
    _history(zone, ZoneChangeKind.REJECTED, before, _snapshot(zone, scope), actor, reason)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone, summary=f"{zone.code} 不予批准：{reason}")
    return zone


@transaction.atomic
def zone_scope_change(*, actor, zone_id: int, add=(), remove=(), reason: str) -> Zone:
    """Widen or narrow a proposed or in-force zone (with the reason): added areas are checked as a proposal's
    (jurisdiction, level, no overlap with another zone of its level); an area around some of the zone's areas takes
    their place; only the zone's own areas can be removed (to keep part of one, replace it by its parts), never all
    of them (lift or reject it instead). Residents who leave the scope lose the measure, new ones get it."""
    require(actor, Capability.ZONE_MANAGE, "调整风险区范围", "change risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state not in OPEN_ZONE_STATES:
        raise _bad_state(zone, "调整范围", "change its areas")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(field="reason", code="required", message_zh="调整范围请填写理由",
                               message_en="give the reason for the change")
    if not add and not remove:
        raise ValidationFailed(field="add", code="required", message_zh="请选择要增加或移出的区域",
                               message_en="choose areas to add or remove")
    scope = zone_scopes([zone.id])[zone.id]
    before = _snapshot(zone, scope)
    remove_ids = set()
    for raw in remove or ():
        try:
            remove_ids.add(int(raw))
        except (TypeError, ValueError):
            raise ValidationFailed(field="remove", code="invalid", message_zh=f"区域编号“{raw}”无效",
                                   message_en=f"'{raw}' is not an area id") from None
    own = {a.id for a in scope}
    stray = sorted(remove_ids - own)
    if stray:
        raise ValidationFailed(field="remove", code="not_in_zone",
                               message_zh=f"不是 {zone.code} 的范围区域：{'、'.join(f'#{i}' for i in stray)}；要缩小某一区域，"
                                          "请移出它并增加其下级区域",
                               message_en=f"not areas of {zone.code}: {', '.join(f'#{i}' for i in stray)}; to keep part "
                                          "of an area, remove it and add its parts")
    added_areas = _areas_checked(actor, add, field="add") if add else []
    inside = [a for a in added_areas if any(a.path.startswith(c.path) and c.id not in remove_ids for c in scope)]
    if inside:
        raise ValidationFailed(field="add", code="already_in_zone",
                               message_zh=f"已在 {zone.code} 范围内：{'、'.join(a.name for a in inside)}",
                               message_en=f"already in {zone.code}: {', '.join(a.name for a in inside)}")
    if own <= remove_ids and not added_areas:
        raise ValidationFailed(field="remove", code="empty_scope",
                               message_zh="不能移出全部区域：请解除或驳回该风险区",
                               message_en="cannot remove every area: lift or reject the zone instead")
    level = zone.level_now if zone.state == ZoneState.IN_FORCE else zone.kind
    if added_areas:
        overlaps = _overlaps(added_areas, level, exclude=zone.id)
        if overlaps:
            raise _overlap_error(overlaps, level, merge_hint=False)
    was = zone_residents([zone.id]) if zone.state == ZoneState.IN_FORCE else None
    ZoneArea.objects.filter(zone=zone, area_id__in=remove_ids).delete()
    _scope_add(zone, added_areas)
    scope = zone_scopes([zone.id])[zone.id]
    _history(zone, ZoneChangeKind.SCOPE, before, _snapshot(zone, scope), actor, reason)
    if zone.state == ZoneState.IN_FORCE:
        _publish(zone, scope, _rules(scope[0]), was=was)
        _reclock(zone, moved_reason=f"范围调整：{reason}", actor=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone,
                 summary=f"{zone.code} 调整范围：{'、'.join(a.name for a in scope)}（{reason}）")
    return zone


@transaction.atomic
def zone_kind_change(*, actor, zone_id: int, kind: str, reason: str) -> Zone:
    """Change the kind of a proposed or in-force zone (一区一策: a medium zone with new cases becomes high): the level
    starts again today, the residents' measure follows, the clock is that of the new kind."""
    require(actor, Capability.ZONE_MANAGE, "调整风险区类型", "change risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state not in OPEN_ZONE_STATES:
        raise _bad_state(zone, "调整类型", "change its kind")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(field="reason", code="required", message_zh="调整类型请填写理由",
                               message_en="give the reason for the change")
    scope = zone_scopes([zone.id])[zone.id]
    rules = _rules(scope[0])
    _check_kind(rules, kind)
    if kind == zone.kind and kind == zone.level_now:
        raise ValidationFailed(field="kind", code="unchanged", message_zh=f"{zone.code} 已是{_label(kind)}",
                               message_en=f"{zone.code} is already a {LEVEL_NAMES[kind][1]}")
    overlaps = _overlaps(scope, kind, exclude=zone.id)
    if overlaps:
        raise _overlap_error(overlaps, kind, merge_hint=False)
    before = _snapshot(zone, scope)
    zone.kind = zone.level_now = kind
    if zone.state == ZoneState.IN_FORCE:
        zone.level_since = clock.today()
    zone.save()
    _history(zone, ZoneChangeKind.KIND, before, _snapshot(zone, scope), actor, reason)
    if zone.state == ZoneState.IN_FORCE:
        _publish(zone, scope, rules, relevel=True)
        _reclock(zone)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone,
                 summary=f"{zone.code} 调整为{_label(kind)}（{reason}）")
    return zone


def _not_eligible(zone: Zone, to: str, c: ZoneClock, on: dt.date | None, doing_zh: str, doing_en: str) -> DomainError:
    when = on.isoformat() if on else "—"
    return DomainError(code="not_eligible", status=409, field="reason",
                       message_zh=f"{zone.code} 尚不符合{doing_zh}为{_label(to)}的条件（最早 {when}）；"
                                  f"提前{doing_zh}须由指挥部填写理由",
                       message_en=f"{zone.code} may not be {doing_en} to {LEVEL_NAMES[to][1]} yet (at the earliest "
                                  f"{when}); doing it earlier needs HQ's reason",
                       details=c.explanation)


def _level_change(actor, zone: Zone, to: str, c: ZoneClock, *, early: bool, reason: str,
                  announcement: str | None) -> Zone:
    scope = zone_scopes([zone.id])[zone.id]
    rules = _rules(scope[0])
    now = clock.now()
    text = (announcement or "").strip() or change_text(zone, scope, rules, c, to, now, early=early)
    before = _snapshot(zone, scope)
    lifting = to == "low"
    zone.level_now, zone.level_since = to, clock.today()
    if lifting:
        zone.state, zone.lifted_at, zone.lifted_by = ZoneState.LIFTED, now, actor
        zone.lift_reason = reason[:300] if early else ""
        zone.eligible_on, zone.next_level, zone.clock_state = None, "", ""
    zone.save()
    after = {**_snapshot(zone, scope), "early": early, "clock": c.explanation}
    _history(zone, ZoneChangeKind.LIFTED if lifting else ZoneChangeKind.DOWNGRADED, before, after, actor,
             reason if early else (reason or "符合条件"), announcement=text)
    _publish(zone, scope, rules, relevel=True)
    if not lifting:
        _reclock(zone)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone,
                 summary=f"{zone.code}：{_label(before['level_now'])} → {_label(to)}"
                         + (f"（提前：{reason}）" if early else ""))
    return zone


@transaction.atomic
def zone_downgrade(*, actor, zone_id: int, reason: str = "", announcement: str | None = None) -> Zone:
    """The zone's next step when it is not the lifting (V9: high → medium): allowed once the clock says so; before,
    only with HQ's reason, recorded with the clock as it stood. The residents' measure changes with the level."""
    require(actor, Capability.ZONE_MANAGE, "调整风险区等级", "downgrade risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state != ZoneState.IN_FORCE:
        raise _bad_state(zone, "降级", "downgrade it")
    c = zone_clock(zone)
    if c.kind_retired or not c.next_step or c.next_step.to == "low":
        raise DomainError(code="use_lift", status=409, field="zone_id",
                          message_zh=f"{zone.code} 的下一步是解除，请使用解除",
                          message_en=f"the next step of {zone.code} is lifting: lift it")
    reason = (reason or "").strip()
    early = not c.eligible
    if early and not reason:
        raise _not_eligible(zone, c.next_step.to, c, c.eligible_on, "降级", "downgraded")
    return _level_change(actor, zone, c.next_step.to, c, early=early, reason=reason, announcement=announcement)


@transaction.atomic
def zone_lift(*, actor, zone_id: int, reason: str = "", announcement: str | None = None) -> Zone:
    """Lift the zone (to low risk): allowed once the clock's step to low is met (every step before it met too);
    before, only with HQ's reason, recorded. The residents' facts are withdrawn; the public text is issued."""
    require(actor, Capability.ZONE_MANAGE, "解除风险区", "lift risk zones")
    zone = _zone_locked(actor, zone_id)
    if zone.state != ZoneState.IN_FORCE:
        raise _bad_state(zone, "解除", "lift it")
    c = zone_clock(zone)
    reason = (reason or "").strip()
    early = not c.lift_eligible
    if early and not reason:
        raise _not_eligible(zone, "low", c, c.lift_on, "解除", "lifted")
    return _level_change(actor, zone, "low", c, early=early, reason=reason, announcement=announcement)


@transaction.atomic
def zone_announcement_edit(*, actor, zone_id: int, text: str) -> Zone:
    """HQ edits the designation text (generated at approval)."""
    require(actor, Capability.ZONE_MANAGE, "修改风险区通告", "edit zone announcements")
    zone = _zone_locked(actor, zone_id)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(field="text", code="required", message_zh="通告内容不能为空",
                               message_en="the announcement cannot be empty")
    if zone.state != ZoneState.IN_FORCE:
        raise _bad_state(zone, "修改通告", "edit its announcement")
    before = zone.announcement_zh
    zone.announcement_zh = text
    zone.save(update_fields=["announcement_zh", "updated_at"])
    _history(zone, ZoneChangeKind.ANNOUNCEMENT, {"announcement_zh": before}, {"announcement_zh": text}, actor,
             announcement=text)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=zone, summary=f"{zone.code} 修改划定通告")
    return zone


# ---- cases from the response flow, and the daily refresh ------------------------------------------------------------


def _context_checked(context: str) -> None:
    if context not in CASE_CONTEXTS:
        raise ValidationFailed(field="context", code="invalid_choice", message_zh=f"病例发现情形“{context}”不存在",
                               message_en=f"case context '{context}' does not exist")


@transaction.atomic
def zone_case_record(*, person_area_id: int, case_code: str, found_on: dt.date, context: str,
                     actor=None) -> list[Zone]:
    """A case reported (the response flow calls this inside the report's transaction): kept for the county status,
    and added to every zone in force whose scope covers the person's home area, whose clock is recomputed (a
    moved eligible date is written to the history with the case). Idempotent by case code: a repeat changes
    nothing. Returns the zones the case was added to."""
    code = (case_code or "").strip()[:30]
    if not code:
        raise ValidationFailed(field="case_code", code="required", message_zh="请填写病例编号",
                               message_en="the case code is required")
    _context_checked(context)
    if found_on > clock.today():
        raise ValidationFailed(field="found_on", code="in_future", message_zh="日期不能晚于今天",
                               message_en="the date cannot be after today")
    area = Area.objects.filter(id=person_area_id).first()
    if area is None:
        raise NotFound("区域", "area", field="person_area_id")
    report, created = CaseReport.objects.get_or_create(code=code, defaults={
        "area": area, "found_on": found_on, "context": context, "recorded_at": clock.now()})
    if report.withdrawn_at is not None:
        return []
    zones = list(Zone.objects.filter(state=ZoneState.IN_FORCE, areas__area__path__in=Area.ancestor_paths(area.path))
                 .distinct().order_by("code"))
    linked = set(ZoneCase.objects.filter(zone__in=zones, case_code=code).values_list("zone_id", flat=True))
    new = [z for z in zones if z.id not in linked]
    if not new:
        return []
    now = clock.now()
    ZoneCase.objects.bulk_create([ZoneCase(zone=z, case_code=code, area=report.area, found_on=report.found_on,
                                           context=report.context, added_at=now) for z in new])
    label = f"{code}（{report.found_on.isoformat()}，{CASE_CONTEXTS[report.context][0]}）"
    for z in new:
        _history(z, ZoneChangeKind.CASE, {}, {"case_code": code, "found_on": report.found_on.isoformat(),
                                               "context": report.context}, actor, f"病例 {label}")
    today = clock.today()
    _store_clock(new, zone_clocks(new, today), today, moved_reason=f"新增病例 {label}", actor=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, object_type="zones.zone",
                 object_id=",".join(z.code for z in new)[:60], summary=f"病例 {label} 计入 {'、'.join(z.code for z in new)}")
    return new


@transaction.atomic
def zone_case_withdraw(*, case_code: str, reason: str, actor=None) -> list[Zone]:
    """A case corrected away (its positive withdrawn): no longer counted anywhere; the clocks of its zones are
    recomputed (a moved date is written to the history)."""
    report = CaseReport.objects.select_for_update().filter(code=(case_code or "").strip()).first()
    if report is None or report.withdrawn_at is not None:
        return []
    now = clock.now()
    report.withdrawn_at, report.withdrawn_reason = now, (reason or "")[:200]
    report.save(update_fields=["withdrawn_at", "withdrawn_reason"])
    rows = ZoneCase.objects.filter(case_code=report.code, withdrawn_at__isnull=True)
    zones = list(Zone.objects.filter(id__in=rows.values("zone_id"), state=ZoneState.IN_FORCE))
    rows.update(withdrawn_at=now)
    if zones:
        today = clock.today()
        _store_clock(zones, zone_clocks(zones, today), today, moved_reason=f"病例 {report.code} 撤销：{reason}",
                     actor=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, object_type="zones.case_report", object_id=report.code,
                 summary=f"病例 {report.code} 撤销（{reason}）")
    return zones


@dataclass
class RefreshReport:
    zones: int
    moved: list[Zone]


@transaction.atomic
def zones_refresh(*, today: dt.date | None = None, zone_ids=None) -> RefreshReport:
    """The daily run (and the benchmark): every zone in force's clock recomputed and stored (eligible date, next
    level, state, last counted case, the version and the explanation) for the lists; an eligible date that moved
    since it was last stored is written to the history. Levels are never changed here: HQ decides."""
    today = today or clock.today()
    zones = Zone.objects.filter(state=ZoneState.IN_FORCE)
    if zone_ids is not None:
        zones = zones.filter(id__in=list(zone_ids))
    zones = list(zones.order_by("id"))
    clocks = zone_clocks(zones, today)

    def why(zone: Zone, c: ZoneClock) -> str:
        if zone.clock_version and zone.clock_version != c.version:
            return f"政策版本 {zone.clock_version} → {c.version}"
        return "重新计算"

    moved = _store_clock(zones, clocks, today, moved_reason=why)
    return RefreshReport(zones=len(zones), moved=moved)
