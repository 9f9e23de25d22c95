"""Home quarantine (居家隔离医学观察, 居家健康监测 and the other home measures): the five people responsible for one
person (五包一) by the policy's roles, the door seal (门磁/封条), and the checks at the door — the team's daily visit
or call, the supervisor's unannounced video or door check (四不两直) — with the alerts and deliveries they raise.
Reads: the board of the jurisdiction's home stays (set-based), a stay's home file, the supervisor's daily sample.

The roles come from the policy in force for the person's area (`responsible_roles`, V9 default: village or
community cadre, grid worker, medical worker, community police officer, volunteer; a county or township overrides
them with a local policy file). Writes lock the stay's row, keep the change in the stay's history and audit it."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone, translation

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import (
    area_visible,
    jurisdiction_path,
    login_covering,
    logins_covering,
    require,
)
from shouwang.areas.models import Area
from shouwang.areas.selectors import area_code_chains, area_codes_chain, grid_names
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import normalize_mobile
from shouwang.policy.rules.load import in_force
from shouwang.policy.rules.model import MEASURES, RESPONSIBLE_ROLES
from shouwang.policy.selectors import policy_rulesets, ruleset_in_force
from shouwang.quarantine.enums import (
    CENTRAL_MEASURES,
    OPEN_STAY_STATES,
    AlertKind,
    AlertState,
    ChangeKind,
    NeedKind,
    NeedState,
    SealKind,
    SealState,
    StayState,
    VisitKind,
)
from shouwang.quarantine.models import Alert, HomeVisit, Need, Responsible, Stay, StayChange

SUPERVISOR = "supervisor"  # the role recorded for a supervisor's check
SUPERVISOR_LABEL = ("督导", "supervisor")
TEAM_VISITS = (VisitKind.DAILY, VisitKind.PHONE)
SUPERVISOR_VISITS = (VisitKind.SUPERVISOR_VIDEO, VisitKind.SUPERVISOR_DOOR)
SAMPLE_FRESH_DAYS = 3  # the supervisor's sample prefers stays no supervisor checked in the 3 days before
OPEN_NEEDS = (NeedState.OPEN, NeedState.IN_PROGRESS)


def _zh(label) -> str:
    """A choice's Chinese label for stored text (history, alerts, audit), whatever the page's language."""
    with translation.override("zh-hans"):
        return str(label)


def _seal_name(kind: str) -> str:
    return _zh(SealKind(kind).label) if kind else "门磁/封条"


def role_label(role: str, *, en: bool = False) -> str:
    if role == SUPERVISOR:
        return SUPERVISOR_LABEL[1 if en else 0]
    names = RESPONSIBLE_ROLES.get(role)
    return (names[1] if en else names[0]) if names else role


def _labels(roles, *, en: bool) -> str:
    return (", " if en else "、").join(role_label(r, en=en) for r in roles)


def responsible_roles(area, *, day: dt.date | None = None) -> tuple[str, ...]:
    """The five roles for a person living in `area`, in the policy's order (a local override of the county or
    township applies)."""
    return tuple(ruleset_in_force(day or clock.today(), area_codes_chain(area)).value("responsible_roles"))


def _roles_by_area(areas, day: dt.date) -> dict[int, tuple[str, ...]]:
    """responsible_roles for many areas at once: one query for the codes above them, the rulesets from the cache."""
    chains = area_code_chains(a.path for a in areas)
    rulesets = policy_rulesets()
    out = {}
    for a in areas:
        rules = in_force(rulesets, day, chains[a.path])
        out[a.id] = tuple(rules.value("responsible_roles")) if rules is not None else ()
    return out


def _is_home(stay: Stay) -> bool:
    return stay.measure not in CENTRAL_MEASURES


def _home_stay(actor, stay_id: int) -> Stay:
    """The stay, locked, if it is a home measure of the actor's jurisdiction (else not found)."""
    stay = (Stay.objects.select_for_update().filter(id=stay_id, area__path__startswith=jurisdiction_path(actor))
            .select_related("area", "person").first())
    if stay is None:
        raise NotFound("隔离管控记录", "stay", field="stay_id")
    if not _is_home(stay):
        raise DomainError(code="not_home", status=409, field="stay_id", message_zh="集中隔离人员不实行居家“五包一”",
                          message_en="a person in central quarantine has no home team, seal or visits")
    return stay


def _open(stay: Stay) -> None:
    if stay.state not in OPEN_STAY_STATES:
        raise DomainError(code="stay_closed", status=409, field="stay_id", message_zh="该隔离管控已结束",
                          message_en="the stay is over")


# ---- the five responsible people (五包一) ----------------------------------------------------------------------------


def _team_snapshot(stay: Stay) -> list[dict]:
    return [{"role": r.role, "name": r.name} for r in Responsible.objects.filter(stay=stay).order_by("id")]


def _team_history(stay: Stay, before: list[dict], actor, reason: str) -> None:
    StayChange.objects.create(stay=stay, kind=ChangeKind.RESPONSIBLE, before={"team": before},
                              after={"team": _team_snapshot(stay)}, reason=reason[:300], at=clock.now(), by=actor)


def _member_user(stay: Stay, raw, field_name: str):
    """A team member's login, if given: an active user whose jurisdiction covers the stay's area."""
    if raw in (None, ""):
        return None
    try:
        user_id = int(raw)
    except (TypeError, ValueError):
        user_id = None
    user = login_covering(user_id, stay.area)
    if user is None:
        raise ValidationFailed(field=field_name, code="user_out_of_area", message_zh="该账号的辖区不包括此人住址",
                               message_en="that user's jurisdiction does not cover the person's address")
    return user


def _clean_member(stay: Stay, index: int, member: dict) -> tuple[dict, list[ValidationFailed]]:
    errors: list[ValidationFailed] = []
    prefix = f"members[{index}]"
    name = str(member.get("name") or "").strip()
    if not name:
        errors.append(ValidationFailed(field=f"{prefix}.name", code="required", message_zh="请填写姓名",
                                       message_en="the name is required"))
    elif len(name) > 50:
        errors.append(ValidationFailed(field=f"{prefix}.name", code="too_long", message_zh="姓名不超过50个字",
                                       message_en="the name is at most 50 characters"))
    phone = ""
    try:
        phone = normalize_mobile(str(member.get("phone") or ""), field=f"{prefix}.phone")
    except ValidationFailed as exc:
        errors.append(exc)
    user = None
    try:
        user = _member_user(stay, member.get("user_id"), f"{prefix}.user_id")
    except ValidationFailed as exc:
        errors.append(exc)
    return {"role": member.get("role"), "name": name, "phone": phone, "user": user}, errors


def _refuse(errors: list[DomainError]) -> None:
    """Raise the first error, with every error in its details (a form shows them all under their fields)."""
    first = errors[0]
    first.details = [{"field": e.field, "code": e.code, "zh": e.message_zh, "en": e.message_en} for e in errors]
    raise first


@transaction.atomic
def team_assign(*, actor, stay_id: int, members: list[dict], reason: str = "") -> list[Responsible]:
    """The whole team of five at once (replacing the previous one): exactly the policy's roles for the person's
    area, each once, with a name, a mainland mobile number and, optionally, the member's own login (a user whose
    jurisdiction covers the person's address). Errors name the field as members[i].name, members[i].phone,
    members[i].user_id (i: the position in `members`, from 0) or members (the roles); nothing changes on error."""
    require(actor, Capability.HOME_MANAGE, "落实居家隔离“五包一”", "assign home quarantine teams")
    stay = _home_stay(actor, stay_id)
    _open(stay)
    required = responsible_roles(stay.area)
    given = [str(m.get("role") or "") for m in members]
    missing = [r for r in required if r not in given]
    extra = list(dict.fromkeys(r for r in given if r not in required))
    repeated = list(dict.fromkeys(r for r in given if r in required and given.count(r) > 1))
    if missing or extra or repeated:
        zh, en = [], []
        if missing:
            zh.append(f"缺少{_labels(missing, en=False)}")
            en.append(f"missing: {_labels(missing, en=True)}")
        if extra:
            zh.append(f"本地政策不设{_labels(extra, en=False)}")
            en.append(f"not a role of the local policy: {_labels(extra, en=True)}")
        if repeated:
            zh.append(f"{_labels(repeated, en=False)}重复")
            en.append(f"given twice: {_labels(repeated, en=True)}")
        raise DomainError(code="roles_mismatch", status=422, field="members",
                          message_zh=f"“五包一”责任人应为{_labels(required, en=False)}各一人：" + "；".join(zh),
                          message_en=f"the team must be one each of {_labels(required, en=True)}; " + "; ".join(en),
                          details=[{"role": r, "problem": "missing"} for r in missing]
                          + [{"role": r, "problem": "extra"} for r in extra]
                          + [{"role": r, "problem": "repeated"} for r in repeated])
    cleaned, errors = [], []
    for i, member in enumerate(members):
        row, bad = _clean_member(stay, i, member)
        cleaned.append(row)
        errors += bad
    if errors:
        _refuse(errors)
    order = {r: i for i, r in enumerate(required)}
    cleaned.sort(key=lambda m: order[m["role"]])
    current = list(Responsible.objects.filter(stay=stay).order_by("id"))
    if [(r.role, r.name, r.phone, r.user_id) for r in current] == [
            (m["role"], m["name"], m["phone"], m["user"].id if m["user"] else None) for m in cleaned]:
        return current  # the same team again (a form sent twice): nothing to record
    before = _team_snapshot(stay)
    Responsible.objects.filter(stay=stay).delete()
    now = clock.now()
    team = Responsible.objects.bulk_create([
        Responsible(stay=stay, role=m["role"], name=m["name"], phone=m["phone"], user=m["user"], assigned_at=now,
                    assigned_by=actor) for m in cleaned])
    _team_history(stay, before, actor, reason.strip() or ("调整“五包一”责任人" if before else "落实“五包一”责任人"))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay,
                 summary="五包一：" + "、".join(f"{role_label(m['role'])} {m['name']}" for m in cleaned),
                 changes={"team": [before, [{"role": m["role"], "name": m["name"]} for m in cleaned]]})
    return team


@transaction.atomic
def team_replace_member(*, actor, stay_id: int, role: str, name: str, phone: str, user_id: int | None = None,
                        reason: str = "") -> Responsible:
    """One member replaced (or a missing role filled): the role must be one of the policy's roles for the person's
    area. Errors name the field as name, phone, user_id or role."""
    require(actor, Capability.HOME_MANAGE, "落实居家隔离“五包一”", "assign home quarantine teams")
    stay = _home_stay(actor, stay_id)
    _open(stay)
    required = responsible_roles(stay.area)
    if role not in required:
        raise ValidationFailed(field="role", code="not_a_role",
                               message_zh=f"本地政策的“五包一”责任人为{_labels(required, en=False)}",
                               message_en=f"the local policy's roles are {_labels(required, en=True)}")
    row, errors = _clean_member(stay, 0, {"role": role, "name": name, "phone": phone, "user_id": user_id})
    for e in errors:
        e.field = e.field.split(".", 1)[1]
    if errors:
        _refuse(errors)
    before = _team_snapshot(stay)
    member, _ = Responsible.objects.update_or_create(
        stay=stay, role=role, defaults={"name": row["name"], "phone": row["phone"], "user": row["user"],
                                        "assigned_at": clock.now(), "assigned_by": actor})
    _team_history(stay, before, actor, reason.strip() or f"更换{role_label(role)}")
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay, summary=f"五包一：{role_label(role)} 改为 {row['name']}")
    return member


# ---- the door seal (门磁/封条) ----------------------------------------------------------------------------------------


def _seal_snapshot(stay: Stay) -> dict:
    return {"seal_kind": stay.seal_kind, "seal_state": stay.seal_state,
            "sealed_at": stay.sealed_at.isoformat() if stay.sealed_at else None}


def _raise_alert(stay: Stay, kind: str, day: dt.date, detail: str) -> Alert:
    """The day's alert of that kind for the stay (one per stay, kind and day; a second report adds nothing)."""
    alert, _ = Alert.objects.get_or_create(stay=stay, day=day, kind=kind,
                                           defaults={"site": None, "detail": detail[:300], "raised_at": clock.now()})
    return alert


def _seal_opened(stay: Stay, actor, reason: str, day: dt.date) -> None:
    before = _seal_snapshot(stay)
    stay.seal_state = SealState.OPENED
    stay.save(update_fields=["seal_state", "updated_at"])
    StayChange.objects.create(stay=stay, kind=ChangeKind.SEAL, before=before, after=_seal_snapshot(stay),
                              reason=reason[:300], at=clock.now(), by=actor)
    _raise_alert(stay, AlertKind.SEAL, day, f"{_seal_name(stay.seal_kind)}异常：{reason}")


@transaction.atomic
def seal_set(*, actor, stay_id: int, kind: str = "", state: str, reason: str = "") -> Stay:
    """Install (state intact: a door sensor or a paper seal, sealed now), report it opened (an alert of kind seal
    for the day; the reason is required; the team's monitoring capability is enough), reinstall (intact again),
    remove (when the stay is over, or with a reason). `kind` blank keeps the kind installed."""
    if state == SealState.OPENED:
        if not (actor and actor.is_authenticated and (actor.can(Capability.HOME_MANAGE)
                                                       or actor.can(Capability.MONITOR_RECORD))):
            raise PermissionDenied("报告门磁/封条异常", "report a broken seal")
    else:
        require(actor, Capability.HOME_MANAGE, "管理门磁/封条", "manage door seals")
    if state not in (SealState.INTACT, SealState.OPENED, SealState.REMOVED):
        raise ValidationFailed(field="state", code="invalid_choice", message_zh="请选择安装、报告异常或拆除",
                               message_en="choose install, report opened or remove")
    if kind and kind not in SealKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="请选择门磁或封条",
                               message_en="choose a door sensor or a paper seal")
    reason = (reason or "").strip()
    stay = _home_stay(actor, stay_id)
    installed = stay.seal_state in (SealState.INTACT, SealState.OPENED)
    today = clock.today()
    if state == SealState.OPENED:
        _open(stay)
        if not installed:
            raise DomainError(code="no_seal", status=409, field="state", message_zh="尚未安装门磁/封条",
                              message_en="no seal is installed")
        if not reason:
            raise ValidationFailed(field="reason", code="required", message_zh="请填写异常情况",
                                   message_en="describe what happened")
        if stay.seal_state == SealState.OPENED:  # reported again: the day's alert, no new history
            _raise_alert(stay, AlertKind.SEAL, today, f"{_seal_name(stay.seal_kind)}异常：{reason}")
            return stay
        _seal_opened(stay, actor, reason, today)
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay, summary=f"门磁/封条异常：{reason}")
        return stay
    before = _seal_snapshot(stay)
    if state == SealState.INTACT:
        _open(stay)
        new_kind = kind or stay.seal_kind
        if not new_kind:
            raise ValidationFailed(field="kind", code="required", message_zh="请选择门磁或封条",
                                   message_en="choose a door sensor or a paper seal")
        if stay.seal_state == SealState.INTACT and new_kind == stay.seal_kind:
            return stay  # already installed and intact
        what = "重新安装" if stay.seal_state == SealState.OPENED else "安装"
        stay.seal_kind, stay.seal_state, stay.sealed_at = new_kind, SealState.INTACT, clock.now()
        summary = f"{what}{_seal_name(new_kind)}"
    else:
        if not installed:
            raise DomainError(code="no_seal", status=409, field="state", message_zh="尚未安装门磁/封条",
                              message_en="no seal is installed")
        if stay.state in OPEN_STAY_STATES and not reason:
            raise ValidationFailed(field="reason", code="required", message_zh="管控期内拆除须填写原因",
                                   message_en="give the reason to remove the seal before the stay is over")
        stay.seal_state = SealState.REMOVED
        summary = f"拆除{_seal_name(stay.seal_kind)}"
    stay.save(update_fields=["seal_kind", "seal_state", "sealed_at", "updated_at"])
    StayChange.objects.create(stay=stay, kind=ChangeKind.SEAL, before=before, after=_seal_snapshot(stay),
                              reason=(reason or summary)[:300], at=clock.now(), by=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stay, summary=summary + (f"（{reason}）" if reason else ""))
    return stay


# ---- checks at the door ------------------------------------------------------------------------------------------


def _visit_moment(at: dt.datetime | None) -> dt.datetime:
    now = clock.now()
    when = at or now
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > now + dt.timedelta(minutes=10):
        raise ValidationFailed(field="at", code="in_future", message_zh="时间不能晚于现在",
                               message_en="the time cannot be in the future")
    return when


@transaction.atomic
def visit_record(*, actor, stay_id: int, kind: str, person_present: bool, seal_intact: bool | None = None,
                 deliveries_needed: str = "", note: str = "", at: dt.datetime | None = None) -> HomeVisit:
    """A check on a person at home. The team's daily visit or call needs the monitoring capability (the role kept
    is the actor's role in the team, blank for someone else); the supervisor's video or door check needs SUPERVISE
    (role "supervisor"). Nobody home raises an alert of kind absent; a seal found broken raises an alert of kind
    seal and marks the seal opened; deliveries needed open a daily-needs request unless the same one is open. The
    same stay, kind and time again returns the visit already recorded (a retry)."""
    if kind in SUPERVISOR_VISITS:
        require(actor, Capability.SUPERVISE, "督导抽查居家隔离", "make supervisor checks")
    elif kind in TEAM_VISITS:
        require(actor, Capability.MONITOR_RECORD, "登记上门查看", "record home visits")
    else:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="请选择查看方式",
                               message_en="choose the kind of check")
    stay = _home_stay(actor, stay_id)
    if stay.state != StayState.ACTIVE:
        raise DomainError(code="not_active", status=409, field="stay_id", message_zh="此人不在居家管控期内",
                          message_en="the person is not under a home measure now")
    when = _visit_moment(at)
    day = timezone.localdate(when)
    if day < stay.starts_on:
        raise ValidationFailed(field="at", code="before_start", message_zh="时间早于管控开始日期",
                               message_en="the time is before the stay began")
    already = HomeVisit.objects.filter(stay=stay, kind=kind, at=when).first()
    if already is not None:
        return already
    installed = stay.seal_state in (SealState.INTACT, SealState.OPENED)
    if seal_intact is False and not installed:
        raise ValidationFailed(field="seal_intact", code="no_seal", message_zh="此户未安装门磁/封条",
                               message_en="no seal is installed at this home")
    if kind == VisitKind.PHONE or not installed:
        seal_intact = None  # a call does not see the door; no seal to see
    deliveries = (deliveries_needed or "").strip()[:200]
    note = (note or "").strip()[:300]
    if kind in SUPERVISOR_VISITS:
        role = SUPERVISOR
    else:
        role = (Responsible.objects.filter(stay=stay, user=actor).values_list("role", flat=True).first() or "")
    visit = HomeVisit.objects.create(stay=stay, kind=kind, day=day, at=when, role=role,
                                     person_present=bool(person_present), seal_intact=seal_intact,
                                     deliveries_needed=deliveries, note=note, recorded_by=actor)
    how = _zh(VisitKind(kind).label)
    if not person_present:
        _raise_alert(stay, AlertKind.ABSENT, day, f"{how}未见本人" + (f"：{note}" if note else ""))
    if seal_intact is False:
        if stay.seal_state == SealState.OPENED:
            _raise_alert(stay, AlertKind.SEAL, day, f"{how}发现门磁/封条异常" + (f"：{note}" if note else ""))
        else:
            _seal_opened(stay, actor, f"{how}发现门磁/封条异常" + (f"：{note}" if note else ""), day)
    if deliveries and not Need.objects.filter(stay=stay, kind=NeedKind.DAILY_NEEDS, detail=deliveries,
                                              state__in=list(OPEN_NEEDS)).exists():
        Need.objects.create(stay=stay, kind=NeedKind.DAILY_NEEDS, detail=deliveries, requested_at=when,
                            created_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=visit,
                 summary=f"{how}：{'本人在家' if person_present else '未见本人'}"
                         + ("" if seal_intact is None else "，门磁/封条完好" if seal_intact else "，门磁/封条异常")
                         + (f"，需配送：{deliveries}" if deliveries else ""))
    return visit


# ---- reads ------------------------------------------------------------------------------------------------------


def _active_home(user):
    return (Stay.objects.filter(state=StayState.ACTIVE, area__path__startswith=jurisdiction_path(user))
            .exclude(measure__in=CENTRAL_MEASURES))


def team_of(stay_id: int) -> list[Responsible]:
    """The stay's team in the policy's order of roles (a role the policy no longer names last)."""
    team = list(Responsible.objects.filter(stay_id=stay_id).select_related("user", "stay__area"))
    if not team:
        return []
    order = {r: i for i, r in enumerate(responsible_roles(team[0].stay.area))}
    return sorted(team, key=lambda r: (order.get(r.role, 99), r.id))


@dataclass
class BoardRow:
    stay: Stay
    name: str  # masked
    id_number: str  # masked
    address: str
    grid: str
    measure: str
    day_n: int  # the day of the measure (1 on its first day)
    days: int | None  # the measure's length in days (None: until further notice)
    roles: tuple[str, ...]  # the policy's roles for the person's area
    team: dict[str, Responsible]  # role -> member
    missing: list[str]  # roles without a member
    seal_kind: str
    seal_state: str
    visited: list[dict]  # today's visits by the team: {"kind", "role", "by", "at", "present"}
    last_supervisor: HomeVisit | None
    alerts: list[Alert]  # open
    needs: list[Need]  # open or in progress

    @property
    def team_complete(self) -> bool:
        return not self.missing


def home_board(user, *, day: dt.date, area_id: int | None = None) -> list[BoardRow]:
    """The active home stays of the user's jurisdiction (or of one area of it) on a day, by address: the person
    (masked), the measure's day, the team complete or the roles missing, the seal, the team's visits that day and by
    whom, the last supervisor check, the open alerts and needs. A constant number of queries."""
    stays = _active_home(user).select_related("person", "area")
    if area_id:
        stays = stays.filter(area__path__startswith=area_visible(user=user, area_id=area_id).path)
    stays = list(stays.order_by("home_address", "id"))
    if not stays:
        return []
    ids = [s.id for s in stays]
    areas = list({s.area_id: s.area for s in stays}.values())
    roles = _roles_by_area(areas, day)
    grids = grid_names(areas)
    team: dict[int, dict[str, Responsible]] = {}
    for r in Responsible.objects.filter(stay_id__in=ids):
        team.setdefault(r.stay_id, {})[r.role] = r
    visited: dict[int, list[dict]] = {}
    for v in (HomeVisit.objects.filter(stay_id__in=ids, day=day, kind__in=list(TEAM_VISITS))
              .select_related("recorded_by").order_by("at", "id")):
        visited.setdefault(v.stay_id, []).append({"kind": v.kind, "role": v.role, "at": v.at,
                                                  "by": str(v.recorded_by) if v.recorded_by_id else "",
                                                  "present": v.person_present})
    last: dict[int, HomeVisit] = {}
    for v in (HomeVisit.objects.filter(stay_id__in=ids, kind__in=list(SUPERVISOR_VISITS), day__lte=day)
              .select_related("recorded_by").order_by("at", "id")):
        last[v.stay_id] = v
    alerts: dict[int, list[Alert]] = {}
    for a in Alert.objects.filter(stay_id__in=ids, state=AlertState.OPEN).order_by("day", "id"):
        alerts.setdefault(a.stay_id, []).append(a)
    needs: dict[int, list[Need]] = {}
    for n in Need.objects.filter(stay_id__in=ids, state__in=list(OPEN_NEEDS)).order_by("requested_at", "id"):
        needs.setdefault(n.stay_id, []).append(n)
    rows = []
    for s in stays:
        mine = team.get(s.id, {})
        wanted = roles[s.area_id]
        rows.append(BoardRow(
            stay=s, name=mask_name(s.person.name), id_number=mask_id_number(s.person.id_number),
            address=s.home_address, grid=grids.get(s.area_id) or s.area.name, measure=s.measure,
            day_n=(day - s.starts_on).days + 1, days=(s.ends_on - s.starts_on).days + 1 if s.ends_on else None,
            roles=wanted, team=mine, missing=[r for r in wanted if r not in mine], seal_kind=s.seal_kind,
            seal_state=s.seal_state, visited=visited.get(s.id, []), last_supervisor=last.get(s.id),
            alerts=alerts.get(s.id, []), needs=needs.get(s.id, [])))
    return rows


def board_areas(user) -> list[Area]:
    """The townships and grids where the jurisdiction has active home stays (the board's filter)."""
    paths = {p for path in _active_home(user).values_list("area__path", flat=True).distinct()
             for p in Area.ancestor_paths(path)}
    return list(Area.objects.filter(path__in=paths, level__in=("township", "grid"),
                                    path__startswith=jurisdiction_path(user)).order_by("path"))


def supervisor_sample(user, *, day: dt.date, n: int = 5, seed: str | int | None = None) -> list[Stay]:
    """A random sample of the jurisdiction's active home stays for the supervisor's unannounced checks (四不两直):
    the same for the same day and user (seeded by both), taking first the stays no supervisor checked in the
    SAMPLE_FRESH_DAYS days before `day` (a check made today does not reshuffle today's sample)."""
    stays = list(_active_home(user).select_related("person", "area").order_by("id"))
    checked = set(HomeVisit.objects.filter(
        stay_id__in=[s.id for s in stays], kind__in=list(SUPERVISOR_VISITS),
        day__gte=day - dt.timedelta(days=SAMPLE_FRESH_DAYS), day__lt=day).values_list("stay_id", flat=True))
    rng = random.Random(seed if seed is not None else f"{day.isoformat()}:{user.id}")
    fresh = [s for s in stays if s.id not in checked]
    seen = [s for s in stays if s.id in checked]
    rng.shuffle(fresh)
    rng.shuffle(seen)
    return (fresh + seen)[:max(n, 0)]


@dataclass
class HomeFile:
    stay: Stay
    roles: tuple[str, ...]
    team: list[Responsible]
    missing: list[str]
    visits: list[HomeVisit]  # newest first
    changes: list[StayChange]  # seal and team history, newest first
    alerts: list[Alert]  # newest first
    needs: list[Need]  # newest first
    candidates: list = field(default_factory=list)  # logins that may be named in the team


def home_file(user, stay_id: int, *, ip_address: str = "") -> HomeFile:
    """A person's home quarantine file: the stay, the team, the seal and its history, the visits, alerts and
    needs. Reading it is logged."""
    require(user, Capability.QUARANTINE_VIEW, "查看隔离管控人员", "view people under measures")
    stay = (Stay.objects.filter(id=stay_id, area__path__startswith=jurisdiction_path(user))
            .select_related("person", "area").first())
    if stay is None or not _is_home(stay):
        raise NotFound("居家管控记录", "home stay", field="stay_id")
    roles = responsible_roles(stay.area)
    team = team_of(stay.id)
    have = {r.role for r in team}
    audit_record(actor=user, action=AuditAction.VIEW, obj=stay, ip_address=ip_address,
                 summary=f"查看居家管控 {mask_name(stay.person.name)}（{MEASURES[stay.measure][0]}）")
    candidates = list(logins_covering(stay.area).order_by("jurisdiction__path", "username"))
    return HomeFile(
        stay=stay, roles=roles, team=team, missing=[r for r in roles if r not in have],
        visits=list(stay.visits.select_related("recorded_by").order_by("-at", "-id")),
        changes=list(stay.changes.filter(kind__in=[ChangeKind.SEAL, ChangeKind.RESPONSIBLE])
                     .select_related("by").order_by("-at", "-id")),
        alerts=list(stay.alerts.order_by("-day", "-id")), needs=list(stay.needs.order_by("-requested_at", "-id")),
        candidates=candidates)
